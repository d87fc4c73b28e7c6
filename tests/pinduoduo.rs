//! Pinduoduo connector against a loopback fake of the router speaking
//! Pinduoduo's wire format: form POSTs with `type`, `client_id`,
//! `access_token`, Unix-second `timestamp`, `data_type=JSON` and an MD5
//! `sign` (checked here with the test's own MD5), answers and errors inside
//! HTTP 200 bodies, `error_code` 70031 for throttling, 30-minute windows
//! for the increment APIs (orders and after-sales), pages read backwards.

mod cn_router;
mod common;

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use cn_router::{expected_sign, form};
use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{LocalDay, Period};
use serde_json::{json, Value};
use sqlx::Row;
use std::sync::{Arc, Mutex};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "pdd-client-7788";
const SECRET: &str = "pdd_secret_SHOULD_NOT_LEAK_91";
const TOKEN: &str = "pdd_token_SHOULD_NOT_LEAK_42";
const INCREMENT: &str = "pdd.order.number.list.increment.get";
const LIST: &str = "pdd.order.list.get";
const REFUNDS: &str = "pdd.refund.list.increment.get";

/// One request the fake answered with orders.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    api: String,
    start: i64,
    end: i64,
    page: u64,
}

#[derive(Default)]
struct Seen {
    served: Vec<Served>,
    requests: usize,
    throttled: usize,
    problems: Vec<String>,
}

/// A fake router holding orders, each filed under the time its API
/// filters on (`updated_at` for the increment API, deal time for the list),
/// and after-sales filed under their `updated_at`.
#[derive(Clone)]
struct FakePdd {
    increment: Arc<Vec<(i64, Value)>>,
    list: Arc<Vec<(i64, Value)>>,
    refunds: Arc<Vec<(i64, Value)>>,
    /// The n-th request (1-based) is throttled once.
    throttle_at: Option<usize>,
    seen: Arc<Mutex<Seen>>,
}

fn error(code: i64, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "error_response": {"error_code": code, "error_msg": msg, "sub_code": null, "sub_msg": "", "request_id": "17000000000000"}
    }))
}

