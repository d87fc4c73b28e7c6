//! Storage: one implementation over sqlx's `Any` driver for SQLite (embedded
//! default, WAL) and PostgreSQL (production).
//!
//! Both backends take the same SQL: `$N` placeholders (SQLite accepts them),
//! `ON CONFLICT … DO UPDATE`, `RETURNING`, and only BIGINT and TEXT columns,
//! so there is one code path to test. Each backend keeps its own migrations.
//! The one exception is committing facts on PostgreSQL (`facts_pg`), which
//! binds columns as arrays through the native driver for bulk speed.

mod alerts;
mod facts;
mod facts_pg;
mod manual;
mod runs;
mod scorecards;
mod snapshots;

pub use alerts::{AlertRow, Decisions, OutboxDraft, OutboxRow, Silence};
pub use facts::{fold_daily, DailyAggregate, DailyRow, RecordTotals};
pub use manual::{ManualChange, ManualInput};
pub use runs::{JobRun, RunResult};
pub use scorecards::{Appeal, MonthClose, ScoreLine, StoredScorecard};
pub use snapshots::{StoredKpi, StoredSnapshot};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

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

/// The database behind kpid.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL only: a native pool for fact commits, which bind whole
    /// columns as binary arrays (the `Any` driver has no array types).
    facts_pg: Option<facts_pg::FactsPg>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub use crate::secrets::redact_url;

