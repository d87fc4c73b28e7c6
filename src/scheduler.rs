//! The scheduler: every job it is given (see [`crate::jobs`]) fires on its
//! crontab ticks. A tick runs on exactly one
//! replica: it is claimed in the database (`job_runs`), its lease renewed while
//! the job works, and taken over by another replica if the lease expires.

use crate::jobs::{self, CatchUp, Context, Job};
use crate::period::{local_day, LocalDay};
use crate::schedule::CronSchedule;
use crate::store::{RunResult, TickClaim};
use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Jobs that fire together: one job, or the jobs sharing a batch key (see
/// [`Job::batch_key`]), whose common tick runs as one execution. Each job
/// keeps its own claim and run record.
struct Unit {
    /// The job's name, or the batch key: for the jitter and the log.
    name: String,
    /// Never empty; all on the same schedule.
    jobs: Vec<Arc<Job>>,
}

impl Unit {
    fn schedule(&self) -> &CronSchedule {
        &self.jobs[0].schedule
    }

    fn catch_up(&self) -> CatchUp {
        self.jobs[0].catch_up()
    }
}

/// Groups jobs into units, in the order they come.
fn units(jobs: Vec<Job>) -> Vec<Arc<Unit>> {
    let mut out: Vec<Unit> = Vec::new();
    let mut batches: HashMap<String, usize> = HashMap::new();
    for job in jobs {
        let job = Arc::new(job);
        match job.batch_key() {
            Some(key) => match batches.get(&key) {
                Some(i) => out[*i].jobs.push(job),
                None => {
                    batches.insert(key.clone(), out.len());
                    out.push(Unit {
                        name: key,
                        jobs: vec![job],
                    });
                }
            },
            None => out.push(Unit {
                name: job.name.clone(),
                jobs: vec![job],
            }),
        }
    }
    out.into_iter().map(Arc::new).collect()
}

struct Inner {
    cx: Context,
    units: Vec<Arc<Unit>>,
    /// Each job by name, with its unit's index (for takeovers).
    by_name: HashMap<String, (usize, Arc<Job>)>,
    /// Jobs running in this process: a tick that comes while its job still
    /// runs is skipped, never started twice.
    running: Mutex<HashSet<String>>,
    tracker: TaskTracker,
    /// The instant the start-up catch-up covered ticks up to: the job loops
    /// start from it, so a tick that came while catch-up ran is not lost.
    caught_up_to: Mutex<Option<DateTime<Utc>>>,
}

impl Inner {
    /// This process's hold on tick `t` of `job`.
    fn tick_claim<'a>(&'a self, job: &'a Job, t: i64) -> TickClaim<'a> {
        TickClaim {
            job: &job.name,
            tick: t,
            owner: &self.cx.owner,
        }
    }
}

/// Runs the jobs of one process; several processes on one PostgreSQL
/// database share the work.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// A stable spread of `0..max` for a job, so jobs with the same schedule
/// start at different moments but each always at the same offset.
fn jitter(job: &str, max_seconds: u64) -> Duration {
    if max_seconds == 0 {
        return Duration::ZERO;
    }
    let h = job.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    Duration::from_millis(h % (max_seconds * 1000))
}

impl Scheduler {
    /// A scheduler for `jobs` (see [`crate::jobs::scheduled`]), claiming
    /// ticks as `cx.owner` in `cx.store`.
    pub fn new(cx: Context, jobs: Vec<Job>) -> Self {
        let units = units(jobs);
        let by_name = units
            .iter()
            .enumerate()
            .flat_map(|(i, u)| u.jobs.iter().map(move |j| (j.name.clone(), (i, j.clone()))))
            .collect();
        Scheduler {
            inner: Arc::new(Inner {
                cx,
                units,
                by_name,
                running: Mutex::new(HashSet::new()),
                tracker: TaskTracker::new(),
                caught_up_to: Mutex::new(None),
            }),
        }
    }

    /// What the jobs run with: the daemon delivers and evaluates alerts
    /// outside ticks with the same owner.
    pub fn context(&self) -> &Context {
        &self.inner.cx
    }

    pub fn owner(&self) -> &str {
        &self.inner.cx.owner
    }

    pub fn job_count(&self) -> usize {
        self.inner.by_name.len()
    }

    fn max_age(&self) -> ChronoDuration {
        ChronoDuration::hours(self.inner.cx.setup.config.scheduler.max_catchup_hours as i64)
    }

    /// Runs the ticks missed while no daemon ran, younger than the maximum
    /// catch-up age: a connector's latest missed tick once (its cursor covers
    /// the gap), a snapshot job's latest tick of each missed local day (the
    /// shops due at one instant in one pass).
    pub async fn catch_up(&self) {
        let now = Utc::now();
        if let Ok(mut caught_up_to) = self.inner.caught_up_to.lock() {
            *caught_up_to = Some(now);
        }
        for unit in &self.inner.units {
            let schedule = unit.schedule();
            let mut t = now - self.max_age();
            let mut ticks: BTreeMap<LocalDay, DateTime<Utc>> = BTreeMap::new();
            while let Some(next) = schedule.next_after(t) {
                if next > now {
                    break;
                }
                let day = local_day(next, schedule.timezone());
                ticks.insert(day, next);
                t = next;
            }
            let due: Vec<DateTime<Utc>> = match unit.catch_up() {
                CatchUp::Latest => ticks.values().last().copied().into_iter().collect(),
                CatchUp::EachDay => ticks.into_values().collect(),
            };
            for tick in due {
                if self.inner.cx.stop.is_cancelled() {
                    return;
                }
                execute(
                    self.inner.clone(),
                    unit.clone(),
                    unit.jobs.clone(),
                    tick,
                    false,
                )
                .await;
            }
        }
    }

    /// Starts one loop per unit (a job, or jobs that fire together) and
    /// the takeover sweeper.
    pub fn start(&self) -> JoinSet<()> {
        let mut loops = JoinSet::new();
        for unit in &self.inner.units {
            loops.spawn(job_loop(self.inner.clone(), unit.clone()));
        }
        loops.spawn(sweeper(self.inner.clone()));
        loops
    }

    /// After the stop signal: the loops end, running jobs get the grace period
    /// to commit their current page and release their leases.
    pub async fn drain(&self, mut loops: JoinSet<()>) {
        while loops.join_next().await.is_some() {}
        self.inner.tracker.close();
        let grace =
            Duration::from_secs(self.inner.cx.setup.config.scheduler.shutdown_grace_seconds);
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "jobs still running after the grace period; their leases expire and another replica takes over"
            );
        }
    }
}

