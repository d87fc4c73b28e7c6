//! The daemon: runs every connector on its schedule and the snapshot job
//! nightly in each shop's zone, until Ctrl-C or SIGTERM.

use crate::config::{Settings, Shop};
use crate::connectors::{Connector, ConnectorError, Sink, Window};
use crate::facts::{IngestStats, Reject};
use crate::period::{today, Period};
use crate::report::snapshot_table;
use crate::schedule::CronSchedule;
use crate::snapshot::{compute, nightly_periods, Computed};
use crate::store::{redact_url, Store, StoreError};
use chrono::{Datelike, Utc};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long running jobs may take to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The outcome of running one connector once.
#[derive(Debug)]
pub struct ConnectorRun {
    pub connector: String,
    pub stats: IngestStats,
    pub rejects: Vec<Reject>,
    pub elapsed: Duration,
    pub error: Option<ConnectorError>,
}

/// Builds every configured connector (named ones only, when `only` is not empty).
pub fn build_connectors(
    settings: &Settings,
    only: &[String],
) -> Result<Vec<Connector>, ConnectorError> {
    for name in only {
        if !settings.config.connectors.iter().any(|c| &c.name == name) {
            return Err(ConnectorError::Config {
                connector: name.clone(),
                message: "no connector by that name in the configuration".into(),
            });
        }
    }
    settings
        .config
        .connectors
        .iter()
        .filter(|c| only.is_empty() || only.contains(&c.name))
        .map(|c| Connector::build(c, settings))
        .collect()
}

/// Runs one connector over a window; failures are returned, not raised, so
/// one broken source never stops the others.
pub async fn run_connector(store: &Store, connector: &Connector, window: Window) -> ConnectorRun {
    let started = Instant::now();
    let mut sink = Sink::new(store, connector.name());
    let span =
        tracing::info_span!("connector_run", connector = connector.name(), run_id = %run_id());
    let result = connector.run(window, &mut sink).instrument(span).await;
    let run = ConnectorRun {
        connector: connector.name().to_string(),
        stats: sink.stats,
        rejects: sink.rejects,
        elapsed: started.elapsed(),
        error: result.err(),
    };
    match &run.error {
        None => tracing::info!(
            connector = %run.connector,
            records = run.stats.records,
            changed = run.stats.changed,
            rejects = run.stats.rejects,
            files_imported = run.stats.files_imported,
            files_skipped = run.stats.files_skipped,
            elapsed_ms = run.elapsed.as_millis() as u64,
            "connector run finished"
        ),
        Some(e) => tracing::error!(connector = %run.connector, error = %e, "connector run failed"),
    }
    run
}

fn run_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The nightly snapshot job for one shop: yesterday, its month and year.
pub async fn snapshot_shop(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
) -> Result<Vec<Computed>, StoreError> {
    let mut out = Vec::new();
    for period in nightly_periods(today(shop.tz)) {
        out.push(compute(settings, store, shop, period).await?);
    }
    Ok(out)
}

/// The last month that has fully ended in the shop's zone.
pub fn last_complete_month(shop: &Shop) -> Period {
    let t = today(shop.tz);
    Period::Month {
        year: t.year(),
        month: t.month(),
    }
    .previous()
}

/// `kpid run`: a start-up pass (every connector once, then the snapshot job),
/// then the schedules until `shutdown` fires. With `once`, only the start-up
/// pass; the result is an error if any connector failed.
pub async fn run(
    settings: Arc<Settings>,
    store: Store,
    once: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let connectors = build_connectors(&settings, &[])?;
    tracing::info!(
        config = %settings.file.display(),
        storage = %redact_url(settings.storage_url()),
        shops = settings.shops.len(),
        connectors = connectors.len(),
        "kpid starting"
    );
    for c in &settings.config.connectors {
        let sched = settings
            .connector_schedules
            .get(&c.name)
            .and_then(|s| s.as_ref());
        tracing::info!(
            connector = %c.name,
            kind = %c.kind,
            schedule = sched.map(|s| s.source()).unwrap_or("(none: start-up and `kpid ingest` only)"),
            next = %sched.and_then(|s| s.next_after(Utc::now())).map(|t| t.to_rfc3339()).unwrap_or_default(),
            "connector configured"
        );
    }

    let mut failed = 0;
    for c in &connectors {
        if shutdown.is_cancelled() {
            break;
        }
        if run_connector(&store, c, Window::default())
            .await
            .error
            .is_some()
        {
            failed += 1;
        }
    }
    for shop in &settings.shops {
        let computed = snapshot_shop(&settings, &store, shop).await?;
        for c in &computed {
            tracing::info!(shop = %c.shop, period = %c.period, revision = c.revision, new = c.new_revision, "snapshot");
        }
        if settings.config.snapshot.report_on_start {
            let month = last_complete_month(shop);
            let snap = compute(&settings, &store, shop, month).await?;
            if let Some(s) = store.snapshot(&shop.id, month, Some(snap.revision)).await? {
                println!("{}", snapshot_table(&s, &settings.catalogue));
            }
        }
    }
    if once {
        if failed > 0 {
            anyhow::bail!("{failed} connector(s) failed; see the log above");
        }
        return Ok(());
    }

    let mut tasks = tokio::task::JoinSet::new();
    for c in connectors {
        let Some(Some(sched)) = settings.connector_schedules.get(c.name()).cloned() else {
            continue;
        };
        let (store, shutdown) = (store.clone(), shutdown.clone());
        tasks.spawn(async move {
            scheduled(sched, shutdown, || {
                let store = store.clone();
                let c = c.clone();
                async move {
                    run_connector(&store, &c, Window::default()).await;
                }
            })
            .await
        });
    }
    for shop in settings.shops.clone() {
        let sched = CronSchedule::parse(&settings.config.snapshot.schedule, shop.tz)?;
        let (store, shutdown, settings) = (store.clone(), shutdown.clone(), settings.clone());
        tasks.spawn(async move {
            scheduled(sched, shutdown, || {
                let (store, settings, shop) = (store.clone(), settings.clone(), shop.clone());
                async move {
                    if let Err(e) = snapshot_shop(&settings, &store, &shop).await {
                        tracing::error!(shop = %shop.id, error = %e, "snapshot job failed");
                    }
                }
            })
            .await
        });
    }
    tracing::info!(
        jobs = tasks.len(),
        "scheduler running; Ctrl-C or SIGTERM stops"
    );
    shutdown.cancelled().await;
    tracing::info!("stopping: waiting for running jobs to finish");
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!("jobs still running after the grace period; stopping anyway");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs `job` at every tick of `sched` until `shutdown`. A tick that comes
/// while the job still runs is skipped, never run twice at once.
async fn scheduled<F, Fut>(sched: CronSchedule, shutdown: CancellationToken, mut job: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        let now = Utc::now();
        let Some(next) = sched.next_after(now) else {
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        job().await;
    }
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
