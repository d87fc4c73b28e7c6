//! Snapshots: KPI values of a shop for a period with targets, attainment and
//! scores, written as a new revision only when something changed.

use crate::kpi::{refund_sources, round_value, Direction, InputValues, KpiSpec};
use crate::period::Period;
use crate::settings::{Settings, Shop};
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

/// Attainment of `actual` against `target` for `kpi`: the one rule used by
/// snapshots, scorecards (and appeals) and alerts.
///
/// - Ratio form, for a target above 0 on a KPI whose values cannot be
///   negative: actual/target for `up` KPIs, target/actual for `down` ones,
///   where an actual of 0 is full attainment (the cap).
/// - Distance form, for a target of 0 or below, or a KPI whose values can be
///   negative (growth rates, differences; see [`KpiSpec::signed`]): a ratio
///   of two negative numbers would invert the score, so attainment is
///   1 + (actual − target)/|target| for `up` KPIs and
///   1 + (target − actual)/|target| for `down` ones, never below 0. A target
///   of exactly 0 has no width to measure by: 1 + (actual − target) (`up`),
///   1 + (target − actual) (`down`). For an `up` KPI with a positive target
///   both forms agree.
///
/// The score caps attainment (see [`score`]); attainment itself is not capped.
pub fn attainment(
    kpi: &KpiSpec,
    actual: Decimal,
    target: Decimal,
    cap: Decimal,
) -> Option<Decimal> {
    if kpi.signed || target <= Decimal::ZERO {
        let width = if target.is_zero() {
            Decimal::ONE
        } else {
            target.abs()
        };
        let ahead = match kpi.direction {
            Direction::Up => actual.checked_sub(target)?,
            Direction::Down => target.checked_sub(actual)?,
        };
        let a = Decimal::ONE.checked_add(ahead.checked_div(width)?)?;
        return Some(round_value(a.max(Decimal::ZERO)));
    }
    match kpi.direction {
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
        (Some(v), Some(t)) => attainment(spec, v, t, cap),
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
    let refunds_known = refund_sources::has_refund_source(settings, store, &shop.id).await?;
    let mut inputs = Vec::new();
    for back in 0..=settings.catalogue.prev_depth() {
        let mut values = InputValues::load(store, &shop.id, period.back(back)).await?;
        if !refunds_known {
            refund_sources::clear(&mut values);
        }
        inputs.push(values);
    }
    let book = crate::scorecard::target_book(settings, store).await?;
    let scopes = [TargetScope::Shop(shop.id.clone()), TargetScope::All];
    let target_back = |kpi: &str, back: usize| book.lookup(kpi, period.back(back), &scopes);
    let target = |kpi: &str| target_back(kpi, 0);
    let values = settings.catalogue.evaluate(&inputs, &target_back);
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
    use crate::kpi::Catalogue;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn spec(id: &str) -> KpiSpec {
        Catalogue::builtin().get(id).unwrap().clone()
    }

    #[test]
    fn down_kpi_with_zero_actual_is_full_attainment() {
        let cap = d("1.2");
        let first_response = spec("first_response_seconds");
        assert_eq!(attainment(&first_response, d("0"), d("30"), cap), Some(cap));
        assert_eq!(
            attainment(&first_response, d("60"), d("30"), cap),
            Some(d("0.5"))
        );
    }

    #[test]
    fn negative_targets_and_signed_kpis_use_the_distance_form() {
        let cap = d("1.2");
        let growth = spec("gmv_growth_mom");
        assert!(growth.signed && !spec("gmv").signed);
        // The numbers: target −0.1.
        assert_eq!(
            attainment(&growth, d("-0.205"), d("-0.1"), cap),
            Some(d("0"))
        );
        assert_eq!(
            attainment(&growth, d("0.083"), d("-0.1"), cap),
            Some(d("2.83"))
        );
        assert_eq!(attainment(&growth, d("-0.1"), d("-0.1"), cap), Some(d("1")));
        assert_eq!(
            attainment(&growth, d("-0.15"), d("-0.1"), cap),
            Some(d("0.5"))
        );
        // A positive growth target: the same as the ratio for `up`.
        assert_eq!(
            attainment(&growth, d("0.05"), d("0.1"), cap),
            Some(d("0.5"))
        );
        assert_eq!(attainment(&growth, d("-0.05"), d("0.1"), cap), Some(d("0")));
        // A target of exactly 0: 1 + (actual − target).
        assert_eq!(attainment(&growth, d("0.2"), d("0"), cap), Some(d("1.2")));
        assert_eq!(attainment(&growth, d("-0.3"), d("0"), cap), Some(d("0.7")));
        let gmv = spec("gmv");
        assert_eq!(attainment(&gmv, d("5"), d("0"), cap), Some(d("6")));
        // `down` mirrors it: 1 + (target − actual)/|target|.
        let violations = spec("cs_violations");
        assert_eq!(attainment(&violations, d("0"), d("0"), cap), Some(d("1")));
        assert_eq!(attainment(&violations, d("2"), d("0"), cap), Some(d("0")));
        let mut falling = growth.clone();
        falling.direction = Direction::Down;
        assert_eq!(
            attainment(&falling, d("-0.15"), d("-0.1"), cap),
            Some(d("1.5"))
        );
        assert_eq!(attainment(&falling, d("0"), d("-0.1"), cap), Some(d("0")));
        assert_eq!(score(d("2.83"), cap), d("120"));
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
