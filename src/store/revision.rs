//! Append-only revisions (snapshots, scorecards), the same on both databases.

use super::{Result, StoreError};

/// Appends a revision (a snapshot, a scorecard) unless `unchanged` finds the
/// latest one holds the same content, giving its number. Two replicas may
/// compute the same period at once: the unique key on the revision makes the
/// loser compare again with the winner's revision. Returns the revision now
/// current and whether it is new.
pub(super) async fn append_revision<U, UF, I, IF>(
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
