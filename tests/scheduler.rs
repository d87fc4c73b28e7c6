//! Catch-up after downtime, in process, on both databases.

mod common;

use chrono::Utc;
use kpid::jobs::{self, Context};
use kpid::metrics::Metrics;
use kpid::scheduler::Scheduler;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CONFIG: &str = r#"
timezone = "Asia/Shanghai"
[storage]
url = "{db}"
[[shops]]
id = "sh"
[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
shop = "sh"
path = "{dir}/imports/*.csv"
schedule = "0 * * * *"
[snapshot]
schedule = "30 0 * * *"
[scheduler]
max_catchup_hours = 72
"#;

#[tokio::test]
async fn catch_up_runs_each_missed_window_once() {
    for db in common::backends().await {
        let settings = Arc::new(db.settings(CONFIG));
        let metrics = Arc::new(Metrics::new(&["sh".into()], Utc::now().timestamp() as f64));
        let jobs = jobs::scheduled(&settings).unwrap();
        let cx = Context::new(
            settings,
            db.store.clone(),
            metrics,
            CancellationToken::new(),
        );
        let sched = Scheduler::new(cx, jobs);

        // A fresh database looks like a daemon that was down for the whole
        // catch-up age: 72 hourly connector ticks and 3 nightly snapshot ticks missed.
        sched.catch_up().await;
        let connector = db.store.tick_attempts("orders").await.unwrap();
        assert_eq!(
            connector.len(),
            1,
            "{}: the connector's cursor covers the gap in one run",
            db.backend
        );
        let latest_hour = Utc::now().timestamp() / 3600 * 3600;
        assert_eq!(
            connector[0],
            (latest_hour, 1, "ok".to_string()),
            "{}",
            db.backend
        );
        let snapshots = db.store.tick_attempts("snapshot:sh").await.unwrap();
        assert_eq!(
            snapshots.len(),
            3,
            "{}: one snapshot run per missed day",
            db.backend
        );
        for (tick, attempts, status) in &snapshots {
            assert_eq!((*attempts, status.as_str()), (1, "ok"), "{}", db.backend);
            // 00:30 in Shanghai is 16:30 UTC.
            assert_eq!(tick % 86_400, 16 * 3600 + 30 * 60, "{}", db.backend);
        }

        // Starting again runs nothing twice.
        sched.catch_up().await;
        assert_eq!(db.store.tick_attempts("orders").await.unwrap(), connector);
        assert_eq!(
            db.store.tick_attempts("snapshot:sh").await.unwrap(),
            snapshots
        );
        db.drop_db().await;
    }
}

const UNREACHABLE: &str = r#"
timezone = "Asia/Shanghai"
[storage]
url = "{db}"
[[shops]]
id = "sh"
[snapshot]
schedule = "30 0 * * *"
[scheduler]
max_catchup_hours = 24
lease_seconds = 40
"#;

/// A claim that keeps failing (the database is away) is retried with
/// backoff for one lease period, on tokio's clock, then the tick is skipped:
/// catch-up ends rather than waiting forever. On the paused clock the 40 s
/// of retries take no real time.
#[tokio::test]
async fn a_claim_that_keeps_failing_is_retried_for_one_lease_then_skipped() {
    for db in common::backends().await {
        let settings = Arc::new(db.settings(UNREACHABLE));
        let metrics = Arc::new(Metrics::new(&["sh".into()], 0.0));
        let jobs = jobs::scheduled(&settings).unwrap();
        let cx = Context::new(
            settings,
            db.store.clone(),
            metrics,
            CancellationToken::new(),
        );
        let sched = Scheduler::new(cx, jobs);
        // A closed pool fails every claim at once, without waiting on a socket.
        db.store.close().await;
        let logs = common::logs::Logs::default();
        let guard = tracing::subscriber::set_default(logs.subscriber());

        tokio::time::pause();
        let (virtual_start, real_start) = (tokio::time::Instant::now(), std::time::Instant::now());
        sched.catch_up().await;
        let waited = virtual_start.elapsed();
        tokio::time::resume();
        drop(guard);

        let text = logs.text();
        assert!(
            (Duration::from_secs(30)..=Duration::from_secs(40)).contains(&waited),
            "{}: retried for most of one lease, not more: {waited:?}",
            db.backend
        );
        assert!(
            real_start.elapsed() < Duration::from_secs(10),
            "{}: the retries waited on tokio's clock, not the wall clock",
            db.backend
        );
        let retries = text.matches("cannot claim the tick; retrying").count();
        assert!(
            (4..=8).contains(&retries),
            "{}: backoff 0.5 s, 1 s, 2 s, … capped at 10 s: {retries} retries\n{text}",
            db.backend
        );
        assert!(
            text.contains("cannot claim the tick; skipped"),
            "{}: {text}",
            db.backend
        );
        db.drop_db().await;
    }
}
