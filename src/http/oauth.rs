//! OAuth2 refresh-token flow (RFC 6749 §6), as Google Ads uses it: POST
//! `grant_type=refresh_token&refresh_token=…&client_id=…&client_secret=…`
//! (form-encoded) to the token URL, cache the `access_token` until shortly
//! before `expires_in`, and refresh early when the API answers 401.

use super::{HttpClient, HttpError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
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
        if let Some(c) = &state.cached {
            if Instant::now() < c.renew_at {
                return Ok(c.token.clone());
            }
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
        let lifetime = page
            .body
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        let early = MARGIN.min(lifetime / 2);
        if let Some(rotated) = page.body.refresh_token {
            state.refresh_token = rotated;
        }
        let token = page.body.access_token;
        state.cached = Some(Cached {
            token: token.clone(),
            renew_at: fetched + lifetime.saturating_sub(early),
        });
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
        if state
            .cached
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == stale.expose_secret())
        {
            state.cached = None;
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
