//! Delivery channels: each renders a [`Message`] in its service's format,
//! signs it where the service asks, and sends it.
//!
//! The contract the evaluation side relies on:
//! - [`ChannelConfig`] is one `[[alerts.channels]]` table (deserialized by
//!   `config`, with unknown keys rejected); [`ChannelConfig::build`] resolves
//!   its secrets and returns a [`Channel`], or a [`ChannelConfigError`]
//!   naming the key.
//! - [`Channel::deliver`] sends one message, retrying what the service says
//!   is temporary, within the channel's time limit (`timeout_seconds`), and
//!   returns the service's answer or a [`DeliveryError`] that names the
//!   channel and the cause without any secret. It is cancel-safe: dropping
//!   it abandons the message and holds nothing.

pub mod alertmanager;
pub mod dingtalk;
pub mod email;
pub mod feishu;
pub mod format;
mod http;
mod limiter;
pub mod render;
pub mod slack;
pub mod webhook;
pub mod wecom;

use super::message::{Message, RenderOptions};
pub use crate::config::ChannelConfig;
use std::time::Duration;

/// Every `kind` a channel may have.
pub const KINDS: &[&str] = &[
    "log",
    "webhook",
    "dingtalk",
    "wecom",
    "feishu",
    "slack",
    "email",
    "alertmanager",
];

/// How long one delivery (all its attempts) may take by default.
const DEFAULT_TIMEOUT_SECONDS: u64 = 60;
/// Attempts after the first, by default.
const DEFAULT_RETRIES: u32 = 3;

/// A configured channel, ready to send.
pub struct Channel {
    pub name: String,
    pub kind: String,
    transport: Transport,
    timeout: Duration,
}

impl std::fmt::Debug for Channel {
    // The transport holds the channel's URL and credentials: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

enum Transport {
    Log,
    DingTalk(dingtalk::DingTalk),
    Feishu(feishu::Feishu),
    WeCom(wecom::WeCom),
    Slack(slack::Slack),
    Webhook(webhook::Webhook),
    Alertmanager(alertmanager::Alertmanager),
    Email(email::Email),
}

/// What the service answered to a delivered message (for `kpid alerts test`
/// and history).
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub detail: String,
}

/// A message that could not be delivered: names the channel and the cause,
/// never a secret (robot URLs carry their token).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("channel {channel}: {reason}")]
pub struct DeliveryError {
    pub channel: String,
    pub reason: String,
}

/// A channel table that cannot be used: names the channel and the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("channel {channel}: {key}: {message}")]
pub struct ChannelConfigError {
    pub channel: String,
    pub key: String,
    pub message: String,
}

impl Channel {
    /// Sends one message, giving up after the channel's time limit.
    pub async fn deliver(
        &self,
        message: &Message,
        options: &RenderOptions,
    ) -> Result<Receipt, DeliveryError> {
        match tokio::time::timeout(self.timeout, self.send(message, options)).await {
            Ok(result) => result.map_err(|f| DeliveryError {
                channel: self.name.clone(),
                reason: f.reason,
            }),
            Err(_) => Err(DeliveryError {
                channel: self.name.clone(),
                reason: format!(
                    "not delivered within {}s (timeout_seconds)",
                    self.timeout.as_secs()
                ),
            }),
        }
    }

    async fn send(
        &self,
        message: &Message,
        options: &RenderOptions,
    ) -> Result<Receipt, http::Failure> {
        let doc = render::doc(message, options);
        let name = &self.name;
        match &self.transport {
            Transport::Log => Ok(log_message(name, &doc)),
            Transport::DingTalk(t) => t.send(name, &doc).await,
            Transport::Feishu(t) => t.send(name, &doc).await,
            Transport::WeCom(t) => t.send(name, &doc, options.language).await,
            Transport::Slack(t) => t.send(name, &doc).await,
            Transport::Webhook(t) => t.send(name, message, options, &doc).await,
            Transport::Alertmanager(t) => t.send(name, message, options).await,
            Transport::Email(t) => t.send(name, &doc).await,
        }
    }
}

/// `log`: the message as one WARN line with target `kpid::alerts`.
fn log_message(channel: &str, doc: &render::Doc) -> Receipt {
    let text = render::one_line(doc);
    tracing::warn!(target: "kpid::alerts", channel = %channel, "{text}");
    Receipt {
        detail: "logged".into(),
    }
}