/// Appends a revision (a snapshot, a scorecard) unless `unchanged` finds the
/// latest one holds the same content, giving its number. Two replicas may
/// compute the same period at once: the unique key on the revision makes the
/// loser compare again with the winner's revision. Returns the revision now
/// current and whether it is new.
async fn append_revision<U, UF, I, IF>(
    what: String,
    mut unchanged: U,
    mut insert: I,
) -> Result<(i64, bool)>
where
    U: FnMut() -> UF,
    UF: std::future::Future<Output = Result<Option<i64>>>,
    I: FnMut() -> IF,
    IF: std::future::Future<Output = Result<i64>>,
{
    for _ in 0..3 {
        if let Some(revision) = unchanged().await? {
            return Ok((revision, false));
        }
        match insert().await {
            Ok(revision) => return Ok((revision, true)),
            Err(StoreError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Corrupt(format!(
        "could not write {what}: concurrent writers kept winning"
    )))
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
            let (path, _) = sqlite_parts(url);
            if path != ":memory:" && !std::path::Path::new(path).is_file() {
                return Ok(None);
            }
        }
        Store::open(url, false).await.map(Some)
    }

    async fn open(url: &str, create: bool) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| StoreError::BadUrl(redact_url(url)))?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url, create)?,
            Backend::Postgres => without_ignored_secrets(url),
        };
        let connect_err = |source: sqlx::Error| match tls_failure(&source) {
            Some(reason) => StoreError::Tls {
                url: redact_url(&url),
                reason,
                source,
            },
            None => StoreError::Connect {
                url: redact_url(&url),
                source,
            },
        };
        let options = AnyConnectOptions::from_str(&url).map_err(connect_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers (report, HTTP) run beside the writer;
                        // NORMAL sync is durable across process crashes in WAL.
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA cache_size = -16384").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        let facts_pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(&url).map_err(connect_err)?;
                // Lazy: commands that never commit facts open no connection.
                Some(facts_pg::FactsPg::new(
                    PgPoolOptions::new()
                        .max_connections(8)
                        .acquire_timeout(Duration::from_secs(10))
                        .after_connect(|conn, _| {
                            Box::pin(async move {
                                // Fact commits need not wait for their WAL flush:
                                // facts can be fetched again, and the cursor is
                                // written through the main pool by a synchronous
                                // commit, which flushes the WAL of every page
                                // committed before it. A crash loses at most pages
                                // whose cursor never moved. (SQLite in WAL mode with
                                // synchronous=NORMAL makes the same trade.)
                                conn.execute("SET synchronous_commit = off").await?;
                                Ok(())
                            })
                        })
                        .connect_lazy_with(options),
                ))
            }
        };
        Ok(Store {
            pool,
            backend,
            facts_pg,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations once, however many processes start
    /// together. On PostgreSQL sqlx holds an advisory lock meanwhile. On
    /// SQLite it takes no lock, so two first starts would both create the
    /// tables: we hold the write lock around the run (each migration's own
    /// transaction nests as a savepoint), and a second start waits on the
    /// busy timeout, then finds them applied.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => self.migrate_sqlite().await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    async fn migrate_sqlite(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // `run_direct` is what `run` calls once it has a connection; `run`
        // itself on a borrowed connection makes the future fail to be `Send`
        // ("implementation of `Acquire` is not general enough").
        SQLITE_MIGRATIONS.run_direct(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`) and so waits on the busy timeout
    /// behind another writer (an ingest); a deferred transaction that reads
    /// before it writes would instead fail at once with "database is locked".
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Cheap liveness probe for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(pg) = &self.facts_pg {
            pg.pool.close().await;
        }
        self.pool.close().await;
    }
}

/// Query parameters the PostgreSQL driver reads; it ignores any other,
/// logging its value at WARN.
const POSTGRES_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The URL without secret-looking query parameters the driver would ignore
/// anyway: it would log them, value and all.
fn without_ignored_secrets(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or(pair);
            POSTGRES_PARAMETERS.contains(&key) || !crate::secrets::looks_secret(key)
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// What went wrong when a TLS connection failed, with what to check: sqlx
/// reports a refused certificate only as "error communicating with database".
fn tls_failure(e: &sqlx::Error) -> Option<String> {
    use rustls::CertificateError as Cert;
    let tls = match e {
        sqlx::Error::Tls(other) => match other.downcast_ref::<rustls::Error>() {
            Some(tls) => tls,
            None => return Some(other.to_string()),
        },
        sqlx::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let what = match tls {
        rustls::Error::InvalidCertificate(Cert::UnknownIssuer | Cert::BadSignature) => {
            "the server's certificate is not signed by the CA in `sslrootcert` (without one, by a public CA)"
        }
        rustls::Error::InvalidCertificate(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => {
            "the server's certificate does not name the URL's host (`verify-full` checks it)"
        }
        rustls::Error::InvalidCertificate(_) => "the server's certificate was refused",
        _ => "the TLS handshake failed",
    };
    Some(format!("{what}: {tls}"))
}

/// The file of an SQLite URL (`sqlite://PATH` or `sqlite:PATH`) and its query.
fn sqlite_parts(url: &str) -> (&str, Option<&str>) {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    }
}

/// The URL sqlx opens: with `create`, the file and its directory are made
/// when missing (`mode=rwc` unless the URL sets a mode); without, the file
/// must exist (`mode=rw`, or the URL's `mode=ro`).
fn prepare_sqlite_url(url: &str, create: bool) -> Result<String> {
    let (path, query) = sqlite_parts(url);
    if create && path != ":memory:" {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
    }
    let mut params: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .collect();
    if !create {
        params.retain(|p| *p != "mode=rwc");
    }
    if !params.iter().any(|p| p.starts_with("mode=")) {
        params.push(if create { "mode=rwc" } else { "mode=rw" });
    }
    Ok(format!("sqlite://{path}?{}", params.join("&")))
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/kpid.db");
        let url = format!("sqlite://{}", db.display());
        let existing = prepare_sqlite_url(&format!("{url}?mode=rwc"), false).unwrap();
        assert_eq!(existing, format!("sqlite://{}?mode=rw", db.display()));
        assert!(!dir.path().join("sub").exists());
        let read_only = prepare_sqlite_url(&format!("{url}?mode=ro"), false).unwrap();
        assert!(read_only.ends_with("?mode=ro"), "{read_only}");
        let created = prepare_sqlite_url(&format!("sqlite:{}", db.display()), true).unwrap();
        assert_eq!(created, format!("sqlite://{}?mode=rwc", db.display()));
        assert!(dir.path().join("sub").is_dir());
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://kpid:s3cret@db:5432/kpid"),
            "postgres://kpid:***@db:5432/kpid"
        );
        assert_eq!(
            redact_url("postgres://kpid@db/kpid"),
            "postgres://kpid@db/kpid"
        );
        assert_eq!(redact_url("sqlite://data/kpid.db"), "sqlite://data/kpid.db");
    }

    #[test]
    fn secret_parameters_the_driver_ignores_are_not_passed_to_it() {
        assert_eq!(
            without_ignored_secrets("postgres://db/k?password=p&auth_token=t&sslmode=disable"),
            "postgres://db/k?password=p&sslmode=disable"
        );
        assert_eq!(
            without_ignored_secrets("postgres://db/k?api_secret=s"),
            "postgres://db/k"
        );
    }

    #[test]
    fn redacts_secret_query_parameters() {
        assert_eq!(
            redact_url("postgres://db/kpid?user=kpid&password=s3cret&sslmode=require"),
            "postgres://db/kpid?user=kpid&password=***&sslmode=require"
        );
        // An `@` in the query is not the end of the credentials.
        assert_eq!(
            redact_url("postgres://u:pw@db/kpid?PASSWORD=a@b&api_token=t"),
            "postgres://u:***@db/kpid?PASSWORD=***&api_token=***"
        );
        assert_eq!(
            redact_url("sqlite://data/kpid.db?mode=rwc"),
            "sqlite://data/kpid.db?mode=rwc"
        );
    }
}
