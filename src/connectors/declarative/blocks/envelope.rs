//! Error envelopes: top-level `envelope = "<name>"` in a definition, for
//! platforms whose errors say more than their HTTP status (Meta throttles
//! with HTTP 400 and a code) and whose waits are named in headers. Read on
//! every response, before the page is parsed.

use crate::http::{platform_errors, HttpError};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;

/// A platform's error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// Meta Graph: `{"error":{"code":17,…}}` (4, 17, 32, 613, 80000–80014
    /// throttled; 190 the token; 10, 200–299 permissions), waiting as long
    /// as `X-Business-Use-Case-Usage` says.
    MetaGraph,
    /// Google APIs: `RESOURCE_EXHAUSTED` with its `retryDelay`, passing
    /// faults retried; other errors keep the status-based handling.
    Google,
}

impl Envelope {
    /// The names a definition writes.
    pub const NAMES: &'static [&'static str] = &["meta_graph", "google"];

    pub fn named(name: &str) -> Option<Self> {
        match name {
            "meta_graph" => Some(Envelope::MetaGraph),
            "google" => Some(Envelope::Google),
            _ => None,
        }
    }

    /// The error a body carries, if the envelope recognises one.
    pub fn classify(self, body: &[u8]) -> Option<HttpError> {
        match self {
            Envelope::MetaGraph => platform_errors::meta(body),
            Envelope::Google => platform_errors::google(body),
        }
    }

    /// Reads the wait a platform names in its response headers.
    pub fn header_wait(self) -> Option<fn(&HeaderMap) -> Option<Duration>> {
        match self {
            Envelope::MetaGraph => Some(business_usage_wait),
            Envelope::Google => None,
        }
    }
}

/// The wait Meta names in `X-Business-Use-Case-Usage`
/// (`{"<business id>":[{"type":"ads_insights",…,"estimated_time_to_regain_access":N}]}`,
/// N in minutes): the longest over the use cases, if any is above zero.
fn business_usage_wait(headers: &HeaderMap) -> Option<Duration> {
    let v: Value =
        serde_json::from_slice(headers.get("x-business-use-case-usage")?.as_bytes()).ok()?;
    let minutes = v
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| u.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn usage_header_names_minutes() {
        let mut h = HeaderMap::new();
        assert_eq!(business_usage_wait(&h), None);
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(r#"{"1234":[{"type":"ads_insights","call_count":100,"total_cputime":40,"total_time":60,"estimated_time_to_regain_access":5},{"type":"ads_management","estimated_time_to_regain_access":0}]}"#),
        );
        assert_eq!(business_usage_wait(&h), Some(Duration::from_secs(300)));
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1234":[{"type":"ads_insights","estimated_time_to_regain_access":0}]}"#,
            ),
        );
        assert_eq!(business_usage_wait(&h), None);
    }

    #[test]
    fn every_name_is_a_block() {
        for n in Envelope::NAMES {
            assert!(Envelope::named(n).is_some(), "{n}");
        }
        let throttled = br#"{"error":{"message":"(#17) User request limit reached","code":17}}"#;
        assert!(matches!(
            Envelope::MetaGraph.classify(throttled),
            Some(HttpError::Throttled { .. })
        ));
        assert!(Envelope::MetaGraph.classify(br#"{"data":[]}"#).is_none());
    }
}
