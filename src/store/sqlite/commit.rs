//! Fact commits on SQLite: one `BEGIN IMMEDIATE` transaction whose upserts
//! are multi-row `VALUES` lists.

use super::{value_rows, SqliteStore};
use crate::facts::Batch;
use crate::store::commit::{bind_cells, write_batch, Cell, FactTx, Upsert};
use crate::store::{Result, StoreError};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Sqlite, Transaction};

/// Most rows per statement; keeps parameters well under SQLite's 32766.
const CHUNK: usize = 512;

/// Rows for the next statement: `CHUNK`, or the largest power of two that
/// fits. Each distinct row count is its own prepared statement, kept in the
/// connection's cache; powers of two bound them to ten shapes per table, so
/// pages of any size reuse statements instead of preparing new large ones.
fn chunk_len(left: usize) -> usize {
    if left >= CHUNK {
        CHUNK
    } else {
        1 << left.ilog2()
    }
}

impl SqliteStore {
    /// Commits a batch in one transaction; returns the rows actually
    /// inserted or changed.
    pub(super) async fn commit(&self, connector: &str, batch: &Batch) -> Result<u64> {
        let mut tx = self.begin_facts().await?;
        let changed = write_batch(&mut tx, connector, batch).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// Opens a fact transaction on the writer connection, for
    /// [`ImportCommits`](crate::store::ImportCommits) to write several
    /// batches into.
    pub(in crate::store) async fn begin_facts(&self) -> Result<SqliteTx> {
        Ok(SqliteTx(self.begin_write().await?))
    }
}

/// A fact transaction: dropped without [`SqliteTx::commit`], it rolls back.
pub(in crate::store) struct SqliteTx(Transaction<'static, Sqlite>);

impl SqliteTx {
    pub(in crate::store) async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }
}

impl FactTx for SqliteTx {
    async fn execute(&mut self, sql: &'static str, params: Vec<Cell>) -> Result<u64> {
        let query = bind_cells(sqlx::query(sql), params);
        Ok(query.execute(&mut *self.0).await?.rows_affected())
    }

    async fn upsert(&mut self, spec: &'static Upsert, rows: Vec<Vec<Cell>>) -> Result<u64> {
        let columns: Vec<&str> = spec.columns.iter().map(|(c, _)| *c).collect();
        let columns = columns.join(", ");
        let mut changed = 0;
        let mut left = rows.len();
        // The cells are moved into the arguments, not copied: a page's text
        // is bound once.
        let mut rows = rows.into_iter();
        while left > 0 {
            let n = chunk_len(left);
            left -= n;
            let sql = format!(
                "INSERT INTO {} ({columns}) VALUES {} {}",
                spec.table,
                value_rows(n, spec.columns.len()),
                spec.on_conflict
            );
            let mut args = SqliteArguments::default();
            for cell in rows.by_ref().take(n).flatten() {
                let bound = match cell {
                    Cell::Text(t) => args.add(t),
                    Cell::Int(i) => args.add(i),
                };
                bound.map_err(|e| StoreError::Corrupt(format!("cannot bind value: {e}")))?;
            }
            changed += sqlx::query_with(&sql, args)
                .execute(&mut *self.0)
                .await?
                .rows_affected();
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_anonymous() {
        assert_eq!(value_rows(2, 3), "(?,?,?),(?,?,?)");
    }

    #[test]
    fn statements_take_power_of_two_row_counts() {
        let split = |mut n: usize| {
            let mut sizes = Vec::new();
            while n > 0 {
                sizes.push(chunk_len(n));
                n -= chunk_len(n);
            }
            sizes
        };
        assert_eq!(split(1), [1]);
        assert_eq!(split(250), [128, 64, 32, 16, 8, 2]);
        assert_eq!(split(1300), [512, 512, 256, 16, 4]);
        // Every size of page maps onto the same few statements.
        let shapes: std::collections::BTreeSet<usize> = (1..3000).flat_map(split).collect();
        assert_eq!(shapes.len(), 10);
    }
}
