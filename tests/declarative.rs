//! Declarative connectors: a user's own definition of an in-house API
//! (bearer token, cursor and page-number pagination, amounts in fen, Unix
//! seconds and zoned local times, ids too large for a u64) served by a
//! loopback mock; definition errors that name the file and key; the old
//! kind names of the built-in definitions; and the built-in WooCommerce,
//! Shopify and GA4 definitions storing exactly what the Rust modules they
//! replaced stored from the same mock (the expected facts, requests and
//! rejects below are those the modules stored before issue 15).

mod common;

use chrono::{DateTime, Utc};
use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{LocalDay, Period};
use serde_json::{json, Value};
use sqlx::Row;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "erp_live_KEY_5f3a9c";
// Not `KPID_…`: those variables override configuration keys.
const KEY_ENV: &str = "ERP_TEST_ACCESS_KEY";
const ORDERS: &str = "/api/acme/orders";
const REFUNDS: &str = "/api/acme/refunds";

/// An in-house ERP as its team would describe it. `access_key` matches none
/// of kpid's secret-looking names: the definition declares it secret.
const ERP_DEFINITION: &str = r#"
kind = "erp"
description = "Acme in-house ERP: orders and refunds"

[connection]
base_url = "https://erp.acme.internal"
page_size = 2
max_page_size = 500
concurrency = 2

[credentials]
access_key = { description = "API key from ERP → Integrations" }

[options]
tenant = { default = "main" }

[auth]
headers = { Authorization = "Bearer {access_key}" }

# The ERP answers HTTP 200 with a code, also when throttling or refusing the key.
[errors]
code = "/code"
message = "/message"
ok = ["0"]
throttled = ["42901"]
auth = ["40101", "40102"]

[streams.orders]
path = "/api/{tenant}/orders"
records = "/data/items"
query = { limit = "{page_size}", cursor = "{cursor}" }

[streams.orders.window]
format = "unix"
backfill = { paid_from = "{from}", paid_to = "{to}" }
incremental = { updated_from = "{from}", updated_to = "{to}" }

[streams.orders.pagination]
style = "cursor"
next_cursor = "/data/next_cursor"
has_next = "/data/has_more"

[streams.orders.order]
id = "/order_no"
paid_at = { pointer = "/pay_time", format = "unix" }
amount = { pointer = "/pay_amount", scale = "fen" }
buyer_id = "/buyer/uid"
status = { pointer = "/state", map = { "10" = "unpaid", "20" = "paid", "30" = "paid", "90" = "cancelled", "99" = "closed" } }

[streams.refunds]
path = "/api/{tenant}/refunds"
records = "/data/items"
query = { start = "{from}", end = "{to}", page = "{page}", size = "{page_size}" }

[streams.refunds.window]
format = "%Y-%m-%d %H:%M:%S"
zone = "Asia/Shanghai"
bounds = "inclusive"

[streams.refunds.pagination]
style = "page"
total = "/data/total"

[streams.refunds.refunds]
id = "/refund_no"
order_id = "/order_no"
refunded_at = { pointer = "/refund_time", format = "%Y-%m-%d %H:%M:%S", zone = "Asia/Shanghai" }
amount = { pointer = "/refund_fee", scale = "fen" }
"#;

