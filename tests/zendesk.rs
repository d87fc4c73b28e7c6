//! Zendesk connector against a loopback mock of the cursor-based
//! incremental ticket export: `start_time` then `cursor`, sideloaded
//! `metric_sets`, `end_of_stream`, Basic auth `{email}/token:{api_token}`
//! checked byte for byte, 429 with `Retry-After`.

mod common;

use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{LocalDay, Period};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const EMAIL: &str = "lead@acme.example";
const TOKEN: &str = "zd-api-token-SECRET-6Fh2kQ";
const PATH: &str = "/api/v2/incremental/tickets/cursor.json";

/// Standard base64 with padding (RFC 4648), written here for the check.
fn base64(input: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_test_base64_matches_rfc_4648() {
    assert_eq!(base64(b"foob"), "Zm9vYg==");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

fn ticket(id: u64, created: &str, status: &str, assignee: Option<u64>) -> Value {
    json!({
        "id": id, "url": format!("https://acme.zendesk.com/api/v2/tickets/{id}.json"),
        "created_at": created, "updated_at": created, "status": status,
        "assignee_id": assignee, "requester_id": 500 + id, "subject": "help", "tags": []
    })
}

fn metrics(ticket_id: u64, reply: Option<i64>) -> Value {
    json!({
        "id": 10_000 + ticket_id, "ticket_id": ticket_id,
        "reply_time_in_minutes": {"calendar": reply.map(|s| s / 60), "business": null},
        "reply_time_in_seconds": {"calendar": reply, "business": null},
        "first_resolution_time_in_minutes": {"calendar": null, "business": null}
    })
}

/// The export as the mock serves it: pages in order, the cursor that leads to each.
#[derive(Clone)]
struct Export {
    /// (tickets, metric_sets) per page.
    pages: Vec<(Vec<Value>, Vec<Value>)>,
}

/// The mock Zendesk: checks auth byte for byte, serves the export by
/// cursor, throttles chosen pages once with 429 + `Retry-After: 1`.
struct Zendesk {
    export: Arc<Mutex<Export>>,
    throttle_once: Mutex<Vec<usize>>,
    calls: Arc<AtomicUsize>,
    queries: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    uri: String,
}

impl Respond for Zendesk {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let expected = format!(
            "Basic {}",
            base64(format!("{EMAIL}/token:{TOKEN}").as_bytes())
        );
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth != expected {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"error": "Couldn't authenticate you"}));
        }
        if req.method.as_str() != "GET" || req.url.path() != PATH {
            return ResponseTemplate::new(404).set_body_json(json!({"error": "InvalidEndpoint"}));
        }
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        self.queries.lock().unwrap().push(q.clone());
        if q.get("include").map(String::as_str) != Some("metric_sets") {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "include"}));
        }
        let index = match (q.get("start_time"), q.get("cursor")) {
            (Some(_), None) => 0,
            (None, Some(c)) => match c.strip_prefix("cur-").and_then(|n| n.parse().ok()) {
                Some(n) => n,
                None => {
                    return ResponseTemplate::new(400)
                        .set_body_json(json!({"error": "InvalidCursor"}))
                }
            },
            _ => {
                return ResponseTemplate::new(400)
                    .set_body_json(json!({"error": "start_time or cursor"}))
            }
        };
        {
            let mut once = self.throttle_once.lock().unwrap();
            if let Some(i) = once.iter().position(|p| *p == index) {
                once.remove(i);
                return ResponseTemplate::new(429)
                    .insert_header("Retry-After", "1")
                    .set_body_string("Rate limited: 10 requests per minute");
            }
        }
        let export = self.export.lock().unwrap().clone();
        let (tickets, sets) = export.pages.get(index).cloned().unwrap_or_default();
        let last = index + 1 >= export.pages.len();
        let next = format!("cur-{}", index + 1);
        ResponseTemplate::new(200).set_body_json(json!({
            "tickets": tickets, "metric_sets": sets,
            "after_url": format!("{}{PATH}?cursor={next}", self.uri),
            "after_cursor": next, "before_url": null, "before_cursor": null,
            "end_of_stream": last
        }))
    }
}

struct Mocked {
    server: MockServer,
    export: Arc<Mutex<Export>>,
    calls: Arc<AtomicUsize>,
    queries: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
}

async fn zendesk(export: Export, throttle: Vec<usize>) -> Mocked {
    let server = MockServer::start().await;
    let export = Arc::new(Mutex::new(export));
    let calls = Arc::new(AtomicUsize::new(0));
    let queries = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(Zendesk {
            export: export.clone(),
            throttle_once: Mutex::new(throttle),
            calls: calls.clone(),
            queries: queries.clone(),
            uri: server.uri(),
        })
        .mount(&server)
        .await;
    Mocked {
        server,
        export,
        calls,
        queries,
    }
}

