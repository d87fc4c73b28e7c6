//! Job claim and run history queries.

use super::rows::DbQuery;
use super::DbStore;
use crate::store::{JobClaims, JobRun, Result, RunResult, TickClaim};

/// `sql` with `$1`…`$3` bound to the claim's job, tick and owner.
fn claimed<'q>(sql: &'q str, claim: &TickClaim<'q>) -> DbQuery<'q> {
    sqlx::query(sql)
        .bind(claim.job)
        .bind(claim.tick)
        .bind(claim.owner)
}

impl DbStore {
    /// Runs `sql`, which claims or takes over a lease, with `$1`…`$5` bound to
    /// (job, tick, owner, lease_until, now); whether it changed the one row.
    async fn lease_change(
        &self,
        sql: &str,
        claim: &TickClaim<'_>,
        lease_until: i64,
        now: i64,
    ) -> Result<bool> {
        let done = claimed(sql, claim)
            .bind(lease_until)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl JobClaims for DbStore {
    async fn claim_tick(&self, claim: &TickClaim<'_>, lease_until: i64, now: i64) -> Result<bool> {
        self.lease_change(
            "INSERT INTO job_runs (job, tick, owner, status, lease_until, started_at) \
             SELECT $1, $2, $3, 'running', $4, $5 WHERE NOT EXISTS \
             (SELECT 1 FROM job_runs WHERE job = $1 AND status = 'running' AND lease_until > $5) \
             ON CONFLICT (job, tick) DO NOTHING",
            claim,
            lease_until,
            now,
        )
        .await
    }

    async fn take_over(&self, claim: &TickClaim<'_>, lease_until: i64, now: i64) -> Result<bool> {
        self.lease_change(
            "UPDATE job_runs SET owner = $3, lease_until = $4, attempts = attempts + 1, status = 'running', \
             started_at = $5, finished_at = NULL, error = NULL WHERE job = $1 AND tick = $2 \
             AND status IN ('running', 'interrupted') AND lease_until < $5",
            claim,
            lease_until,
            now,
        )
        .await
    }

    async fn renew_lease(&self, claim: &TickClaim<'_>, lease_until: i64) -> Result<bool> {
        let done = claimed(
            "UPDATE job_runs SET lease_until = $4 WHERE job = $1 AND tick = $2 AND owner = $3 AND status = 'running'",
            claim,
        )
        .bind(lease_until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_tick(&self, claim: &TickClaim<'_>, r: &RunResult, now: i64) -> Result<()> {
        claimed(
            "UPDATE job_runs SET status = $4, finished_at = $5, lease_until = 0, records = $6, changed = $7, \
             rejects = $8, detail = $9, error = $10 WHERE job = $1 AND tick = $2 AND owner = $3",
            claim,
        )
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

    async fn expired_ticks(&self, now: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT job, tick FROM job_runs WHERE status IN ('running', 'interrupted') AND lease_until < $1 \
             ORDER BY tick",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn leases_held_by(&self, owner: &str, now: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM job_runs WHERE owner = $1 AND status = 'running' AND lease_until >= $2",
        )
        .bind(owner)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn recent_runs(&self, job: Option<&str>, limit: i64) -> Result<Vec<JobRun>> {
        self.runs_after(job, None, limit).await
    }

    async fn runs_after(
        &self,
        job: Option<&str>,
        cursor: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<JobRun>> {
        let (before, after_job) = cursor.unwrap_or((i64::MAX, ""));
        Ok(sqlx::query_as::<_, JobRun>(
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
        .await?)
    }

    async fn tick_attempts(&self, job: &str) -> Result<Vec<(i64, i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT tick, attempts, status FROM job_runs WHERE job = $1 ORDER BY tick",
        )
        .bind(job)
        .fetch_all(&self.pool)
        .await?)
    }
}
