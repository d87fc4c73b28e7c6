//! Snapshots: KPI values of a shop for a period with targets, attainment and
//! scores, written as a new revision only when something changed.

use crate::ids::ShopId;
use crate::kpi::{FactsCache, InputValues, KpiSpec};
use crate::period::{LocalDay, Period};
use crate::scoring::scored;
use crate::settings::refund_sources;
use crate::settings::{Settings, Shop};
use crate::store::{Store, StoreError, StoredKpi};
use crate::targets::{TargetBook, TargetScope};
use chrono::Duration;
use rust_decimal::Decimal;

/// What one computation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub shop: ShopId,
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
    let (measure, score) = scored(spec, value, target, cap);
    StoredKpi {
        kpi: spec.id.clone(),
        measure,
        score,
    }
}

/// Computes one shop's KPIs for a period and stores them if they changed:
/// the one-shop case of [`compute_many`].
pub async fn compute(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    period: Period,
) -> Result<Computed, StoreError> {
    let mut done = compute_many(settings, store, &FactsCache::default(), &[shop], period).await?;
    done.pop()
        .ok_or_else(|| StoreError::Corrupt(format!("no snapshot computed for {}", shop.id)))
}

/// Computes the KPIs of `shops` for a period, the facts read for all shops
/// at once (or taken from those the pass has read), and stores the changed
/// ones in batches; one [`Computed`] per shop, in order.
pub async fn compute_many(
    settings: &Settings,
    store: &Store,
    facts: &FactsCache,
    shops: &[&Shop],
    period: Period,
) -> Result<Vec<Computed>, StoreError> {
    let snapshots: Vec<(ShopId, Vec<StoredKpi>)> = shops
        .iter()
        .map(|s| s.id.clone())
        .zip(values_many(settings, store, facts, shops, period).await?)
        .collect();
    let written = store.write_snapshots(period, &snapshots).await?;
    let mut out = Vec::with_capacity(snapshots.len());
    for ((shop, kpis), (revision, new_revision)) in snapshots.into_iter().zip(written) {
        if new_revision {
            tracing::info!(shop = %shop, period = %period, revision, "snapshot revision written");
        } else {
            tracing::debug!(shop = %shop, period = %period, revision, "snapshot unchanged");
        }
        out.push(Computed {
            shop,
            period,
            revision,
            new_revision,
            kpis,
        });
    }
    Ok(out)
}

/// One shop's KPI lines for a period as a snapshot holds them, without
/// storing anything (alert digests show the same numbers as `kpid report`).
pub async fn values(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    period: Period,
) -> Result<Vec<StoredKpi>, StoreError> {
    Ok(
        values_many(settings, store, &FactsCache::default(), &[shop], period)
            .await?
            .pop()
            .unwrap_or_default(),
    )
}

/// The KPI lines of each of `shops` (in order) for a period: each period
/// the KPIs look back to is read once for all shops, and the target book
/// once.
pub async fn values_many(
    settings: &Settings,
    store: &Store,
    facts: &FactsCache,
    shops: &[&Shop],
    period: Period,
) -> Result<Vec<Vec<StoredKpi>>, StoreError> {
    let ids: Vec<ShopId> = shops.iter().map(|s| s.id.clone()).collect();
    let refunds_known = refund_sources::with_refund_source(settings, store, &ids).await?;
    let mut backs = Vec::new();
    for back in 0..=settings.catalogue.prev_depth() {
        let p = period.back(back);
        backs.push(InputValues::load_many(facts, store, &ids, p.days()).await?);
    }
    let book = TargetBook::load(&settings.targets, store).await?;
    let cap = settings.scoring.cap;
    let mut out = Vec::with_capacity(shops.len());
    for shop in shops {
        let inputs: Vec<InputValues> = backs
            .iter()
            .map(|b| {
                let mut values = b.get(&shop.id).cloned().unwrap_or_default();
                if !refunds_known.contains(&shop.id) {
                    refund_sources::clear(&mut values);
                }
                values
            })
            .collect();
        let scopes = [TargetScope::Shop(shop.id.clone()), TargetScope::All];
        let target_back = |kpi: &str, back: usize| book.lookup(kpi, period.back(back), &scopes);
        let target = |kpi: &str| target_back(kpi, 0);
        let values = settings.catalogue.evaluate(&inputs, &target_back);
        out.push(
            values
                .into_iter()
                .filter_map(|(id, v)| {
                    let spec = settings.catalogue.get(&id)?;
                    Some(line(spec, v, target(&id), cap))
                })
                .collect(),
        );
    }
    Ok(out)
}

/// The periods the nightly job refreshes on local day `today`: yesterday,
/// its month (month-to-date, or the month just ended on the 1st) and year,
/// and during the first week of a month the month before, so late refunds
/// reach it.
pub fn nightly_periods(today: LocalDay) -> Vec<Period> {
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
        let p = nightly_periods(LocalDay::from_ymd_opt(2026, 11, 1).unwrap());
        assert!(p.contains(&Period::parse_day("2026-10-31").unwrap()));
        assert!(p.contains(&Period::parse_month("2026-10").unwrap()));
        assert!(p.contains(&Period::parse_year("2026").unwrap()));
    }
}
