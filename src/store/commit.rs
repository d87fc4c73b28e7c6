//! The commit of a batch of facts, written once for both databases: each
//! brings only how it upserts a table's rows ([`FactTx::upsert`]: SQLite's
//! multi-row `VALUES`, PostgreSQL's unnested arrays) and how it runs one
//! statement; the order of the work (records, daily values and the values
//! reported absent, rejects, the file mark) and its count of changed rows
//! are here.

use super::facts::last_by_key;
use super::values::day_text;
use super::{now_unix, Result};
use crate::facts::{Batch, DailyValue, Order, Refund};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};
use std::future::Future;

/// A value bound into an upsert: kpid stores only text and integers.
pub(super) enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Cell {
    fn text(s: &str) -> Cell {
        Cell::Text(Some(s.to_string()))
    }
}

/// One table's upsert: columns with their PostgreSQL types, and the
/// conflict clause that replaces changed rows and leaves identical ones.
pub(super) struct Upsert {
    pub table: &'static str,
    pub columns: &'static [(&'static str, &'static str)],
    pub on_conflict: &'static str,
}

pub(super) const ORDERS: Upsert = Upsert {
    table: "orders",
    columns: &[
        ("shop", "text"),
        ("order_id", "text"),
        ("paid_at", "bigint"),
        ("local_day", "text"),
        ("amount_micros", "bigint"),
        ("buyer_id", "text"),
        ("status", "text"),
        ("connector", "text"),
    ],
    on_conflict: "ON CONFLICT (shop, order_id) DO UPDATE SET paid_at = excluded.paid_at, \
         local_day = excluded.local_day, amount_micros = excluded.amount_micros, \
         buyer_id = excluded.buyer_id, status = excluded.status, connector = excluded.connector \
         WHERE orders.paid_at IS DISTINCT FROM excluded.paid_at \
            OR orders.local_day IS DISTINCT FROM excluded.local_day \
            OR orders.amount_micros <> excluded.amount_micros \
            OR orders.buyer_id IS DISTINCT FROM excluded.buyer_id \
            OR orders.status <> excluded.status",
};

pub(super) const REFUNDS: Upsert = Upsert {
    table: "refunds",
    columns: &[
        ("shop", "text"),
        ("refund_id", "text"),
        ("order_id", "text"),
        ("refunded_at", "bigint"),
        ("local_day", "text"),
        ("amount_micros", "bigint"),
        ("connector", "text"),
    ],
    on_conflict: "ON CONFLICT (shop, refund_id) DO UPDATE SET order_id = excluded.order_id, \
         refunded_at = excluded.refunded_at, local_day = excluded.local_day, \
         amount_micros = excluded.amount_micros, connector = excluded.connector \
         WHERE refunds.order_id <> excluded.order_id OR refunds.refunded_at <> excluded.refunded_at \
            OR refunds.local_day <> excluded.local_day OR refunds.amount_micros <> excluded.amount_micros",
};

pub(super) const DAILY: Upsert = Upsert {
    table: "daily_values",
    columns: &[
        ("shop", "text"),
        ("day", "text"),
        ("input", "text"),
        ("dimension", "text"),
        ("value_micros", "bigint"),
        ("connector", "text"),
    ],
    on_conflict: "ON CONFLICT (shop, day, input, dimension) DO UPDATE SET \
         value_micros = excluded.value_micros, connector = excluded.connector \
         WHERE daily_values.value_micros <> excluded.value_micros",
};

/// Deletes a daily value that the source now reports as absent.
pub(super) const DELETE_DAILY: &str =
    "DELETE FROM daily_values WHERE shop = $1 AND day = $2 AND input = $3 AND dimension = $4";

/// Records an imported file with its content hash.
pub(super) const MARK_FILE: &str =
    "INSERT INTO imported_files (connector, path, sha256, rows, imported_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connector, path) DO UPDATE SET \
     sha256 = excluded.sha256, rows = excluded.rows, imported_at = excluded.imported_at";

/// Drops the rejects an earlier import of a source (a file) left.
pub(super) const DELETE_REJECTS: &str = "DELETE FROM rejects WHERE connector = $1 AND source = $2";

/// Keeps a rejected record, once per source and locator.
pub(super) const INSERT_REJECT: &str =
    "INSERT INTO rejects (connector, source, locator, reason, raw, first_seen, last_seen) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (connector, source, locator) DO UPDATE SET \
     reason = excluded.reason, raw = excluded.raw, last_seen = excluded.last_seen";

