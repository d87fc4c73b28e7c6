//! Google Ads API: `POST /{api_version}/customers/{customer_id}/googleAds:searchStream`
//! with a GAQL query over `campaign` segmented by `segments.date`. The answer
//! is a JSON array of batches (`results`, `fieldMask`, `requestId`), each
//! committed as it is read. int64 metrics come as strings, `conversions` and
//! `conversionsValue` as JSON doubles, and proto3 JSON leaves out metrics
//! that are zero.
//!
//! Inputs, per campaign (`dimension` = campaign id) on the report's date (the
//! ad account's day), for the connector's shop: `ad_spend` = cost_micros (the
//! account currency), `ad_impressions`, `ad_clicks`, `ad_orders` =
//! conversions, `ad_gmv` = conversions_value. Google Ads has no landing or
//! visitor count that matches `ad_arrivals` / `ad_uv`, so they are not written.
//! Conversions are fractional under data-driven attribution and arrive as
//! doubles: their exact decimal text is rounded to six places (micros).
//!
//! Credentials: a `developer_token`, and either an OAuth2 `refresh_token`
//! with `client_id`/`client_secret` (access tokens are minted, cached and
//! renewed once on a 401) or a fixed `access_token`. `login_customer_id`
//! names the manager account when access goes through one.

use super::ad_days::run_report;
use super::options::KindOptions;
use super::options::{check_base_url, Building, OptionProblem, Polling, PollingSpec, Secrets};
use super::records::{map_records, Rejected};
use super::{http_error, Connector, ConnectorError, Sink, Window};
use crate::facts::{echo, Batch, DailyValue, FieldError};
use crate::http::oauth::RefreshTokenSource;
use crate::http::{platform_errors, strip_query, HttpClient, HttpError, PageError};
use crate::ids::ShopId;
use crate::money::to_micros;
use crate::period::{today, LocalDay};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::mpsc;

const HINT: &str = "check the connector's customer_id (the account's 10-digit id), login_customer_id (the manager account's id, when access goes through one), developer_token and OAuth credentials";
const REFRESHED_HINT: &str = "Google Ads refused the access token minted from the refresh_token: check that refresh_token, client_id and client_secret belong to a Google user with access to customer_id";
const STATIC_HINT: &str = "Google Ads refused the access_token (expired, revoked or for a user without access): set a fresh one, or set refresh_token with client_id and client_secret so kpid renews it";

fn default_base_url() -> String {
    "https://googleads.googleapis.com".into()
}
fn default_api_version() -> String {
    "v24".into()
}
fn default_token_url() -> String {
    "https://oauth2.googleapis.com/token".into()
}
fn default_slice_days() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleAdsOptions {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The API version in the path (`v24`).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The OAuth2 token endpoint (for a mock or proxy).
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// The advertiser's account id (`123-456-7890` or `1234567890`).
    pub customer_id: String,
    /// The manager account the access goes through, if any.
    #[serde(default)]
    pub login_customer_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    /// Days per searchStream request.
    #[serde(default = "default_slice_days")]
    pub slice_days: u32,
}

