//! Catch-up after downtime, in process, on both databases.

mod common;

use chrono::{TimeZone, Utc};
use kpid::jobs::{self, Context};
use kpid::metrics::Metrics;
use kpid::period::Period;
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

/// Three shops in Shanghai and one in Kolkata (neither zone changes its
/// clocks, so 72 hours hold exactly three nightly ticks of each), each with
/// orders of its own over the last days.
const NIGHTLY: &str = r#"
timezone = "Asia/Shanghai"
[storage]
url = "{db}"
[[shops]]
id = "a"
[[shops]]
id = "b"
[[shops]]
id = "c"
[[shops]]
id = "in"
timezone = "Asia/Kolkata"
[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
path = "{dir}/imports/*.csv"
[snapshot]
schedule = "30 0 * * *"
[scheduler]
max_catchup_hours = {hours}
"#;

/// Paid orders of each shop on each of the last five local days, amounts
/// differing by shop, so a pass that mixed shops up would show.
fn nightly_orders(settings: &kpid::settings::Settings) -> String {
    let mut csv = String::from("order_id,shop,paid_at,amount,buyer_id,status\n");
    for (i, shop) in settings.shops.iter().enumerate() {
        let today = kpid::period::today(shop.tz);
        for back in 0..5 {
            let day = today - chrono::Duration::days(back);
            for n in 0..=back {
                csv.push_str(&format!(
                    "{}-{back}-{n},{},{day} 10:0{n}:00,{},buyer{n},paid\n",
                    shop.id,
                    shop.id,
                    100 * (i as i64 + 1) + n
                ));
            }
        }
    }
    csv
}

async fn nightly_db(db: &common::TestDb, hours: u32) -> Arc<kpid::setup::Setup> {
    let settings = db.settings(&NIGHTLY.replace("{hours}", &hours.to_string()));
    db.write("imports/orders.csv", &nightly_orders(&settings));
    let c = jobs::build_connectors(&settings, &[]).unwrap();
    let run = jobs::run_connector(&db.store, &c[0], Default::default()).await;
    assert!(run.error.is_none(), "{}: {run:?}", db.backend);
    Arc::new(settings)
}

fn scheduler(
    settings: &Arc<kpid::setup::Setup>,
    store: &kpid::store::Store,
    owner: &str,
) -> (Scheduler, Arc<Metrics>) {
    let ids: Vec<kpid::ids::ShopId> = settings.shops.iter().map(|s| s.id.clone()).collect();
    let metrics = Arc::new(Metrics::new(&ids, 0.0));
    let mut cx = Context::new(
        settings.clone(),
        store.clone(),
        metrics.clone(),
        CancellationToken::new(),
    );
    cx.owner = owner.to_string();
    (
        Scheduler::new(cx, jobs::scheduled(settings).unwrap()),
        metrics,
    )
}

/// The snapshot jobs of the shops due at one instant run as one set-based
/// pass, while each shop keeps its own claim and run record, and ends with
/// the snapshots it gets computed alone. Catch-up batches the same way, and
/// the shop in another zone runs at its own instant.
#[tokio::test]
async fn shops_due_at_one_instant_share_one_pass_and_keep_their_runs() {
    for db in common::backends().await {
        let b = db.backend;
        let settings = nightly_db(&db, 72).await;
        let (sched, metrics) = scheduler(&settings, &db.store, "one");
        sched.catch_up().await;

        // Three missed nights in two zones: six passes, not twelve.
        assert_eq!(metrics.snapshot_passes.get(), 6, "{b}");
        assert_eq!(metrics.snapshot_pass_shops.get(), 12, "{b}");
        let ticks_a = db.store.tick_attempts("snapshot:a").await.unwrap();
        assert_eq!(ticks_a.len(), 3, "{b}: {ticks_a:?}");
        for (tick, attempts, status) in &ticks_a {
            assert_eq!((*attempts, status.as_str()), (1, "ok"), "{b}");
            // 00:30 in Shanghai is 16:30 UTC.
            assert_eq!(tick % 86_400, 16 * 3600 + 30 * 60, "{b}");
        }
        for shop in ["b", "c"] {
            let ticks = db
                .store
                .tick_attempts(&format!("snapshot:{shop}"))
                .await
                .unwrap();
            assert_eq!(ticks, ticks_a, "{b}: {shop} ran with a");
        }
        let ticks_in = db.store.tick_attempts("snapshot:in").await.unwrap();
        assert_eq!(ticks_in.len(), 3, "{b}: {ticks_in:?}");
        for (tick, attempts, status) in &ticks_in {
            assert_eq!((*attempts, status.as_str()), (1, "ok"), "{b}");
            // 00:30 in Kolkata is 19:00 UTC.
            assert_eq!(tick % 86_400, 19 * 3600, "{b}");
        }

        for shop in &settings.shops {
            let job = format!("snapshot:{}", shop.id);
            let runs = db.store.recent_runs(Some(&job), 10).await.unwrap();
            assert_eq!(runs.len(), 3, "{b} {job}");
            for run in &runs {
                assert_eq!(run.owner, "one", "{b} {job}");
                assert!(run.records >= 3, "{b} {job}: {run:?}");
                assert!(run.detail.contains(" r"), "{b} {job}: {run:?}");
            }
            // Computed alone on the latest night's day, every period comes
            // out as the pass stored it: no new revision.
            let ticks = db.store.tick_attempts(&job).await.unwrap();
            let last = Utc.timestamp_opt(ticks.last().unwrap().0, 0).unwrap();
            let day = kpid::period::local_day(last, shop.tz);
            let alone = jobs::snapshot_shop(&settings, &db.store, shop, day)
                .await
                .unwrap();
            assert!(!alone.is_empty(), "{b} {job}");
            for c in &alone {
                assert!(
                    !c.new_revision,
                    "{b} {job}: {} differs when computed alone",
                    c.period
                );
            }
            // Not an empty comparison: yesterday (and so the year) had orders.
            for c in alone
                .iter()
                .filter(|c| matches!(c.period, Period::Day(_) | Period::Year(_)))
            {
                let gmv = c.kpis.iter().find(|k| k.kpi == "gmv").unwrap();
                assert!(
                    gmv.measure
                        .value
                        .is_some_and(|v| v > rust_decimal::Decimal::ZERO),
                    "{b} {job} {}: {gmv:?}",
                    c.period
                );
            }
        }

        // Starting again runs nothing twice.
        sched.catch_up().await;
        assert_eq!(metrics.snapshot_passes.get(), 6, "{b}");
        assert_eq!(
            db.store.tick_attempts("snapshot:a").await.unwrap(),
            ticks_a,
            "{b}"
        );
        db.drop_db().await;
    }
}

/// A pass that fails fails the run of every shop it claimed, with the error.
#[tokio::test]
async fn a_failed_pass_fails_each_claimed_shops_run() {
    for db in common::backends().await {
        let b = db.backend;
        let settings = nightly_db(&db, 24).await;
        let (sched, metrics) = scheduler(&settings, &db.store, "one");
        // The snapshots cannot be written.
        match b {
            "sqlite" => sqlx::query("DROP TABLE snapshot_values")
                .execute(common::sqlite_pool(&db.store))
                .await
                .map(|_| ()),
            _ => sqlx::query("DROP TABLE snapshot_values CASCADE")
                .execute(common::pg_pool(&db.store))
                .await
                .map(|_| ()),
        }
        .unwrap();
        sched.catch_up().await;
        assert_eq!(metrics.snapshot_passes.get(), 2, "{b}: one per zone");
        for shop in &settings.shops {
            let job = format!("snapshot:{}", shop.id);
            let runs = db.store.recent_runs(Some(&job), 10).await.unwrap();
            assert_eq!(runs.len(), 1, "{b} {job}");
            assert_eq!(runs[0].status, "failed", "{b} {job}");
            let error = runs[0].error.clone().unwrap_or_default();
            assert!(error.contains("snapshot_values"), "{b} {job}: {error}");
        }
        db.drop_db().await;
    }
}

/// Two schedulers on one PostgreSQL database starting together (replicas)
/// never compute a shop's tick twice: each shop's tick is claimed once, and
/// the two passes together cover every shop once.
#[tokio::test]
async fn two_replicas_never_compute_a_shops_tick_twice() {
    for db in common::backends().await {
        if db.backend != "postgres" {
            db.drop_db().await;
            continue;
        }
        let settings = nightly_db(&db, 24).await;
        let (one, m1) = scheduler(&settings, &db.store, "replica-1");
        let (two, m2) = scheduler(&settings, &db.store, "replica-2");
        tokio::join!(one.catch_up(), two.catch_up());
        assert_eq!(
            m1.snapshot_pass_shops.get() + m2.snapshot_pass_shops.get(),
            settings.shops.len() as u64,
            "every shop computed once, by one replica or the other"
        );
        let passes = m1.snapshot_passes.get() + m2.snapshot_passes.get();
        assert!(
            (2..=4).contains(&passes),
            "at most one pass per zone and replica: {passes}"
        );
        for shop in &settings.shops {
            let job = format!("snapshot:{}", shop.id);
            let ticks = db.store.tick_attempts(&job).await.unwrap();
            assert_eq!(ticks.len(), 1, "{job}: {ticks:?}");
            assert_eq!((ticks[0].1, ticks[0].2.as_str()), (1, "ok"), "{job}");
        }
        db.drop_db().await;
    }
}
