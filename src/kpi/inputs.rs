//! The inputs of one shop over one period, folded from stored facts.

use super::catalogue::{Aggregation, INPUTS};
use super::round_value;
use crate::ids::ShopId;
use crate::money::from_micros;
use crate::period::{Days, LocalDay, Period};
use crate::store::{
    fold_daily, known_or_found, DailyAggregate, DailyRow, RecordTotals, Store, StoreError,
};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Inputs that order and refund records provide when a shop has them.
pub const RECORD_INPUTS: &[&str] = &["orders", "gmv", "buyers", "refund_orders", "refund_amount"];

/// Record inputs that tell who bought: a day with one of these from a daily
/// series makes distinct buyers over several days unknowable.
const SALES_INPUTS: &[&str] = &["orders", "gmv", "buyers"];

/// One shop's facts over a range of days as the inputs read them: records
/// win day by day. On a local day with any order or refund record, the
/// record inputs come from records; on a day without, from the daily series
/// (a daily CSV of earlier months keeps counting after order records start).
#[derive(Debug, Clone, Default)]
pub struct ShopFacts {
    /// Daily values, without record inputs on days that have records.
    pub rows: Vec<DailyRow>,
    /// Record totals over the range when the shop has any order record.
    pub records: Option<RecordTotals>,
}

impl ShopFacts {
    /// One shop's facts: the one-shop case of [`ShopFacts::load_many`].
    pub async fn load(store: &Store, shop: &str, days: Days) -> Result<Self, StoreError> {
        let mut many = Self::load_many(store, &[shop.into()], days).await?;
        Ok(many.remove(shop).unwrap_or_default())
    }

    /// The facts of each of `shops` over `days`, read for all of them
    /// at once: a few queries grouped by shop, however many shops.
    pub async fn load_many(
        store: &Store,
        shops: &[ShopId],
        days: Days,
    ) -> Result<HashMap<ShopId, Self>, StoreError> {
        FactsCache::default().shop_facts(store, shops, days).await
    }

    /// Distinct buyers cannot be known: some day takes its sales from a
    /// daily series, and the range is more than one day (a buyer of that
    /// day may have bought on another) or that day has no daily `buyers`.
    pub fn buyers_unknown(&self, single_day: bool) -> bool {
        let daily_sales = self
            .rows
            .iter()
            .any(|r| SALES_INPUTS.contains(&r.input.as_str()));
        daily_sales && (!single_day || !self.rows.iter().any(|r| r.input == "buyers"))
    }
}

/// What a shop's order and refund records say over a range of days.
#[derive(Debug, Clone, Default)]
struct RecordFacts {
    /// Totals over the range; none when the shop has no order record at all.
    totals: Option<RecordTotals>,
    /// The days of the range with a record: read only for a shop whose
    /// daily series also carry record inputs, which give way on those days.
    days: Option<HashSet<LocalDay>>,
}

/// What one pass (a `kpid compute`, the shops of one nightly tick, the
/// start-up report) has read of the shops' records, kept for the rest of
/// the pass: its snapshots and then its scorecards ask for the same shops
/// and periods, and a month of orders for 1,000 shops is a million rows
/// read, grouped by shop and counted distinct. Only those small
/// results are kept (a few numbers a shop and range, and the days with a
/// record): the daily series, which can be large (a row per campaign or
/// agent a day), are read again each time, as they are cheap to seek.
/// Kept for one pass only, so a later pass sees what was ingested meanwhile.
#[derive(Debug, Default)]
pub struct FactsCache {
    read: Mutex<HashMap<Days, HashMap<ShopId, RecordFacts>>>,
}

impl FactsCache {
    /// The facts of each of `shops` over `days` (see [`ShopFacts`]): the
    /// daily series read now, the records as the pass first read them.
    pub async fn shop_facts(
        &self,
        store: &Store,
        shops: &[ShopId],
        days: Days,
    ) -> Result<HashMap<ShopId, ShopFacts>, StoreError> {
        let mut shops = shops.to_vec();
        shops.sort();
        shops.dedup();
        let mut rows = store.daily_rows_of(&shops, days).await?;
        let unread = self.unread(&shops, days);
        if !unread.is_empty() {
            let totals = record_totals(store, &unread, days).await?;
            let mut read = self.lock();
            let known = read.entry(days).or_default();
            for (shop, totals) in totals {
                known.insert(shop, RecordFacts { totals, days: None });
            }
        }
        // Record days matter only where daily record inputs could give way to them.
        let with_record_inputs = |s: &ShopId| {
            rows.get(s).is_some_and(|rows| {
                rows.iter()
                    .any(|r| RECORD_INPUTS.contains(&r.input.as_str()))
            })
        };
        // Every shop has its totals by now: those with orders whose record
        // days are not read yet.
        let mixed: Vec<ShopId> = {
            let read = self.lock();
            let known = read.get(&days);
            shops
                .iter()
                .filter(|s| {
                    known
                        .and_then(|k| k.get(*s))
                        .is_some_and(|f| f.totals.is_some() && f.days.is_none())
                })
                .filter(|s| with_record_inputs(s))
                .cloned()
                .collect()
        };
        if !mixed.is_empty() {
            let mut record_days = store.record_days_of(&mixed, days).await?;
            let mut read = self.lock();
            let known = read.entry(days).or_default();
            for shop in mixed {
                let found = record_days.remove(&shop).unwrap_or_default();
                known.entry(shop).or_default().days = Some(found);
            }
        }
        let read = self.lock();
        let known = read.get(&days);
        let mut out = HashMap::with_capacity(shops.len());
        for shop in shops {
            let mut rows = rows.remove(&shop).unwrap_or_default();
            let facts = known.and_then(|k| k.get(&shop));
            let records = facts.and_then(|f| f.totals);
            if let Some(days) = facts.and_then(|f| f.days.as_ref()) {
                rows.retain(|r| {
                    !(RECORD_INPUTS.contains(&r.input.as_str()) && days.contains(&r.day))
                });
            }
            out.insert(shop, ShopFacts { rows, records });
        }
        Ok(out)
    }