fn unix(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

fn erp_config(db: &common::TestDb, server: &MockServer) -> kpid::setup::Setup {
    erp_config_with(db, server, ERP_DEFINITION)
}

/// The ERP connector's configuration, its kind defined by `definition`.
fn erp_config_with(
    db: &common::TestDb,
    server: &MockServer,
    definition: &str,
) -> kpid::setup::Setup {
    std::env::set_var(KEY_ENV, KEY);
    db.write("connectors.d/erp.toml", definition);
    db.write("connectors.d/README.txt", "not a definition: ignored");
    db.settings(&format!(
        r#"
timezone = "Asia/Shanghai"
definitions = ["./connectors.d"]
[storage]
url = "{{db}}"
[[shops]]
id = "sh"
[[connectors]]
name = "acme-erp"
kind = "erp"
shop = "sh"
base_url = "{}"
tenant = "acme"
access_key_env = "{KEY_ENV}"
requests_per_second = 0
"#,
        server.uri()
    ))
}

/// Orders over three cursor pages (a 429 before the second, a broken
/// gateway page before the third) and refunds over two numbered pages.
async fn mount_erp(server: &MockServer) {
    let bearer = format!("Bearer {KEY}");
    // The local day 2026-10-01 in Shanghai, [start, end) in Unix seconds.
    let from = unix("2026-10-01T00:00:00+08:00").to_string();
    let to = unix("2026-10-02T00:00:00+08:00").to_string();
    let orders = || {
        Mock::given(method("GET"))
            .and(path(ORDERS))
            .and(header("authorization", bearer.as_str()))
            .and(query_param("paid_from", from.as_str()))
            .and(query_param("paid_to", to.as_str()))
            .and(query_param("limit", "2"))
    };
    let page = |items: Value, next: Value, more: bool| {
        ResponseTemplate::new(200).set_body_json(json!({
            "code": 0,
            "data": {"items": items, "next_cursor": next, "has_more": more}
        }))
    };
    // Ids and buyer ids are JSON numbers no u64 or f64 holds exactly.
    let first = r#"{"code":0,"data":{"items":[
        {"order_no":12345678901234567890123,"pay_time":PAY1,"pay_amount":1999,"buyer":{"uid":9007199254740993},"state":20},
        {"order_no":"A-2","pay_time":PAY2,"pay_amount":"5","buyer":null,"state":90}
      ],"next_cursor":"c2","has_more":true}}"#
        .replace("PAY1", &unix("2026-10-01T00:00:00+08:00").to_string())
        .replace("PAY2", &unix("2026-10-01T23:59:59+08:00").to_string());
    orders()
        .and(query_param_is_missing("cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(first, "application/json"))
        .mount(server)
        .await;
    orders()
        .and(query_param("cursor", "c2"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0.2")
                .set_body_json(json!({"code": 429, "message": "slow down"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    let second = r#"{"code":0,"data":{"items":[
        {"order_no":12345678901234567890124,"pay_time":PAY,"pay_amount":"12.5","buyer":{"uid":5},"state":20},
        {"order_no":12345678901234567890125,"pay_time":PAY,"pay_amount":100001,"buyer":{"uid":9007199254740993},"state":30}
      ],"next_cursor":"c3","has_more":true}}"#
        .replace("PAY", &unix("2026-10-01T12:00:00+08:00").to_string());
    orders()
        .and(query_param("cursor", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(second, "application/json"))
        .with_priority(2)
        .mount(server)
        .await;
    orders()
        .and(query_param("cursor", "c3"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<html>502 Bad Gateway</html>", "text/html"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    orders()
        .and(query_param("cursor", "c3"))
        .respond_with(page(
            // 2^64, paid a second before the window: filed under 30 September.
            json!([{"order_no": 18446744073709551616u128, "pay_time": unix("2026-09-30T23:59:59+08:00"),
                    "pay_amount": 1, "buyer": {"uid": 6}, "state": 10}]),
            Value::Null,
            false,
        ))
        .with_priority(2)
        .mount(server)
        .await;

    let refunds = |page_no: &str| {
        Mock::given(method("GET"))
            .and(path(REFUNDS))
            .and(header("authorization", bearer.as_str()))
            // Inclusive bounds written in Shanghai time.
            .and(query_param("start", "2026-10-01 00:00:00"))
            .and(query_param("end", "2026-10-01 23:59:59"))
            .and(query_param("size", "2"))
            .and(query_param("page", page_no))
    };
    let refund_page = |items: Value| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"code": 0, "data": {"items": items, "total": 3}}))
    };
    refunds("1")
        .respond_with(refund_page(json!([
            {"refund_no": "700000000000000000001", "order_no": "12345678901234567890123",
             "refund_time": "2026-10-01 10:00:00", "refund_fee": 999},
            {"refund_no": "700000000000000000002", "order_no": "12345678901234567890125",
             "refund_time": "2026-10-01 23:30:00", "refund_fee": 1}
        ])))
        .mount(server)
        .await;
    refunds("2")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"code": 42901, "message": "rate limit, retry later"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    refunds("2")
        .respond_with(refund_page(json!([
            {"refund_no": "700000000000000000003", "order_no": "12345678901234567890125",
             "refund_time": "2026-10-02 00:10:00", "refund_fee": 50000}
        ])))
        .with_priority(2)
        .mount(server)
        .await;
}

async fn orders(
    db: &common::TestDb,
    shop: &str,
) -> Vec<(String, i64, Option<String>, i64, Option<String>, String)> {
    crate::fetch_rows!(
        db.store,
        "SELECT order_id, paid_at, local_day, amount_micros, buyer_id, status \
         FROM orders WHERE shop = $1 ORDER BY order_id",
        [shop],
        |r| {
            (
                r.get::<String, _>(0),
                r.get::<i64, _>(1),
                r.get::<Option<String>, _>(2),
                r.get::<i64, _>(3),
                r.get::<Option<String>, _>(4),
                r.get::<String, _>(5),
            )
        }
    )
}

async fn refunds(db: &common::TestDb, shop: &str) -> Vec<(String, String, i64, String, i64)> {
    crate::fetch_rows!(
        db.store,
        "SELECT refund_id, order_id, refunded_at, local_day, amount_micros \
         FROM refunds WHERE shop = $1 ORDER BY refund_id",
        [shop],
        |r| {
            (
                r.get::<String, _>(0),
                r.get::<String, _>(1),
                r.get::<i64, _>(2),
                r.get::<String, _>(3),
                r.get::<i64, _>(4),
            )
        }
    )
}

async fn day_inputs(db: &common::TestDb, shop: &str, day: &str) -> InputValues {
    InputValues::load(&db.store, shop, Period::parse_day(day).unwrap())
        .await
        .unwrap()
}

fn one_day(day: &str) -> Window {
    let d = LocalDay::parse_ymd(day).unwrap();
    Window {
        from: Some(d),
        to: Some(d),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn in_house_definition_pages_through_throttling_and_keeps_bad_records_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let server = MockServer::start().await;
        mount_erp(&server).await;
        let settings = erp_config(&db, &server);
        assert!(settings.definitions.get("erp").is_some());
        let connectors = build_connectors(&settings, &[]).unwrap();
        let debug = format!("{:?}", connectors[0]);
        assert!(
            !debug.contains(KEY) && debug.contains("acme-erp"),
            "{debug}"
        );
        let run = run_connector(&db.store, &connectors[0], one_day("2026-10-01")).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        // Five orders and three refunds read, one order set aside.
        assert_eq!(run.stats.records, 7, "{}", db.backend);
        assert_eq!(run.stats.rejects, 1, "{}", db.backend);

        let rejects = db.store.rejects("acme-erp").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "order 12345678901234567890124");
        assert!(
            rejects[0].reason.contains("amount (/pay_amount)")
                && rejects[0].reason.contains("12.5"),
            "{}",
            rejects[0].reason
        );
        assert!(
            rejects[0].raw.contains("12345678901234567890124"),
            "{}",
            rejects[0].raw
        );
        assert!(rejects[0].source.ends_with(ORDERS), "{}", rejects[0].source);

        let o = orders(&db, "sh").await;
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        let row = |id: &str, t: &str, day: &str, micros: i64, buyer: Option<&str>, status: &str| {
            (
                id.to_string(),
                at(t),
                Some(day.to_string()),
                micros,
                buyer.map(str::to_string),
                status.to_string(),
            )
        };
        assert_eq!(
            o,
            vec![
                row(
                    "12345678901234567890123",
                    "2026-10-01T00:00:00+08:00",
                    "2026-10-01",
                    19_990_000,
                    Some("9007199254740993"),
                    "paid"
                ),
                row(
                    "12345678901234567890125",
                    "2026-10-01T12:00:00+08:00",
                    "2026-10-01",
                    1_000_010_000,
                    Some("9007199254740993"),
                    "paid"
                ),
                row(
                    "18446744073709551616",
                    "2026-09-30T23:59:59+08:00",
                    "2026-09-30",
                    10_000,
                    Some("6"),
                    "unpaid"
                ),
                row(
                    "A-2",
                    "2026-10-01T23:59:59+08:00",
                    "2026-10-01",
                    50_000,
                    None,
                    "cancelled"
                ),
            ],
            "{}",
            db.backend
        );
        let r = refunds(&db, "sh").await;
        assert_eq!(
            r,
            vec![
                (
                    "700000000000000000001".into(),
                    "12345678901234567890123".into(),
                    at("2026-10-01T10:00:00+08:00"),
                    "2026-10-01".into(),
                    9_990_000
                ),
                (
                    "700000000000000000002".into(),
                    "12345678901234567890125".into(),
                    at("2026-10-01T23:30:00+08:00"),
                    "2026-10-01".into(),
                    10_000
                ),
                (
                    "700000000000000000003".into(),
                    "12345678901234567890125".into(),
                    at("2026-10-02T00:10:00+08:00"),
                    "2026-10-02".into(),
                    500_000_000
                ),
            ],
            "{}",
            db.backend
        );

        let oct1 = day_inputs(&db, "sh", "2026-10-01").await;
        assert_eq!(oct1.get("orders"), Some(d("2")), "{}", db.backend);
        assert_eq!(oct1.get("gmv"), Some(d("1020.00")), "{}", db.backend);
        // The same buyer twice.
        assert_eq!(oct1.get("buyers"), Some(d("1")), "{}", db.backend);
        assert_eq!(
            oct1.get("refund_amount"),
            Some(d("10.00")),
            "{}",
            db.backend
        );
        assert_eq!(oct1.get("refund_orders"), Some(d("2")), "{}", db.backend);
        let oct2 = day_inputs(&db, "sh", "2026-10-02").await;
        assert_eq!(oct2.get("refund_amount"), Some(d("500")), "{}", db.backend);
        let sep30 = day_inputs(&db, "sh", "2026-09-30").await;
        assert_eq!(sep30.get("orders"), Some(d("0")), "{}", db.backend);

        // Every request carried exactly the bearer header; none the key elsewhere.
        let requests = server.received_requests().await.unwrap();
        // 3 order pages + the 429 + the broken page, 2 refund pages + the throttled one.
        assert_eq!(requests.len(), 8, "{}", db.backend);
        for req in &requests {
            let auth: Vec<_> = req.headers.get_all("authorization").iter().collect();
            assert_eq!(auth.len(), 1);
            assert_eq!(auth[0].to_str().unwrap(), format!("Bearer {KEY}"));
            assert!(!req.url.as_str().contains(KEY), "{}", req.url);
        }

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], one_day("2026-10-01")).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert_eq!(orders(&db, "sh").await, o, "{}", db.backend);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(
        text.contains("retrying") && text.contains("429"),
        "the 429 was logged and retried"
    );
    assert!(
        text.contains("not the JSON expected"),
        "the broken page was retried"
    );
    logs.assert_free_of(&[KEY]);
}

