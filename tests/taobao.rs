//! Taobao/Tmall (TOP) connector against a loopback gateway that behaves like
//! TOP: form-encoded calls to `/router/rest`, signatures checked with an MD5
//! / HMAC implementation written here (a wrong one is answered with
//! `error_response` code 25), a one-day limit on increment windows, records
//! filtered by time and paged, `tid`s beyond 2^53, and a code-7 ban inside
//! an HTTP 200 body.

mod common;

use chrono::{Duration, Utc};
use common::facts::failure;
use common::logs::Logs;
use hmac::{Hmac, Mac};
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector, ConnectorRun};
use kpid::period::{Days, LocalDay};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const APP_KEY: &str = "12345678";
const APP_SECRET: &str = "tb-app-secret-SECRET-9f8e7d";
const SESSION: &str = "6100a1b2c3d4-session-SECRET-0042";
const TIME: &str = "%Y-%m-%d %H:%M:%S";

const INCREMENT: &str = "taobao.trades.sold.increment.get";
const SOLD: &str = "taobao.trades.sold.get";
const REFUNDS: &str = "taobao.refunds.receive.get";

/// One call the gateway answered.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    start: String,
    end: String,
    page_no: u64,
    /// `ok`, `ban`, `bad-sign`, `bad-session`, `too-wide`.
    answer: &'static str,
    use_has_next: bool,
}

/// The state of a fake TOP gateway for one shop.
struct FakeTop {
    secret: String,
    trades: Mutex<Vec<Value>>,
    refunds: Mutex<Vec<Value>>,
    calls: Mutex<Vec<Call>>,
    /// Calls (method, page_no) answered once with a code-7 ban.
    bans: Mutex<Vec<(String, u64)>>,
}

