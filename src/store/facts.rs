//! Writing facts idempotently and reading them back aggregated per period.

use super::{now_unix, Result, Store, StoreError};
use crate::facts::{Batch, DailyValue, Order, Refund, Reject};
use chrono::NaiveDate;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, Row, Transaction};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most rows per SQLite statement; keeps parameters well under SQLite's 32766.
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

/// Totals of a shop's order and refund records over a range of local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTotals {
    pub orders: i64,
    pub gmv_micros: i64,
    pub buyers: i64,
    pub refund_orders: i64,
    pub refund_micros: i64,
}

/// One input's daily values over a range, folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyAggregate {
    pub sum_micros: i64,
    pub count: i64,
    /// Per dimension sums (campaign, agent …), for peer comparisons.
    pub by_dimension: BTreeMap<String, i64>,
    /// Best (lowest) value on the latest day that has one.
    pub latest_min_micros: i64,
}

/// One stored daily value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRow {
    pub input: String,
    /// `YYYY-MM-DD`, the shop's local day.
    pub day: String,
    pub dimension: String,
    pub value_micros: i64,
}

/// Folds daily rows ordered by input and day (rows of several shops may be
/// merged first, then sorted) into per-input aggregates.
pub fn fold_daily(
    rows: impl IntoIterator<Item = DailyRow>,
) -> Result<HashMap<String, DailyAggregate>> {
    let mut out: HashMap<String, DailyAggregate> = HashMap::new();
    let mut latest_day: HashMap<String, String> = HashMap::new();
    for DailyRow {
        input,
        day,
        dimension,
        value_micros: v,
    } in rows
    {
        let agg = out.entry(input.clone()).or_insert_with(|| DailyAggregate {
            sum_micros: 0,
            count: 0,
            by_dimension: BTreeMap::new(),
            latest_min_micros: v,
        });
        agg.sum_micros = agg
            .sum_micros
            .checked_add(v)
            .ok_or_else(|| StoreError::Corrupt(format!("sum of {input} overflows")))?;
        agg.count += 1;
        *agg.by_dimension.entry(dimension).or_insert(0) += v;
        // Rows come ordered by day: a later day replaces, the same day keeps the best.
        match latest_day.get(&input) {
            Some(d) if *d == day => agg.latest_min_micros = agg.latest_min_micros.min(v),
            _ => {
                agg.latest_min_micros = v;
                latest_day.insert(input, day);
            }
        }
    }
    Ok(out)
}

/// `YYYY-MM-DD`: `NaiveDate`'s `Display` writes the same text as the
/// `%Y-%m-%d` pattern without parsing a pattern per row.
pub(super) fn day_text(d: NaiveDate) -> String {
    d.to_string()
}

/// `(?,…),(?,…)` value lists for SQLite's multi-row inserts. Anonymous `?`:
/// numbered `$N` parameters are looked up by name with a linear scan, which
/// made a 1000-row statement quadratic (43% of a 100k-order ingest).
fn placeholders(rows: usize, cols: usize) -> String {
    let row = format!("({})", vec!["?"; cols].join(","));
    vec![row; rows].join(",")
}

/// Keeps the last of several records with the same key (a later file or page
/// wins) so one statement never touches a row twice, in key order: commits
/// running side by side on PostgreSQL then lock shared rows in the same
/// order and cannot deadlock.
pub(super) fn last_by_key<'a, T, K: Ord>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut last: BTreeMap<K, &'a T> = BTreeMap::new();
    for it in items {
        last.insert(key(it), it);
    }
    last.into_values().collect()
}

fn add<'q, T>(args: &mut AnyArguments<'q>, v: T) -> Result<()>
where
    T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
{
    args.add(v)
        .map_err(|e| StoreError::Corrupt(format!("cannot bind value: {e}")))
}

