//! Posting a message to a service over HTTP with the retries of the
//! project's HTTP runtime (`backon`, exponential with jitter, `Retry-After`
//! honoured), bounded by the channel's time limit.
//!
//! Unlike connector requests, nothing here ever names the URL: robot and
//! webhook URLs carry their token in the path or the query.

use super::limiter::WindowLimiter;
use super::Receipt;
use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio::time::Instant;

/// The first wait after a failure; later waits double, with jitter.
const MIN_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(15);

/// Why one attempt (or, after the retries, the delivery) failed, and
/// whether another attempt may succeed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Failure {
    pub reason: String,
    pub retry: bool,
    /// The wait the service asked for, if it named one.
    pub wait: Option<Duration>,
}

impl Failure {
    pub fn permanent(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            retry: false,
            wait: None,
        }
    }

    pub fn temporary(reason: impl Into<String>) -> Self {
        Failure {
            reason: reason.into(),
            retry: true,
            wait: None,
        }
    }
}

/// The answer of one attempt, as a channel's classifier sees it.
pub struct Answer<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Answer<'_> {
    /// Judged by status alone (the channels whose services answer errors
    /// with HTTP statuses): the [`Self::status_failure`], else what `receipt`
    /// makes of a success.
    pub fn by_status(&self, receipt: impl FnOnce(&Self) -> String) -> Result<String, Failure> {
        match self.status_failure() {
            Some(f) => Err(f),
            None => Ok(receipt(self)),
        }
    }

    /// The body's start, on one line, for errors and receipts.
    pub fn snippet(&self) -> String {
        crate::http::snippet(self.body)
    }

    /// Classifies by status: throttling (429), server errors and timeouts
    /// may pass; other non-success statuses will not. `None` on success.
    pub fn status_failure(&self) -> Option<Failure> {
        let status = self.status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Some(Failure {
                reason: format!("throttled (HTTP 429): {}", self.snippet()),
                retry: true,
                wait: crate::http::parse_retry_after(self.headers),
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Some(Failure::temporary(format!(
                "server error HTTP {}: {}",
                status.as_u16(),
                self.snippet()
            )));
        }
        if !status.is_success() {
            return Some(Failure::permanent(format!(
                "HTTP {}: {}",
                status.as_u16(),
                self.snippet()
            )));
        }
        None
    }
}

/// The HTTP client could not be built (TLS backend, system configuration).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(reqwest::Error);

/// A channel URL that cannot be used. Never holds the URL: robot URLs carry
/// their token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UrlError {
    #[error("not a valid URL ({0})")]
    Invalid(url::ParseError),
    #[error("must start with https:// (or http://)")]
    Scheme,
}

/// One channel's HTTP client and retry budget.
pub struct Poster {
    client: Client,
    retries: u32,
    budget: Duration,
}

impl Poster {
    pub fn new(retries: u32, budget: Duration) -> Result<Self, ClientError> {
        let client = Client::builder()
            .user_agent(concat!("kpid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10).min(budget))
            .timeout(Duration::from_secs(30).min(budget))
            .build()
            .map_err(|e| ClientError(e.without_url()))?;
        Ok(Poster {
            client,
            retries,
            budget,
        })
    }

    /// Sends what `build` makes (again on each attempt, so signatures carry a
    /// fresh timestamp) and lets `check` judge the answer; retries what may
    /// pass while the budget allows. A robot's rate `limiter`, where it has
    /// one, is waited for before every attempt.
    pub async fn post<B, C>(
        &self,
        channel: &str,
        limiter: Option<&WindowLimiter>,
        build: B,
        check: C,
    ) -> Result<Receipt, Failure>
    where
        B: Fn(&Client) -> Result<RequestBuilder, Failure>,
        C: Fn(&Answer<'_>) -> Result<String, Failure>,
    {
        let started = Instant::now();
        let budget = self.budget;
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(MIN_DELAY)
            .with_max_delay(MAX_DELAY)
            .with_max_times(self.retries as usize);
        let attempt = || async {
            if let Some(limiter) = limiter {
                limiter.acquire().await;
            }
            let request = build(&self.client)?;
            let response = request.send().await.map_err(|e| {
                Failure::temporary(format!("cannot connect or send: {}", describe(e)))
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(|e| {
                Failure::temporary(format!("cannot read the answer: {}", describe(e)))
            })?;
            check(&Answer {
                status,
                headers: &headers,
                body: &body,
            })
        };
        attempt
            .retry(backoff)
            .when(|f: &Failure| f.retry)
            .adjust(|f, delay| {
                let wait = f.wait.or(delay)?;
                // A wait that outlasts the channel's time limit is not waited:
                // the delivery fails now, with the service's reason.
                (started.elapsed() + wait < budget).then_some(wait)
            })
            .notify(|f, wait| {
                tracing::warn!(target: "kpid::alerts", channel = %channel, reason = %f.reason,
                    wait_ms = wait.as_millis() as u64, "delivery failed; retrying")
            })
            .await
            .map(|detail| Receipt { detail })
    }
}

/// A transport error with its root cause ("connection refused", "timed
/// out"), without the URL.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".into();
    }
    let e = e.without_url();
    let mut cause: &dyn std::error::Error = &e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let top = e.to_string();
    let root = cause.to_string();
    if root == top || top.contains(&root) {
        top
    } else {
        format!("{top} ({root})")
    }
}

/// A channel's URL: checked when the channel is built, kept secret (robot
/// URLs carry their token), parsed again for each request.
pub struct Endpoint(SecretString);

impl Endpoint {
    pub fn new(url: SecretString) -> Result<Self, UrlError> {
        parse_url(url.expose_secret())?;
        Ok(Endpoint(url))
    }

    pub fn url(&self) -> Result<url::Url, Failure> {
        parse_url(self.0.expose_secret()).map_err(|e| Failure::permanent(e.to_string()))
    }

    /// The URL text, to tell robots apart (never to show).
    pub fn secret_text(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Parses a channel URL without ever echoing it.
fn parse_url(url: &str) -> Result<url::Url, UrlError> {
    let parsed = url::Url::parse(url.trim()).map_err(UrlError::Invalid)?;
    match parsed.scheme() {
        "https" | "http" => Ok(parsed),
        _ => Err(UrlError::Scheme),
    }
}
