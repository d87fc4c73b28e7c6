//! The read-only JSON API under `/api/v1/`: the documents of `kpid report`,
//! `kpid kpis`, `kpid runs` and `kpid alerts` (built by [`crate::read`], as the CLI
//! prints them), series for charts, and its OpenAPI document.

mod params;
mod schema;

use super::AppState;
use crate::read::{self, ReadError};
use crate::report::Format;
use crate::scorecard::export::{self, CardView};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use params::{Params, Revisioned};
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::OpenApi;

/// An error answered as `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.0, &json!({ "error": self.1 }))
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::BadRequest(m) => ApiError(StatusCode::BAD_REQUEST, m),
            ReadError::NotFound(m) => ApiError(StatusCode::NOT_FOUND, m),
            ReadError::Store(e) => {
                tracing::error!(error = %e, "api: database read failed");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the database could not be read; see the kpid log".into(),
                )
            }
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ReadError::Store(e).into()
    }
}

type ApiResult = Result<Response, ApiError>;

pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn ok(value: &Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, value))
}

/// A page of a list read with one more row than `limit`: the extra row only
/// tells that a next page exists, and then `X-Next-Cursor` holds the cursor
/// of the page's last row.
fn paged<T>(
    mut rows: Vec<T>,
    limit: i64,
    json: impl FnOnce(&[T]) -> Value,
    cursor: impl FnOnce(&T) -> Option<HeaderValue>,
) -> ApiResult {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let mut resp = json_response(StatusCode::OK, &json(&rows));
    if let Some(v) = rows.last().filter(|_| more).and_then(cursor) {
        resp.headers_mut().insert("x-next-cursor", v);
    }
    Ok(resp)
}

/// A document in the `format` asked: only the one asked for is built.
fn answer<C: std::fmt::Display, X: std::fmt::Display>(
    format: Format,
    name: &str,
    csv: impl FnOnce() -> Result<Vec<u8>, C>,
    xlsx: impl FnOnce() -> Result<Vec<u8>, X>,
    json: impl FnOnce() -> Value,
) -> ApiResult {
    match format {
        Format::Csv => download(format, name, csv()),
        Format::Xlsx => download(format, name, xlsx()),
        _ => ok(&json()),
    }
}

/// A `format=csv` or `format=xlsx` answer: the file `{name}.csv` or
/// `{name}.xlsx` as an attachment; a file that could not be built is a 500.
fn download(
    format: Format,
    name: &str,
    body: Result<Vec<u8>, impl std::fmt::Display>,
) -> ApiResult {
    let (content_type, extension) = match format {
        Format::Xlsx => (XLSX, "xlsx"),
        _ => (CSV, "csv"),
    };
    let body = body.map_err(internal)?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{name}.{extension}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

const CSV: &str = "text/csv; charset=utf-8";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "api: building a download failed");
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the file could not be built".into(),
    )
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/shops", get(shops))
        .route("/api/v1/kpis", get(kpis))
        .route("/api/v1/snapshots", get(snapshots))
        .route("/api/v1/series", get(series))
        .route("/api/v1/live", get(live))
        .route("/api/v1/scorecards", get(scorecards))
        .route("/api/v1/appeals", get(appeals))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/connectors", get(connectors))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alerts/history", get(alerts_history))
        .route("/api/v1/silences", get(silences))
        .fallback(|| async {
            ApiError(
                StatusCode::NOT_FOUND,
                "no such endpoint; see /api/v1/openapi.json".into(),
            )
        })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kpid read API",
        description = "Read-only KPI snapshots, series, scorecards, runs and alerts. \
            With `[server] token` set, send `Authorization: Bearer <token>`."
    ),
    paths(
        shops, kpis, snapshots, series, live, scorecards, appeals, runs, connectors, alerts,
        alerts_history, silences
    ),
    components(schemas(
        schema::Error, schema::Shop, schema::LatestSnapshot, schema::Kpi, schema::Snapshot,
        schema::SnapshotLine, schema::SeriesPoint, schema::Live, schema::Scorecard,
        schema::ScorecardLine, schema::Appeal, schema::Adjustment, schema::Run, schema::Connector, schema::Alert,
        schema::Notification, schema::Silence, schema::Matcher, schema::LastRun
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI 3 document of this API.
pub fn openapi_document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

async fn openapi() -> ApiResult {
    ok(&openapi_document())
}

/// Shops with their zone, currency and newest snapshot of each period kind.
#[utoipa::path(get, path = "/api/v1/shops", responses(
    (status = 200, body = Vec<schema::Shop>),
    schema::Unauthorized
))]
async fn shops(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    Params::new(q, &[])?;
    ok(&read::shops_json(&s.setup, &s.store).await?)
}

