//! Alert state, history, silences and the notification outbox.
//!
//! Deciding is one transaction: it first takes the row lock of
//! `alert_evaluation_lock` (so replicas decide one at a time and each sees
//! the state the other left), reads the alerts and silences, and writes the
//! changed alerts, their history and the decided notifications together. A
//! crash before the commit decides nothing; after it, the outbox holds what
//! is still to be sent.

use crate::ids::KpiId;
use crate::measure::Reading;

/// The stored state of one (rule, scope, KPI).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertRow {
    /// 0 for an alert not stored yet.
    pub id: i64,
    pub rule: String,
    pub scope_kind: String,
    pub scope_id: String,
    pub kpi: KpiId,
    pub period: String,
    pub state: String,
    pub breaches: i64,
    pub period_label: String,
    pub reading: Reading,
    pub since: i64,
    pub started_at: Option<i64>,
    pub last_notified_at: Option<i64>,
    pub evaluated_at: i64,
    pub last_sent_at: Option<i64>,
}

/// A silence: alerts whose labels match every matcher send nothing while
/// it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub id: i64,
    pub matchers: Vec<(String, String)>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub comment: String,
    pub created_by: String,
}

/// A notification to write with the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxDraft {
    pub channel: String,
    /// `alerts`, `digest` or `test`.
    pub kind: String,
    pub scope: String,
    /// Positions in [`Decisions::alerts`] of the alerts it is about.
    pub alerts: Vec<usize>,
    /// The message as JSON.
    pub message: String,
    /// `pending` (to send) or `silenced` (kept for history, never sent).
    pub status: String,
}

/// What one evaluation decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decisions {
    /// Alerts to write (new or changed).
    pub alerts: Vec<AlertRow>,
    /// State changes: (position in `alerts`, from, to).
    pub history: Vec<(usize, String, String)>,
    pub outbox: Vec<OutboxDraft>,
}

/// How the delivery of a claimed notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// Sent; `detail` is the service's receipt.
    Sent { detail: &'a str },
    /// Failed for good; `error` says why.
    Failed { error: &'a str },
}

/// A row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub created_at: i64,
    pub channel: String,
    pub kind: String,
    pub scope: String,
    pub alert_ids: Vec<i64>,
    pub message: String,
    pub status: String,
    pub attempts: i64,
    pub sent_at: Option<i64>,
    pub detail: Option<String>,
    pub error: Option<String>,
}
