//! OAuth2 access tokens that are minted, cached until shortly before
//! `expires_in` and renewed early when the API answers 401:
//!
//! - [`RefreshTokenSource`]: the refresh-token flow (RFC 6749 §6), as Google
//!   Ads uses it: POST `grant_type=refresh_token&refresh_token=…&client_id=…
//!   &client_secret=…` (form-encoded) to the token URL;
//! - [`ServiceAccountTokenSource`]: a Google service-account key exchanged
//!   for a token with a signed RS256 JWT (the JWT-bearer grant, RFC 7523),
//!   as GA4 (the Rust `ga4` kind and the `ga4_rest` definition) uses it.

use super::{HttpClient, HttpError};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A cached token is renewed this long before the server says it expires
/// (or halfway through its life, if that is shorter).
const MARGIN: Duration = Duration::from_secs(120);
/// Lifetime assumed when the server names none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

const TOKEN_HINT: &str = "the token endpoint refused the request: check the connector's client_id, client_secret and refresh_token";

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
    /// Some servers rotate the refresh token.
    #[serde(default)]
    refresh_token: Option<SecretString>,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

impl Cached {
    /// A token fetched at `fetched` that lives `expires_in` seconds (or
    /// [`DEFAULT_LIFETIME`]): renewed [`MARGIN`] early, or halfway through a
    /// shorter life.
    fn new(token: SecretString, fetched: Instant, expires_in: Option<u64>) -> (Self, Duration) {
        let lifetime = expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        let early = MARGIN.min(lifetime / 2);
        let cached = Cached {
            token,
            renew_at: fetched + lifetime.saturating_sub(early),
        };
        (cached, lifetime)
    }

    fn fresh(&self) -> Option<SecretString> {
        (Instant::now() < self.renew_at).then(|| self.token.clone())
    }

    fn is(&self, token: &SecretString) -> bool {
        self.token.expose_secret() == token.expose_secret()
    }
}

struct State {
    refresh_token: SecretString,
    cached: Option<Cached>,
}

/// Access tokens minted from a refresh token, cached and renewed.
pub struct RefreshTokenSource {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    state: Mutex<State>,
}

impl std::fmt::Debug for RefreshTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenSource")
            .field("token_url", &super::strip_query(&self.token_url))
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Classifies the token endpoint's RFC 6749 §5.2 error body so the message
/// names what to fix.
fn token_error(body: &[u8]) -> Option<HttpError> {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
    }
    let e: OAuthError = serde_json::from_slice(body).ok()?;
    let hint = match e.error.as_str() {
        "invalid_grant" => {
            "the refresh_token was refused (expired, revoked, or issued to another client_id): authorize again and set a new refresh_token"
        }
        "invalid_client" | "unauthorized_client" => {
            "the OAuth client was refused: check the connector's client_id and client_secret"
        }
        "temporarily_unavailable" => {
            return Some(HttpError::Server {
                url: String::new(),
                status: 0,
                body: super::snippet(body),
            })
        }
        _ => return None,
    };
    Some(HttpError::Rejected {
        url: String::new(),
        status: 0,
        body: super::snippet(body),
        hint: hint.into(),
    })
}

