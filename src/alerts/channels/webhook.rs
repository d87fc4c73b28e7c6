//! Generic webhook: the message as JSON (alerts with their labels, values
//! and states, or the digest, plus the rendered title and text). With a
//! `secret`, header `X-Kpid-Signature: sha256=<hex HMAC-SHA256 of the body>`
//! lets the receiver check it came from kpid.

use super::http::{Answer, Endpoint, Failure, Poster};
use super::render::{self, Doc};
use super::Receipt;
use crate::alerts::message::{Message, RenderOptions};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub const SIGNATURE_HEADER: &str = "X-Kpid-Signature";

pub struct Webhook {
    url: Endpoint,
    secret: Option<SecretString>,
    poster: Poster,
}

impl Webhook {
    pub fn new(url: Endpoint, secret: Option<SecretString>, poster: Poster) -> Self {
        Webhook {
            url,
            secret,
            poster,
        }
    }

    pub async fn send(
        &self,
        channel: &str,
        message: &Message,
        options: &RenderOptions,
        doc: &Doc,
    ) -> Result<Receipt, Failure> {
        let body = serde_json::to_vec(&body(channel, message, options, doc))
            .map_err(|e| Failure::permanent(format!("cannot encode the message: {e}")))?;
        let signature = self.secret.as_ref().map(|s| {
            let mac = crate::http::sign::hmac_sha256(s.expose_secret().as_bytes(), &body);
            format!("sha256={}", crate::http::sign::hex(&mac, false))
        });
        self.poster
            .post(
                channel,
                None,
                |client| {
                    let mut request = client
                        .post(self.url.url()?)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone());
                    if let Some(sig) = &signature {
                        request = request.header(SIGNATURE_HEADER, sig);
                    }
                    Ok(request)
                },
                |answer: &Answer<'_>| answer.by_status(|a| format!("HTTP {}", a.status.as_u16())),
            )
            .await
    }
}

/// `{"type": "alerts"|"digest"|"test", …the message…, "channel", "language",
/// "title", "text"}`; each alert also carries its `labels` (those posted to
/// Alertmanager).
pub fn body(channel: &str, message: &Message, options: &RenderOptions, doc: &Doc) -> Value {
    let mut v = serde_json::to_value(message).unwrap_or(Value::Null);
    if let (Message::Alerts(group), Some(alerts)) =
        (message, v.get_mut("alerts").and_then(Value::as_array_mut))
    {
        for (json, alert) in alerts.iter_mut().zip(&group.alerts) {
            json["labels"] =
                serde_json::to_value(super::alertmanager::labels(alert)).unwrap_or(Value::Null);
        }
    }
    v["channel"] = Value::String(channel.to_string());
    v["language"] = serde_json::to_value(options.language).unwrap_or(Value::Null);
    v["title"] = Value::String(doc.title.clone());
    v["text"] = Value::String(render::plain(doc));
    if let Some(url) = options.dashboard_url.as_ref().filter(|u| !u.is_empty()) {
        v["dashboard_url"] = Value::String(url.clone());
    }
    v
}
