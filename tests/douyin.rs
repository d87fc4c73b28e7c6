//! 抖店 connector against a loopback mock speaking the open platform's wire
//! format: `POST /order/searchList` and `POST /afterSale/List` with the
//! signed system parameters in the query, `param_json` compact with sorted keys, HMAC-SHA256 signatures
//! checked by the mock with an HMAC written here (not kpid's signer),
//! errors and throttling inside HTTP-200 bodies, 0-based pages, Unix-second
//! times, money in fen.

mod common;

use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{LocalDay, Period};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const APP_KEY: &str = "7301234567890123456";
const SECRET: &str = "dy-app-secret-SECRET-9f8e7d";
const TOKEN: &str = "dy-access-token-TOKEN-1a2b3c";

/// HMAC-SHA256 (RFC 2104) from the SHA-256 primitive, lowercase hex.
fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    let outer = Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_test_hmac_matches_rfc_4231_case_2() {
    assert_eq!(
        hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// What 抖店 says when a call is refused or throttled (HTTP 200 bodies).
fn douyin_error(code: i64, msg: &str, sub_code: &str, sub_msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg,
        "log_id": "2026100112000001", "data": null
    }))
}

fn order(id: &str, fen: Value, created: i64, paid: i64, status: i64, buyer: &str) -> Value {
    json!({
        "order_id": id, "shop_id": 4463798, "order_status": status,
        "order_status_desc": "", "pay_amount": fen, "order_amount": fen,
        "create_time": created, "pay_time": paid, "update_time": paid.max(created),
        "doudian_open_id": buyer, "sku_order_list": []
    })
}

/// Unix seconds of a Shanghai wall-clock time.
fn cst(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> i64 {
    use chrono::TimeZone;
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, s)
        .unwrap()
        .timestamp()
}

/// The mock 抖店 gateway: checks every request the way the gateway does
/// (signature, token, timestamp, parameter form) and serves pages by the
/// slice start and page number.
struct Gateway {
    secret: String,
    /// (time field start, page) → `data`.
    pages: HashMap<(i64, u64), Value>,
    /// Pages throttled once before they are served.
    throttle_once: Mutex<Vec<(i64, u64)>>,
    /// After-sales: (update_start_time, page) → `data`.
    after_sales: HashMap<(i64, u64), Value>,
    /// After-sales pages throttled once before they are served.
    throttle_after_sales_once: Mutex<Vec<(i64, u64)>>,
    /// `param_json` of the order searches, and of the after-sales lists.
    seen: Arc<Mutex<Vec<Value>>>,
    seen_after_sales: Arc<Mutex<Vec<Value>>>,
    /// Order searches received, and after-sales lists.
    calls: Arc<AtomicUsize>,
    after_sales_calls: Arc<AtomicUsize>,
}

