//! Fact commits on PostgreSQL through its native driver.
//!
//! Each table's rows go over as one binary array per column and are
//! unnested by one `INSERT … SELECT` per table and page (a plain insert while
//! nothing conflicts, then `ON CONFLICT … DO UPDATE`; see `PgStore::commit`). The
//! server decodes array elements instead of parsing text: with one JSON
//! parameter (`json_array_elements` and `->>` per column) JSON parsing was
//! about 30 % of the server's CPU on a 100k-order backfill, and the server
//! was the bottleneck (BENCHMARKS.md).

use super::PgStore;
use crate::facts::Batch;
use crate::store::commit::{
    bind_cells, order_rows, refund_rows, write_batch, Cell, FactTx, Upsert, ORDERS, REFUNDS,
};
use crate::store::{Result, StoreError};
use sqlx::{PgPool, Postgres, Transaction};
use std::sync::atomic::Ordering;

/// Rows per statement: bounds one statement's arrays for large files.
const PG_CHUNK: usize = 5000;

/// Whether a commit may only insert or must upsert.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Insert,
    Upsert,
}

impl PgStore {
    /// Commits a batch atomically; returns the rows actually inserted or
    /// changed (re-committing the same data returns 0). The facts pool's
    /// sessions run with `synchronous_commit = off` (see `PgStore::open`).
    ///
    /// `ON CONFLICT` first looks every row up in the primary key and then
    /// inserts it (a second descent); a plain insert checks uniqueness while
    /// inserting. A backfill into empty tables (the bulk of all rows ever
    /// written) never conflicts, so commits try a plain insert until the
    /// first unique violation; that commit rolls back and is redone as an
    /// upsert, and so is every later one.
    pub(super) async fn commit(&self, connector: &str, batch: &Batch) -> Result<u64> {
        if self.optimistic.load(Ordering::Relaxed) {
            match commit(&self.facts, connector, batch, Mode::Insert).await {
                Err(StoreError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    self.optimistic.store(false, Ordering::Relaxed);
                }
                done => return done,
            }
        }
        commit(&self.facts, connector, batch, Mode::Upsert).await
    }
}

async fn commit(pool: &PgPool, connector: &str, batch: &Batch, mode: Mode) -> Result<u64> {
    let records_only = batch.daily.is_empty()
        && batch.rejects.is_empty()
        && batch.replaces_rejects_of.is_none()
        && batch.file.is_none()
        && batch.orders.len() <= PG_CHUNK
        && batch.refunds.len() <= PG_CHUNK;
    if records_only {
        // A page of orders and refunds is one statement: one round trip
        // instead of four (BEGIN, two inserts, COMMIT), atomic by itself.
        let orders = columns(&ORDERS, order_rows(connector, &batch.orders))?;
        let refunds = columns(&REFUNDS, refund_rows(connector, &batch.refunds))?;
        let sql = records_sql(mode);
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for col in orders.into_iter().chain(refunds) {
            query = match col {
                Column::Text(v) => query.bind(v),
                Column::Int(v) => query.bind(v),
            };
        }
        let changed = query.fetch_one(pool).await?;
        return Ok(changed.max(0) as u64);
    }
    let mut tx = PgTx {
        tx: pool.begin().await?,
        mode,
    };
    let changed = write_batch(&mut tx, connector, batch).await?;
    tx.tx.commit().await?;
    Ok(changed)
}

/// A fact commit's transaction, inserting or upserting.
struct PgTx {
    tx: Transaction<'static, Postgres>,
    mode: Mode,
}

impl FactTx for PgTx {
    async fn execute(&mut self, sql: &'static str, params: Vec<Cell>) -> Result<u64> {
        let query = bind_cells(sqlx::query(sql), params);
        Ok(query.execute(&mut *self.tx).await?.rows_affected())
    }

    async fn upsert(&mut self, spec: &'static Upsert, rows: Vec<Vec<Cell>>) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let sql = insert_sql(spec, self.mode, 1);
        let mut changed = 0;
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<Vec<Cell>> = rows.by_ref().take(PG_CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let mut query = sqlx::query(&sql);
            for col in columns(spec, chunk)? {
                query = match col {
                    Column::Text(v) => query.bind(v),
                    Column::Int(v) => query.bind(v),
                };
            }
            changed += query.execute(&mut *self.tx).await?.rows_affected();
        }
        Ok(changed)
    }
}

