//! The HTTP runtime shared by platform connectors: one client with timeouts,
//! gzip and a user agent; a per-connector request rate; retries with
//! exponential backoff and jitter (`backon`) that honour `Retry-After`; and
//! errors that say whether trying again can help.

pub mod oauth;
pub mod pagination;
pub mod platform_errors;
pub mod sign;
mod transport;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, StatusCode};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Below HTTP: `message` names the cause (refused, DNS, TLS, a timeout
    /// with its limit).
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: throttled (HTTP {status}){}", retry_after.map(|d| format!(", retry after {:.1}s", d.as_secs_f64())).unwrap_or_default())]
    Throttled {
        url: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("{url}: server error HTTP {status}: {body}")]
    Server {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: the response is not the JSON expected ({message}); body starts `{snippet}`")]
    Malformed {
        url: String,
        message: String,
        snippet: String,
    },
    #[error("{url}: HTTP {status}: {body} — {hint}")]
    Rejected {
        url: String,
        status: u16,
        body: String,
        hint: String,
    },
}

impl HttpError {
    /// Throttling, server errors, broken pages and network faults may pass.
    pub fn retryable(&self) -> bool {
        !matches!(self, HttpError::Rejected { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Fills in what a body classifier cannot know: the URL, the HTTP status
    /// (where it left 0) and, for throttling without a named wait, the
    /// response's `Retry-After`.
    fn locate(mut self, at: &str, code: u16, header_wait: Option<Duration>) -> Self {
        match &mut self {
            HttpError::Transport { url, .. } | HttpError::Malformed { url, .. } => {
                if url.is_empty() {
                    *url = at.to_string();
                }
            }
            HttpError::Throttled {
                url,
                status,
                retry_after,
            } => {
                if url.is_empty() {
                    *url = at.to_string();
                }
                if *status == 0 {
                    *status = code;
                }
                if retry_after.is_none() {
                    *retry_after = header_wait;
                }
            }
            HttpError::Server { url, status, .. } | HttpError::Rejected { url, status, .. } => {
                if url.is_empty() {
                    *url = at.to_string();
                }
                if *status == 0 {
                    *status = code;
                }
            }
        }
        self
    }
}

/// Why a page's body is not what its parser expects; the client reports it
/// as [`HttpError::Malformed`] (retried, then failed).
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The body does not decode as `what` ("a TOP answer", "an order list").
    #[error("not {what}: {cause}")]
    Undecodable {
        what: String,
        cause: serde_json::Error,
    },
    /// A part of the answer (a member, a count) is absent or unreadable.
    #[error(transparent)]
    Field(#[from] crate::facts::FieldError),
    /// The answer says the call failed (an error inside an HTTP 200):
    /// `call` names it, `detail` holds the platform's code and message.
    #[error("{call} did not succeed ({detail})")]
    Failed { call: String, detail: String },
}

impl PageError {
    pub fn undecodable(what: impl Into<String>, cause: serde_json::Error) -> Self {
        PageError::Undecodable {
            what: what.into(),
            cause,
        }
    }
}

/// Reads `Retry-After` as integer or decimal seconds (Shopify sends `2.0`).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// Retry policy of a connector.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(300),
        }
    }
}

/// Spaces requests evenly: at most `rate` per second.
#[derive(Debug)]
struct RateLimiter {
    gap: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    async fn wait(&self) {
        if self.gap.is_zero() {
            return;
        }
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.gap;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// How long a request may wait: to connect, and for each read of the
/// response (headers or body) once connected.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(60),
        }
    }
}

/// A connector's HTTP client.
#[derive(Debug)]
pub struct HttpClient {
    client: Client,
    timeouts: Timeouts,
    limiter: RateLimiter,
    policy: RetryPolicy,
    connector: String,
    /// Reads a platform's own "wait this long" header (Meta's
    /// `X-Business-Use-Case-Usage`) where `Retry-After` is absent.
    header_wait: Option<fn(&HeaderMap) -> Option<Duration>>,
}

/// A successful response: its headers and parsed body.
pub struct Page<T> {
    pub headers: HeaderMap,
    pub body: T,
}

impl HttpClient {
    /// `requests_per_second` of 0 means unlimited.
    pub fn new(
        connector: &str,
        requests_per_second: f64,
        policy: RetryPolicy,
    ) -> Result<Self, HttpError> {
        Self::with_timeouts(connector, requests_per_second, policy, Timeouts::default())
    }