impl Respond for FakePdd {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let f = form(&req.body);
        let mut seen = self.seen.lock().unwrap();
        seen.requests += 1;
        for key in ["type", "client_id", "timestamp", "data_type", "sign"] {
            if !f.contains_key(key) {
                seen.problems.push(format!("no {key}"));
                return error(10000, &format!("参数错误: {key}"));
            }
        }
        let now = Utc::now().timestamp();
        let ts: i64 = f["timestamp"].parse().unwrap_or(0);
        if (now - ts).abs() > 600 || f["data_type"] != "JSON" {
            seen.problems
                .push(format!("timestamp {ts} / data_type {}", f["data_type"]));
            return error(10000, "timestamp 或 data_type 错误");
        }
        if f["client_id"] != CLIENT_ID {
            return error(10000, "client_id不存在");
        }
        // The platform checks the signature with the app's own secret.
        if f["sign"] != expected_sign(&f, SECRET) {
            return error(10016, "签名错误");
        }
        if f.get("access_token").map(String::as_str) != Some(TOKEN) {
            return error(10019, "access_token已过期");
        }
        if Some(seen.requests) == self.throttle_at {
            seen.throttled += 1;
            return error(70031, "调用过于频繁，请调整调用频率");
        }
        let api = f["type"].clone();
        let (records, start_key, end_key, list_key, envelope) = match api.as_str() {
            INCREMENT => (
                &self.increment,
                "start_updated_at",
                "end_updated_at",
                "order_sn_list",
                "order_sn_increment_get_response",
            ),
            LIST => (
                &self.list,
                "start_confirm_at",
                "end_confirm_at",
                "order_list",
                "order_list_get_response",
            ),
            REFUNDS => (
                &self.refunds,
                "start_updated_at",
                "end_updated_at",
                "refund_list",
                "refund_increment_get_response",
            ),
            other => {
                seen.problems.push(format!("type {other}"));
                return error(10000, "不存在的接口");
            }
        };
        let num = |k: &str| f.get(k).and_then(|v| v.parse::<i64>().ok());
        let (Some(start), Some(end), Some(page), Some(size)) =
            (num(start_key), num(end_key), num("page"), num("page_size"))
        else {
            seen.problems.push(format!("{api}: missing window or page"));
            return error(10000, "参数错误");
        };
        let limit = if api == LIST { 24 * 3600 } else { 30 * 60 };
        if end < start || end - start > limit {
            seen.problems.push(format!("{api}: window {start}..{end}"));
            return error(10000, "开始时间结束时间间距超过限制");
        }
        // The after-sales list requires its state and kind; it serves the
        // after-sales in the state asked for.
        let wanted_state = if api == REFUNDS {
            let (Some(state), Some(_kind)) = (num("after_sales_status"), num("after_sales_type"))
            else {
                seen.problems
                    .push(format!("{api}: after_sales_status/type"));
                return error(10000, "参数错误: after_sales_status");
            };
            Some(state)
        } else {
            if f.get("order_status").map(String::as_str) != Some("5")
                || f.get("refund_status").map(String::as_str) != Some("5")
            {
                seen.problems.push(format!("{api}: status filters"));
            }
            None
        };
        let matching: Vec<&Value> = records
            .iter()
            .filter(|(t, _)| *t >= start && *t <= end)
            .map(|(_, v)| v)
            .filter(|v| wanted_state.is_none_or(|s| v["after_sales_status"] == json!(s)))
            .collect();
        let from = ((page - 1) * size) as usize;
        let served: Vec<Value> = matching
            .iter()
            .skip(from)
            .take(size as usize)
            .map(|v| (*v).clone())
            .collect();
        seen.served.push(Served {
            api: api.clone(),
            start,
            end,
            page: page as u64,
        });
        let body = json!({
            envelope: {
                "total_count": matching.len(),
                "has_next": from + served.len() < matching.len(),
                list_key: served,
            }
        });
        ResponseTemplate::new(200).set_body_string(serde_json::to_string(&body).unwrap())
    }
}

async fn mount(server: &MockServer, fake: FakePdd) {
    Mock::given(method("POST"))
        .and(path("/api/router"))
        .respond_with(fake)
        .mount(server)
        .await;
}

fn config(server: &MockServer, extra: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "sh"
timezone = "Asia/Shanghai"
[[connectors]]
name = "pdd-main"
kind = "pinduoduo"
shop = "sh"
base_url = "{}/api/router"
client_id = "{CLIENT_ID}"
client_secret = "{SECRET}"
access_token = "{TOKEN}"
requests_per_second = 0
page_size = 2
{extra}
"#,
        server.uri()
    )
}

fn order(sn: Value, amount: Value, pay_time: Value, confirm_status: i64) -> Value {
    json!({
        "order_sn": sn, "pay_amount": amount, "pay_time": pay_time,
        "confirm_status": confirm_status, "group_status": 1, "order_status": 1,
        "refund_status": 1, "created_time": "2026-03-01 00:00:00",
        "receiver_name": "张**", "item_list": [{"goods_id": 1, "goods_count": 1}],
    })
}

/// Stored (order id, status) pairs, in byte order of the id.
async fn statuses(db: &common::TestDb) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = crate::fetch_rows!(
        db.store,
        "SELECT order_id, status FROM orders WHERE shop = 'sh'",
        [],
        |r| (r.get::<String, _>(0), r.get::<String, _>(1))
    );
    rows.sort();
    rows
}

async fn day(db: &common::TestDb, s: &str) -> InputValues {
    InputValues::load(&db.store, "sh", Period::parse_day(s).unwrap())
        .await
        .unwrap()
}

