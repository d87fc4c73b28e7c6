//! Storage: one implementation over sqlx's `Any` driver for SQLite (embedded
//! default, WAL) and PostgreSQL (production).
//!
//! Both backends take the same SQL: `$N` placeholders (SQLite accepts them),
//! `ON CONFLICT … DO UPDATE`, `RETURNING`, and only BIGINT and TEXT columns,
//! so there is one code path to test. Each backend keeps its own migrations.
//! The one exception is committing facts on PostgreSQL (`facts_pg`), which
//! binds columns as arrays through the native driver for bulk speed.

mod facts;
mod facts_pg;
mod manual;
mod runs;
mod scorecards;
mod snapshots;

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

/// Hides the credentials of a database URL for logs, errors and `kpid
/// check`: the password of `user:password@`, and the value of every query
/// parameter whose name looks secret (`password`, `*token*`, `*secret*`, …;
/// see [`is_secret_key`](crate::config::is_secret_key)). The rest stays as
/// written so the URL can still be recognised.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.find("://") {
        Some(s) => {
            let rest = &base[s + 3..];
            let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
            match authority.rsplit_once('@') {
                Some((creds, host)) => {
                    let user = creds.split_once(':').map(|(u, _)| format!("{u}:***"));
                    format!(
                        "{}{}@{}{}",
                        &base[..s + 3],
                        user.as_deref().unwrap_or(creds),
                        host,
                        &rest[authority.len()..]
                    )
                }
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if crate::config::is_secret_key(k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

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
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| StoreError::BadUrl(redact_url(url)))?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => without_ignored_secrets(url),
        };
        let connect_err = |source| StoreError::Connect {
            url: redact_url(&url),
            source,
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

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock
    /// meanwhile, so replicas starting together migrate once.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
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
            POSTGRES_PARAMETERS.contains(&key) || !crate::config::is_secret_key(key)
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path != ":memory:" {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
    }
    Ok(match query {
        Some(q) if q.contains("mode=") => format!("sqlite://{path}?{q}"),
        Some(q) => format!("sqlite://{path}?{q}&mode=rwc"),
        None => format!("sqlite://{path}?mode=rwc"),
    })
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

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