impl Respond for Gateway {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let api = match req.url.path() {
            "/order/searchList" => "order.searchList",
            "/afterSale/List" => "afterSale.List",
            _ => return ResponseTemplate::new(404),
        };
        if api == "afterSale.List" {
            self.after_sales_calls.fetch_add(1, Ordering::SeqCst);
        } else {
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
        if req.method.as_str() != "POST" {
            return ResponseTemplate::new(404);
        }
        if get("app_key") != APP_KEY
            || get("method") != api
            || get("v") != "2"
            || get("sign_method") != "hmac-sha256"
        {
            return douyin_error(40003, "非法的参数", "isv.parameter-invalid", "公共参数错误");
        }
        let ts: i64 = get("timestamp").parse().unwrap_or(0);
        if (chrono::Utc::now().timestamp() - ts).abs() > 600 {
            return douyin_error(
                40003,
                "非法的参数",
                "isv.timestamp-invalid",
                "timestamp超出范围",
            );
        }
        let param_json = get("param_json");
        let signed = format!(
            "{s}app_key{APP_KEY}method{api}param_json{param_json}timestamp{ts}v2{s}",
            s = self.secret
        );
        if get("sign") != hmac_sha256_hex(self.secret.as_bytes(), signed.as_bytes()) {
            return douyin_error(40003, "非法的参数", "isv.signature-invalid", "签名校验失败");
        }
        if get("access_token") != TOKEN {
            return douyin_error(
                40003,
                "非法的参数",
                "isv.access-token-no-exist",
                "access_token不存在，请使用最新的access_token访问",
            );
        }
        // `param_json` is compact JSON with sorted keys, and is also the body.
        let params: BTreeMap<String, Value> = match serde_json::from_str(&param_json) {
            Ok(p) => p,
            Err(_) => {
                return douyin_error(40003, "非法的参数", "isv.parameter-invalid", "param_json")
            }
        };
        if serde_json::to_string(&params).unwrap() != param_json
            || req.body != param_json.as_bytes()
        {
            return douyin_error(
                40003,
                "非法的参数",
                "isv.parameter-invalid",
                "param_json 格式错误",
            );
        }
        if api == "afterSale.List" {
            return self.after_sales_page(&params);
        }
        self.seen.lock().unwrap().push(json!(params));
        let field = params["order_by"].as_str().unwrap_or_default().to_string();
        let start = params
            .get(&format!("{field}_start"))
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        let page = params["page"].as_u64().unwrap_or(999);
        {
            let mut once = self.throttle_once.lock().unwrap();
            if let Some(i) = once.iter().position(|k| *k == (start, page)) {
                once.remove(i);
                return douyin_error(60000, "触发限流，请稍后重试", "", "");
            }
        }
        let data = self.pages.get(&(start, page)).cloned().unwrap_or_else(
            || json!({"shop_order_list": [], "page": page, "size": params["size"], "total": 0}),
        );
        ResponseTemplate::new(200).set_body_json(json!({
            "code": 10000, "msg": "success", "sub_code": "", "sub_msg": "",
            "log_id": "2026100112000002", "data": data
        }))
    }
}

impl Gateway {
    /// A page of `afterSale.List`: polling by update time must be ordered by
    /// it; pages are served by `update_start_time` and `page`.
    fn after_sales_page(&self, params: &BTreeMap<String, Value>) -> ResponseTemplate {
        self.seen_after_sales.lock().unwrap().push(json!(params));
        let start = params.get("update_start_time").and_then(Value::as_i64);
        let end = params.get("update_end_time").and_then(Value::as_i64);
        let size = params.get("size").and_then(Value::as_u64).unwrap_or(0);
        let (Some(start), Some(end), Some(page)) =
            (start, end, params.get("page").and_then(Value::as_u64))
        else {
            return douyin_error(
                40004,
                "非法的参数",
                "isv.parameter-invalid:11000",
                "参数错误",
            );
        };
        if params.get("order_by") != Some(&json!(["update_time asc"]))
            || end < start
            || !(1..=100).contains(&size)
        {
            return douyin_error(
                40004,
                "非法的参数",
                "isv.parameter-invalid:11000",
                "参数错误",
            );
        }
        {
            let mut once = self.throttle_after_sales_once.lock().unwrap();
            if let Some(i) = once.iter().position(|k| *k == (start, page)) {
                once.remove(i);
                return douyin_error(60000, "触发限流，请稍后重试", "", "");
            }
        }
        let data = self
            .after_sales
            .get(&(start, page))
            .cloned()
            .unwrap_or_else(
                || json!({"items": [], "has_more": false, "page": page, "size": size, "total": 0}),
            );
        ResponseTemplate::new(200).set_body_json(json!({
            "code": 10000, "msg": "success", "sub_code": "", "sub_msg": "",
            "log_id": "2026100112000003", "data": data
        }))
    }
}

struct Mocked {
    server: MockServer,
    seen: Arc<Mutex<Vec<Value>>>,
    seen_after_sales: Arc<Mutex<Vec<Value>>>,
    calls: Arc<AtomicUsize>,
    after_sales_calls: Arc<AtomicUsize>,
}

async fn gateway(
    secret: &str,
    pages: HashMap<(i64, u64), Value>,
    throttle: Vec<(i64, u64)>,
) -> Mocked {
    gateway_with_after_sales(secret, pages, throttle, HashMap::new(), vec![]).await
}

