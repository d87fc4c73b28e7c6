//! Scorecard, month close and appeal queries.

use super::rows::{measure_at, BindMeasure};
use super::sets::{placeholders, INSERT_ROWS};
use super::revisions::latest_revision;
use super::{value_rows, Db, DbRow, DbStore};
use crate::ids::KpiId;
use crate::period::{LocalDay, Period};
use crate::store::revision::append_revision;
use crate::store::values::{day_text, dec, decimal, norm, parse_day, period, text};
use crate::store::{
    now_unix, Appeal, MonthClose, Result, ScoreLine, ScorecardStore, StoreError, StoredScorecard,
};
use rust_decimal::Decimal;
use sqlx::{Row, Transaction};
use std::collections::HashMap;

/// Cards whose new revisions go in one transaction.
const WRITE_BATCH: usize = 250;

impl ScorecardStore for DbStore {
    async fn scorecard(
        &self,
        person: &str,
        period: Period,
        revision: Option<i64>,
    ) -> Result<Option<StoredScorecard>> {
        let Some((head, rows)) = self
            .revision_rows(
                "SELECT id, revision, role, total, grade, bonus, monthly_mean, reason, computed_at \
                 FROM scorecards WHERE person = $1 AND period_kind = $2 AND period = $3 \
                 AND ($4 < 0 OR revision = $4) ORDER BY revision DESC LIMIT 1",
                "SELECT kpi, value, target, attainment, weight, score FROM scorecard_lines \
                 WHERE scorecard_id = $1 ORDER BY position",
                person,
                period,
                revision,
            )
            .await?
        else {
            return Ok(None);
        };
        let mut card = card_head(person.to_string(), period, &head)?;
        for r in rows {
            card.lines.push(card_line(r.try_get(0)?, &r, 0)?);
        }
        Ok(Some(card))
    }

    async fn scorecard_people(&self, period: Period) -> Result<Vec<String>> {
        self.period_owners("scorecards", "person", period).await
    }

    async fn write_scorecard(&self, card: &StoredScorecard, force: bool) -> Result<(i64, bool)> {
        let card = stored_form(card);
        append_revision(
            format!("a scorecard revision for {} {}", card.person, card.period),
            || async {
                Ok(self
                    .scorecard(&card.person, card.period, None)
                    .await?
                    .filter(|latest| !force && latest.same_content(&card))
                    .map(|latest| latest.revision))
            },
            || self.insert_scorecard(&card),
        )
        .await
    }

