//! The inputs of one shop over one period, folded from stored facts.

use super::catalogue::{Aggregation, INPUTS};
use super::round_value;
use crate::money::from_micros;
use crate::period::Period;
use crate::store::{Store, StoreError};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Inputs that order and refund records provide when a shop has them.
pub const RECORD_INPUTS: &[&str] = &["orders", "gmv", "buyers", "refund_orders", "refund_amount"];

/// Period totals of every input that has a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputValues {
    values: HashMap<String, Decimal>,
    /// Mean over peers (CS agents) of an input; only a single agent's scope has peers.
    peer_means: HashMap<String, Decimal>,
}

impl InputValues {
    pub fn from_pairs(pairs: &[(&str, Decimal)]) -> Self {
        InputValues {
            values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            peer_means: HashMap::new(),
        }
    }

    pub fn get(&self, id: &str) -> Option<Decimal> {
        self.values.get(id).copied()
    }

    pub fn set(&mut self, id: &str, v: Decimal) {
        self.values.insert(id.to_string(), v);
    }

    pub fn peer_mean(&self, id: &str) -> Option<Decimal> {
        self.peer_means.get(id).copied()
    }

    pub fn set_peer_mean(&mut self, id: &str, v: Decimal) {
        self.peer_means.insert(id.to_string(), v);
    }

    /// Reads a shop's inputs for a period.
    ///
    /// Record inputs (orders, GMV, distinct buyers, refunds) come from records
    /// when the shop has any, so a day without sales reads 0 rather than "no
    /// value"; otherwise from daily series. Distinct counts cannot be summed
    /// over days, so a daily `buyers` series answers only single-day periods.
    pub async fn load(store: &Store, shop: &str, period: Period) -> Result<Self, StoreError> {
        let (from, to) = (period.first_day(), period.last_day());
        let mut out = InputValues::default();
        let daily = store.daily_aggregates(shop, from, to).await?;
        for def in INPUTS {
            let Some(agg) = daily.get(def.id) else {
                continue;
            };
            let v = match def.aggregation {
                Aggregation::Sum => Some(from_micros(agg.sum_micros)),
                Aggregation::Mean => Some(round_value(
                    from_micros(agg.sum_micros) / Decimal::from(agg.count.max(1)),
                )),
                Aggregation::Latest => Some(from_micros(agg.latest_min_micros)),
                Aggregation::Distinct => (from == to).then(|| from_micros(agg.sum_micros)),
            };
            if let Some(v) = v {
                out.set(def.id, v);
            }
        }
        if store.shop_has_orders(shop).await? {
            let t = store.record_totals(shop, from, to).await?;
            out.set("orders", Decimal::from(t.orders));
            out.set("gmv", from_micros(t.gmv_micros));
            out.set("buyers", Decimal::from(t.buyers));
            out.set("refund_orders", Decimal::from(t.refund_orders));
            out.set("refund_amount", from_micros(t.refund_micros));
        }
        Ok(out)
    }
}
