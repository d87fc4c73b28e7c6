//! Slack incoming webhook: Block Kit blocks with a plain-text fallback
//! (`text`, shown in notifications). Slack answers `ok` or an HTTP error
//! with a reason (`invalid_payload`, `no_service`, …).

use super::http::{Answer, Endpoint, Failure, Poster};
use super::render::{self, Doc, Line};
use super::Receipt;
use serde_json::{json, Value};

/// Slack's limits: 50 blocks a message, 3000 characters a section text,
/// 150 a header.
const MAX_BLOCKS: usize = 50;
const MAX_SECTION_CHARS: usize = 3000;
const MAX_HEADER_CHARS: usize = 150;

pub struct Slack {
    url: Endpoint,
    poster: Poster,
}

impl Slack {
    pub fn new(url: Endpoint, poster: Poster) -> Self {
        Slack { url, poster }
    }

    pub async fn send(&self, channel: &str, doc: &Doc) -> Result<Receipt, Failure> {
        let body = payload(doc);
        self.poster
            .post(
                channel,
                None,
                |client| Ok(client.post(self.url.url()?).json(&body)),
                |answer: &Answer<'_>| answer.by_status(Answer::snippet),
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
        let text = section.text(|h| format!("*{}*", escape(h)), mrkdwn_line);
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
    format!(
        "{bullet}{}",
        render::line_text(line, |s| format!("*{s}*"), escape)
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::channels::render::{Link, Section, Tone};

    #[test]
    fn a_long_message_stays_within_slacks_limits() {
        let doc = Doc {
            title: "t".repeat(400),
            tone: Tone::Info,
            sections: (0..80)
                .map(|i| Section {
                    heading: Some(format!("shop-{i}")),
                    lines: vec![Line {
                        label: None,
                        text: "成交额 <b> & ".repeat(400),
                        indent: false,
                    }],
                })
                .collect(),
            link: Some(Link {
                label: "Dashboard".into(),
                url: "https://kpi.example.com".into(),
            }),
        };
        let p = payload(&doc);
        let blocks = p["blocks"].as_array().unwrap();
        assert!(blocks.len() <= MAX_BLOCKS, "{}", blocks.len());
        assert_eq!(
            blocks.last().unwrap()["type"],
            "context",
            "the link is kept"
        );
        for b in blocks {
            if let Some(text) = b["text"]["text"].as_str() {
                assert!(text.chars().count() <= MAX_SECTION_CHARS);
                assert!(!text.contains("<b>"), "escaped");
            }
        }
        assert_eq!(
            blocks[0]["text"]["text"].as_str().unwrap().chars().count(),
            MAX_HEADER_CHARS
        );
    }
}