    async fn write_scorecards(
        &self,
        period: Period,
        cards: &[StoredScorecard],
    ) -> Result<Vec<(i64, bool)>> {
        let people: Vec<String> = cards.iter().map(|c| c.person.clone()).collect();
        let latest = self.latest_cards(period, &people).await?;
        let mut out = Vec::with_capacity(cards.len());
        let mut changed = Vec::new();
        for (i, card) in cards.iter().enumerate() {
            let card = stored_form(card);
            match latest.get(&card.person) {
                Some(l) if l.same_content(&card) => out.push((l.revision, false)),
                other => {
                    let revision = other.map_or(0, |l| l.revision) + 1;
                    out.push((revision, true));
                    changed.push((i, StoredScorecard { revision, ..card }));
                }
            }
        }
        for batch in changed.chunks(WRITE_BATCH) {
            let rows: Vec<&StoredScorecard> = batch.iter().map(|(_, c)| c).collect();
            match self.insert_scorecards(period, &rows).await {
                Ok(()) => {}
                // Another replica wrote one of these meanwhile: each card of
                // the batch compares again with what is now latest.
                Err(StoreError::Sql(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                    for (i, _) in batch {
                        out[*i] = self.write_scorecard(&cards[*i], false).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn month_close(&self, month: Period) -> Result<Option<MonthClose>> {
        let row = sqlx::query(
            "SELECT closed_at, closed_on, closed_by FROM month_closes WHERE period = $1",
        )
        .bind(month.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(MonthClose {
                period: month,
                closed_at: r.try_get(0)?,
                closed_on: parse_day("month_closes.closed_on", r.try_get(1)?)?,
                closed_by: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn close_month(&self, month: Period, on: LocalDay, by: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO month_closes (period, closed_at, closed_on, closed_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (period) DO NOTHING",
        )
        .bind(month.to_string())
        .bind(now_unix())
        .bind(day_text(on))
        .bind(by)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    async fn closed_months(&self, year: i32) -> Result<Vec<Period>> {
        let q = sqlx::query("SELECT period FROM month_closes WHERE period LIKE $1 ORDER BY period")
            .bind(format!("{year:04}-%"));
        self.read_all(q, |r| period("month", &r.try_get::<String, _>(0)?))
            .await
    }

    async fn open_appeal(
        &self,
        person: &str,
        month: Period,
        reason: &str,
        on: LocalDay,
        revision_before: i64,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO appeals (person, period, reason, opened_at, opened_on, status, revision_before) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6) RETURNING id",
        )
        .bind(person)
        .bind(month.to_string())
        .bind(reason)
        .bind(now_unix())
        .bind(day_text(on))
        .bind(revision_before)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    async fn appeals(&self, person: Option<&str>, month: Option<Period>) -> Result<Vec<Appeal>> {
        self.appeals_where(person, month, None).await
    }

    async fn appeal(&self, id: i64) -> Result<Option<Appeal>> {
        Ok(self.appeals_where(None, None, Some(id)).await?.pop())
    }

    async fn add_adjustments(
        &self,
        appeal: i64,
        adjustments: &[(String, Option<Decimal>, Decimal)],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (kpi, old, new) in adjustments {
            sqlx::query(
                "INSERT INTO appeal_adjustments (appeal_id, kpi, old_value, new_value) VALUES ($1, $2, $3, $4)",
            )
            .bind(appeal)
            .bind(kpi)
            .bind(text(*old))
            .bind(new.normalize().to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn resolve_appeal(
        &self,
        id: i64,
        status: &str,
        by: &str,
        note: &str,
        revision_after: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE appeals SET status = $1, resolved_by = $2, note = $3, revision_after = $4, \
             resolved_at = $5 WHERE id = $6 AND status = 'open'",
        )
        .bind(status)
        .bind(by)
        .bind(note)
        .bind(revision_after)
        .bind(now_unix())
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    async fn set_appeal_revision(&self, id: i64, revision: i64) -> Result<()> {
        sqlx::query("UPDATE appeals SET revision_after = $1 WHERE id = $2")
            .bind(revision)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A card without its lines, from columns 1 to 8 of `r`: revision, role,
/// total, grade, bonus, monthly_mean, reason, computed_at (both the card
/// query and the latest-cards join select them so).
fn card_head(person: String, period: Period, r: &DbRow) -> Result<StoredScorecard> {
    Ok(StoredScorecard {
        person,
        period,
        revision: r.try_get(1)?,
        role: r.try_get(2)?,
        total: dec("scorecards.total", r.try_get(3)?)?,
        grade: r.try_get(4)?,
        bonus: dec("scorecards.bonus", r.try_get(5)?)?,
        monthly_mean: dec("scorecards.monthly_mean", r.try_get(6)?)?,
        reason: r.try_get(7)?,
        computed_at: r.try_get(8)?,
        lines: Vec::new(),
    })
}

/// The line of `kpi` whose columns follow `kpi_at`: value, target,
/// attainment, weight, score.
fn card_line(kpi: KpiId, r: &DbRow, kpi_at: usize) -> Result<ScoreLine> {
    Ok(ScoreLine {
        kpi,
        measure: measure_at("scorecard_lines", r, kpi_at + 1)?,
        weight: dec("scorecard_lines.weight", r.try_get(kpi_at + 4)?)?.unwrap_or_default(),
        score: dec("scorecard_lines.score", r.try_get(kpi_at + 5)?)?,
    })
}

/// A card as a revision stores it: normalized decimals.
fn stored_form(card: &StoredScorecard) -> StoredScorecard {
    let mut card = card.clone();
    card.total = norm(card.total);
    card.bonus = norm(card.bonus);
    card.monthly_mean = norm(card.monthly_mean);
    for l in &mut card.lines {
        l.measure = l.measure.normalized();
        l.weight = l.weight.normalize();
        l.score = norm(l.score);
    }
    card
}

impl DbStore {
    /// The latest revision of each of `people`'s scorecards of `period`:
    /// one query per chunk of people.
    async fn latest_cards(
        &self,
        period: Period,
        people: &[String],
    ) -> Result<HashMap<String, StoredScorecard>> {
        let sql = |n| {
            let list = placeholders(3, n);
            format!(
                "SELECT s.person, s.revision, s.role, s.total, s.grade, s.bonus, s.monthly_mean, \
                 s.reason, s.computed_at, l.kpi, l.value, l.target, l.attainment, l.weight, l.score \
                 FROM scorecards s LEFT JOIN scorecard_lines l ON l.scorecard_id = s.id \
                 WHERE s.period_kind = $1 AND s.period = $2 AND s.person IN ({list}) \
                 AND s.revision = (SELECT MAX(r.revision) FROM scorecards r \
                   WHERE r.person = s.person AND r.period_kind = s.period_kind AND r.period = s.period) \
                 ORDER BY s.person, l.position"
            )
        };
        let mut out: HashMap<String, StoredScorecard> = HashMap::new();
        self.each_row_of_chunks(
            people,
            [period.kind().as_str().into(), period.to_string()],
            sql,
            |r| {
                let person: String = r.try_get(0)?;
                if !out.contains_key(&person) {
                    out.insert(person.clone(), card_head(person.clone(), period, &r)?);
                }
                // A card without lines joins to NULLs.
                let Some(kpi) = r.try_get::<Option<KpiId>, _>(9)? else {
                    return Ok(());
                };
                let card = out.get_mut(&person).expect("inserted above");
                card.lines.push(card_line(kpi, &r, 9)?);
                Ok(())
            },
        )
        .await?;
        Ok(out)
    }

    /// Inserts new revisions of one period's cards in one transaction.
    async fn insert_scorecards(&self, period: Period, cards: &[&StoredScorecard]) -> Result<()> {
        if cards.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        insert_scorecards_in(&mut tx, period, cards).await?;
        Ok(tx.commit().await?)
    }

    /// Appends the next revision of one person's scorecard.
    async fn insert_scorecard(&self, card: &StoredScorecard) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let latest =
            latest_revision(&mut tx, "scorecards", "person", &card.person, card.period).await?;
        let card = StoredScorecard {
            revision: latest + 1,
            ..card.clone()
        };
        insert_scorecards_in(&mut tx, card.period, &[&card]).await?;
        tx.commit().await?;
        Ok(card.revision)
    }

    async fn appeals_where(
        &self,
        person: Option<&str>,
        month: Option<Period>,
        id: Option<i64>,
    ) -> Result<Vec<Appeal>> {
        let rows = sqlx::query(
            "SELECT id, person, period, reason, opened_at, opened_on, status, revision_before, \
             revision_after, resolved_at, resolved_by, note FROM appeals \
             WHERE ($1 = '' OR person = $1) AND ($2 = '' OR period = $2) AND ($3 < 0 OR id = $3) \
             ORDER BY id DESC",
        )
        .bind(person.unwrap_or(""))
        .bind(month.map(|m| m.to_string()).unwrap_or_default())
        .bind(id.unwrap_or(-1))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let adj = sqlx::query(
                "SELECT kpi, old_value, new_value FROM appeal_adjustments WHERE appeal_id = $1 ORDER BY kpi",
            )
            .bind(id);
            let adjustments = self
                .read_all(adj, |a| {
                    Ok((
                        a.try_get(0)?,
                        dec("appeal_adjustments.old_value", a.try_get(1)?)?,
                        decimal("appeal_adjustments.new_value", a.try_get(2)?)?,
                    ))
                })
                .await?;
            out.push(Appeal {
                id,
                person: r.try_get(1)?,
                period: period("month", &r.try_get::<String, _>(2)?)?,
                reason: r.try_get(3)?,
                opened_at: r.try_get(4)?,
                opened_on: parse_day("appeals.opened_on", r.try_get(5)?)?,
                status: r.try_get(6)?,
                revision_before: r.try_get(7)?,
                revision_after: r.try_get(8)?,
                resolved_at: r.try_get(9)?,
                resolved_by: r.try_get(10)?,
                note: r.try_get(11)?,
                adjustments,
            });
        }
        Ok(out)
    }
}

/// Inserts new revisions of one period's cards in `tx`, a few statements for
/// the whole batch.
async fn insert_scorecards_in(
    tx: &mut Transaction<'static, Db>,
    period: Period,
    cards: &[&StoredScorecard],
) -> Result<()> {
    let now = now_unix();
    // $1 kind, $2 period, $3 computed_at, then 8 parameters a card.
    let heads: Vec<String> = (0..cards.len())
        .map(|i| {
            let b = 3 + 8 * i;
            format!(
                "(${}, $1, $2, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $3)",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO scorecards (person, period_kind, period, revision, role, total, grade, \
         bonus, monthly_mean, reason, computed_at) VALUES {} RETURNING id, person",
        heads.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .bind(now);
    for c in cards {
        q = q
            .bind(&c.person)
            .bind(c.revision)
            .bind(&c.role)
            .bind(text(c.total))
            .bind(c.grade.clone())
            .bind(text(c.bonus))
            .bind(text(c.monthly_mean))
            .bind(&c.reason);
    }
    let mut ids: HashMap<String, i64> = HashMap::new();
    for r in q.fetch_all(&mut **tx).await? {
        ids.insert(r.try_get(1)?, r.try_get(0)?);
    }
    let mut lines = Vec::new();
    for c in cards {
        let id = *ids
            .get(&c.person)
            .ok_or_else(|| StoreError::Corrupt(format!("no scorecard id for {}", c.person)))?;
        lines.extend(c.lines.iter().enumerate().map(|(i, l)| (id, i as i64, l)));
    }
    for chunk in lines.chunks(INSERT_ROWS) {
        let sql = format!(
            "INSERT INTO scorecard_lines (scorecard_id, position, kpi, value, target, \
             attainment, weight, score) VALUES {}",
            value_rows(chunk.len(), 8)
        );
        let mut q = sqlx::query(&sql);
        for (id, pos, l) in chunk {
            q = q
                .bind(*id)
                .bind(*pos)
                .bind(&l.kpi)
                .bind_measure(&l.measure)
                .bind(l.weight.normalize().to_string())
                .bind(text(l.score));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
