//! Google Ads connector against a loopback mock speaking the REST API:
//! `POST /v24/customers/{id}/googleAds:searchStream` answering an array of
//! result batches, int64 metrics as strings and doubles as JSON numbers,
//! Google's error envelopes, and the OAuth2 refresh-token grant. Results
//! are built on the real searchStream fixture (tests/fixtures/google_ads).

mod common;

use chrono::Duration;
use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector};
use kpid::period::LocalDay;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const STREAM: &str = "/v24/customers/123321321/googleAds:searchStream";
const TOKEN_PATH: &str = "/token";
const FIXTURE: &str = include_str!("fixtures/google_ads/search_stream.json");
const DEVELOPER_TOKEN: &str = "devtok-Qx7_SECRET_4411";
const CLIENT_ID: &str = "8819-kpid.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-client-SECRET-9931";
const REFRESH_TOKEN: &str = "1//0refresh-SECRET-7781";
const FIELD_MASK: &str = "segments.date,campaign.id,metrics.costMicros,metrics.impressions,metrics.clicks,metrics.conversions,metrics.conversionsValue";

fn day(s: &str) -> LocalDay {
    LocalDay::parse_ymd(s).unwrap()
}

fn gaql(from: &str, to: &str) -> String {
    format!(
        "SELECT segments.date, campaign.id, metrics.cost_micros, metrics.impressions, \
         metrics.clicks, metrics.conversions, metrics.conversions_value FROM campaign \
         WHERE segments.date BETWEEN '{from}' AND '{to}'"
    )
}

/// A JSON number from its exact text (serde_json keeps the digits).
fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The fixture's results, by date.
fn fixture_results() -> Vec<Value> {
    let stream: Value = serde_json::from_str(FIXTURE).unwrap();
    stream[0]["results"].as_array().unwrap().clone()
}

/// A campaign result: the fixture's row for `date` (customer, clicks,
/// costMicros) with the campaign and the other metrics added. `None`
/// metrics are left out, as proto3 JSON does with zeros.
fn campaign_result(
    date: &str,
    campaign: &str,
    cost_micros: Option<&str>,
    impressions: &str,
    conversions: Option<&str>,
    value: Option<&str>,
) -> Value {
    let mut r = fixture_results()
        .into_iter()
        .find(|r| r["segments"]["date"] == date)
        .unwrap();
    r["campaign"] = json!({
        "resourceName": format!("customers/123321321/campaigns/{campaign}"),
        "id": campaign
    });
    let m = r["metrics"].as_object_mut().unwrap();
    if let Some(c) = cost_micros {
        m.insert("costMicros".into(), json!(c));
    }
    m.insert("impressions".into(), json!(impressions));
    if let Some(c) = conversions {
        m.insert("conversions".into(), number(c));
    }
    if let Some(v) = value {
        m.insert("conversionsValue".into(), number(v));
    }
    r
}

fn batch(results: Vec<Value>, request_id: &str) -> Value {
    json!({
        "results": results,
        "fieldMask": FIELD_MASK,
        "requestId": request_id,
        "queryResourceConsumption": "322"
    })
}

