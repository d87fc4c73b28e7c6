//! Snapshot queries.

use super::rows::{measure_at, BindMeasure};
use super::sets::{placeholders, INSERT_ROWS};
use super::revisions::latest_revision;
use super::{value_rows, Db, DbRow, DbStore};
use crate::ids::{KpiId, ShopId};
use crate::period::{Days, Period};
use crate::store::revision::append_revision;
use crate::store::values::{day_texts, dec, norm, text};
use crate::store::{now_unix, Result, SnapshotStore, StoreError, StoredKpi, StoredSnapshot};
use rust_decimal::Decimal;
use sqlx::{Row, Transaction};
use std::collections::HashMap;

/// Shops whose new revisions go in one transaction.
const WRITE_BATCH: usize = 250;

impl SnapshotStore for DbStore {
    async fn snapshot(
        &self,
        shop: &str,
        period: Period,
        revision: Option<i64>,
    ) -> Result<Option<StoredSnapshot>> {
        let Some((head, rows)) = self
            .revision_rows(
                "SELECT id, revision, computed_at FROM snapshots \
                 WHERE shop = $1 AND period_kind = $2 AND period = $3 AND ($4 < 0 OR revision = $4) \
                 ORDER BY revision DESC LIMIT 1",
                "SELECT kpi, value, target, attainment, score FROM snapshot_values WHERE snapshot_id = $1",
                shop,
                period,
                revision,
            )
            .await?
        else {
            return Ok(None);
        };
        let kpis = rows
            .iter()
            .map(|r| stored_kpi(r.try_get(0)?, r, 0))
            .collect::<Result<_>>()?;
        Ok(Some(StoredSnapshot {
            shop: shop.into(),
            period,
            revision: head.try_get(1)?,
            computed_at: head.try_get(2)?,
            kpis,
        }))
    }

