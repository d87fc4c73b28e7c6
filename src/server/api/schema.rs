//! The shapes of the API's documents, for the OpenAPI document only: the
//! handlers answer the JSON that [`crate::read`] and the CLI build, and the
//! API tests check those answers against these schemas.
#![allow(dead_code)]

use utoipa::{IntoParams, IntoResponses, ToSchema};

/// Numbers are exact decimals written as JSON numbers; null is "no value".
type Dec = Option<f64>;

#[derive(ToSchema)]
pub struct Error {
    /// What is wrong, naming the parameter and what it expects.
    error: String,
}

// The two refusals below are `//`-commented: a doc comment would become
// their responses' description, which the document has always left empty.

// What an endpoint that takes parameters refuses: a bad parameter, or a
// request without the token.
#[derive(IntoResponses)]
pub enum Refused {
    #[response(status = 400)]
    BadRequest(Error),
    #[response(status = 401)]
    Unauthorized(Error),
}

// What an endpoint without parameters refuses: a request without the token.
#[derive(IntoResponses)]
#[response(status = 401)]
pub struct Unauthorized(Error);

/// The parameters a revisioned read (snapshots, scorecards) takes besides
/// its `period` and whose document it reads.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionAndFormat {
    /// A revision number instead of the latest
    revision: Option<i64>,
    /// `json` (default), `csv` or `xlsx`
    format: Option<String>,
}

#[derive(ToSchema)]
pub struct LatestSnapshot {
    period: String,
    revision: i64,
    computed_at: String,
}

#[derive(ToSchema)]
pub struct Shop {
    id: String,
    timezone: String,
    currency: String,
    /// Today in the shop's zone.
    today: String,
    /// The newest snapshot of each period kind (`day`, `month`, `year`) there is.
    latest: std::collections::BTreeMap<String, LatestSnapshot>,
}

#[derive(ToSchema)]
pub struct Kpi {
    id: String,
    name_zh: String,
    name_en: String,
    formula: String,
    unit: String,
    direction: String,
    category: String,
    builtin: bool,
    /// The KPI adds up over days (a month's value is the sum of its days').
    sums_over_days: bool,
}

#[derive(ToSchema)]
pub struct SnapshotLine {
    id: String,
    value: Dec,
    unit: String,
    target: Dec,
    attainment: Dec,
    score: Dec,
}

#[derive(ToSchema)]
pub struct Snapshot {
    period: String,
    shop: String,
    /// Null for live values (`/api/v1/live`).
    revision: Option<i64>,
    kpis: Vec<SnapshotLine>,
}

#[derive(ToSchema)]
pub struct Live {
    today: Snapshot,
    month: Snapshot,
}

#[derive(ToSchema)]
pub struct SeriesPoint {
    day: String,
    value: Dec,
    /// The day's target (pro-rated from a month's where the KPI is a sum).
    target: Dec,
}

#[derive(ToSchema)]
pub struct ScorecardLine {
    id: String,
    value: Dec,
    target: Dec,
    attainment: Dec,
    weight: Dec,
    score: Dec,
}

#[derive(ToSchema)]
pub struct Scorecard {
    period: String,
    person: String,
    role: String,
    revision: i64,
    total: Dec,
    grade: Option<String>,
    bonus_coefficient: Dec,
    kpis: Vec<ScorecardLine>,
    missing: Vec<String>,
    /// Year scorecards only.
    monthly_mean: Dec,
}

#[derive(ToSchema)]
pub struct Run {
    job: String,
    tick: String,
    owner: String,
    status: String,
    attempts: i64,
    started_at: String,
    finished_at: Option<String>,
    records: i64,
    changed: i64,
    rejects: i64,
    detail: String,
    error: Option<String>,
}

#[derive(ToSchema)]
pub struct LastRun {
    started_at: String,
    finished_at: Option<String>,
    status: String,
    records: i64,
    changed: i64,
    rejects: i64,
    error: Option<String>,
}

#[derive(ToSchema)]
pub struct Connector {
    job: String,
    kind: String,
    schedule: Option<String>,
    last_run: Option<LastRun>,
    last_success: Option<String>,
    /// Failed runs among `recent_runs`.
    failures: i64,
    recent_runs: i64,
    next_run: Option<String>,
}

#[derive(ToSchema)]
pub struct Alert {
    rule: String,
    kpi: String,
    period: String,
    period_label: String,
    shop: Option<String>,
    person: Option<String>,
    state: String,
    value: Dec,
    target: Dec,
    threshold: Dec,
    attainment: Dec,
    since: String,
    last_sent: Option<String>,
}

#[derive(ToSchema)]
pub struct Notification {
    id: i64,
    created_at: String,
    channel: String,
    kind: String,
    scope: String,
    status: String,
    attempts: i64,
    sent_at: Option<String>,
    detail: Option<String>,
    error: Option<String>,
    /// The message as sent (its own structure).
    #[schema(value_type = Option<Object>)]
    message: Option<serde_json::Value>,
}

#[derive(ToSchema)]
pub struct Matcher {
    label: String,
    value: String,
}

#[derive(ToSchema)]
pub struct Silence {
    id: i64,
    matchers: Vec<Matcher>,
    starts_at: String,
    ends_at: String,
    comment: String,
    created_by: String,
}

#[derive(ToSchema)]
pub struct Adjustment {
    kpi: String,
    old: Dec,
    new: Dec,
}

#[derive(ToSchema)]
pub struct Appeal {
    id: i64,
    person: String,
    month: String,
    reason: String,
    opened_on: String,
    status: String,
    revision_before: i64,
    revision_after: Option<i64>,
    resolved_by: Option<String>,
    note: Option<String>,
    adjustments: Vec<Adjustment>,
}
