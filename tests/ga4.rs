//! GA4 connector against a loopback mock speaking the Analytics Data API:
//! `POST …/properties/{id}:runReport` with a JSON body, `limit`/`offset`
//! pages bounded by `rowCount`, `YYYYMMDD` dates, metric values as strings,
//! Google's JSON errors, and the service-account JWT-bearer token exchange.
//! The mock verifies the JWT's RS256 signature with the test key's public
//! half (tests/fixtures/ga4_throwaway_service_account.json, a throwaway key).

mod common;

use chrono::NaiveDate;
use common::facts::{d, failure};
use common::logs::Logs;
use kpid::connectors::Window;
use kpid::daemon::{build_connectors, run_connector};
use kpid::kpi::InputValues;
use kpid::period::Period;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PROPERTY: &str = "271828182";
const REPORT: &str = "/v1beta/properties/271828182:runReport";
const TOKEN_PATH: &str = "/token";
const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";
const KEY_FILE: &str = include_str!("fixtures/ga4_throwaway_service_account.json");
/// Real runReport shapes (copied from the shared fixtures; see fixtures/ga4/README.md).
const NO_ROWS: &str = include_str!("fixtures/ga4/run_report_no_rows.json");
const WEEK: &str = include_str!("fixtures/ga4/run_report_4.json");
const METRICS: [&str; 6] = [
    "screenPageViews",
    "activeUsers",
    "newUsers",
    "sessions",
    "engagedSessions",
    "userEngagementDuration",
];

fn google_error(code: u16, status: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": { "code": code, "message": message, "status": status }
    }))
}

/// A runReport row with all six metrics, as strings.
fn row(date: &str, m: [&str; 6]) -> Value {
    json!({
        "dimensionValues": [{ "value": date }],
        "metricValues": m.iter().map(|v| json!({ "value": v })).collect::<Vec<_>>(),
    })
}

fn report(rows: Vec<Value>, row_count: u64) -> Value {
    json!({
        "dimensionHeaders": [{ "name": "date" }],
        "metricHeaders": [
            { "name": "screenPageViews", "type": "TYPE_INTEGER" },
            { "name": "activeUsers", "type": "TYPE_INTEGER" },
            { "name": "newUsers", "type": "TYPE_INTEGER" },
            { "name": "sessions", "type": "TYPE_INTEGER" },
            { "name": "engagedSessions", "type": "TYPE_INTEGER" },
            { "name": "userEngagementDuration", "type": "TYPE_SECONDS" }
        ],
        "rows": rows,
        "rowCount": row_count,
        "metadata": { "currencyCode": "CNY", "timeZone": "Asia/Shanghai" },
        "kind": "analyticsData#runReport"
    })
}

/// The token endpoint: verifies the JWT-bearer grant with the public key
/// and hands out `ya29.first`, then `ya29.second`, …
struct TokenEndpoint {
    public_pem: String,
    client_email: String,
    key_id: String,
    aud: String,
    issued: AtomicUsize,
    assertions: Arc<Mutex<Vec<String>>>,
}

impl Respond for TokenEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let invalid = |why: &str| {
            ResponseTemplate::new(400)
                .set_body_json(json!({ "error": "invalid_grant", "error_description": why }))
        };
        if req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            != Some("application/x-www-form-urlencoded")
        {
            return invalid("not a form");
        }
        let form = reqwest::Url::parse(&format!(
            "http://form/?{}",
            String::from_utf8_lossy(&req.body)
        ))
        .unwrap();
        let field = |k: &str| {
            form.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        if field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return invalid("unsupported grant_type");
        }
        let Some(assertion) = field("assertion") else {
            return invalid("no assertion");
        };
        self.assertions.lock().unwrap().push(assertion.clone());
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(self.public_pem.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[&self.aud]);
        validation.set_issuer(&[&self.client_email]);
        validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
        let data = match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
            Ok(data) => data,
            Err(_) => return invalid("Invalid JWT Signature."),
        };
        let c = &data.claims;
        let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
        let now = chrono::Utc::now().timestamp();
        if c["scope"] != SCOPE
            || exp - iat != 3600
            || (iat - now).abs() > 60
            || data.header.kid.as_deref() != Some(self.key_id.as_str())
        {
            return invalid("bad claims");
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let token = ["ya29.first", "ya29.second", "ya29.third"][n.min(2)];
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token, "expires_in": 3599, "token_type": "Bearer"
        }))
    }
}

