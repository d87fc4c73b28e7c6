//! Alert state, silence and outbox queries.

use super::rows::{measure_at, BindMeasure};
use super::{Db, DbRow, DbStore};
use crate::measure::Reading;
use crate::store::values::{dec, text};
use crate::store::{
    AlertDecisions, AlertRow, AlertState, Decisions, Delivery, OutboxDraft, OutboxRow, Result,
    Silence, StoreError,
};
use sqlx::{Row, Transaction};

// The measure's columns together, as `measure_at` reads them.
const ALERT_COLUMNS: &str = "id, rule, scope_kind, scope_id, kpi, period, state, breaches, period_label, \
     value, target, attainment, threshold, since, started_at, last_notified_at, evaluated_at, last_sent_at";

fn alert_row(r: &DbRow) -> Result<AlertRow> {
    Ok(AlertRow {
        id: r.try_get(0)?,
        rule: r.try_get(1)?,
        scope_kind: r.try_get(2)?,
        scope_id: r.try_get(3)?,
        kpi: r.try_get(4)?,
        period: r.try_get(5)?,
        state: r.try_get(6)?,
        breaches: r.try_get(7)?,
        period_label: r.try_get(8)?,
        reading: Reading {
            measure: measure_at("alerts", r, 9)?,
            threshold: dec("alerts.threshold", r.try_get(12)?)?,
        },
        since: r.try_get(13)?,
        started_at: r.try_get(14)?,
        last_notified_at: r.try_get(15)?,
        evaluated_at: r.try_get(16)?,
        last_sent_at: r.try_get(17)?,
    })
}

const OUTBOX_COLUMNS: &str =
    "id, created_at, channel, kind, scope, alert_ids, message, status, attempts, \
     sent_at, detail, error";

fn outbox_row(r: &DbRow) -> Result<OutboxRow> {
    let ids: String = r.try_get(5)?;
    Ok(OutboxRow {
        id: r.try_get(0)?,
        created_at: r.try_get(1)?,
        channel: r.try_get(2)?,
        kind: r.try_get(3)?,
        scope: r.try_get(4)?,
        alert_ids: ids.split(',').filter_map(|s| s.parse().ok()).collect(),
        message: r.try_get(6)?,
        status: r.try_get(7)?,
        attempts: r.try_get(8)?,
        sent_at: r.try_get(9)?,
        detail: r.try_get(10)?,
        error: r.try_get(11)?,
    })
}

fn silence_row(r: &DbRow) -> Result<Silence> {
    let matchers: String = r.try_get(1)?;
    let matchers: Vec<(String, String)> = serde_json::from_str(&matchers)
        .map_err(|e| StoreError::Corrupt(format!("silence matchers `{matchers}`: {e}")))?;
    Ok(Silence {
        id: r.try_get(0)?,
        matchers,
        starts_at: r.try_get(2)?,
        ends_at: r.try_get(3)?,
        comment: r.try_get(4)?,
        created_by: r.try_get(5)?,
    })
}

