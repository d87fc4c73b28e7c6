//! Fact queries.

use super::rows::DbQuery;
use super::sets::{placeholders, values_table, CHUNK};
use super::{
    paid_totals_of, DbRow, DbStore, MANY_DAYS_WITH, MANY_ORDERS_FROM, SHOP_DAYS_WITH,
    SHOP_ORDERS_FROM,
};
use crate::facts::{Batch, Reject};
use crate::ids::ShopId;
use crate::money::Money;
use crate::period::{Days, LocalDay};
use crate::store::facts::fold_daily;
use crate::store::values::{day_texts, parse_day};
use crate::store::{
    now_unix, DailyAggregate, DailyRow, FactsReader, FactsWriter, RecordTotals, Result,
    PAID_TOTALS,
};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

impl FactsWriter for DbStore {
    async fn commit_batch(&self, connector: &str, batch: &Batch) -> Result<u64> {
        self.commit(connector, batch).await
    }

    async fn file_imported(&self, connector: &str, path: &str, sha256: &str) -> Result<bool> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM imported_files WHERE connector = $1 AND path = $2 AND sha256 = $3",
        )
        .bind(connector)
        .bind(path)
        .bind(sha256)
        .fetch_one(&self.pool)
        .await?;
        Ok(count > 0)
    }

    async fn cursor(&self, connector: &str, stream: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT cursor FROM connector_state WHERE connector = $1 AND stream = $2",
        )
        .bind(connector)
        .bind(stream)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn set_cursor(&self, connector: &str, stream: &str, cursor: &str) -> Result<()> {
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

    async fn daily_dimensions(
        &self,
        connector: &str,
        shop: &str,
        input: &str,
        days: Days,
    ) -> Result<Vec<(LocalDay, String)>> {
        let [from, to] = day_texts(days);
        let q = sqlx::query(
            "SELECT day, dimension FROM daily_values WHERE connector = $1 AND shop = $2 \
             AND input = $3 AND day >= $4 AND day <= $5 ORDER BY day, dimension",
        )
        .bind(connector)
        .bind(shop)
        .bind(input)
        .bind(from)
        .bind(to);
        self.read_all(q, |row| {
            let day = parse_day("daily_values.day", row.try_get(0)?)?;
            Ok((day, row.try_get(1)?))
        })
        .await
    }
}

