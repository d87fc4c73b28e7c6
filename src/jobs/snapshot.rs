//! The snapshot job of one shop: each night, yesterday, its month and its
//! year (see [`nightly_periods`]), then the people's scorecards covering the
//! shop.

use super::Context;
use crate::period::{today, Period};
use crate::settings::{Settings, Shop};
use crate::snapshot::{compute_many, nightly_periods, Computed};
use crate::store::{RunResult, Store, StoreError};
use crate::targets::roles::Person;
use crate::targets::TargetBook;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The nightly snapshot job for one shop on local day `today`: yesterday,
/// its month and year (see [`nightly_periods`]). The one-shop case of
/// [`snapshot_shops`].
pub async fn snapshot_shop(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    today: NaiveDate,
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
    shops: &[(&Shop, NaiveDate)],
) -> Result<Vec<Computed>, StoreError> {
    let mut by_day: BTreeMap<NaiveDate, Vec<&Shop>> = BTreeMap::new();
    for (shop, today) in shops {
        by_day.entry(*today).or_default().push(shop);
    }
    let mut out = Vec::new();
    let mut card_periods: BTreeSet<Period> = BTreeSet::new();
    for (today, shops) in &by_day {
        let periods = nightly_periods(*today);
        for period in &periods {
            out.extend(compute_many(settings, store, shops, *period).await?);
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
            crate::scorecard::refresh_people(settings, store, &book, &people, period)
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

/// A scheduled tick of a shop's snapshot job: the local day of the tick,
/// then the alerts evaluated on the fresh values.
pub(super) async fn tick(cx: &Context, shop: &Shop, tick: DateTime<Utc>) -> RunResult {
    let day = tick.with_timezone(&shop.tz).date_naive();
    match snapshot_shop(&cx.setup, &cx.store, shop, day).await {
        Ok(done) => {
            cx.metrics.snapshot_done(&shop.id, super::now_seconds());
            super::alerts::evaluate(cx).await;
            let new = done.iter().filter(|c| c.new_revision).count();
            RunResult {
                status: "ok",
                records: done.len() as i64,
                changed: new as i64,
                detail: done
                    .iter()
                    .map(|c| format!("{} r{}", c.period, c.revision))
                    .collect::<Vec<_>>()
                    .join(", "),
                ..Default::default()
            }
        }
        Err(e) => RunResult {
            status: "failed",
            error: Some(e.to_string()),
            ..Default::default()
        },
    }
}