async fn gateway_with_after_sales(
    secret: &str,
    pages: HashMap<(i64, u64), Value>,
    throttle: Vec<(i64, u64)>,
    after_sales: HashMap<(i64, u64), Value>,
    throttle_after_sales: Vec<(i64, u64)>,
) -> Mocked {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_after_sales = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let after_sales_calls = Arc::new(AtomicUsize::new(0));
    Mock::given(wiremock::matchers::any())
        .respond_with(Gateway {
            secret: secret.to_string(),
            pages,
            throttle_once: Mutex::new(throttle),
            after_sales,
            throttle_after_sales_once: Mutex::new(throttle_after_sales),
            seen: seen.clone(),
            seen_after_sales: seen_after_sales.clone(),
            calls: calls.clone(),
            after_sales_calls: after_sales_calls.clone(),
        })
        .mount(&server)
        .await;
    Mocked {
        server,
        seen,
        seen_after_sales,
        calls,
        after_sales_calls,
    }
}

fn config(server: &MockServer, secret: &str, token: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "dy"
[[connectors]]
name = "douyin-main"
kind = "douyin"
shop = "dy"
base_url = "{}"
app_key = "{APP_KEY}"
app_secret = "{secret}"
access_token = "{token}"
requests_per_second = 0
page_size = 2
"#,
        server.uri()
    )
}

/// Two days of orders (Asia/Shanghai), three pages on the first day.
fn backfill_pages() -> HashMap<(i64, u64), Value> {
    let oct1 = cst(2026, 10, 1, 0, 0, 0);
    let oct2 = cst(2026, 10, 2, 0, 0, 0);
    let mut pages = HashMap::new();
    pages.insert(
        (oct1, 0),
        json!({"page": 0, "size": 2, "total": 5, "shop_order_list": [
            // Ids above 2^53 must stay exact.
            order("7350000000000000001", json!(12345), cst(2026, 10, 1, 10, 0, 0), cst(2026, 10, 1, 10, 1, 0), 2, "buyerA"),
            order("7350000000000000002", json!(1), cst(2026, 10, 1, 11, 0, 0), cst(2026, 10, 1, 11, 0, 5), 105, "buyerB"),
        ]}),
    );
    pages.insert(
        (oct1, 1),
        json!({"page": 1, "size": 2, "total": 5, "shop_order_list": [
            // Created on Oct 1, paid just after midnight: filed under Oct 2.
            order("7350000000000000003", json!("10000"), cst(2026, 10, 1, 23, 59, 0), cst(2026, 10, 2, 0, 0, 30), 3, "buyerA"),
            // Fen are whole numbers: this record is set aside.
            order("7350000000000000004", json!("12.34"), cst(2026, 10, 1, 12, 0, 0), cst(2026, 10, 1, 12, 1, 0), 2, "buyerD"),
        ]}),
    );
    pages.insert(
        (oct1, 2),
        json!({"page": 2, "size": 2, "total": 5, "shop_order_list": [
            order("7350000000000000005", json!(50000), cst(2026, 10, 1, 13, 0, 0), cst(2026, 10, 1, 13, 1, 0), 4, "buyerE"),
        ]}),
    );
    pages.insert(
        (oct2, 0),
        json!({"page": 0, "size": 2, "total": 2, "shop_order_list": [
            order("7350000000000000006", json!(99), cst(2026, 10, 2, 8, 0, 0), cst(2026, 10, 2, 8, 0, 9), 5, "buyerC"),
            order("7350000000000000007", json!(777), cst(2026, 10, 2, 9, 0, 0), 0, 1, "buyerF"),
        ]}),
    );
    pages
}

fn backfill_window() -> Window {
    Window {
        from: LocalDay::from_ymd_opt(2026, 10, 1),
        to: LocalDay::from_ymd_opt(2026, 10, 2),
    }
}