/// The KPI catalogue, as `kpid kpis --format json`.
#[utoipa::path(get, path = "/api/v1/kpis", responses(
    (status = 200, body = Vec<schema::Kpi>),
    schema::Unauthorized
))]
async fn kpis(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    Params::new(q, &[])?;
    ok(&read::kpis_json(&s.setup.catalogue))
}

/// The latest (or a given) snapshot revision of a period, as `kpid report --format json`:
/// an object with `shop`, else the array of every shop's.
#[utoipa::path(get, path = "/api/v1/snapshots",
    params(
        ("period" = String, Query, description = "A day `2026-10-05`, month `2026-10` or year `2026`"),
        ("shop" = Option<String>, Query, description = "A shop id; without it, every shop's snapshot"),
        schema::RevisionAndFormat
    ),
    responses(
        (status = 200, description = "One snapshot with `shop`, else an array", body = Vec<schema::Snapshot>),
        schema::Refused,
        (status = 404, description = "Unknown shop or no snapshot", body = schema::Error)
    ))]
async fn snapshots(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let r = Revisioned::read(q, "shop")?;
    let shop = r.id.as_deref();
    let snaps = read::snapshots(&s.setup, &s.store, r.period, shop, r.revision).await?;
    let cat = &s.setup.catalogue;
    let name = format!("kpid-{}-{}", shop.unwrap_or("shops"), r.period);
    answer(
        r.format,
        &name,
        || read::snapshots_csv(&snaps, cat),
        || read::snapshots_xlsx(&snaps, cat),
        || read::snapshots_json(&snaps, cat, shop.is_some()),
    )
}

/// A KPI per local day: the latest day snapshot's value, or for a day without
/// one the value computed now from the facts; null where the KPI has no value.
#[utoipa::path(get, path = "/api/v1/series",
    params(
        ("shop" = String, Query, description = "A shop id"),
        ("kpi" = String, Query, description = "A KPI id of the catalogue"),
        ("from" = String, Query, description = "First local day, YYYY-MM-DD"),
        ("to" = String, Query, description = "Last local day, YYYY-MM-DD (at most 400 days after `from`)")
    ),
    responses(
        (status = 200, body = Vec<schema::SeriesPoint>),
        schema::Refused,
        (status = 404, description = "Unknown shop or KPI", body = schema::Error)
    ))]
async fn series(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let p = Params::new(q, &["shop", "kpi", "from", "to"])?;
    let shop = p.required("shop", "a shop id")?;
    let kpi = p.required("kpi", "a KPI id such as gmv")?;
    let from = p.day("from")?;
    let to = p.day("to")?;
    ok(&read::series(&s.setup, &s.store, shop, kpi, from, to).await?)
}

/// A shop's today so far and month to date, computed now (revision null; nothing is written).
#[utoipa::path(get, path = "/api/v1/live",
    params(("shop" = String, Query, description = "A shop id")),
    responses(
        (status = 200, body = schema::Live),
        schema::Refused,
        (status = 404, description = "Unknown shop", body = schema::Error)
    ))]
async fn live(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let p = Params::new(q, &["shop"])?;
    let shop = p.required("shop", "a shop id")?;
    ok(&read::live_json(&s.setup, &s.store, shop).await?)
}

/// People's scorecards, as `kpid report --scorecards --format json`: an
/// object with `person`, else an array.
#[utoipa::path(get, path = "/api/v1/scorecards",
    params(
        ("period" = String, Query, description = "A month `2026-10` or year `2026`"),
        ("person" = Option<String>, Query, description = "A person id; without it, everyone's"),
        schema::RevisionAndFormat
    ),
    responses(
        (status = 200, description = "One scorecard with `person`, else an array", body = Vec<schema::Scorecard>),
        schema::Refused,
        (status = 404, description = "Unknown person or no scorecard", body = schema::Error)
    ))]
