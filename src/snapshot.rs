//! Snapshots: KPI values of a shop for a period with targets, attainment and
//! scores, written as a new revision only when something changed.

use crate::kpi::{InputValues, KpiSpec};
use crate::period::Period;
use crate::scoring::{attainment, score};
use crate::settings::refund_sources;
use crate::settings::{Settings, Shop};
use crate::store::{Store, StoreError, StoredKpi};
use crate::targets::{TargetBook, TargetScope};
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
    let book = TargetBook::load(&settings.targets, store).await?;
    let scopes = [TargetScope::Shop(shop.id.clone()), TargetScope::All];
    let target_back = |kpi: &str, back: usize| book.lookup(kpi, period.back(back), &scopes);
    let target = |kpi: &str| target_back(kpi, 0);
    let values = settings.catalogue.evaluate(&inputs, &target_back);
    let cap = settings.scoring.cap;
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

    #[test]
    fn nightly_periods_on_the_first_include_the_month_just_ended() {
        let p = nightly_periods(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert!(p.contains(&Period::parse_day("2026-10-31").unwrap()));
        assert!(p.contains(&Period::parse_month("2026-10").unwrap()));
        assert!(p.contains(&Period::parse_year("2026").unwrap()));
    }
}
