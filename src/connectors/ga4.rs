//! Google Analytics 4 Data API: `POST /v1beta/properties/{id}:runReport`
//! with the `date` dimension and the traffic metrics, `limit`/`offset`
//! pagination bounded by `rowCount`, metric values as strings, dates as
//! `YYYYMMDD` in the property's time zone.
//!
//! Inputs, for the connector's shop: `pv` = screenPageViews, `uv` =
//! activeUsers, `new_uv` = newUsers, `visits` = sessions, `bounces` =
//! sessions − engagedSessions (GA4 has no bounce count), and
//! `stay_seconds_total` = userEngagementDuration. Days GA4 returns no row for
//! are left alone, not written as zeros.
//!
//! GA4 keeps processing a day for up to 48 hours, so a scheduled run
//! re-fetches the last `lookback_days` through yesterday (in the shop's
//! zone); a backfill fetches `--from..--to`. The property's reporting zone
//! should be the shop's: a mismatch is logged.
//!
//! Credentials: an OAuth `access_token` (Bearer), or a service-account key
//! (`credentials_file`) exchanged for an access token with a signed RS256 JWT
//! (RFC 7523). That token is cached until shortly before it expires and is
//! renewed early when the API answers 401
//! ([`ServiceAccountTokenSource`], shared with definitions).
//!
//! `connectors/ga4.toml` (kind `ga4_rest`) is this module as a definition;
//! tests/declarative.rs checks both store the same facts.

use super::options::KindOptions;
use super::options::{check_base_url, Building, OptionProblem, PollingSpec};
use super::{
    connector_http, connector_shop, http_error, secret_option, Connector, ConnectorError, Sink,
    Window,
};
use crate::config::ConnectorConfig;
use crate::facts::{echo, Batch, DailyValue, Reject};
use crate::http::oauth::ServiceAccountTokenSource;
use crate::http::{strip_query, HttpClient, HttpError};
use crate::money::parse_micros;
use crate::period::today;
use crate::settings::Settings;
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;

const HINT: &str = "check the connector's property_id (the numeric GA4 property id, not a G- measurement id) and that its credentials (the service account's client_email from credentials_file, or the access_token's user) have at least Viewer access to that property with the Analytics Data API enabled";
const TOKEN_HINT: &str = "check the connector's credentials_file: a service-account JSON key that is still valid (not deleted or disabled) for a project with the Analytics Data API enabled";
const SCOPE: &str = "https://www.googleapis.com/auth/analytics.readonly";

/// The metrics requested, in order.
const METRICS: [&str; 6] = [
    "screenPageViews",
    "activeUsers",
    "newUsers",
    "sessions",
    "engagedSessions",
    "userEngagementDuration",
];

/// Metrics stored as they come, with their input.
const DIRECT: [(&str, &str); 5] = [
    ("screenPageViews", "pv"),
    ("activeUsers", "uv"),
    ("newUsers", "new_uv"),
    ("sessions", "visits"),
    ("userEngagementDuration", "stay_seconds_total"),
];

fn default_base_url() -> String {
    "https://analyticsdata.googleapis.com".into()
}
fn default_lookback() -> i64 {
    3
}
fn default_rps() -> f64 {
    5.0
}
fn default_page_size() -> u32 {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ga4Options {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The numeric GA4 property id.
    pub property_id: String,
    #[serde(default)]
    pub access_token: Option<SecretString>,
    #[serde(default)]
    pub access_token_env: Option<String>,
    #[serde(default)]
    pub access_token_file: Option<String>,
    /// A service-account JSON key (instead of `access_token`).
    #[serde(default)]
    pub credentials_file: Option<String>,
    /// Days up to yesterday re-fetched by each scheduled run.
    #[serde(default = "default_lookback")]
    pub lookback_days: i64,
    /// Request rate (0 = unlimited).
    #[serde(default = "default_rps")]
    pub requests_per_second: f64,
    /// Rows per request (`limit`; GA4 allows at most 250000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl KindOptions for Ga4Options {
    // Read by hand until this kind becomes a definition (issue 15).
    const POLLING: PollingSpec = PollingSpec::NONE;

    fn check(&self) -> Result<(), OptionProblem> {
        let o = self;
        check_base_url(&o.base_url)?;
        if o.property_id.is_empty() || !o.property_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OptionProblem::new("property_id", format!(
                    "`{}` is not a GA4 property id (digits only, e.g. 123456789; Admin → Property settings)",
                    o.property_id
                )));
        }
        let token_given = o.access_token.is_some()
            || o.access_token_env.is_some()
            || o.access_token_file.is_some();
        if token_given && o.credentials_file.is_some() {
            return Err(OptionProblem::new(
                "credentials_file",
                "set either `credentials_file` or an `access_token` (`_env`, `_file`), not both",
            ));
        }
        if !(1..=250_000).contains(&o.page_size) {
            return Err(OptionProblem::new(
                "page_size",
                "must be between 1 and 250000",
            ));
        }
        if o.lookback_days < 1 {
            return Err(OptionProblem::new("lookback_days", "must be at least 1"));
        }
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        Ga4Connector::build(with.cfg, self, with.settings).map(|c| Connector::Ga4(c.into()))
    }
}

