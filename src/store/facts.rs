//! Facts as storage reads them back: totals of records, daily series, and
//! the helpers both databases' commits share.

use super::{Result, StoreError};
use crate::money::Money;
use crate::period::LocalDay;
use std::collections::{BTreeMap, HashMap};

/// Totals of a shop's order and refund records over a range of local days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordTotals {
    pub orders: i64,
    pub gmv: Money,
    pub buyers: i64,
    pub refund_orders: i64,
    pub refund_amount: Money,
}

/// The paid-order totals of [`RecordTotals`] over a set of `orders` rows, in
/// the SQL both databases take: the orders, their amount in micros, and the
/// distinct buyers (a guest order, without a buyer, is its own buyer).
pub(super) const PAID_TOTALS: &str = "COUNT(*), CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT), \
     COUNT(DISTINCT COALESCE(buyer_id, 'order:' || order_id))";

/// One input's daily values over a range, folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyAggregate {
    pub sum_micros: i64,
    pub count: i64,
    /// Per dimension sums (campaign, agent …), for peer comparisons.
    pub by_dimension: BTreeMap<String, i64>,
    /// Best (lowest) value on the latest day that has one.
    pub latest_min_micros: i64,
}

/// One stored daily value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRow {
    pub input: String,
    /// The shop's local day.
    pub day: LocalDay,
    pub dimension: String,
    pub value_micros: i64,
}

/// Folds daily rows ordered by input and day (rows of several shops may be
/// merged first, then sorted) into per-input aggregates.
pub fn fold_daily(
    rows: impl IntoIterator<Item = DailyRow>,
) -> Result<HashMap<String, DailyAggregate>> {
    let mut out: HashMap<String, DailyAggregate> = HashMap::new();
    let mut latest_day: HashMap<String, LocalDay> = HashMap::new();
    for DailyRow {
        input,
        day,
        dimension,
        value_micros: v,
    } in rows
    {
        let agg = out.entry(input.clone()).or_insert_with(|| DailyAggregate {
            sum_micros: 0,
            count: 0,
            by_dimension: BTreeMap::new(),
            latest_min_micros: v,
        });
        agg.sum_micros = agg
            .sum_micros
            .checked_add(v)
            .ok_or_else(|| StoreError::Corrupt(format!("sum of {input} overflows")))?;
        agg.count += 1;
        *agg.by_dimension.entry(dimension).or_insert(0) += v;
        // Rows come ordered by day: a later day replaces, the same day keeps the best.
        match latest_day.get(&input) {
            Some(d) if *d == day => agg.latest_min_micros = agg.latest_min_micros.min(v),
            _ => {
                agg.latest_min_micros = v;
                latest_day.insert(input, day);
            }
        }
    }
    Ok(out)
}

/// Keeps the last of several records with the same key (a later file or page
/// wins) so one statement never touches a row twice, in key order: commits
/// running side by side on PostgreSQL then lock shared rows in the same
/// order and cannot deadlock.
pub(super) fn last_by_key<'a, T, K: Ord>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut last: BTreeMap<K, &'a T> = BTreeMap::new();
    for it in items {
        last.insert(key(it), it);
    }
    last.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_record_of_a_key_wins_and_rows_come_in_key_order() {
        let items = [("b", 1), ("a", 2), ("b", 3), ("c", 4)];
        let kept: Vec<_> = last_by_key(&items, |i| i.0).into_iter().copied().collect();
        assert_eq!(kept, [("a", 2), ("b", 3), ("c", 4)]);
    }
}
