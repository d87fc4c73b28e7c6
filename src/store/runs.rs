//! Job claims, leases and run history (`job_runs`).
//!
//! Each scheduled tick of each job is one row. Inserting it is the claim:
//! the primary key lets exactly one replica win. The winner renews its lease
//! while it works; a replica that dies leaves a lease that expires, and any
//! other replica may then take the row over.

use super::{Result, Store};
use sqlx::Row;

/// A row of the run history.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Store {
    /// Claims `(job, tick)` unless it was claimed before or another tick of
    /// the same job is still running under a live lease.
    pub async fn claim_tick(
        &self,
        job: &str,
        tick: i64,
        owner: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO job_runs (job, tick, owner, status, lease_until, started_at) \
             SELECT $1, $2, $3, 'running', $4, $5 WHERE NOT EXISTS \
             (SELECT 1 FROM job_runs WHERE job = $1 AND status = 'running' AND lease_until > $5) \
             ON CONFLICT (job, tick) DO NOTHING",
        )
        .bind(job)
        .bind(tick)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes over a tick whose owner stopped renewing its lease (or released it).
    pub async fn take_over(
        &self,
        job: &str,
        tick: i64,
        owner: &str,
        lease_until: i64,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE job_runs SET owner = $3, lease_until = $4, attempts = attempts + 1, status = 'running', \
             started_at = $5, finished_at = NULL, error = NULL WHERE job = $1 AND tick = $2 \
             AND status IN ('running', 'interrupted') AND lease_until < $5",
        )
        .bind(job)
        .bind(tick)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Extends a lease; false when it was lost to another replica.
    pub async fn renew_lease(
        &self,
        job: &str,
        tick: i64,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE job_runs SET lease_until = $4 WHERE job = $1 AND tick = $2 AND owner = $3 AND status = 'running'",
        )
        .bind(job)
        .bind(tick)
        .bind(owner)
        .bind(lease_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how the run ended and releases its lease. An `interrupted`
    /// run's lease is expired at once so another replica can redo it.
    pub async fn finish_tick(
        &self,
        job: &str,
        tick: i64,
        owner: &str,
        r: &RunResult,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE job_runs SET status = $4, finished_at = $5, lease_until = 0, records = $6, changed = $7, \
             rejects = $8, detail = $9, error = $10 WHERE job = $1 AND tick = $2 AND owner = $3",
        )
        .bind(job)
        .bind(tick)
        .bind(owner)
        .bind(r.status)
        .bind(now)
        .bind(r.records)
        .bind(r.changed)
        .bind(r.rejects)
        .bind(&r.detail)
        .bind(r.error.clone())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ticks whose lease ran out while running, oldest first.
    pub async fn expired_ticks(&self, now: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT job, tick FROM job_runs WHERE status IN ('running', 'interrupted') AND lease_until < $1 \
             ORDER BY tick",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Whether any replica holds a live lease (for graceful-shutdown checks).
    pub async fn leases_held_by(&self, owner: &str, now: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM job_runs WHERE owner = $1 AND status = 'running' AND lease_until >= $2",
        )
        .bind(owner)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The latest runs, newest first.
    pub async fn recent_runs(&self, job: Option<&str>, limit: i64) -> Result<Vec<JobRun>> {
        self.runs_after(job, None, limit).await
    }

    /// A page of runs, newest first, that come after `cursor` (the
    /// `started_at` and job of the previous page's last run) in that order.
    pub async fn runs_after(
        &self,
        job: Option<&str>,
        cursor: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<JobRun>> {
        let (before, after_job) = cursor.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(
            "SELECT job, tick, owner, status, attempts, started_at, finished_at, records, changed, rejects, \
             detail, error FROM job_runs WHERE ($1 = '' OR job = $1) \
             AND (started_at < $3 OR (started_at = $3 AND job > $4)) \
             ORDER BY started_at DESC, job LIMIT $2",
        )
        .bind(job.unwrap_or(""))
        .bind(limit)
        .bind(before)
        .bind(after_job)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(JobRun {
                    job: r.try_get(0)?,
                    tick: r.try_get(1)?,
                    owner: r.try_get(2)?,
                    status: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    started_at: r.try_get(5)?,
                    finished_at: r.try_get(6)?,
                    records: r.try_get(7)?,
                    changed: r.try_get(8)?,
                    rejects: r.try_get(9)?,
                    detail: r.try_get(10)?,
                    error: r.try_get(11)?,
                })
            })
            .collect()
    }

    /// Every tick of a job with how often it ran (for exactly-once checks).
    pub async fn tick_attempts(&self, job: &str) -> Result<Vec<(i64, i64, String)>> {
        let rows =
            sqlx::query("SELECT tick, attempts, status FROM job_runs WHERE job = $1 ORDER BY tick")
                .bind(job)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// True when every embedded migration has been applied.
    pub async fn migrations_applied(&self) -> Result<bool> {
        let expected = match self.backend {
            super::Backend::Sqlite => super::SQLITE_MIGRATIONS.iter().count(),
            super::Backend::Postgres => super::POSTGRES_MIGRATIONS.iter().count(),
        } as i64;
        let row = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)? >= expected)
    }
}
