//! The commits of one long import (a file's batches): on SQLite several
//! batches share a transaction, on PostgreSQL each batch commits alone.

use super::commit::write_batch;
use super::sqlite::SqliteTx;
use super::{Result, Store};
use crate::facts::Batch;

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

/// Batches of one import written as they come, committed in groups.
/// Dropped with a transaction open, what it holds rolls back.
pub struct ImportCommits<'s> {
    store: &'s Store,
    connector: String,
    rows_per_transaction: usize,
    /// SQLite: the open transaction and the rows written into it.
    open: Option<(SqliteTx, usize)>,
}

impl<'s> ImportCommits<'s> {
    pub fn new(store: &'s Store, connector: &str) -> Self {
        Self::with_rows_per_transaction(store, connector, SQLITE_ROWS_PER_TRANSACTION)
    }

    /// As [`ImportCommits::new`], with SQLite transactions of `rows` rows
    /// (tests use small ones).
    pub fn with_rows_per_transaction(store: &'s Store, connector: &str, rows: usize) -> Self {
        ImportCommits {
            store,
            connector: connector.to_string(),
            rows_per_transaction: rows.max(1),
            open: None,
        }
    }

    /// Writes a batch; returns the rows it inserted or changed. PostgreSQL
    /// commits it at once. SQLite writes it into the open transaction and
    /// commits once that holds `rows_per_transaction` rows or the batch
    /// carries a file mark (the mark lands with the import's last rows).
    pub async fn write(&mut self, batch: &Batch) -> Result<u64> {
        let db = match self.store {
            Store::Sqlite(db) => db,
            Store::Postgres(_) => return self.store.commit_batch(&self.connector, batch).await,
        };
        let (tx, rows) = match &mut self.open {
            Some(open) => open,
            None => self.open.insert((db.begin_facts().await?, 0)),
        };
        let changed = write_batch(tx, &self.connector, batch).await?;
        *rows += batch.records() + batch.rejects.len();
        if *rows >= self.rows_per_transaction || batch.file.is_some() {
            self.commit().await?;
        }
        Ok(changed)
    }

    /// Commits what was written so far (an import that stops keeps it).
    pub async fn commit(&mut self) -> Result<()> {
        if let Some((tx, _)) = self.open.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}
