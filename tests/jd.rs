//! JD connector against a loopback fake of the JOS router speaking JD's
//! wire format: form POSTs with `method`, `app_key`, `access_token`,
//! GMT+8 `timestamp`, `v=2.0`, `360buy_param_json` and an MD5 `sign`
//! (checked here with the test's own MD5), answers and gateway errors
//! inside HTTP 200 bodies (`error_response` code 2 for call limits, 12 for
//! a bad signature, 19 for a bad token), `jingdong_pop_order_search_responce`
//! pages bounded by `orderTotal`; after-sales from
//! `jingdong.asc.serviceAndRefund.view` by approval time, pages of at most
//! 50 bounded by `pageResult.totalCount`.

mod cn_router;
mod common;

use chrono::{Duration, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};
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

const APP_KEY: &str = "JDAPPKEY0001";
const SECRET: &str = "jd_secret_SHOULD_NOT_LEAK_73";
const TOKEN: &str = "jd_token_SHOULD_NOT_LEAK_58";
const METHOD: &str = "jingdong.pop.order.search";
const REFUNDS: &str = "jingdong.asc.serviceAndRefund.view";

fn beijing(text: &str) -> i64 {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
    FixedOffset::east_opt(8 * 3600)
        .unwrap()
        .from_local_datetime(&naive)
        .unwrap()
        .timestamp()
}

/// One search the fake answered with orders.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    date_type: i64,
    start: String,
    end: String,
    page: u64,
}

#[derive(Default)]
struct Seen {
    served: Vec<Served>,
    /// After-sales pages answered: (approval from, to, page).
    refunds_served: Vec<(String, String, u64)>,
    requests: usize,
    throttled: usize,
    problems: Vec<String>,
}

/// A fake JOS router holding orders; it filters on `orderStartTime`
/// (`dateType` 1) or `modified` (`dateType` 0) and on the states asked for.
#[derive(Clone)]
struct FakeJd {
    orders: Arc<Vec<Value>>,
    /// After-sales with their approval time (Beijing text).
    after_sales: Arc<Vec<(String, Value)>>,
    /// The n-th request (1-based) is refused once for the call limit.
    throttle_at: Option<usize>,
    seen: Arc<Mutex<Seen>>,
}

fn gateway_error(code: &str, zh: &str, en: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "error_response": {"code": code, "zh_desc": zh, "en_desc": en}
    }))
}

impl Respond for FakeJd {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let f = form(&req.body);
        let mut seen = self.seen.lock().unwrap();
        seen.requests += 1;
        for key in [
            "method",
            "app_key",
            "timestamp",
            "v",
            "360buy_param_json",
            "sign",
        ] {
            if !f.contains_key(key) {
                seen.problems.push(format!("no {key}"));
                return gateway_error("4", "缺少参数", "Missing Parameter");
            }
        }
        let ts = NaiveDateTime::parse_from_str(&f["timestamp"], "%Y-%m-%d %H:%M:%S")
            .map(|_| beijing(&f["timestamp"]));
        match ts {
            Ok(t) if (Utc::now().timestamp() - t).abs() <= 360 => {}
            _ => {
                seen.problems.push(format!("timestamp {}", f["timestamp"]));
                return gateway_error("8", "非法的时间戳参数", "Invalid Timestamp");
            }
        }
        if f["v"] != "2.0" || (f["method"] != METHOD && f["method"] != REFUNDS) {
            seen.problems
                .push(format!("v {} method {}", f["v"], f["method"]));
            return gateway_error("15", "不存在的方法名", "Invalid Method");
        }
        if f["app_key"] != APP_KEY {
            return gateway_error("21", "无效app_key", "Invalid app_key");
        }
        if f["sign"] != expected_sign(&f, SECRET) {
            return gateway_error("12", "无效签名", "Invalid Signature");
        }
        if f.get("access_token").map(String::as_str) != Some(TOKEN) {
            return gateway_error("19", "无效access_token", "Invalid access_token");
        }
        if Some(seen.requests) == self.throttle_at {
            seen.throttled += 1;
            return gateway_error("2", "限制时间内调用失败次数", "App Call Limited");
        }
        let p: Value = match serde_json::from_str(&f["360buy_param_json"]) {
            Ok(p) => p,
            Err(e) => {
                seen.problems.push(format!("360buy_param_json: {e}"));
                return gateway_error("43", "参数错误", "Invalid Parameter");
            }
        };
        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        if f["method"] == REFUNDS {
            return self.after_sales_page(&p, &mut seen);
        }
        let (start, end) = (text("start_date"), text("end_date"));
        let page: u64 = text("page").parse().unwrap_or(0);
        let size: u64 = text("page_size").parse().unwrap_or(0);
        let date_type = p.get("dateType").and_then(Value::as_i64).unwrap_or(-1);
        let states: Vec<String> = text("order_state").split(',').map(str::to_string).collect();
        if page == 0 || size == 0 || !(0..=1).contains(&date_type) || start.len() != 19 {
            seen.problems.push(format!("params {p}"));
            return gateway_error("43", "参数错误", "Invalid Parameter");
        }
        let (lo, hi) = (beijing(&start), beijing(&end));
        let field = if date_type == 1 {
            "orderStartTime"
        } else {
            "modified"
        };
        let matching: Vec<&Value> = self
            .orders
            .iter()
            .filter(|o| {
                let t = beijing(o[field].as_str().unwrap());
                t >= lo && t <= hi && states.iter().any(|s| o["orderState"] == s.as_str())
            })
            .collect();
        let served: Vec<Value> = matching
            .iter()
            .skip(((page - 1) * size) as usize)
            .take(size as usize)
            .map(|o| (*o).clone())
            .collect();
        seen.served.push(Served {
            date_type,
            start,
            end,
            page,
        });
        let body = json!({
            "jingdong_pop_order_search_responce": {
                "code": "0",
                "searchorderinfo_result": {
                    "apiResult": {"success": true, "englishErrCode": "success", "chineseErrCode": "成功", "numberCode": 10100000},
                    "orderTotal": matching.len(),
                    "orderInfoList": served,
                }
            }
        });
        ResponseTemplate::new(200).set_body_string(serde_json::to_string(&body).unwrap())
    }
}