/// A definition's records get the checks a file's rows get: no negative
/// order or refund amount, no `1_000`, no id over 256 bytes, and a bad value
/// is echoed cut to 200 characters (the reason is also what the run logs).
#[tokio::test]
async fn definition_records_are_checked_like_file_rows() {
    // The same ERP, its order amounts written as decimals.
    let definition = ERP_DEFINITION.replace(
        r#"amount = { pointer = "/pay_amount", scale = "fen" }"#,
        r#"amount = { pointer = "/pay_amount", scale = "decimal" }"#,
    );
    assert_ne!(definition, ERP_DEFINITION);
    let long_state = "9".repeat(5000);
    for db in common::backends().await {
        let b = db.backend;
        let server = MockServer::start().await;
        let pay = unix("2026-10-01T12:00:00+08:00");
        let order = |id: &str, amount: &str, buyer: Value, state: Value| json!({"order_no": id, "pay_time": pay, "pay_amount": amount, "buyer": {"uid": buyer}, "state": state});
        let items = json!([
            order("N1", "-100", json!(1), json!(20)),
            order("N2", "1_000", json!(1), json!(20)),
            order(&"x".repeat(257), "1", json!(1), json!(20)),
            order("N4", "1", json!("b".repeat(300)), json!(20)),
            order("N5", "1", json!(1), json!(long_state)),
            order("N6", "1", json!(1), json!(20)),
            order(&"y".repeat(256), "2.50", json!(1), json!(20)),
        ]);
        Mock::given(method("GET"))
            .and(path(ORDERS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "code": 0,
                "data": {"items": items, "next_cursor": null, "has_more": false}
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(REFUNDS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "code": 0,
                "data": {"items": [{"refund_no": "R1", "order_no": "N6",
                    "refund_time": "2026-10-01 10:00:00", "refund_fee": "-5"}], "total": 1}
            })))
            .mount(&server)
            .await;
        let settings = erp_config_with(&db, &server, &definition);
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], one_day("2026-10-01")).await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);

        let stored: Vec<(String, i64)> = orders(&db, "sh")
            .await
            .into_iter()
            .map(|o| (o.0, o.3))
            .collect();
        assert_eq!(
            stored,
            vec![("N6".to_string(), 1_000_000), ("y".repeat(256), 2_500_000)],
            "{b}: a 256-byte id is still an id"
        );
        assert!(refunds(&db, "sh").await.is_empty(), "{b}");

        let rejects = db.store.rejects("acme-erp").await.unwrap();
        assert_eq!(rejects.len(), 6, "{b}: {rejects:#?}");
        let reason = |locator: &str| {
            rejects
                .iter()
                .find(|r| r.locator == locator)
                .map(|r| r.reason.as_str())
                .unwrap_or_else(|| panic!("{b}: no reject at {locator}: {rejects:#?}"))
        };
        assert!(
            reason("order N1").contains("must not be negative"),
            "{b}: {}",
            reason("order N1")
        );
        assert!(
            reason("order N2").contains("`1_000` is not a decimal number"),
            "{b}: {}",
            reason("order N2")
        );
        let buyer = reason("order N4");
        assert!(
            buyer.contains("/buyer/uid") && buyer.contains("256 bytes"),
            "{b}: {buyer}"
        );
        let id = rejects
            .iter()
            .find(|r| r.reason.contains("is 257 bytes long"))
            .unwrap_or_else(|| panic!("{b}: the long id is a reject: {rejects:#?}"));
        assert!(id.reason.contains("/order_no"), "{b}: {}", id.reason);
        assert!(
            id.locator.len() < 250,
            "{b}: the locator echoes the id cut: {}",
            id.locator
        );
        let state = reason("order N5");
        assert!(state.contains(&"9".repeat(200)), "{b}: {state}");
        assert!(
            !state.contains(&"9".repeat(201)),
            "{b}: cut to 200 characters"
        );
        assert!(
            reason("refund R1").contains("must not be negative"),
            "{b}: {}",
            reason("refund R1")
        );
        for r in &rejects {
            assert!(r.reason.chars().count() < 400, "{b}: {}", r.reason);
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scheduled_run_uses_incremental_parameters_and_moves_the_cursor() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let now = Utc::now();
        Mock::given(method("GET"))
            .and(path(ORDERS))
            .and(header("authorization", format!("Bearer {KEY}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": {"items": [{"order_no": 42, "pay_time": (now - chrono::Duration::hours(1)).timestamp(),
                                    "pay_amount": 100, "buyer": {"uid": 1}, "state": 20}],
                         "next_cursor": null, "has_more": false}
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(REFUNDS))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": {"items": [], "total": 0}})),
            )
            .mount(&server)
            .await;
        let settings = erp_config(&db, &server);
        let connectors = build_connectors(&settings, &[]).unwrap();
        let cursor = (now - chrono::Duration::days(1)).to_rfc3339();
        db.store
            .set_cursor("acme-erp", "orders", &cursor)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        let requests = server.received_requests().await.unwrap();
        let orders: Vec<_> = requests.iter().filter(|r| r.url.path() == ORDERS).collect();
        let param = |r: &wiremock::Request, k: &str| {
            r.url
                .query_pairs()
                .find(|(x, _)| x == k)
                .map(|(_, v)| v.into_owned())
        };
        assert!(orders.iter().all(|r| param(r, "paid_from").is_none()));
        // Cursor minus the 2-day lookback: the local day three days ago, one request a day.
        let tz = chrono_tz::Asia::Shanghai;
        let since = kpid::period::local_day(now - chrono::Duration::days(3), tz);
        let first = orders
            .iter()
            .filter_map(|r| param(r, "updated_from"))
            .map(|v| v.parse::<i64>().unwrap())
            .min()
            .unwrap();
        assert_eq!(first, kpid::period::day_start(since, tz).timestamp());
        let days = (kpid::period::today(tz) - since).num_days() as usize + 1;
        assert_eq!(orders.len(), days, "{}", db.backend);
        let new_cursor = db
            .store
            .cursor("acme-erp", "orders")
            .await
            .unwrap()
            .unwrap();
        assert!(new_cursor > cursor, "{new_cursor} vs {cursor}");
        // The refunds stream has its own cursor.
        assert!(db
            .store
            .cursor("acme-erp", "refunds")
            .await
            .unwrap()
            .is_some());
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_refused_key_fails_at_once_naming_the_credential() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_json(json!({"code": 401, "message": "invalid key"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let settings = erp_config(&db, &server);
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], one_day("2026-10-01")).await;
        failure(
            &run,
            "a 401 fails the run",
            &["acme-erp", "access_key", "401"],
            &[KEY],
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_cursor_handed_back_again_fails_the_run_instead_of_looping() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(ORDERS))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "code": 0,
                "data": {"items": [], "next_cursor": "same", "has_more": true}
            })))
            .mount(&server)
            .await;
        let settings = erp_config(&db, &server);
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], one_day("2026-10-01")).await;
        let msg = run.error.expect("a looping cursor fails").to_string();
        assert!(
            msg.contains("same page cursor") && msg.contains(ORDERS),
            "{msg}"
        );
        // The first page with the cursor and the second that returned it again.
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
        db.drop_db().await;
    }
}

// ------------------------------------------------------------ definitions

fn load_with(defs: &[(&str, &str)], connectors: &str) -> Result<kpid::setup::Setup, String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in defs {
        std::fs::create_dir_all(dir.path().join("defs")).unwrap();
        std::fs::write(dir.path().join("defs").join(name), text).unwrap();
    }
    let cfg = dir.path().join("kpid.toml");
    std::fs::write(
        &cfg,
        format!(
            "definitions = [\"defs\"]\n[storage]\nurl = \"sqlite://{}/k.db\"\n[[shops]]\nid = \"sh\"\n{connectors}",
            dir.path().display()
        ),
    )
    .unwrap();
    kpid::setup::load(&cfg).map_err(|e| e.to_string())
}

#[test]
fn a_bad_definition_is_reported_with_its_file_key_and_line() {
    let bad = ERP_DEFINITION.replace(
        r#"amount = { pointer = "/pay_amount", scale = "fen" }"#,
        r#"amount = { pointer = "/pay_amount", scale = "cents2" }"#,
    );
    let line = bad.lines().position(|l| l.contains("cents2")).unwrap() + 1;
    let err = load_with(&[("erp.toml", &bad)], "").unwrap_err();
    assert!(err.contains("erp.toml"), "{err}");
    assert!(
        err.contains(&format!(
            "erp.toml:{line}: `streams.orders.order.amount.scale`"
        )),
        "{err}"
    );
    assert!(err.contains("cents2"), "{err}");

    // A key the format does not have, found by the parser.
    let typo = ERP_DEFINITION.replace(
        "records = \"/data/items\"\nquery = { limit",
        "record = \"/data/items\"\nquery = { limit",
    );
    let line = typo
        .lines()
        .position(|l| l.starts_with("record ="))
        .unwrap()
        + 1;
    let err = load_with(&[("erp.toml", &typo)], "").unwrap_err();
    assert!(
        err.contains(&format!("erp.toml:{line}: `streams.orders.record`")),
        "{err}"
    );

    // Every such problem of the file in one run, each on its own line.
    let typos = typo.replace("kind = \"erp\"", "kind = \"erp\"\ncolour = \"blue\"");
    let err = load_with(&[("erp.toml", &typos)], "").unwrap_err();
    assert!(err.contains("erp.toml:3: `colour`"), "{err}");
    assert!(
        err.contains(&format!("erp.toml:{}: `streams.orders.record`", line + 1)),
        "{err}"
    );

    // A template naming a variable nobody provides.
    let var = ERP_DEFINITION.replace("cursor = \"{cursor}\"", "cursor = \"{next}\"");
    let err = load_with(&[("erp.toml", &var)], "").unwrap_err();
    assert!(
        err.contains("`streams.orders.query.cursor`") && err.contains("{next}"),
        "{err}"
    );

    // A secret in a path would be logged.
    let leak = ERP_DEFINITION.replace(
        "path = \"/api/{tenant}/orders\"",
        "path = \"/api/{access_key}/orders\"",
    );
    let err = load_with(&[("erp.toml", &leak)], "").unwrap_err();
    assert!(
        err.contains("`streams.orders.path`") && err.contains("secret"),
        "{err}"
    );
}

#[test]
fn a_user_definition_may_not_shadow_a_kind_that_exists() {
    let rust = ERP_DEFINITION.replace("kind = \"erp\"", "kind = \"shopify\"");
    let err = load_with(&[("shop.toml", &rust)], "").unwrap_err();
    assert!(
        err.contains("shop.toml:2: `kind`") && err.contains("`shopify`"),
        "{err}"
    );
    let rust = ERP_DEFINITION.replace("kind = \"erp\"", "kind = \"taobao\"");
    let err = load_with(&[("tb.toml", &rust)], "").unwrap_err();
    assert!(
        err.contains("tb.toml:2: `kind`") && err.contains("`taobao`"),
        "{err}"
    );
    let builtin = ERP_DEFINITION.replace("kind = \"erp\"", "kind = \"woocommerce\"");
    let err = load_with(&[("woo.toml", &builtin)], "").unwrap_err();
    assert!(
        err.contains("woo.toml:2: `kind`") && err.contains("built in"),
        "{err}"
    );
    let err = load_with(
        &[("a.toml", ERP_DEFINITION), ("b.toml", ERP_DEFINITION)],
        "",
    )
    .unwrap_err();
    assert!(
        err.contains("b.toml:2: `kind`") && err.contains("a.toml"),
        "{err}"
    );
}