/// Campaign 111 spends what the fixture says; 222 has its own figures,
/// including a conversion value a double would round, a data-driven
/// fraction, an omitted (zero) conversion count, and on 06-06 a cost that
/// is not an int64.
fn results_for(from: &str) -> Vec<Value> {
    match from {
        "2024-06-01" => vec![
            batch(
                vec![
                    campaign_result(
                        "2024-06-01",
                        "111",
                        None,
                        "5100",
                        Some("2.5"),
                        Some("129.9"),
                    ),
                    campaign_result(
                        "2024-06-01",
                        "222",
                        Some("1230000"),
                        "40",
                        Some("1.0"),
                        Some("123456789012.345678"),
                    ),
                    campaign_result("2024-06-02", "111", None, "5500", None, None),
                    campaign_result(
                        "2024-06-02",
                        "222",
                        Some("990000"),
                        "35",
                        Some("0.3333333333333333"),
                        Some("10.5"),
                    ),
                ],
                "V_YzUHhkv35zqntpPk9byg",
            ),
            batch(
                vec![
                    campaign_result(
                        "2024-06-03",
                        "111",
                        None,
                        "5150",
                        Some("3.0"),
                        Some("310.25"),
                    ),
                    campaign_result("2024-06-03", "222", Some("1000000"), "30", None, None),
                    campaign_result(
                        "2024-06-04",
                        "111",
                        None,
                        "4175",
                        Some("1.0"),
                        Some("99.99"),
                    ),
                    campaign_result("2024-06-04", "222", Some("1500000"), "31", None, None),
                ],
                "V_YzUHhkv35zqntpPk9byg",
            ),
        ],
        _ => vec![batch(
            vec![
                campaign_result("2024-06-05", "111", None, "3800", Some("2.0"), Some("200")),
                campaign_result("2024-06-05", "222", Some("2000000"), "20", None, None),
                campaign_result("2024-06-06", "111", None, "3700", Some("1.0"), Some("50")),
                campaign_result("2024-06-06", "222", Some("12.5"), "20", None, None),
                campaign_result("2024-06-07", "111", None, "3675", None, None),
                campaign_result(
                    "2024-06-07",
                    "222",
                    Some("2500000"),
                    "25",
                    Some("1.0"),
                    Some("19.99"),
                ),
            ],
            "a8Kq2xPn0ZbYTcVw1LmN4d",
        )],
    }
}

fn google_error(code: u16, status: &str, error_code: Value, message: &str) -> Value {
    json!({ "error": {
        "code": code,
        "message": message,
        "status": status,
        "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
            "errors": [{ "errorCode": error_code, "message": message }],
            "requestId": "Vq3mZ1x9"
        }]
    }})
}

/// The token endpoint: checks the refresh-token grant field by field and
/// hands out `ya29.first`, then `ya29.second`.
struct TokenEndpoint {
    issued: AtomicUsize,
    bad_requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let field = |k: &str| common::form_field(&req.body, k);
        let form_type = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if form_type != "application/x-www-form-urlencoded"
            || field("grant_type").as_deref() != Some("refresh_token")
            || field("client_id").as_deref() != Some(CLIENT_ID)
            || field("client_secret").as_deref() != Some(CLIENT_SECRET)
            || field("refresh_token").as_deref() != Some(REFRESH_TOKEN)
        {
            self.bad_requests
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&req.body).into_owned());
            return ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_grant", "error_description": "Bad Request"
            }));
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let token = ["ya29.first", "ya29.second", "ya29.third"][n.min(2)];
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token,
            "expires_in": 3599,
            "scope": "https://www.googleapis.com/auth/adwords",
            "token_type": "Bearer"
        }))
    }
}

/// searchStream for two slices. The first token is revoked for the second
/// slice (401); the first slice is throttled once in Google's own form.
struct StreamEndpoint {
    throttled: AtomicBool,
    bad_requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for StreamEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let h = |k: &str| {
            req.headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let query = body["query"].as_str().unwrap_or("");
        let from = if query == gaql("2024-06-01", "2024-06-04") {
            "2024-06-01"
        } else if query == gaql("2024-06-05", "2024-06-07") {
            "2024-06-05"
        } else {
            ""
        };
        if h("developer-token") != DEVELOPER_TOKEN
            || h("login-customer-id") != "9876543210"
            || h("content-type") != "application/json"
            || from.is_empty()
        {
            self.bad_requests.lock().unwrap().push(format!(
                "{} {} {query}",
                h("developer-token"),
                h("login-customer-id")
            ));
            return ResponseTemplate::new(400).set_body_json(google_error(
                400,
                "INVALID_ARGUMENT",
                json!({ "queryError": "UNEXPECTED_INPUT" }),
                "unexpected request",
            ));
        }
        let auth = h("authorization");
        let refused = match auth.as_str() {
            "Bearer ya29.first" => from == "2024-06-05",
            "Bearer ya29.second" => false,
            _ => true,
        };
        if refused {
            return ResponseTemplate::new(401).set_body_json(google_error(
                401,
                "UNAUTHENTICATED",
                json!({ "authenticationError": "OAUTH_TOKEN_REVOKED" }),
                "Request had invalid authentication credentials.",
            ));
        }
        if from == "2024-06-01" && !self.throttled.swap(true, Ordering::SeqCst) {
            let mut e = google_error(
                429,
                "RESOURCE_EXHAUSTED",
                json!({ "quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED" }),
                "Too many requests. Retry in 1 seconds.",
            );
            e["error"]["details"].as_array_mut().unwrap().push(
                json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s" }),
            );
            return ResponseTemplate::new(429).set_body_json(json!([e]));
        }
        ResponseTemplate::new(200).set_body_json(Value::Array(results_for(from)))
    }
}

