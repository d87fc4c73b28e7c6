//! Classifiers for the platforms' own error envelopes, for
//! [`HttpClient::get_checked`](super::HttpClient::get_checked): Meta's Graph
//! API throttles with HTTP 400 and an error code; Google names
//! `RESOURCE_EXHAUSTED`. The Chinese platforms' envelopes inside HTTP 200
//! bodies are named blocks a definition picks
//! ([`crate::connectors::declarative::blocks::envelope`]); the constructors
//! here are what every classifier returns.
//!
//! Each classifier returns `None` for a body that is not an error (or not
//! recognisable: the parser then decides), a retryable
//! [`HttpError::Throttled`] (with the wait the platform names, if any) or
//! [`HttpError::Server`] for a passing fault, and a non-retryable
//! [`HttpError::Rejected`] whose hint names the credential or option to fix.
//! URL and status are left empty for the client to fill in.
//!
//! Sources: Meta Graph "Error codes" and "Rate limiting" (4, 17, 32, 613,
//! 80000–80014 throttling; 1, 2 and `is_transient` temporary; 190 token; 10,
//! 200–299 permission); Google APIs "Errors" (`status` as google.rpc.Code
//! names, `RetryInfo.retryDelay`).

use super::{snippet, HttpError};
use serde_json::Value;
use std::time::Duration;

pub(crate) fn throttled(retry_after: Option<Duration>) -> HttpError {
    HttpError::Throttled {
        url: String::new(),
        status: 0,
        retry_after,
    }
}

pub(crate) fn server(body: &[u8]) -> HttpError {
    HttpError::Server {
        url: String::new(),
        status: 0,
        body: snippet(body),
    }
}

pub(crate) fn rejected(body: &[u8], hint: impl Into<String>) -> HttpError {
    HttpError::Rejected {
        url: String::new(),
        status: 0,
        body: snippet(body),
        hint: hint.into(),
    }
}

pub(crate) fn text(m: &serde_json::Map<String, Value>, key: &str) -> String {
    match m.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The texts of `keys` in `m` joined by spaces: all an error says, to look
/// for words in.
pub(crate) fn texts(m: &serde_json::Map<String, Value>, keys: &[&str]) -> String {
    let texts: Vec<String> = keys.iter().map(|k| text(m, k)).collect();
    texts.join(" ")
}

pub(crate) fn number(m: &serde_json::Map<String, Value>, key: &str) -> Option<i64> {
    match m.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Meta Graph API: `{"error":{"message":…,"code":17,"error_subcode":…,
/// "is_transient":…}}`, usually with HTTP 400/403/500.
pub fn meta(body: &[u8]) -> Option<HttpError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("error")?.as_object()?;
    let code = number(e, "code")?;
    if matches!(code, 4 | 17 | 32 | 613) || (80000..=80014).contains(&code) {
        return Some(throttled(None));
    }
    if matches!(code, 1 | 2) || e.get("is_transient").and_then(Value::as_bool) == Some(true) {
        return Some(server(body));
    }
    if code == 190 || code == 102 {
        return Some(rejected(
            body,
            "Meta refused the access_token (expired, revoked or changed password): generate a new long-lived or system-user access_token",
        ));
    }
    if code == 10 || (200..300).contains(&code) {
        return Some(rejected(
            body,
            "the access_token lacks permission: it needs ads_read on the ad account named by ad_account_id",
        ));
    }
    None
}

/// Google APIs: `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED",
/// "details":[…{"retryDelay":"30s"}…]}}`, also inside `searchStream`'s
/// array. Only throttling and passing faults are classified: other errors
/// keep the status-based handling and the connector's hint (and a 401
/// stays a 401, so the caller can renew its token).
pub fn google(body: &[u8]) -> Option<HttpError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = match &v {
        Value::Array(items) => items.iter().find_map(|i| i.get("error"))?,
        other => other.get("error")?,
    };
    let status = e.get("status").and_then(Value::as_str).unwrap_or_default();
    match status {
        "RESOURCE_EXHAUSTED" => Some(throttled(find_retry_delay(e))),
        "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" | "ABORTED" => Some(server(body)),
        _ => None,
    }
}

/// The first `retryDelay` (`"30s"`, `"1.5s"`) anywhere under `v`.
fn find_retry_delay(v: &Value) -> Option<Duration> {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(s)) = m.get("retryDelay") {
                let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
                return (secs.is_finite() && secs >= 0.0)
                    .then(|| Duration::from_secs_f64(secs.min(3600.0)));
            }
            m.values().find_map(find_retry_delay)
        }
        Value::Array(items) => items.iter().find_map(find_retry_delay),
        _ => None,
    }
}

/// The hint of a [`HttpError::Rejected`] (tests of the classifiers).
#[cfg(test)]
pub(crate) fn rejected_hint(e: &HttpError) -> &str {
    match e {
        HttpError::Rejected { hint, .. } => hint,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::rejected_hint as hint;

    #[test]
    fn meta_throttling_and_token_errors() {
        for code in [4, 17, 613, 80004] {
            let body = format!(
                r#"{{"error":{{"message":"(#{code}) limit","type":"OAuthException","code":{code},"fbtrace_id":"x"}}}}"#
            );
            let e = meta(body.as_bytes()).unwrap();
            assert!(matches!(e, HttpError::Throttled { .. }), "{code}");
        }
        let e = meta(br#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}"#).unwrap();
        assert!(!e.retryable());
        assert!(hint(&e).contains("access_token"));
        let e = meta(br#"{"error":{"message":"x","code":2,"is_transient":true}}"#).unwrap();
        assert!(matches!(e, HttpError::Server { .. }));
        assert!(meta(br#"{"error":{"message":"Invalid parameter","code":100}}"#).is_none());
        assert!(meta(br#"{"data":[],"paging":{}}"#).is_none());
    }

    #[test]
    fn google_resource_exhausted_is_throttled_with_retry_delay() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}"#;
        let e = google(body).unwrap();
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        let stream = br#"[{"results":[]},{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}]"#;
        assert!(matches!(
            google(stream).unwrap(),
            HttpError::Throttled {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            google(br#"{"error":{"code":503,"status":"UNAVAILABLE"}}"#).unwrap(),
            HttpError::Server { .. }
        ));
        assert!(google(br#"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#).is_none());
        assert!(google(br#"{"rows":[]}"#).is_none());
    }

    #[test]
    fn locate_fills_url_status_and_header_wait() {
        let e = throttled(None).locate("https://x/router", 200, Some(Duration::from_secs(3)));
        match e {
            HttpError::Throttled {
                url,
                status,
                retry_after,
            } => {
                assert_eq!(url, "https://x/router");
                assert_eq!(status, 200);
                assert_eq!(retry_after, Some(Duration::from_secs(3)));
            }
            other => panic!("{other:?}"),
        }
        let e =
            throttled(Some(Duration::from_secs(1))).locate("u", 400, Some(Duration::from_secs(9)));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(1)));
    }
}