impl ChannelConfig {
    /// The channel as `kpid check` may show it: kind and where its URL and
    /// secrets come from, never their values.
    pub fn describe(&self) -> String {
        let source = |key: &str, inline: bool, env: &Option<String>, file: &Option<String>| match (
            inline, env, file,
        ) {
            (true, _, _) => Some(format!("{key} inline (***)")),
            (_, Some(var), _) => Some(format!("{key} from ${var}")),
            (_, _, Some(path)) => Some(format!("{key} from file {path}")),
            _ => None,
        };
        let mut parts = vec![format!("kind {}", self.kind)];
        parts.extend(source(
            "url",
            self.url.is_some(),
            &self.url_env,
            &self.url_file,
        ));
        parts.extend(source(
            "secret",
            self.secret.is_some(),
            &self.secret_env,
            &self.secret_file,
        ));
        if let Some(smtp) = &self.smtp_url {
            // No password can hide in it: `build` refuses one.
            let host = email::parse_smtp_url(smtp)
                .map(|e| format!("smtp {}:{}", e.host, e.port))
                .unwrap_or_else(|_| "smtp (invalid URL)".into());
            parts.push(host);
        }
        if !self.to.is_empty() {
            parts.push(format!("to {}", self.to.join(", ")));
        }
        parts.extend(source(
            "password",
            self.password.is_some(),
            &self.password_env,
            &self.password_file,
        ));
        format!("{}: {}", self.name, parts.join(", "))
    }

    /// Checks the table, resolves its secrets and builds the channel.
    pub fn build(&self) -> Result<Channel, ChannelConfigError> {
        let err = |key: &str, message: String| ChannelConfigError {
            channel: self.name.clone(),
            key: key.to_string(),
            message,
        };
        if self.name.trim().is_empty() {
            return Err(err("name", "must not be empty".into()));
        }
        let unknown_kind = || {
            err(
                "kind",
                format!("`{}` is not one of {}", self.kind, KINDS.join(", ")),
            )
        };
        // Before the keys: an unknown kind uses none of them.
        if !KINDS.contains(&self.kind.as_str()) {
            return Err(unknown_kind());
        }
        let timeout = match self.timeout_seconds {
            Some(0) => return Err(err("timeout_seconds", "must be at least 1".into())),
            Some(s) => Duration::from_secs(s),
            None => Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
        };
        self.reject_unused(&self.keys_taken())?;
        let retries = self.retries.unwrap_or(DEFAULT_RETRIES);
        let poster = || http::Poster::new(retries, timeout).map_err(|e| err("kind", e.to_string()));
        let url = || {
            let url =
                crate::secrets::resolve("url", self.url.clone(), &self.url_env, &self.url_file)
                    .map_err(|e| err("url", e.to_string()))?;
            http::Endpoint::new(url).map_err(|e| err("url", e.to_string()))
        };
        let secret = || {
            crate::secrets::resolve_optional(
                "secret",
                self.secret.clone(),
                &self.secret_env,
                &self.secret_file,
            )
            .map_err(|e| err("secret", e.to_string()))
        };
        let transport = match self.kind.as_str() {
            "log" => Transport::Log,
            "dingtalk" => {
                Transport::DingTalk(dingtalk::DingTalk::new(url()?, secret()?, poster()?))
            }
            "feishu" => Transport::Feishu(feishu::Feishu::new(url()?, secret()?, poster()?)),
            "wecom" => Transport::WeCom(wecom::WeCom::new(url()?, poster()?)),
            "slack" => Transport::Slack(slack::Slack::new(url()?, poster()?)),
            "webhook" => Transport::Webhook(webhook::Webhook::new(url()?, secret()?, poster()?)),
            "alertmanager" => {
                Transport::Alertmanager(alertmanager::Alertmanager::new(url()?, poster()?))
            }
            "email" => {
                let password = crate::secrets::resolve_optional(
                    "password",
                    self.password.clone(),
                    &self.password_env,
                    &self.password_file,
                )
                .map_err(|e| err("password", e.to_string()))?;
                let smtp_url = self
                    .smtp_url
                    .as_deref()
                    .ok_or_else(|| err("smtp_url", "is required for kind `email`".into()))?;
                let from = self
                    .from
                    .as_deref()
                    .ok_or_else(|| err("from", "is required for kind `email`".into()))?;
                Transport::Email(
                    email::Email::new(smtp_url, from, &self.to, password, retries, timeout)
                        .map_err(|e| err(e.key(), e.to_string()))?,
                )
            }
            _ => return Err(unknown_kind()),
        };
        Ok(Channel {
            name: self.name.clone(),
            kind: self.kind.clone(),
            transport,
            timeout,
        })
    }

