//! Email over SMTP (`lettre`): `smtp://host[:port]` speaks STARTTLS
//! (required; port 587 by default), `smtps://host[:port]` TLS from the
//! first byte (port 465). `smtp://host:port?tls=none` sends in the clear and
//! is meant for a relay on the same host. The user name goes in the URL
//! (`smtps://alerts%40example.com@smtp.example.com`), the password in
//! `password` / `password_env` / `password_file`, never in the URL. Each
//! message has a plain-text and an HTML part.

use super::http::Failure;
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

/// Why `smtp_url` cannot be used. Never holds the URL's password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SmtpUrlError {
    #[error("not a URL ({0})")]
    NotUrl(url::ParseError),
    #[error("holds a password: put it in `password`, `password_env` or `password_file`")]
    HoldsPassword,
    #[error("tls=`{0}` is not one of starttls, none")]
    Tls(String),
    #[error("smtps:// takes no tls= parameter")]
    TlsWithSmtps,
    #[error("scheme `{0}` is not smtp:// (STARTTLS) or smtps:// (TLS)")]
    Scheme(String),
    #[error("has no host")]
    NoHost,
    #[error("the user name is not valid percent-encoded UTF-8")]
    User,
}

/// Reads `smtp_url`.
pub fn parse_smtp_url(text: &str) -> Result<SmtpEndpoint, SmtpUrlError> {
    let url = url::Url::parse(text.trim()).map_err(SmtpUrlError::NotUrl)?;
    if url.password().is_some() {
        return Err(SmtpUrlError::HoldsPassword);
    }
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtp", None | Some("starttls")) => Security::StartTls,
        ("smtp", Some("none")) => Security::None,
        ("smtps", None) => Security::Tls,
        ("smtp", Some(other)) => return Err(SmtpUrlError::Tls(other.to_string())),
        ("smtps", Some(_)) => return Err(SmtpUrlError::TlsWithSmtps),
        (other, _) => return Err(SmtpUrlError::Scheme(other.to_string())),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(SmtpUrlError::NoHost)?
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
                .map_err(|_| SmtpUrlError::User)?
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

/// A problem with one of the email keys; [`EmailConfigError::key`] names it.
#[derive(Debug, thiserror::Error)]
pub enum EmailConfigError {
    #[error("{0}")]
    SmtpUrl(SmtpUrlError),
    #[error("`{address}` is not an address ({cause})")]
    From {
        address: String,
        cause: lettre::address::AddressError,
    },
    #[error("name at least one address")]
    NoRecipient,
    #[error("`{address}` is not an address ({cause})")]
    To {
        address: String,
        cause: lettre::address::AddressError,
    },
    #[error("{0}")]
    Tls(lettre::transport::smtp::Error),
}

impl EmailConfigError {
    /// The channel key the problem is about.
    pub fn key(&self) -> &'static str {
        match self {
            EmailConfigError::SmtpUrl(_) | EmailConfigError::Tls(_) => "smtp_url",
            EmailConfigError::From { .. } => "from",
            EmailConfigError::NoRecipient | EmailConfigError::To { .. } => "to",
        }
    }
}

impl Email {
    pub fn new(
        smtp_url: &str,
        from: &str,
        to: &[String],
        password: Option<SecretString>,
        retries: u32,
        timeout: Duration,
    ) -> Result<Self, EmailConfigError> {
        let endpoint = parse_smtp_url(smtp_url).map_err(EmailConfigError::SmtpUrl)?;
        let from: Mailbox = from.parse().map_err(|cause| EmailConfigError::From {
            address: from.to_string(),
            cause,
        })?;
        if to.is_empty() {
            return Err(EmailConfigError::NoRecipient);
        }
        let to = to
            .iter()
            .map(|t| {
                t.parse::<Mailbox>().map_err(|cause| EmailConfigError::To {
                    address: t.to_string(),
                    cause,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls_error = EmailConfigError::Tls;
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

    pub async fn send(&self, channel: &str, doc: &Doc) -> Result<Receipt, Failure> {
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
            .map_err(|e| Failure::permanent(format!("cannot build the email: {e}")))?;
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
            .map_err(|e| Failure::permanent(format!("SMTP: {e}")))
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
        assert_eq!(e, SmtpUrlError::HoldsPassword);
        let shown = format!("{e} {e:?}");
        assert!(
            shown.contains("password_env") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(
            parse_smtp_url("http://smtp.example.com").unwrap_err(),
            SmtpUrlError::Scheme("http".into())
        );
        assert_eq!(
            parse_smtp_url("smtp://h?tls=maybe").unwrap_err(),
            SmtpUrlError::Tls("maybe".into())
        );
        assert_eq!(
            parse_smtp_url("smtps://h?tls=none").unwrap_err(),
            SmtpUrlError::TlsWithSmtps
        );
    }
}
