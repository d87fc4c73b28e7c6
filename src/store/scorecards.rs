//! Append-only scorecards, month closes and appeals.

use crate::ids::KpiId;
use crate::measure::Measure;
use crate::period::{LocalDay, Period};
use rust_decimal::Decimal;

/// One KPI of a scorecard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreLine {
    pub kpi: KpiId,
    pub measure: Measure,
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
    pub(super) fn same_content(&self, other: &StoredScorecard) -> bool {
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
    pub closed_on: LocalDay,
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
    pub opened_on: LocalDay,
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
