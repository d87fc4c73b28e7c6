//! The snapshot job of one shop: each night, yesterday, its month and its
//! year (see [`nightly_periods`]), then the people's scorecards covering the
//! shop.

use super::Context;
use crate::period::{today, Period};
use crate::settings::{Settings, Shop};
use crate::snapshot::{compute, nightly_periods, Computed};
use crate::store::{RunResult, Store, StoreError};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// The nightly snapshot job for one shop on local day `today`: yesterday,
/// its month and year (see [`nightly_periods`]).
pub async fn snapshot_shop(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    today: NaiveDate,
) -> Result<Vec<Computed>, StoreError> {
    let mut out = Vec::new();
    let periods = nightly_periods(today);
    for period in &periods {
        out.push(compute(settings, store, shop, *period).await?);
    }
    if !settings.people.is_empty() {
        // Scorecards of the people covering this shop: month and year to date
        // (closed months stay frozen).
        for period in crate::scorecard::nightly_scorecard_periods(&periods) {
            crate::scorecard::refresh_all(settings, store, period, Some(&shop.id))
                .await
                .map_err(scorecard_store_error)?;
        }
        match crate::scorecard::overdue_months(settings, store, today).await {
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
