//! Storage commands beside a running writer (an ingest, another replica):
//! write transactions wait their turn instead of failing with "database is
//! locked", and first starts on a new SQLite file migrate once.
mod common;
mod helpers;

use helpers::*;
use kpid::measure::Measure;
use kpid::store::{Store, StoredKpi};
use std::time::{Duration, Instant};

fn kpis(gmv: &str) -> Vec<StoredKpi> {
    vec![StoredKpi {
        kpi: "gmv".into(),
        measure: Measure {
            value: Some(d(gmv)),
            ..Measure::default()
        },
        score: None,
    }]
}

/// Begins a transaction on `$pool` that writes, as an ingest does, and
/// commits it after `$held`, then closes `$store`: the task to await.
macro_rules! hold_write {
    ($pool:expr, $held:expr, $store:expr) => {{
        let mut writing = $pool.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO job_runs (job, tick, owner, status, lease_until, started_at) \
             VALUES ('csv', 1, 'other', 'running', 0, 0)",
        )
        .execute(&mut *writing)
        .await
        .unwrap();
        let store = $store.clone();
        let held = $held;
        tokio::spawn(async move {
            tokio::time::sleep(held).await;
            writing.commit().await.unwrap();
            store.close().await;
        })
    }};
}

#[tokio::test]
async fn a_snapshot_revision_waits_for_a_running_writer() {
    for db in common::backends().await {
        let b = db.backend;
        // Revision 1 exists, so the next revision reads before it writes.
        db.store
            .write_snapshot("sh", period("2026-10"), &kpis("100"))
            .await
            .unwrap();
        // Another process (an ingest) holds the write lock for a while.
        let ingest = Store::connect(&db.url).await.unwrap();
        let held = Duration::from_millis(700);
        let release = match &ingest {
            Store::Sqlite(s) => hold_write!(s.pool().clone(), held, ingest),
            Store::Postgres(p) => hold_write!(p.pool().clone(), held, ingest),
        };
        let started = Instant::now();
        let written = db
            .store
            .write_snapshot("sh", period("2026-10"), &kpis("150"))
            .await;
        release.await.unwrap();
        let (revision, new) = written.unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!((revision, new), (2, true), "{b}");
        if b == "sqlite" {
            // It waited on the busy timeout for the writer to finish.
            assert!(
                started.elapsed() >= held / 2,
                "{b}: {:?}",
                started.elapsed()
            );
        }
        let latest = db
            .store
            .snapshot("sh", period("2026-10"), None)
            .await
            .unwrap();
        assert_eq!(latest.unwrap().kpis[0].measure.value, Some(d("150")), "{b}");
        db.drop_db().await;
    }
}

/// Writers on their own connections (replicas) appending revisions of one
/// shop's snapshot at the same moment each get a number of their own: the
/// latest number is read in the writing transaction, and a writer beaten to
/// it compares again.
#[tokio::test]
async fn writers_at_once_number_their_revisions_apart() {
    for db in common::backends().await {
        let b = db.backend;
        let mut writers = Vec::new();
        for gmv in ["100", "200", "300"] {
            let store = Store::connect(&db.url).await.unwrap();
            writers.push(tokio::spawn(async move {
                let written = store
                    .write_snapshot("sh", period("2026-10"), &kpis(gmv))
                    .await;
                store.close().await;
                (gmv, written)
            }));
        }
        let mut revisions = Vec::new();
        for w in writers {
            let (gmv, written) = w.await.unwrap();
            let (revision, new) = written.unwrap_or_else(|e| panic!("{b}: {gmv}: {e}"));
            assert!(new, "{b}: {gmv}");
            let stored = db
                .store
                .snapshot("sh", period("2026-10"), Some(revision))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{b}: revision {revision}"));
            assert_eq!(stored.kpis[0].measure.value, Some(d(gmv)), "{b}");
            revisions.push(revision);
        }
        revisions.sort();
        assert_eq!(revisions, [1, 2, 3], "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn first_starts_on_a_new_sqlite_file_migrate_once() {
    // Several rounds: the race is a matter of timing.
    for round in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/new/kpid.db", dir.path().display());
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move {
                    let store = Store::connect(&url).await?;
                    let migrated = store.migrate().await;
                    store.close().await;
                    migrated
                })
            })
            .collect();
        for start in starts {
            if let Err(e) = start.await.unwrap() {
                panic!("round {round}: a first start failed: {e}");
            }
        }
        let store = Store::connect(&url).await.unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(common::sqlite_pool(&store))
            .await
            .unwrap();
        let migrations =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
                .unwrap()
                .count() as i64;
        assert_eq!(
            applied, migrations,
            "round {round}: each migration recorded once"
        );
        store.close().await;
    }
}