async fn inputs(db: &common::TestDb, day: &str) -> InputValues {
    InputValues::load(&db.store, "dy", Period::parse_any(day).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn backfill_pages_through_a_throttle_and_keeps_bad_records_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let oct1 = cst(2026, 10, 1, 0, 0, 0);
        // The second page of Oct 1 is throttled once, in an HTTP 200 body.
        let mock = gateway(SECRET, backfill_pages(), vec![(oct1, 1)]).await;
        let settings = db.settings(&config(&mock.server, SECRET, TOKEN));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], backfill_window()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        // Oct 1: pages 0, 1 (throttled, then served), 2; Oct 2: one page.
        assert_eq!(mock.calls.load(Ordering::SeqCst), 5, "{}", db.backend);
        let seen = mock.seen.lock().unwrap().clone();
        let oct1_pages: Vec<u64> = seen
            .iter()
            .filter(|p| p["create_time_start"] == json!(oct1))
            .map(|p| p["page"].as_u64().unwrap())
            .collect();
        // Pages count from 0; page 1 was asked again, signed again, after the throttle.
        assert_eq!(oct1_pages, vec![0, 1, 1, 2]);
        let first = seen
            .iter()
            .find(|p| p["create_time_start"] == json!(oct1))
            .unwrap();
        assert_eq!(
            first["create_time_end"],
            json!(cst(2026, 10, 1, 23, 59, 59))
        );
        assert_eq!(first["order_by"], json!("create_time"));
        assert_eq!(first["size"], json!(2));

        let rejects = db.store.rejects("douyin-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "order 7350000000000000004");
        assert!(
            rejects[0].reason.contains("pay_amount"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"12.34\""), "{}", rejects[0].raw);

        let ids: Vec<String> = crate::fetch_rows!(
            db.store,
            "SELECT order_id FROM orders WHERE shop = 'dy' ORDER BY order_id",
            [],
            |r| r.get::<String, _>(0)
        );
        assert_eq!(
            ids,
            [
                "7350000000000000001",
                "7350000000000000002",
                "7350000000000000003",
                "7350000000000000005",
                "7350000000000000006",
                "7350000000000000007"
            ]
        );

        // Oct 1: 123.45 + 0.01 paid (the cancelled 500.00 does not count).
        let day1 = inputs(&db, "2026-10-01").await;
        assert_eq!(day1.get("orders"), Some(d("2")), "{}", db.backend);
        assert_eq!(day1.get("gmv"), Some(d("123.46")), "{}", db.backend);
        assert_eq!(day1.get("buyers"), Some(d("2")), "{}", db.backend);
        // Oct 2: the order paid after midnight (100.00) and 0.99; the unpaid
        // 7.77 does not count.
        let day2 = inputs(&db, "2026-10-02").await;
        assert_eq!(day2.get("orders"), Some(d("2")), "{}", db.backend);
        assert_eq!(day2.get("gmv"), Some(d("100.99")), "{}", db.backend);
        assert_eq!(day2.get("buyers"), Some(d("2")), "{}", db.backend);
        // Over both days buyerA bought twice.
        let month = inputs(&db, "2026-10").await;
        assert_eq!(month.get("orders"), Some(d("4")));
        assert_eq!(month.get("gmv"), Some(d("224.45")));
        assert_eq!(month.get("buyers"), Some(d("3")));

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], backfill_window()).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert_eq!(again.stats.records, 6);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(
        text.contains("retrying"),
        "the throttle was logged and retried"
    );
    logs.assert_free_of(&[SECRET, TOKEN]);
}