    /// The optional keys the channel's kind reads.
    fn keys_taken(&self) -> Vec<&'static str> {
        let url = ["url", "url_env", "url_file"];
        let secret = ["secret", "secret_env", "secret_file"];
        let common = ["timeout_seconds", "retries"];
        let mut keys: Vec<&'static str> = common.to_vec();
        match self.kind.as_str() {
            "log" => {}
            "dingtalk" | "feishu" | "webhook" => {
                keys.extend(url);
                keys.extend(secret);
            }
            "wecom" | "slack" | "alertmanager" => keys.extend(url),
            "email" => keys.extend([
                "smtp_url",
                "from",
                "to",
                "password",
                "password_env",
                "password_file",
            ]),
            _ => {}
        }
        keys
    }

    /// A key set that the kind does not use is a mistake worth naming.
    fn reject_unused(&self, taken: &[&str]) -> Result<(), ChannelConfigError> {
        let set: [(&str, bool); 16] = [
            ("url", self.url.is_some()),
            ("url_env", self.url_env.is_some()),
            ("url_file", self.url_file.is_some()),
            ("secret", self.secret.is_some()),
            ("secret_env", self.secret_env.is_some()),
            ("secret_file", self.secret_file.is_some()),
            ("smtp_url", self.smtp_url.is_some()),
            ("from", self.from.is_some()),
            ("to", !self.to.is_empty()),
            ("password", self.password.is_some()),
            ("password_env", self.password_env.is_some()),
            ("password_file", self.password_file.is_some()),
            ("timeout_seconds", self.timeout_seconds.is_some()),
            ("retries", self.retries.is_some()),
            ("name", true),
            ("kind", true),
        ];
        match set.iter().find(|(key, present)| {
            *present && !taken.contains(key) && !["name", "kind"].contains(key)
        }) {
            Some((key, _)) => Err(ChannelConfigError {
                channel: self.name.clone(),
                key: key.to_string(),
                message: format!("is not a key of kind `{}`", self.kind),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::message::Language;
    use std::sync::{Arc, Mutex};

    fn config(toml_text: &str) -> ChannelConfig {
        toml::from_str(toml_text).unwrap()
    }

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_log_channel_writes_the_message_as_one_warn_line_in_the_language() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let channel = config("name = \"ops-log\"\nkind = \"log\"\n")
            .build()
            .unwrap();
        for language in [Language::En, Language::Zh] {
            let options = RenderOptions {
                language,
                dashboard_url: Some("https://kpi.example.com".into()),
            };
            let receipt = channel
                .deliver(
                    &Message::Test {
                        channel: "ops-log".into(),
                    },
                    &options,
                )
                .await
                .unwrap();
            assert_eq!(receipt.detail, "logged");
        }
        let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "one line per message: {out}");
        assert!(
            lines[0].contains("WARN") && lines[0].contains("kpid::alerts"),
            "{out}"
        );
        assert!(lines[0].contains("kpid test message") && lines[0].contains("ops-log"));
        assert!(lines[0].contains("https://kpi.example.com"));
        assert!(lines[1].contains("kpid 测试消息"), "{out}");
    }

    #[test]
    fn build_names_the_bad_key() {
        let e = config("name = \"x\"\nkind = \"pager\"\n")
            .build()
            .unwrap_err();
        assert_eq!((e.channel.as_str(), e.key.as_str()), ("x", "kind"));
        let e = config("name = \"x\"\nkind = \"log\"\nurl = \"https://t\"\n")
            .build()
            .unwrap_err();
        assert_eq!(e.key, "url");
        let e = config("name = \"x\"\nkind = \"log\"\ntimeout_seconds = 0\n")
            .build()
            .unwrap_err();
        assert_eq!(e.key, "timeout_seconds");
        assert!(
            toml::from_str::<ChannelConfig>("name = \"x\"\nkind = \"log\"\nuri = \"a\"\n").is_err()
        );
    }

    #[test]
    fn describe_says_where_secrets_come_from_not_what_they_are() {
        let c = config("name = \"d\"\nkind = \"dingtalk\"\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET\"\nsecret_env = \"DINGTALK_SECRET\"\n");
        assert_eq!(
            c.describe(),
            "d: kind dingtalk, url inline (***), secret from $DINGTALK_SECRET"
        );
        let c = config("name = \"m\"\nkind = \"email\"\nsmtp_url = \"smtps://smtp.example.com\"\nfrom = \"a@example.com\"\nto = \"ops@example.com\"\npassword_file = \"/run/secrets/smtp\"\n");
        assert_eq!(c.to, ["ops@example.com"]);
        assert_eq!(
            c.describe(),
            "m: kind email, smtp smtp.example.com:465, to ops@example.com, password from file /run/secrets/smtp"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = config("name = \"d\"\nkind = \"dingtalk\"\nurl = \"https://oapi.dingtalk.com/robot/send?access_token=TOPSECRET\"\nsecret = \"SECSECRET\"\n");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("SECSECRET"),
            "{shown}"
        );
    }
}
