//! Shared test harness: every storage test runs on a fresh SQLite file and,
//! when `KPID_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database.
#![allow(dead_code)]

pub mod facts;
pub mod ga4;
pub mod logs;

use kpid::setup::{self, Setup};
use kpid::store::Store;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// One field of an `application/x-www-form-urlencoded` request body, as a
/// token endpoint reads it.
pub fn form_field(body: &[u8], key: &str) -> Option<String> {
    // A form body is a query string: reqwest's `Url` decodes it.
    let form =
        reqwest::Url::parse(&format!("http://form/?{}", String::from_utf8_lossy(body))).ok()?;
    form.query_pairs()
        .find(|(n, _)| n == key)
        .map(|(_, v)| v.into_owned())
}

/// The pool of an SQLite store, for a test's own SQL.
pub fn sqlite_pool(store: &Store) -> &sqlx::SqlitePool {
    match store {
        Store::Sqlite(db) => db.pool(),
        Store::Postgres(_) => panic!("an SQLite store was expected"),
    }
}

/// The pool of a PostgreSQL store, for a test's own SQL.
pub fn pg_pool(store: &Store) -> &sqlx::PgPool {
    match store {
        Store::Postgres(db) => db.pool(),
        Store::Sqlite(_) => panic!("a PostgreSQL store was expected"),
    }
}

/// Runs a test's own query on whichever database `$store` opened and maps
/// each row with `|$row| $map`, which is compiled for each database's row
/// type (`use sqlx::Row` where it is called).
#[macro_export]
macro_rules! fetch_rows {
    ($store:expr, $sql:expr, [$($bind:expr),*], |$row:ident| $map:expr) => {
        match &$store {
            kpid::store::Store::Sqlite(db) => sqlx::query($sql)
                $(.bind($bind))*
                .fetch_all(db.pool())
                .await
                .unwrap()
                .iter()
                .map(|$row| $map)
                .collect::<Vec<_>>(),
            kpid::store::Store::Postgres(db) => sqlx::query($sql)
                $(.bind($bind))*
                .fetch_all(db.pool())
                .await
                .unwrap()
                .iter()
                .map(|$row| $map)
                .collect::<Vec<_>>(),
        }
    };
}

/// A database for one test, dropped (PostgreSQL) or deleted (SQLite) after.
pub struct TestDb {
    pub backend: &'static str,
    pub url: String,
    pub store: Store,
    pub dir: tempfile::TempDir,
    admin: Option<(String, String)>,
}

impl TestDb {
    /// Writes `toml` (with `{db}` replaced by this database's URL and `{dir}`
    /// by the temp directory) to a file and loads it as a real config.
    pub fn settings(&self, toml: &str) -> Setup {
        let text = toml
            .replace("{db}", &self.url)
            .replace("{dir}", &self.dir.path().display().to_string());
        let path = self.dir.path().join("kpid.toml");
        std::fs::write(&path, text).unwrap();
        setup::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    pub async fn drop_db(mut self) {
        self.store.close().await;
        if let Some((admin_url, name)) = self.admin.take() {
            drop_database(&admin_url, &name).await;
        }
    }
}

impl Drop for TestDb {
    /// A test that ends without [`TestDb::drop_db`] (a failed assertion, an
    /// early return, a test that never calls it) still drops its PostgreSQL
    /// database: one run of the suite used to leave about thirty behind on
    /// the server. On a thread of its own, as a test's runtime may be the
    /// one dropping this.
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.admin.take() {
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime to drop a test database")
                    .block_on(drop_database(&admin_url, &name))
            })
            .join();
        }
    }
}

/// Drops the test database `name` through the server at `admin_url`, best
/// effort: `WITH (FORCE)` ends the sessions still open on it.
async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(admin) = Store::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(pg_pool(&admin))
            .await;
        admin.close().await;
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/kpid.db", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    TestDb {
        backend: "sqlite",
        url,
        store,
        dir,
        admin: None,
    }
}

/// The PostgreSQL server for tests, or `None` with a printed notice.
pub fn postgres_url() -> Option<String> {
    match std::env::var("KPID_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("NOTICE: KPID_TEST_POSTGRES_URL is not set; the PostgreSQL half of this test is skipped");
            None
        }
    }
}

async fn postgres(admin_url: &str) -> TestDb {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!(
        "kpid_test_{}_{}_{}",
        std::process::id(),
        n,
        chrono::Utc::now().timestamp_micros() % 1_000_000
    );
    let admin = Store::connect(admin_url).await.unwrap_or_else(|e| {
        panic!("KPID_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}")
    });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pg_pool(&admin))
        .await
        .unwrap();
    admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("postgres url has a database");
    let url = format!("{base}/{name}");
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    TestDb {
        backend: "postgres",
        url,
        store,
        dir: tempfile::tempdir().unwrap(),
        admin: Some((admin_url.to_string(), name)),
    }
}

/// Fresh databases of every available backend.
pub async fn backends() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    if let Some(url) = postgres_url() {
        out.push(postgres(&url).await);
    }
    out
}
