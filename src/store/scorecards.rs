//! Append-only scorecards, month closes and appeals.

use super::{append_revision, now_unix, Result, Store, StoreError};
use crate::period::Period;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::Row;
use std::str::FromStr;

/// One KPI of a scorecard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreLine {
    pub kpi: String,
    pub value: Option<Decimal>,
    pub target: Option<Decimal>,
    pub attainment: Option<Decimal>,
    /// The weight this KPI carries in the total (for a category-weighted
    /// role, its share of the category's weight).
    pub weight: Decimal,
    /// `None` when the KPI has no value or no target: listed as missing.
    pub score: Option<Decimal>,
}

/// A revision of a person's scorecard for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredScorecard {
    pub person: String,
    pub period: Period,
    pub revision: i64,
    pub role: String,
    /// Weighted total over the KPIs that have a score.
    pub total: Option<Decimal>,
    pub grade: Option<String>,
    pub bonus: Option<Decimal>,
    /// Annual scorecards: the mean of the closed months' totals.
    pub monthly_mean: Option<Decimal>,
    /// `computed`, or `appeal N: …` for a revision written by an appeal.
    pub reason: String,
    pub computed_at: i64,
    pub lines: Vec<ScoreLine>,
}

impl StoredScorecard {
    /// KPIs of the role that could not be scored (no value or no target).
    pub fn missing(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.score.is_none())
            .map(|l| l.kpi.as_str())
            .collect()
    }

    /// Equal in everything but revision, reason and time.
    fn same_content(&self, other: &StoredScorecard) -> bool {
        self.role == other.role
            && self.total == other.total
            && self.grade == other.grade
            && self.bonus == other.bonus
            && self.monthly_mean == other.monthly_mean
            && self.lines == other.lines
    }
}

/// When and by whom a month was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthClose {
    pub period: Period,
    pub closed_at: i64,
    /// The local day of the close, from which appeal deadlines count.
    pub closed_on: NaiveDate,
    pub closed_by: String,
}

/// An appeal against a closed month's scorecard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appeal {
    pub id: i64,
    pub person: String,
    pub period: Period,
    pub reason: String,
    pub opened_at: i64,
    pub opened_on: NaiveDate,
    /// `open`, `accepted` or `rejected`.
    pub status: String,
    pub revision_before: i64,
    pub revision_after: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub note: Option<String>,
    /// KPI, old value, new value.
    pub adjustments: Vec<(String, Option<Decimal>, Decimal)>,
}

pub(super) fn dec(text: Option<String>) -> Result<Option<Decimal>> {
    text.map(|t| {
        Decimal::from_str(&t).map_err(|_| StoreError::Corrupt(format!("decimal value `{t}`")))
    })
    .transpose()
}

pub(super) fn text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

fn norm(d: Option<Decimal>) -> Option<Decimal> {
    d.map(|d| d.normalize())
}

fn day(text: String) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("day `{text}`")))
}

fn period(kind: &str, text: &str) -> Result<Period> {
    let p = match kind {
        "year" => Period::parse_year(text),
        "day" => Period::parse_day(text),
        _ => Period::parse_month(text),
    };
    p.map_err(|_| StoreError::Corrupt(format!("period `{text}`")))
}

