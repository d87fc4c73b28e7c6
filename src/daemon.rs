//! The daemon: wires the lock, the HTTP listener, start-up catch-up and the
//! scheduler with its jobs (see [`crate::jobs`]) until Ctrl-C or SIGTERM.

use crate::connectors::Window;
use crate::ids::ShopId;
use crate::jobs::{
    self, build_connectors, last_complete_month, run_connector_until, snapshot_shops,
};
use crate::kpi::FactsCache;
use crate::metrics::Metrics;
use crate::period::today;
use crate::period::Period;
use crate::report::snapshot_table;
use crate::scheduler::Scheduler;
use crate::server::AppState;
use crate::settings::Settings;
use crate::settings::Shop;
use crate::setup::Setup;
use crate::snapshot::{compute_many, Computed};
use crate::store::{redact_url, Backend, Store, StoredSnapshot};
use anyhow::Context;
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// `kpid run --once`: every connector once over its default window, then
/// the snapshot job for today in each shop's zone; an error if any connector failed.
pub async fn run_once(
    setup: Arc<Setup>,
    store: Store,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    log_start(&setup);
    let mut failed = 0;
    for c in build_connectors(&setup, &[])? {
        if stop.is_cancelled() {
            anyhow::bail!("stopped before every connector ran");
        }
        let run = run_connector_until(&store, &c, Window::default(), Some(stop.clone())).await;
        if run.error.is_some() {
            failed += 1;
        }
    }
    // Every shop at once (each on its own local day): set-based reads.
    let shops: Vec<_> = setup.shops.iter().map(|s| (s, today(s.tz))).collect();
    snapshot_shops(&setup, &store, &shops).await?;
    crate::alerts::evaluate_and_deliver(&setup, &setup.alerts, &store, &jobs::owner_id(), None)
        .await;
    print_start_report(&setup, &store).await?;
    if failed > 0 {
        anyhow::bail!("{failed} connector(s) failed; see the log above");
    }
    Ok(())
}

/// `kpid run`: the scheduler with its HTTP listener until `stop` fires.
pub async fn run(setup: Arc<Setup>, store: Store, stop: CancellationToken) -> anyhow::Result<()> {
    let _lock = match store.backend() {
        Backend::Sqlite => Some(lock_sqlite(setup.storage_url())?),
        Backend::Postgres => None,
    };
    log_start(&setup);
    let started = Utc::now();
    let metrics = Arc::new(Metrics::new(
        &setup.shops.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        started.timestamp() as f64,
    ));
    let running = Arc::new(AtomicBool::new(false));
    let server_stop = CancellationToken::new();
    let server = if setup.config.server.listen.is_empty() {
        None
    } else {
        if let Some(why) = crate::server::refuse_public_without_token(&setup) {
            anyhow::bail!("{why}");
        }
        let state = AppState {
            setup: setup.clone(),
            store: store.clone(),
            metrics: metrics.clone(),
            scheduler_running: running.clone(),
        };
        let (addr, handle) =
            crate::server::serve(&setup.config.server.listen, state, server_stop.clone())
                .await
                .with_context(|| format!("cannot listen on {}", setup.config.server.listen))?;
        tracing::info!(%addr, token = setup.server_token.is_some(), "http listening: / (dashboard) /api/v1/ /metrics /healthz /readyz");
        Some(handle)
    };

    let cx = jobs::Context::new(setup.clone(), store.clone(), metrics.clone(), stop.clone());
    let scheduler = Scheduler::new(cx, jobs::scheduled(&setup)?);
    // What an earlier process decided and did not send goes out first.
    jobs::alerts::deliver(scheduler.context()).await;
    scheduler.catch_up().await;
    if setup.config.snapshot.report_on_start {
        print_start_report(&setup, &store).await?;
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

/// Prints each shop's last complete month, computing it first: the shops
/// sharing that month (most share it; a zone may not have reached the next
/// month yet) in one set-based pass.
async fn print_start_report(settings: &Settings, store: &Store) -> anyhow::Result<()> {
    let mut by_month: BTreeMap<Period, Vec<&Shop>> = BTreeMap::new();
    for shop in &settings.shops {
        by_month
            .entry(last_complete_month(shop))
            .or_default()
            .push(shop);
    }
    let mut computed: HashMap<ShopId, Computed> = HashMap::new();
    let facts = FactsCache::default();
    for (month, shops) in &by_month {
        for c in compute_many(settings, store, &facts, shops, *month).await? {
            computed.insert(c.shop.clone(), c);
        }
    }
    let now = Utc::now().timestamp();
    for shop in &settings.shops {
        if let Some(c) = computed.remove(&shop.id) {
            // The values just computed are those the revision holds.
            let s = StoredSnapshot {
                shop: c.shop,
                period: c.period,
                revision: c.revision,
                computed_at: now,
                kpis: c.kpis,
            };
            println!("{}", snapshot_table(&s, &settings.catalogue));
        }
    }
    if let Some(shop) = settings.shops.first() {
        // People's scorecards of the same month (frozen if already closed).
        let month = last_complete_month(shop);
        for r in crate::scorecard::refresh_all(settings, store, &facts, month, None).await? {
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
