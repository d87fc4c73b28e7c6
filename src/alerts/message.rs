//! What a notification says, independent of the channel that carries it.
//!
//! The evaluation side builds these from alert state and KPI values; every
//! channel renders them in its own format and the configured language.

use crate::ids::ShopId;
use crate::kpi::catalogue::{Direction, Unit};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::config::Language;

/// The state an alert is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// The running period a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchPeriod {
    /// Today so far in the shop's zone.
    Today,
    /// Yesterday, complete.
    Day,
    /// Month to date through yesterday.
    Month,
}

impl WatchPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchPeriod::Today => "today",
            WatchPeriod::Day => "day",
            WatchPeriod::Month => "month",
        }
    }
}

/// One alert as it is delivered (a firing or a resolved notice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotice {
    /// The rule's name (`alertname` in Alertmanager).
    pub rule: String,
    pub kpi: String,
    pub kpi_name_zh: String,
    pub kpi_name_en: String,
    pub unit: Unit,
    pub direction: Direction,
    pub period: WatchPeriod,
    /// The days evaluated, for people: `2026-10-05`, `2026-10-01..2026-10-09`.
    pub period_label: String,
    /// The shop the value belongs to (for a person's alert: none).
    pub shop: Option<String>,
    /// The person, for scorecard KPIs.
    pub person: Option<String>,
    /// `Firing` or `Resolved`.
    pub state: AlertState,
    /// `warning`, `critical`, … as configured.
    pub severity: String,
    /// The rule's condition (`below_target`, `drop`, …).
    pub condition: String,
    /// The value evaluated.
    pub value: Option<Decimal>,
    /// The full target of the period (before pro-rating), if any.
    pub target: Option<Decimal>,
    /// The effective value compared with (e.g. pro-rated target × threshold).
    pub threshold: Option<Decimal>,
    /// value against the (pro-rated) target, as a fraction, if there is one.
    pub attainment: Option<Decimal>,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolved (resolved notices only).
    pub ends_at: Option<DateTime<Utc>>,
}

/// The alerts of one scope (a shop or a person) that changed in one
/// evaluation: one message per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertGroup {
    /// `shop` or `person` id the group is about.
    pub scope: String,
    pub alerts: Vec<AlertNotice>,
}

/// One KPI line of a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestLine {
    pub kpi: String,
    pub kpi_name_zh: String,
    pub kpi_name_en: String,
    pub unit: Unit,
    pub direction: Direction,
    /// Yesterday.
    pub day_value: Option<Decimal>,
    pub day_target: Option<Decimal>,
    pub day_attainment: Option<Decimal>,
    /// Change of yesterday against the day before, as a fraction.
    pub change_previous_day: Option<Decimal>,
    /// Change of yesterday against the same weekday a week earlier.
    pub change_same_day_last_week: Option<Decimal>,
    /// Month to date through yesterday.
    pub month_value: Option<Decimal>,
    /// The full month target.
    pub month_target: Option<Decimal>,
    /// Month to date against the target pro-rated by completed days.
    pub month_attainment: Option<Decimal>,
}

/// A digest for one shop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopDigest {
    pub shop: ShopId,
    pub currency: String,
    /// Yesterday, `YYYY-MM-DD`.
    pub day: String,
    /// `YYYY-MM`, and the days covered (`2026-10-01..2026-10-09`); none on the 1st.
    pub month: String,
    pub month_to_date: Option<String>,
    pub lines: Vec<DigestLine>,
    /// Alerts firing for the shop when the digest was made.
    pub firing: Vec<AlertNotice>,
}

/// A scheduled summary (`[[alerts.digests]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub name: String,
    pub shops: Vec<ShopDigest>,
}

/// Everything a channel may be asked to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Alerts(AlertGroup),
    Digest(Digest),
    /// `kpid alerts test --channel NAME`.
    Test {
        channel: String,
    },
}

/// What every rendering needs besides the message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RenderOptions {
    pub language: Language,
    /// `[alerts] dashboard_url`, linked from messages when set.
    pub dashboard_url: Option<String>,
}
