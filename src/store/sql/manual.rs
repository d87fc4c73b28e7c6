//! Manual input and imported target queries.

use super::DbStore;
use crate::store::values::{dec, decimal, text};
use crate::store::{now_unix, ManualChange, ManualInput, ManualInputs, Result, TargetRow};
use sqlx::Row;

impl ManualInputs for DbStore {
    async fn set_manual_input(&self, change: &ManualChange) -> Result<Option<ManualChange>> {
        let mut tx = self.begin_write().await?;
        let old = sqlx::query(
            "SELECT value FROM manual_inputs WHERE person = $1 AND input = $2 AND period = $3",
        )
        .bind(&change.person)
        .bind(&change.input)
        .bind(&change.period)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<String, _>(0))
        .transpose()?;
        let old = dec("manual_inputs.value", old)?;
        if old.map(|o| o.normalize()) == Some(change.new_value.normalize()) {
            return Ok(None);
        }
        let now = now_unix();
        let value = change.new_value.normalize().to_string();
        sqlx::query(
            "INSERT INTO manual_inputs (person, input, period, value, updated_by, updated_at, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (person, input, period) DO UPDATE SET \
             value = excluded.value, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at, note = excluded.note",
        )
        .bind(&change.person)
        .bind(&change.input)
        .bind(&change.period)
        .bind(&value)
        .bind(&change.changed_by)
        .bind(now)
        .bind(change.note.clone())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO manual_input_audit (person, input, period, old_value, new_value, \
             changed_by, changed_at, note, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&change.person)
        .bind(&change.input)
        .bind(&change.period)
        .bind(text(old))
        .bind(&value)
        .bind(&change.changed_by)
        .bind(now)
        .bind(change.note.clone())
        .bind(&change.source)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(ManualChange {
            old_value: old,
            changed_at: now,
            ..change.clone()
        }))
    }

    async fn manual_inputs(&self, person: Option<&str>) -> Result<Vec<ManualInput>> {
        let q = sqlx::query(
            "SELECT person, input, period, value, updated_by, updated_at, note FROM manual_inputs \
             WHERE ($1 = '' OR person = $1) ORDER BY person, period, input",
        )
        .bind(person.unwrap_or(""));
        self.read_all(q, |r| {
            Ok(ManualInput {
                person: r.try_get(0)?,
                input: r.try_get(1)?,
                period: r.try_get(2)?,
                value: decimal("manual_inputs.value", r.try_get(3)?)?,
                updated_by: r.try_get(4)?,
                updated_at: r.try_get(5)?,
                note: r.try_get(6)?,
            })
        })
        .await
    }

    async fn manual_history(&self, person: Option<&str>) -> Result<Vec<ManualChange>> {
        let q = sqlx::query(
            "SELECT person, input, period, old_value, new_value, changed_by, changed_at, note, source \
             FROM manual_input_audit WHERE ($1 = '' OR person = $1) ORDER BY id",
        )
        .bind(person.unwrap_or(""));
        self.read_all(q, |r| {
            Ok(ManualChange {
                person: r.try_get(0)?,
                input: r.try_get(1)?,
                period: r.try_get(2)?,
                old_value: dec("manual_input_audit.old_value", r.try_get(3)?)?,
                new_value: decimal("manual_input_audit.new_value", r.try_get(4)?)?,
                changed_by: r.try_get(5)?,
                changed_at: r.try_get(6)?,
                note: r.try_get(7)?,
                source: r.try_get(8)?,
            })
        })
        .await
    }

    async fn import_targets(&self, targets: &[TargetRow], file: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let now = now_unix();
        let mut changed = 0;
        for t in targets {
            changed += sqlx::query(
                "INSERT INTO targets (kpi, scope_kind, scope_id, period, value, file, imported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kpi, scope_kind, scope_id, period) \
                 DO UPDATE SET value = excluded.value, file = excluded.file, imported_at = excluded.imported_at \
                 WHERE targets.value <> excluded.value",
            )
            .bind(&t.kpi)
            .bind(&t.scope_kind)
            .bind(&t.scope_id)
            .bind(&t.period)
            .bind(t.value.normalize().to_string())
            .bind(file)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn imported_targets(&self) -> Result<Vec<TargetRow>> {
        let q = sqlx::query(
            "SELECT kpi, scope_kind, scope_id, period, value, file, imported_at FROM targets \
             ORDER BY kpi, scope_kind, scope_id, period",
        );
        self.read_all(q, |r| {
            Ok(TargetRow {
                kpi: r.try_get(0)?,
                scope_kind: r.try_get(1)?,
                scope_id: r.try_get(2)?,
                period: r.try_get(3)?,
                value: decimal("targets.value", r.try_get(4)?)?,
                file: r.try_get(5)?,
                imported_at: r.try_get(6)?,
            })
        })
        .await
    }
}
