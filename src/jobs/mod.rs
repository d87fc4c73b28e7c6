//! Jobs: the work the daemon does on a schedule (a connector run, a shop's
//! snapshot job, an alert digest) and the alert evaluation that follows
//! fresh data. Each job kind is one file; the scheduler claims ticks and
//! runs the [`Job`]s it is given, knowing nothing of what they do beyond
//! which of them run a common tick together ([`Job::batch_key`]).

pub mod alerts;
pub mod connector;
pub mod snapshot;

pub use connector::{
    build_connectors, run_connector, run_connector_until, run_connector_with, ConnectorRun,
};
pub use snapshot::{last_complete_month, snapshot_shop, snapshot_shops};

use crate::connectors::{Connector, ConnectorError};
use crate::metrics::Metrics;
use crate::schedule::{CronSchedule, ScheduleError};
use crate::settings::Shop;
use crate::setup::Setup;
use crate::store::{RunResult, Store};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Why the configured jobs could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("job `{job}`: {source}")]
    Schedule {
        job: String,
        #[source]
        source: ScheduleError,
    },
}

/// What a job needs from the process that runs it.
pub struct Context {
    pub setup: Arc<Setup>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// This process's name as the owner of its claims and outbox sends.
    pub owner: String,
    /// Fires on shutdown: a running connector commits its page in hand and ends.
    pub stop: CancellationToken,
}

impl Context {
    /// A context owned by this process (see [`owner_id`]).
    pub fn new(
        setup: Arc<Setup>,
        store: Store,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Self {
        Context {
            setup,
            store,
            metrics,
            owner: owner_id(),
            stop,
        }
    }
}

/// A name unique to this process, stored as the owner of its claims.
pub fn owner_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "kpid".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros() % 1_000_000
    )
}

/// Seconds since the epoch, as the metrics' timestamps want them.
fn now_seconds() -> f64 {
    Utc::now().timestamp_millis() as f64 / 1000.0
}

/// What a job does on a tick.
pub enum Work {
    Connector(Connector),
    Snapshot(Shop),
    /// A digest (`[[alerts.digests]]`, by name) for one shop, in its zone.
    Digest(String, Shop),
}

/// Which ticks missed while no daemon ran are worth running at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// The latest missed tick only: a connector's cursor covers the gap, a
    /// digest is sent once.
    Latest,
    /// The latest missed tick of each local day: every day gets its snapshot.
    EachDay,
}

/// A scheduled job.
pub struct Job {
    pub name: String,
    pub schedule: CronSchedule,
    pub work: Work,
}

impl Job {
    pub fn catch_up(&self) -> CatchUp {
        match self.work {
            Work::Connector(_) | Work::Digest(..) => CatchUp::Latest,
            Work::Snapshot(_) => CatchUp::EachDay,
        }
    }

    /// Jobs with the same key fire at the same instants and run a common
    /// tick as one execution (see [`run_together`]): the snapshot jobs of
    /// shops on the same schedule in the same zone, so 1,000 shops make one
    /// set-based pass a night, not 1,000. `None`: the job runs alone.
    pub fn batch_key(&self) -> Option<String> {
        match self.work {
            Work::Snapshot(_) => Some(format!(
                "snapshot@{}@{}",
                self.schedule.timezone(),
                self.schedule.source()
            )),
            Work::Connector(_) | Work::Digest(..) => None,
        }
    }

    /// Runs the job for `tick`; its failures are the result, never an error.
    pub async fn run(&self, cx: &Context, tick: DateTime<Utc>) -> RunResult {
        match &self.work {
            Work::Connector(c) => connector::tick(cx, c).await,
            Work::Snapshot(shop) => snapshot::tick(cx, &[shop], tick)
                .await
                .pop()
                .unwrap_or_default(),
            Work::Digest(name, shop) => alerts::digest(cx, name, shop, tick).await,
        }
    }
}

/// Runs `jobs`, each claimed for `tick`, as one execution: snapshot jobs in
/// one set-based pass, any other job on its own. One result per job, in order.
pub async fn run_together(cx: &Context, jobs: &[&Job], tick: DateTime<Utc>) -> Vec<RunResult> {
    let shops: Option<Vec<&Shop>> = jobs
        .iter()
        .map(|j| match &j.work {
            Work::Snapshot(shop) => Some(shop),
            Work::Connector(_) | Work::Digest(..) => None,
        })
        .collect();
    if let Some(shops) = shops.filter(|s| s.len() > 1) {
        return snapshot::tick(cx, &shops, tick).await;
    }
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        out.push(job.run(cx, tick).await);
    }
    out
}

/// Every job the configuration schedules: each connector with a schedule,
/// each shop's snapshot job, each digest for each of its shops.
pub fn scheduled(setup: &Setup) -> Result<Vec<Job>, JobsError> {
    let mut jobs = Vec::new();
    // Only scheduled connectors are built: one that runs by hand only
    // (a missing secret, say) must not stop the daemon.
    let scheduled: Vec<String> = setup
        .connector_schedules
        .iter()
        .filter(|(_, s)| s.is_some())
        .map(|(name, _)| name.clone())
        .collect();
    if !scheduled.is_empty() {
        for c in build_connectors(setup, &scheduled)? {
            if let Some(Some(schedule)) = setup.connector_schedules.get(c.name()).cloned() {
                jobs.push(Job {
                    name: c.name().to_string(),
                    schedule,
                    work: Work::Connector(c),
                });
            }
        }
    }
    let parse = |job: &str, expr: &str, shop: &Shop| {
        CronSchedule::parse(expr, shop.tz).map_err(|source| JobsError::Schedule {
            job: job.to_string(),
            source,
        })
    };
    for shop in &setup.shops {
        let name = format!("snapshot:{}", shop.id);
        jobs.push(Job {
            schedule: parse(&name, &setup.config.snapshot.schedule, shop)?,
            name,
            work: Work::Snapshot(shop.clone()),
        });
    }
    for digest in &setup.alerts.digests {
        for shop in setup.shops.iter().filter(|s| digest.shops.contains(&s.id)) {
            let name = format!("digest:{}:{}", digest.name, shop.id);
            jobs.push(Job {
                schedule: parse(&name, &digest.schedule, shop)?,
                name,
                work: Work::Digest(digest.name.clone(), shop.clone()),
            });
        }
    }
    Ok(jobs)
}
