//! Catch-up after downtime, in process, on both databases.

mod common;

use chrono::Utc;
use kpid::jobs::{self, Context};
use kpid::metrics::Metrics;
use kpid::scheduler::Scheduler;
use std::sync::Arc;
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
