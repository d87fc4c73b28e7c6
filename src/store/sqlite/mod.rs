//! SQLite on its native pool: the embedded default, in WAL mode.

mod commit;

pub(in crate::store) use commit::SqliteTx;

// The queries both databases share, compiled for this database's own types.
#[path = "../sql/mod.rs"]
mod sql;

use super::url::connect_error;
use super::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{Executor, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The names the shared queries use for this database's types.
type Db = Sqlite;
type DbRow = SqliteRow;
type DbStore = SqliteStore;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// An SQLite database file.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes facts (`begin_write`). SQLite has one
    /// writer at a time anyway; with the writes on one connection only its
    /// page cache holds the pages an import keeps touching, instead of each
    /// pooled connection filling its own cache in turn (issue 16: peak
    /// memory grew with the file as commits rotated over the pool).
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens the database at `url` (already in the form sqlx opens, see
    /// `prepare_sqlite_url`).
    pub(super) async fn open(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| connect_error(url, e))?;
        let pool_of = |connections: u32| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // WAL lets readers (report, HTTP) run beside the writer;
                        // NORMAL sync is durable across process crashes in WAL.
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA cache_size = -16384").await?;
                        // A file import's commit can write thousands of pages
                        // to the log (one or more per shop and index); at the
                        // default 1000 pages every commit would also checkpoint
                        // them. A checkpoint every ~40 MB of log writes each
                        // hot page once for several commits (issue 16).
                        conn.execute("PRAGMA wal_autocheckpoint = 10000").await?;
                        Ok(())
                    })
                })
        };
        let writer = pool_of(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| connect_error(url, e))?;
        let pool = pool_of(4)
            .connect_with(options)
            .await
            .map_err(|e| connect_error(url, e))?;
        Ok(SqliteStore { pool, writer })
    }

    /// The pool, for tests and tools that run their own SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Applies pending migrations once, however many processes start
    /// together. sqlx takes no lock on SQLite, so two first starts would
    /// both create the tables: we hold the write lock around the run (each
    /// migration's own transaction nests as a savepoint), and a second start
    /// waits on the busy timeout, then finds them applied.
    pub(super) async fn migrate(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // `run_direct` is what `run` calls once it has a connection; `run`
        // itself on a borrowed connection makes the future fail to be `Send`
        // ("implementation of `Acquire` is not general enough").
        MIGRATIONS.run_direct(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Begins a transaction that will write. It takes the write lock at once
    /// (`BEGIN IMMEDIATE`) and so waits on the busy timeout behind another
    /// writer (an ingest); a deferred transaction that reads before it
    /// writes would instead fail at once with "database is locked".
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(super) async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}
