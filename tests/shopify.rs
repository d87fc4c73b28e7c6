//! The `shopify` kind (the definition connectors/shopify.toml) against a
//! loopback mock speaking Shopify's wire format:
//! `X-Shopify-Access-Token`, `status=any`, Link/`page_info` pagination,
//! 429 with a decimal `Retry-After`, money as strings, offset timestamps.

mod common;

use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::{LocalDay, Period};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "shpat_test_SECRET_4242";

fn order(
    id: u64,
    processed: &str,
    price: &str,
    status: &str,
    customer: Option<u64>,
    refunds: Value,
) -> Value {
    json!({
        "id": id, "created_at": processed, "updated_at": processed, "processed_at": processed,
        "cancelled_at": if status == "voided" { json!(processed) } else { Value::Null },
        "financial_status": status, "total_price": price, "currency": "CNY",
        "customer": customer.map(|c| json!({"id": c, "email": "x@example.cn"})),
        "line_items": [], "refunds": refunds,
    })
}

fn page(orders: Vec<Value>, next: Option<String>) -> ResponseTemplate {
    let mut r = ResponseTemplate::new(200)
        .set_body_json(json!({ "orders": orders }))
        .insert_header("X-Shopify-Shop-Api-Call-Limit", "1/40");
    if let Some(n) = next {
        r = r.insert_header("Link", format!("<{n}>; rel=\"next\"").as_str());
    }
    r
}

async fn mount_backfill(server: &MockServer) {
    let url = format!("{}/admin/api/2024-10/orders.json", server.uri());
    let refund = json!([{ "id": 900001, "created_at": "2026-10-03T10:00:00+08:00",
        "transactions": [{ "kind": "refund", "status": "success", "amount": "5.00" },
                          { "kind": "refund", "status": "failure", "amount": "7.00" }] }]);
    // Page 1: the first request carries the filters.
    Mock::given(method("GET"))
        .and(path("/admin/api/2024-10/orders.json"))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .and(query_param("status", "any"))
        .and(query_param("created_at_min", "2026-10-01T00:00:00+08:00"))
        .and(query_param("created_at_max", "2026-10-01T23:59:59+08:00"))
        .and(query_param_is_missing("page_info"))
        .respond_with(page(
            vec![
                order(
                    5001,
                    "2026-10-01T00:30:00+08:00",
                    "19.99",
                    "paid",
                    Some(1),
                    json!([]),
                ),
                order(
                    5002,
                    "2026-10-01T09:00:00+08:00",
                    "0.01",
                    "paid",
                    None,
                    json!([]),
                ),
            ],
            Some(format!("{url}?limit=250&page_info=p2")),
        ))
        .mount(server)
        .await;
    // Page 2 is throttled once, the way Shopify does it.
    Mock::given(method("GET"))
        .and(query_param("page_info", "p2"))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0.5")
                .set_body_json(json!({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page_info", "p2"))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .respond_with(page(
            vec![
                order(
                    5003,
                    "2026-10-01T23:59:59+08:00",
                    "100.10",
                    "paid",
                    Some(1),
                    json!([]),
                ),
                order(
                    5004,
                    "2026-10-01T12:00:00+08:00",
                    "abc",
                    "paid",
                    Some(3),
                    json!([]),
                ),
            ],
            Some(format!("{url}?limit=250&page_info=p3")),
        ))
        .with_priority(2)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("page_info", "p3"))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .respond_with(page(
            vec![
                order(
                    5005,
                    "2026-10-01T13:00:00+08:00",
                    "300.00",
                    "voided",
                    Some(4),
                    json!([]),
                ),
                order(
                    5006,
                    "2026-10-01T14:00:00+08:00",
                    "50.00",
                    "partially_refunded",
                    Some(2),
                    refund,
                ),
                order(
                    5007,
                    "2026-10-01T15:00:00+08:00",
                    "80.00",
                    "pending",
                    Some(5),
                    json!([]),
                ),
            ],
            None,
        ))
        .mount(server)
        .await;
}

fn config(server: &MockServer) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "sh"
[[connectors]]
name = "shopify-main"
kind = "shopify"
shop = "sh"
base_url = "{}"
access_token = "{TOKEN}"
requests_per_second = 0
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

        // Seven orders served; 5004 has an unparseable total_price.
        let rejects = db.store.rejects("shopify-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "order 5004");
        assert!(
            rejects[0].reason.contains("total_price"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"abc\""));

        let oct1 = InputValues::load(&db.store, "sh", Period::Day(day))
            .await
            .unwrap();
        // Paid: 5001, 5002 (guest), 5003, 5006; voided and pending do not count.
        assert_eq!(oct1.get("orders"), Some(d("4")), "{}", db.backend);
        assert_eq!(oct1.get("gmv"), Some(d("170.10")), "{}", db.backend);
        // Customer 1 twice, a guest, customer 2.
        assert_eq!(oct1.get("buyers"), Some(d("3")), "{}", db.backend);
        let oct3 = InputValues::load(&db.store, "sh", Period::parse_day("2026-10-03").unwrap())
            .await
            .unwrap();
        assert_eq!(
            oct3.get("refund_amount"),
            Some(d("5")),
            "only successful refund transactions count"
        );
        assert_eq!(oct3.get("refund_orders"), Some(d("1")));

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none());
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the 429 was logged and retried");
    logs.assert_free_of(&[TOKEN]);
}

#[tokio::test]
async fn wrong_token_fails_at_once_naming_what_to_fix() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(401).set_body_json(
                json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
            ))
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
            &["shopify-main", "access_token", "401"],
            &[TOKEN],
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scheduled_run_picks_up_a_late_refund_within_the_lookback() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
        let paid = (today - chrono::Duration::days(3))
            .format("%Y-%m-%dT10:00:00+08:00")
            .to_string();
        let refunded = (today - chrono::Duration::days(1))
            .format("%Y-%m-%dT11:00:00+08:00")
            .to_string();
        let refund = json!([{ "id": 77, "created_at": refunded,
            "transactions": [{ "kind": "refund", "status": "success", "amount": "12.34" }] }]);
        let mut late = order(8001, &paid, "99.00", "partially_refunded", Some(9), refund);
        late["updated_at"] = json!(refunded);
        Mock::given(method("GET"))
            .and(query_param("status", "any"))
            .and(wiremock::matchers::query_param_contains(
                "updated_at_min",
                "T00:00:00",
            ))
            .and(header("X-Shopify-Access-Token", TOKEN))
            .respond_with(page(vec![late], None))
            .mount(&server)
            .await;
        let settings = db.settings(&config(&server));
        let connectors = build_connectors(&settings, &[]).unwrap();
        // The last run ended yesterday; the order was paid three days ago and
        // refunded after it: the 2-day lookback re-fetches it.
        let cursor = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
        db.store
            .set_cursor("shopify-main", "orders", &cursor)
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{:?}", run.error);
        let refund_day = Period::parse_day(&refunded[..10]).unwrap();
        let v = InputValues::load(&db.store, "sh", refund_day)
            .await
            .unwrap();
        assert_eq!(v.get("refund_amount"), Some(d("12.34")), "{}", db.backend);
        let new_cursor = db
            .store
            .cursor("shopify-main", "orders")
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