/// A customer id without its dashes, or `None` if it is not one.
fn customer_digits(id: &str) -> Option<String> {
    let digits: String = id.trim().chars().filter(|c| *c != '-').collect();
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

impl KindOptions for GoogleAdsOptions {
    const POLLING: PollingSpec = PollingSpec {
        initial_days: None,
        page_size: None,
        ..PollingSpec::paged(3, 2, 2.0, 0, 0)
    };
    const SECRETS: &'static [&'static str] = &[
        "developer_token",
        "client_secret",
        "refresh_token",
        "access_token",
    ];

    fn check(&self) -> Result<(), OptionProblem> {
        check_base_url(&self.base_url)?;
        check_base_url(&self.token_url).map_err(|p| OptionProblem::new("token_url", p.message))?;
        let bad_id = |key: &str, v: &str| {
            OptionProblem::new(
                key,
                format!("`{v}` is not a Google Ads customer id (digits, e.g. 123-456-7890)"),
            )
        };
        if customer_digits(&self.customer_id).is_none() {
            return Err(bad_id("customer_id", &self.customer_id));
        }
        if let Some(l) = &self.login_customer_id {
            if customer_digits(l).is_none() {
                return Err(bad_id("login_customer_id", l));
            }
        }
        if !(1..=366).contains(&self.slice_days) {
            return Err(OptionProblem::new(
                "slice_days",
                "must be between 1 and 366",
            ));
        }
        Ok(())
    }

    /// One way to an access token: a refresh token with its OAuth client,
    /// or the token itself.
    fn check_secrets(&self, secrets: &Secrets) -> Result<(), OptionProblem> {
        let given = |name: &str| secrets.get(name).is_given();
        let (refresh, access) = (given("refresh_token"), given("access_token"));
        match (refresh, access) {
            (true, true) => {
                return Err(OptionProblem::new("access_token", "set either `refresh_token` (with client_id and client_secret) or `access_token`, not both"))
            }
            (false, false) => {
                return Err(OptionProblem::new("refresh_token", "set `refresh_token` (with client_id and client_secret), or `access_token`"))
            }
            (true, false) if self.client_id.as_deref().unwrap_or("").is_empty() => {
                return Err(OptionProblem::new("client_id", "a refresh_token needs the OAuth client's client_id"))
            }
            (true, false) if !given("client_secret") => {
                return Err(OptionProblem::new("client_secret", "a refresh_token needs the OAuth client's client_secret"))
            }
            _ => {}
        }
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        let developer_token = with.secret("developer_token")?;
        let options = self;
        let auth = if with.secrets.get("refresh_token").is_given() {
            Auth::Refresh(RefreshTokenSource::new(
                options.token_url.clone(),
                options.client_id.clone().unwrap_or_default(),
                with.secret("client_secret")?,
                with.secret("refresh_token")?,
            ))
        } else {
            Auth::Static(with.secret("access_token")?)
        };
        let (shop, tz) = with.shop()?;
        let http = with.http(with.polling.requests_per_second)?;
        Ok(Connector::GoogleAds(Arc::new(GoogleAdsConnector {
            name: with.name(),
            shop,
            tz,
            customer_id: customer_digits(&options.customer_id).unwrap_or_default(),
            login_customer_id: options
                .login_customer_id
                .as_deref()
                .and_then(customer_digits),
            options,
            polling: with.polling,
            developer_token,
            auth,
            http: Arc::new(http),
        })))
    }
}

enum Auth {
    Static(SecretString),
    Refresh(RefreshTokenSource),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Static(_) => f.write_str("Auth::Static(***)"),
            Auth::Refresh(s) => write!(f, "Auth::Refresh({s:?})"),
        }
    }
}

#[derive(Debug)]
pub struct GoogleAdsConnector {
    pub name: String,
    shop: ShopId,
    tz: Tz,
    options: GoogleAdsOptions,
    polling: Polling,
    customer_id: String,
    login_customer_id: Option<String>,
    developer_token: SecretString,
    auth: Auth,
    http: Arc<HttpClient>,
}

impl GoogleAdsConnector {
    fn stream_url(&self) -> String {
        format!(
            "{}/{}/customers/{}/googleAds:searchStream",
            self.options.base_url.trim_end_matches('/'),
            self.options.api_version,
            self.customer_id
        )
    }

    fn http_err(&self, source: HttpError) -> ConnectorError {
        http_error(&self.name)(source)
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        run_report(
            window,
            today(self.tz),
            self.polling.lookback_days,
            self.options.slice_days,
            self.polling.concurrency,
            sink,
            |(from, to), tx| self.fetch_slice(from, to, tx),
        )
        .await
    }

    async fn access_token(&self) -> Result<SecretString, ConnectorError> {
        match &self.auth {
            Auth::Static(t) => Ok(t.clone()),
            Auth::Refresh(source) => source.token(&self.http).await.map_err(|e| self.http_err(e)),
        }
    }

