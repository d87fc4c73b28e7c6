//! The HTTP listener: `/healthz` (process alive), `/readyz` (database
//! reachable, migrations applied, scheduler running) and `/metrics`.
//! It listens on loopback by default so metrics are not exposed by accident.

use crate::metrics::Metrics;
use crate::store::Store;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Set once the scheduler's loops run; cleared on shutdown.
    pub scheduler_running: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let db = tokio::time::timeout(Duration::from_secs(2), async {
        s.store.ping().await?;
        s.store.migrations_applied().await
    })
    .await;
    let problem = match db {
        Err(_) => Some("database did not answer within 2s".to_string()),
        Ok(Err(e)) => Some(format!("database unreachable: {e}")),
        Ok(Ok(false)) => Some("migrations not applied".to_string()),
        Ok(Ok(true)) if !s.scheduler_running.load(Ordering::SeqCst) => {
            Some("scheduler not running".to_string())
        }
        Ok(Ok(true)) => None,
    };
    match problem {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(p) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {p}\n")),
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(now),
    )
}

/// Binds `listen` and serves until `shutdown`; returns the bound address.
pub async fn serve(
    listen: &str,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(state);
    let handle = tokio::spawn(async move {
        let stop = async move { shutdown.cancelled().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, "http listener stopped");
        }
    });
    Ok((addr, handle))
}
