//! The `woocommerce` kind (the definition connectors/woocommerce.toml)
//! against a loopback mock speaking WooCommerce REST
//! v3: HTTP Basic auth with a consumer key and secret, `page`/`per_page`
//! pagination bounded by `X-WP-TotalPages`, `after`/`before` and
//! `modified_after` filters in UTC with `dates_are_gmt=true`, money as
//! decimal strings, `*_gmt` timestamps without an offset, WordPress-style
//! JSON errors, and a 429 with `Retry-After` the way some hosts throttle.

mod common;

use chrono::{DateTime, Utc};
use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{day_start, local_day, LocalDay, Period};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "ck_test_KEY_1111";
const SECRET: &str = "cs_test_SECRET_2222";
/// `printf '%s' 'ck_test_KEY_1111:cs_test_SECRET_2222' | base64`
const BASIC: &str = "Basic Y2tfdGVzdF9LRVlfMTExMTpjc190ZXN0X1NFQ1JFVF8yMjIy";
const ZONE: chrono_tz::Tz = chrono_tz::America::Sao_Paulo;
const ORDERS: &str = "/wp-json/wc/v3/orders";

fn order(
    id: u64,
    status: &str,
    created_gmt: &str,
    paid_gmt: Option<&str>,
    total: &str,
    customer: u64,
    refunds: Value,
) -> Value {
    json!({
        "id": id, "parent_id": 0, "number": id.to_string(), "status": status, "currency": "BRL",
        "date_created": created_gmt, "date_created_gmt": created_gmt,
        "date_modified": created_gmt, "date_modified_gmt": created_gmt,
        "date_paid": paid_gmt, "date_paid_gmt": paid_gmt,
        "date_completed": null, "date_completed_gmt": null,
        "discount_total": "0.00", "shipping_total": "0.00", "total": total, "total_tax": "0.00",
        "customer_id": customer, "billing": {"email": "x@example.com.br"},
        "line_items": [], "refunds": refunds,
    })
}

fn page(orders: Vec<Value>, total_pages: u32, total: u32) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(Value::Array(orders))
        .insert_header("X-WP-Total", total.to_string().as_str())
        .insert_header("X-WP-TotalPages", total_pages.to_string().as_str())
}

/// The requests of the 2026-10-01 backfill (São Paulo, UTC−3): the local day
/// is 03:00Z to 03:00Z, `after` exclusive so it starts a second early.
fn backfill_page(n: u32) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(ORDERS))
        .and(header("authorization", BASIC))
        .and(query_param("after", "2026-10-01T02:59:59"))
        .and(query_param("before", "2026-10-02T03:00:00"))
        .and(query_param("dates_are_gmt", "true"))
        .and(query_param("per_page", "2"))
        .and(query_param("page", n.to_string().as_str()))
}

