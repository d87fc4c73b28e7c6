//! Each shop's snapshot job: each night, yesterday, its month and its year
//! (see [`nightly_periods`]), then the people's scorecards covering the
//! shop. The jobs of shops due at the same instant run as one set-based pass.

use super::Context;
use crate::kpi::FactsCache;
use crate::period::{local_day, today, LocalDay, Period};
use crate::settings::{Settings, Shop};
use crate::snapshot::{compute_many, nightly_periods, Computed};
use crate::store::{RunResult, Store, StoreError};
use crate::targets::roles::Person;
use crate::targets::TargetBook;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The nightly snapshot job for one shop on local day `today`: yesterday,
/// its month and year (see [`nightly_periods`]). The one-shop case of
/// [`snapshot_shops`].
pub async fn snapshot_shop(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    today: LocalDay,
) -> Result<Vec<Computed>, StoreError> {
    snapshot_shops(settings, store, &[(shop, today)]).await
}

/// The nightly snapshot job for many shops, each on its own local day:
/// shops on the same day share their periods, and each period is computed
/// for all of them at once (see [`compute_many`]); then the scorecards of
/// the people covering them, once for everyone.
pub async fn snapshot_shops(
    settings: &Settings,
    store: &Store,
    shops: &[(&Shop, LocalDay)],
) -> Result<Vec<Computed>, StoreError> {
    let mut by_day: BTreeMap<LocalDay, Vec<&Shop>> = BTreeMap::new();
    for (shop, today) in shops {
        by_day.entry(*today).or_default().push(shop);
    }
    let mut out = Vec::new();
    // The scorecards of a month or year take the facts its snapshots read.
    let facts = FactsCache::default();
    let mut card_periods: BTreeSet<Period> = BTreeSet::new();
    for (today, shops) in &by_day {
        let periods = nightly_periods(*today);
        for period in &periods {
            out.extend(compute_many(settings, store, &facts, shops, *period).await?);
        }
        card_periods.extend(crate::scorecard::nightly_scorecard_periods(&periods));
    }
    if !settings.people.is_empty() {
        // Scorecards of the people covering these shops: month and year to
        // date (closed months stay frozen).
        let book = TargetBook::load(&settings.targets, store).await?;
        let people: Vec<&Person> = settings
            .people
            .iter()
            .filter(|p| {
                p.shops
                    .iter()
                    .any(|s| shops.iter().any(|(x, _)| x.id == *s))
            })
            .collect();
        for period in card_periods {
            crate::scorecard::refresh_people(settings, store, &facts, &book, &people, period)
                .await
                .map_err(scorecard_store_error)?;
        }
        if let Some(today) = by_day.keys().next_back() {
            match crate::scorecard::overdue_months(settings, store, *today).await {
                Ok(months) => {
                    for (month, due) in months {
                        tracing::warn!(month = %month, due = %due, "month not closed past the scheme's deadline; run `kpid close --month {month}`");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check for months past their closing deadline")
                }
            }
        }
    }
    Ok(out)
}

fn scorecard_store_error(e: crate::scorecard::ScorecardError) -> StoreError {
    match e {
        crate::scorecard::ScorecardError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// The last month that has fully ended in the shop's zone.
pub fn last_complete_month(shop: &Shop) -> Period {
    let t = today(shop.tz);
    Period::Month {
        year: t.year(),
        month: t.month(),
    }
    .previous()
}

/// The shops' snapshot jobs due at the same instant `tick`, run as one
/// set-based pass (see [`snapshot_shops`]): each shop on its local day of
/// the tick, then the alerts evaluated once on the fresh values. One result
/// per shop, in order; a failure of the pass fails every shop's run with it.
pub(super) async fn tick(cx: &Context, shops: &[&Shop], tick: DateTime<Utc>) -> Vec<RunResult> {
    let days: Vec<(&Shop, LocalDay)> = shops.iter().map(|s| (*s, local_day(tick, s.tz))).collect();
    cx.metrics.snapshot_pass(shops.len());
    let done = match snapshot_shops(&cx.setup, &cx.store, &days).await {
        Ok(done) => done,
        Err(e) => {
            let failed = RunResult {
                status: "failed",
                error: Some(e.to_string()),
                ..Default::default()
            };
            return vec![failed; shops.len()];
        }
    };
    let at = super::now_seconds();
    let mut by_shop: HashMap<&str, Vec<&Computed>> = HashMap::new();
    for c in &done {
        by_shop.entry(c.shop.as_str()).or_default().push(c);
    }
    for shop in shops {
        cx.metrics.snapshot_done(&shop.id, at);
    }
    super::alerts::evaluate(cx).await;
    shops
        .iter()
        .map(|shop| {
            let mine = by_shop.remove(shop.id.as_str()).unwrap_or_default();
            RunResult {
                status: "ok",
                records: mine.len() as i64,
                changed: mine.iter().filter(|c| c.new_revision).count() as i64,
                detail: mine
                    .iter()
                    .map(|c| format!("{} r{}", c.period, c.revision))
                    .collect::<Vec<_>>()
                    .join(", "),
                ..Default::default()
            }
        })
        .collect()
}