/// The end of the next scheduled run's window (the run cuts it to whole
/// minutes), waiting past a minute boundary that is too close.
async fn next_run_end() -> DateTime<Utc> {
    let now = Utc::now();
    let minute = now.duration_trunc(Duration::minutes(1)).unwrap();
    if now - minute > Duration::seconds(55) {
        tokio::time::sleep((minute + Duration::seconds(60) - now).to_std().unwrap()).await;
        return Utc::now().duration_trunc(Duration::minutes(1)).unwrap();
    }
    minute
}

#[tokio::test(flavor = "current_thread")]
async fn scheduled_run_reads_two_hours_as_four_windows_backwards_through_throttling() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let end = next_run_end().await;
        let at =
            |minutes_before: i64, s: i64| (end - Duration::minutes(minutes_before)).timestamp() + s;
        // First window: five orders, three pages of two. The two numeric
        // ids differ only in their last digit and collide as doubles.
        let first = vec![
            order(
                json!("260301-100000000000001"),
                json!("19.90"),
                json!("2026-03-01 00:30:00"),
                1,
            ),
            order(
                json!("260301-100000000000002"),
                json!(0.01),
                json!("2026-03-01 23:59:59"),
                1,
            ),
            order(
                json!(9007199254740993u64),
                json!("100.10"),
                json!(1772337600),
                1,
            ),
            order(
                json!(9007199254740992u64),
                json!(50),
                json!("2026-03-01 08:00:00"),
                1,
            ),
            order(
                json!("260301-100000000000005"),
                json!("12,34"),
                json!("2026-03-01 09:00:00"),
                1,
            ),
        ];
        let mut increment: Vec<(i64, Value)> = first
            .into_iter()
            .enumerate()
            .map(|(i, o)| (at(100, i as i64), o))
            .collect();
        // Second window: a cancelled order; third: nothing; fourth: an
        // unpaid order and one paid at midnight, on the next local day.
        increment.push((
            at(75, 0),
            order(
                json!("260301-200000000000001"),
                json!("300.00"),
                json!("2026-03-01 10:00:00"),
                2,
            ),
        ));
        increment.push((
            at(10, 0),
            order(
                json!("260302-400000000000001"),
                json!("80.00"),
                json!(""),
                0,
            ),
        ));
        increment.push((
            at(5, 0),
            order(
                json!("260302-400000000000002"),
                json!("200.00"),
                json!("2026-03-02 00:00:00"),
                1,
            ),
        ));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakePdd {
                increment: Arc::new(increment),
                list: Arc::new(vec![]),
                refunds: Arc::new(vec![]),
                throttle_at: Some(3),
                seen: seen.clone(),
            },
        )
        .await;
        let settings = db.settings(&config(&server, "lookback_days = 0\nconcurrency = 2"));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let since = (end - Duration::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
        db.store
            .set_cursor("pdd-main", "orders", &since)
            .await
            .unwrap();

        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);

        {
            let seen = seen.lock().unwrap();
            assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            assert_eq!(seen.throttled, 1, "the third request was throttled once");
            let orders: Vec<&Served> = seen.served.iter().filter(|s| s.api != REFUNDS).collect();
            assert!(orders.iter().all(|s| s.api == INCREMENT));
            // Two hours went out as four windows of at most 30 minutes,
            // covering the whole span.
            let mut windows: Vec<(i64, i64)> = orders.iter().map(|s| (s.start, s.end)).collect();
            windows.sort();
            windows.dedup();
            assert_eq!(windows.len(), 4, "{windows:?}");
            assert!(windows.iter().all(|(s, e)| e - s <= 1800));
            assert_eq!(windows[0].0, (end - Duration::hours(2)).timestamp());
            assert_eq!(windows[3].1, end.timestamp());
            for w in windows.windows(2) {
                assert_eq!(w[1].0, w[0].1 + 1, "no gap, no overlap");
            }
            // The full window was read backwards after the count: 1, 3, 2, 1.
            let busy = windows[0];
            let pages: Vec<u64> = orders
                .iter()
                .filter(|s| (s.start, s.end) == busy)
                .map(|s| s.page)
                .collect();
            assert_eq!(pages, vec![1, 3, 2, 1], "{}", db.backend);
            for w in &windows[1..] {
                let n = orders.iter().filter(|s| (s.start, s.end) == *w).count();
                assert_eq!(n, 1, "a window of one page is read once");
            }
        }

        let rejects = db.store.rejects("pdd-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "order 260301-100000000000005");
        assert_eq!(rejects[0].source, INCREMENT);
        assert!(
            rejects[0].reason.contains("pay_amount"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"12,34\""), "{}", rejects[0].raw);

        assert_eq!(
            statuses(&db).await,
            vec![
                ("260301-100000000000001".to_string(), "paid".to_string()),
                ("260301-100000000000002".into(), "paid".into()),
                ("260301-200000000000001".into(), "cancelled".into()),
                ("260302-400000000000001".into(), "unpaid".into()),
                ("260302-400000000000002".into(), "paid".into()),
                ("9007199254740992".into(), "paid".into()),
                ("9007199254740993".into(), "paid".into()),
            ],
            "{}",
            db.backend
        );
        // 1 March (Beijing): 19.90 + 0.01 + 100.10 + 50 paid; the cancelled
        // order does not count. Pinduoduo names no buyers: one per order.
        let mar1 = day(&db, "2026-03-01").await;
        assert_eq!(mar1.get("orders"), Some(d("4")), "{}", db.backend);
        assert_eq!(mar1.get("gmv"), Some(d("170.01")), "{}", db.backend);
        assert_eq!(mar1.get("buyers"), Some(d("4")), "{}", db.backend);
        let mar2 = day(&db, "2026-03-02").await;
        assert_eq!(mar2.get("orders"), Some(d("1")), "{}", db.backend);
        assert_eq!(mar2.get("gmv"), Some(d("200")), "{}", db.backend);

        let cursor = db
            .store
            .cursor("pdd-main", "orders")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cursor, end.to_rfc3339_opts(SecondsFormat::Secs, true));

        // The same two hours again store nothing new.
        db.store
            .set_cursor("pdd-main", "orders", &since)
            .await
            .unwrap();
        let again = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert_eq!(db.store.rejects("pdd-main").await.unwrap().len(), 1);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(
        text.contains("retrying"),
        "the throttled request was logged and retried"
    );
    logs.assert_free_of(&[SECRET, TOKEN]);
}