/// runReport for 2026-10-01..05 in pages of 2 rows. The first token is
/// revoked before page 2 (401), the renewed one is throttled once there.
struct ReportEndpoint {
    throttled: AtomicBool,
    bad_requests: Arc<Mutex<Vec<String>>>,
}

impl Respond for ReportEndpoint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if auth != "Bearer ya29.first" && auth != "Bearer ya29.second" {
            return google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials.",
            );
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let metrics: Vec<&str> = body["metrics"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["name"].as_str()).collect())
            .unwrap_or_default();
        if body["dateRanges"] != json!([{ "startDate": "2026-10-01", "endDate": "2026-10-05" }])
            || body["dimensions"] != json!([{ "name": "date" }])
            || metrics != METRICS
            || body["limit"] != json!(2)
        {
            self.bad_requests.lock().unwrap().push(body.to_string());
            return google_error(400, "INVALID_ARGUMENT", "unexpected request");
        }
        match body["offset"].as_u64() {
            Some(0) => ResponseTemplate::new(200).set_body_json(report(
                vec![
                    row("20261001", ["1200", "300", "120", "400", "250", "36000"]),
                    row("20261002", ["1000", "250", "100", "330", "200", "29999"]),
                ],
                9,
            )),
            Some(2) if auth == "Bearer ya29.first" => google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            ),
            Some(2) if !self.throttled.swap(true, Ordering::SeqCst) => google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Exhausted property tokens per hour.",
            )
            .insert_header("Retry-After", "0.3"),
            Some(2) => ResponseTemplate::new(200).set_body_json(report(
                vec![
                    // A row that cannot be read is set aside; 10-04 had no data.
                    row("20261003", ["n/a", "280", "90", "350", "210", "30000"]),
                    row("20261005", ["800", "200", "80", "260", "160", "20000"]),
                ],
                9,
            )),
            // `rowCount` said 9, but the rows ran out: a real empty page.
            Some(4) => ResponseTemplate::new(200).set_body_raw(NO_ROWS, "application/json"),
            _ => {
                self.bad_requests.lock().unwrap().push(body.to_string());
                google_error(400, "INVALID_ARGUMENT", "unexpected offset")
            }
        }
    }
}

fn service_account_config(server: &MockServer, key_path: &str) -> String {
    format!(
        r#"
timezone = "Asia/Shanghai"
[storage]
url = "{{db}}"
[[shops]]
id = "cn"
[[connectors]]
name = "ga4-main"
kind = "ga4"
shop = "cn"
base_url = "{}"
property_id = "{PROPERTY}"
credentials_file = "{key_path}"
requests_per_second = 0
page_size = 2
"#,
        server.uri()
    )
}