fn config(server: &MockServer, refresh_file: &str, tz: &str, extra: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "pl"
timezone = "{tz}"
[[connectors]]
name = "gads"
kind = "google_ads"
shop = "pl"
base_url = "{uri}"
token_url = "{uri}{TOKEN_PATH}"
customer_id = "123321321"
login_customer_id = "987-654-3210"
developer_token = "{DEVELOPER_TOKEN}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
refresh_token_file = "{refresh_file}"
requests_per_second = 0
{extra}
"#,
        uri = server.uri()
    )
}

/// Stored value of one input for one campaign on one day.
async fn fact(db: &common::TestDb, on: &str, input: &str, campaign: &str) -> Option<Decimal> {
    common::facts::daily_value(db, "pl", day(on), input, campaign).await
}

#[tokio::test(flavor = "current_thread")]
async fn refresh_token_backfill_streams_batches_renews_token_retries_throttle_and_sets_bad_rows_aside(
) {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let server = MockServer::start().await;
        let bad_requests = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(TokenEndpoint {
                issued: AtomicUsize::new(0),
                bad_requests: bad_requests.clone(),
            })
            // One token, one more after the 401; the re-run uses the cache.
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(STREAM))
            .respond_with(StreamEndpoint {
                throttled: AtomicBool::new(false),
                bad_requests: bad_requests.clone(),
            })
            .mount(&server)
            .await;
        let refresh_file = db.write("refresh.token", &format!("{REFRESH_TOKEN}\n"));
        let settings = db.settings(&config(
            &server,
            &refresh_file.display().to_string(),
            "Europe/Warsaw",
            "slice_days = 4\nconcurrency = 2",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: Some(day("2024-06-01")),
            to: Some(day("2024-06-07")),
        };
        let started = std::time::Instant::now();
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(
            run.error.is_none(),
            "{}: {:?} {:?}",
            db.backend,
            run.error,
            bad_requests.lock().unwrap()
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(900),
            "the retryDelay of 1s was waited"
        );
        // 14 campaign-days less the bad one, five inputs each.
        assert_eq!(run.stats.records, 65, "{}", db.backend);
        assert_eq!(run.stats.rejects, 1, "{}", db.backend);
        let rejects = db.store.rejects("gads").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "campaign 222 day 2024-06-06");
        assert_eq!(rejects[0].source, format!("{}{STREAM}", server.uri()));
        assert!(
            rejects[0].reason.contains("costMicros"),
            "{}",
            rejects[0].reason
        );
        assert!(
            rejects[0].raw.contains(r#""costMicros":"12.5""#),
            "{}",
            rejects[0].raw
        );
        assert!(
            rejects[0].raw.contains("campaigns/222"),
            "{}",
            rejects[0].raw
        );

        // Campaign 111: the fixture's costs and clicks, exactly.
        for (on, spend, clicks) in [
            ("2024-06-01", "1061.08362", "204"),
            ("2024-06-02", "1109.219997", "220"),
            ("2024-06-03", "1164.811394", "206"),
            ("2024-06-04", "999.073804", "167"),
            ("2024-06-05", "881.180318", "152"),
            ("2024-06-06", "735.822814", "148"),
            ("2024-06-07", "617.424074", "147"),
        ] {
            assert_eq!(
                fact(&db, on, "ad_spend", "111").await,
                Some(d(spend)),
                "{} {on}",
                db.backend
            );
            assert_eq!(
                fact(&db, on, "ad_clicks", "111").await,
                Some(d(clicks)),
                "{} {on}",
                db.backend
            );
        }
        for (on, campaign, input, v) in [
            ("2024-06-01", "111", "ad_impressions", "5100"),
            ("2024-06-01", "111", "ad_orders", "2.5"),
            ("2024-06-01", "111", "ad_gmv", "129.9"),
            ("2024-06-02", "111", "ad_orders", "0"),
            ("2024-06-02", "111", "ad_gmv", "0"),
            ("2024-06-01", "222", "ad_spend", "1.23"),
            ("2024-06-01", "222", "ad_impressions", "40"),
            ("2024-06-01", "222", "ad_clicks", "204"),
            ("2024-06-01", "222", "ad_orders", "1"),
            ("2024-06-01", "222", "ad_gmv", "123456789012.345678"),
            ("2024-06-02", "222", "ad_spend", "0.99"),
            ("2024-06-02", "222", "ad_orders", "0.333333"),
            ("2024-06-02", "222", "ad_gmv", "10.5"),
            ("2024-06-07", "222", "ad_spend", "2.5"),
            ("2024-06-07", "222", "ad_gmv", "19.99"),
        ] {
            assert_eq!(
                fact(&db, on, input, campaign).await,
                Some(d(v)),
                "{} {on} {campaign} {input}",
                db.backend
            );
        }
        // The rejected result wrote nothing for 222 that day; 111 is there.
        for input in [
            "ad_spend",
            "ad_impressions",
            "ad_clicks",
            "ad_orders",
            "ad_gmv",
        ] {
            assert_eq!(fact(&db, "2024-06-06", input, "222").await, None, "{input}");
        }
        assert_eq!(
            fact(&db, "2024-06-06", "ad_gmv", "111").await,
            Some(d("50"))
        );

        // The same window again stores nothing new.
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.records, 65, "{}", db.backend);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert!(
            bad_requests.lock().unwrap().is_empty(),
            "{:?}",
            bad_requests.lock().unwrap()
        );
        server.verify().await;
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the 429 was logged and retried");
    assert!(text.contains("401"), "the token renewal was logged");
    logs.assert_free_of(&["ya29.", DEVELOPER_TOKEN, CLIENT_SECRET, REFRESH_TOKEN]);
}

