//! Snapshots: KPI values of a shop for a period with targets, attainment and
//! scores, written as a new revision only when something changed.

use crate::config::{Settings, Shop};
use crate::kpi::{round_value, Direction, InputValues, KpiSpec};
use crate::period::Period;
use crate::store::{Store, StoreError, StoredKpi};
use crate::targets::TargetScope;
use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;

/// What one computation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub shop: String,
    pub period: Period,
    pub revision: i64,
    /// False when the values equalled the latest revision and nothing was written.
    pub new_revision: bool,
    pub kpis: Vec<StoredKpi>,
}

/// Attainment of `actual` against `target`: actual/target for `up` KPIs,
/// target/actual for `down` ones, where an actual of 0 is full attainment (the cap).
pub fn attainment(
    direction: Direction,
    actual: Decimal,
    target: Decimal,
    cap: Decimal,
) -> Option<Decimal> {
    match direction {
        Direction::Up if target.is_zero() => None,
        Direction::Up => actual.checked_div(target),
        Direction::Down if actual.is_zero() => Some(cap),
        Direction::Down => target.checked_div(actual),
    }
    .map(round_value)
}

/// Score = 100 × min(attainment, cap), never below 0.
pub fn score(attainment: Decimal, cap: Decimal) -> Decimal {
    round_value(Decimal::ONE_HUNDRED * attainment.min(cap).max(Decimal::ZERO))
}

fn line(
    spec: &KpiSpec,
    value: Option<Decimal>,
    target: Option<Decimal>,
    cap: Decimal,
) -> StoredKpi {
    let attainment = match (value, target) {
        (Some(v), Some(t)) => attainment(spec.direction, v, t, cap),
        _ => None,
    };
    StoredKpi {
        kpi: spec.id.clone(),
        value,
        target,
        attainment,
        score: attainment.map(|a| score(a, cap)),
    }
}

/// Computes one shop's KPIs for a period and stores them if they changed.
pub async fn compute(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    period: Period,
) -> Result<Computed, StoreError> {
    let kpis = values(settings, store, shop, period).await?;
    let (revision, new_revision) = store.write_snapshot(&shop.id, period, &kpis).await?;
    if new_revision {
        tracing::info!(shop = %shop.id, period = %period, revision, "snapshot revision written");
    } else {
        tracing::debug!(shop = %shop.id, period = %period, revision, "snapshot unchanged");
    }
    Ok(Computed {
        shop: shop.id.clone(),
        period,
        revision,
        new_revision,
        kpis,
    })
}

/// One shop's KPI lines for a period as a snapshot holds them, without
/// storing anything (alert digests show the same numbers as `kpid report`).
pub async fn values(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    period: Period,
) -> Result<Vec<StoredKpi>, StoreError> {
    let current = InputValues::load(store, &shop.id, period).await?;
    let previous = InputValues::load(store, &shop.id, period.previous()).await?;
    let book = crate::scorecard::target_book(settings, store).await?;
    let scopes = [TargetScope::Shop(shop.id.clone()), TargetScope::All];
    let target = |kpi: &str| book.lookup(kpi, period, &scopes);
    let values = settings.catalogue.evaluate(&current, &previous, &target);
    let cap = settings.config.snapshot.score_cap;
    Ok(values
        .into_iter()
        .filter_map(|(id, v)| {
            let spec = settings.catalogue.get(&id)?;
            Some(line(spec, v, target(&id), cap))
        })
        .collect())
}

/// The periods the nightly job refreshes on local day `today`: yesterday,
/// its month (month-to-date, or the month just ended on the 1st) and year,
/// and during the first week of a month the month before, so late refunds
/// reach it.
pub fn nightly_periods(today: NaiveDate) -> Vec<Period> {
    let yesterday = today - Duration::days(1);
    let month = Period::month_of(yesterday);
    let mut out = vec![
        Period::Day(yesterday),
        month,
        Period::Year(yesterday.year()),
    ];
    if yesterday.day() <= 7 {
        out.push(month.previous());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn down_kpi_with_zero_actual_is_full_attainment() {
        let cap = d("1.2");
        assert_eq!(attainment(Direction::Down, d("0"), d("30"), cap), Some(cap));
        assert_eq!(
            attainment(Direction::Down, d("60"), d("30"), cap),
            Some(d("0.5"))
        );
        assert_eq!(attainment(Direction::Up, d("5"), d("0"), cap), None);
    }

    #[test]
    fn score_is_capped_and_floored() {
        let cap = d("1.2");
        assert_eq!(score(d("1.5"), cap), d("120"));
        assert_eq!(score(d("0.8"), cap), d("80"));
        assert_eq!(score(d("-0.2"), cap), d("0"));
    }

    #[test]
    fn nightly_periods_on_the_first_include_the_month_just_ended() {
        let p = nightly_periods(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert!(p.contains(&Period::parse_day("2026-10-31").unwrap()));
        assert!(p.contains(&Period::parse_month("2026-10").unwrap()));
        assert!(p.contains(&Period::parse_year("2026").unwrap()));
    }
}
