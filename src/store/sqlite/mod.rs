//! SQLite on its native pool: the embedded default, in WAL mode.

mod commit;

pub(in crate::store) use commit::SqliteTx;

use super::url::connect_error;
use super::{Result, PAID_TOTALS};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{Executor, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

shared_queries!(
    db: Sqlite,
    row: SqliteRow,
    store: SqliteStore,
    migrations: "./migrations/sqlite"
);

// How the shared queries read `orders` by day. The index is (local_day, shop)
// (migration 0014: an import's time-ordered rows go to the end of one day,
// not to the end of every shop's range). Without statistics SQLite would
// rather read a shop's every order through the primary key (shop, order_id)
// than range over the days, so the reads name the index.

/// Opens a query over many shops' orders of a day range (days `$1` to `$2`
/// as text, the shops listed after): the days of the range on which any
/// shop has an order, one row each (each found by one seek of the index
/// for the next day after the last, the last row NULL), so that
/// [`MANY_ORDERS_FROM`] seeks (day, shop) for each such day and listed
/// shop. A scan of the range checked each of its rows against the list of
/// shops instead, a b-tree search a row: a third of a month's snapshots
/// for 1,000 shops at 1M orders (callgrind); the seeks take a fifth fewer
/// instructions for the whole query. Every day of the range instead of
/// those with orders made a year's seeks 12 times a month's, for nothing:
/// a nightly tick of 1,000 shops (a day, a month and a year) spent 0.5 s in
/// them against 0.2 s.
const MANY_DAYS_WITH: &str = "WITH RECURSIVE days(day) AS (\
     SELECT MIN(local_day) FROM orders INDEXED BY orders_day_shop \
     WHERE local_day >= $1 AND local_day <= $2 \
     UNION ALL SELECT (SELECT MIN(local_day) FROM orders INDEXED BY orders_day_shop \
     WHERE local_day > days.day AND local_day <= $2) FROM days WHERE days.day IS NOT NULL) ";

/// The `FROM … WHERE` of a query over many shops' orders of a day range,
/// after [`MANY_DAYS_WITH`]; the condition on `shop` follows.
const MANY_ORDERS_FROM: &str =
    "days JOIN orders INDEXED BY orders_day_shop ON orders.local_day = days.day WHERE";

/// [`PAID_TOTALS`] of each of `shops` listed shops (`$3`…) with a paid
/// order over days `$1` to `$2`: rows of shop, orders, amount and buyers.
///
/// A shop at a time: for each listed shop, a subquery seeks (day, shop) for
/// each day of [`MANY_DAYS_WITH`], so its rows are counted apart from the
/// others'.
/// One `GROUP BY shop` over the range instead had SQLite sort the month's
/// rows by shop, with the distinct buyers of each: 0.57 s of CPU against
/// 0.35 s (sqlite3, 1,000 shops, 1M orders). SQLite's subqueries give one
/// value, so the subquery gives its totals as a JSON array, materialized
/// once and read back as columns.
fn paid_totals_of(shops: usize) -> String {
    format!(
        "{MANY_DAYS_WITH}, per_shop(shop, totals) AS MATERIALIZED (\
         SELECT s.column1, (SELECT json_array({PAID_TOTALS}) FROM {MANY_ORDERS_FROM} \
         shop = s.column1 AND status = 'paid') FROM {} AS s) \
         SELECT shop, totals ->> 0, totals ->> 1, totals ->> 2 FROM per_shop WHERE totals ->> 0 > 0",
        sql::sets::values_table(3, shops)
    )
}

/// `(?,…),(?,…)`: `rows` value lists of `cols` parameters for a multi-row
/// insert. Anonymous `?`, bound by position: sqlx binds a numbered `$N` by
/// its name, and SQLite finds a parameter's name by a scan of the
/// statement's names, so a statement of n parameters cost n² (43 % of a
/// 100k-order ingest; 26 % of a nightly tick's instructions, in its
/// snapshot lines).
fn value_rows(rows: usize, cols: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(","));
    vec![row; rows].join(",")
}

/// Opens a query over one shop's orders of a day range (`shop = $1`, days
/// `$2` to `$3` as text): the days of the range, one row each, so that
/// [`SHOP_ORDERS_FROM`] seeks (day, shop) once a day instead of scanning
/// every shop's orders of the range.
const SHOP_DAYS_WITH: &str = "WITH RECURSIVE days(day) AS (SELECT $2 WHERE $2 <= $3 \
     UNION ALL SELECT date(day, '+1 day') FROM days WHERE day < $3) ";