fn config(server: &MockServer, token: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "sh"
[[connectors]]
name = "zendesk-cs"
kind = "zendesk"
shop = "sh"
subdomain = "acme"
base_url = "{}"
email = "{EMAIL}"
api_token = "{token}"
requests_per_minute = 0
"#,
        server.uri()
    )
}

/// Three pages of changed tickets; times in UTC, the shop is in Asia/Shanghai.
fn export() -> Export {
    Export {
        pages: vec![
            (
                vec![
                    // Oct 1 00:10 local.
                    ticket(101, "2026-09-30T16:10:00Z", "open", Some(9001)),
                    ticket(102, "2026-10-01T02:00:00Z", "solved", Some(9002)),
                    // Sep 30 23:00 local: before the window.
                    ticket(103, "2026-09-30T15:00:00Z", "open", Some(9001)),
                    // No first reply yet: not a session yet.
                    ticket(104, "2026-10-01T05:00:00Z", "new", Some(9001)),
                ],
                vec![
                    metrics(101, Some(60)),
                    metrics(102, Some(300)),
                    metrics(103, Some(10)),
                    metrics(104, None),
                ],
            ),
            (
                vec![
                    ticket(105, "2026-10-01T08:00:00Z", "deleted", Some(9001)),
                    ticket(106, "yesterday", "open", Some(9002)),
                    // Oct 2 01:00 local.
                    ticket(107, "2026-10-01T17:00:00Z", "open", Some(9002)),
                    // 101 changed while the export ran: its later state wins.
                    ticket(101, "2026-09-30T16:10:00Z", "pending", Some(9001)),
                ],
                vec![
                    metrics(105, Some(50)),
                    metrics(106, Some(5)),
                    metrics(107, Some(45)),
                    metrics(101, Some(90)),
                ],
            ),
            (
                vec![
                    ticket(108, "2026-10-02T03:00:00Z", "open", Some(9001)),
                    // Oct 3 04:00 local: after the window.
                    ticket(109, "2026-10-02T20:00:00Z", "open", Some(9001)),
                    ticket(110, "2026-10-01T09:00:00Z", "open", None),
                ],
                vec![
                    metrics(108, Some(30)),
                    metrics(109, Some(7)),
                    metrics(110, Some(120)),
                ],
            ),
        ],
    }
}

fn window() -> Window {
    Window {
        from: LocalDay::from_ymd_opt(2026, 10, 1),
        to: LocalDay::from_ymd_opt(2026, 10, 2),
    }
}

/// Stored daily values as `(day, input, agent) → value` (micros / 10^6).
async fn stored(db: &common::TestDb) -> Vec<(String, String, String, i64)> {
    crate::fetch_rows!(
        db.store,
        "SELECT day, input, dimension, value_micros FROM daily_values \
         WHERE shop = 'sh' ORDER BY day, dimension, input",
        [],
        |r| {
            let micros: i64 = r.get(3);
            assert_eq!(micros % 1_000_000, 0, "whole counts and seconds");
            (r.get(0), r.get(1), r.get(2), micros / 1_000_000)
        }
    )
}

fn row(day: &str, input: &str, agent: &str, v: i64) -> (String, String, String, i64) {
    (day.into(), input.into(), agent.into(), v)
}

const S: &str = "cs_sessions";
const T: &str = "cs_first_response_seconds_total";