impl FakeJd {
    /// A page of `jingdong.asc.serviceAndRefund.view`: leaf parameters,
    /// approval window of at most 10 days, `pageSize` 1–50.
    fn after_sales_page(&self, p: &Value, seen: &mut Seen) -> ResponseTemplate {
        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (start, end) = (text("approveTimeBegin"), text("approveTimeEnd"));
        let page = p.get("pageNumber").and_then(Value::as_u64).unwrap_or(0);
        let size = p.get("pageSize").and_then(Value::as_u64).unwrap_or(0);
        let parses = |t: &str| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok();
        if !parses(&start)
            || !parses(&end)
            || page == 0
            || !(1..=50).contains(&size)
            || beijing(&end) < beijing(&start)
            || beijing(&end) - beijing(&start) > 10 * 86400
        {
            seen.problems.push(format!("after-sales params {p}"));
            return gateway_error("43", "参数错误", "Invalid Parameter");
        }
        let (lo, hi) = (beijing(&start), beijing(&end));
        let matching: Vec<&Value> = self
            .after_sales
            .iter()
            .filter(|(approved, _)| (lo..=hi).contains(&beijing(approved)))
            .map(|(_, v)| v)
            .collect();
        let data: Vec<Value> = matching
            .iter()
            .skip(((page - 1) * size) as usize)
            .take(size as usize)
            .map(|v| (*v).clone())
            .collect();
        seen.refunds_served.push((start, end, page));
        let body = json!({
            "jingdong_asc_serviceAndRefund_view_responce": {
                "code": "0",
                "pageResult": {
                    "success": true, "code": "00000", "msg": "成功",
                    "totalCount": matching.len(), "pageNumber": page, "pageSize": size,
                    "data": data,
                }
            }
        });
        ResponseTemplate::new(200).set_body_string(serde_json::to_string(&body).unwrap())
    }
}

async fn mount(server: &MockServer, fake: FakeJd) {
    Mock::given(method("POST"))
        .and(path("/routerjson"))
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
name = "jd-main"
kind = "jd"
shop = "sh"
base_url = "{}/routerjson"
app_key = "{APP_KEY}"
app_secret = "{SECRET}"
access_token = "{TOKEN}"
requests_per_second = 0
page_size = 2
{extra}
"#,
        server.uri()
    )
}

#[allow(clippy::too_many_arguments)]
fn order(
    id: Value,
    state: &str,
    payment: Value,
    created: &str,
    paid: &str,
    modified: &str,
    buyer: Option<&str>,
) -> Value {
    json!({
        "orderId": id, "venderId": "10001", "orderState": state,
        "orderTotalPrice": "999.99", "orderPayment": payment, "freightPrice": "0.00",
        "orderStartTime": created, "paymentConfirmTime": paid, "modified": modified,
        "open_id_buyer": buyer, "orderSource": "移动端订单",
        "itemInfoList": [{"skuId": "1", "itemTotal": "1"}],
    })
}