/// TOP's string to sign, written out from its documentation: parameters
/// sorted by name, `sign` and empty values left out, `k1v1k2v2…`.
fn top_digest(params: &BTreeMap<String, String>, secret: &str, sign_method: &str) -> String {
    let joined: String = params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}{v}"))
        .collect();
    let bytes = match sign_method {
        "md5" => Md5::digest(format!("{secret}{joined}{secret}").as_bytes()).to_vec(),
        "hmac" => {
            let mut m = Hmac::<Md5>::new_from_slice(secret.as_bytes()).unwrap();
            m.update(joined.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "hmac-sha256" => {
            let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            m.update(joined.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        other => panic!("unknown sign_method {other}"),
    };
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn top_error(code: u32, msg: &str, sub_code: &str, sub_msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"error_response": {
        "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg,
        "request_id": "3fb2x1q0pzz"
    }}))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl FakeTop {
    fn new(secret: &str, trades: Vec<Value>, refunds: Vec<Value>) -> Arc<Self> {
        Arc::new(FakeTop {
            secret: secret.into(),
            trades: Mutex::new(trades),
            refunds: Mutex::new(refunds),
            calls: Mutex::new(Vec::new()),
            bans: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn answer(&self, req: &Request) -> (ResponseTemplate, Call) {
        let body = String::from_utf8(req.body.clone()).unwrap();
        let params: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        let api = get("method");
        let (start_key, end_key) = if api == SOLD {
            ("start_created", "end_created")
        } else {
            ("start_modified", "end_modified")
        };
        let page_no: u64 = get("page_no").parse().unwrap_or(1);
        let page_size: usize = get("page_size").parse().unwrap_or(40);
        let mut call = Call {
            method: api.clone(),
            start: get(start_key),
            end: get(end_key),
            page_no,
            answer: "ok",
            use_has_next: get("use_has_next") == "true",
        };
        // System parameters as TOP requires them.
        assert_eq!(get("app_key"), APP_KEY);
        assert_eq!(get("format"), "json");
        assert_eq!(get("v"), "2.0");
        let sent = chrono::NaiveDateTime::parse_from_str(&get("timestamp"), TIME)
            .expect("timestamp is yyyy-MM-dd HH:mm:ss");
        let gmt8_now = (Utc::now() + Duration::hours(8)).naive_utc();
        assert!(
            (gmt8_now - sent).num_seconds().abs() < 600,
            "timestamp {sent} is not GMT+8 now ({gmt8_now})"
        );
        if top_digest(&params, &self.secret, &get("sign_method")) != get("sign") {
            call.answer = "bad-sign";
            return (
                top_error(25, "Invalid signature", "isv.invalid-signature", ""),
                call,
            );
        }
        if get("session") != SESSION {
            call.answer = "bad-session";
            return (
                top_error(
                    27,
                    "Invalid session",
                    "invalid-sessionkey",
                    "SessionKey非法",
                ),
                call,
            );
        }
        {
            let mut bans = self.bans.lock().unwrap();
            if let Some(i) = bans.iter().position(|(m, p)| *m == api && *p == page_no) {
                bans.remove(i);
                call.answer = "ban";
                return (
                    top_error(
                        7,
                        "App Call Limited",
                        "accesscontrol.limited-by-app-access-count",
                        "This ban will last for 1 more seconds",
                    ),
                    call,
                );
            }
        }
        let start = chrono::NaiveDateTime::parse_from_str(&call.start, TIME).unwrap();
        let end = chrono::NaiveDateTime::parse_from_str(&call.end, TIME).unwrap();
        if api == INCREMENT && end - start > Duration::days(1) {
            call.answer = "too-wide";
            return (
                top_error(
                    41,
                    "Invalid arguments",
                    "isv.invalid-parameter:end_modified",
                    "end_modified - start_modified must not exceed one day",
                ),
                call,
            );
        }
        let (records, time_key, outer, inner) = match api.as_str() {
            INCREMENT => (
                self.trades.lock().unwrap().clone(),
                "modified",
                "trades",
                "trade",
            ),
            SOLD => (
                self.trades.lock().unwrap().clone(),
                "created",
                "trades",
                "trade",
            ),
            REFUNDS => (
                self.refunds.lock().unwrap().clone(),
                "modified",
                "refunds",
                "refund",
            ),
            other => panic!("unexpected method {other}"),
        };
        let mut matched: Vec<Value> = records
            .into_iter()
            .filter(|r| {
                let t = text(r, time_key);
                t >= call.start.as_str() && t <= call.end.as_str()
            })
            .collect();
        // Newest first, as TOP answers.
        matched.sort_by(|a, b| text(b, time_key).cmp(text(a, time_key)));
        let total = matched.len();
        let from = (page_no as usize - 1) * page_size;
        let page: Vec<Value> = matched.into_iter().skip(from).take(page_size).collect();
        let mut inner_body = serde_json::Map::new();
        if call.use_has_next {
            inner_body.insert("has_next".into(), json!(from + page.len() < total));
        } else {
            inner_body.insert("total_results".into(), json!(total));
        }
        if !page.is_empty() {
            inner_body.insert(outer.into(), json!({ inner: page }));
        }
        inner_body.insert("request_id".into(), json!("3fb2x1q0abc"));
        let key = format!(
            "{}_response",
            api.trim_start_matches("taobao.").replace('.', "_")
        );
        (
            ResponseTemplate::new(200).set_body_json(json!({ key: inner_body })),
            call,
        )
    }
}

struct Gateway(Arc<FakeTop>);

impl Respond for Gateway {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let (resp, call) = self.0.answer(req);
        self.0.calls.lock().unwrap().push(call);
        resp
    }
}

async fn gateway(fake: &Arc<FakeTop>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/router/rest"))
        .respond_with(Gateway(fake.clone()))
        .mount(&server)
        .await;
    server
}

/// Yesterday and the day before in Shanghai (= TOP's GMT+8).
fn recent_days() -> (LocalDay, LocalDay) {
    let today = kpid::period::today(chrono_tz::Asia::Shanghai);
    (today - Duration::days(1), today - Duration::days(2))
}

/// A fixture with `{Y}` / `{P}` standing for yesterday / the day before.
fn fixture(name: &str) -> Vec<Value> {
    let (y, p) = recent_days();
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/taobao/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("{Y}", &y.to_string())
    .replace("{P}", &p.to_string());
    serde_json::from_str(&text).unwrap()
}

fn config(server: &MockServer, secret_line: &str, extra: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "tb"
[[connectors]]
name = "tmall-main"
kind = "taobao"
shop = "tb"
base_url = "{}/router/rest"
app_key = "{APP_KEY}"
{secret_line}
page_size = 2
requests_per_second = 0
{extra}
"#,
        server.uri()
    )
}

fn inline_secrets() -> String {
    format!("app_secret = \"{APP_SECRET}\"\nsession = \"{SESSION}\"")
}

async fn run(db: &common::TestDb, settings_toml: &str, window: Window) -> ConnectorRun {
    let settings = db.settings(settings_toml);
    let connectors = build_connectors(&settings, &[]).unwrap();
    run_connector(&db.store, &connectors[0], window).await
}

/// Paid orders, GMV (micros), distinct buyers; refund orders and micros.
async fn totals(db: &common::TestDb, day: LocalDay) -> (i64, i64, i64, i64, i64) {
    let t = db.store.record_totals("tb", Days::one(day)).await.unwrap();
    (
        t.orders,
        t.gmv.micros(),
        t.buyers,
        t.refund_orders,
        t.refund_amount.micros(),
    )
}

async fn order_ids(db: &common::TestDb) -> Vec<(String, String)> {
    crate::fetch_rows!(
        db.store,
        "SELECT order_id, status FROM orders WHERE shop = 'tb' ORDER BY order_id",
        [],
        |r| (r.get(0), r.get(1))
    )
}

#[tokio::test(flavor = "current_thread")]
async fn scheduled_run_pages_last_first_through_a_ban_and_keeps_bad_records_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let (yesterday, before) = recent_days();
    for db in common::backends().await {
        let fake = FakeTop::new(
            APP_SECRET,
            fixture("increment_trades.json"),
            fixture("increment_refunds.json"),
        );
        // The third page of yesterday's trades is refused once with a ban.
        fake.bans.lock().unwrap().push((INCREMENT.into(), 3));
        let server = gateway(&fake).await;
        let toml = config(&server, &inline_secrets(), "initial_days = 2");
        let started = std::time::Instant::now();
        let first = run(&db, &toml, Window::default()).await;
        assert!(first.error.is_none(), "{}: {:?}", db.backend, first.error);
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(1),
            "the named 1 s ban was waited out"
        );

        let calls = fake.calls();
        assert!(
            calls.iter().all(|c| c.answer == "ok" || c.answer == "ban"),
            "{}: every signature verified, no window too wide: {calls:?}",
            db.backend
        );
        for c in calls.iter().filter(|c| c.method == INCREMENT) {
            assert!(!c.use_has_next, "reverse paging needs total_results");
            let (s, e) = (
                chrono::NaiveDateTime::parse_from_str(&c.start, TIME).unwrap(),
                chrono::NaiveDateTime::parse_from_str(&c.end, TIME).unwrap(),
            );
            assert!(e - s < Duration::days(1), "{c:?}");
        }
        // Yesterday's eight trades at two a page: the count from page 1, then
        // pages 4, 3 (banned, then retried), 2 and 1.
        let y_start = format!("{yesterday} 00:00:00");
        let pages: Vec<(u64, &str)> = calls
            .iter()
            .filter(|c| c.method == INCREMENT && c.start == y_start)
            .map(|c| (c.page_no, c.answer))
            .collect();
        assert_eq!(
            pages,
            vec![
                (1, "ok"),
                (4, "ok"),
                (3, "ban"),
                (3, "ok"),
                (2, "ok"),
                (1, "ok")
            ],
            "{}",
            db.backend
        );
        assert!(calls.iter().any(|c| c.method == INCREMENT
            && c.start == y_start
            && c.end == format!("{yesterday} 23:59:59")));
        assert!(calls
            .iter()
            .any(|c| c.method == REFUNDS && c.start == y_start));

        let rejects = db.store.rejects("tmall-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}: {rejects:?}", db.backend);
        assert_eq!(rejects[0].locator, "tid 1000000005");
        assert!(
            rejects[0].reason.contains("payment"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"12.3.4\""), "{}", rejects[0].raw);
        assert!(rejects[0].source.contains(INCREMENT));

        // Paid yesterday: 199.90 + 0.01 + 30.05 (closed after a full refund,
        // still sold that day) + 100.10; buyer-1, buyer-2, buyer-4 and a
        // buyer without open uid. The unpaid and the closed-by-Taobao
        // trades do not count; 88.00 was paid the day before.
        assert_eq!(
            totals(&db, yesterday).await,
            (4, 330_060_000, 4, 1, 30_050_000),
            "{}",
            db.backend
        );
        assert_eq!(
            totals(&db, before).await,
            (1, 88_000_000, 1, 0, 0),
            "{}",
            db.backend
        );
        let ids = order_ids(&db).await;
        assert_eq!(ids.len(), 7, "{}: {ids:?}", db.backend);
        assert!(ids.contains(&("3876543210123456781".into(), "paid".into())));
        assert!(ids.contains(&("3876543210123456789".into(), "paid".into())));
        assert!(ids.contains(&("1000000002".into(), "unpaid".into())));
        assert!(ids.contains(&("1000000003".into(), "unpaid".into())));
        assert!(db
            .store
            .cursor("tmall-main", "trades")
            .await
            .unwrap()
            .is_some());

        // The next run covers the same records through the lookback.
        let again = run(&db, &toml, Window::default()).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert!(again.stats.records > 0);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the ban was logged and retried");
    logs.assert_free_of(&[APP_SECRET, SESSION]);
}

#[tokio::test]
async fn backfill_reads_trades_by_creation_day_and_big_tids_stay_two_orders() {
    for db in common::backends().await {
        let fake = FakeTop::new(
            APP_SECRET,
            fixture("sold_trades.json"),
            fixture("sold_refunds.json"),
        );
        let server = gateway(&fake).await;
        let toml = config(&server, &inline_secrets(), "sign_method = \"hmac-sha256\"");
        let window = Window {
            from: LocalDay::from_ymd_opt(2026, 10, 1),
            to: LocalDay::from_ymd_opt(2026, 10, 2),
        };
        let run1 = run(&db, &toml, window).await;
        assert!(run1.error.is_none(), "{}: {:?}", db.backend, run1.error);

        let mut sold: Vec<(String, String, u64)> = fake
            .calls()
            .into_iter()
            .filter(|c| c.method == SOLD)
            .inspect(|c| {
                assert_eq!(c.answer, "ok");
                assert!(c.use_has_next);
            })
            .map(|c| (c.start, c.end, c.page_no))
            .collect();
        sold.sort();
        // Three trades created on Oct 1 at two a page, two on Oct 2.
        assert_eq!(
            sold,
            vec![
                (
                    "2026-10-01 00:00:00".into(),
                    "2026-10-01 23:59:59".into(),
                    1
                ),
                (
                    "2026-10-01 00:00:00".into(),
                    "2026-10-01 23:59:59".into(),
                    2
                ),
                (
                    "2026-10-02 00:00:00".into(),
                    "2026-10-02 23:59:59".into(),
                    1
                ),
            ],
            "{}",
            db.backend
        );
        assert!(fake.calls().iter().all(|c| c.method != INCREMENT));

        // Two tids equal as f64 are two orders, each with its own amount.
        let ids = order_ids(&db).await;
        assert_eq!(
            ids.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
            vec![
                "3000000003",
                "3000000004",
                "3000000005",
                "3876543210123456781",
                "3876543210123456789"
            ],
            "{}",
            db.backend
        );
        let oct1 = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
        let oct2 = LocalDay::from_ymd_opt(2026, 10, 2).unwrap();
        // Oct 1: 10.00 + 20.00 by one buyer; the 1000.00 trade was created on
        // Sep 30, outside the window.
        assert_eq!(totals(&db, oct1).await, (2, 30_000_000, 1, 0, 0));
        // Oct 2: created 23:59 on Oct 1 but paid 00:01 on Oct 2, and 0.45;
        // its refund the same day.
        assert_eq!(totals(&db, oct2).await, (2, 6_000_000, 2, 1, 5_550_000));

        let run2 = run(&db, &toml, window).await;
        assert!(run2.error.is_none());
        assert_eq!(run2.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_wrong_app_secret_fails_at_once_naming_app_secret() {
    for db in common::backends().await {
        let fake = FakeTop::new(APP_SECRET, fixture("increment_trades.json"), vec![]);
        let server = gateway(&fake).await;
        let secrets = format!("app_secret = \"not-the-secret-X1\"\nsession = \"{SESSION}\"");
        let toml = config(&server, &secrets, "initial_days = 1\nconcurrency = 1");
        let run = run(&db, &toml, Window::default()).await;
        failure(
            &run,
            "a refused signature fails the run",
            &["tmall-main", "app_secret", "25"],
            &["not-the-secret-X1", SESSION],
        );
        let calls = fake.calls();
        assert_eq!(calls.len(), 1, "no retry of a bad signature: {calls:?}");
        assert_eq!(calls[0].answer, "bad-sign");
        assert!(db
            .store
            .cursor("tmall-main", "trades")
            .await
            .unwrap()
            .is_none());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn an_invalid_session_fails_at_once_naming_session() {
    for db in common::backends().await {
        let fake = FakeTop::new(APP_SECRET, vec![], vec![]);
        let server = gateway(&fake).await;
        let secrets = format!("app_secret = \"{APP_SECRET}\"\nsession = \"expired-session-77\"");
        let toml = config(&server, &secrets, "initial_days = 1\nconcurrency = 1");
        let run = run(&db, &toml, Window::default()).await;
        failure(
            &run,
            "a refused session fails the run",
            &["session", "27"],
            &[APP_SECRET, "expired-session-77"],
        );
        assert_eq!(fake.calls().len(), 1);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_late_refund_is_picked_up_by_the_lookback_on_the_next_run() {
    let (yesterday, _) = recent_days();
    for db in common::backends().await {
        let trade = json!({"tid": 2000000001u64, "status": "TRADE_FINISHED", "payment": "99.00",
            "created": format!("{yesterday} 09:59:00"), "pay_time": format!("{yesterday} 10:00:00"),
            "modified": format!("{yesterday} 10:00:00"), "buyer_open_uid": "AAG-x"});
        let fake = FakeTop::new(APP_SECRET, vec![trade], vec![]);
        let server = gateway(&fake).await;
        // Secrets from a file and from the environment.
        let secret_path = db.write("secrets/app_secret", &format!("{APP_SECRET}\n"));
        std::env::set_var("TOP_TEST_SESSION_FOR_LATE_REFUND", SESSION);
        let secrets = format!(
            "app_secret_file = \"{}\"\nsession_env = \"TOP_TEST_SESSION_FOR_LATE_REFUND\"",
            secret_path.display()
        );
        let toml = config(
            &server,
            &secrets,
            "initial_days = 2\nsign_method = \"hmac\"",
        );
        let first = run(&db, &toml, Window::default()).await;
        assert!(first.error.is_none(), "{}: {:?}", db.backend, first.error);
        assert_eq!(totals(&db, yesterday).await, (1, 99_000_000, 1, 0, 0));
        let cursor1 = db
            .store
            .cursor("tmall-main", "trades")
            .await
            .unwrap()
            .unwrap();

        // TOP lists the refund only after that run, stamped before its cursor.
        fake.refunds.lock().unwrap().push(json!({
            "refund_id": 356789012345678901u64, "tid": 2000000001u64, "refund_fee": "12.34",
            "status": "SUCCESS", "created": format!("{yesterday} 20:00:00"),
            "modified": format!("{yesterday} 21:00:00")}));
        let before = fake.calls().len();
        let second = run(&db, &toml, Window::default()).await;
        assert!(second.error.is_none(), "{:?}", second.error);
        assert_eq!(
            totals(&db, yesterday).await,
            (1, 99_000_000, 1, 1, 12_340_000),
            "{}",
            db.backend
        );
        assert!(fake.calls()[before..]
            .iter()
            .any(|c| c.method == REFUNDS && c.start == format!("{yesterday} 00:00:00")));
        let cursor2 = db
            .store
            .cursor("tmall-main", "trades")
            .await
            .unwrap()
            .unwrap();
        assert!(cursor2 >= cursor1, "{cursor2} vs {cursor1}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn missing_permission_or_session_fails_at_once_naming_what_to_fix() {
    let cases = [
        (
            11,
            "Insufficient isv permissions",
            "isv.permission-api-package-limit",
            "permission",
        ),
        (26, "Missing session", "", "session"),
    ];
    for db in common::backends().await {
        for (code, msg, sub_code, named) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/router/rest"))
                .respond_with(top_error(code, msg, sub_code, ""))
                .expect(1)
                .mount(&server)
                .await;
            let toml = config(
                &server,
                &inline_secrets(),
                "initial_days = 1\nconcurrency = 1",
            );
            let run = run(&db, &toml, Window::default()).await;
            let err = run.error.expect("a refusal fails the run").to_string();
            assert!(
                err.contains(named) && err.contains(&code.to_string()),
                "{err}"
            );
            assert!(!err.contains(APP_SECRET) && !err.contains(SESSION), "{err}");
            server.verify().await;
        }
        db.drop_db().await;
    }
}
