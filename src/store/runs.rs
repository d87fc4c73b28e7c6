//! Job claims, leases and run history (`job_runs`).
//!
//! Each scheduled tick of each job is one row. Inserting it is the claim:
//! the primary key lets exactly one replica win. The winner renews its lease
//! while it works; a replica that dies leaves a lease that expires, and any
//! other replica may then take the row over.

/// A row of the run history (read by column name).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRun {
    pub job: String,
    pub tick: i64,
    pub owner: String,
    pub status: String,
    pub attempts: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub records: i64,
    pub changed: i64,
    pub rejects: i64,
    pub detail: String,
    pub error: Option<String>,
}

/// One replica's hold on one scheduled tick of one job: the row of
/// `job_runs` it claims, renews and finishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickClaim<'a> {
    pub job: &'a str,
    pub tick: i64,
    pub owner: &'a str,
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunResult {
    pub status: &'static str,
    pub records: i64,
    pub changed: i64,
    pub rejects: i64,
    pub detail: String,
    pub error: Option<String>,
}
