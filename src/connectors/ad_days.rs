//! The days an ad-platform report run covers. Ad platforms keep attributing
//! conversions to a day for days after it, so a scheduled run re-fetches the
//! last `lookback_days` before the day it last reached (and through today);
//! a backfill takes `--from..--to`. Long ranges are cut into slices so no
//! single report is huge and several can be fetched at once.
//!
//! Used by the Rust `google_ads`; definitions say the same with
//! `scheduled = "reached"` (`connectors/meta_ads.toml`).

use super::{Sink, Window};
use crate::connectors::ConnectorError;
use crate::facts::Batch;
use crate::period::LocalDay;
use chrono::Duration;
use std::future::Future;
use tokio::sync::mpsc;

/// The stream whose cursor holds the last day a scheduled run reached.
pub(crate) const STREAM: &str = "daily";

/// `[from, to]` for a run: the window given, or for a scheduled run
/// `lookback_days` before the stored cursor (or before today on a first
/// run) through today. Returns whether the run is scheduled (its cursor is
/// to be moved to `to` once committed).
pub(crate) async fn run_days(
    window: Window,
    today: LocalDay,
    lookback_days: i64,
    sink: &Sink<'_>,
) -> Result<(LocalDay, LocalDay, bool), ConnectorError> {
    if !window.is_scheduled() {
        let (from, to) = window.backfill_days(today);
        return Ok((from, to, false));
    }
    let reached = sink
        .cursor(STREAM)
        .await?
        .and_then(|c| LocalDay::parse_ymd(&c).ok())
        .unwrap_or(today)
        .min(today);
    Ok((reached - Duration::days(lookback_days), today, true))
}

/// A report run: its days (see [`run_days`]) cut into slices of
/// `slice_days`, fetched `concurrency` at a time by `fetch`; a scheduled run
/// moves its cursor to the last day only once every slice is committed.
pub(crate) async fn run_report<F, Fut>(
    window: Window,
    today: LocalDay,
    lookback_days: i64,
    slice_days: u32,
    concurrency: usize,
    sink: &mut Sink<'_>,
    fetch: F,
) -> Result<(), ConnectorError>
where
    F: Fn((LocalDay, LocalDay), mpsc::Sender<Batch>) -> Fut,
    Fut: Future<Output = Result<(), ConnectorError>>,
{
    let (from, to, scheduled) = run_days(window, today, lookback_days, sink).await?;
    if from > to {
        return Ok(());
    }
    sink.fetch_and_commit(slices(from, to, slice_days), concurrency, fetch)
        .await?;
    if scheduled {
        sink.set_cursor(STREAM, &to.to_string()).await?;
    }
    Ok(())
}

/// `[from, to]` cut into consecutive ranges of at most `days` days.
pub(crate) fn slices(from: LocalDay, to: LocalDay, days: u32) -> Vec<(LocalDay, LocalDay)> {
    let step = Duration::days(i64::from(days.max(1)));
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + step - Duration::days(1)).min(to);
        out.push((start, end));
        start = end + Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::day as d;

    #[test]
    fn slices_cover_the_range_without_overlap() {
        assert_eq!(
            slices(d("2024-06-01"), d("2024-06-07"), 4),
            vec![
                (d("2024-06-01"), d("2024-06-04")),
                (d("2024-06-05"), d("2024-06-07"))
            ]
        );
        assert_eq!(
            slices(d("2024-06-01"), d("2024-06-01"), 30),
            vec![(d("2024-06-01"), d("2024-06-01"))]
        );
        assert!(slices(d("2024-06-02"), d("2024-06-01"), 30).is_empty());
        assert_eq!(slices(d("2024-01-01"), d("2024-12-31"), 31).len(), 12);
    }
}