impl Store {
    /// Commits a batch atomically (one transaction on SQLite; see
    /// `facts_pg` for PostgreSQL); returns the rows actually inserted or
    /// changed (re-committing the same data returns 0).
    pub async fn commit_batch(&self, connector: &str, batch: &Batch) -> Result<u64> {
        if let Some(pg) = &self.facts_pg {
            return super::facts_pg::commit_batch(pg, connector, batch).await;
        }
        let mut tx = self.begin_write().await?;
        let mut changed = 0;
        changed += upsert_rows(&mut tx, &ORDERS, order_rows(connector, &batch.orders)).await?;
        changed += upsert_rows(&mut tx, &REFUNDS, refund_rows(connector, &batch.refunds)).await?;
        let (set, clear) = daily_rows(connector, &batch.daily);
        for v in clear {
            changed += sqlx::query(DELETE_DAILY)
                .bind(&v.shop)
                .bind(day_text(v.day))
                .bind(&v.input)
                .bind(&v.dimension)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        changed += upsert_rows(&mut tx, &DAILY, set).await?;
        if let Some(source) = &batch.replaces_rejects_of {
            sqlx::query(DELETE_REJECTS)
                .bind(connector)
                .bind(source)
                .execute(&mut *tx)
                .await?;
        }
        insert_rejects(&mut tx, connector, &batch.rejects).await?;
        if let Some(file) = &batch.file {
            sqlx::query(MARK_FILE)
                .bind(connector)
                .bind(&file.path)
                .bind(&file.sha256)
                .bind(file.rows)
                .bind(now_unix())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// True when this exact file content was already imported at this path.
    pub async fn file_imported(&self, connector: &str, path: &str, sha256: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM imported_files WHERE connector = $1 AND path = $2 AND sha256 = $3",
        )
        .bind(connector)
        .bind(path)
        .bind(sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// True when the shop has any order record (then record-derived inputs
    /// are known, possibly zero, for every period).
    pub async fn shop_has_orders(&self, shop: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE shop = $1 LIMIT 1) t")
                .bind(shop)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// The local days of a range on which the shop has any order record
    /// (whatever its status) or refund record, as `YYYY-MM-DD`: on those
    /// days records, not daily series, give the record inputs.
    pub async fn record_days(
        &self,
        shop: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<HashSet<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT local_day FROM orders WHERE shop = $1 AND local_day >= $2 AND local_day <= $3 \
             UNION SELECT DISTINCT local_day FROM refunds WHERE shop = $1 AND local_day >= $2 AND local_day <= $3",
        )
        .bind(shop)
        .bind(day_text(from))
        .bind(day_text(to))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Whether any refund record is stored for `shop`.
    pub async fn shop_has_refunds(&self, shop: &str) -> Result<bool> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM refunds WHERE shop = $1 LIMIT 1) t")
                .bind(shop)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Whether any daily value of one of `inputs` is stored for `shop`.
    pub async fn shop_has_daily_input(&self, shop: &str, inputs: &[&str]) -> Result<bool> {
        for input in inputs {
            let row = sqlx::query(
                "SELECT COUNT(*) FROM (SELECT 1 FROM daily_values \
                 WHERE shop = $1 AND input = $2 LIMIT 1) t",
            )
            .bind(shop)
            .bind(*input)
            .fetch_one(&self.pool)
            .await?;
            if row.try_get::<i64, _>(0)? > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Paid orders, GMV and distinct buyers (a guest order is its own buyer)
    /// by the local day of payment; refunds by their own local day.
    pub async fn record_totals(
        &self,
        shop: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<RecordTotals> {
        let (from, to) = (day_text(from), day_text(to));
        let o = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT), \
             COUNT(DISTINCT COALESCE(buyer_id, 'order:' || order_id)) \
             FROM orders WHERE shop = $1 AND status = 'paid' AND local_day >= $2 AND local_day <= $3",
        )
        .bind(shop)
        .bind(&from)
        .bind(&to)
        .fetch_one(&self.pool)
        .await?;
        let r = sqlx::query(
            "SELECT COUNT(DISTINCT order_id), CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) \
             FROM refunds WHERE shop = $1 AND local_day >= $2 AND local_day <= $3",
        )
        .bind(shop)
        .bind(&from)
        .bind(&to)
        .fetch_one(&self.pool)
        .await?;
        Ok(RecordTotals {
            orders: o.try_get(0)?,
            gmv_micros: o.try_get(1)?,
            buyers: o.try_get(2)?,
            refund_orders: r.try_get(0)?,
            refund_micros: r.try_get(1)?,
        })
    }

    /// Daily series of a shop over a range, per input.
    pub async fn daily_aggregates(
        &self,
        shop: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<HashMap<String, DailyAggregate>> {
        fold_daily(self.daily_rows(shop, from, to).await?)
    }

    /// A shop's daily values over a range, ordered by input and day.
    pub async fn daily_rows(
        &self,
        shop: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyRow>> {
        let rows = sqlx::query(
            "SELECT input, day, dimension, value_micros FROM daily_values \
             WHERE shop = $1 AND day >= $2 AND day <= $3 ORDER BY input, day",
        )
        .bind(shop)
        .bind(day_text(from))
        .bind(day_text(to))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(DailyRow {
                    input: row.try_get(0)?,
                    day: row.try_get(1)?,
                    dimension: row.try_get(2)?,
                    value_micros: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// The `(day, dimension)` pairs of one input a connector stored for a
    /// shop over a range of days.
    pub async fn daily_dimensions(
        &self,
        connector: &str,
        shop: &str,
        input: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>> {
        let rows = sqlx::query(
            "SELECT day, dimension FROM daily_values WHERE connector = $1 AND shop = $2 \
             AND input = $3 AND day >= $4 AND day <= $5 ORDER BY day, dimension",
        )
        .bind(connector)
        .bind(shop)
        .bind(input)
        .bind(day_text(from))
        .bind(day_text(to))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let day: String = row.try_get(0)?;
                let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                    .map_err(|_| StoreError::Corrupt(format!("daily_values day `{day}`")))?;
                Ok((day, row.try_get(1)?))
            })
            .collect()
    }

    /// Rejected records of a connector (newest first), for `kpid ingest` and tests.
    pub async fn rejects(&self, connector: &str) -> Result<Vec<Reject>> {
        let rows = sqlx::query(
            "SELECT source, locator, reason, raw FROM rejects WHERE connector = $1 \
             ORDER BY source, id",
        )
        .bind(connector)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Reject {
                    source: r.try_get(0)?,
                    locator: r.try_get(1)?,
                    reason: r.try_get(2)?,
                    raw: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Reads the stored cursor of a connector's stream.
    pub async fn cursor(&self, connector: &str, stream: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT cursor FROM connector_state WHERE connector = $1 AND stream = $2")
                .bind(connector)
                .bind(stream)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Advances a stream's cursor; call only after the window's records are committed.
    pub async fn set_cursor(&self, connector: &str, stream: &str, cursor: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO connector_state (connector, stream, cursor, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (connector, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(connector)
        .bind(stream)
        .bind(cursor)
        .bind(now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A value bound into an upsert: kpid stores only text and integers.
pub(super) enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
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

/// Inserts or replaces rows through SQLite's multi-row `VALUES` lists;
/// returns how many were inserted or changed.
async fn upsert_rows(
    tx: &mut Transaction<'_, Any>,
    spec: &Upsert,
    rows: Vec<Vec<Cell>>,
) -> Result<u64> {
    let columns: Vec<&str> = spec.columns.iter().map(|(c, _)| *c).collect();
    let columns = columns.join(", ");
    let mut changed = 0;
    let mut rest = rows.as_slice();
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(chunk_len(rest.len()));
        rest = after;
        let sql = format!(
            "INSERT INTO {} ({columns}) VALUES {} {}",
            spec.table,
            placeholders(chunk.len(), spec.columns.len()),
            spec.on_conflict
        );
        let mut args = AnyArguments::default();
        for cell in chunk.iter().flatten() {
            match cell {
                Cell::Text(t) => add(&mut args, t.clone())?,
                Cell::Int(i) => add(&mut args, *i)?,
            }
        }
        changed += sqlx::query_with(&sql, args)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(changed)
}

/// Order rows in `ORDERS` column order, the last record of each key only.
pub(super) fn order_rows(connector: &str, orders: &[Order]) -> Vec<Vec<Cell>> {
    last_by_key(orders, |o| (o.shop.as_str(), o.order_id.as_str()))
        .into_iter()
        .map(|o| {
            vec![
                Cell::Text(Some(o.shop.clone())),
                Cell::Text(Some(o.order_id.clone())),
                Cell::Int(o.paid_at.map(|t| t.timestamp())),
                Cell::Text(o.local_day.map(day_text)),
                Cell::Int(Some(o.amount_micros)),
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
                Cell::Text(Some(r.shop.clone())),
                Cell::Text(Some(r.refund_id.clone())),
                Cell::Text(Some(r.order_id.clone())),
                Cell::Int(Some(r.refunded_at.timestamp())),
                Cell::Text(Some(day_text(r.local_day))),
                Cell::Int(Some(r.amount_micros)),
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
                Cell::Text(Some(v.shop.clone())),
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

async fn insert_rejects(
    tx: &mut Transaction<'_, Any>,
    connector: &str,
    rejects: &[Reject],
) -> Result<()> {
    let now = now_unix();
    for r in last_by_key(rejects, |r| (r.source.as_str(), r.locator.as_str())) {
        sqlx::query(INSERT_REJECT)
            .bind(connector)
            .bind(&r.source)
            .bind(&r.locator)
            .bind(&r.reason)
            .bind(&r.raw)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_anonymous() {
        assert_eq!(placeholders(2, 3), "(?,?,?),(?,?,?)");
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

    #[test]
    fn the_last_record_of_a_key_wins_and_rows_come_in_key_order() {
        let items = [("b", 1), ("a", 2), ("b", 3), ("c", 4)];
        let kept: Vec<_> = last_by_key(&items, |i| i.0).into_iter().copied().collect();
        assert_eq!(kept, [("a", 2), ("b", 3), ("c", 4)]);
    }
}