#[tokio::test(flavor = "current_thread")]
async fn export_pages_through_a_429_and_totals_per_agent_and_local_day() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        // The second page answers 429 + Retry-After: 1 once.
        let mock = zendesk(export(), vec![1]).await;
        let settings = db.settings(&config(&mock.server, TOKEN));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let started = std::time::Instant::now();
        let run = run_connector(&db.store, &connectors[0], window()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(1),
            "Retry-After was honoured"
        );
        assert_eq!(
            mock.calls.load(Ordering::SeqCst),
            4,
            "3 pages + 1 throttled"
        );
        let queries = mock.queries.lock().unwrap().clone();
        // The export starts at the first instant of Oct 1 in Asia/Shanghai.
        assert_eq!(
            queries[0].get("start_time").map(String::as_str),
            Some("1790784000")
        );
        assert_eq!(queries[1].get("cursor").map(String::as_str), Some("cur-1"));
        assert_eq!(queries[3].get("cursor").map(String::as_str), Some("cur-2"));

        assert_eq!(
            stored(&db).await,
            vec![
                row("2026-10-01", T, "9001", 90),
                row("2026-10-01", S, "9001", 1),
                row("2026-10-01", T, "9002", 300),
                row("2026-10-01", S, "9002", 1),
                row("2026-10-01", T, "unassigned", 120),
                row("2026-10-01", S, "unassigned", 1),
                row("2026-10-02", T, "9001", 30),
                row("2026-10-02", S, "9001", 1),
                row("2026-10-02", T, "9002", 45),
                row("2026-10-02", S, "9002", 1),
            ],
            "{}",
            db.backend
        );
        let oct1 = InputValues::load(&db.store, "sh", Period::parse_any("2026-10-01").unwrap())
            .await
            .unwrap();
        assert_eq!(oct1.get(S), Some(d("3")));
        assert_eq!(oct1.get(T), Some(d("510")));

        let rejects = db.store.rejects("zendesk-cs").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "ticket 106");
        assert!(
            rejects[0].reason.contains("ticket"),
            "{}",
            rejects[0].reason
        );
        assert!(
            rejects[0].raw.contains("\"yesterday\""),
            "{}",
            rejects[0].raw
        );

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], window()).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);

        // Later, 102 moves from agent 9002 to 9001 and 104 gets its first
        // reply: the days are recomputed, 9002's Oct 1 values are cleared.
        {
            let mut e = mock.export.lock().unwrap();
            e.pages[0].0[1] = ticket(102, "2026-10-01T02:00:00Z", "solved", Some(9001));
            e.pages[0].1[3] = metrics(104, Some(200));
        }
        let changed = run_connector(&db.store, &connectors[0], window()).await;
        assert!(changed.error.is_none(), "{:?}", changed.error);
        assert_eq!(
            stored(&db).await,
            vec![
                row("2026-10-01", T, "9001", 590),
                row("2026-10-01", S, "9001", 3),
                row("2026-10-01", T, "unassigned", 120),
                row("2026-10-01", S, "unassigned", 1),
                row("2026-10-02", T, "9001", 30),
                row("2026-10-02", S, "9001", 1),
                row("2026-10-02", T, "9002", 45),
                row("2026-10-02", S, "9002", 1),
            ],
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the 429 was logged and retried");
    let basic = base64(format!("{EMAIL}/token:{TOKEN}").as_bytes());
    logs.assert_free_of(&[TOKEN, &basic]);
}

#[tokio::test]
async fn a_wrong_api_token_fails_at_once_naming_it() {
    for db in common::backends().await {
        let mock = zendesk(export(), vec![]).await;
        let settings = db.settings(&config(&mock.server, "wrong-token-QQQ"));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], window()).await;
        failure(
            &run,
            "a 401 fails the run",
            &["zendesk-cs", "api_token", "401"],
            &["wrong-token-QQQ"],
        );
        assert_eq!(mock.calls.load(Ordering::SeqCst), 1, "not retried");
        assert!(stored(&db).await.is_empty());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scheduled_run_recomputes_the_lookback_days_and_moves_the_cursor() {
    for db in common::backends().await {
        let tz = chrono_tz::Asia::Shanghai;
        let now = chrono::Utc::now();
        let yesterday = now - chrono::Duration::days(1);
        let created =
            (now - chrono::Duration::hours(30)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mock = zendesk(
            Export {
                pages: vec![(
                    vec![ticket(201, &created, "open", Some(77))],
                    vec![metrics(201, Some(42))],
                )],
            },
            vec![],
        )
        .await;
        let settings = db.settings(&config(&mock.server, TOKEN));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let cursor = yesterday.to_rfc3339();
        db.store
            .set_cursor("zendesk-cs", "tickets", &cursor)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        // The default 7-day lookback before the cursor, from local midnight.
        let first = kpid::period::local_day(yesterday - chrono::Duration::days(7), tz);
        let start = kpid::period::day_start(first, tz).timestamp().to_string();
        let queries = mock.queries.lock().unwrap().clone();
        assert_eq!(queries[0].get("start_time"), Some(&start));
        let day = chrono::DateTime::parse_from_rfc3339(&created)
            .unwrap()
            .with_timezone(&tz)
            .format("%Y-%m-%d")
            .to_string();
        assert_eq!(
            stored(&db).await,
            vec![row(&day, T, "77", 42), row(&day, S, "77", 1)]
        );
        let new_cursor = db
            .store
            .cursor("zendesk-cs", "tickets")
            .await
            .unwrap()
            .unwrap();
        assert!(new_cursor > cursor, "{new_cursor} vs {cursor}");
        db.drop_db().await;
    }
}