#[tokio::test(flavor = "current_thread")]
async fn service_account_backfill_pages_renews_token_and_keeps_bad_rows_aside() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let key: Value = serde_json::from_str(KEY_FILE).unwrap();
    let assertions = Arc::new(Mutex::new(Vec::new()));
    for db in common::backends().await {
        let server = MockServer::start().await;
        let token_uri = format!("{}{TOKEN_PATH}", server.uri());
        let mut file = key.clone();
        file["token_uri"] = json!(token_uri);
        let key_path = db.write("sa.json", &file.to_string());
        Mock::given(method("POST"))
            .and(path(TOKEN_PATH))
            .respond_with(TokenEndpoint {
                public_pem: key["_test_public_key"].as_str().unwrap().to_string(),
                client_email: key["client_email"].as_str().unwrap().to_string(),
                key_id: key["private_key_id"].as_str().unwrap().to_string(),
                aud: token_uri.clone(),
                issued: AtomicUsize::new(0),
                assertions: assertions.clone(),
            })
            // One token, then one more after the 401; the re-run uses the cache.
            .expect(2)
            .mount(&server)
            .await;
        let bad_requests = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("POST"))
            .and(path(REPORT))
            .and(header("content-type", "application/json"))
            .respond_with(ReportEndpoint {
                throttled: AtomicBool::new(false),
                bad_requests: bad_requests.clone(),
            })
            .mount(&server)
            .await;
        let settings = db.settings(&service_account_config(
            &server,
            &key_path.display().to_string(),
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let window = Window {
            from: NaiveDate::from_ymd_opt(2026, 10, 1),
            to: NaiveDate::from_ymd_opt(2026, 10, 5),
        };
        let run = run_connector(&db.store, &connectors[0], window).await;
        assert!(
            run.error.is_none(),
            "{}: {:?} {:?}",
            db.backend,
            run.error,
            bad_requests.lock().unwrap()
        );
        // Three days of six inputs; the 10-03 row is set aside.
        assert_eq!(run.stats.records, 18, "{}", db.backend);
        assert_eq!(run.stats.rejects, 1, "{}", db.backend);
        let rejects = db.store.rejects("ga4-main").await.unwrap();
        assert_eq!(rejects.len(), 1, "{}", db.backend);
        assert_eq!(rejects[0].locator, "day 2026-10-03");
        assert!(
            rejects[0].reason.contains("screenPageViews"),
            "{}",
            rejects[0].reason
        );
        assert!(rejects[0].raw.contains("\"n/a\""), "{}", rejects[0].raw);
        assert!(rejects[0].raw.contains("20261003"), "{}", rejects[0].raw);

        let day = |s: &str| Period::parse_day(s).unwrap();
        let oct1 = InputValues::load(&db.store, "cn", day("2026-10-01"))
            .await
            .unwrap();
        for (input, v) in [
            ("pv", "1200"),
            ("uv", "300"),
            ("new_uv", "120"),
            ("visits", "400"),
            ("bounces", "150"),
            ("stay_seconds_total", "36000"),
        ] {
            assert_eq!(oct1.get(input), Some(d(v)), "{} {input}", db.backend);
        }
        // No row for 10-04 and a rejected one for 10-03: nothing invented.
        for empty in ["2026-10-03", "2026-10-04"] {
            let v = InputValues::load(&db.store, "cn", day(empty))
                .await
                .unwrap();
            assert_eq!(v.get("pv"), None, "{} {empty}", db.backend);
            assert_eq!(v.get("visits"), None, "{} {empty}", db.backend);
        }
        let oct = InputValues::load(&db.store, "cn", Period::parse_month("2026-10").unwrap())
            .await
            .unwrap();
        for (input, v) in [
            ("pv", "3000"),
            ("uv", "750"),
            ("new_uv", "300"),
            ("visits", "990"),
            ("bounces", "380"),
            ("stay_seconds_total", "85999"),
        ] {
            assert_eq!(oct.get(input), Some(d(v)), "{} {input}", db.backend);
        }

        // The same window again stores nothing new (and reuses the token).
        let again = run_connector(&db.store, &connectors[0], window).await;
        assert!(again.error.is_none(), "{:?}", again.error);
        assert_eq!(again.stats.changed, 0, "{}", db.backend);
        assert!(bad_requests.lock().unwrap().is_empty());
        server.verify().await;
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(text.contains("retrying"), "the 429 was logged and retried");
    assert!(text.contains("401"), "the token renewal was logged");
    logs.assert_free_of(&["ya29."]);
    let pem = key["private_key"].as_str().unwrap();
    let key_body = pem.lines().nth(1).unwrap();
    logs.assert_free_of(&[key_body]);
    let assertions = assertions.lock().unwrap();
    assert!(!assertions.is_empty());
    let signed: Vec<&str> = assertions.iter().map(String::as_str).collect();
    logs.assert_free_of(&signed);
}

fn token_config(server: &MockServer, token_file: &str, zone: &str) -> String {
    format!(
        r#"
timezone = "{zone}"
[storage]
url = "{{db}}"
[[shops]]
id = "pl"
[[connectors]]
name = "ga4-pl"
kind = "ga4"
shop = "pl"
base_url = "{}"
property_id = "{PROPERTY}"
access_token_file = "{token_file}"
requests_per_second = 0
"#,
        server.uri()
    )
}

const TOKEN: &str = "ya29.a0STATIC_test_token_31415";

/// A report in the fixture's real shape (one metric, gaps between days,
/// `rowCount` smaller than the rows served) stores what it has, once.
#[tokio::test]
async fn bearer_token_report_stores_only_the_days_and_metrics_it_has() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(REPORT))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_partial_json(json!({
                "dateRanges": [{ "startDate": "2024-06-07", "endDate": "2024-07-07" }],
                "limit": 10000, "offset": 0
            })))
            .respond_with(ResponseTemplate::new(200).set_body_raw(WEEK, "application/json"))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", &format!("{TOKEN}\n"));
        let settings = db.settings(&token_config(
            &server,
            &token_file.display().to_string(),
            "Europe/Warsaw",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(
            &db.store,
            &connectors[0],
            Window {
                from: NaiveDate::from_ymd_opt(2024, 6, 7),
                to: NaiveDate::from_ymd_opt(2024, 7, 7),
            },
        )
        .await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        assert_eq!(run.stats.records, 15, "{}", db.backend);
        let june = InputValues::load(&db.store, "pl", Period::parse_month("2024-06").unwrap())
            .await
            .unwrap();
        assert_eq!(june.get("uv"), Some(d("87039")), "{}", db.backend);
        assert_eq!(june.get("pv"), None, "no screenPageViews in the report");
        assert_eq!(june.get("bounces"), None, "no sessions in the report");
        let day = |s: &str| {
            let store = &db.store;
            let p = Period::parse_day(s).unwrap();
            async move { InputValues::load(store, "pl", p).await.unwrap().get("uv") }
        };
        assert_eq!(day("2024-06-07").await, Some(d("421")));
        assert_eq!(day("2024-06-10").await, None, "a gap stays empty");
        assert_eq!(day("2024-07-07").await, Some(d("234")));
        server.verify().await;
        db.drop_db().await;
    }
}