#[tokio::test]
async fn a_wrong_secret_or_token_fails_at_once_naming_it() {
    for db in common::backends().await {
        // The gateway knows the real secret; the connector signs with another.
        let mock = gateway(SECRET, backfill_pages(), vec![]).await;
        let settings = db.settings(&config(&mock.server, "not-the-secret-XYZ", TOKEN));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day = LocalDay::from_ymd_opt(2026, 10, 1);
        let window = Window { from: day, to: day };
        let run = run_connector(&db.store, &connectors[0], window).await;
        failure(
            &run,
            "a bad signature fails the run",
            &["douyin-main", "app_secret", "isv.signature-invalid"],
            &["not-the-secret-XYZ"],
        );
        assert_eq!(mock.calls.load(Ordering::SeqCst), 1, "not retried");

        let mock = gateway(SECRET, backfill_pages(), vec![]).await;
        let settings = db.settings(&config(&mock.server, SECRET, "expired-token-ABC"));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], window).await;
        failure(
            &run,
            "a bad token fails the run",
            &["access_token"],
            &["expired-token-ABC"],
        );
        assert_eq!(mock.calls.load(Ordering::SeqCst), 1, "not retried");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scheduled_run_fetches_updates_within_the_lookback_and_moves_the_cursor() {
    for db in common::backends().await {
        let tz = chrono_tz::Asia::Shanghai;
        let now = chrono::Utc::now();
        // The last run was a day ago: the 2-day lookback starts 3 days back.
        let cursor = (now - chrono::Duration::days(1)).to_rfc3339();
        let first_day = kpid::period::local_day(now - chrono::Duration::days(3), tz);
        let first_start = kpid::period::day_start(first_day, tz).timestamp();
        let created = first_start + 3600;
        let paid = now.timestamp() - 7200;
        let mut pages = HashMap::new();
        pages.insert(
            (first_start, 0),
            json!({"page": 0, "size": 2, "total": 1, "shop_order_list": [
                order("7350000000000000100", json!(250), created, paid, 2, "buyerZ"),
            ]}),
        );
        let mock = gateway(SECRET, pages, vec![]).await;
        let settings = db.settings(&config(&mock.server, SECRET, TOKEN));
        let connectors = build_connectors(&settings, &[]).unwrap();
        db.store
            .set_cursor("douyin-main", "orders", &cursor)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        let seen = mock.seen.lock().unwrap().clone();
        assert!(seen.iter().all(|p| p["order_by"] == json!("update_time")));
        let starts: Vec<i64> = seen
            .iter()
            .map(|p| p["update_time_start"].as_i64().unwrap())
            .collect();
        assert_eq!(starts.iter().min(), Some(&first_start), "{starts:?}");
        // The after-sales of the same days, by update time, ordered by it.
        let after_sales = mock.seen_after_sales.lock().unwrap().clone();
        let mut refund_starts: Vec<i64> = after_sales
            .iter()
            .map(|p| p["update_start_time"].as_i64().unwrap())
            .collect();
        refund_starts.sort();
        let mut order_starts = starts.clone();
        order_starts.sort();
        assert_eq!(refund_starts, order_starts, "{}", db.backend);
        assert!(after_sales
            .iter()
            .all(|p| p["order_by"] == json!(["update_time asc"])));
        // No slice reaches past the start of the run.
        assert!(seen
            .iter()
            .all(|p| p["update_time_end"].as_i64().unwrap() <= chrono::Utc::now().timestamp()));
        let paid_day = chrono::DateTime::from_timestamp(paid, 0)
            .unwrap()
            .with_timezone(&tz)
            .format("%Y-%m-%d")
            .to_string();
        let v = inputs(&db, &paid_day).await;
        assert_eq!(v.get("gmv"), Some(d("2.50")), "{}", db.backend);
        let new_cursor = db
            .store
            .cursor("douyin-main", "orders")
            .await
            .unwrap()
            .unwrap();
        assert!(new_cursor > cursor, "{new_cursor} vs {cursor}");
        db.drop_db().await;
    }
}

/// An after-sales item as `afterSale.List` lists it (money in fen).
fn after_sale(id: &str, order_id: &str, fen: Value, refund_status: i64, updated: i64) -> Value {
    json!({
        "aftersale_info": {
            "aftersale_id": id, "aftersale_type": 2, "aftersale_status": 12,
            "refund_status": refund_status, "refund_amount": fen, "refund_post_amount": 600,
            "apply_time": updated - 3600, "create_time": updated - 3600, "update_time": updated,
            "aftersale_status_to_final_time": 0, "related_id": order_id,
        },
        "order_info": {"shop_order_id": order_id, "related_order_info": []},
        "text_part": {"aftersale_status_text": "售后成功"},
    })
}

