//! A loopback GA4 Data API for the `ga4` tests (tests/ga4.rs, tests/declarative.rs):
//! `POST …/properties/{id}:runReport` with a JSON body, `limit`/`offset`
//! pages bounded by `rowCount`, `YYYYMMDD` dates, metric values as strings,
//! Google's JSON errors, and the service-account JWT-bearer token exchange.
//! The token endpoint verifies the JWT's RS256 signature with the test key's
//! public half (tests/fixtures/ga4_throwaway_service_account.json, a
//! throwaway key).

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const PROPERTY: &str = "271828182";
pub const REPORT: &str = "/v1beta/properties/271828182:runReport";
pub const TOKEN_PATH: &str = "/token";
pub const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";
pub const KEY_FILE: &str = include_str!("../fixtures/ga4_throwaway_service_account.json");
/// Real runReport shapes (copied from the shared fixtures; see fixtures/ga4/README.md).
pub const NO_ROWS: &str = include_str!("../fixtures/ga4/run_report_no_rows.json");
pub const WEEK: &str = include_str!("../fixtures/ga4/run_report_4.json");
pub const METRICS: [&str; 6] = [
    "screenPageViews",
    "activeUsers",
    "newUsers",
    "sessions",
    "engagedSessions",
    "userEngagementDuration",
];

pub fn google_error(code: u16, status: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": { "code": code, "message": message, "status": status }
    }))
}

/// A runReport row with all six metrics, as strings.
pub fn row(date: &str, m: [&str; 6]) -> Value {
    json!({
        "dimensionValues": [{ "value": date }],
        "metricValues": m.iter().map(|v| json!({ "value": v })).collect::<Vec<_>>(),
    })
}

pub fn report(rows: Vec<Value>, row_count: u64) -> Value {
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
pub struct TokenEndpoint {
    pub public_pem: String,
    pub client_email: String,
    pub key_id: String,
    pub aud: String,
    pub issued: AtomicUsize,
    pub assertions: Arc<Mutex<Vec<String>>>,
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
        let field = |k: &str| super::form_field(&req.body, k);
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
pub struct ReportEndpoint {
    pub throttled: AtomicBool,
    pub bad_requests: Arc<Mutex<Vec<String>>>,
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

/// Mounts the token endpoint (two tokens expected: one, and one more after
/// the 401) and the report of 2026-10-01..05 on `server`; returns the
/// service-account key pointing at this token endpoint, and where requests
/// the mock did not expect are recorded.
pub async fn mount_service_account_report(
    server: &MockServer,
    assertions: &Arc<Mutex<Vec<String>>>,
) -> (Value, Arc<Mutex<Vec<String>>>) {
    let key: Value = serde_json::from_str(KEY_FILE).unwrap();
    let token_uri = format!("{}{TOKEN_PATH}", server.uri());
    let mut file = key.clone();
    file["token_uri"] = json!(token_uri);
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
        // One token, then one more after the 401; a re-run uses the cache.
        .expect(2)
        .mount(server)
        .await;
    let bad_requests = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path(REPORT))
        .and(header("content-type", "application/json"))
        .respond_with(ReportEndpoint {
            throttled: AtomicBool::new(false),
            bad_requests: bad_requests.clone(),
        })
        .mount(server)
        .await;
    (file, bad_requests)
}

/// The secrets a GA4 test must never find in logs: the test key's PEM body.
pub fn private_key_body() -> String {
    let key: Value = serde_json::from_str(KEY_FILE).unwrap();
    key["private_key"]
        .as_str()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string()
}
