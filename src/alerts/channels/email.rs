//! Email over SMTP (`lettre`): `smtp://host[:port]` speaks STARTTLS
//! (required; port 587 by default), `smtps://host[:port]` TLS from the
//! first byte (port 465). `smtp://host:port?tls=none` sends in the clear and
//! is meant for a relay on the same host. The user name goes in the URL
//! (`smtps://alerts%40example.com@smtp.example.com`), the password in
//! `password` / `password_env` / `password_file`, never in the URL. Each
//! message has a plain-text and an HTML part.

use super::render::{self, Doc};
use super::Receipt;
use backon::{ExponentialBuilder, Retryable};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    /// No encryption: only for a relay on loopback.
    None,
}

/// Where and how to reach the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpEndpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
}

/// Reads `smtp_url`.
pub fn parse_smtp_url(text: &str) -> Result<SmtpEndpoint, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if url.password().is_some() {
        return Err(
            "holds a password: put it in `password`, `password_env` or `password_file`".into(),
        );
    }
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtp", None | Some("starttls")) => Security::StartTls,
        ("smtp", Some("none")) => Security::None,
        ("smtps", None) => Security::Tls,
        ("smtp", Some(other)) => return Err(format!("tls=`{other}` is not one of starttls, none")),
        ("smtps", Some(_)) => return Err("smtps:// takes no tls= parameter".into()),
        (other, _) => {
            return Err(format!(
                "scheme `{other}` is not smtp:// (STARTTLS) or smtps:// (TLS)"
            ))
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port().unwrap_or(match security {
        Security::StartTls => 587,
        Security::Tls => 465,
        Security::None => 25,
    });
    let user = match url.username() {
        "" => None,
        u => Some(
            percent_encoding::percent_decode_str(u)
                .decode_utf8()
                .map_err(|_| "the user name is not valid percent-encoded UTF-8")?
                .into_owned(),
        ),
    };
    Ok(SmtpEndpoint {
        host,
        port,
        security,
        user,
    })
}

pub struct Email {
    mailer: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    retries: u32,
}

/// A problem with one of the email keys: (key, message).
pub type KeyError = (&'static str, String);

impl Email {
    pub fn new(
        smtp_url: &str,
        from: &str,
        to: &[String],
        password: Option<SecretString>,
        retries: u32,
        timeout: Duration,
    ) -> Result<Self, KeyError> {
        let endpoint = parse_smtp_url(smtp_url).map_err(|e| ("smtp_url", e))?;
        let from: Mailbox = from
            .parse()
            .map_err(|e| ("from", format!("`{from}` is not an address ({e})")))?;
        if to.is_empty() {
            return Err(("to", "name at least one address".into()));
        }
        let to = to
            .iter()
            .map(|t| {
                t.parse::<Mailbox>()
                    .map_err(|e| ("to", format!("`{t}` is not an address ({e})")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls_error = |e: lettre::transport::smtp::Error| ("smtp_url", e.to_string());
        let builder = match endpoint.security {
            Security::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&endpoint.host)
                    .map_err(tls_error)?
            }
            Security::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&endpoint.host).map_err(tls_error)?
            }
            Security::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
            }
        };
        let mut builder = builder
            .port(endpoint.port)
            .timeout(Some(timeout.min(Duration::from_secs(30))));
        if let Some(password) = password {
            // Most providers log in with the sender's address.
            let user = endpoint
                .user
                .clone()
                .unwrap_or_else(|| from.email.to_string());
            builder =
                builder.credentials(Credentials::new(user, password.expose_secret().to_string()));
        }
        Ok(Email {
            mailer: builder.build(),
            from,
            to,
            retries,
        })
    }

    pub async fn send(&self, channel: &str, doc: &Doc) -> Result<Receipt, String> {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(doc.title.clone());
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(
                render::plain(doc),
                render::html(doc),
            ))
            .map_err(|e| format!("cannot build the email: {e}"))?;
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(15))
            .with_max_times(self.retries as usize);
        // A 5xx reply (bad address, refused login) will not pass; a 4xx or a
        // broken connection may.
        (|| async { self.mailer.send(email.clone()).await })
            .retry(backoff)
            .when(|e: &lettre::transport::smtp::Error| !e.is_permanent())
            .notify(|e, wait| {
                tracing::warn!(target: "kpid::alerts", channel = %channel, reason = %e,
                    wait_ms = wait.as_millis() as u64, "delivery failed; retrying")
            })
            .await
            .map(|response| Receipt {
                detail: format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
            })
            .map_err(|e| format!("SMTP: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_starttls_or_tls() {
        let e = parse_smtp_url("smtp://alerts%40example.com@smtp.example.com").unwrap();
        assert_eq!(
            e,
            SmtpEndpoint {
                host: "smtp.example.com".into(),
                port: 587,
                security: Security::StartTls,
                user: Some("alerts@example.com".into()),
            }
        );
        let e = parse_smtp_url("smtps://smtp.qq.com").unwrap();
        assert_eq!((e.port, e.security, e.user), (465, Security::Tls, None));
        let e = parse_smtp_url("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.security),
            ("127.0.0.1", 2525, Security::None)
        );
        let e = parse_smtp_url("smtp://mail.example.com:2587?tls=starttls").unwrap();
        assert_eq!((e.port, e.security), (2587, Security::StartTls));
    }

    #[test]
    fn bad_smtp_urls_are_named_without_the_password() {
        let e = parse_smtp_url("smtps://u:hunter2@smtp.example.com").unwrap_err();
        assert!(e.contains("password_env") && !e.contains("hunter2"), "{e}");
        assert!(parse_smtp_url("http://smtp.example.com")
            .unwrap_err()
            .contains("scheme"));
        assert!(parse_smtp_url("smtp://h?tls=maybe")
            .unwrap_err()
            .contains("tls"));
        assert!(parse_smtp_url("smtps://h?tls=none").is_err());
    }
}