#[tokio::test(flavor = "current_thread")]
async fn backfill_reads_deal_time_by_local_day_and_pages_forward() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        // 2026-03-05 in Beijing is [1772640000, 1772726399].
        let list = vec![
            (
                1772640000 - 1,
                order(
                    json!("260304-1"),
                    json!("999.00"),
                    json!("2026-03-04 23:59:59"),
                    1,
                ),
            ),
            (
                1772640000,
                order(
                    json!("260305-1"),
                    json!("33.33"),
                    json!("2026-03-05 00:00:00"),
                    1,
                ),
            ),
            (
                1772683200,
                order(json!("260305-2"), json!(66.67), json!(1772683200), 1),
            ),
            (
                1772726399,
                order(
                    json!("260305-3"),
                    json!("0.10"),
                    json!("2026-03-05 23:59:59"),
                    1,
                ),
            ),
            (
                1772726400,
                order(
                    json!("260306-1"),
                    json!("5.00"),
                    json!("2026-03-06 00:00:00"),
                    1,
                ),
            ),
        ];
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakePdd {
                increment: Arc::new(vec![]),
                list: Arc::new(list),
                refunds: Arc::new(vec![]),
                throttle_at: Some(2),
                seen: seen.clone(),
            },
        )
        .await;
        let settings = db.settings(&config(&server, ""));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day5 = LocalDay::from_ymd_opt(2026, 3, 5).unwrap();
        let window = Window {
            from: Some(day5),
            to: Some(day5),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        {
            let seen = seen.lock().unwrap();
            assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            assert_eq!(seen.throttled, 1);
            let served: Vec<(String, i64, i64, u64)> = seen
                .served
                .iter()
                .filter(|s| s.api == LIST)
                .map(|s| (s.api.clone(), s.start, s.end, s.page))
                .collect();
            assert_eq!(
                served,
                vec![
                    (LIST.to_string(), 1772640000, 1772726399, 1),
                    (LIST.to_string(), 1772640000, 1772726399, 2),
                ]
            );
        }
        let mar5 = day(&db, "2026-03-05").await;
        assert_eq!(mar5.get("orders"), Some(d("3")), "{}", db.backend);
        assert_eq!(mar5.get("gmv"), Some(d("100.10")), "{}", db.backend);
        assert_eq!(day(&db, "2026-03-04").await.get("orders"), Some(d("0")));
        assert!(db.store.rejects("pdd-main").await.unwrap().is_empty());
        assert_eq!(
            db.store.cursor("pdd-main", "orders").await.unwrap(),
            None,
            "a backfill leaves the scheduled cursor alone"
        );

        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.records, 3);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    logs.assert_free_of(&[SECRET, TOKEN]);
}