    async fn fetch_slice(
        &self,
        from: LocalDay,
        to: LocalDay,
        tx: mpsc::Sender<Batch>,
    ) -> Result<(), ConnectorError> {
        let url = self.stream_url();
        let body = serde_json::json!({ "query": gaql(from, to) });
        let auth_hint = match self.auth {
            Auth::Static(_) => STATIC_HINT,
            Auth::Refresh(_) => REFRESHED_HINT,
        };
        let mut renewed = false;
        let batches = loop {
            let token = self.access_token().await?;
            let mapper = Mapper {
                shop: self.shop.clone(),
                source: strip_query(&url),
                from,
                to,
            };
            let result = self
                .http
                .get_checked(
                    |c| {
                        let mut req = c
                            .post(&url)
                            .bearer_auth(token.expose_secret())
                            .header("developer-token", self.developer_token.expose_secret())
                            .header("Accept", "application/json")
                            .json(&body);
                        if let Some(login) = &self.login_customer_id {
                            req = req.header("login-customer-id", login);
                        }
                        req
                    },
                    HINT,
                    move |bytes: &[u8]| mapper.stream_facts(bytes),
                    move |bytes: &[u8]| ads_error(bytes, auth_hint),
                )
                .await;
            match (result, &self.auth) {
                (Ok(page), _) => break page.body,
                // A cached token may be revoked or expire early: mint one more,
                // unless Google says the developer token is what it refuses.
                (
                    Err(HttpError::Rejected {
                        status: 401, hint, ..
                    }),
                    Auth::Refresh(source),
                ) if !renewed && !hint.contains("developer_token") => {
                    tracing::info!(connector = %self.name, "access token refused (HTTP 401); requesting a new one");
                    source.invalidate(&token).await;
                    renewed = true;
                }
                (Err(e), _) => return Err(self.http_err(e)),
            }
        };
        for batch in batches {
            if tx.send(batch).await.is_err() {
                // The committer stopped on an error; it reports it.
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The report query for `[from, to]` (inclusive).
fn gaql(from: LocalDay, to: LocalDay) -> String {
    format!(
        "SELECT segments.date, campaign.id, metrics.cost_micros, metrics.impressions, \
         metrics.clicks, metrics.conversions, metrics.conversions_value FROM campaign \
         WHERE segments.date BETWEEN '{from}' AND '{to}'"
    )
}

/// Classifies Google Ads error bodies (a `{"error":…}` object or a stream
/// array holding one): throttling and passing faults as Google APIs do, and
/// refusals with a hint naming what `details[].errors[].errorCode` blames.
fn ads_error(body: &[u8], auth_hint: &str) -> Option<HttpError> {
    // Report pages are large and error envelopes rare: skip the full parse
    // unless an `"error"` key can be there.
    if !body.windows(7).any(|w| w == b"\"error\"") {
        return None;
    }
    if let Some(e) = platform_errors::google(body) {
        return Some(e);
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = match &v {
        Value::Array(items) => items.iter().find_map(|i| i.get("error"))?,
        other => other.get("error")?,
    };
    let status = e.get("status").and_then(Value::as_str).unwrap_or_default();
    let message = e.get("message").and_then(Value::as_str).unwrap_or_default();
    let codes: Vec<(String, String)> = e
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("errors").and_then(Value::as_array))
        .flatten()
        .filter_map(|err| err.get("errorCode").and_then(Value::as_object))
        .flat_map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        })
        .collect();
    let named = codes
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let has = |pred: &dyn Fn(&str, &str) -> bool| codes.iter().any(|(k, v)| pred(k, v));
    let hint = if has(&|_, v| v.starts_with("DEVELOPER_TOKEN")) {
        format!("Google Ads refused the developer_token ({named}): check the connector's developer_token (API Center of the manager account) and that its access level allows this account")
    } else if has(&|_, v| v == "USER_PERMISSION_DENIED") {
        format!("the OAuth user has no access to customer_id ({named}): when access goes through a manager account, set login_customer_id to that manager's id")
    } else if has(&|_, v| {
        matches!(
            v,
            "CUSTOMER_NOT_ENABLED" | "CUSTOMER_NOT_FOUND" | "CLIENT_CUSTOMER_ID_INVALID"
        )
    }) {
        format!("Google Ads does not serve this customer_id ({named}): check the connector's customer_id")
    } else if status == "UNAUTHENTICATED" || has(&|k, _| k == "authenticationError") {
        if named.is_empty() {
            auth_hint.to_string()
        } else {
            format!("{auth_hint} ({named})")
        }
    } else {
        format!(
            "Google Ads refused the request ({status}{}{}): {message}",
            if named.is_empty() { "" } else { ", " },
            named
        )
    };
    Some(HttpError::Rejected {
        url: String::new(),
        status: 0,
        body: crate::http::snippet(body),
        hint,
    })
}

/// One batch of the stream, each result kept raw so one bad result is set
/// aside, not the batch.
#[derive(Deserialize)]
struct StreamBatch {
    #[serde(default)]
    results: Vec<Box<RawValue>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct AdsResult {
    #[serde(default)]
    campaign: Option<Campaign>,
    #[serde(default)]
    segments: Option<Segments>,
    #[serde(default)]
    metrics: Metrics,
}

#[derive(Deserialize)]
struct Campaign {
    #[serde(default)]
    id: Option<Value>,
}

#[derive(Deserialize)]
struct Segments {
    #[serde(default)]
    date: Option<String>,
}

/// Metrics as they come: proto3 JSON omits zeros, so an absent one is 0.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cost_micros: Option<Value>,
    #[serde(default)]
    impressions: Option<Value>,
    #[serde(default)]
    clicks: Option<Value>,
    #[serde(default)]
    conversions: Option<Value>,
    #[serde(default)]
    conversions_value: Option<Value>,
}

/// The exact text of a JSON string or number (serde_json keeps a number's
/// digits with `arbitrary_precision`).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An int64 metric (sent as a string); absent is 0.
fn int64(name: &str, v: &Option<Value>) -> Result<i64, FieldError> {
    let Some(v) = v else { return Ok(0) };
    let t = text(v).ok_or_else(|| not_a_number(name, &v.to_string()))?;
    t.parse::<i64>()
        .map_err(|_| FieldError::invalid(name, format!("`{}` is not a whole number", echo(&t))))
}

fn not_a_number(name: &str, text: &str) -> FieldError {
    FieldError::invalid(name, format!("`{}` is not a number", echo(text)))
}

/// An int64 count as micros of itself.
fn count_micros(name: &str, v: &Option<Value>) -> Result<i64, FieldError> {
    int64(name, v)?
        .checked_mul(1_000_000)
        .ok_or_else(|| FieldError::invalid(name, "too large to store"))
}

/// A double metric from its exact decimal text, rounded to micros.
fn double_micros(name: &str, v: &Option<Value>) -> Result<i64, FieldError> {
    let Some(v) = v else { return Ok(0) };
    let t = text(v).ok_or_else(|| not_a_number(name, &v.to_string()))?;
    let d = Decimal::from_str(&t)
        .or_else(|_| Decimal::from_scientific(&t))
        .map_err(|_| not_a_number(name, &t))?;
    to_micros(d.round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven))
        .map_err(|e| FieldError::invalid(name, e))
}

/// Turns a searchStream response into batches on a blocking thread.
struct Mapper {
    shop: ShopId,
    source: String,
    from: LocalDay,
    to: LocalDay,
}

impl Mapper {
    fn stream_facts(&self, bytes: &[u8]) -> Result<Vec<Batch>, PageError> {
        let stream: Vec<StreamBatch> = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable("a searchStream response", e))?;
        let mut out = Vec::with_capacity(stream.len());
        for (i, b) in stream.iter().enumerate() {
            if let Some(e) = &b.error {
                return Err(PageError::Failed {
                    call: "searchStream".into(),
                    detail: format!("the stream ended with an error: {e}"),
                });
            }
            let (values, rejects) = map_records(
                &self.source,
                &b.results,
                |j| {
                    format!(
                        "{}..{} batch {} result {}",
                        self.from,
                        self.to,
                        i + 1,
                        j + 1
                    )
                },
                |raw| self.result_facts(raw),
            );
            out.push(Batch {
                daily: values.into_iter().flatten().collect(),
                rejects,
                ..Batch::default()
            });
        }
        Ok(out)
    }