async fn statuses(db: &common::TestDb) -> Vec<(String, String, Option<String>)> {
    let mut rows: Vec<(String, String, Option<String>)> = crate::fetch_rows!(
        db.store,
        "SELECT order_id, status, buyer_id FROM orders WHERE shop = 'sh'",
        [],
        |r| (r.get(0), r.get(1), r.get(2))
    );
    rows.sort();
    rows
}

async fn day(db: &common::TestDb, s: &str) -> InputValues {
    InputValues::load(&db.store, "sh", Period::parse_day(s).unwrap())
        .await
        .unwrap()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn backfill_pages_through_the_call_limit_and_keeps_bad_records_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let m = "2026-03-06 09:00:00";
        let orders = vec![
            // Created on 5 March (Beijing); paid that day unless noted.
            order(
                json!("300100000001"),
                "WAIT_SELLER_STOCK_OUT",
                json!("88.80"),
                "2026-03-05 00:00:00",
                "2026-03-05 00:00:05",
                m,
                Some("buyer-a"),
            ),
            // Two ids that differ only in their last digit (equal as doubles).
            order(
                json!(9007199254740993u64),
                "WAIT_GOODS_RECEIVE_CONFIRM",
                json!(11.11),
                "2026-03-05 10:00:00",
                "2026-03-05 10:01:00",
                m,
                Some("buyer-a"),
            ),
            order(
                json!(9007199254740992u64),
                "FINISHED_L",
                json!("0.09"),
                "2026-03-05 11:00:00",
                "2026-03-05 11:00:30",
                m,
                Some("buyer-b"),
            ),
            // Bad money: kept aside with its raw record.
            order(
                json!("300100000004"),
                "WAIT_SELLER_STOCK_OUT",
                json!("abc"),
                "2026-03-05 12:00:00",
                "2026-03-05 12:00:10",
                m,
                Some("buyer-c"),
            ),
            order(
                json!("300100000005"),
                "TRADE_CANCELED",
                json!("500.00"),
                "2026-03-05 13:00:00",
                "2026-03-05 13:00:10",
                m,
                Some("buyer-d"),
            ),
            // Cash on delivery, not yet paid.
            order(
                json!("300100000006"),
                "WAIT_SELLER_DELIVERY",
                json!("20.00"),
                "2026-03-05 14:00:00",
                "",
                m,
                Some("buyer-e"),
            ),
            // Created before midnight, paid after: counts on 6 March.
            order(
                json!("300100000007"),
                "WAIT_SELLER_STOCK_OUT",
                json!("40.00"),
                "2026-03-05 23:59:00",
                "2026-03-06 00:00:01",
                m,
                Some("buyer-b"),
            ),
            // Created on 6 March: outside the window.
            order(
                json!("300100000008"),
                "WAIT_SELLER_STOCK_OUT",
                json!("7.00"),
                "2026-03-06 00:00:00",
                "2026-03-06 00:00:02",
                m,
                Some("buyer-f"),
            ),
        ];
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakeJd {
                orders: Arc::new(orders),
                after_sales: Arc::new(vec![]),
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
            // Seven orders created that day, four pages of two, by creation time.
            let window = (s("2026-03-05 00:00:00"), s("2026-03-05 23:59:59"));
            let served: Vec<(i64, String, String, u64)> = seen
                .served
                .iter()
                .map(|x| (x.date_type, x.start.clone(), x.end.clone(), x.page))
                .collect();
            let expected: Vec<(i64, String, String, u64)> = (1..=4)
                .map(|p| (1, window.0.clone(), window.1.clone(), p))
                .collect();
            assert_eq!(served, expected, "{}", db.backend);
        }

        let rejects = db.store.rejects("jd-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "order 300100000004");
        assert_eq!(rejects[0].source, METHOD);
        assert!(
            rejects[0].reason.contains("orderPayment"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"abc\""), "{}", rejects[0].raw);

        let row = |id: &str, status: &str, buyer: &str| (s(id), s(status), Some(s(buyer)));
        assert_eq!(
            statuses(&db).await,
            vec![
                row("300100000001", "paid", "buyer-a"),
                row("300100000005", "cancelled", "buyer-d"),
                row("300100000006", "unpaid", "buyer-e"),
                row("300100000007", "paid", "buyer-b"),
                row("9007199254740992", "paid", "buyer-b"),
                row("9007199254740993", "paid", "buyer-a"),
            ],
            "{}",
            db.backend
        );
        // 5 March: 88.80 + 11.11 + 0.09 from buyers a, a, b.
        let mar5 = day(&db, "2026-03-05").await;
        assert_eq!(mar5.get("orders"), Some(d("3")), "{}", db.backend);
        assert_eq!(mar5.get("gmv"), Some(d("100.00")), "{}", db.backend);
        assert_eq!(mar5.get("buyers"), Some(d("2")), "{}", db.backend);
        let mar6 = day(&db, "2026-03-06").await;
        assert_eq!(mar6.get("orders"), Some(d("1")), "{}", db.backend);
        assert_eq!(mar6.get("gmv"), Some(d("40")), "{}", db.backend);

        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.records, 6);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(
        text.contains("retrying"),
        "the call limit was logged and retried"
    );
    logs.assert_free_of(&[SECRET, TOKEN]);
}

