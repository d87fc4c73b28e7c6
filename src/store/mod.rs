//! Storage: one implementation per database on its native sqlx pool —
//! [`SqliteStore`] (embedded default, WAL) and [`PgStore`] (production) —
//! behind traits named for what callers need ([`FactsWriter`],
//! [`SnapshotStore`], [`JobClaims`], …). [`Store`] is the handle the rest of
//! kpid holds: the URL picks the database once, at start.
//!
//! Both databases take the same SQL (`$N` placeholders, `ON CONFLICT … DO
//! UPDATE`, `RETURNING`, only BIGINT and TEXT columns), so the queries are
//! written once, in `sql/`, and compiled for each database's own types; each
//! keeps its own migrations, connection setup and bulk fact upsert. The
//! commit of a batch of facts around that upsert is written once (`commit`).

/// What a database module gives the queries both databases share (`sql/`,
/// which imports them from its parent): the names they use for its sqlx
/// types and its store, its migrations, and the `sql` module itself,
/// compiled for those types. Written once so the two databases cannot
/// differ in what they give.
macro_rules! shared_queries {
    (db: $db:ty, row: $row:ty, store: $store:ty, migrations: $dir:literal) => {
        type Db = $db;
        type DbRow = $row;
        type DbStore = $store;

        static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!($dir);

        #[path = "../sql/mod.rs"]
        mod sql;
    };
}

mod alerts;
mod api;
mod commit;
mod facts;
mod import;
mod manual;
// Each database compiles the shared queries in `sql/` for its own types:
// loading those files twice is the point.
#[allow(clippy::duplicate_mod)]
mod postgres;
mod revision;
mod runs;
mod scorecards;
mod snapshots;
#[allow(clippy::duplicate_mod)]
mod sqlite;
mod url;
mod values;

pub use crate::secrets::redact_url;
pub use alerts::{AlertRow, Decisions, Delivery, OutboxDraft, OutboxRow, Silence};
pub use api::{
    AlertDecisions, AlertState, FactsReader, FactsWriter, JobClaims, ManualInputs, ScorecardStore,
    SnapshotStore,
};
use facts::PAID_TOTALS;
pub use facts::{fold_daily, DailyAggregate, DailyRow, RecordTotals};
pub use import::ImportCommits;
pub use manual::{ManualChange, ManualInput, TargetRow};
pub use postgres::PgStore;
pub use runs::{JobRun, RunResult, TickClaim};
pub use scorecards::{Appeal, MonthClose, ScoreLine, StoredScorecard};
pub use snapshots::{StoredKpi, StoredSnapshot};
pub use sqlite::SqliteStore;
pub use url::Backend;

use crate::ids::ShopId;
use std::collections::HashSet;

/// Storage errors, each naming what to check.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage url must start with sqlite:// or postgres:// (got `{0}`)")]
    BadUrl(String),
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot open the database at {url} over TLS: {reason}")]
    Tls {
        url: String,
        reason: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("a commit was cancelled: the runtime is shutting down")]
    Cancelled,
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot create the database directory {path}: {source}")]
    Dir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database behind kpid, chosen by the URL when it is opened. Cheap to
/// clone (each database's pool is shared). An enum rather than `Arc<dyn …>`:
/// the storage traits have async and generic methods, which trait objects
/// cannot carry without boxing every call, and there are exactly two
/// databases.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl Store {
    /// Opens (creating an SQLite file and its directory when needed).
    pub async fn connect(url: &str) -> Result<Store> {
        Store::open(url, true).await
    }

    /// Opens an existing database and never creates one: `None` when the
    /// SQLite file is not there (`kpid check` reads a database it finds).
    pub async fn open_existing(url: &str) -> Result<Option<Store>> {
        if Backend::of_url(url) == Some(Backend::Sqlite) {
            let (path, _) = url::sqlite_parts(url);
            if path != ":memory:" && !std::path::Path::new(path).is_file() {
                return Ok(None);
            }
        }
        Store::open(url, false).await.map(Some)
    }

    async fn open(url: &str, create: bool) -> Result<Store> {
        let backend = Backend::of_url(url).ok_or_else(|| StoreError::BadUrl(redact_url(url)))?;
        Ok(match backend {
            Backend::Sqlite => {
                let url = url::prepare_sqlite_url(url, create)?;
                Store::Sqlite(SqliteStore::open(&url).await?)
            }
            Backend::Postgres => {
                let url = url::without_ignored_secrets(url);
                Store::Postgres(PgStore::open(&url).await?)
            }
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations once, however many processes start
    /// together (see each database's `migrate`).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(db) => db.migrate().await,
            Store::Postgres(db) => db.migrate().await,
        }
    }

    /// True when every embedded migration has been applied.
    pub async fn migrations_applied(&self) -> Result<bool> {
        match self {
            Store::Sqlite(db) => db.migrations_applied().await,
            Store::Postgres(db) => db.migrations_applied().await,
        }
    }

    /// Cheap liveness probe for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        match self {
            Store::Sqlite(db) => db.ping().await,
            Store::Postgres(db) => db.ping().await,
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(db) => db.close().await,
            Store::Postgres(db) => db.close().await,
        }
    }
}

/// `known` and those of the other `shops` that `lookup` finds: the
/// database is asked only about the shops not known already, and not at all
/// when every shop is (a cheaper test, or a first query, settles most).
pub async fn known_or_found<F, Fut>(
    mut known: HashSet<ShopId>,
    shops: &[ShopId],
    lookup: F,
) -> Result<HashSet<ShopId>>
where
    F: FnOnce(Vec<ShopId>) -> Fut,
    Fut: std::future::Future<Output = Result<HashSet<ShopId>>>,
{
    let rest: Vec<ShopId> = shops
        .iter()
        .filter(|s| !known.contains(*s))
        .cloned()
        .collect();
    if !rest.is_empty() {
        known.extend(lookup(rest).await?);
    }
    Ok(known)
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