async fn scorecards(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let r = Revisioned::read(q, "person")?;
    let person = r.id.as_deref();
    let cards = read::scorecards(&s.store, r.period, person, r.revision).await?;
    let name = format!("kpid-scorecards-{}", r.period);
    let views = || -> Vec<_> { cards.iter().map(|c| CardView::new(&s.setup, c)).collect() };
    answer(
        r.format,
        &name,
        || export::cards_csv(&views()),
        || export::workbook(&s.setup, &views()),
        || read::scorecards_json(&s.setup, &cards, person),
    )
}

/// Appeals against closed scorecards, newest first, as `kpid appeal list --format json`.
#[utoipa::path(get, path = "/api/v1/appeals",
    params(
        ("month" = Option<String>, Query, description = "Only this month, YYYY-MM"),
        ("person" = Option<String>, Query, description = "Only this person's")
    ),
    responses(
        (status = 200, body = Vec<schema::Appeal>),
        schema::Refused
    ))]
async fn appeals(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let p = Params::new(q, &["month", "person"])?;
    let month = p.parsed("month", "a month YYYY-MM", |t| {
        crate::period::Period::parse_month(t).ok()
    })?;
    let list = s.store.appeals(p.optional("person"), month).await?;
    ok(&read::appeals_json(&list))
}

/// Recent scheduled runs, newest first, as `kpid runs --format json`. When
/// more remain, the `X-Next-Cursor` header holds the `cursor` of the next page.
#[utoipa::path(get, path = "/api/v1/runs",
    params(
        ("job" = Option<String>, Query, description = "Only this job (a connector name or `snapshot:<shop>`)"),
        ("limit" = Option<i64>, Query, description = "At most this many runs, 1 to 1000 (default 20)"),
        ("cursor" = Option<String>, Query, description = "The `X-Next-Cursor` of the previous page")
    ),
    responses(
        (status = 200, body = Vec<schema::Run>, headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        schema::Refused
    ))]
async fn runs(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let p = Params::new(q, &["job", "limit", "cursor"])?;
    let job = p.optional("job");
    let limit = p.limit(20)?;
    let cursor = p.parsed(
        "cursor",
        "a cursor this API made (take X-Next-Cursor)",
        read::parse_runs_cursor,
    )?;
    let list = s.store.runs_after(job, cursor, limit + 1).await?;
    paged(list, limit, read::runs_json, |last| {
        HeaderValue::from_str(&read::runs_cursor(last)).ok()
    })
}

/// Each scheduled job (connectors and snapshots): last run, last success,
/// failures among its recent runs, rejects of the last run, next run.
#[utoipa::path(get, path = "/api/v1/connectors", responses(
    (status = 200, body = Vec<schema::Connector>),
    schema::Unauthorized
))]
async fn connectors(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    Params::new(q, &[])?;
    ok(&read::connectors_json(&s.setup, &s.store).await?)
}

/// The current alerts (pending, firing, resolved), as `kpid alerts list --format json`.
#[utoipa::path(get, path = "/api/v1/alerts", responses(
    (status = 200, body = Vec<schema::Alert>),
    schema::Unauthorized
))]
async fn alerts(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    Params::new(q, &[])?;
    ok(&read::alerts_json(&s.setup.alerts, &s.store).await?)
}

/// Notifications per channel, newest first, as `kpid alerts history --format
/// json`. When more remain, `X-Next-Cursor` holds the `cursor` of the next page.
#[utoipa::path(get, path = "/api/v1/alerts/history",
    params(
        ("limit" = Option<i64>, Query, description = "At most this many, 1 to 1000 (default 50)"),
        ("cursor" = Option<i64>, Query, description = "The `X-Next-Cursor` of the previous page")
    ),
    responses(
        (status = 200, body = Vec<schema::Notification>, headers(("X-Next-Cursor" = String, description = "Cursor of the next page, when there is one"))),
        schema::Refused
    ))]
async fn alerts_history(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &["limit", "cursor"])?;
    let limit = p.limit(50)?;
    let before = p.positive("cursor")?;
    let rows = s.store.notifications_before(before, limit + 1).await?;
    paged(rows, limit, read::alert_history_json, |last| {
        Some(HeaderValue::from(last.id))
    })
}

/// Silences in force (as `kpid silence list`), oldest first.
#[utoipa::path(get, path = "/api/v1/silences", responses(
    (status = 200, body = Vec<schema::Silence>),
    schema::Unauthorized
))]
async fn silences(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    Params::new(q, &[])?;
    ok(&read::silences_json(&s.store).await?)
}
