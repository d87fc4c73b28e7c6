//! The daemon: the HTTP listener, start-up catch-up, and the scheduler that
//! runs every connector and each shop's nightly snapshot job until Ctrl-C or
//! SIGTERM.

use crate::connectors::{Connector, ConnectorError, Sink, Window};
use crate::facts::{IngestStats, Reject};
use crate::metrics::Metrics;
use crate::period::{today, Period};
use crate::progress::Progress;
use crate::report::snapshot_table;
use crate::scheduler::Scheduler;
use crate::server::AppState;
use crate::settings::{Settings, Shop};
use crate::snapshot::{compute, nightly_periods, Computed};
use crate::store::{redact_url, Backend, Store, StoreError};
use anyhow::Context;
use chrono::{Datelike, NaiveDate, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

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
    run_connector_until(store, connector, window, None).await
}

/// As [`run_connector`], ending after the page in hand once `stop` fires.
pub async fn run_connector_until(
    store: &Store,
    connector: &Connector,
    window: Window,
    stop: Option<CancellationToken>,
) -> ConnectorRun {
    run_connector_with(store, connector, window, stop, Progress::off()).await
}

/// As [`run_connector_until`], reporting progress while it runs (`kpid
/// ingest`); scheduled runs report none, their summary line is enough.
pub async fn run_connector_with(
    store: &Store,
    connector: &Connector,
    window: Window,
    stop: Option<CancellationToken>,
    progress: Progress,
) -> ConnectorRun {
    let started = Instant::now();
    let mut sink = Sink::new(store, connector.name()).with_progress(progress);
    if let Some(stop) = stop {
        sink = sink.stop_on(stop);
    }
    let span =
        tracing::info_span!("connector_run", connector = connector.name(), run_id = %run_id());
    let result = connector.run(window, &mut sink).instrument(span).await;
    sink.finish_progress();
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
            duplicates = run.stats.duplicates,
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

/// The nightly snapshot job for one shop on local day `today`: yesterday,
/// its month and year (see [`nightly_periods`]).
pub async fn snapshot_shop(
    settings: &Settings,
    store: &Store,
    shop: &Shop,
    today: NaiveDate,
) -> Result<Vec<Computed>, StoreError> {
    let mut out = Vec::new();
    let periods = nightly_periods(today);
    for period in &periods {
        out.push(compute(settings, store, shop, *period).await?);
    }
    if !settings.people.is_empty() {
        // Scorecards of the people covering this shop: month and year to date
        // (closed months stay frozen).
        for period in crate::scorecard::nightly_scorecard_periods(&periods) {
            crate::scorecard::refresh_all(settings, store, period, Some(&shop.id))
                .await
                .map_err(scorecard_store_error)?;
        }
        match crate::scorecard::overdue_months(settings, store, today).await {
            Ok(months) => {
                for (month, due) in months {
                    tracing::warn!(month = %month, due = %due, "month not closed past the scheme's deadline; run `kpid close --month {month}`");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check for months past their closing deadline")
            }
        }
    }
    Ok(out)
}

fn scorecard_store_error(e: crate::scorecard::ScorecardError) -> StoreError {
    match e {
        crate::scorecard::ScorecardError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
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

/// `kpid run --once`: every connector once over its default window, then
/// the snapshot job for today in each shop's zone; an error if any connector failed.
pub async fn run_once(
    settings: Arc<Settings>,
    store: Store,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    log_start(&settings);
    let mut failed = 0;
    for c in build_connectors(&settings, &[])? {
        if stop.is_cancelled() {
            anyhow::bail!("stopped before every connector ran");
        }
        let run = run_connector_until(&store, &c, Window::default(), Some(stop.clone())).await;
        if run.error.is_some() {
            failed += 1;
        }
    }
    for shop in &settings.shops {
        snapshot_shop(&settings, &store, shop, today(shop.tz)).await?;
    }
    crate::alerts::evaluate_and_deliver(&settings, &store, &crate::scheduler::owner_id(), None)
        .await;
    print_start_report(&settings, &store).await?;
    if failed > 0 {
        anyhow::bail!("{failed} connector(s) failed; see the log above");
    }
    Ok(())
}

/// `kpid run`: the scheduler with its HTTP listener until `stop` fires.
pub async fn run(
    settings: Arc<Settings>,
    store: Store,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let _lock = match store.backend() {
        Backend::Sqlite => Some(lock_sqlite(settings.storage_url())?),
        Backend::Postgres => None,
    };
    log_start(&settings);
    let started = Utc::now();
    let metrics = Arc::new(Metrics::new(
        &settings
            .shops
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        started.timestamp() as f64,
    ));
    let running = Arc::new(AtomicBool::new(false));
    let server_stop = CancellationToken::new();
    let server = if settings.config.server.listen.is_empty() {
        None
    } else {
        if let Some(why) = crate::server::refuse_public_without_token(&settings) {
            anyhow::bail!("{why}");
        }
        let state = AppState {
            settings: settings.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            scheduler_running: running.clone(),
        };
        let (addr, handle) =
            crate::server::serve(&settings.config.server.listen, state, server_stop.clone())
                .await
                .with_context(|| format!("cannot listen on {}", settings.config.server.listen))?;
        tracing::info!(%addr, token = settings.server_token.is_some(), "http listening: / (dashboard) /api/v1/ /metrics /healthz /readyz");
        Some(handle)
    };

    let scheduler = Scheduler::new(
        settings.clone(),
        store.clone(),
        metrics.clone(),
        stop.clone(),
    )?;
    // What an earlier process decided and did not send goes out first.
    crate::alerts::deliver(&settings, &store, scheduler.owner(), Some(&metrics)).await;
    scheduler.catch_up().await;
    if settings.config.snapshot.report_on_start {
        print_start_report(&settings, &store).await?;
    }
    let loops = scheduler.start();
    running.store(true, Ordering::SeqCst);
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    spawn_watchdog(stop.clone());
    tracing::info!(jobs = scheduler.job_count(), owner = %scheduler.owner(), "scheduler running; Ctrl-C or SIGTERM stops");

    stop.cancelled().await;
    running.store(false, Ordering::SeqCst);
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopping: no new claims; running jobs commit their current page");
    scheduler.drain(loops).await;
    server_stop.cancel();
    if let Some(h) = server {
        let _ = h.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

fn log_start(settings: &Settings) {
    tracing::info!(
        config = %settings.file.display(),
        storage = %redact_url(settings.storage_url()),
        shops = settings.shops.len(),
        connectors = settings.config.connectors.len(),
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
            schedule = sched.map(|s| s.source()).unwrap_or("(none: `kpid ingest` and `run --once` only)"),
            next = %sched.and_then(|s| s.next_after(Utc::now())).map(|t| t.to_rfc3339()).unwrap_or_default(),
            "connector configured"
        );
    }
}

/// Prints each shop's last complete month, computing it first.
async fn print_start_report(settings: &Settings, store: &Store) -> anyhow::Result<()> {
    for shop in &settings.shops {
        let month = last_complete_month(shop);
        let snap = compute(settings, store, shop, month).await?;
        if let Some(s) = store.snapshot(&shop.id, month, Some(snap.revision)).await? {
            println!("{}", snapshot_table(&s, &settings.catalogue));
        }
    }
    if let Some(shop) = settings.shops.first() {
        // People's scorecards of the same month (frozen if already closed).
        let month = last_complete_month(shop);
        for r in crate::scorecard::refresh_all(settings, store, month, None).await? {
            let view = crate::scorecard::export::CardView::new(settings, &r.card);
            println!("{}", crate::scorecard::export::card_table(settings, &view));
        }
    }
    Ok(())
}

/// Holds an exclusive lock beside the SQLite file for the daemon's life: a
/// second daemon on the same file would double every scheduled run.
fn lock_sqlite(url: &str) -> anyhow::Result<std::fs::File> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open the lock file {lock_path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another kpid daemon already runs on {path} (it holds {lock_path}); stop it first, \
             or use PostgreSQL to run several replicas"
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {lock_path}"))
        }
    }
}

fn notify_systemd(state: &[sd_notify::NotifyState]) {
    // Outside systemd NOTIFY_SOCKET is unset and this does nothing.
    let _ = sd_notify::notify(state);
}

/// Pings systemd's watchdog at half its interval while the process lives.
fn spawn_watchdog(stop: CancellationToken) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = interval / 2;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    });
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