impl FactsReader for DbStore {
    async fn shop_has_orders(&self, shop: &str) -> Result<bool> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE shop = $1 LIMIT 1) t",
        )
        .bind(shop)
        .fetch_one(&self.pool)
        .await?;
        Ok(count > 0)
    }

    async fn record_days(&self, shop: &str, days: Days) -> Result<HashSet<LocalDay>> {
        let sql = format!(
            "{SHOP_DAYS_WITH}SELECT DISTINCT local_day FROM {SHOP_ORDERS_FROM} \
             UNION SELECT DISTINCT local_day FROM refunds WHERE shop = $1 AND local_day >= $2 AND local_day <= $3"
        );
        self.read_all(shop_days(&sql, shop, days), |r| {
            parse_day("local_day", r.try_get(0)?)
        })
        .await
    }

    async fn record_totals(&self, shop: &str, days: Days) -> Result<RecordTotals> {
        let sql = format!(
            "{SHOP_DAYS_WITH}SELECT {PAID_TOTALS} FROM {SHOP_ORDERS_FROM} AND status = 'paid'"
        );
        let o = shop_days(&sql, shop, days).fetch_one(&self.pool).await?;
        let r = shop_days(
            "SELECT COUNT(DISTINCT order_id), CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) \
             FROM refunds WHERE shop = $1 AND local_day >= $2 AND local_day <= $3",
            shop,
            days,
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(RecordTotals {
            orders: o.try_get(0)?,
            gmv: Money::from_micros(o.try_get(1)?),
            buyers: o.try_get(2)?,
            refund_orders: r.try_get(0)?,
            refund_amount: Money::from_micros(r.try_get(1)?),
        })
    }

    async fn daily_aggregates(
        &self,
        shop: &str,
        days: Days,
    ) -> Result<HashMap<String, DailyAggregate>> {
        fold_daily(self.daily_rows(shop, days).await?)
    }

    async fn daily_rows(&self, shop: &str, days: Days) -> Result<Vec<DailyRow>> {
        let q = shop_days(
            "SELECT input, day, dimension, value_micros FROM daily_values \
             WHERE shop = $1 AND day >= $2 AND day <= $3 ORDER BY input, day",
            shop,
            days,
        );
        self.read_all(q, |r| daily_row(r, 0)).await
    }

    async fn rejects(&self, connector: &str) -> Result<Vec<Reject>> {
        Ok(sqlx::query_as(
            "SELECT source, locator, reason, raw FROM rejects WHERE connector = $1 \
             ORDER BY source, id",
        )
        .bind(connector)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn record_totals_of(
        &self,
        shops: &[ShopId],
        days: Days,
    ) -> Result<HashMap<ShopId, RecordTotals>> {
        let mut out: HashMap<ShopId, RecordTotals> = HashMap::new();
        self.each_row_of_chunks(shops, day_texts(days), paid_totals_of, |row| {
            let t = out.entry(row.try_get(0)?).or_default();
            t.orders = row.try_get(1)?;
            t.gmv = Money::from_micros(row.try_get(2)?);
            t.buyers = row.try_get(3)?;
            Ok(())
        })
        .await?;
        let refunds = |n| {
            let list = placeholders(3, n);
            format!(
                "SELECT shop, COUNT(DISTINCT order_id), CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) \
                 FROM refunds WHERE shop IN ({list}) AND local_day >= $1 AND local_day <= $2 \
                 GROUP BY shop"
            )
        };
        self.each_row_of_chunks(shops, day_texts(days), refunds, |row| {
            let t = out.entry(row.try_get(0)?).or_default();
            t.refund_orders = row.try_get(1)?;
            t.refund_amount = Money::from_micros(row.try_get(2)?);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    async fn daily_rows_of(
        &self,
        shops: &[ShopId],
        days: Days,
    ) -> Result<HashMap<ShopId, Vec<DailyRow>>> {
        let sql = |n| {
            let list = placeholders(3, n);
            format!(
                "SELECT shop, input, day, dimension, value_micros FROM daily_values \
                 WHERE shop IN ({list}) AND day >= $1 AND day <= $2 ORDER BY shop, input, day"
            )
        };
        self.by_shop(shops, days, sql, |r| daily_row(r, 1)).await
    }

    async fn record_days_of(
        &self,
        shops: &[ShopId],
        days: Days,
    ) -> Result<HashMap<ShopId, HashSet<LocalDay>>> {
        let sql = |n| {
            let list = placeholders(3, n);
            format!(
                "{MANY_DAYS_WITH}SELECT shop, local_day FROM {MANY_ORDERS_FROM} shop IN ({list}) \
                 UNION SELECT shop, local_day FROM refunds WHERE shop IN ({list}) \
                 AND local_day >= $1 AND local_day <= $2"
            )
        };
        self.by_shop(shops, days, sql, |r| parse_day("local_day", r.try_get(1)?))
            .await
    }

    async fn shops_with_orders(&self, shops: &[ShopId]) -> Result<HashSet<ShopId>> {
        self.shops_with_rows_in("orders", shops).await
    }

    async fn shops_with_refunds(&self, shops: &[ShopId]) -> Result<HashSet<ShopId>> {
        self.shops_with_rows_in("refunds", shops).await
    }

    async fn shops_with_daily_input(
        &self,
        shops: &[ShopId],
        inputs: &[&str],
    ) -> Result<HashSet<ShopId>> {
        let mut out = HashSet::new();
        for input in inputs {
            out.extend(
                self.shops_having(
                    "SELECT 1 FROM daily_values x WHERE x.shop = v.column1 AND x.input = $1",
                    shops,
                    &[input],
                )
                .await?,
            );
        }
        Ok(out)
    }
}

/// `sql` over one shop's range of days, with `$1` bound to the shop and `$2`,
/// `$3` to the range's first and last day (as [`SHOP_ORDERS_FROM`] takes them).
fn shop_days<'q>(sql: &'q str, shop: &'q str, days: Days) -> DbQuery<'q> {
    let [from, to] = day_texts(days);
    sqlx::query(sql).bind(shop).bind(from).bind(to)
}

/// A daily value whose columns start at `at`: input, day, dimension,
/// value_micros (the one-shop read selects them first, the many-shop read
/// after the shop).
fn daily_row(r: &DbRow, at: usize) -> Result<DailyRow> {
    Ok(DailyRow {
        input: r.try_get(at)?,
        day: parse_day("daily_values.day", r.try_get(at + 1)?)?,
        dimension: r.try_get(at + 2)?,
        value_micros: r.try_get(at + 3)?,
    })
}

impl DbStore {
    /// The rows of `sql` over `shops` and the range of `days` (bound as
    /// [`each_row_of_chunks`](DbStore::each_row_of_chunks) binds them),
    /// grouped by their first column, the shop; `read` reads each row.
    async fn by_shop<T, C: Default + Extend<T>>(
        &self,
        shops: &[ShopId],
        days: Days,
        sql: impl Fn(usize) -> String,
        read: impl Fn(&DbRow) -> Result<T>,
    ) -> Result<HashMap<ShopId, C>> {
        let mut out: HashMap<ShopId, C> = HashMap::new();
        self.each_row_of_chunks(shops, day_texts(days), sql, |row| {
            let item = read(&row)?;
            out.entry(row.try_get(0)?).or_default().extend([item]);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Those of `shops` with any row in `table` (`orders`, `refunds`).
    async fn shops_with_rows_in(&self, table: &str, shops: &[ShopId]) -> Result<HashSet<ShopId>> {
        let exists = format!("SELECT 1 FROM {table} x WHERE x.shop = v.column1");
        self.shops_having(&exists, shops, &[]).await
    }

    /// Those of `shops` for which `exists` (over `v.column1`, the shop, and
    /// `args` as `$1…`) finds a row: one index probe per shop, however many
    /// rows each shop has.
    async fn shops_having(
        &self,
        exists: &str,
        shops: &[ShopId],
        args: &[&str],
    ) -> Result<HashSet<ShopId>> {
        let mut out = HashSet::new();
        for chunk in shops.chunks(CHUNK) {
            let sql = format!(
                "SELECT v.column1 FROM {} AS v WHERE EXISTS ({exists})",
                values_table(args.len() + 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for a in args {
                q = q.bind(*a);
            }
            for shop in chunk {
                q = q.bind(shop);
            }
            for row in q.fetch_all(&self.pool).await? {
                out.insert(row.try_get(0)?);
            }
        }
        Ok(out)
    }
}
