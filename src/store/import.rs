//! The commits of one long import (a file's batches): on SQLite several
//! batches share a transaction, on PostgreSQL each batch commits alone.

use super::commit::write_batch;
use super::sqlite::SqliteTx;
use super::{Result, Store};
use crate::facts::Batch;
use std::time::{Duration, Instant};

/// Rows (records and rejects) written to SQLite in one transaction of an
/// import. A file whose rows interleave many shops touches about one index
/// leaf per shop and index in every commit, however few rows it brings
/// each, and a commit writes every page it touched to the log: at 10,000
/// rows over 1,000 shops a 1M-row file wrote 2.3 GB (WAL and checkpoints)
/// for 120 MB of database (issue 16). Ten batches to a transaction write
/// each hot leaf once for ten times the rows. The batches themselves still
/// go one at a time (memory stays that of a batch); the pages wait in
/// SQLite's page cache, or spill to the log once, where the transaction
/// rewrites them in place.
pub const SQLITE_ROWS_PER_TRANSACTION: usize = 100_000;

/// The longest an import keeps SQLite's one writer to itself: past it the
/// open transaction commits whatever its row count. Everything else that
/// writes (scheduler claims, run records, alert state, other connectors)
/// waits for that writer up to its 10 s acquire timeout, so a group of
/// 100,000 rows read slowly (a loaded machine, a large workbook) must not
/// hold it for that long. Two seconds still groups about 100,000 rows at
/// the speed of a quiet machine.
pub const SQLITE_MAX_TRANSACTION_HOLD: Duration = Duration::from_secs(2);

/// Batches of one import written as they come, committed in groups.
/// Dropped with a transaction open, what it holds rolls back.
pub struct ImportCommits<'s> {
    store: &'s Store,
    connector: String,
    rows_per_transaction: usize,
    max_hold: Duration,
    /// SQLite: the open transaction, the rows written into it and when it
    /// began.
    open: Option<(SqliteTx, usize, Instant)>,
}

impl<'s> ImportCommits<'s> {
    pub fn new(store: &'s Store, connector: &str) -> Self {
        Self::with_limits(
            store,
            connector,
            SQLITE_ROWS_PER_TRANSACTION,
            SQLITE_MAX_TRANSACTION_HOLD,
        )
    }

    /// As [`ImportCommits::new`], with SQLite transactions of at most `rows`
    /// rows held open at most `max_hold` (tests use small ones).
    pub fn with_limits(store: &'s Store, connector: &str, rows: usize, max_hold: Duration) -> Self {
        ImportCommits {
            store,
            connector: connector.to_string(),
            rows_per_transaction: rows.max(1),
            max_hold,
            open: None,
        }
    }

    /// Writes a batch; returns the rows it inserted or changed. PostgreSQL
    /// commits it at once. SQLite writes it into the open transaction and
    /// commits once that holds `rows_per_transaction` rows, has been open
    /// `max_hold` or the batch carries a file mark (the mark lands with the
    /// import's last rows).
    pub async fn write(&mut self, batch: &Batch) -> Result<u64> {
        let db = match self.store {
            Store::Sqlite(db) => db,
            Store::Postgres(_) => return self.store.commit_batch(&self.connector, batch).await,
        };
        let (tx, rows, began) = match &mut self.open {
            Some(open) => open,
            None => self
                .open
                .insert((db.begin_facts().await?, 0, Instant::now())),
        };
        let changed = write_batch(tx, &self.connector, batch).await?;
        *rows += batch.records() + batch.rejects.len();
        if *rows >= self.rows_per_transaction
            || began.elapsed() >= self.max_hold
            || batch.file.is_some()
        {
            self.commit().await?;
        }
        Ok(changed)
    }

    /// Commits what was written so far (an import that stops keeps it).
    pub async fn commit(&mut self) -> Result<()> {
        if let Some((tx, _, _)) = self.open.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}
