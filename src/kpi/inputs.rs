//! The inputs of one shop over one period, folded from stored facts.

use super::catalogue::{Aggregation, INPUTS};
use super::round_value;
use crate::money::from_micros;
use crate::period::Period;
use crate::store::{DailyAggregate, RecordTotals, Store, StoreError};
use chrono::NaiveDate;
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
        Self::load_days(store, shop, period.first_day(), period.last_day()).await
    }

    /// As [`InputValues::load`], over the local days `from..=to` (alerts
    /// watch month-to-date and today-so-far, which are not whole periods).
    pub async fn load_days(
        store: &Store,
        shop: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, StoreError> {
        let daily = store.daily_aggregates(shop, from, to).await?;
        let mut out = Self::from_daily(&daily, from == to);
        if store.shop_has_orders(shop).await? {
            // Records replace any daily series of the same inputs.
            for id in RECORD_INPUTS {
                out.values.remove(*id);
            }
            out.add_records(&store.record_totals(shop, from, to).await?);
        }
        Ok(out)
    }

    /// Period values of folded daily series (see [`Aggregation`]).
    pub fn from_daily(daily: &HashMap<String, DailyAggregate>, single_day: bool) -> Self {
        let mut out = InputValues::default();
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
                Aggregation::Distinct => single_day.then(|| from_micros(agg.sum_micros)),
            };
            if let Some(v) = v {
                out.set(def.id, v);
            }
        }
        out
    }

    /// Adds a shop's record totals (several shops add up; a person's
    /// distinct buyers are the sum of each shop's).
    pub fn add_records(&mut self, t: &RecordTotals) {
        let mut add = |id: &str, v: Decimal| {
            let sum = self.values.get(id).copied().unwrap_or_default() + v;
            self.values.insert(id.to_string(), sum);
        };
        add("orders", Decimal::from(t.orders));
        add("gmv", from_micros(t.gmv_micros));
        add("buyers", Decimal::from(t.buyers));
        add("refund_orders", Decimal::from(t.refund_orders));
        add("refund_amount", from_micros(t.refund_micros));
    }
}
