//! A person's inputs: only the data of their scope.
//!
//! Shops bound everything. Within them, ad inputs (`ad_*`, one series per
//! campaign in `dimension`) count only the person's campaigns, and
//! customer-service inputs (`cs_*`, one series per agent) only their agent
//! ids; an empty list means all. Peer means (`peer_mean(cs_gmv)`) are taken
//! over every agent of the person's shops in the same period, so an agent is
//! compared with the whole desk, themselves included.

use super::roles::Person;
use crate::kpi::inputs::ShopFacts;
use crate::kpi::{round_value, InputValues};
use crate::money::from_micros;
use crate::period::Period;
use crate::store::{fold_daily, DailyRow, Store, StoreError};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Which dimension an input's series are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimensionKind {
    Campaign,
    Agent,
}

pub fn dimension_of(input: &str) -> Option<DimensionKind> {
    if input.starts_with("ad_") {
        Some(DimensionKind::Campaign)
    } else if input.starts_with("cs_") {
        Some(DimensionKind::Agent)
    } else {
        None
    }
}

fn in_scope(person: &Person, row: &DailyRow) -> bool {
    let ids = match dimension_of(&row.input) {
        Some(DimensionKind::Campaign) => &person.campaigns,
        Some(DimensionKind::Agent) => &person.agents,
        None => return true,
    };
    ids.is_empty() || ids.contains(&row.dimension)
}

/// The inputs of `person` over `period` (manual inputs are added by the caller).
pub async fn load_person(
    store: &Store,
    person: &Person,
    period: Period,
) -> Result<InputValues, StoreError> {
    load_person_days(store, person, period.first_day(), period.last_day()).await
}

/// As [`load_person`], over the local days `from..=to`.
pub async fn load_person_days(
    store: &Store,
    person: &Person,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<InputValues, StoreError> {
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut daily_sales = false;
    for shop in &person.shops {
        // Each shop's records win on its own days with records.
        let facts = ShopFacts::load(store, shop, from, to).await?;
        daily_sales |= facts.daily_sales();
        rows.extend(facts.rows);
        records.extend(facts.records);
    }
    // Merged shops' rows must be in input, day order for the fold.
    rows.sort_by(|a, b| (&a.input, &a.day).cmp(&(&b.input, &b.day)));
    let peers = fold_daily(
        rows.iter()
            .filter(|r| dimension_of(&r.input) == Some(DimensionKind::Agent))
            .cloned(),
    )?;
    let mine = fold_daily(rows.into_iter().filter(|r| in_scope(person, r)))?;
    let mut values = InputValues::from_daily(&mine, from == to);
    for t in &records {
        values.add_records(t);
    }
    values.settle_buyers(daily_sales, from == to);
    for (input, agg) in &peers {
        let agents: Vec<i64> = agg
            .by_dimension
            .iter()
            .filter(|(d, _)| !d.is_empty())
            .map(|(_, v)| *v)
            .collect();
        if !agents.is_empty() {
            let total: i64 = agents.iter().sum();
            let mean = from_micros(total) / Decimal::from(agents.len() as i64);
            values.set_peer_mean(input, round_value(mean));
        }
    }
    Ok(values)
}