async fn job_loop(inner: Arc<Inner>, unit: Arc<Unit>) {
    let schedule = unit.schedule();
    // From where catch-up stopped looking: a tick that came while it ran is due now.
    let caught_up_to = *inner.caught_up_to.lock().unwrap_or_else(|e| e.into_inner());
    let mut after = caught_up_to.unwrap_or_else(Utc::now);
    loop {
        let Some(mut tick) = schedule.next_after(after) else {
            return;
        };
        // Of several ticks already past (a long catch-up), only the latest runs.
        let now = Utc::now();
        while let Some(next) = schedule.next_after(tick).filter(|n| *n <= now) {
            tick = next;
        }
        after = tick;
        let wait = (tick - Utc::now()).to_std().unwrap_or_default()
            + jitter(&unit.name, inner.cx.setup.config.scheduler.jitter_seconds);
        tokio::select! {
            _ = inner.cx.stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        inner.tracker.spawn(execute(
            inner.clone(),
            unit.clone(),
            unit.jobs.clone(),
            tick,
            false,
        ));
    }
}

/// Takes over ticks whose owner stopped renewing the lease (a replica died).
async fn sweeper(inner: Arc<Inner>) {
    let every = Duration::from_secs((inner.cx.setup.config.scheduler.lease_seconds / 2).max(1));
    loop {
        tokio::select! {
            _ = inner.cx.stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let expired = match inner.cx.store.expired_ticks(Utc::now().timestamp()).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for expired leases");
                continue;
            }
        };
        // The expired ticks of jobs that fire together are taken over together.
        let mut due: BTreeMap<(i64, usize), Vec<Arc<Job>>> = BTreeMap::new();
        for (name, tick) in expired {
            if let Some((unit, job)) = inner.by_name.get(&name) {
                due.entry((tick, *unit)).or_default().push(job.clone());
            }
        }
        for ((tick, unit), jobs) in due {
            let Some(at) = Utc.timestamp_opt(tick, 0).single() else {
                continue;
            };
            let unit = inner.units[unit].clone();
            inner
                .tracker
                .spawn(execute(inner.clone(), unit, jobs, at, true));
        }
    }
}

