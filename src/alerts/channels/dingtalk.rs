//! DingTalk (钉钉) custom robot: a markdown message, signed when the robot
//! has a secret ("加签": `timestamp` in ms and `sign` = URL-encoded
//! base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret))
//! appended to the URL's query). At most 20 messages a minute per robot;
//! `errcode` 130101 ("send too fast") is waited out with the backoff and
//! retried; any other non-zero `errcode` is a failure naming the error.

use super::http::{Answer, Endpoint, Failure, Poster};
use super::limiter::{self, WindowLimiter};
use super::render::{self, Doc};
use super::Receipt;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

const PER_MINUTE: usize = 20;
/// "send too fast, exceed 20 times per minute".
const TOO_FAST: i64 = 130101;

pub struct DingTalk {
    url: Endpoint,
    secret: Option<SecretString>,
    poster: Poster,
    limiter: Arc<WindowLimiter>,
}

impl DingTalk {
    pub fn new(url: Endpoint, secret: Option<SecretString>, poster: Poster) -> Self {
        let limiter = limiter::for_robot(url.secret_text(), PER_MINUTE, Duration::from_secs(60));
        DingTalk {
            url,
            secret,
            poster,
            limiter,
        }
    }

    pub async fn send(&self, channel: &str, doc: &Doc) -> Result<Receipt, Failure> {
        let body = serde_json::json!({
            "msgtype": "markdown",
            "markdown": { "title": doc.title, "text": render::markdown(doc) },
        });
        self.poster
            .post(
                channel,
                Some(&self.limiter),
                |client| {
                    let url = self.signed_url(chrono::Utc::now().timestamp_millis())?;
                    Ok(client.post(url).json(&body))
                },
                check,
            )
            .await
    }

    fn signed_url(&self, timestamp_ms: i64) -> Result<url::Url, Failure> {
        let mut url = self.url.url()?;
        if let Some(secret) = &self.secret {
            let sign = sign(secret, timestamp_ms);
            url.query_pairs_mut()
                .append_pair("timestamp", &timestamp_ms.to_string())
                .append_pair("sign", &sign);
        }
        Ok(url)
    }
}

/// base64(HMAC-SHA256(key = secret, message = timestamp + "\n" + secret));
/// the query encoding is done when it is appended to the URL.
fn sign(secret: &SecretString, timestamp_ms: i64) -> String {
    let secret = secret.expose_secret();
    let mac = crate::http::sign::hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(mac)
}

fn check(answer: &Answer<'_>) -> Result<String, Failure> {
    if let Some(f) = answer.status_failure() {
        return Err(f);
    }
    let (code, message) = errcode(answer)?;
    match code {
        0 => Ok(answer.snippet()),
        TOO_FAST => Err(Failure::temporary(format!(
            "errcode {code}: {message} (more than {PER_MINUTE} messages a minute)"
        ))),
        _ => Err(Failure::permanent(format!("errcode {code}: {message}"))),
    }
}

/// `{"errcode": 0, "errmsg": "ok"}`, the answer of DingTalk and WeCom robots.
pub(super) fn errcode(answer: &Answer<'_>) -> Result<(i64, String), Failure> {
    let v: serde_json::Value = serde_json::from_slice(answer.body).map_err(|_| {
        Failure::permanent(format!(
            "the answer is not the JSON expected: {}",
            answer.snippet()
        ))
    })?;
    let code = v.get("errcode").and_then(|c| c.as_i64()).ok_or_else(|| {
        Failure::permanent(format!("the answer has no errcode: {}", answer.snippet()))
    })?;
    let message = v
        .get("errmsg")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    Ok((code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_urlencoded_in_the_query() {
        let d = DingTalk::new(
            Endpoint::new(SecretString::from(
                "https://oapi.dingtalk.com/robot/send?access_token=abc",
            ))
            .unwrap(),
            Some(SecretString::from("SEC123")),
            Poster::new(0, Duration::from_secs(5)).unwrap(),
        );
        let url = d.signed_url(1_700_000_000_000).unwrap();
        let query = url.query().unwrap();
        assert!(query.starts_with("access_token=abc&timestamp=1700000000000&sign="));
        let sign = url.query_pairs().find(|(k, _)| k == "sign").unwrap().1;
        assert_eq!(
            sign,
            super::sign(&SecretString::from("SEC123"), 1_700_000_000_000)
        );
        assert!(!query.contains('+') && !query.contains('/'), "{query}");
    }
}