/// How requests are authorized.
#[derive(Debug)]
enum Auth {
    Token(SecretString),
    ServiceAccount(Box<ServiceAccountTokenSource>),
}

#[derive(Debug)]
pub struct Ga4Connector {
    pub name: String,
    shop: String,
    tz: Tz,
    options: Ga4Options,
    auth: Auth,
    http: HttpClient,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    #[serde(default)]
    metric_headers: Vec<Header>,
    /// Each row kept raw so one bad row is set aside, not the page.
    #[serde(default)]
    rows: Vec<Box<RawValue>>,
    #[serde(default)]
    row_count: Option<u64>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    dimension_values: Vec<Cell>,
    metric_values: Vec<Cell>,
}

#[derive(Deserialize)]
struct Cell {
    value: String,
}

impl Ga4Connector {
    fn build(
        cfg: &ConnectorConfig,
        options: Ga4Options,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let err = |message: String| ConnectorError::Config {
            connector: cfg.name.clone(),
            message,
        };
        let auth = match &options.credentials_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| err(format!("credentials_file `{path}` cannot be read: {e}")))?;
                let source = ServiceAccountTokenSource::from_key_json(&text, SCOPE, TOKEN_HINT)
                    .map_err(|e| err(format!("credentials_file `{path}` {e}")))?;
                Auth::ServiceAccount(Box::new(source))
            }
            None => Auth::Token(secret_option(
                &cfg.name,
                "access_token",
                options.access_token.clone(),
                &options.access_token_env,
                &options.access_token_file,
            )?),
        };
        let (shop, tz) = connector_shop(cfg, settings)?;
        let http = connector_http(cfg, options.requests_per_second)?;
        Ok(Ga4Connector {
            name: cfg.name.clone(),
            shop,
            tz,
            options,
            auth,
            http,
        })
    }

    fn report_url(&self) -> String {
        format!(
            "{}/v1beta/properties/{}:runReport",
            self.options.base_url.trim_end_matches('/'),
            self.options.property_id
        )
    }

    fn http_err(&self, source: HttpError) -> ConnectorError {
        http_error(&self.name)(source)
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let (from, to) = if window.from.is_none() && window.to.is_none() {
            let yesterday = today(self.tz) - Duration::days(1);
            (
                yesterday - Duration::days(self.options.lookback_days - 1),
                yesterday,
            )
        } else {
            let to = window.to.unwrap_or_else(|| today(self.tz));
            (window.from.unwrap_or(to), to)
        };
        if from > to {
            return Ok(());
        }
        let url = self.report_url();
        let source = strip_query(&url);
        let mut offset: u64 = 0;
        let mut zone_checked = false;
        loop {
            let report = self.report_page(&url, from, to, offset).await?;
            if !zone_checked {
                zone_checked = true;
                if let Some(zone) = report
                    .metadata
                    .as_ref()
                    .and_then(|m| m.time_zone.as_deref())
                {
                    if zone != self.tz.name() {
                        tracing::warn!(
                            connector = %self.name,
                            property_zone = zone,
                            shop_zone = self.tz.name(),
                            "the GA4 property reports days in another time zone than the shop's; its days are stored as they come"
                        );
                    }
                }
            }
            let served = report.rows.len() as u64;
            let batch = self.to_facts(&report, &source, offset);
            sink.commit(batch).await?;
            offset += served;
            // `rowCount` is the total over all pages; a page without rows ends
            // the report whatever it claims, so a wrong count cannot loop.
            if served == 0 || offset >= report.row_count.unwrap_or(0) {
                return Ok(());
            }
        }
    }

    async fn report_page(
        &self,
        url: &str,
        from: NaiveDate,
        to: NaiveDate,
        offset: u64,
    ) -> Result<Report, ConnectorError> {
        let body = serde_json::json!({
            "dateRanges": [{
                "startDate": from.format("%Y-%m-%d").to_string(),
                "endDate": to.format("%Y-%m-%d").to_string(),
            }],
            "dimensions": [{ "name": "date" }],
            "metrics": METRICS.iter().map(|m| serde_json::json!({ "name": m })).collect::<Vec<_>>(),
            // A fixed order keeps offsets stable from page to page.
            "orderBys": [{ "dimension": { "dimensionName": "date" } }],
            "limit": self.options.page_size,
            "offset": offset,
        });
        let send = |token: SecretString| {
            let body = &body;
            async move {
                self.http
                    .get_json::<Report, _>(
                        |c| {
                            c.post(url)
                                .bearer_auth(token.expose_secret())
                                .header("Accept", "application/json")
                                .json(body)
                        },
                        HINT,
                    )
                    .await
            }
        };
        let page = match &self.auth {
            Auth::Token(t) => send(t.clone()).await,
            Auth::ServiceAccount(source) => source.authorized(&self.http, send).await,
        };
        page.map(|p| p.body).map_err(|e| self.http_err(e))
    }

    fn to_facts(&self, report: &Report, source: &str, offset: u64) -> Batch {
        let mut batch = Batch::default();
        for (i, raw) in report.rows.iter().enumerate() {
            let reject = |locator: String, reason: String| Reject {
                source: source.to_string(),
                locator,
                reason,
                raw: raw.get().to_string(),
            };
            let row_locator = format!("row {}", offset + i as u64 + 1);
            let row: Row = match serde_json::from_str(raw.get()) {
                Ok(r) => r,
                Err(e) => {
                    batch.rejects.push(reject(row_locator, format!("row: {e}")));
                    continue;
                }
            };
            match self.row_facts(&report.metric_headers, &row) {
                Ok(values) => batch.daily.extend(values),
                Err((Some(day), reason)) => {
                    batch.rejects.push(reject(format!("day {day}"), reason))
                }
                Err((None, reason)) => batch.rejects.push(reject(row_locator, reason)),
            }
        }
        batch
    }

    /// One row's daily values, or why it cannot be taken (with its day when known).
    fn row_facts(
        &self,
        headers: &[Header],
        row: &Row,
    ) -> Result<Vec<DailyValue>, (Option<NaiveDate>, String)> {
        let text = &row
            .dimension_values
            .first()
            .ok_or((None, "the row has no date".to_string()))?
            .value;
        let day = NaiveDate::parse_from_str(text, "%Y%m%d")
            .map_err(|_| (None, format!("date `{}` is not YYYYMMDD", echo(text))))?;
        let metric = |name: &str| -> Result<Option<i64>, (Option<NaiveDate>, String)> {
            let Some(i) = headers.iter().position(|h| h.name == name) else {
                return Ok(None);
            };
            let cell = row
                .metric_values
                .get(i)
                .ok_or_else(|| (Some(day), format!("{name} is missing")))?;
            parse_micros(&cell.value)
                .map(Some)
                .map_err(|e| (Some(day), format!("{name}: {e}")))
        };
        let mut values = Vec::with_capacity(DIRECT.len() + 1);
        let put = |values: &mut Vec<DailyValue>, input: &str, micros: i64| {
            values.push(DailyValue {
                shop: self.shop.as_str().into(),
                day,
                input: input.to_string(),
                dimension: String::new(),
                value_micros: Some(micros),
            })
        };
        for (name, input) in DIRECT {
            if let Some(v) = metric(name)? {
                put(&mut values, input, v);
            }
        }
        if let (Some(sessions), Some(engaged)) = (metric("sessions")?, metric("engagedSessions")?) {
            // Both are estimates on large properties; never store a negative count.
            put(&mut values, "bounces", (sessions - engaged).max(0));
        }
        Ok(values)
    }
}