async fn mount_backfill(server: &MockServer) {
    backfill_page(1)
        .respond_with(page(
            vec![
                // Paid at local midnight, the first second of the day.
                order(
                    101,
                    "processing",
                    "2026-10-01T02:58:00",
                    Some("2026-10-01T03:00:00"),
                    "19.99",
                    7,
                    json!([]),
                ),
                // 02:30Z on the 2nd is 23:30 on the 1st in São Paulo; a guest.
                order(
                    102,
                    "completed",
                    "2026-10-02T02:29:00",
                    Some("2026-10-02T02:30:00"),
                    "0.01",
                    0,
                    json!([]),
                ),
            ],
            3,
            6,
        ))
        .expect(2)
        .mount(server)
        .await;
    // Page 2 is throttled once by the host.
    backfill_page(2)
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0.3")
                .set_body_json(json!({"code": "rest_too_many_requests",
                    "message": "Too many requests, slow down.", "data": {"status": 429}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    let mut refunded = order(
        103,
        "refunded",
        "2026-10-01T12:00:00",
        None,
        "100.10",
        7,
        json!([{ "id": 9001, "reason": "", "total": "-100.10" }]),
    );
    refunded["date_modified_gmt"] = json!("2026-10-03T15:00:00");
    backfill_page(2)
        .respond_with(page(
            vec![
                refunded,
                // A decimal comma: set aside, the rest of the page lands.
                order(
                    104,
                    "processing",
                    "2026-10-01T13:00:00",
                    Some("2026-10-01T13:00:00"),
                    "12,50",
                    11,
                    json!([]),
                ),
            ],
            3,
            6,
        ))
        .with_priority(2)
        .mount(server)
        .await;
    let mut partly = order(
        107,
        "processing",
        "2026-10-01T20:00:00",
        Some("2026-10-01T20:00:00"),
        "50.00",
        8,
        json!([{ "id": 9002, "reason": "damaged", "total": "-5.00" }]),
    );
    partly["date_modified_gmt"] = json!("2026-10-03T20:00:00");
    backfill_page(3)
        .respond_with(page(
            vec![
                order(
                    105,
                    "cancelled",
                    "2026-10-01T14:00:00",
                    None,
                    "300.00",
                    8,
                    json!([]),
                ),
                order(
                    106,
                    "on-hold",
                    "2026-10-01T15:00:00",
                    None,
                    "80.00",
                    9,
                    json!([]),
                ),
                partly,
            ],
            3,
            6,
        ))
        .mount(server)
        .await;
}

// Not `KPID_…`: those variables override configuration keys.
const SECRET_ENV: &str = "WOO_TEST_CONSUMER_SECRET";

fn config(server: &MockServer) -> String {
    std::env::set_var(SECRET_ENV, SECRET);
    format!(
        r#"
timezone = "America/Sao_Paulo"
[storage]
url = "{{db}}"
[[shops]]
id = "br"
[[connectors]]
name = "woo-main"
kind = "woocommerce"
shop = "br"
base_url = "{}"
consumer_key = "{KEY}"
consumer_secret_env = "{SECRET_ENV}"
requests_per_second = 0
page_size = 2
"#,
        server.uri()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn backfill_pages_through_throttling_and_keeps_bad_records_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let server = MockServer::start().await;
        mount_backfill(&server).await;
        let settings = db.settings(&config(&server));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
        let window = Window {
            from: Some(day),
            to: Some(day),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        // 7 orders and 2 refunds read, one order set aside.
        assert_eq!(run.stats.records, 8, "{}", db.backend);
        assert_eq!(run.stats.rejects, 1, "{}", db.backend);

        let rejects = db.store.rejects("woo-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "order 104");
        assert!(rejects[0].reason.contains("total"), "{}", rejects[0].reason);
        assert!(rejects[0].raw.contains("\"12,50\""), "{}", rejects[0].raw);
        assert!(rejects[0].raw.contains("\"id\":104"), "{}", rejects[0].raw);

        let oct1 = InputValues::load(&db.store, "br", Period::Day(day))
            .await
            .unwrap();
        // Paid: 101, 102 (guest, 23:30 local), 103 (refunded later), 107;
        // cancelled 105 and on-hold 106 do not count.
        assert_eq!(oct1.get("orders"), Some(d("4")), "{}", db.backend);
        assert_eq!(oct1.get("gmv"), Some(d("170.10")), "{}", db.backend);
        // Customer 7 twice, the guest, customer 8.
        assert_eq!(oct1.get("buyers"), Some(d("3")), "{}", db.backend);
        let oct2 = InputValues::load(&db.store, "br", Period::parse_day("2026-10-02").unwrap())
            .await
            .unwrap();
        assert_eq!(oct2.get("orders"), Some(d("0")), "{}", db.backend);
        // Refunds are dated by their order's date_modified_gmt, as absolute amounts:
        // 15:00Z and 20:00Z on the 3rd are 12:00 and 17:00 in São Paulo.
        let oct3 = InputValues::load(&db.store, "br", Period::parse_day("2026-10-03").unwrap())
            .await
            .unwrap();
        assert_eq!(
            oct3.get("refund_amount"),
            Some(d("105.10")),
            "{}",
            db.backend
        );
        assert_eq!(oct3.get("refund_orders"), Some(d("2")), "{}", db.backend);
        assert_eq!(oct3.get("orders"), Some(d("0")), "{}", db.backend);

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the 429 was logged and retried");
    assert!(text.contains("429"), "the throttle is named in the log");
    logs.assert_free_of(&[SECRET, KEY, &BASIC["Basic ".len()..]]);
}

#[tokio::test]
async fn wrong_keys_fail_at_once_naming_what_to_fix() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "code": "woocommerce_rest_authentication_error",
                "message": "Invalid signature - provided signature does not match.",
                "data": {"status": 401}
            })))
            .expect(1)
            .mount(&server)
            .await;
        let settings = db.settings(&config(&server));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
        let run = run_connector(
            &db.store,
            &connectors[0],
            Window {
                from: Some(day),
                to: Some(day),
            },
        )
        .await;
        failure(
            &run,
            "a 401 fails the run",
            &[
                "woo-main",
                "consumer_key",
                "consumer_secret",
                "401",
                "woocommerce_rest_authentication_error",
            ],
            &[SECRET, KEY],
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scheduled_run_fetches_modified_orders_from_cursor_minus_lookback() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let now = Utc::now();
        let gmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let paid = now - chrono::Duration::days(3);
        let modified = now - chrono::Duration::hours(30);
        let mut late = order(
            8001,
            "refunded",
            &gmt(paid),
            Some(&gmt(paid)),
            "99.00",
            9,
            json!([{ "id": 77, "reason": "", "total": "-12.34" }]),
        );
        late["date_modified_gmt"] = json!(gmt(modified));
        // Every day slice sees the order; it is stored once.
        Mock::given(method("GET"))
            .and(path(ORDERS))
            .and(header("authorization", BASIC))
            .and(query_param("dates_are_gmt", "true"))
            .respond_with(page(vec![late], 1, 1))
            .mount(&server)
            .await;
        let settings = db.settings(&config(&server));
        let connectors = build_connectors(&settings, &[]).unwrap();
        // The last run ended a day ago: with the 2-day lookback the run
        // re-reads from three days ago, which covers the late refund.
        let cursor = (now - chrono::Duration::days(1)).to_rfc3339();
        db.store
            .set_cursor("woo-main", "orders", &cursor)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{:?}", run.error);

        let requests = server.received_requests().await.unwrap();
        let params = |r: &wiremock::Request, key: &str| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        };
        assert!(requests.iter().all(|r| params(r, "after").is_none()));
        let first = requests
            .iter()
            .filter_map(|r| params(r, "modified_after"))
            .min()
            .expect("modified_after was sent");
        let since_day = local_day(now - chrono::Duration::days(3), ZONE);
        let expected = day_start(since_day, ZONE) - chrono::Duration::seconds(1);
        assert_eq!(first, gmt(expected), "{}", db.backend);
        let days = (local_day(now, ZONE) - since_day).num_days() as usize + 1;
        assert_eq!(requests.len(), days, "one request per local day");

        let refund_day = Period::Day(local_day(modified, ZONE));
        let v = InputValues::load(&db.store, "br", refund_day)
            .await
            .unwrap();
        assert_eq!(v.get("refund_amount"), Some(d("12.34")), "{}", db.backend);
        assert_eq!(v.get("refund_orders"), Some(d("1")), "{}", db.backend);
        let new_cursor = db
            .store
            .cursor("woo-main", "orders")
            .await
            .unwrap()
            .unwrap();
        assert!(
            new_cursor > cursor,
            "cursor advanced after commit: {new_cursor} vs {cursor}"
        );
        db.drop_db().await;
    }
}