/// One column's values, bound as a `text[]` or `bigint[]` parameter.
enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

/// `INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::bigint[]) [ON CONFLICT …]`,
/// numbering parameters after `first - 1`.
fn insert_sql(spec: &Upsert, mode: Mode, first: usize) -> String {
    let names: Vec<&str> = spec.columns.iter().map(|(c, _)| *c).collect();
    let arrays: Vec<String> = spec
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}[]", first + i))
        .collect();
    let on_conflict = match mode {
        Mode::Insert => "",
        Mode::Upsert => spec.on_conflict,
    };
    format!(
        "INSERT INTO {} ({}) SELECT * FROM unnest({}) {on_conflict}",
        spec.table,
        names.join(", "),
        arrays.join(", "),
    )
}

/// Orders and refunds in one statement; yields the rows inserted or changed.
fn records_sql(mode: Mode) -> String {
    format!(
        "WITH o AS ({} RETURNING 1), r AS ({} RETURNING 1) \
         SELECT (SELECT COUNT(*) FROM o) + (SELECT COUNT(*) FROM r)",
        insert_sql(&ORDERS, mode, 1),
        insert_sql(&REFUNDS, mode, 1 + ORDERS.columns.len()),
    )
}

/// Turns rows of cells into columns of the spec's types.
fn columns(spec: &Upsert, rows: Vec<Vec<Cell>>) -> Result<Vec<Column>> {
    let mut cols: Vec<Column> = spec
        .columns
        .iter()
        .map(|(_, ty)| match *ty {
            "bigint" => Column::Int(Vec::with_capacity(rows.len())),
            _ => Column::Text(Vec::with_capacity(rows.len())),
        })
        .collect();
    for row in rows {
        if row.len() != cols.len() {
            return Err(StoreError::Corrupt(format!(
                "{} row has {} cells for {} columns",
                spec.table,
                row.len(),
                cols.len()
            )));
        }
        for (col, cell) in cols.iter_mut().zip(row) {
            match (col, cell) {
                (Column::Text(v), Cell::Text(t)) => v.push(t),
                (Column::Int(v), Cell::Int(i)) => v.push(i),
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "{} row does not match its column types",
                        spec.table
                    )))
                }
            }
        }
    }
    Ok(cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unnests_one_typed_array_per_column() {
        let sql = insert_sql(&REFUNDS, Mode::Upsert, 9);
        assert!(sql.starts_with(
            "INSERT INTO refunds (shop, refund_id, order_id, refunded_at, local_day, \
             amount_micros, connector) SELECT * FROM unnest($9::text[], $10::text[], \
             $11::text[], $12::bigint[], $13::text[], $14::bigint[], $15::text[]) ON CONFLICT"
        ));
        assert!(!insert_sql(&REFUNDS, Mode::Insert, 1).contains("CONFLICT"));
        let both = records_sql(Mode::Upsert);
        assert!(both.contains("$8::text[]) ON CONFLICT (shop, order_id)"));
        assert!(both.contains("$15::text[]) ON CONFLICT (shop, refund_id)"));
    }

    #[test]
    fn columns_keep_nulls_and_reject_mismatched_rows() {
        let spec = Upsert {
            table: "t",
            columns: &[("a", "text"), ("b", "bigint")],
            on_conflict: "",
        };
        let cols = columns(
            &spec,
            vec![
                vec![Cell::Text(Some("买家 \"A\"".into())), Cell::Int(None)],
                vec![Cell::Text(None), Cell::Int(Some(-19_990_000))],
            ],
        )
        .unwrap();
        match &cols[..] {
            [Column::Text(a), Column::Int(b)] => {
                assert_eq!(a, &[Some("买家 \"A\"".to_string()), None]);
                assert_eq!(b, &[None, Some(-19_990_000)]);
            }
            _ => panic!("wrong column kinds"),
        }
        assert!(columns(&spec, vec![vec![Cell::Int(Some(1)), Cell::Int(Some(2))]]).is_err());
        assert!(columns(&spec, vec![vec![Cell::Text(None)]]).is_err());
    }
}