#[tokio::test]
async fn wrong_secret_or_token_fails_at_once_naming_the_credential() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let seen = Arc::new(Mutex::new(Seen::default()));
        mount(
            &server,
            FakePdd {
                increment: Arc::new(vec![]),
                list: Arc::new(vec![]),
                refunds: Arc::new(vec![]),
                throttle_at: None,
                seen: seen.clone(),
            },
        )
        .await;
        let text = config(&server, "").replace(SECRET, "wrong_secret_value_123")
            + &format!(
                r#"
[[connectors]]
name = "pdd-stale"
kind = "pinduoduo"
shop = "sh"
base_url = "{}/api/router"
client_id = "{CLIENT_ID}"
client_secret = "{SECRET}"
access_token = "expired_token_value_456"
requests_per_second = 0
"#,
                server.uri()
            );
        let settings = db.settings(&text);
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day = LocalDay::from_ymd_opt(2026, 3, 5).unwrap();
        let window = Window {
            from: Some(day),
            to: Some(day),
        };

        let run = run_connector(&db.store, &connectors[0], window).await;
        failure(
            &run,
            "a refused signature fails the run",
            &["pdd-main", "client_secret"],
            &["wrong_secret_value_123"],
        );
        assert_eq!(
            seen.lock().unwrap().requests,
            1,
            "no retry of a refused signature"
        );

        let run = run_connector(&db.store, &connectors[1], window).await;
        failure(
            &run,
            "an expired token fails the run",
            &["pdd-stale", "access_token"],
            &["expired_token_value_456"],
        );
        assert_eq!(
            seen.lock().unwrap().requests,
            2,
            "no retry of a refused token"
        );
        db.drop_db().await;
    }
}

/// An after-sale as `pdd.refund.list.increment.get` lists it, filed under
/// its `updated_time` (Beijing wall-clock time).
fn after_sale(id: Value, order_sn: &str, amount: Value, state: i64, updated: &str) -> (i64, Value) {
    let at = chrono::NaiveDateTime::parse_from_str(updated, "%Y-%m-%d %H:%M:%S").unwrap();
    let ts = (at - Duration::hours(8)).and_utc().timestamp();
    (
        ts,
        json!({
            "id": id, "order_sn": order_sn, "refund_amount": amount,
            "after_sales_status": state, "after_sales_type": 2,
            "updated_time": updated, "created_time": "2026-03-04 09:00:00",
            "confirm_time": "2026-03-04 08:00:00", "order_amount": "100.00",
            "discount_amount": "0.00", "goods_id": 1, "goods_name": "商品",
            "goods_number": "1", "goods_price": "100.00", "speed_refund_flag": 0,
        }),
    )
}

fn mar5_orders() -> Vec<(i64, Value)> {
    vec![
        (
            1772640000,
            order(
                json!("260305-1"),
                json!("33.33"),
                json!("2026-03-05 00:00:00"),
                1,
            ),
        ),
        (
            1772683200,
            order(json!("260305-2"), json!("66.67"), json!(1772683200), 1),
        ),
        (
            1772726399,
            order(
                json!("260305-3"),
                json!("0.10"),
                json!("2026-03-05 23:59:59"),
                1,
            ),
        ),
    ]
}