    /// Those of `shops` whose records over `days` the pass has not read.
    fn unread(&self, shops: &[ShopId], days: Days) -> Vec<ShopId> {
        let read = self.lock();
        let known = read.get(&days);
        shops
            .iter()
            .filter(|s| known.is_none_or(|k| !k.contains_key(*s)))
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Days, HashMap<ShopId, RecordFacts>>> {
        // Nothing panics while holding it; a poisoned map is still whole.
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Each shop's record totals over `days`, none for a shop without any
/// order record (which then reads its sales from daily series only).
async fn record_totals(
    store: &Store,
    shops: &[ShopId],
    days: Days,
) -> Result<HashMap<ShopId, Option<RecordTotals>>, StoreError> {
    let mut totals = store.record_totals_of(shops, days).await?;
    // A paid order in the range shows the shop has orders; only the
    // others are looked up (an order of another status or day counts).
    let paid: HashSet<ShopId> = totals
        .iter()
        .filter(|(_, t)| t.orders > 0)
        .map(|(s, _)| s.clone())
        .collect();
    let has_orders = known_or_found(paid, shops, |unsure| async move {
        store.shops_with_orders(&unsure).await
    })
    .await?;
    Ok(shops
        .iter()
        .map(|s| {
            let t = has_orders
                .contains(s)
                .then(|| totals.remove(s).unwrap_or_default());
            (s.clone(), t)
        })
        .collect())
}

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
            ..Default::default()
        }
    }

    pub fn get(&self, id: &str) -> Option<Decimal> {
        self.values.get(id).copied()
    }

    pub fn set(&mut self, id: &str, v: Decimal) {
        self.values.insert(id.to_string(), v);
    }

    /// Leaves `id` without a value.
    pub fn remove(&mut self, id: &str) {
        self.values.remove(id);
    }

    pub fn peer_mean(&self, id: &str) -> Option<Decimal> {
        self.peer_means.get(id).copied()
    }

    pub fn set_peer_mean(&mut self, id: &str, v: Decimal) {
        self.peer_means.insert(id.to_string(), v);
    }

    /// Reads a shop's inputs for a period.
    ///
    /// Record inputs (orders, GMV, distinct buyers, refunds) come, day by
    /// day, from records on the days that have any and from daily series on
    /// the others (see [`ShopFacts`]); once a shop has records, a period
    /// without sales reads 0 rather than "no value". Distinct counts cannot
    /// be summed over days: see [`ShopFacts::buyers_unknown`].
    pub async fn load(store: &Store, shop: &str, period: Period) -> Result<Self, StoreError> {
        Self::load_days(store, shop, period.days()).await
    }

    /// As [`InputValues::load`], over the local `days` (alerts
    /// watch month-to-date and today-so-far, which are not whole periods).
    pub async fn load_days(store: &Store, shop: &str, days: Days) -> Result<Self, StoreError> {
        let facts = ShopFacts::load(store, shop, days).await?;
        Self::from_facts(facts, days.is_one_day())
    }

    /// As [`InputValues::load_days`] for each of `shops`, read at once or
    /// taken from what the pass has read (see [`FactsCache`]).
    pub async fn load_many(
        facts: &FactsCache,
        store: &Store,
        shops: &[ShopId],
        days: Days,
    ) -> Result<HashMap<ShopId, Self>, StoreError> {
        facts
            .shop_facts(store, shops, days)
            .await?
            .into_iter()
            .map(|(shop, facts)| Ok((shop, Self::from_facts(facts, days.is_one_day())?)))
            .collect()
    }

    /// One shop's inputs from its facts.
    fn from_facts(facts: ShopFacts, single_day: bool) -> Result<Self, StoreError> {
        let buyers_unknown = facts.buyers_unknown(single_day);
        let mut out = Self::from_daily(&fold_daily(facts.rows)?, single_day);
        if let Some(t) = &facts.records {
            out.add_records(t);
        }
        if buyers_unknown {
            out.forget(|id| id == "buyers");
        }
        Ok(out)
    }

    /// Drops the inputs (and peer means) `which` selects: they have no value.
    pub fn forget(&mut self, which: impl Fn(&str) -> bool) {
        self.values.retain(|k, _| !which(k));
        self.peer_means.retain(|k, _| !which(k));
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
        add("gmv", t.gmv.to_decimal());
        add("buyers", Decimal::from(t.buyers));
        add("refund_orders", Decimal::from(t.refund_orders));
        add("refund_amount", t.refund_amount.to_decimal());
    }
}
