//! Reading many shops in one statement: `shop IN ($n, …)` lists, in chunks
//! that keep under both databases' bound-parameter limits (SQLite 32,766,
//! PostgreSQL 65,535).

use super::{Db, DbRow, DbStore};
use crate::store::Result;

/// Shops per statement: 1,000 shops are one pass.
pub(super) const CHUNK: usize = 1000;

/// Rows per multi-row INSERT of revision lines, whose value lists each
/// database writes (`value_rows`): anonymous `?` on SQLite, where sqlx binds
/// a numbered `$N` by its name and SQLite finds a name by a scan of the
/// statement's parameters, the square of their number (34,000 snapshot
/// lines took 1.7 s of CPU in statements of 1,000 rows, 0.3 s through `?`).
/// A few hundred parameters a statement keep the statements few.
pub(super) const INSERT_ROWS: usize = 100;

/// `$first, $first+1, …` for `n` parameters.
pub(in crate::store) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(VALUES ($first), …)`: a table of `n` parameters whose column both
/// databases name `column1`.
pub(in crate::store) fn values_table(first: usize, n: usize) -> String {
    let rows: Vec<String> = (first..first + n).map(|i| format!("(${i})")).collect();
    format!("(VALUES {})", rows.join(", "))
}

impl DbStore {
    /// Hands `each` the rows of `sql` over all of `ids` (shops, people): one
    /// statement per [`CHUNK`] of them, `$1` and `$2` bound to `leading` and
    /// the chunk's ids to `$3, $4, …`. `sql` is given the chunk's length, to
    /// list them as [`placeholders`] or a [`values_table`]. Each chunk's rows
    /// are dropped before the next is read.
    pub(super) async fn each_row_of_chunks<I>(
        &self,
        ids: &[I],
        leading: [String; 2],
        sql: impl Fn(usize) -> String,
        mut each: impl FnMut(DbRow) -> Result<()>,
    ) -> Result<()>
    where
        I: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Sync,
    {
        for chunk in ids.chunks(CHUNK) {
            let sql = sql(chunk.len());
            let mut q = sqlx::query(&sql).bind(&leading[0]).bind(&leading[1]);
            for id in chunk {
                q = q.bind(id);
            }
            for row in q.fetch_all(&self.pool).await? {
                each(row)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_from_the_first() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(values_table(1, 2), "(VALUES ($1), ($2))");
    }
}