/// After-sales around 5 March (Beijing): three succeeded in its first
/// half hour (two pages of two), one at its last second, one still being
/// refunded, one with a bad amount and one on the next day.
fn mar5_after_sales() -> Vec<(i64, Value)> {
    vec![
        after_sale(
            json!(5001),
            "260305-1",
            json!("10.00"),
            10,
            "2026-03-05 00:00:00",
        ),
        after_sale(
            json!("5002"),
            "260305-1",
            json!(1),
            10,
            "2026-03-05 00:10:00",
        ),
        after_sale(
            json!(5003),
            "260305-2",
            json!("2.50"),
            10,
            "2026-03-05 00:20:00",
        ),
        after_sale(
            json!(5004),
            "260305-3",
            json!("0.10"),
            4,
            "2026-03-05 12:00:00",
        ),
        after_sale(
            json!(5005),
            "260305-3",
            json!("1,00"),
            10,
            "2026-03-05 13:00:00",
        ),
        after_sale(
            json!(5006),
            "260305-2",
            json!("0.01"),
            10,
            "2026-03-05 23:59:59",
        ),
        after_sale(
            json!(5007),
            "260305-3",
            json!("0.10"),
            10,
            "2026-03-06 00:00:00",
        ),
    ]
}

#[tokio::test(flavor = "current_thread")]
async fn backfill_reads_succeeded_after_sales_of_each_local_day() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakePdd {
                increment: Arc::new(vec![]),
                list: Arc::new(mar5_orders()),
                refunds: Arc::new(mar5_after_sales()),
                throttle_at: Some(5),
                seen: seen.clone(),
            },
        )
        .await;
        let settings = db.settings(&(config(&server, "") + common::facts::REFUNDS_TOTAL_KPI));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day5 = LocalDay::from_ymd_opt(2026, 3, 5).unwrap();
        let window = Window {
            from: Some(day5),
            to: Some(day5),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        {
            let seen = seen.lock().unwrap();
            assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            assert_eq!(seen.throttled, 1, "a throttled after-sales page is retried");
            // The local day as 48 windows of 30 minutes, in order, no gap.
            let mut windows: Vec<(i64, i64)> = seen
                .served
                .iter()
                .filter(|s| s.api == REFUNDS)
                .map(|s| (s.start, s.end))
                .collect();
            windows.sort();
            windows.dedup();
            assert_eq!(windows.len(), 48, "{}", db.backend);
            assert_eq!(windows[0].0, 1772640000);
            assert_eq!(windows[47].1, 1772726399);
            for w in windows.windows(2) {
                assert_eq!(w[1].0, w[0].1 + 1, "no gap, no overlap");
            }
            assert!(windows.iter().all(|(s, e)| e - s <= 1800));
            // Three succeeded after-sales in the first window: the count,
            // then the last page to the first.
            let pages: Vec<u64> = seen
                .served
                .iter()
                .filter(|s| s.api == REFUNDS && s.start == 1772640000)
                .map(|s| s.page)
                .collect();
            assert_eq!(pages, vec![1, 2, 1], "{}", db.backend);
        }
        let rejects = db.store.rejects("pdd-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}: {rejects:?}", db.backend);
        assert_eq!(rejects[0].locator, "refund 5005");
        assert_eq!(rejects[0].source, REFUNDS);
        assert!(
            rejects[0].reason.contains("refund_amount"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"1,00\""), "{}", rejects[0].raw);

        let s = |v: &str| v.to_string();
        assert_eq!(
            common::facts::stored_refunds(&db, "sh").await,
            vec![
                (s("5001"), s("260305-1"), s("2026-03-05"), d("10")),
                (s("5002"), s("260305-1"), s("2026-03-05"), d("1")),
                (s("5003"), s("260305-2"), s("2026-03-05"), d("2.5")),
                (s("5006"), s("260305-2"), s("2026-03-05"), d("0.01")),
            ],
            "{}",
            db.backend
        );
        // Two of the day's three orders were refunded, 13.51 in all.
        let (rate, amount) = common::facts::refund_kpis(&db, &settings, "sh", "2026-03-05").await;
        assert_eq!(rate, Some(d("0.666667")), "{}", db.backend);
        assert_eq!(amount, Some(d("13.51")), "{}", db.backend);

        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert_eq!(common::facts::stored_refunds(&db, "sh").await.len(), 4);
        db.drop_db().await;
    }
    logs.assert_free_of(&[SECRET, TOKEN]);
}