/// A write transaction of one database, as the commit tail needs it.
pub(super) trait FactTx: Send {
    /// Runs one statement with its parameters; returns the rows it touched.
    fn execute(
        &mut self,
        sql: &'static str,
        params: Vec<Cell>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Inserts or replaces rows of `spec`'s table; returns how many were
    /// inserted or changed.
    fn upsert(
        &mut self,
        spec: &'static Upsert,
        rows: Vec<Vec<Cell>>,
    ) -> impl Future<Output = Result<u64>> + Send;
}

/// Writes a batch in an open transaction; returns the rows actually
/// inserted or changed (re-committing the same data gives 0). The caller
/// commits.
pub(super) async fn write_batch(
    tx: &mut impl FactTx,
    connector: &str,
    batch: &Batch,
) -> Result<u64> {
    let mut changed = 0;
    changed += tx
        .upsert(&ORDERS, order_rows(connector, &batch.orders))
        .await?;
    changed += tx
        .upsert(&REFUNDS, refund_rows(connector, &batch.refunds))
        .await?;
    let (set, clear) = daily_rows(connector, &batch.daily);
    for v in clear {
        let key = vec![
            Cell::text(v.shop.as_str()),
            Cell::Text(Some(day_text(v.day))),
            Cell::text(&v.input),
            Cell::text(&v.dimension),
        ];
        changed += tx.execute(DELETE_DAILY, key).await?;
    }
    changed += tx.upsert(&DAILY, set).await?;
    if let Some(source) = &batch.replaces_rejects_of {
        tx.execute(
            DELETE_REJECTS,
            vec![Cell::text(connector), Cell::text(source)],
        )
        .await?;
    }
    let now = now_unix();
    for r in last_by_key(&batch.rejects, |r| (r.source.as_str(), r.locator.as_str())) {
        let reject = vec![
            Cell::text(connector),
            Cell::text(&r.source),
            Cell::text(&r.locator),
            Cell::text(&r.reason),
            Cell::text(&r.raw),
            Cell::Int(Some(now)),
        ];
        tx.execute(INSERT_REJECT, reject).await?;
    }
    if let Some(file) = &batch.file {
        let mark = vec![
            Cell::text(connector),
            Cell::text(&file.path),
            Cell::text(&file.sha256),
            Cell::Int(Some(file.rows)),
            Cell::Int(Some(now)),
        ];
        tx.execute(MARK_FILE, mark).await?;
    }
    Ok(changed)
}

/// Binds cells in order to a statement of either database.
pub(super) fn bind_cells<'q, DB: Database>(
    mut query: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    cells: Vec<Cell>,
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    Option<String>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    for cell in cells {
        query = match cell {
            Cell::Text(t) => query.bind(t),
            Cell::Int(i) => query.bind(i),
        };
    }
    query
}

/// Order rows in `ORDERS` column order, the last record of each key only.
pub(super) fn order_rows(connector: &str, orders: &[Order]) -> Vec<Vec<Cell>> {
    last_by_key(orders, |o| (o.shop.as_str(), o.order_id.as_str()))
        .into_iter()
        .map(|o| {
            vec![
                Cell::text(o.shop.as_str()),
                Cell::Text(Some(o.order_id.clone())),
                Cell::Int(o.paid_at.map(|t| t.timestamp())),
                Cell::Text(o.local_day.map(day_text)),
                Cell::Int(Some(o.amount.micros())),
                Cell::Text(o.buyer_id.clone()),
                Cell::Text(Some(o.status.as_str().to_string())),
                Cell::Text(Some(connector.to_string())),
            ]
        })
        .collect()
}

/// Refund rows in `REFUNDS` column order, the last record of each key only.
pub(super) fn refund_rows(connector: &str, refunds: &[Refund]) -> Vec<Vec<Cell>> {
    last_by_key(refunds, |r| (r.shop.as_str(), r.refund_id.as_str()))
        .into_iter()
        .map(|r| {
            vec![
                Cell::text(r.shop.as_str()),
                Cell::Text(Some(r.refund_id.clone())),
                Cell::Text(Some(r.order_id.clone())),
                Cell::Int(Some(r.refunded_at.timestamp())),
                Cell::Text(Some(day_text(r.local_day))),
                Cell::Int(Some(r.amount.micros())),
                Cell::Text(Some(connector.to_string())),
            ]
        })
        .collect()
}

/// Daily rows to upsert in `DAILY` column order, and the values to delete
/// (reported as absent); the last value of each key only.
pub(super) fn daily_rows<'a>(
    connector: &str,
    values: &'a [DailyValue],
) -> (Vec<Vec<Cell>>, Vec<&'a DailyValue>) {
    let values = last_by_key(values, |v| {
        (
            v.shop.as_str(),
            v.day,
            v.input.as_str(),
            v.dimension.as_str(),
        )
    });
    let (set, clear): (Vec<&DailyValue>, Vec<&DailyValue>) =
        values.into_iter().partition(|v| v.value_micros.is_some());
    let rows = set
        .into_iter()
        .map(|v| {
            vec![
                Cell::text(v.shop.as_str()),
                Cell::Text(Some(day_text(v.day))),
                Cell::Text(Some(v.input.clone())),
                Cell::Text(Some(v.dimension.clone())),
                Cell::Int(v.value_micros),
                Cell::Text(Some(connector.to_string())),
            ]
        })
        .collect();
    (rows, clear)
}