/// The `FROM … WHERE …` of a query over one shop's orders of a day range,
/// after [`SHOP_DAYS_WITH`]; further conditions follow with `AND`.
const SHOP_ORDERS_FROM: &str =
    "days JOIN orders INDEXED BY orders_day_shop ON orders.local_day = days.day \
     WHERE orders.shop = $1";

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

    /// Copies the write-ahead log into the database file and empties it,
    /// then closes the pools. SQLite would checkpoint on its own only when
    /// the last connection closes, and a pool's connections closing side by
    /// side can each see another still open: the log then stayed behind
    /// (about one run in fifteen) for the next command to replay. Best
    /// effort and without waiting: while another process (the daemon) reads
    /// or writes, the checkpoint gives up at once instead of holding this
    /// command's exit on the busy timeout.
    pub(super) async fn close(&self) {
        // The daemon closes its store at shutdown and the command line
        // closes it again on the way out: the second time has nothing to do.
        if self.writer.is_closed() {
            return;
        }
        if let Err(e) = self.checkpoint_now().await {
            tracing::debug!(error = %e, "no checkpoint before closing");
        }
        self.pool.close().await;
        self.writer.close().await;
    }

    async fn checkpoint_now(&self) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        // The connection closes next: its busy timeout need not come back.
        (&mut *conn).execute("PRAGMA busy_timeout = 0").await?;
        (&mut *conn)
            .execute("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use sqlx::Row;

    /// The plan SQLite makes for `sql` with `binds` in order, one line a step.
    async fn plan(pool: &SqlitePool, sql: &str, binds: &[&str]) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query(&explain);
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(pool).await.unwrap();
        let steps: Vec<String> = rows.iter().map(|r| r.get(3)).collect();
        steps.join("\n")
    }

    /// A new SQLite file in `dir`, migrated.
    async fn migrated(dir: &tempfile::TempDir) -> SqliteStore {
        let url = format!("sqlite://{}", dir.path().join("kpid.db").display());
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let Store::Sqlite(db) = store else {
            unreachable!()
        };
        db
    }

    #[tokio::test]
    async fn many_shops_are_read_on_the_days_with_orders_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = migrated(&dir).await;
        // Two shops' orders on three days, one unpaid order without a day.
        for (shop, id, day) in [
            ("a", "o1", Some("2026-11-03")),
            ("b", "o2", Some("2026-11-03")),
            ("a", "o3", Some("2026-11-20")),
            ("b", "o4", Some("2026-12-01")),
            ("a", "o5", None),
        ] {
            sqlx::query(
                "INSERT INTO orders (shop, order_id, local_day, amount_micros, status, connector) \
                 VALUES ($1, $2, $3, 0, 'paid', 'c')",
            )
            .bind(shop)
            .bind(id)
            .bind(day)
            .execute(db.pool())
            .await
            .unwrap();
        }
        let days = format!("{MANY_DAYS_WITH}SELECT day FROM days WHERE day IS NOT NULL");
        for (from, to, want) in [
            (
                "2026-11-01",
                "2026-11-30",
                &["2026-11-03", "2026-11-20"][..],
            ),
            (
                "2026-11-03",
                "2026-12-01",
                &["2026-11-03", "2026-11-20", "2026-12-01"],
            ),
            ("2026-11-04", "2026-11-19", &[]),
            ("2026-11-20", "2026-11-20", &["2026-11-20"]),
            ("2026-11-30", "2026-11-01", &[]),
        ] {
            let got: Vec<String> = sqlx::query_scalar(&days)
                .bind(from)
                .bind(to)
                .fetch_all(db.pool())
                .await
                .unwrap();
            assert_eq!(got, want, "{from}..{to}");
        }
        db.close().await;
    }

    #[tokio::test]
    async fn reads_of_orders_by_day_use_the_day_shop_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = migrated(&dir).await;
        // One shop: a seek of (day, shop) for each day of the range.
        let one = format!(
            "{SHOP_DAYS_WITH}SELECT COUNT(*), SUM(amount_micros) FROM {SHOP_ORDERS_FROM} \
             AND status = 'paid'"
        );
        let p = plan(db.pool(), &one, &["s1", "2026-11-01", "2026-11-30"]).await;
        assert!(
            p.contains("USING INDEX orders_day_shop (local_day=? AND shop=?)"),
            "{p}"
        );
        // Many shops: a seek of (day, shop) for each day and shop.
        let many = format!(
            "{MANY_DAYS_WITH}SELECT shop, COUNT(*) FROM {MANY_ORDERS_FROM} shop IN ($3, $4) \
             GROUP BY shop"
        );
        let p = plan(db.pool(), &many, &["2026-11-01", "2026-11-30", "s1", "s2"]).await;
        assert!(
            p.contains("INDEX orders_day_shop (local_day=? AND shop=?)"),
            "{p}"
        );
        // Paid totals of many shops: a shop at a time, each seeking (day,
        // shop) for each day, so no sort of the range's rows by shop.
        let p = plan(
            db.pool(),
            &paid_totals_of(2),
            &["2026-11-01", "2026-11-30", "s1", "s2"],
        )
        .await;
        assert!(
            p.contains("INDEX orders_day_shop (local_day=? AND shop=?)"),
            "{p}"
        );
        assert!(!p.contains("GROUP BY"), "{p}");
        // The days of a range, the month's end and a leap day included; none
        // when it is empty.
        let days = format!("{SHOP_DAYS_WITH}SELECT COUNT(*), MIN(day), MAX(day) FROM days");
        for (from, to, n) in [
            ("2024-02-27", "2024-03-01", 4),
            ("2026-11-30", "2026-12-01", 2),
            ("2026-11-05", "2026-11-05", 1),
            ("2026-11-06", "2026-11-05", 0),
        ] {
            let row = sqlx::query(&days)
                .bind("unused")
                .bind(from)
                .bind(to)
                .fetch_one(db.pool())
                .await
                .unwrap();
            assert_eq!(row.get::<i64, _>(0), n, "{from}..{to}");
            if n > 0 {
                assert_eq!(row.get::<String, _>(1), from);
                assert_eq!(row.get::<String, _>(2), to);
            }
        }
        db.close().await;
    }
}
