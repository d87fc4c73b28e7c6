//! Reading a query's rows into stored types: each type has one reader (a
//! `fn(&DbRow) -> Result<T>` next to its queries), which every query that
//! selects it hands to [`DbStore::read_all`].

use super::{Db, DbRow, DbStore};
use crate::measure::Measure;
use crate::store::values::{dec, text};
use crate::store::Result;
use sqlx::query::Query;
use sqlx::{Database, Row};

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

/// The measure in the `value`, `target` and `attainment` columns of
/// `table` (the name for errors), selected in that order from column `at`.
pub(super) fn measure_at(table: &str, r: &DbRow, at: usize) -> Result<Measure> {
    Ok(Measure {
        value: dec(format_args!("{table}.value"), r.try_get(at)?)?,
        target: dec(format_args!("{table}.target"), r.try_get(at + 1)?)?,
        attainment: dec(format_args!("{table}.attainment"), r.try_get(at + 2)?)?,
    })
}

/// Writing a measure into a query's parameters.
pub(super) trait BindMeasure {
    /// Binds the measure's value, target and attainment as stored text, in
    /// that order: every table that keeps one lists its columns so.
    fn bind_measure(self, m: &Measure) -> Self;
}

impl BindMeasure for DbQuery<'_> {
    fn bind_measure(self, m: &Measure) -> Self {
        self.bind(text(m.value))
            .bind(text(m.target))
            .bind(text(m.attainment))
    }
}