    /// As [`new`](Self::new), with other limits than the default 10 s to
    /// connect and 60 s per read.
    pub fn with_timeouts(
        connector: &str,
        requests_per_second: f64,
        policy: RetryPolicy,
        timeouts: Timeouts,
    ) -> Result<Self, HttpError> {
        let client = Client::builder()
            .user_agent(concat!("kpid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.read)
            .gzip(true)
            .build()
            .map_err(|e| HttpError::Transport {
                url: String::new(),
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let gap = if requests_per_second > 0.0 {
            Duration::from_secs_f64(1.0 / requests_per_second)
        } else {
            Duration::ZERO
        };
        Ok(HttpClient {
            client,
            timeouts,
            limiter: RateLimiter {
                gap,
                next: Mutex::new(Instant::now()),
            },
            policy,
            connector: connector.to_string(),
            header_wait: None,
        })
    }

    /// Adds a reader for a platform's own wait header, used for throttled
    /// responses that carry no `Retry-After` and whose body names no wait.
    pub fn with_header_wait(mut self, read: fn(&HeaderMap) -> Option<Duration>) -> Self {
        self.header_wait = Some(read);
        self
    }

    /// The connector whose requests this client sends (for log lines).
    pub fn connector(&self) -> &str {
        &self.connector
    }

    pub fn inner(&self) -> &Client {
        &self.client
    }

    /// Sends the request built by `build` (again on each attempt) and parses
    /// the JSON body as `T`, retrying what may pass. `hint` explains what to
    /// fix when the platform refuses the credentials.
    pub async fn get_json<T, B>(&self, build: B, hint: &str) -> Result<Page<T>, HttpError>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        B: Fn(&Client) -> RequestBuilder,
    {
        self.get_json_checked(build, hint, |_: &[u8]| None).await
    }

    /// As [`get_json`](Self::get_json), with a platform classifier `check`
    /// run on every response body (see [`get_checked`](Self::get_checked)).
    pub async fn get_json_checked<T, B, C>(
        &self,
        build: B,
        hint: &str,
        check: C,
    ) -> Result<Page<T>, HttpError>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
        B: Fn(&Client) -> RequestBuilder,
        C: Fn(&[u8]) -> Option<HttpError> + Send + Sync + 'static,
    {
        self.get_checked(
            build,
            hint,
            |bytes: &[u8]| serde_json::from_slice::<T>(bytes),
            check,
        )
        .await
    }

    /// Sends the request built by `build` as [`get_json`](Self::get_json)
    /// does, its body read by the caller's `parse`, which runs on a blocking
    /// thread so large pages parse in parallel with fetching and committing
    /// (a parser error is a malformed page: retried, then failed).
    ///
    /// `check` classifies bodies by the platform's own error envelope (see
    /// [`platform_errors`]); `|_: &[u8]| None` where there is none. On a
    /// success status it runs before `parse` (on the blocking thread) so an
    /// HTTP 200 that says "throttled" becomes a retryable
    /// [`HttpError::Throttled`] and one that says "bad signature" a
    /// [`HttpError::Rejected`] naming the credential; on an error status it
    /// refines the status-based classification (Meta's throttling arrives
    /// as HTTP 400). `None` leaves the response to the usual handling. The
    /// classifier may leave `url` empty and `status` 0: they are filled in.
    ///
    /// A wait named by the platform (`Retry-After`, "ban will last for N
    /// more seconds") replaces the backoff delay; one longer than the
    /// policy's `max_total` ends the retries at once, as does running out of
    /// attempts.
    pub async fn get_checked<T, B, P, C, E>(
        &self,
        build: B,
        hint: &str,
        parse: P,
        check: C,
    ) -> Result<Page<T>, HttpError>
    where
        T: Send + 'static,
        B: Fn(&Client) -> RequestBuilder,
        P: Fn(&[u8]) -> Result<T, E> + Send + Sync + 'static,
        E: std::fmt::Display + Send + 'static,
        C: Fn(&[u8]) -> Option<HttpError> + Send + Sync + 'static,
    {
        let policy = self.policy;
        let backoff = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_attempts.saturating_sub(1))
            .with_total_delay(Some(policy.max_total));
        let parse = std::sync::Arc::new(parse);
        let check = std::sync::Arc::new(check);
        let attempt = || async {
            self.limiter.wait().await;
            self.once(build(&self.client), hint, parse.clone(), check.clone())
                .await
        };
        attempt
            .retry(backoff)
            .when(HttpError::retryable)
            .adjust(|e, d| next_wait(e.retry_after(), d, policy.max_total))
            .notify(|e, d| {
                tracing::warn!(connector = %self.connector, error = %e, wait_ms = d.as_millis() as u64, "request failed; retrying")
            })
            .await
    }

    async fn once<T, P, C, E>(
        &self,
        req: RequestBuilder,
        hint: &str,
        parse: std::sync::Arc<P>,
        check: std::sync::Arc<C>,
    ) -> Result<Page<T>, HttpError>
    where
        T: Send + 'static,
        P: Fn(&[u8]) -> Result<T, E> + Send + Sync + 'static,
        E: std::fmt::Display + Send + 'static,
        C: Fn(&[u8]) -> Option<HttpError> + Send + Sync + 'static,
    {
        let resp = req
            .send()
            .await
            .map_err(|e| transport::error(&e, self.timeouts))?;
        let url = strip_query(resp.url().as_str());
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport::error(&e, self.timeouts))?;
        let header_wait = parse_retry_after(&headers)
            .or_else(|| self.header_wait.and_then(|read| read(&headers)));
        if !status.is_success() {
            if let Some(e) = check(&bytes) {
                return Err(e.locate(&url, status.as_u16(), header_wait));
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(HttpError::Throttled {
                url,
                status: status.as_u16(),
                retry_after: header_wait,
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Err(HttpError::Server {
                url,
                status: status.as_u16(),
                body: snippet(&bytes),
            });
        }
        if !status.is_success() {
            return Err(HttpError::Rejected {
                url,
                status: status.as_u16(),
                body: snippet(&bytes),
                hint: hint.to_string(),
            });
        }
        let parsed = {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || match check(&bytes) {
                Some(e) => Err(Err(e)),
                None => parse(&bytes).map_err(Ok),
            })
            .await
        };
        let body = match parsed {
            Ok(Ok(body)) => body,
            Ok(Err(Err(platform))) => {
                return Err(platform.locate(&url, status.as_u16(), header_wait))
            }
            Ok(Err(Ok(message))) => {
                return Err(HttpError::Malformed {
                    url,
                    message: message.to_string(),
                    snippet: snippet(&bytes),
                })
            }
            Err(join) => {
                return Err(HttpError::Malformed {
                    url,
                    message: format!("the parser failed: {join}"),
                    snippet: snippet(&bytes),
                })
            }
        };
        Ok(Page { headers, body })
    }
}

/// The wait before the next attempt: none when the backoff is spent
/// (attempts or total time) or the platform's named wait exceeds the whole
/// retry budget (a daily quota ban is not waited out); else the named wait,
/// or the backoff's delay.
fn next_wait(
    named: Option<Duration>,
    backoff: Option<Duration>,
    budget: Duration,
) -> Option<Duration> {
    let backoff = backoff?;
    match named {
        Some(w) if w > budget => None,
        Some(w) => Some(w),
        None => Some(backoff),
    }
}

/// Adds an API key as the query parameter `name` (e.g. `key=`). The URL then
/// carries a secret: everything logged or put in errors goes through
/// [`strip_query`], as [`HttpClient`] does.
pub fn query_key(req: RequestBuilder, name: &str, key: &secrecy::SecretString) -> RequestBuilder {
    use secrecy::ExposeSecret;
    req.query(&[(name, key.expose_secret())])
}

/// Query strings may carry keys and signatures: logs and errors show the path only.
pub fn strip_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(160)]);
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_takes_integers_and_decimals() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2.0"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(1)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn named_waits_replace_the_backoff_within_its_budget() {
        let s = Duration::from_secs;
        let budget = s(300);
        // The platform's wait replaces the backoff delay.
        assert_eq!(next_wait(Some(s(2)), Some(s(1)), budget), Some(s(2)));
        assert_eq!(next_wait(None, Some(s(1)), budget), Some(s(1)));
        // A spent backoff ends the retries even when the platform names a
        // wait (a server always sending Retry-After must not loop forever).
        assert_eq!(next_wait(Some(s(2)), None, budget), None);
        // A ban longer than the whole budget is not waited out.
        assert_eq!(next_wait(Some(s(71915)), Some(s(1)), budget), None);
    }

    #[test]
    fn query_key_is_stripped_from_logged_urls() {
        let client = Client::new();
        let key = secrecy::SecretString::from("AIzaSECRETKEY123");
        let req = query_key(client.get("https://api.example/v1/report?x=1"), "key", &key)
            .build()
            .unwrap();
        assert_eq!(
            req.url().as_str(),
            "https://api.example/v1/report?x=1&key=AIzaSECRETKEY123"
        );
        let logged = strip_query(req.url().as_str());
        assert_eq!(logged, "https://api.example/v1/report");
        assert!(!logged.contains("AIzaSECRETKEY123"));
    }
}
