//! WeCom (企业微信) group robot: markdown of at most 4096 bytes, cut at a
//! character boundary with a note when longer; a non-zero `errcode` is a
//! failure (45009, "api freq out of limit", is retried). At most 20
//! messages a minute per robot.

use super::dingtalk::errcode;
use super::http::{Answer, Endpoint, Failure, Poster};
use super::limiter::{self, WindowLimiter};
use super::render::{self, Doc};
use super::Receipt;
use crate::alerts::message::Language;
use std::sync::Arc;
use std::time::Duration;

/// The robot's limit on `markdown.content`, in UTF-8 bytes.
pub const MAX_BYTES: usize = 4096;
const FREQ_OUT_OF_LIMIT: i64 = 45009;

/// WeCom robots take 20 messages a minute, like DingTalk's.
const PER_MINUTE: usize = 20;

pub struct WeCom {
    url: Endpoint,
    poster: Poster,
    limiter: Arc<WindowLimiter>,
}

impl WeCom {
    pub fn new(url: Endpoint, poster: Poster) -> Self {
        let limiter = limiter::for_robot(url.secret_text(), PER_MINUTE, Duration::from_secs(60));
        WeCom {
            url,
            poster,
            limiter,
        }
    }

    pub async fn send(
        &self,
        channel: &str,
        doc: &Doc,
        language: Language,
    ) -> Result<Receipt, Failure> {
        let content = fit(&render::markdown(doc), MAX_BYTES, language);
        let body = serde_json::json!({ "msgtype": "markdown", "markdown": { "content": content } });
        self.poster
            .post(
                channel,
                Some(&self.limiter),
                |client| {
                    let url = self.url.url()?;
                    Ok(client.post(url).json(&body))
                },
                check,
            )
            .await
    }
}

fn check(answer: &Answer<'_>) -> Result<String, Failure> {
    if let Some(f) = answer.status_failure() {
        return Err(f);
    }
    match errcode(answer)? {
        (0, _) => Ok(answer.snippet()),
        (code @ FREQ_OUT_OF_LIMIT, message) => {
            Err(Failure::temporary(format!("errcode {code}: {message}")))
        }
        (code, message) => Err(Failure::permanent(format!("errcode {code}: {message}"))),
    }
}

/// `text` if it fits in `limit` bytes; else its longest start that ends on
/// a character boundary and leaves room for a note saying it was cut.
pub fn fit(text: &str, limit: usize, language: Language) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let note = match language {
        Language::Zh => "\n\n……（消息过长，已截断）",
        Language::En => "\n\n… (message cut: too long for WeCom)",
    };
    let mut end = limit.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{note}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_chinese_text_is_cut_on_a_character_boundary_with_a_note() {
        let text = "成交额低于目标".repeat(300); // 21 bytes × 300 = 6300 bytes
        let cut = fit(&text, MAX_BYTES, Language::Zh);
        assert!(cut.len() <= MAX_BYTES, "{}", cut.len());
        assert!(
            cut.len() > MAX_BYTES - 40,
            "cut no more than needed: {}",
            cut.len()
        );
        assert!(cut.ends_with("（消息过长，已截断）"));
        assert_eq!(fit("short", MAX_BYTES, Language::Zh), "short");
    }
}