#[tokio::test(flavor = "current_thread")]
async fn scheduled_run_reads_after_sales_in_the_same_windows_as_orders() {
    for db in common::backends().await {
        let end = next_run_end().await;
        let beijing = |t: DateTime<Utc>| {
            (t + Duration::hours(8))
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        };
        let refunded = end - Duration::minutes(20);
        let refunds = vec![
            after_sale(
                json!(7001),
                "260301-1",
                json!("5.55"),
                10,
                &beijing(refunded),
            ),
            // Before the window: not asked for.
            after_sale(
                json!(7002),
                "260301-2",
                json!("9.99"),
                10,
                &beijing(end - Duration::hours(3)),
            ),
        ];
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakePdd {
                increment: Arc::new(vec![]),
                list: Arc::new(vec![]),
                refunds: Arc::new(refunds),
                throttle_at: None,
                seen: seen.clone(),
            },
        )
        .await;
        let settings = db.settings(&config(&server, "lookback_days = 0"));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let since = (end - Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        db.store
            .set_cursor("pdd-main", "orders", &since)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        {
            let seen = seen.lock().unwrap();
            assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            let windows = |api: &str| {
                let mut w: Vec<(i64, i64)> = seen
                    .served
                    .iter()
                    .filter(|s| s.api == api)
                    .map(|s| (s.start, s.end))
                    .collect();
                w.sort();
                w
            };
            assert_eq!(windows(REFUNDS), windows(INCREMENT), "{}", db.backend);
            assert_eq!(windows(REFUNDS).len(), 2);
        }
        let day = local_day_text(refunded);
        let stored = common::facts::stored_refunds(&db, "sh").await;
        assert_eq!(
            stored,
            vec![("7001".to_string(), "260301-1".to_string(), day, d("5.55"))],
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
}

/// The Beijing local day of `t`, as stored.
fn local_day_text(t: DateTime<Utc>) -> String {
    (t + Duration::hours(8)).format("%Y-%m-%d").to_string()
}

/// Pinduoduo's increment list as a definition built from the named
/// blocks: `signing = "pdd"` (the fake checks the MD5 with its own code),
/// `envelope = "pdd"` (70031 in an HTTP 200 body is retried) and reverse
/// paging (page 1 for the count, then the last page to the first).
const PDD_DEFINITION: &str = r#"
kind = "pdd_increment"
description = "Pinduoduo order increments, from the blocks"

[connection]
page_size = 100
max_page_size = 100

[credentials]
client_id = { secret = false }
client_secret = {}
access_token = {}

[auth]
signing = "pdd"

[errors]
envelope = "pdd"

[streams.orders]
api = "pdd.order.number.list.increment.get"
method = "POST"
path = "/api/router"
records = "/order_sn_increment_get_response/order_sn_list"
query = { page = "{page}", page_size = "{page_size}", order_status = "5", refund_status = "5", is_lucky_flag = "0" }

[streams.orders.window]
format = "unix"
bounds = "inclusive"
slice = "30m"
backfill = { start_updated_at = "{from}", end_updated_at = "{to}" }

[streams.orders.pagination]
style = "reverse"
total = "/order_sn_increment_get_response/total_count"

[streams.orders.order]
id = "/order_sn"
paid_at = { pointer = "/pay_time", format = "%Y-%m-%d %H:%M:%S", zone = "Asia/Shanghai" }
amount = { pointer = "/pay_amount", scale = "yuan" }
status = { pointer = "/confirm_status", map = { "0" = "unpaid", "1" = "paid", "2" = "cancelled" } }
"#;

#[tokio::test(flavor = "current_thread")]
async fn a_definition_of_the_pdd_blocks_signs_retries_and_pages_backwards() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        // 2026-03-01 00:00 in Beijing.
        let day_start = 1772294400;
        let mut increment: Vec<(i64, Value)> = [
            ("260301-1", json!("19.90"), "2026-03-01 00:30:00"),
            ("260301-2", json!(0.01), "2026-03-01 23:59:59"),
            ("260301-3", json!("100.10"), "2026-03-01 08:00:00"),
            ("260301-4", json!(50), "2026-03-01 09:00:00"),
            ("260301-5", json!("12,34"), "2026-03-01 09:00:00"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (sn, amount, at))| {
            (
                day_start + 10 + i as i64,
                order(json!(sn), amount, json!(at), 1),
            )
        })
        .collect();
        increment.push((
            day_start + 3600,
            order(
                json!("260301-6"),
                json!("300.00"),
                json!("2026-03-01 10:00:00"),
                2,
            ),
        ));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakePdd {
                increment: Arc::new(increment),
                list: Arc::new(vec![]),
                refunds: Arc::new(vec![]),
                throttle_at: Some(3),
                seen: seen.clone(),
            },
        )
        .await;
        db.write("defs/pdd.toml", PDD_DEFINITION);
        let settings = db.settings(&format!(
            r#"
definitions = ["defs"]
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "sh"
timezone = "Asia/Shanghai"
[[connectors]]
name = "pdd-def"
kind = "pdd_increment"
shop = "sh"
base_url = "{}"
client_id = "{CLIENT_ID}"
client_secret = "{SECRET}"
access_token = "{TOKEN}"
requests_per_second = 0
page_size = 2
concurrency = 1
"#,
            server.uri()
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let mar1 = LocalDay::from_ymd_opt(2026, 3, 1).unwrap();
        let window = Window {
            from: Some(mar1),
            to: Some(mar1),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        {
            let seen = seen.lock().unwrap();
            assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            assert_eq!(seen.throttled, 1, "a throttled page is retried");
            let mut windows: Vec<(i64, i64)> =
                seen.served.iter().map(|s| (s.start, s.end)).collect();
            windows.dedup();
            assert_eq!(windows.len(), 48, "{}", db.backend);
            assert_eq!(windows[0], (day_start, day_start + 1799));
            for w in windows.windows(2) {
                assert_eq!(w[1].0, w[0].1 + 1, "no gap, no overlap");
            }
            let pages = |start: i64| -> Vec<u64> {
                seen.served
                    .iter()
                    .filter(|s| s.start == start)
                    .map(|s| s.page)
                    .collect()
            };
            assert_eq!(pages(day_start), vec![1, 3, 2, 1], "{}", db.backend);
            assert_eq!(pages(day_start + 3600), vec![1]);
        }
        let rejects = db.store.rejects("pdd-def").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}: {rejects:?}", db.backend);
        assert!(rejects[0].raw.contains("\"12,34\""), "{}", rejects[0].raw);
        assert_eq!(
            statuses(&db).await,
            vec![
                ("260301-1".to_string(), "paid".to_string()),
                ("260301-2".to_string(), "paid".to_string()),
                ("260301-3".to_string(), "paid".to_string()),
                ("260301-4".to_string(), "paid".to_string()),
                ("260301-6".to_string(), "cancelled".to_string()),
            ]
        );
        let mar1 = day(&db, "2026-03-01").await;
        assert_eq!(mar1.get("orders"), Some(d("4")), "{}", db.backend);
        assert_eq!(mar1.get("gmv"), Some(d("170.01")), "{}", db.backend);

        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    logs.assert_free_of(&[SECRET, TOKEN]);
}