/// Removes jobs from the local running set when their run ends, however it ends.
struct RunningGuard<'a> {
    set: &'a Mutex<HashSet<String>>,
    names: Vec<String>,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            for name in &self.names {
                s.remove(name);
            }
        }
    }
}

/// Claims (or takes over) one tick of `jobs` (of `unit`) and runs the
/// claimed ones together with renewed leases, inside a span naming the unit
/// and tick so every log line of the run carries them.
async fn execute(
    inner: Arc<Inner>,
    unit: Arc<Unit>,
    jobs: Vec<Arc<Job>>,
    tick: DateTime<Utc>,
    takeover: bool,
) {
    let span = tracing::info_span!("job", job = %unit.name, jobs = jobs.len(), tick = %tick.to_rfc3339(), owner = %inner.cx.owner);
    execute_in_span(inner, jobs, tick, takeover)
        .instrument(span)
        .await
}

/// How claiming a tick of one job ended.
enum Claim {
    Won,
    Lost,
    /// The database stayed away for the whole retry budget, or the process stops.
    GaveUp,
}

async fn execute_in_span(
    inner: Arc<Inner>,
    jobs: Vec<Arc<Job>>,
    tick: DateTime<Utc>,
    takeover: bool,
) {
    if inner.cx.stop.is_cancelled() {
        return;
    }
    let mine: Vec<Arc<Job>> = {
        let mut running = inner.running.lock().unwrap_or_else(|e| e.into_inner());
        jobs.into_iter()
            .filter(|job| {
                let fresh = running.insert(job.name.clone());
                if !fresh {
                    tracing::warn!(job = %job.name, tick = %tick, "still running from an earlier tick; this tick is skipped");
                }
                fresh
            })
            .collect()
    };
    let _guard = RunningGuard {
        set: &inner.running,
        names: mine.iter().map(|j| j.name.clone()).collect(),
    };
    let lease = inner.cx.setup.config.scheduler.lease_seconds as i64;
    let t = tick.timestamp();
    // A database that is briefly away must not cost a tick (a nightly
    // snapshot would otherwise wait for the next restart's catch-up): the
    // claims are retried for up to one lease period, then the tick is skipped.
    // The budget is measured on tokio's monotonic clock, as the waits are.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(lease as u64);
    let mut wait = Duration::from_millis(500);
    // Each job's tick is claimed on its own, so a job another replica
    // claimed (or runs under a live lease) is left to it.
    let claiming = tokio::time::Instant::now();
    let mut claimed: Vec<Arc<Job>> = Vec::with_capacity(mine.len());
    for (i, job) in mine.iter().enumerate() {
        match claim(&inner, job, t, takeover, give_up, &mut wait).await {
            Claim::Won => claimed.push(job.clone()),
            Claim::Lost => {}
            Claim::GaveUp => {
                if mine.len() - i > 1 {
                    tracing::error!(
                        jobs = mine.len() - i - 1,
                        "the jobs left to claim in this tick are skipped too"
                    );
                }
                break;
            }
        }
    }
    if claimed.is_empty() {
        return;
    }
    if inner.cx.stop.is_cancelled() {
        // Stopped while claiming: the claims are released for another
        // replica (or the next start) to redo at once.
        let stopped = RunResult {
            status: "interrupted",
            error: Some("the process stopped before the run started".into()),
            ..Default::default()
        };
        finish(&inner, &claimed, t, std::iter::repeat(stopped)).await;
        return;
    }
    if takeover {
        inner.cx.metrics.takeovers.inc_by(claimed.len() as u64);
        for job in &claimed {
            tracing::warn!(job = %job.name, tick = %tick, "took over a tick whose lease expired");
        }
    }
    let renew = async {
        let every = Duration::from_secs((lease as u64 / 3).max(1));
        // The first leases were taken when claiming began: claiming many
        // jobs must not let them run out before the first renewal.
        let mut next = claiming + every;
        loop {
            tokio::time::sleep_until(next).await;
            next = tokio::time::Instant::now() + every;
            let until = Utc::now().timestamp() + lease;
            for job in &claimed {
                match inner
                    .cx
                    .store
                    .renew_lease(&inner.tick_claim(job, t), until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(job = %job.name, "lease lost to another replica"),
                    Err(e) => tracing::warn!(job = %job.name, error = %e, "cannot renew the lease"),
                }
            }
        }
    };
    let refs: Vec<&Job> = claimed.iter().map(|j| j.as_ref()).collect();
    let results = tokio::select! {
        r = jobs::run_together(&inner.cx, &refs, tick) => r,
        _ = renew => unreachable!("the renewal loop never ends"),
    };
    finish(&inner, &claimed, t, results).await;
}

