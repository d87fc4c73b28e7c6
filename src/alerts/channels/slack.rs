//! Slack incoming webhook: Block Kit blocks with a plain-text fallback
//! (`text`, shown in notifications). Slack answers `ok` or an HTTP error
//! with a reason (`invalid_payload`, `no_service`, …).

use super::http::{Answer, Failure, Poster};
use super::render::{self, Doc, Line};
use super::Receipt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// Slack's limits: 50 blocks a message, 3000 characters a section text,
/// 150 a header.
const MAX_BLOCKS: usize = 50;
const MAX_SECTION_CHARS: usize = 3000;
const MAX_HEADER_CHARS: usize = 150;

pub struct Slack {
    url: SecretString,
    poster: Poster,
}

impl Slack {
    pub fn new(url: SecretString, poster: Poster) -> Result<Self, String> {
        super::http::parse_url(url.expose_secret(), "url")?;
        Ok(Slack { url, poster })
    }

    pub async fn send(&self, channel: &str, doc: &Doc) -> Result<Receipt, String> {
        let body = payload(doc);
        self.poster
            .post(
                channel,
                super::http::no_wait,
                |client| {
                    let url = super::http::parse_url(self.url.expose_secret(), "url")
                        .map_err(Failure::permanent)?;
                    Ok(client.post(url).json(&body))
                },
                |answer: &Answer<'_>| match answer.status_failure() {
                    Some(f) => Err(f),
                    None => Ok(answer.snippet()),
                },
            )
            .await
    }
}

/// `{"text": fallback, "blocks": [header, section, divider, …, link]}`.
pub fn payload(doc: &Doc) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": cut(&doc.title, MAX_HEADER_CHARS) },
    })];
    for section in &doc.sections {
        // Room for the divider, this section and the link.
        if blocks.len() + 3 > MAX_BLOCKS {
            break;
        }
        if blocks.len() > 1 {
            blocks.push(json!({ "type": "divider" }));
        }
        let mut text = String::new();
        if let Some(h) = &section.heading {
            text.push_str(&format!("*{}*\n", escape(h)));
        }
        for line in &section.lines {
            text.push_str(&mrkdwn_line(line));
            text.push('\n');
        }
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": cut(text.trim_end(), MAX_SECTION_CHARS) },
        }));
    }
    if let Some(link) = &doc.link {
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("<{}|{}>", link.url, escape(&link.label)) }],
        }));
    }
    json!({ "text": render::plain(doc), "blocks": blocks })
}

fn mrkdwn_line(line: &Line) -> String {
    let bullet = if line.indent { "    ◦ " } else { "• " };
    match (&line.label, line.text.is_empty()) {
        (Some(l), true) => format!("{bullet}*{}*", escape(l)),
        (Some(l), false) => format!("{bullet}*{}*: {}", escape(l), escape(&line.text)),
        (None, _) => format!("{bullet}{}", escape(&line.text)),
    }
}

/// Slack's three escapes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max_chars - 1).collect();
        out.push('…');
        out
    }
}