    /// One result's daily values, or why it cannot be taken (with its
    /// campaign and day when known).
    fn result_facts(&self, raw: &str) -> Result<Vec<DailyValue>, Rejected> {
        let r: AdsResult = serde_json::from_str(raw).map_err(|e| (None, format!("result: {e}")))?;
        let campaign = r
            .campaign
            .and_then(|c| c.id)
            .as_ref()
            .and_then(text)
            .filter(|id| !id.is_empty())
            .ok_or((None, "the result has no campaign.id".to_string()))?;
        let date = r
            .segments
            .and_then(|s| s.date)
            .ok_or((None, "the result has no segments.date".to_string()))?;
        let day = LocalDay::parse_ymd(&date).map_err(|_| {
            (
                None,
                format!("segments.date `{}` is not YYYY-MM-DD", echo(&date)),
            )
        })?;
        let at = Some(format!("campaign {campaign} day {day}"));
        let fail = |e: FieldError| (at.clone(), e.to_string());
        let m = &r.metrics;
        // cost_micros is already micros of the account currency.
        let spend = int64("costMicros", &m.cost_micros).map_err(fail)?;
        let values = [
            ("ad_spend", spend),
            (
                "ad_impressions",
                count_micros("impressions", &m.impressions).map_err(fail)?,
            ),
            (
                "ad_clicks",
                count_micros("clicks", &m.clicks).map_err(fail)?,
            ),
            (
                "ad_orders",
                double_micros("conversions", &m.conversions).map_err(fail)?,
            ),
            (
                "ad_gmv",
                double_micros("conversionsValue", &m.conversions_value).map_err(fail)?,
            ),
        ];
        Ok(values
            .into_iter()
            .map(|(input, micros)| DailyValue {
                shop: self.shop.clone(),
                day,
                input: input.to_string(),
                dimension: campaign.clone(),
                value_micros: Some(micros),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper {
            shop: "s".into(),
            source: "u".into(),
            from: LocalDay::from_ymd_opt(2024, 6, 1).unwrap(),
            to: LocalDay::from_ymd_opt(2024, 6, 1).unwrap(),
        }
    }

    #[test]
    fn doubles_keep_their_exact_text_and_absent_metrics_are_zero() {
        let raw = r#"{"campaign":{"id":"42"},"segments":{"date":"2024-06-01"},
            "metrics":{"costMicros":"10610836202","clicks":"3","conversions":2.5,
            "conversionsValue":123456789012.345678}}"#;
        let v = mapper().result_facts(raw).unwrap();
        let get = |i: &str| v.iter().find(|d| d.input == i).unwrap().value_micros;
        assert_eq!(get("ad_spend"), Some(10_610_836_202));
        assert_eq!(get("ad_impressions"), Some(0));
        assert_eq!(get("ad_clicks"), Some(3_000_000));
        assert_eq!(get("ad_orders"), Some(2_500_000));
        assert_eq!(get("ad_gmv"), Some(123_456_789_012_345_678));
        assert!(v.iter().all(|d| d.dimension == "42"));
        // A data-driven fraction is rounded to micros, not refused.
        let raw = r#"{"campaign":{"id":"42"},"segments":{"date":"2024-06-01"},
            "metrics":{"conversions":0.3333333333333333}}"#;
        let v = mapper().result_facts(raw).unwrap();
        assert_eq!(
            v.iter()
                .find(|d| d.input == "ad_orders")
                .unwrap()
                .value_micros,
            Some(333_333)
        );
    }

    #[test]
    fn cost_micros_must_be_whole() {
        let raw = r#"{"campaign":{"id":"42"},"segments":{"date":"2024-06-01"},"metrics":{"costMicros":"12.5"}}"#;
        let (at, reason) = mapper().result_facts(raw).unwrap_err();
        assert_eq!(at.as_deref(), Some("campaign 42 day 2024-06-01"));
        assert!(reason.contains("costMicros"), "{reason}");
    }

    #[test]
    fn errors_name_what_google_blames() {
        let dev = br#"{"error":{"code":401,"status":"UNAUTHENTICATED","message":"x","details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure","errors":[{"errorCode":{"authenticationError":"DEVELOPER_TOKEN_INVALID"},"message":"The developer token is not valid."}]}]}}"#;
        let e = ads_error(dev, STATIC_HINT).unwrap();
        assert!(!e.retryable());
        assert!(e.to_string().contains("developer_token"), "{e}");
        let oauth = br#"[{"error":{"code":401,"status":"UNAUTHENTICATED","details":[{"errors":[{"errorCode":{"authenticationError":"OAUTH_TOKEN_INVALID"}}]}]}}]"#;
        let e = ads_error(oauth, REFRESHED_HINT).unwrap();
        assert!(e.to_string().contains("refresh_token"), "{e}");
        assert!(e.to_string().contains("OAUTH_TOKEN_INVALID"), "{e}");
        let login = br#"{"error":{"code":403,"status":"PERMISSION_DENIED","details":[{"errors":[{"errorCode":{"authorizationError":"USER_PERMISSION_DENIED"}}]}]}}"#;
        assert!(ads_error(login, STATIC_HINT)
            .unwrap()
            .to_string()
            .contains("login_customer_id"));
        let quota = br#"[{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"retryDelay":"1s"}]}}]"#;
        assert!(matches!(
            ads_error(quota, STATIC_HINT).unwrap(),
            HttpError::Throttled { .. }
        ));
        assert!(ads_error(
            br#"[{"results":[],"fieldMask":"segments.date"}]"#,
            STATIC_HINT
        )
        .is_none());
    }
}
