//! The connector job: one connector over a window, its records committed
//! page by page; a failure is the run's outcome, never a panic or an early
//! return, so one broken source never stops the others.

use super::Context;
use crate::connectors::{Connector, ConnectorError, Sink, Window};
use crate::facts::{IngestStats, Reject};
use crate::metrics::Metrics;
use crate::progress::Progress;
use crate::setup::Setup;
use crate::store::{RunResult, Store};
use chrono::Utc;
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
pub fn build_connectors(setup: &Setup, only: &[String]) -> Result<Vec<Connector>, ConnectorError> {
    for name in only {
        if !setup.config.connectors.iter().any(|c| &c.name == name) {
            return Err(ConnectorError::Config {
                connector: name.clone(),
                message: "no connector by that name in the configuration".into(),
            });
        }
    }
    setup
        .config
        .connectors
        .iter()
        .filter(|c| only.is_empty() || only.contains(&c.name))
        .map(|c| Connector::build(c, setup, &setup.definitions))
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

/// A scheduled tick of a connector: its default window, the run counted in
/// the metrics, and the alerts evaluated when it stored something.
pub(super) async fn tick(cx: &Context, connector: &Connector) -> RunResult {
    let run = run_connector_until(
        &cx.store,
        connector,
        Window::default(),
        Some(cx.stop.clone()),
    )
    .await;
    let label = Metrics::connector(&run.connector);
    let m = &cx.metrics;
    m.runs.get_or_create(&label).inc();
    m.records.get_or_create(&label).inc_by(run.stats.records);
    m.rejects.get_or_create(&label).inc_by(run.stats.rejects);
    // Exported at 0 from the first run, so `increase()` sees the first failure.
    m.failures.get_or_create(&label).inc_by(0);
    m.duration
        .get_or_create(&label)
        .observe(run.elapsed.as_secs_f64());
    if run.stats.changed > 0 {
        super::alerts::evaluate(cx).await;
    }
    let status = match &run.error {
        None => {
            m.last_success
                .get_or_create(&label)
                .set(super::now_seconds());
            "ok"
        }
        Some(ConnectorError::Interrupted { .. }) => "interrupted",
        Some(_) => {
            m.failures.get_or_create(&label).inc();
            "failed"
        }
    };
    RunResult {
        status,
        records: run.stats.records as i64,
        changed: run.stats.changed as i64,
        rejects: run.stats.rejects as i64,
        detail: format!(
            "files imported {}, skipped {}, duplicate keys in a file {}",
            run.stats.files_imported, run.stats.files_skipped, run.stats.duplicates
        ),
        error: run.error.map(|e| e.to_string()),
    }
}
