//! The HTTP listener: `/healthz` (process alive), `/readyz` (database
//! reachable, migrations applied, scheduler running), `/metrics`, the JSON
//! API under `/api/v1/` and the dashboard at `/`.
//! It listens on loopback by default so nothing is exposed by accident; with
//! `[server] token` set, `/metrics` and the API need `Authorization: Bearer`.

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::setup::Setup;
use crate::store::Store;

pub mod api;
pub mod dashboard;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    pub setup: Arc<Setup>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Set once the scheduler's loops run; cleared on shutdown.
    pub scheduler_running: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    // Data (the API and metrics) needs the token; the dashboard's own files
    // hold no data and must load before the page can ask for the token.
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .merge(api::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .merge(dashboard::routes())
        .merge(protected)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Answers 401 unless the request carries the configured bearer token
/// (nothing to check when no token is configured).
async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.setup.server_token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if tokens_match(given, token.expose_secret()) {
        return next.run(req).await;
    }
    let mut resp = api::json_response(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"error": "send the token of [server] token as `Authorization: Bearer <token>`"}),
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"kpid\""),
    );
    resp
}

/// Compares digests in constant time, so neither the content nor the length
/// of the token leaks through timing.
fn tokens_match(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

/// Headers a security review expects: scripts only from this origin (no
/// inline scripts), no sniffing, no framing, no referrer. No CORS headers are
/// sent, so other origins' pages cannot read the API.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Why the listener must not start: a non-loopback address without a token.
pub fn refuse_public_without_token(settings: &Settings) -> Option<String> {
    let listen = &settings.config.server.listen;
    if listen.is_empty()
        || settings.server_token.is_some()
        || crate::config::is_loopback_listen(listen)
    {
        return None;
    }
    Some(format!(
        "server.listen `{listen}` is not a loopback address and no token is set: anyone who can \
         reach it could read the API and metrics. Set a token in [server] of {} (`token_file = \
         \"/run/secrets/kpid_token\"`, `token_env = \"KPID_TOKEN\"` or `token = \"…\"`; or the \
         environment variable KPID_SERVER__TOKEN_ENV / KPID_SERVER__TOKEN_FILE), or listen on \
         127.0.0.1",
        settings.file.display()
    ))
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