impl AlertState for DbStore {
    async fn enqueue_notification(&self, clock: i64, draft: &OutboxDraft) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id = insert_outbox(&mut tx, clock, draft, "").await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn alerts(&self) -> Result<Vec<AlertRow>> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts ORDER BY scope_kind, scope_id, rule, kpi");
        self.read_all(sqlx::query(&sql), alert_row).await
    }

    async fn outbox_due(&self, now: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM alert_outbox WHERE status = 'pending' \
             OR (status = 'sending' AND claimed_until < $1) ORDER BY id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn claim_notification(
        &self,
        id: i64,
        owner: &str,
        until: i64,
        now: i64,
    ) -> Result<Option<OutboxRow>> {
        let done = sqlx::query(
            "UPDATE alert_outbox SET status = 'sending', owner = $2, claimed_until = $3, attempts = attempts + 1 \
             WHERE id = $1 AND (status = 'pending' OR (status = 'sending' AND claimed_until < $4))",
        )
        .bind(id)
        .bind(owner)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        outbox_row(&row).map(Some)
    }

    async fn finish_notification(
        &self,
        row: &OutboxRow,
        owner: &str,
        outcome: Delivery<'_>,
        now: i64,
    ) -> Result<()> {
        let (status, detail, error) = match outcome {
            Delivery::Sent { detail } => ("sent", Some(detail), None),
            Delivery::Failed { error } => ("failed", None, Some(error)),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE alert_outbox SET status = $3, sent_at = $4, detail = $5, error = $6, claimed_until = 0 \
             WHERE id = $1 AND owner = $2",
        )
        .bind(row.id)
        .bind(owner)
        .bind(status)
        .bind(now)
        .bind(detail)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        if let Delivery::Sent { .. } = outcome {
            for id in &row.alert_ids {
                sqlx::query("UPDATE alerts SET last_sent_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn notifications(&self, limit: i64) -> Result<Vec<OutboxRow>> {
        self.notifications_before(None, limit).await
    }

    async fn notifications_before(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let sql =
            format!("SELECT {OUTBOX_COLUMNS} FROM alert_outbox WHERE id < $2 ORDER BY id DESC LIMIT $1");
        let q = sqlx::query(&sql)
            .bind(limit)
            .bind(before.unwrap_or(i64::MAX));
        self.read_all(q, outbox_row).await
    }

    async fn add_silence(&self, s: &Silence) -> Result<i64> {
        let matchers =
            serde_json::to_string(&s.matchers).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(sqlx::query_scalar(
            "INSERT INTO alert_silences (matchers, starts_at, ends_at, comment, created_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(matchers)
        .bind(s.starts_at)
        .bind(s.ends_at)
        .bind(&s.comment)
        .bind(&s.created_by)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn silences(&self, now: i64) -> Result<Vec<Silence>> {
        let q = sqlx::query(
            "SELECT id, matchers, starts_at, ends_at, comment, created_by FROM alert_silences \
             WHERE ends_at > $1 ORDER BY id",
        )
        .bind(now);
        self.read_all(q, silence_row).await
    }

    async fn expire_silence(&self, id: i64, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE alert_silences SET ends_at = $2 WHERE id = $1 AND ends_at > $2")
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn insert_outbox(
    tx: &mut Transaction<'_, Db>,
    clock: i64,
    o: &OutboxDraft,
    alert_ids: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO alert_outbox (created_at, channel, kind, scope, alert_ids, message, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(clock)
    .bind(&o.channel)
    .bind(&o.kind)
    .bind(&o.scope)
    .bind(alert_ids)
    .bind(&o.message)
    .bind(&o.status)
    .fetch_one(&mut **tx)
    .await?)
}

impl AlertDecisions for DbStore {
    async fn decide_alerts<R: Send>(
        &self,
        evaluated_at: i64,
        clock: i64,
        owner: &str,
        decide: impl FnOnce(Vec<AlertRow>, Vec<Silence>) -> (Decisions, R) + Send,
    ) -> Result<R> {
        let mut tx = self.pool.begin().await?;
        // The row lock comes first: a second replica waits here and then
        // reads the state the first one committed.
        sqlx::query("UPDATE alert_evaluation_lock SET evaluated_at = $1, owner = $2 WHERE id = 1")
            .bind(evaluated_at)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts ORDER BY id"))
            .fetch_all(&mut *tx)
            .await?;
        let alerts = rows.iter().map(alert_row).collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT id, matchers, starts_at, ends_at, comment, created_by FROM alert_silences \
             WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id",
        )
        .bind(clock)
        .fetch_all(&mut *tx)
        .await?;
        let silences = rows.iter().map(silence_row).collect::<Result<Vec<_>>>()?;

        let (decisions, out) = decide(alerts, silences);
        let mut ids = Vec::with_capacity(decisions.alerts.len());
        for a in &decisions.alerts {
            let row = sqlx::query(
                "INSERT INTO alerts (rule, scope_kind, scope_id, kpi, period, state, breaches, period_label, \
                 value, target, attainment, threshold, since, started_at, last_notified_at, evaluated_at, last_sent_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 ON CONFLICT (rule, scope_kind, scope_id, kpi) DO UPDATE SET period = $5, state = $6, \
                 breaches = $7, period_label = $8, value = $9, target = $10, attainment = $11, threshold = $12, \
                 since = $13, started_at = $14, last_notified_at = $15, evaluated_at = $16 RETURNING id",
            )
            .bind(&a.rule)
            .bind(&a.scope_kind)
            .bind(&a.scope_id)
            .bind(&a.kpi)
            .bind(&a.period)
            .bind(&a.state)
            .bind(a.breaches)
            .bind(&a.period_label)
            .bind_measure(&a.reading.measure)
            .bind(text(a.reading.threshold))
            .bind(a.since)
            .bind(a.started_at)
            .bind(a.last_notified_at)
            .bind(a.evaluated_at)
            .bind(a.last_sent_at)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(row.try_get::<i64, _>(0)?);
        }
        for (i, from, to) in &decisions.history {
            let a = &decisions.alerts[*i];
            sqlx::query(
                "INSERT INTO alert_history (alert_id, from_state, to_state, at, value, threshold) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ids[*i])
            .bind(from)
            .bind(to)
            .bind(evaluated_at)
            .bind(text(a.reading.measure.value))
            .bind(text(a.reading.threshold))
            .execute(&mut *tx)
            .await?;
        }
        for o in &decisions.outbox {
            let alert_ids: Vec<String> = o.alerts.iter().map(|i| ids[*i].to_string()).collect();
            insert_outbox(&mut tx, clock, o, &alert_ids.join(",")).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}