impl RefreshTokenSource {
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        refresh_token: SecretString,
    ) -> Self {
        RefreshTokenSource {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            state: Mutex::new(State {
                refresh_token,
                cached: None,
            }),
        }
    }

    /// A valid access token: the cached one, or a new one from the token URL.
    pub async fn token(&self, http: &HttpClient) -> Result<SecretString, HttpError> {
        let mut state = self.state.lock().await;
        if let Some(token) = state.cached.as_ref().and_then(Cached::fresh) {
            return Ok(token);
        }
        let fetched = Instant::now();
        let refresh_token = state.refresh_token.clone();
        let page = http
            .get_json_checked::<TokenResponse, _, _>(
                |c| {
                    c.post(self.token_url.as_str())
                        .header("Accept", "application/json")
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("refresh_token", refresh_token.expose_secret()),
                            ("client_id", self.client_id.as_str()),
                            ("client_secret", self.client_secret.expose_secret()),
                        ])
                },
                TOKEN_HINT,
                token_error,
            )
            .await?;
        if let Some(rotated) = page.body.refresh_token {
            state.refresh_token = rotated;
        }
        let token = page.body.access_token;
        let (cached, lifetime) = Cached::new(token.clone(), fetched, page.body.expires_in);
        state.cached = Some(cached);
        tracing::debug!(
            token_url = %super::strip_query(&self.token_url),
            expires_in = lifetime.as_secs(),
            "obtained an OAuth access token"
        );
        Ok(token)
    }

    /// Says that `stale` was refused (HTTP 401): the next
    /// [`token`](Self::token) fetches a new one. A token other than the
    /// cached one (already replaced by a concurrent caller) changes nothing.
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut state = self.state.lock().await;
        if state.cached.as_ref().is_some_and(|c| c.is(stale)) {
            state.cached = None;
        }
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Lifetime asked for in the assertion (Google's maximum).
const ASSERTION_LIFETIME_SECS: i64 = 3600;

/// The fields of a Google service-account JSON key that the JWT flow needs.
/// The two it cannot do without are optional here so that a missing one is
/// told by its name, not found in serde's message.
#[derive(Deserialize)]
struct ServiceAccountKey {
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<SecretString>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct AssertionTokenResponse {
    access_token: SecretString,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Access tokens for a Google service account: a JWT signed with the key's
/// RS256 private key is exchanged at the key's `token_uri` (RFC 7523), and
/// the token is cached and renewed.
pub struct ServiceAccountTokenSource {
    client_email: String,
    key: jsonwebtoken::EncodingKey,
    key_id: Option<String>,
    token_uri: String,
    scope: String,
    /// What to check when the token endpoint refuses the key.
    hint: String,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for ServiceAccountTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokenSource")
            .field("client_email", &self.client_email)
            .field("token_uri", &super::strip_query(&self.token_uri))
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why a service-account JSON key cannot be used. Says where the text is
/// wrong, never what it holds (the key is a secret). The messages follow the
/// caller's "credentials_file `path`".
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("is not a service-account JSON key: missing field `{0}`")]
    MissingField(&'static str),
    #[error(
        "is not a service-account JSON key: a field has the wrong type at line {line} column {column}"
    )]
    WrongType { line: usize, column: usize },
    #[error("is not a service-account JSON key: not JSON (line {line} column {column})")]
    NotJson { line: usize, column: usize },
    #[error("private_key is not an RSA PEM key: {0}")]
    NotRsa(jsonwebtoken::errors::Error),
}

impl ServiceAccountTokenSource {
    /// Reads a service-account JSON key. The error says what is wrong
    /// without quoting the key; `hint` is what a refusal by the token
    /// endpoint tells the user to check (it names the option).
    pub fn from_key_json(text: &str, scope: &str, hint: &str) -> Result<Self, KeyFileError> {
        let sa: ServiceAccountKey = serde_json::from_str(text).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            match e.classify() {
                serde_json::error::Category::Data => KeyFileError::WrongType { line, column },
                _ => KeyFileError::NotJson { line, column },
            }
        })?;
        let client_email = sa
            .client_email
            .ok_or(KeyFileError::MissingField("client_email"))?;
        let private_key = sa
            .private_key
            .ok_or(KeyFileError::MissingField("private_key"))?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
            .map_err(KeyFileError::NotRsa)?;
        Ok(ServiceAccountTokenSource {
            client_email,
            key,
            key_id: sa.private_key_id,
            token_uri: sa.token_uri.unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string()),
            scope: scope.to_string(),
            hint: hint.to_string(),
            cached: Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, or a new one for a fresh
    /// signed assertion.
    pub async fn token(&self, http: &HttpClient) -> Result<SecretString, HttpError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().and_then(Cached::fresh) {
            return Ok(token);
        }
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: &self.client_email,
            scope: &self.scope,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion = SecretString::from(
            jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| HttpError::Rejected {
                url: super::strip_query(&self.token_uri),
                status: 0,
                body: format!("cannot sign the token request: {e}"),
                hint: self.hint.clone(),
            })?,
        );
        let fetched = Instant::now();
        let page = http
            .get_json::<AssertionTokenResponse, _>(
                |c| {
                    c.post(self.token_uri.as_str())
                        .header("Accept", "application/json")
                        .form(&[
                            ("grant_type", JWT_BEARER),
                            ("assertion", assertion.expose_secret()),
                        ])
                },
                &self.hint,
            )
            .await?;
        let token = page.body.access_token;
        let (fresh, lifetime) = Cached::new(token.clone(), fetched, page.body.expires_in);
        *cached = Some(fresh);
        tracing::debug!(
            client_email = %self.client_email,
            expires_in = lifetime.as_secs(),
            "obtained a service-account access token"
        );
        Ok(token)
    }

    /// Says that `stale` was refused: the next [`token`](Self::token) mints
    /// a new one (unless a concurrent caller already did).
    pub async fn invalidate(&self, stale: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.is(stale)) {
            *cached = None;
        }
    }

    /// Runs `call` with a token; when the API refuses it with HTTP 401 (a
    /// minted token may be revoked or expire early) the token is discarded
    /// and `call` runs once more with a new one.
    pub async fn authorized<T, F, Fut>(&self, http: &HttpClient, call: F) -> Result<T, HttpError>
    where
        F: Fn(SecretString) -> Fut,
        Fut: Future<Output = Result<T, HttpError>>,
    {
        let token = self.token(http).await?;
        match call(token.clone()).await {
            Err(HttpError::Rejected { status: 401, .. }) => {
                tracing::info!(
                    connector = %http.connector(),
                    client_email = %self.client_email,
                    "access token refused (HTTP 401); requesting a new one"
                );
                self.invalidate(&token).await;
                call(self.token(http).await?).await
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_name_the_credential() {
        let e = token_error(br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#).unwrap();
        assert!(!e.retryable());
        assert!(e.to_string().contains("refresh_token"));
        let e = token_error(br#"{"error":"invalid_client"}"#).unwrap();
        assert!(e.to_string().contains("client_secret"));
        assert!(token_error(br#"{"error":"temporarily_unavailable"}"#)
            .unwrap()
            .retryable());
        assert!(token_error(br#"{"access_token":"x"}"#).is_none());
    }

    #[test]
    fn service_account_keys_are_read_without_quoting_them() {
        const KEY: &str = include_str!("../../tests/fixtures/ga4_throwaway_service_account.json");
        let s = ServiceAccountTokenSource::from_key_json(KEY, "https://scope", "check k").unwrap();
        let d = format!("{s:?}");
        assert!(d.contains("client_email"), "{d}");
        assert!(!d.contains("PRIVATE KEY"), "{d}");
        let e = ServiceAccountTokenSource::from_key_json(
            r#"{"client_email":"a@b","private_key":"SECRET-PEM-77"}"#,
            "s",
            "h",
        )
        .unwrap_err();
        assert!(matches!(e, KeyFileError::NotRsa(_)), "{e:?}");
        let e = format!("{e} {e:?}");
        assert!(e.contains("RSA") && !e.contains("SECRET-PEM-77"), "{e}");
        let e = ServiceAccountTokenSource::from_key_json(
            r#"{"client_email":"a@b","private_key":["SECRET-PEM-78"]}"#,
            "s",
            "h",
        )
        .unwrap_err();
        assert!(matches!(e, KeyFileError::WrongType { .. }), "{e:?}");
        let e = format!("{e} {e:?}");
        assert!(
            e.contains("wrong type") && !e.contains("SECRET-PEM-78"),
            "{e}"
        );
        let e = ServiceAccountTokenSource::from_key_json(r#"{"private_key":"x"}"#, "s", "h")
            .unwrap_err();
        assert!(
            matches!(e, KeyFileError::MissingField("client_email")),
            "{e:?}"
        );
        assert!(e.to_string().contains("`client_email`"), "{e}");
        let e = ServiceAccountTokenSource::from_key_json(r#"{"client_email":"a@b"}"#, "s", "h")
            .unwrap_err();
        assert!(
            matches!(e, KeyFileError::MissingField("private_key")),
            "{e:?}"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let s = RefreshTokenSource::new(
            "https://oauth2.example/token",
            "cid",
            SecretString::from("CLIENT-SECRET-1"),
            SecretString::from("REFRESH-TOKEN-1"),
        );
        let d = format!("{s:?}");
        assert!(d.contains("cid"));
        assert!(!d.contains("CLIENT-SECRET-1"));
        assert!(!d.contains("REFRESH-TOKEN-1"));
    }
}