#[tokio::test(flavor = "current_thread")]
async fn backfill_reads_refunded_after_sales_by_update_day() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let (oct1, oct2) = (cst(2026, 10, 1, 0, 0, 0), cst(2026, 10, 2, 0, 0, 0));
        let mut after_sales = HashMap::new();
        after_sales.insert(
            (oct1, 0),
            json!({"page": 0, "size": 2, "total": 4, "has_more": true, "items": [
                after_sale("7400000000000000001", "7350000000000000001", json!(2345), 3, cst(2026, 10, 1, 12, 0, 0)),
                // 2: still being refunded.
                after_sale("7400000000000000002", "7350000000000000002", json!(1), 2, cst(2026, 10, 1, 13, 0, 0)),
            ]}),
        );
        after_sales.insert(
            (oct1, 1),
            json!({"page": 1, "size": 2, "total": 4, "has_more": false, "items": [
                // Fen are whole numbers: set aside.
                after_sale("7400000000000000003", "7350000000000000002", json!("1.5"), 3, cst(2026, 10, 1, 14, 0, 0)),
                after_sale("7400000000000000004", "7350000000000000002", json!("1"), 3, cst(2026, 10, 1, 23, 59, 59)),
            ]}),
        );
        after_sales.insert(
            (oct2, 0),
            json!({"page": 0, "size": 2, "total": 1, "has_more": false, "items": [
                after_sale("7400000000000000005", "7350000000000000006", json!(99), 3, cst(2026, 10, 2, 0, 0, 0)),
            ]}),
        );
        let mock = gateway_with_after_sales(
            SECRET,
            backfill_pages(),
            vec![],
            after_sales,
            vec![(oct1, 1)],
        )
        .await;
        let settings =
            db.settings(&(config(&mock.server, SECRET, TOKEN) + common::facts::REFUNDS_TOTAL_KPI));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], backfill_window()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        // Oct 1: pages 0, 1 (throttled, then served); Oct 2: one page.
        assert_eq!(
            mock.after_sales_calls.load(Ordering::SeqCst),
            4,
            "{}",
            db.backend
        );
        let seen = mock.seen_after_sales.lock().unwrap().clone();
        let first = seen
            .iter()
            .find(|p| p["update_start_time"] == json!(oct1))
            .unwrap();
        assert_eq!(first["update_end_time"], json!(oct2 - 1));
        assert_eq!(first["size"], json!(2));
        let mut asked: Vec<(i64, u64)> = seen
            .iter()
            .map(|p| {
                (
                    p["update_start_time"].as_i64().unwrap(),
                    p["page"].as_u64().unwrap(),
                )
            })
            .collect();
        asked.sort();
        assert_eq!(asked, vec![(oct1, 0), (oct1, 1), (oct1, 1), (oct2, 0)]);

        let rejects = db.store.rejects("douyin-main").await.unwrap();
        let rejects: Vec<_> = rejects
            .iter()
            .filter(|r| r.locator.starts_with("refund"))
            .collect();
        assert_eq!(rejects.len(), 1, "{}: {rejects:?}", db.backend);
        assert_eq!(rejects[0].locator, "refund 7400000000000000003");
        assert!(
            rejects[0].reason.contains("refund_amount"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"1.5\""), "{}", rejects[0].raw);

        let s = |v: &str| v.to_string();
        assert_eq!(
            common::facts::stored_refunds(&db, "dy").await,
            vec![
                (
                    s("7400000000000000001"),
                    s("7350000000000000001"),
                    s("2026-10-01"),
                    d("23.45")
                ),
                (
                    s("7400000000000000004"),
                    s("7350000000000000002"),
                    s("2026-10-01"),
                    d("0.01")
                ),
                (
                    s("7400000000000000005"),
                    s("7350000000000000006"),
                    s("2026-10-02"),
                    d("0.99")
                ),
            ],
            "{}",
            db.backend
        );
        // Oct 1: both paid orders refunded (23.45 + 0.01); Oct 2: one of two.
        let (rate, amount) = common::facts::refund_kpis(&db, &settings, "dy", "2026-10-01").await;
        assert_eq!(rate, Some(d("1")), "{}", db.backend);
        assert_eq!(amount, Some(d("23.46")), "{}", db.backend);
        let (rate, amount) = common::facts::refund_kpis(&db, &settings, "dy", "2026-10-02").await;
        assert_eq!(rate, Some(d("0.5")), "{}", db.backend);
        assert_eq!(amount, Some(d("0.99")), "{}", db.backend);

        let again = run_connector(&db.store, &connectors[0], backfill_window()).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    logs.assert_free_of(&[SECRET, TOKEN]);
}