impl Store {
    /// The latest revision (or a given one) of a person's scorecard.
    pub async fn scorecard(
        &self,
        person: &str,
        period: Period,
        revision: Option<i64>,
    ) -> Result<Option<StoredScorecard>> {
        let head = sqlx::query(
            "SELECT id, revision, role, total, grade, bonus, monthly_mean, reason, computed_at \
             FROM scorecards WHERE person = $1 AND period_kind = $2 AND period = $3 \
             AND ($4 < 0 OR revision = $4) ORDER BY revision DESC LIMIT 1",
        )
        .bind(person)
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .bind(revision.unwrap_or(-1))
        .fetch_optional(&self.pool)
        .await?;
        let Some(head) = head else { return Ok(None) };
        let id: i64 = head.try_get(0)?;
        let rows = sqlx::query(
            "SELECT kpi, value, target, attainment, weight, score FROM scorecard_lines \
             WHERE scorecard_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut lines = Vec::with_capacity(rows.len());
        for r in rows {
            lines.push(ScoreLine {
                kpi: r.try_get(0)?,
                value: dec(r.try_get(1)?)?,
                target: dec(r.try_get(2)?)?,
                attainment: dec(r.try_get(3)?)?,
                weight: dec(Some(r.try_get(4)?))?.unwrap_or_default(),
                score: dec(r.try_get(5)?)?,
            });
        }
        Ok(Some(StoredScorecard {
            person: person.to_string(),
            period,
            revision: head.try_get(1)?,
            role: head.try_get(2)?,
            total: dec(head.try_get(3)?)?,
            grade: head.try_get(4)?,
            bonus: dec(head.try_get(5)?)?,
            monthly_mean: dec(head.try_get(6)?)?,
            reason: head.try_get(7)?,
            computed_at: head.try_get(8)?,
            lines,
        }))
    }

    /// People with a scorecard for the period.
    pub async fn scorecard_people(&self, period: Period) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT person FROM scorecards WHERE period_kind = $1 AND period = $2 ORDER BY person",
        )
        .bind(period.kind().as_str())
        .bind(period.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Writes `card` as a new revision unless the latest holds the same
    /// content (`force` writes anyway: an accepted appeal always leaves a
    /// revision). Returns the revision now current and whether it is new.
    pub async fn write_scorecard(
        &self,
        card: &StoredScorecard,
        force: bool,
    ) -> Result<(i64, bool)> {
        let mut card = card.clone();
        card.total = norm(card.total);
        card.bonus = norm(card.bonus);
        card.monthly_mean = norm(card.monthly_mean);
        for l in &mut card.lines {
            l.value = norm(l.value);
            l.target = norm(l.target);
            l.attainment = norm(l.attainment);
            l.weight = l.weight.normalize();
            l.score = norm(l.score);
        }
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

    async fn insert_scorecard(&self, card: &StoredScorecard) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT CAST(COALESCE(MAX(revision), 0) AS BIGINT) FROM scorecards \
             WHERE person = $1 AND period_kind = $2 AND period = $3",
        )
        .bind(&card.person)
        .bind(card.period.kind().as_str())
        .bind(card.period.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let revision: i64 = row.try_get::<i64, _>(0)? + 1;
        let id: i64 = sqlx::query(
            "INSERT INTO scorecards (person, period_kind, period, revision, role, total, grade, \
             bonus, monthly_mean, reason, computed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(&card.person)
        .bind(card.period.kind().as_str())
        .bind(card.period.to_string())
        .bind(revision)
        .bind(&card.role)
        .bind(text(card.total))
        .bind(card.grade.clone())
        .bind(text(card.bonus))
        .bind(text(card.monthly_mean))
        .bind(&card.reason)
        .bind(now_unix())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for (i, l) in card.lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO scorecard_lines (scorecard_id, position, kpi, value, target, \
                 attainment, weight, score) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(i as i64)
            .bind(&l.kpi)
            .bind(text(l.value))
            .bind(text(l.target))
            .bind(text(l.attainment))
            .bind(l.weight.normalize().to_string())
            .bind(text(l.score))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(revision)
    }

    pub async fn month_close(&self, month: Period) -> Result<Option<MonthClose>> {
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
                closed_on: day(r.try_get(1)?)?,
                closed_by: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// Records the close; `false` when the month was already closed.
    pub async fn close_month(&self, month: Period, on: NaiveDate, by: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO month_closes (period, closed_at, closed_on, closed_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (period) DO NOTHING",
        )
        .bind(month.to_string())
        .bind(now_unix())
        .bind(on.format("%Y-%m-%d").to_string())
        .bind(by)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Closed months of a year, oldest first.
    pub async fn closed_months(&self, year: i32) -> Result<Vec<Period>> {
        let rows =
            sqlx::query("SELECT period FROM month_closes WHERE period LIKE $1 ORDER BY period")
                .bind(format!("{year:04}-%"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| period("month", &r.try_get::<String, _>(0)?))
            .collect()
    }

    pub async fn open_appeal(
        &self,
        person: &str,
        month: Period,
        reason: &str,
        on: NaiveDate,
        revision_before: i64,
    ) -> Result<i64> {
        let id: i64 = sqlx::query(
            "INSERT INTO appeals (person, period, reason, opened_at, opened_on, status, revision_before) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6) RETURNING id",
        )
        .bind(person)
        .bind(month.to_string())
        .bind(reason)
        .bind(now_unix())
        .bind(on.format("%Y-%m-%d").to_string())
        .bind(revision_before)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(id)
    }

    /// Appeals, newest first, optionally of one person or month.
    pub async fn appeals(
        &self,
        person: Option<&str>,
        month: Option<Period>,
    ) -> Result<Vec<Appeal>> {
        self.appeals_where(person, month, None).await
    }

    pub async fn appeal(&self, id: i64) -> Result<Option<Appeal>> {
        Ok(self.appeals_where(None, None, Some(id)).await?.pop())
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
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let mut adjustments = Vec::with_capacity(adj.len());
            for a in adj {
                adjustments.push((
                    a.try_get(0)?,
                    dec(a.try_get(1)?)?,
                    dec(Some(a.try_get(2)?))?.unwrap_or_default(),
                ));
            }
            out.push(Appeal {
                id,
                person: r.try_get(1)?,
                period: period("month", &r.try_get::<String, _>(2)?)?,
                reason: r.try_get(3)?,
                opened_at: r.try_get(4)?,
                opened_on: day(r.try_get(5)?)?,
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

    /// Records the KPI values an appeal sets, before the revision is written.
    pub async fn add_adjustments(
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

    /// Ends an open appeal; `false` when it was no longer open.
    pub async fn resolve_appeal(
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

    /// The revision an accepted appeal wrote.
    pub async fn set_appeal_revision(&self, id: i64, revision: i64) -> Result<()> {
        sqlx::query("UPDATE appeals SET revision_after = $1 WHERE id = $2")
            .bind(revision)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
