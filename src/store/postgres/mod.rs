//! PostgreSQL on its native pool: production, several replicas sharing one
//! database.

mod commit;

use super::url::connect_error;
use super::{Result, PAID_TOTALS};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Executor, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

shared_queries!(
    db: Postgres,
    row: PgRow,
    store: PgStore,
    migrations: "./migrations/postgres"
);

// How the shared queries read `orders` by day: PostgreSQL plans the ranges
// over its (shop, local_day) index itself (SQLite names its own index, see
// sqlite/mod.rs).
const MANY_DAYS_WITH: &str = "";
const MANY_ORDERS_FROM: &str = "orders WHERE local_day >= $1 AND local_day <= $2 AND";
const SHOP_DAYS_WITH: &str = "";
const SHOP_ORDERS_FROM: &str = "orders WHERE shop = $1 AND local_day >= $2 AND local_day <= $3";

/// [`PAID_TOTALS`] of each of `shops` listed shops (`$3`…) with a paid
/// order over days `$1` to `$2`: rows of shop, orders, amount and buyers.
fn paid_totals_of(shops: usize) -> String {
    format!(
        "SELECT shop, {PAID_TOTALS} FROM {MANY_ORDERS_FROM} shop IN ({}) AND status = 'paid' \
         GROUP BY shop",
        sql::sets::placeholders(3, shops)
    )
}

/// `($1,…),($n+1,…)`: `rows` value lists of `cols` parameters for a
/// multi-row insert.
fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", sql::sets::placeholders(1 + r * cols, cols)))
        .collect::<Vec<_>>()
        .join(",")
}

/// A PostgreSQL database.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// A second pool for fact commits only, whose sessions need not wait for
    /// their WAL flush (see `open`).
    facts: PgPool,
    /// Whether fact commits still try plain inserts first (see `commit`).
    optimistic: Arc<AtomicBool>,
}

impl PgStore {
    /// Connects to the database at `url` (without the secrets the driver
    /// would log, see `without_ignored_secrets`).
    pub(super) async fn open(url: &str) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url).map_err(|e| connect_error(url, e))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|e| connect_error(url, e))?;
        // Lazy: commands that never commit facts open no connection.
        let facts = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Fact commits need not wait for their WAL flush: facts
                    // can be fetched again, and the cursor is written through
                    // the main pool by a synchronous commit, which flushes the
                    // WAL of every page committed before it. A crash loses at
                    // most pages whose cursor never moved. (SQLite in WAL mode
                    // with synchronous=NORMAL makes the same trade.)
                    conn.execute("SET synchronous_commit = off").await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(PgStore {
            pool,
            facts,
            optimistic: Arc::new(AtomicBool::new(true)),
        })
    }

    /// The pool, for tests and tools that run their own SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations once, however many processes start
    /// together: sqlx holds an advisory lock meanwhile.
    pub(super) async fn migrate(&self) -> Result<()> {
        MIGRATIONS.run(&self.pool).await?;
        Ok(())
    }

    /// Begins a transaction that will write.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    pub(super) async fn close(&self) {
        self.facts.close().await;
        self.pool.close().await;
    }
}