#[tokio::test]
async fn refused_refresh_token_fails_at_once_naming_it() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked."
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(STREAM))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(0)
            .mount(&server)
            .await;
        let refresh_file = db.write("refresh.token", REFRESH_TOKEN);
        let settings = db.settings(&config(
            &server,
            &refresh_file.display().to_string(),
            "Europe/Warsaw",
            "",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let one = Some(day("2024-06-01"));
        let run = run_connector(&db.store, &connectors[0], Window { from: one, to: one }).await;
        failure(
            &run,
            "a refused refresh token fails the run",
            &["gads", "refresh_token", "invalid_grant"],
            &[REFRESH_TOKEN, CLIENT_SECRET, DEVELOPER_TOKEN],
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// A refused developer token is not an expired access token: no renewal,
/// no retry, and the message names developer_token.
#[tokio::test]
async fn refused_developer_token_fails_at_once_naming_it() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "ya29.only", "expires_in": 3599, "token_type": "Bearer"
            })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(STREAM))
            .and(header("authorization", "Bearer ya29.only"))
            .respond_with(ResponseTemplate::new(401).set_body_json(google_error(
                401,
                "UNAUTHENTICATED",
                json!({ "authenticationError": "DEVELOPER_TOKEN_INVALID" }),
                "The developer token is not valid.",
            )))
            .expect(1)
            .mount(&server)
            .await;
        let refresh_file = db.write("refresh.token", REFRESH_TOKEN);
        let settings = db.settings(&config(
            &server,
            &refresh_file.display().to_string(),
            "Europe/Warsaw",
            "",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let one = Some(day("2024-06-01"));
        let run = run_connector(&db.store, &connectors[0], Window { from: one, to: one }).await;
        failure(
            &run,
            "a refused developer token fails the run",
            &["401", "developer_token", "DEVELOPER_TOKEN_INVALID"],
            &[DEVELOPER_TOKEN],
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// A scheduled run re-fetches `lookback_days` before the day it last
/// reached through today in the shop's zone (Kiritimati is UTC+14), and
/// catches up from an older cursor; a fixed access_token is sent as is.
#[tokio::test]
async fn scheduled_run_refetches_the_lookback_through_today_and_catches_up_from_the_cursor() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let today = kpid::period::today(chrono_tz::Pacific::Kiritimati);
        let ymd = |d: LocalDay| d.date().format("%Y-%m-%d").to_string();
        let between = |from: LocalDay| format!("BETWEEN '{}' AND '{}'", ymd(from), ymd(today));
        let result = |on: LocalDay| {
            json!([{ "results": [{
                "campaign": { "resourceName": "customers/123321321/campaigns/7", "id": "7" },
                "metrics": { "costMicros": "4560000", "impressions": "12", "clicks": "3" },
                "segments": { "date": ymd(on) }
            }], "fieldMask": FIELD_MASK, "requestId": "r1" }])
        };
        Mock::given(method("POST"))
            .and(path(STREAM))
            .and(header("authorization", "Bearer ya29.static-SECRET"))
            .and(header("developer-token", DEVELOPER_TOKEN))
            .and(body_string_contains(
                between(today - Duration::days(3)).as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(result(today)))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(STREAM))
            .and(body_string_contains(
                between(today - Duration::days(13)).as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(result(today - Duration::days(12))),
            )
            .expect(1)
            .mount(&server)
            .await;
        let settings = db.settings(&format!(
            r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "pl"
timezone = "Pacific/Kiritimati"
[[connectors]]
name = "gads"
kind = "google_ads"
shop = "pl"
base_url = "{}"
customer_id = "123321321"
developer_token = "{DEVELOPER_TOKEN}"
access_token = "ya29.static-SECRET"
requests_per_second = 0
"#,
            server.uri()
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        assert_eq!(
            fact(&db, &ymd(today), "ad_spend", "7").await,
            Some(d("4.56"))
        );
        assert_eq!(
            db.store.cursor("gads", "daily").await.unwrap(),
            Some(ymd(today))
        );
        // As if the last run had reached ten days ago.
        db.store
            .set_cursor("gads", "daily", &ymd(today - Duration::days(10)))
            .await
            .unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        let early = ymd(today - Duration::days(12));
        assert_eq!(fact(&db, &early, "ad_clicks", "7").await, Some(d("3")));
        assert_eq!(
            db.store.cursor("gads", "daily").await.unwrap(),
            Some(ymd(today))
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// Option mistakes are reported when the configuration loads, naming the key.
#[test]
fn configuration_errors_name_the_key() {
    let load = |options: &str| {
        common::facts::load_config(&format!(
            r#"
timezone = "Asia/Shanghai"
[storage]
url = "sqlite://{{dir}}/kpid.db"
[[shops]]
id = "pl"
[[connectors]]
name = "gads"
kind = "google_ads"
shop = "pl"
developer_token = "x"
{options}
"#
        ))
    };
    assert!(load("customer_id = \"123-456-7890\"\naccess_token = \"t\"").is_ok());
    let e = load("customer_id = \"123-456-7890\"\nrefresh_token = \"r\"\nclient_id = \"c\"")
        .unwrap_err();
    assert!(e.contains("client_secret"), "{e}");
    let e = load("customer_id = \"123-456-7890\"").unwrap_err();
    assert!(e.contains("refresh_token"), "{e}");
    let e = load("customer_id = \"AW-123\"\naccess_token = \"t\"").unwrap_err();
    assert!(e.contains("customer_id"), "{e}");
    let e = load("customer_id = \"1\"\naccess_token = \"t\"\nrefresh_token = \"r\"").unwrap_err();
    assert!(e.contains("access_token"), "{e}");
    let e = load("customer_id = \"1\"\naccess_token = \"t\"\nslice_days = 0").unwrap_err();
    assert!(e.contains("slice_days"), "{e}");
}