    async fn latest_snapshots(&self, shop: &str) -> Result<Vec<(String, String, i64, i64)>> {
        // Day, month and year labels sort as text within their kind.
        Ok(sqlx::query_as(
            "SELECT s.period_kind, s.period, s.revision, s.computed_at FROM snapshots s \
             WHERE s.shop = $1 AND s.period = (SELECT MAX(p.period) FROM snapshots p \
               WHERE p.shop = s.shop AND p.period_kind = s.period_kind) \
             AND s.revision = (SELECT MAX(r.revision) FROM snapshots r \
               WHERE r.shop = s.shop AND r.period_kind = s.period_kind AND r.period = s.period) \
             ORDER BY s.period_kind",
        )
        .bind(shop)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn day_values(
        &self,
        shop: &str,
        kpi: &str,
        days: Days,
    ) -> Result<Vec<(String, Option<Decimal>, Option<Decimal>)>> {
        let [from, to] = day_texts(days);
        let q = sqlx::query(
            "SELECT period, value, target FROM kpi_latest WHERE shop = $1 AND kpi = $2 \
             AND period_kind = 'day' AND period >= $3 AND period <= $4 ORDER BY period",
        )
        .bind(shop)
        .bind(kpi)
        .bind(from)
        .bind(to);
        self.read_all(q, |r| {
            Ok((
                r.try_get(0)?,
                dec("kpi_latest.value", r.try_get(1)?)?,
                dec("kpi_latest.target", r.try_get(2)?)?,
            ))
        })
        .await
    }

    async fn snapshot_shops(&self, period: Period) -> Result<Vec<ShopId>> {
        let shops = self.period_owners("snapshots", "shop", period).await?;
        Ok(shops.into_iter().map(ShopId::from).collect())
    }

    async fn write_snapshot(
        &self,
        shop: &str,
        period: Period,
        kpis: &[StoredKpi],
    ) -> Result<(i64, bool)> {
        let sorted = stored_form(kpis);
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

    async fn write_snapshots(
        &self,
        period: Period,
        snapshots: &[(ShopId, Vec<StoredKpi>)],
    ) -> Result<Vec<(i64, bool)>> {
        let shops: Vec<ShopId> = snapshots.iter().map(|(s, _)| s.clone()).collect();
        let latest = self.latest_lines(period, &shops).await?;
        let mut out = Vec::with_capacity(snapshots.len());
        let mut changed = Vec::new();
        for (i, (shop, kpis)) in snapshots.iter().enumerate() {
            let sorted = stored_form(kpis);
            match latest.get(shop) {
                Some((revision, lines)) if *lines == sorted => out.push((*revision, false)),
                other => {
                    let revision = other.map_or(0, |(r, _)| *r) + 1;
                    out.push((revision, true));
                    changed.push((i, revision, sorted));
                }
            }
        }
        for batch in changed.chunks(WRITE_BATCH) {
            let rows: Vec<(&str, i64, &[StoredKpi])> = batch
                .iter()
                .map(|(i, rev, kpis)| (snapshots[*i].0.as_str(), *rev, kpis.as_slice()))
                .collect();
            match self.insert_revisions(period, &rows).await {
                Ok(()) => {}
                // Another replica wrote one of these meanwhile: each shop of
                // the batch compares again with what is now latest.
                Err(StoreError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    for (i, _, _) in batch {
                        let (shop, kpis) = &snapshots[*i];
                        out[*i] = self.write_snapshot(shop, period, kpis).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// The line of `kpi` whose columns follow `kpi_at`: value, target,
/// attainment, score.
fn stored_kpi(kpi: KpiId, r: &DbRow, kpi_at: usize) -> Result<StoredKpi> {
    Ok(StoredKpi {
        kpi,
        measure: measure_at("snapshot_values", r, kpi_at + 1)?,
        score: dec("snapshot_values.score", r.try_get(kpi_at + 4)?)?,
    })
}

/// Lines as a revision stores them: normalized decimals, in KPI order.
fn stored_form(kpis: &[StoredKpi]) -> Vec<StoredKpi> {
    let mut sorted: Vec<StoredKpi> = kpis
        .iter()
        .map(|k| StoredKpi {
            kpi: k.kpi.clone(),
            measure: k.measure.normalized(),
            score: norm(k.score),
        })
        .collect();
    sorted.sort_by(|a, b| a.kpi.cmp(&b.kpi));
    sorted
}

impl DbStore {
    /// The latest revision of each of `shops`' snapshots of `period`, with
    /// its lines in KPI order: one query per chunk of shops.
    async fn latest_lines(
        &self,
        period: Period,
        shops: &[ShopId],
    ) -> Result<HashMap<ShopId, (i64, Vec<StoredKpi>)>> {
        let sql = |n| {
            let list = placeholders(3, n);
            format!(
                "SELECT s.shop, s.revision, v.kpi, v.value, v.target, v.attainment, v.score \
                 FROM snapshots s LEFT JOIN snapshot_values v ON v.snapshot_id = s.id \
                 WHERE s.period_kind = $1 AND s.period = $2 AND s.shop IN ({list}) \
                 AND s.revision = (SELECT MAX(r.revision) FROM snapshots r \
                   WHERE r.shop = s.shop AND r.period_kind = s.period_kind AND r.period = s.period) \
                 ORDER BY s.shop"
            )
        };
        let mut out: HashMap<ShopId, (i64, Vec<StoredKpi>)> = HashMap::new();
        self.each_row_of_chunks(
            shops,
            [period.kind().as_str().into(), period.to_string()],
            sql,
            |r| {
                let entry = out.entry(r.try_get(0)?).or_insert_with(|| (0, Vec::new()));
                entry.0 = r.try_get(1)?;
                // A revision without lines (an empty catalogue) joins to NULLs.
                let Some(kpi) = r.try_get::<Option<KpiId>, _>(2)? else {
                    return Ok(());
                };
                entry.1.push(stored_kpi(kpi, &r, 2)?);
                Ok(())
            },
        )
        .await?;
        // In Rust's order, as `stored_form` sorts: the database's collation may differ.
        for (_, lines) in out.values_mut() {
            lines.sort_by(|a, b| a.kpi.cmp(&b.kpi));
        }
        Ok(out)
    }

    /// Inserts new revisions `(shop, revision, lines)` of one period in one
    /// transaction.
    async fn insert_revisions(
        &self,
        period: Period,
        rows: &[(&str, i64, &[StoredKpi])],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        insert_revisions_in(&mut tx, period, rows).await?;
        Ok(tx.commit().await?)
    }

    /// Appends the next revision of one shop's snapshot.
    async fn insert_revision(&self, shop: &str, period: Period, kpis: &[StoredKpi]) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let revision = latest_revision(&mut tx, "snapshots", "shop", shop, period).await? + 1;
        insert_revisions_in(&mut tx, period, &[(shop, revision, kpis)]).await?;
        tx.commit().await?;
        Ok(revision)
    }
}

/// Inserts new revisions `(shop, revision, lines)` of one period in `tx`, a
/// few statements for the whole batch.
async fn insert_revisions_in(
    tx: &mut Transaction<'static, Db>,
    period: Period,
    rows: &[(&str, i64, &[StoredKpi])],
) -> Result<()> {
    let now = now_unix();
    // $1 kind, $2 period, $3 computed_at, then (shop, revision) pairs.
    let heads: Vec<String> = (0..rows.len())
        .map(|i| format!("(${}, $1, $2, ${}, $3)", 4 + 2 * i, 5 + 2 * i))
        .collect();
    let sql = format!(
        "INSERT INTO snapshots (shop, period_kind, period, revision, computed_at) \
         VALUES {} RETURNING id, shop",
        heads.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .bind(now);
    for (shop, revision, _) in rows {
        q = q.bind(*shop).bind(*revision);
    }
    let mut ids: HashMap<String, i64> = HashMap::new();
    for r in q.fetch_all(&mut **tx).await? {
        ids.insert(r.try_get(1)?, r.try_get(0)?);
    }
    let mut lines = Vec::new();
    for (shop, _, kpis) in rows {
        let id = *ids
            .get(*shop)
            .ok_or_else(|| StoreError::Corrupt(format!("no snapshot id for {shop}")))?;
        lines.extend(kpis.iter().map(|k| (id, k)));
    }
    for chunk in lines.chunks(INSERT_ROWS) {
        let sql = format!(
            "INSERT INTO snapshot_values (snapshot_id, kpi, value, target, attainment, score) VALUES {}",
            value_rows(chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for (id, k) in chunk {
            q = q
                .bind(*id)
                .bind(&k.kpi)
                .bind_measure(&k.measure)
                .bind(text(k.score));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
