//! Snapshot queries.

use super::DbStore;
use crate::period::Period;
use crate::store::revision::append_revision;
use crate::store::values::{dec, text};
use crate::store::{now_unix, Result, SnapshotStore, StoredKpi, StoredSnapshot};
use rust_decimal::Decimal;
use sqlx::Row;

impl SnapshotStore for DbStore {
    async fn snapshot(
        &self,
        shop: &str,
        period: Period,
        revision: Option<i64>,
    ) -> Result<Option<StoredSnapshot>> {
        let head = sqlx::query(
            "SELECT id, revision, computed_at FROM snapshots \
             WHERE shop = $1 AND period_kind = $2 AND period = $3 AND ($4 < 0 OR revision = $4) \
             ORDER BY revision DESC LIMIT 1",
        )
        .bind(shop)
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .bind(revision.unwrap_or(-1))
        .fetch_optional(&self.pool)
        .await?;
        let Some(head) = head else { return Ok(None) };
        let id: i64 = head.try_get(0)?;
        let rows = sqlx::query(
            "SELECT kpi, value, target, attainment, score FROM snapshot_values WHERE snapshot_id = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut kpis = Vec::with_capacity(rows.len());
        for r in rows {
            kpis.push(StoredKpi {
                kpi: r.try_get(0)?,
                value: dec(r.try_get(1)?)?,
                target: dec(r.try_get(2)?)?,
                attainment: dec(r.try_get(3)?)?,
                score: dec(r.try_get(4)?)?,
            });
        }
        Ok(Some(StoredSnapshot {
            shop: shop.to_string(),
            period,
            revision: head.try_get(1)?,
            computed_at: head.try_get(2)?,
            kpis,
        }))
    }

    async fn latest_snapshots(&self, shop: &str) -> Result<Vec<(String, String, i64, i64)>> {
        // Day, month and year labels sort as text within their kind.
        let rows = sqlx::query(
            "SELECT s.period_kind, s.period, s.revision, s.computed_at FROM snapshots s \
             WHERE s.shop = $1 AND s.period = (SELECT MAX(p.period) FROM snapshots p \
               WHERE p.shop = s.shop AND p.period_kind = s.period_kind) \
             AND s.revision = (SELECT MAX(r.revision) FROM snapshots r \
               WHERE r.shop = s.shop AND r.period_kind = s.period_kind AND r.period = s.period) \
             ORDER BY s.period_kind",
        )
        .bind(shop)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    async fn day_values(
        &self,
        shop: &str,
        kpi: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<(String, Option<Decimal>, Option<Decimal>)>> {
        let rows = sqlx::query(
            "SELECT period, value, target FROM kpi_latest WHERE shop = $1 AND kpi = $2 \
             AND period_kind = 'day' AND period >= $3 AND period <= $4 ORDER BY period",
        )
        .bind(shop)
        .bind(kpi)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, dec(r.try_get(1)?)?, dec(r.try_get(2)?)?)))
            .collect()
    }

    async fn snapshot_shops(&self, period: Period) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT shop FROM snapshots WHERE period_kind = $1 AND period = $2 ORDER BY shop",
        )
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn write_snapshot(
        &self,
        shop: &str,
        period: Period,
        kpis: &[StoredKpi],
    ) -> Result<(i64, bool)> {
        let mut sorted: Vec<StoredKpi> = kpis
            .iter()
            .map(|k| StoredKpi {
                kpi: k.kpi.clone(),
                value: k.value.map(|d| d.normalize()),
                target: k.target.map(|d| d.normalize()),
                attainment: k.attainment.map(|d| d.normalize()),
                score: k.score.map(|d| d.normalize()),
            })
            .collect();
        sorted.sort_by(|a, b| a.kpi.cmp(&b.kpi));
        append_revision(
            format!("a snapshot revision for {shop} {period}"),
            || async {
                Ok(self.snapshot(shop, period, None).await?.and_then(|latest| {
                    let mut current = latest.kpis;
                    current.sort_by(|a, b| a.kpi.cmp(&b.kpi));
                    (current == sorted).then_some(latest.revision)
                }))
            },
            || self.insert_revision(shop, period, &sorted),
        )
        .await
    }
}

// TAIL

impl DbStore {
    async fn insert_revision(&self, shop: &str, period: Period, kpis: &[StoredKpi]) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT CAST(COALESCE(MAX(revision), 0) AS BIGINT) FROM snapshots \
             WHERE shop = $1 AND period_kind = $2 AND period = $3",
        )
        .bind(shop)
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let revision: i64 = row.try_get::<i64, _>(0)? + 1;
        let id: i64 = sqlx::query(
            "INSERT INTO snapshots (shop, period_kind, period, revision, computed_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(shop)
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .bind(revision)
        .bind(now_unix())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for k in kpis {
            sqlx::query(
                "INSERT INTO snapshot_values (snapshot_id, kpi, value, target, attainment, score) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&k.kpi)
            .bind(text(k.value))
            .bind(text(k.target))
            .bind(text(k.attainment))
            .bind(text(k.score))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(revision)
    }
}