#[tokio::test(flavor = "current_thread")]
async fn scheduled_run_reads_modified_days_since_the_cursor_minus_the_lookback() {
    for db in common::backends().await {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let now = Utc::now().with_timezone(&cst);
        let fmt = |t: chrono::DateTime<FixedOffset>| t.format("%Y-%m-%d %H:%M:%S").to_string();
        let days_ago = |n: i64| (now - Duration::days(n)).date_naive();
        // Paid ten days ago, cancelled yesterday: only the modified-time
        // search of a scheduled run sees the change.
        let paid = fmt(now - Duration::days(10));
        let yesterday = fmt(cst
            .from_local_datetime(&days_ago(1).and_hms_opt(12, 0, 0).unwrap())
            .unwrap());
        let orders = vec![order(
            json!("300200000001"),
            "TRADE_CANCELED",
            json!("66.00"),
            &paid,
            &paid,
            &yesterday,
            Some("buyer-z"),
        )];
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakeJd {
                orders: Arc::new(orders),
                after_sales: Arc::new(vec![]),
                throttle_at: None,
                seen: seen.clone(),
            },
        )
        .await;
        let settings = db.settings(&config(&server, ""));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let cursor = (Utc::now() - Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        db.store
            .set_cursor("jd-main", "orders", &cursor)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        {
            let seen = seen.lock().unwrap();
            assert!(seen.problems.is_empty(), "{:?}", seen.problems);
            // Cursor a day ago, two days of lookback: four local days, by
            // modification time, each from midnight to 23:59:59.
            let days: Vec<(i64, String, String)> = seen
                .served
                .iter()
                .map(|x| (x.date_type, x.start.clone(), x.end.clone()))
                .collect();
            let mut expected: Vec<(i64, String, String)> = (0..=3)
                .rev()
                .map(|n| {
                    let d = days_ago(n);
                    (0, format!("{d} 00:00:00"), format!("{d} 23:59:59"))
                })
                .collect();
            let mut got = days.clone();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{}", db.backend);
            // The same days' after-sales, by approval time.
            let mut refund_days: Vec<(i64, String, String)> = seen
                .refunds_served
                .iter()
                .map(|(start, end, _)| (0, start.clone(), end.clone()))
                .collect();
            refund_days.sort();
            assert_eq!(refund_days, expected, "{}", db.backend);
        }
        assert_eq!(
            statuses(&db).await,
            vec![(s("300200000001"), s("cancelled"), Some(s("buyer-z")))]
        );
        let stored = db.store.cursor("jd-main", "orders").await.unwrap().unwrap();
        assert!(
            stored > cursor,
            "the cursor moved after the commit: {stored} vs {cursor}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn wrong_secret_or_token_fails_at_once_naming_the_credential() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let seen = Arc::new(Mutex::new(Seen::default()));
        mount(
            &server,
            FakeJd {
                orders: Arc::new(vec![]),
                after_sales: Arc::new(vec![]),
                throttle_at: None,
                seen: seen.clone(),
            },
        )
        .await;
        let text = config(&server, "").replace(SECRET, "wrong_secret_value_123")
            + &format!(
                r#"
[[connectors]]
name = "jd-stale"
kind = "jd"
shop = "sh"
base_url = "{}/routerjson"
app_key = "{APP_KEY}"
app_secret = "{SECRET}"
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
            &["jd-main", "app_secret"],
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
            "a refused token fails the run",
            &["jd-stale", "access_token"],
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

/// An after-sales record as `jingdong.asc.serviceAndRefund.view` lists it,
/// with the approval time the fake files it under.
fn after_sale(
    refund_id: Value,
    order_id: Value,
    status: i64,
    amount: &str,
    approved: &str,
    completed: &str,
) -> (String, Value) {
    (
        approved.to_string(),
        json!({
            "afsRefundId": refund_id, "status": status, "refoundAmount": amount,
            "completeTime": completed, "applyTime": "2026-03-04 20:00:00",
            "sameOrderServiceBill": {"serviceId": 123456, "orderId": order_id, "wareId": 1, "serviceCount": 1},
        }),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn refunds_come_from_the_after_sales_list_on_their_completion_day() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let m = "2026-03-06 09:00:00";
        let orders = vec![
            order(
                json!("300100000001"),
                "FINISHED_L",
                json!("88.80"),
                "2026-03-05 08:00:00",
                "2026-03-05 08:00:05",
                m,
                Some("buyer-a"),
            ),
            order(
                json!("300100000002"),
                "FINISHED_L",
                json!("11.20"),
                "2026-03-05 09:00:00",
                "2026-03-05 09:00:05",
                m,
                Some("buyer-b"),
            ),
        ];
        let after_sales = vec![
            after_sale(
                json!("880001"),
                json!(300100000001u64),
                13,
                "11.11",
                "2026-03-05 09:00:00",
                "2026-03-05 10:00:00",
            ),
            // Refunded after midnight: counts on 6 March.
            after_sale(
                json!(880002),
                json!("300100000002"),
                13,
                "5.00",
                "2026-03-05 23:00:00",
                "2026-03-06 00:00:01",
            ),
            // 14: the refund failed.
            after_sale(
                json!(880003),
                json!("300100000002"),
                14,
                "6.00",
                "2026-03-05 12:00:00",
                "",
            ),
            after_sale(
                json!(880004),
                json!("300100000001"),
                13,
                "abc",
                "2026-03-05 13:00:00",
                "2026-03-05 14:00:00",
            ),
            after_sale(
                json!(880006),
                json!("300100000001"),
                13,
                "0.89",
                "2026-03-05 14:00:00",
                "2026-03-05 23:59:59",
            ),
            // Approved the day before: outside the window.
            after_sale(
                json!(880005),
                json!("300100000001"),
                13,
                "1.00",
                "2026-03-04 23:59:59",
                "2026-03-05 01:00:00",
            ),
        ];
        let seen = Arc::new(Mutex::new(Seen::default()));
        let server = MockServer::start().await;
        mount(
            &server,
            FakeJd {
                orders: Arc::new(orders),
                after_sales: Arc::new(after_sales),
                // The first after-sales page hits the call limit once.
                throttle_at: Some(2),
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
            assert_eq!(seen.throttled, 1);
            // Five approved that day: three pages of two, by approval time.
            let day = (s("2026-03-05 00:00:00"), s("2026-03-05 23:59:59"));
            let expected: Vec<(String, String, u64)> =
                (1..=3).map(|p| (day.0.clone(), day.1.clone(), p)).collect();
            assert_eq!(seen.refunds_served, expected, "{}", db.backend);
        }
        let rejects = db.store.rejects("jd-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}: {rejects:?}", db.backend);
        assert_eq!(rejects[0].locator, "refund 880004");
        assert_eq!(rejects[0].source, REFUNDS);
        assert!(
            rejects[0].reason.contains("refoundAmount"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"abc\""), "{}", rejects[0].raw);
        assert_eq!(
            common::facts::stored_refunds(&db, "sh").await,
            vec![
                (s("880001"), s("300100000001"), s("2026-03-05"), d("11.11")),
                (s("880002"), s("300100000002"), s("2026-03-06"), d("5")),
                (s("880006"), s("300100000001"), s("2026-03-05"), d("0.89")),
            ],
            "{}",
            db.backend
        );
        // 5 March: one of two orders refunded, 12.00 back.
        let (rate, amount) = common::facts::refund_kpis(&db, &settings, "sh", "2026-03-05").await;
        assert_eq!(rate, Some(d("0.5")), "{}", db.backend);
        assert_eq!(amount, Some(d("12")), "{}", db.backend);
        // 6 March: money back but no order: no rate (zero denominator).
        let (rate, amount) = common::facts::refund_kpis(&db, &settings, "sh", "2026-03-06").await;
        assert_eq!(rate, None, "{}", db.backend);
        assert_eq!(amount, Some(d("5")), "{}", db.backend);

        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    logs.assert_free_of(&[SECRET, TOKEN]);
}
