//! Reading one revision of a shop's snapshot or a person's scorecard: both
//! tables keep every revision of an (owner, period) and answer the latest
//! unless asked for one, with their lines in a child table, and list who
//! has one of a period.

use super::{Db, DbRow, DbStore};
use crate::period::Period;
use crate::store::Result;
use sqlx::{Row, Transaction};

impl DbStore {
    /// The head row and line rows of `owner`'s `period` at `revision` (the
    /// latest without one). `head` binds `$1`…`$4` to the owner, the period's
    /// kind and text and the revision (-1 for the latest) and selects the
    /// row's id first; `lines` selects the lines of the id `$1`.
    pub(super) async fn revision_rows(
        &self,
        head: &str,
        lines: &str,
        owner: &str,
        period: Period,
        revision: Option<i64>,
    ) -> Result<Option<(DbRow, Vec<DbRow>)>> {
        let head = sqlx::query(head)
            .bind(owner)
            .bind(period.kind().as_str())
            .bind(period.to_string())
            .bind(revision.unwrap_or(-1))
            .fetch_optional(&self.pool)
            .await?;
        let Some(head) = head else { return Ok(None) };
        let id: i64 = head.try_get(0)?;
        let lines = sqlx::query(lines).bind(id).fetch_all(&self.pool).await?;
        Ok(Some((head, lines)))
    }

    /// Who has a revision of `period`, in order: the `owner` column
    /// (`shop`, `person`) of `table` (`snapshots`, `scorecards`).
    pub(super) async fn period_owners(
        &self,
        table: &'static str,
        owner: &'static str,
        period: Period,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT DISTINCT {owner} FROM {table} WHERE period_kind = $1 AND period = $2 ORDER BY {owner}"
        ))
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The number of `owner`'s latest revision of `period` in `table`
/// (`snapshots`, `scorecards`, whose owner column is `owner_column`), 0
/// for none, read in the write transaction `tx` that appends the next:
/// SQLite's write transactions hold the lock from their start, so no
/// other writer takes the number meanwhile (on PostgreSQL the unique key
/// sends a loser back to compare, see `append_revision`).
pub(super) async fn latest_revision(
    tx: &mut Transaction<'static, Db>,
    table: &'static str,
    owner_column: &'static str,
    owner: &str,
    period: Period,
) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT CAST(COALESCE(MAX(revision), 0) AS BIGINT) FROM {table} \
         WHERE {owner_column} = $1 AND period_kind = $2 AND period = $3"
    ))
    .bind(owner)
    .bind(period.kind().as_str())
    .bind(period.to_string())
    .fetch_one(&mut **tx)
    .await?)
}