/// Claims (or takes over) one job's tick, retrying a failing database until
/// `give_up`.
async fn claim(
    inner: &Inner,
    job: &Job,
    t: i64,
    takeover: bool,
    give_up: tokio::time::Instant,
    wait: &mut Duration,
) -> Claim {
    let lease = inner.cx.setup.config.scheduler.lease_seconds as i64;
    loop {
        let now = Utc::now().timestamp();
        let claimed = if takeover {
            inner
                .cx
                .store
                .take_over(&inner.tick_claim(job, t), now + lease, now)
                .await
        } else {
            inner
                .cx
                .store
                .claim_tick(&inner.tick_claim(job, t), now + lease, now)
                .await
        };
        match claimed {
            Ok(true) => return Claim::Won,
            Ok(false) => {
                tracing::debug!(job = %job.name, "claimed by another replica");
                return Claim::Lost;
            }
            Err(e)
                if tokio::time::Instant::now() + *wait < give_up
                    && !inner.cx.stop.is_cancelled() =>
            {
                tracing::warn!(job = %job.name, error = %e, retry_in_ms = wait.as_millis() as u64, "cannot claim the tick; retrying");
                tokio::select! {
                    _ = inner.cx.stop.cancelled() => return Claim::GaveUp,
                    _ = tokio::time::sleep(*wait) => {}
                }
                *wait = (*wait * 2).min(Duration::from_secs(10));
            }
            Err(e) => {
                tracing::error!(job = %job.name, error = %e, "cannot claim the tick; skipped");
                return Claim::GaveUp;
            }
        }
    }
}

/// Records how each claimed job's run ended, releasing its lease.
async fn finish(
    inner: &Inner,
    claimed: &[Arc<Job>],
    t: i64,
    results: impl IntoIterator<Item = RunResult>,
) {
    for (job, result) in claimed.iter().zip(results) {
        if let Err(e) = inner
            .cx
            .store
            .finish_tick(&inner.tick_claim(job, t), &result, Utc::now().timestamp())
            .await
        {
            tracing::error!(job = %job.name, error = %e, "cannot record the run; its lease will expire");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_stable_and_bounded() {
        assert_eq!(jitter("a", 0), Duration::ZERO);
        assert_eq!(jitter("orders", 30), jitter("orders", 30));
        assert!(jitter("orders", 30) < Duration::from_secs(30));
        assert_ne!(jitter("orders", 30), jitter("refunds", 30));
    }
}
