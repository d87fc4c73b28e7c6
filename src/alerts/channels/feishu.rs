//! Feishu / Lark (飞书) custom bot: an interactive card, signed when the
//! bot has a secret: `timestamp` (s) and `sign` = base64(HMAC-SHA256(key =
//! timestamp + "\n" + secret, message = empty)) inside the JSON body. A
//! non-zero `code` in the answer is a failure.

use super::http::{Answer, Endpoint, Failure, Poster};
use super::render::{self, Doc, Line, Tone};
use super::Receipt;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

pub struct Feishu {
    url: Endpoint,
    secret: Option<SecretString>,
    poster: Poster,
}

impl Feishu {
    pub fn new(url: Endpoint, secret: Option<SecretString>, poster: Poster) -> Self {
        Feishu {
            url,
            secret,
            poster,
        }
    }

    pub async fn send(&self, channel: &str, doc: &Doc) -> Result<Receipt, Failure> {
        let card = card(doc);
        self.poster
            .post(
                channel,
                None,
                |client| {
                    let mut body = json!({ "msg_type": "interactive", "card": card });
                    if let Some(secret) = &self.secret {
                        let timestamp = chrono::Utc::now().timestamp();
                        body["timestamp"] = Value::String(timestamp.to_string());
                        body["sign"] = Value::String(sign(secret, timestamp));
                    }
                    let url = self.url.url()?;
                    Ok(client.post(url).json(&body))
                },
                check,
            )
            .await
    }
}

/// base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = empty)).
fn sign(secret: &SecretString, timestamp: i64) -> String {
    let key = format!("{timestamp}\n{}", secret.expose_secret());
    let mac = crate::http::sign::hmac_sha256(key.as_bytes(), b"");
    base64::engine::general_purpose::STANDARD.encode(mac)
}

fn check(answer: &Answer<'_>) -> Result<String, Failure> {
    if let Some(f) = answer.status_failure() {
        return Err(f);
    }
    let v: Value = serde_json::from_slice(answer.body).map_err(|_| {
        Failure::permanent(format!(
            "the answer is not the JSON expected: {}",
            answer.snippet()
        ))
    })?;
    // Current bots answer `code`/`msg`; older ones `StatusCode`/`StatusMessage`.
    let code = v
        .get("code")
        .or_else(|| v.get("StatusCode"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let message = v
        .get("msg")
        .or_else(|| v.get("StatusMessage"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if code == 0 {
        Ok(answer.snippet())
    } else {
        Err(Failure::permanent(format!("code {code}: {message}")))
    }
}

/// The card: a coloured header, one block per section, a dashboard button.
pub fn card(doc: &Doc) -> Value {
    let template = match doc.tone {
        Tone::Firing => "red",
        Tone::Resolved => "green",
        Tone::Info => "blue",
    };
    let mut elements = Vec::new();
    for (i, section) in doc.sections.iter().enumerate() {
        if i > 0 {
            elements.push(json!({ "tag": "hr" }));
        }
        let text = section.text(|h| format!("**{}**", lark_escape(h)), lark_line);
        elements.push(
            json!({ "tag": "div", "text": { "tag": "lark_md", "content": text.trim_end() } }),
        );
    }
    if let Some(link) = &doc.link {
        elements.push(json!({
            "tag": "action",
            "actions": [{
                "tag": "button",
                "text": { "tag": "plain_text", "content": link.label },
                "url": link.url,
                "type": "primary",
            }],
        }));
    }
    json!({
        "config": { "wide_screen_mode": true },
        "header": { "title": { "tag": "plain_text", "content": doc.title }, "template": template },
        "elements": elements,
    })
}

fn lark_line(line: &Line) -> String {
    let indent = if line.indent { "    " } else { "" };
    let text = render::line_text(line, |s| format!("**{s}**"), lark_escape);
    format!("{indent}{text}")
}

/// lark_md reads `<…>` as tags (`<at>`, `<font>`): names and labels must
/// not open one. Other markdown marks are left as they are (KPI names and
/// numbers carry none).
fn lark_escape(s: &str) -> String {
    s.replace('<', "&lt;").replace('>', "&gt;")
}
