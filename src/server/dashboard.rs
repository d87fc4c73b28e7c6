//! The dashboard at `/`: a page, its scripts and styles and Apache ECharts,
//! all compiled into the binary (no CDN, no network at run time, no Node
//! build step). The page reads everything else from `/api/v1/`.

use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("../../assets/dashboard/index.html");

/// Path, content type and bytes of each embedded file.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "/assets/app.js",
        JS,
        include_bytes!("../../assets/dashboard/app.js"),
    ),
    (
        "/assets/api.js",
        JS,
        include_bytes!("../../assets/dashboard/api.js"),
    ),
    (
        "/assets/format.js",
        JS,
        include_bytes!("../../assets/dashboard/format.js"),
    ),
    (
        "/assets/i18n.js",
        JS,
        include_bytes!("../../assets/dashboard/i18n.js"),
    ),
    (
        "/assets/pages.js",
        JS,
        include_bytes!("../../assets/dashboard/pages.js"),
    ),
    (
        "/assets/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/dashboard/style.css"),
    ),
    (
        "/assets/favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/dashboard/favicon.svg"),
    ),
    (
        "/assets/vendor/echarts.min.js",
        JS,
        include_bytes!("../../assets/vendor/echarts/echarts.min.js"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

pub fn routes() -> Router<AppState> {
    let mut r = Router::new().route("/", get(index));
    for (path, kind, body) in FILES {
        r = r.route(
            path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                    ],
                    *body,
                )
            }),
        );
    }
    r
}

/// The page, with the configured default language in `<html data-lang>`
/// (`?lang=` on the page overrides it).
async fn index(State(s): State<AppState>) -> Response {
    let lang = match s
        .setup
        .config
        .server
        .language
        .unwrap_or(s.setup.alerts.language)
    {
        crate::alerts::message::Language::Zh => "zh",
        crate::alerts::message::Language::En => "en",
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        INDEX.replace("{{LANG}}", lang),
    )
        .into_response()
}