#[test]
fn connector_options_are_checked_against_the_definition() {
    let connector = |extra: &str| {
        format!("[[connectors]]\nname = \"e\"\nkind = \"erp\"\nshop = \"sh\"\naccess_key = \"k\"\n{extra}\n")
    };
    assert!(load_with(&[("erp.toml", ERP_DEFINITION)], &connector("")).is_ok());
    let err = load_with(
        &[("erp.toml", ERP_DEFINITION)],
        &connector("tennant = \"x\""),
    )
    .unwrap_err();
    assert!(
        err.contains("`connectors[0].tennant`") && err.contains("tenant"),
        "{err}"
    );
    let err = load_with(
        &[("erp.toml", ERP_DEFINITION)],
        &connector("page_size = 501"),
    )
    .unwrap_err();
    assert!(err.contains("`connectors[0].page_size`"), "{err}");
    let err = load_with(
        &[("erp.toml", ERP_DEFINITION)],
        "[[connectors]]\nname = \"e\"\nkind = \"erp\"\nshop = \"sh\"\n",
    )
    .unwrap_err();
    assert!(err.contains("`connectors[0].access_key`"), "{err}");
    // Without the folder the kind is unknown, and the message lists the kinds there are.
    let err = load_with(&[], &connector("")).unwrap_err();
    assert!(
        err.contains("unknown kind `erp`") && err.contains("woocommerce"),
        "{err}"
    );
}