#[tokio::test]
async fn permission_denied_fails_at_once_naming_property_and_credentials() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(REPORT))
            .respond_with(google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            ))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", TOKEN);
        let settings = db.settings(&token_config(
            &server,
            &token_file.display().to_string(),
            "Europe/Warsaw",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 1);
        let run = run_connector(&db.store, &connectors[0], Window { from: day, to: day }).await;
        failure(
            &run,
            "a 403 fails the run",
            &[
                "ga4-pl",
                "403",
                "PERMISSION_DENIED",
                "property_id",
                "credentials",
            ],
            &[TOKEN],
        );
        server.verify().await;
        db.drop_db().await;
    }
}

/// A scheduled run re-fetches the last three days through yesterday in the
/// shop's zone (Kiritimati is UTC+14, so its yesterday is often UTC's today).
#[tokio::test]
async fn scheduled_run_refetches_the_lookback_through_yesterday_in_the_shop_zone() {
    for db in common::backends().await {
        let server = MockServer::start().await;
        let today = chrono::Utc::now()
            .with_timezone(&chrono_tz::Pacific::Kiritimati)
            .date_naive();
        let yesterday = today - chrono::Duration::days(1);
        let start = today - chrono::Duration::days(3);
        let ymd = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        Mock::given(method("POST"))
            .and(path(REPORT))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(body_partial_json(json!({
                "dateRanges": [{ "startDate": ymd(start), "endDate": ymd(yesterday) }]
            })))
            .respond_with(ResponseTemplate::new(200).set_body_json(report(
                vec![row(
                    &yesterday.format("%Y%m%d").to_string(),
                    ["50", "20", "5", "25", "20", "700"],
                )],
                1,
            )))
            .expect(1)
            .mount(&server)
            .await;
        let token_file = db.write("ga4.token", TOKEN);
        let settings = db.settings(&token_config(
            &server,
            &token_file.display().to_string(),
            "Pacific/Kiritimati",
        ));
        let connectors = build_connectors(&settings, &[]).unwrap();
        let run = run_connector(&db.store, &connectors[0], Window::default()).await;
        assert!(run.error.is_none(), "{}: {:?}", db.backend, run.error);
        let v = InputValues::load(&db.store, "pl", Period::Day(yesterday))
            .await
            .unwrap();
        assert_eq!(v.get("pv"), Some(d("50")), "{}", db.backend);
        assert_eq!(v.get("bounces"), Some(d("5")), "{}", db.backend);
        server.verify().await;
        db.drop_db().await;
    }
}
