//! Reading a query's rows into stored types: each type has one reader (a
//! `fn(&DbRow) -> Result<T>` next to its queries), which every query that
//! selects it hands to [`DbStore::read_all`].

use super::{Db, DbRow, DbStore};
use crate::store::Result;
use sqlx::query::Query;
use sqlx::Database;

/// A query of this database with its parameters bound.
pub(super) type DbQuery<'q> = Query<'q, Db, <Db as Database>::Arguments<'q>>;

impl DbStore {
    /// Every row `q` selects, in order, each read by `read`, collected
    /// (a `Vec`, a set).
    pub(super) async fn read_all<T, C: FromIterator<T>>(
        &self,
        q: DbQuery<'_>,
        read: impl FnMut(&DbRow) -> Result<T>,
    ) -> Result<C> {
        q.fetch_all(&self.pool).await?.iter().map(read).collect()
    }
}