/// `kpid check`'s output for a configuration of `extra` (top-level keys
/// first, then connectors) and shop `sh` in `dir`; the check must pass.
fn kpid_check(dir: &std::path::Path, extra: &str) -> String {
    let (top, rest) = match extra.split_once("[[connectors]]") {
        Some((top, rest)) => (top, format!("[[connectors]]{rest}")),
        None => (extra, String::new()),
    };
    let cfg = dir.join("kpid.toml");
    std::fs::write(
        &cfg,
        format!(
            "{top}[storage]\nurl = \"sqlite://{}/k.db\"\n[[shops]]\nid = \"sh\"\n{rest}",
            dir.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("--config")
        .arg(&cfg)
        .arg("check")
        .env_remove("KPID_CONFIG")
        .env_remove("KPID_LOG")
        .env_remove("KPID_STORAGE__URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn check_lists_definition_kinds_and_hides_declared_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("defs")).unwrap();
    std::fs::write(dir.path().join("defs/erp.toml"), ERP_DEFINITION).unwrap();
    let stdout = kpid_check(
        dir.path(),
        &format!(
            "definitions = [\"defs\"]\n[[connectors]]\nname = \"e\"\nkind = \"erp\"\nshop = \"sh\"\naccess_key = \"{KEY}\"\n"
        ),
    );
    assert!(
        stdout.contains("erp") && stdout.contains("Acme in-house ERP"),
        "{stdout}"
    );
    assert!(
        stdout.contains("connectors/woocommerce.toml (built in)"),
        "{stdout}"
    );
    assert!(!stdout.contains(KEY), "{stdout}");
}

/// `shopify_rest`, `woocommerce_rest` and `ga4_rest` were the definitions'
/// kinds before they replaced the Rust modules: for one release they are
/// the same connectors under the old name, with a warning when built and a
/// note in `kpid check`; no definition may take them.
#[test]
fn old_definition_kind_names_still_work_with_a_deprecation_warning() {
    let connectors = "[[connectors]]\nname = \"s\"\nkind = \"shopify_rest\"\nshop = \"sh\"\n\
         base_url = \"http://127.0.0.1:9\"\naccess_token = \"shpat_OLD_NAME_1\"\n\
         [[connectors]]\nname = \"w\"\nkind = \"woocommerce_rest\"\nshop = \"sh\"\n\
         base_url = \"http://127.0.0.1:9\"\nconsumer_key = \"ck_OLD_2\"\nconsumer_secret = \"cs_OLD_3\"\n\
         [[connectors]]\nname = \"g\"\nkind = \"ga4_rest\"\nshop = \"sh\"\n\
         property_id = \"123\"\naccess_token = \"ya29.OLD_NAME_4\"\n";
    let settings = load_with(&[("erp.toml", ERP_DEFINITION)], connectors).unwrap();
    // Options are checked against the definition the old name stands for.
    let err = load_with(
        &[],
        &connectors.replace("property_id = \"123\"", "property_id = \"G-1\""),
    )
    .unwrap_err();
    assert!(err.contains("`connectors[2].property_id`"), "{err}");

    let logs = Logs::default();
    let built = tracing::subscriber::with_default(logs.subscriber(), || {
        build_connectors(&settings, &[]).unwrap()
    });
    let kinds: Vec<&str> = built
        .iter()
        .map(|c| match c {
            kpid::connectors::Connector::Declarative(d) => d.kind(),
            _ => "not a definition",
        })
        .collect();
    assert_eq!(kinds, ["shopify", "woocommerce", "ga4"]);
    let text = logs.text();
    for (old, new) in [
        ("shopify_rest", "shopify"),
        ("woocommerce_rest", "woocommerce"),
        ("ga4_rest", "ga4"),
    ] {
        assert!(
            text.contains(&format!("`{old}` is deprecated"))
                && text.contains(&format!("kind = \"{new}\"")),
            "{old}: {text}"
        );
    }
    logs.assert_free_of(&["shpat_OLD_NAME_1", "cs_OLD_3", "ya29.OLD_NAME_4"]);

    // `kpid check` says the same, once per connector.
    let dir = tempfile::tempdir().unwrap();
    let stdout = kpid_check(dir.path(), connectors);
    for (name, old) in [
        ("s", "shopify_rest"),
        ("w", "woocommerce_rest"),
        ("g", "ga4_rest"),
    ] {
        assert!(
            stdout.contains(&format!(
                "note: connector `{name}`: kind `{old}` is deprecated"
            )),
            "{stdout}"
        );
    }
    assert!(!stdout.contains("shpat_OLD_NAME_1"), "{stdout}");

    // A user's definition may not take an old name either.
    let taken = ERP_DEFINITION.replace("kind = \"erp\"", "kind = \"ga4_rest\"");
    let err = load_with(&[("g.toml", &taken)], "").unwrap_err();
    assert!(
        err.contains("g.toml:2: `kind`") && err.contains("`ga4`"),
        "{err}"
    );
}

// ------------------------------------------------------------ WooCommerce

const W_KEY: &str = "ck_parity_KEY_1111";
const W_SECRET: &str = "cs_parity_SECRET_2222";
const W_ORDERS: &str = "/wp-json/wc/v3/orders";

#[allow(clippy::too_many_arguments)]
fn woo_order(
    id: u64,
    status: &str,
    created: &str,
    paid: Option<&str>,
    modified: &str,
    total: &str,
    customer: u64,
    refunds: Value,
) -> Value {
    json!({
        "id": id, "status": status, "currency": "BRL",
        "date_created_gmt": created, "date_modified_gmt": modified, "date_paid_gmt": paid,
        "total": total, "customer_id": customer, "line_items": [], "refunds": refunds,
    })
}

/// One catalogue of orders, served for any window in pages of two with
/// `X-WP-TotalPages`, a 429 on the second page's first request.
async fn mount_woo(server: &MockServer) {
    let orders = [
        woo_order(
            101,
            "processing",
            "2026-10-01T02:58:00",
            Some("2026-10-01T03:00:00"),
            "2026-10-01T03:00:00",
            "19.99",
            7,
            json!([]),
        ),
        woo_order(
            102,
            "completed",
            "2026-10-02T02:29:00",
            Some("2026-10-02T02:30:00"),
            "2026-10-02T02:30:00",
            "0.01",
            0,
            json!([]),
        ),
        woo_order(
            103,
            "refunded",
            "2026-10-01T12:00:00",
            None,
            "2026-10-03T15:00:00",
            "100.10",
            7,
            json!([{"id": 9001, "reason": "", "total": "-100.10"}]),
        ),
        woo_order(
            104,
            "processing",
            "2026-10-01T13:00:00",
            Some("2026-10-01T13:00:00"),
            "2026-10-01T13:00:00",
            "12,50",
            11,
            json!([]),
        ),
        woo_order(
            105,
            "cancelled",
            "2026-10-01T14:00:00",
            None,
            "2026-10-01T14:00:00",
            "300.00",
            8,
            json!([]),
        ),
        woo_order(
            106,
            "on-hold",
            "2026-10-01T15:00:00.250",
            None,
            "2026-10-01T15:00:00",
            "80",
            9,
            json!([]),
        ),
        woo_order(
            107,
            "trash",
            "2026-10-01T20:00:00",
            Some("2026-10-01T20:00:00"),
            "2026-10-03T20:00:00",
            "50.00",
            8,
            json!([{"id": 9002, "reason": "damaged", "total": "-5.00"}, {"id": 9003, "total": "-0.50"}]),
        ),
    ];
    Mock::given(method("GET"))
        .and(path(W_ORDERS))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0.1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    for (i, chunk) in orders.chunks(2).enumerate() {
        Mock::given(method("GET"))
            .and(path(W_ORDERS))
            .and(header(
                "authorization",
                "Basic Y2tfcGFyaXR5X0tFWV8xMTExOmNzX3Bhcml0eV9TRUNSRVRfMjIyMg==",
            ))
            .and(query_param("dates_are_gmt", "true"))
            .and(query_param("per_page", "2"))
            .and(query_param("page", (i + 1).to_string().as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(Value::Array(chunk.to_vec()))
                    .insert_header("X-WP-Total", orders.len().to_string().as_str())
                    .insert_header(
                        "X-WP-TotalPages",
                        orders.len().div_ceil(2).to_string().as_str(),
                    ),
            )
            .with_priority(2)
            .mount(server)
            .await;
    }
}

fn woo_config(server: &MockServer) -> String {
    format!(
        "timezone = \"America/Sao_Paulo\"\n[storage]\nurl = \"{{db}}\"\n[[shops]]\nid = \"decl\"\n\
         [[connectors]]\nname = \"woo-decl\"\nkind = \"woocommerce\"\nshop = \"decl\"\nbase_url = \"{}\"\n\
         consumer_key = \"{W_KEY}\"\nconsumer_secret = \"{W_SECRET}\"\nrequests_per_second = 0\npage_size = 2\n",
        server.uri()
    )
}

/// Each of `day`'s order and refund inputs, as `(input, value)`; the
/// others of the five are 0.
async fn assert_day(db: &common::TestDb, shop: &str, day: &str, expected: &[(&str, &str)]) {
    let got = day_inputs(db, shop, day).await;
    for input in ["orders", "buyers", "gmv", "refund_orders", "refund_amount"] {
        let want = expected
            .iter()
            .find(|(i, _)| *i == input)
            .map_or("0", |(_, v)| v);
        assert_eq!(
            got.get(input),
            Some(d(want)),
            "{} {day} {input}",
            db.backend
        );
    }
}

/// A row of [`orders`] for an order of 2026-10-01.
fn oct1_order(
    id: &str,
    at: i64,
    amount: i64,
    buyer: Option<&str>,
    status: &str,
) -> (String, i64, Option<String>, i64, Option<String>, String) {
    (
        id.to_string(),
        at,
        Some("2026-10-01".to_string()),
        amount,
        buyer.map(str::to_string),
        status.to_string(),
    )
}

/// What a request's sorted query is made of.
fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut q: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    q.sort();
    q
}

/// The distinct queries a server received (which slice's request met the
/// one 429 depends on timing, so repeats are dropped).
fn queries(requests: &[wiremock::Request]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = requests
        .iter()
        .map(|r| {
            let mut q: Vec<_> = r
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            q.sort();
            q
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The `woocommerce` definition stores what the Rust module it replaced
/// stored from this mock (the expected rows are that module's).
#[tokio::test]
async fn woocommerce_definition_stores_what_the_rust_module_stored() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        mount_woo(&server).await;
        let settings = db.settings(&woo_config(&server));
        let connectors = build_connectors(&settings, &[]).unwrap();
        assert_eq!(connectors.len(), 1);
        let window = Window {
            from: LocalDay::from_ymd_opt(2026, 10, 1),
            to: LocalDay::from_ymd_opt(2026, 10, 2),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        // 7 orders a day × 2 days, less the bad one each day; 3 refunds a day.
        assert_eq!(run.stats.records, 2 * (6 + 3), "{}", db.backend);
        assert_eq!(run.stats.rejects, 2, "{}", db.backend);

        let o = oct1_order;
        assert_eq!(
            orders(&db, "decl").await,
            vec![
                o("101", 1790823600, 19_990_000, Some("7"), "paid"),
                o("102", 1790908200, 10_000, None, "paid"),
                o("103", 1790856000, 100_100_000, Some("7"), "paid"),
                o("105", 1790863200, 300_000_000, Some("8"), "cancelled"),
                o("106", 1790866800, 80_000_000, Some("9"), "unpaid"),
                o("107", 1790884800, 50_000_000, Some("8"), "cancelled"),
            ],
            "{}",
            db.backend
        );
        let r = |id: &str, order: &str, at: i64, amount: i64| {
            (
                id.to_string(),
                order.to_string(),
                at,
                "2026-10-03".to_string(),
                amount,
            )
        };
        assert_eq!(
            refunds(&db, "decl").await,
            vec![
                r("9001", "103", 1791039600, 100_100_000),
                r("9002", "107", 1791057600, 5_000_000),
                r("9003", "107", 1791057600, 500_000),
            ],
            "{}",
            db.backend
        );
        let rejects = db.store.rejects("woo-decl").await.unwrap();
        assert_eq!(
            rejects
                .iter()
                .map(|r| r.locator.as_str())
                .collect::<Vec<_>>(),
            ["order 104"]
        );
        assert!(rejects[0].raw.contains("\"12,50\""), "{}", rejects[0].raw);
        for day in ["2026-09-30", "2026-10-02", "2026-10-04"] {
            assert_day(&db, "decl", day, &[]).await;
        }
        let oct1 = [("orders", "3"), ("buyers", "2"), ("gmv", "120.10")];
        assert_day(&db, "decl", "2026-10-01", &oct1).await;
        let oct3 = [("refund_orders", "2"), ("refund_amount", "105.60")];
        assert_day(&db, "decl", "2026-10-03", &oct3).await;

        // The requests: each São Paulo day (UTC−3) as `after`/`before`, both
        // exclusive, in four pages of two (the throttled one repeated).
        let sent = queries(&server.received_requests().await.unwrap());
        let mut expected = Vec::new();
        for (after, before) in [
            ("2026-10-01T02:59:59", "2026-10-02T03:00:00"),
            ("2026-10-02T02:59:59", "2026-10-03T03:00:00"),
        ] {
            for page in ["1", "2", "3", "4"] {
                expected.push(query(&[
                    ("after", after),
                    ("before", before),
                    ("dates_are_gmt", "true"),
                    ("order", "asc"),
                    ("orderby", "id"),
                    ("page", page),
                    ("per_page", "2"),
                    ("status", "any"),
                ]));
            }
        }
        assert_eq!(sent, expected, "{}", db.backend);

        // A scheduled run: modified_after/before over each local day from
        // the cursor minus the 2-day lookback through today.
        let cursor = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
        db.store
            .set_cursor("woo-decl", "orders", &cursor)
            .await
            .unwrap();
        server.reset().await;
        mount_woo(&server).await;
        let zone = chrono_tz::America::Sao_Paulo;
        let since = kpid::period::local_day(
            DateTime::parse_from_rfc3339(&cursor)
                .unwrap()
                .with_timezone(&Utc)
                - chrono::Duration::days(2),
            zone,
        );
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        let today = kpid::period::today(zone);
        let gmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let mut expected = Vec::new();
        for day in since.iter_days().take_while(|d| *d <= today) {
            let start = kpid::period::day_start(day, zone);
            let end = kpid::period::day_start(day + chrono::Duration::days(1), zone);
            let (after, before) = (gmt(start - chrono::Duration::seconds(1)), gmt(end));
            for page in ["1", "2", "3", "4"] {
                expected.push(query(&[
                    ("dates_are_gmt", "true"),
                    ("modified_after", &after),
                    ("modified_before", &before),
                    ("order", "asc"),
                    ("orderby", "id"),
                    ("page", page),
                    ("per_page", "2"),
                    ("status", "any"),
                ]));
            }
        }
        expected.sort();
        let sent = queries(&server.received_requests().await.unwrap());
        assert_eq!(sent, expected, "{}: scheduled requests", db.backend);
        // Re-reading the same orders changed nothing.
        assert_eq!(run.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
}

// ------------------------------------------------------------ daily series

/// An ad dashboard and a help desk behind one query-string key: daily
/// series per campaign with offset pagination over week slices, and per
/// agent with Link-header pagination and timestamps filed by local day.
const ADS_DEFINITION: &str = r#"
kind = "adsdash"
description = "In-house ad dashboard and help desk"

[connection]
base_url = "https://ads.internal"
page_size = 2

[credentials]
api_key = {}

[auth]
query = { key = "{api_key}" }

[streams.spend]
path = "/v1/report"
records = "/rows"
query = { since = "{from}", until = "{to}", offset = "{offset}", limit = "{page_size}" }

[streams.spend.window]
format = "%Y-%m-%d"
zone = "shop"
bounds = "inclusive"
slice = "7d"

[streams.spend.pagination]
style = "offset"
total = "/total"

[streams.spend.daily]
day = { pointer = "/date", format = "%Y-%m-%d" }
dimension = "/campaign"
inputs = { ad_spend = { pointer = "/cost_micros", scale = "micros" }, ad_clicks = "/clicks", ad_impressions = "/impressions" }

[streams.agents]
path = "/v1/agents"
records = ""
query = { from = "{from}", to = "{to}" }

[streams.agents.window]
format = "rfc3339"
zone = "shop"

[streams.agents.pagination]
style = "link"

[streams.agents.daily]
day = { pointer = "/at", format = "rfc3339" }
dimension = "/agent"
inputs = { cs_sessions = "/sessions" }
"#;

const ADS_KEY: &str = "ads_KEY_77e1";

#[tokio::test]
async fn daily_series_over_offset_and_link_pages() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let report = |since: &str, until: &str, offset: &str| {
            Mock::given(method("GET"))
                .and(path("/v1/report"))
                .and(query_param("key", ADS_KEY))
                .and(query_param("since", since))
                .and(query_param("until", until))
                .and(query_param("offset", offset))
                .and(query_param("limit", "2"))
        };
        let rows = |rows: Value, total: u32| {
            ResponseTemplate::new(200).set_body_json(json!({"rows": rows, "total": total}))
        };
        report("2026-10-01", "2026-10-07", "0")
            .respond_with(rows(
                json!([
                    {"date": "2026-10-01", "campaign": "c1", "cost_micros": "1500000", "clicks": 3, "impressions": 100},
                    {"date": "2026-10-01", "campaign": "c2", "cost_micros": 2250000, "clicks": 1, "impressions": 50}
                ]),
                3,
            ))
            .mount(&server)
            .await;
        report("2026-10-01", "2026-10-07", "2")
            .respond_with(rows(
                json!([{"date": "2026-10-07", "campaign": "c1", "cost_micros": 10000000, "clicks": 7, "impressions": 700}]),
                3,
            ))
            .mount(&server)
            .await;
        report("2026-10-08", "2026-10-10", "0")
            .respond_with(rows(
                json!([
                    {"date": "2026-10-09", "campaign": "c2", "cost_micros": 333, "clicks": 0, "impressions": 5},
                    {"date": "2026-10-10", "campaign": "c1", "cost_micros": "n/a", "clicks": 2, "impressions": 9}
                ]),
                2,
            ))
            .mount(&server)
            .await;
        // Link pagination: the next page's URL comes from the server.
        Mock::given(method("GET"))
            .and(path("/v1/agents"))
            .and(query_param("key", ADS_KEY))
            .and(query_param("from", "2026-10-01T00:00:00-07:00"))
            .and(query_param("to", "2026-10-02T00:00:00-07:00"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(
                        json!([{"at": "2026-10-01T23:30:00-07:00", "agent": "a1", "sessions": 4}]),
                    )
                    .insert_header(
                        "Link",
                        format!("<{}/v1/agents/p2?after=xyz>; rel=\"next\"", server.uri()).as_str(),
                    ),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/agents/p2"))
            .and(query_param("after", "xyz"))
            .and(query_param("key", ADS_KEY))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                // 06:30Z on the 2nd is 23:30 on the 1st in Los Angeles.
                {"at": "2026-10-02T06:30:00Z", "agent": "a2", "sessions": 6}
            ])))
            .mount(&server)
            .await;

        db.write("defs/ads.toml", ADS_DEFINITION);
        let conn = |name: &str, stream: &str| {
            format!(
                "[[connectors]]\nname = \"{name}\"\nkind = \"adsdash\"\nshop = \"la\"\nbase_url = \"{}\"\n\
                 api_key = \"{ADS_KEY}\"\nstreams = [\"{stream}\"]\nrequests_per_second = 0\n",
                server.uri()
            )
        };
        let settings = db.settings(&format!(
            "definitions = [\"defs\"]\n[storage]\nurl = \"{{db}}\"\n[[shops]]\nid = \"la\"\ntimezone = \"America/Los_Angeles\"\n{}{}",
            conn("ads", "spend"),
            conn("desk", "agents")
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: LocalDay::from_ymd_opt(2026, 10, 1),
            to: LocalDay::from_ymd_opt(2026, 10, 10),
        };
        let ads = run_connector(&db.store, &connectors[0], window).await;
        assert!(ads.error.is_none(), "{:?}", ads.error);
        // Four rows of three inputs; the fifth row set aside whole.
        assert_eq!(ads.stats.records, 12, "{}", db.backend);
        assert_eq!(ads.stats.rejects, 1, "{}", db.backend);
        let rejects = db.store.rejects("ads").await.unwrap();
        assert_eq!(rejects[0].locator, "2026-10-08 page 1 record 2");
        assert!(
            rejects[0].reason.contains("inputs.ad_spend (/cost_micros)"),
            "{}",
            rejects[0].reason
        );
        assert!(
            !rejects[0].source.contains(ADS_KEY),
            "{}",
            rejects[0].source
        );

        let desk = run_connector(&db.store, &connectors[1], one_day("2026-10-01")).await;
        assert!(desk.error.is_none(), "{:?}", desk.error);
        assert_eq!(desk.stats.records, 2, "{}", db.backend);

        let month = InputValues::load(&db.store, "la", Period::parse_any("2026-10").unwrap())
            .await
            .unwrap();
        assert_eq!(
            month.get("ad_spend"),
            Some(d("13.750333")),
            "{}",
            db.backend
        );
        assert_eq!(month.get("ad_clicks"), Some(d("11")), "{}", db.backend);
        assert_eq!(
            month.get("ad_impressions"),
            Some(d("855")),
            "{}",
            db.backend
        );
        let oct1 = day_inputs(&db, "la", "2026-10-01").await;
        assert_eq!(oct1.get("ad_spend"), Some(d("3.75")), "{}", db.backend);
        assert_eq!(oct1.get("cs_sessions"), Some(d("10")), "{}", db.backend);
        let per_campaign: Vec<(String, String, i64)> = crate::fetch_rows!(
            db.store,
            "SELECT day, dimension, value_micros FROM daily_values \
             WHERE shop = 'la' AND input = 'ad_spend' ORDER BY day, dimension",
            [],
            |r| (r.get(0), r.get(1), r.get(2))
        );
        assert_eq!(
            per_campaign,
            vec![
                ("2026-10-01".into(), "c1".into(), 1_500_000),
                ("2026-10-01".into(), "c2".into(), 2_250_000),
                ("2026-10-07".into(), "c1".into(), 10_000_000),
                ("2026-10-09".into(), "c2".into(), 333),
            ]
        );
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
}

// ------------------------------------------------------------ Shopify

const S_TOKEN: &str = "shpat_parity_SECRET_9191";
const S_ORDERS: &str = "/admin/api/2024-10/orders.json";

#[allow(clippy::too_many_arguments)]
fn shop_order(
    id: u64,
    created: &str,
    processed: Option<&str>,
    price: &str,
    financial: Option<&str>,
    cancelled: bool,
    customer: Value,
    refunds: Value,
) -> Value {
    json!({
        "id": id, "created_at": created, "updated_at": created, "processed_at": processed,
        "cancelled_at": if cancelled { json!(created) } else { Value::Null },
        "financial_status": financial, "total_price": price, "currency": "CNY",
        "customer": customer, "line_items": [], "refunds": refunds,
    })
}

/// Three pages linked by `page_info`, served for any window; the second
/// page throttled once.
async fn mount_shopify(server: &MockServer) {
    let url = format!("{}{S_ORDERS}", server.uri());
    let refunds = json!([
        {"id": 900001, "created_at": "2026-10-03T10:00:00+08:00", "transactions": [
            {"kind": "refund", "status": "success", "amount": "5.00"},
            {"kind": "refund", "status": "failure", "amount": "7.00"},
            {"kind": "refund", "amount": "1.25"},
            {"kind": "sale", "status": "success", "amount": "99.00"}
        ]},
        {"id": 900002, "created_at": "2026-10-04T00:10:00+08:00", "transactions": []}
    ]);
    let pages = [
        vec![
            shop_order(
                5001,
                "2026-10-01T00:20:00+08:00",
                Some("2026-10-01T00:30:00+08:00"),
                "19.99",
                Some("paid"),
                false,
                json!({"id": 1}),
                json!([]),
            ),
            shop_order(
                5002,
                "2026-10-01T09:00:00+08:00",
                Some("2026-10-01T09:00:00+08:00"),
                "0.01",
                Some("paid"),
                false,
                Value::Null,
                json!([]),
            ),
        ],
        vec![
            shop_order(
                5003,
                "2026-10-01T23:59:59+08:00",
                Some("2026-10-01T23:59:59+08:00"),
                "100.10",
                Some("paid"),
                true,
                json!({"id": 1}),
                json!([]),
            ),
            shop_order(
                5004,
                "2026-10-01T12:00:00+08:00",
                None,
                "abc",
                Some("paid"),
                false,
                json!({"id": 3}),
                json!([]),
            ),
        ],
        vec![
            shop_order(
                5005,
                "2026-10-01T14:00:00+08:00",
                Some("2026-10-01T14:00:00+08:00"),
                "50.00",
                Some("partially_refunded"),
                false,
                json!({"id": 2}),
                refunds,
            ),
            shop_order(
                5006,
                "2026-09-30T16:30:00Z",
                None,
                "80.00",
                Some("pending"),
                false,
                json!({"id": 5}),
                json!([]),
            ),
            shop_order(
                5007,
                "2026-10-01T15:00:00+08:00",
                None,
                "7",
                None,
                false,
                json!({"id": null}),
                json!([]),
            ),
        ],
    ];
    Mock::given(method("GET"))
        .and(path(S_ORDERS))
        .and(query_param("page_info", "p2"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0.1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    for (i, orders) in pages.iter().enumerate() {
        let mut reply = ResponseTemplate::new(200).set_body_json(json!({ "orders": orders }));
        if i + 1 < pages.len() {
            reply = reply.insert_header(
                "Link",
                format!("<{url}?limit=2&page_info=p{}>; rel=\"next\"", i + 2).as_str(),
            );
        }
        let mock = Mock::given(method("GET"))
            .and(path(S_ORDERS))
            .and(header("X-Shopify-Access-Token", S_TOKEN));
        let mock = if i == 0 {
            mock.and(query_param("status", "any"))
                .and(query_param_is_missing("page_info"))
        } else {
            mock.and(query_param("page_info", format!("p{}", i + 1).as_str()))
        };
        mock.respond_with(reply)
            .with_priority(2)
            .mount(server)
            .await;
    }
}

/// The `shopify` definition stores what the Rust module it replaced stored
/// from this mock (the expected rows and requests are that module's).
#[tokio::test]
async fn shopify_definition_stores_what_the_rust_module_stored() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        mount_shopify(&server).await;
        let settings = db.settings(&format!(
            "timezone = \"Asia/Shanghai\"\n[storage]\nurl = \"{{db}}\"\n[[shops]]\nid = \"decl\"\n\
             [[connectors]]\nname = \"shop-decl\"\nkind = \"shopify\"\nshop = \"decl\"\nbase_url = \"{}\"\n\
             access_token = \"{S_TOKEN}\"\nrequests_per_second = 0\npage_size = 2\n",
            server.uri()
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: LocalDay::from_ymd_opt(2026, 10, 1),
            to: LocalDay::from_ymd_opt(2026, 10, 2),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        // 6 good orders and 2 refunds a day, for two days; 5004 set aside each day.
        assert_eq!(run.stats.records, 16, "{}", db.backend);
        assert_eq!(run.stats.rejects, 2, "{}", db.backend);

        let o = oct1_order;
        // processed_at, else created_at (5006: 16:30Z is 00:30 in Shanghai);
        // cancelled_at before financial_status; a customer without an id is a guest.
        assert_eq!(
            orders(&db, "decl").await,
            vec![
                o("5001", 1790785800, 19_990_000, Some("1"), "paid"),
                o("5002", 1790816400, 10_000, None, "paid"),
                o("5003", 1790870399, 100_100_000, Some("1"), "cancelled"),
                o("5005", 1790834400, 50_000_000, Some("2"), "paid"),
                o("5006", 1790785800, 80_000_000, Some("5"), "unpaid"),
                o("5007", 1790838000, 7_000_000, None, "unpaid"),
            ],
            "{}",
            db.backend
        );
        // 5.00 + 1.25: the failed refund and the sale are not counted; a
        // refund without transactions is 0.
        assert_eq!(
            refunds(&db, "decl").await,
            vec![
                (
                    "900001".to_string(),
                    "5005".to_string(),
                    1790992800,
                    "2026-10-03".to_string(),
                    6_250_000
                ),
                (
                    "900002".to_string(),
                    "5005".to_string(),
                    1791043800,
                    "2026-10-04".to_string(),
                    0
                ),
            ],
            "{}",
            db.backend
        );
        let rejects = db.store.rejects("shop-decl").await.unwrap();
        assert_eq!(
            rejects
                .iter()
                .map(|r| r.locator.as_str())
                .collect::<Vec<_>>(),
            ["order 5004"]
        );
        assert!(
            rejects[0].reason.contains("total_price"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"abc\""), "{}", rejects[0].raw);
        for day in ["2026-09-30", "2026-10-02"] {
            assert_day(&db, "decl", day, &[]).await;
        }
        let oct1 = [("orders", "3"), ("buyers", "3"), ("gmv", "70")];
        assert_day(&db, "decl", "2026-10-01", &oct1).await;
        let oct3 = [("refund_orders", "1"), ("refund_amount", "6.25")];
        assert_day(&db, "decl", "2026-10-03", &oct3).await;
        let oct4 = [("refund_orders", "1"), ("refund_amount", "0")];
        assert_day(&db, "decl", "2026-10-04", &oct4).await;

        // Inclusive bounds in the shop's offset; later pages are the Link
        // header's URL as given.
        let day = |min: &str, max: &str| {
            query(&[
                ("created_at_max", max),
                ("created_at_min", min),
                ("limit", "2"),
                ("status", "any"),
            ])
        };
        assert_eq!(
            queries(&server.received_requests().await.unwrap()),
            vec![
                day("2026-10-01T00:00:00+08:00", "2026-10-01T23:59:59+08:00"),
                day("2026-10-02T00:00:00+08:00", "2026-10-02T23:59:59+08:00"),
                query(&[("limit", "2"), ("page_info", "p2")]),
                query(&[("limit", "2"), ("page_info", "p3")]),
            ],
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
}

// ------------------------------------------------------------ GA4

fn ga4_connector(name: &str, kind: &str, shop: &str, server: &MockServer, auth: &str) -> String {
    format!(
        "[[connectors]]\nname = \"{name}\"\nkind = \"{kind}\"\nshop = \"{shop}\"\nbase_url = \"{}\"\n\
         property_id = \"{}\"\n{auth}\nrequests_per_second = 0\npage_size = 2\n",
        server.uri(),
        common::ga4::PROPERTY
    )
}

async fn daily_rows(db: &common::TestDb, shop: &str) -> Vec<(String, String, String, i64)> {
    crate::fetch_rows!(
        db.store,
        "SELECT day, input, dimension, value_micros FROM daily_values \
         WHERE shop = $1 ORDER BY day, input, dimension",
        [shop],
        |r| (r.get(0), r.get(1), r.get(2), r.get(3))
    )
}

/// The runReport bodies a server received, parsed, without repeats.
async fn report_bodies(server: &MockServer) -> Vec<Value> {
    let mut out: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == common::ga4::REPORT)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    out.sort_by_key(|b| b.to_string());
    out.dedup();
    out
}

/// The `ga4` definition against a GA4 mock: a service-account token (its
/// JWT verified with the public key), three pages by `offset` up to
/// `rowCount` (the last one empty although `rowCount` says more), the first
/// token revoked mid-way (401, renewed once), a 429 RESOURCE_EXHAUSTED with
/// `Retry-After`, a row whose metric is not a number. It stores what the
/// Rust module it replaced stored, from the same requests.
#[tokio::test(flavor = "current_thread")]
async fn ga4_definition_stores_what_the_rust_module_stored() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let assertions = Arc::new(Mutex::new(Vec::new()));
    let mut backends = 0;
    for db in common::backends().await {
        backends += 1;
        let server = MockServer::start().await;
        let (key, bad) = common::ga4::mount_service_account_report(&server, &assertions).await;
        let key = db.write("sa-decl.json", &key.to_string());
        let settings = db.settings(&format!(
            "timezone = \"Asia/Shanghai\"\n[storage]\nurl = \"{{db}}\"\n[[shops]]\nid = \"decl\"\n{}",
            ga4_connector(
                "ga4-decl",
                "ga4",
                "decl",
                &server,
                &format!("credentials_file = \"{}\"", key.display())
            ),
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: LocalDay::from_ymd_opt(2026, 10, 1),
            to: LocalDay::from_ymd_opt(2026, 10, 5),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(
            run.error.is_none(),
            "{}: {:?} {:?}",
            db.backend,
            run.error,
            bad.lock().unwrap()
        );
        assert!(bad.lock().unwrap().is_empty());
        // Three days of six inputs; the 10-03 row is set aside whole.
        assert_eq!(run.stats.records, 18, "{}", db.backend);
        assert_eq!(run.stats.rejects, 1, "{}", db.backend);

        let m = |v: i64| v * 1_000_000;
        let expected: Vec<(String, String, String, i64)> = [
            ("2026-10-01", "bounces", 150),
            ("2026-10-01", "new_uv", 120),
            ("2026-10-01", "pv", 1200),
            ("2026-10-01", "stay_seconds_total", 36000),
            ("2026-10-01", "uv", 300),
            ("2026-10-01", "visits", 400),
            ("2026-10-02", "bounces", 130),
            ("2026-10-02", "new_uv", 100),
            ("2026-10-02", "pv", 1000),
            ("2026-10-02", "stay_seconds_total", 29999),
            ("2026-10-02", "uv", 250),
            ("2026-10-02", "visits", 330),
            ("2026-10-05", "bounces", 100),
            ("2026-10-05", "new_uv", 80),
            ("2026-10-05", "pv", 800),
            ("2026-10-05", "stay_seconds_total", 20000),
            ("2026-10-05", "uv", 200),
            ("2026-10-05", "visits", 260),
        ]
        .into_iter()
        .map(|(day, input, v)| (day.to_string(), input.to_string(), String::new(), m(v)))
        .collect();
        assert_eq!(daily_rows(&db, "decl").await, expected, "{}", db.backend);

        // The row set aside, its raw JSON kept as served.
        let rejects = db.store.rejects("ga4-decl").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        let raw = serde_json::from_str::<Value>(&rejects[0].raw).unwrap();
        assert_eq!(
            raw,
            json!({"dimensionValues": [{"value": "20261003"}], "metricValues": [
                {"value": "n/a"}, {"value": "280"}, {"value": "90"},
                {"value": "350"}, {"value": "210"}, {"value": "30000"}
            ]})
        );
        assert!(
            rejects[0]
                .reason
                .contains("inputs.pv (/metricValues/@screenPageViews/value)")
                && rejects[0].reason.contains("n/a"),
            "{}",
            rejects[0].reason
        );

        // The request bodies: the whole range at once, `limit` and `offset`
        // as JSON numbers, pages at offsets 0, 2 and 4.
        let bodies = report_bodies(&server).await;
        let body = |offset: u64| {
            json!({
                "dateRanges": [{"startDate": "2026-10-01", "endDate": "2026-10-05"}],
                "dimensions": [{"name": "date"}],
                "metrics": [
                    {"name": "screenPageViews"}, {"name": "activeUsers"},
                    {"name": "newUsers"}, {"name": "sessions"},
                    {"name": "engagedSessions"}, {"name": "userEngagementDuration"}
                ],
                "orderBys": [{"dimension": {"dimensionName": "date"}}],
                "limit": 2,
                "offset": offset
            })
        };
        assert_eq!(bodies, [body(0), body(2), body(4)], "{}", db.backend);

        // The same window again changes nothing, and reuses the token
        // (the token endpoint expects exactly two grants).
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none());
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        server.verify().await;
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("ga4-decl") && text.contains("retrying"));
    assert!(text.contains("401"), "the token renewal was logged");
    logs.assert_free_of(&["ya29.", &common::ga4::private_key_body()]);
    let assertions = assertions.lock().unwrap();
    // Two grants per backend: the first and the renewal.
    assert_eq!(assertions.len(), 2 * backends);
    let signed: Vec<&str> = assertions.iter().map(String::as_str).collect();
    logs.assert_free_of(&signed);
}

/// A scheduled run asks for the last three days through yesterday in the
/// shop's zone (Kiritimati is UTC+14, so its yesterday is often UTC's
/// today), with a plain access token, as the Rust module did.
#[tokio::test]
async fn ga4_definition_schedules_the_lookback_through_yesterday() {
    const TOKEN: &str = "ya29.a0STATIC_parity_token_2718";
    for db in common::backends().await {
        let server = MockServer::start().await;
        let today = kpid::period::today(chrono_tz::Pacific::Kiritimati);
        let yesterday = today - chrono::Duration::days(1);
        let ymd = |d: LocalDay| d.date().format("%Y-%m-%d").to_string();
        Mock::given(method("POST"))
            .and(path(common::ga4::REPORT))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(wiremock::matchers::body_partial_json(json!({
                "dateRanges": [{ "startDate": ymd(today - chrono::Duration::days(3)), "endDate": ymd(yesterday) }],
                "limit": 2, "offset": 0
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(common::ga4::report(
                vec![common::ga4::row(
                    &yesterday.date().format("%Y%m%d").to_string(),
                    ["50", "20", "5", "25", "30", "700"],
                )],
                1,
            )))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", &format!("{TOKEN}\n"));
        let auth = format!("access_token_file = \"{}\"", token_file.display());
        let settings = db.settings(&format!(
            "timezone = \"Pacific/Kiritimati\"\n[storage]\nurl = \"{{db}}\"\n[[shops]]\nid = \"decl\"\n{}",
            ga4_connector("ga4-decl", "ga4", "decl", &server, &auth),
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        for c in &connectors {
            let run = run_connector(&db.store, c, Window::default()).await;
            assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
            assert_eq!(run.stats.records, 6, "{}", db.backend);
        }
        assert_eq!(daily_rows(&db, "decl").await.len(), 6, "{}", db.backend);
        let decl = day_inputs(&db, "decl", &ymd(yesterday)).await;
        assert_eq!(decl.get("pv"), Some(d("50")), "{}", db.backend);
        // 25 sessions, 30 engaged (estimates): no negative bounce count.
        assert_eq!(decl.get("bounces"), Some(d("0")), "{}", db.backend);
        server.verify().await;
        db.drop_db().await;
    }
}

#[test]
fn ga4_definition_checks_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let load = |extra: &str| {
        let cfg = dir.path().join("kpid.toml");
        std::fs::write(
            &cfg,
            format!(
                "[storage]\nurl = \"sqlite://{}/k.db\"\n[[shops]]\nid = \"sh\"\n\
                 [[connectors]]\nname = \"g\"\nkind = \"ga4\"\nshop = \"sh\"\n{extra}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        kpid::setup::load(&cfg)
    };
    let key = dir.path().join("sa.json");
    std::fs::write(&key, common::ga4::KEY_FILE).unwrap();
    let sa = format!("credentials_file = \"{}\"", key.display());
    let err = load(&format!(
        "property_id = \"1\"\n{sa}\naccess_token = \"ya29.BOTH_given_1\""
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("credentials_file") && err.contains("access_token") && err.contains("both"),
        "{err}"
    );
    assert!(!err.contains("ya29.BOTH_given_1"), "{err}");
    let err = load("property_id = \"1\"").unwrap_err().to_string();
    assert!(
        err.contains("`connectors[0].access_token`") && err.contains("credentials_file"),
        "{err}"
    );
    let err = load(&format!("property_id = \"G-12345\"\n{sa}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`connectors[0].property_id`") && err.contains("G-12345"),
        "{err}"
    );
    let err = load(&format!("property_id = \"1\"\n{sa}\nlookback_days = 0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`connectors[0].lookback_days`"), "{err}");

    // A key file that is not a service-account key fails the build naming
    // the option and the file, without quoting what the file holds.
    std::fs::write(&key, "{\"type\": \"service_account\", \"client_email\": \"x@y\", \"private_key\": \"NOT-A-PEM-4242\"}").unwrap();
    let settings = load(&format!("property_id = \"1\"\n{sa}")).unwrap();
    let err = build_connectors(&settings, &[]).unwrap_err().to_string();
    assert!(
        err.contains("credentials_file") && err.contains("sa.json") && err.contains("RSA"),
        "{err}"
    );
    assert!(!err.contains("NOT-A-PEM-4242"), "{err}");
    std::fs::write(&key, "not json at all").unwrap();
    let err = build_connectors(&settings, &[]).unwrap_err().to_string();
    assert!(
        err.contains("credentials_file") && err.contains("not a service-account JSON key"),
        "{err}"
    );
    assert!(!err.contains("not json at all"), "{err}");
    std::fs::remove_file(&key).unwrap();
    let err = build_connectors(&settings, &[]).unwrap_err().to_string();
    assert!(
        err.contains("credentials_file") && err.contains("cannot be read"),
        "{err}"
    );
}
