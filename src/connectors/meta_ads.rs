//! Meta Marketing API insights: `GET /{api_version}/act_{ad_account_id}/insights`
//! with `level=campaign&time_increment=1`, one row per campaign and day,
//! cursor pages (`paging.cursors.after`, present while `paging.next` is),
//! numbers as strings, and throttling as HTTP 400 with error codes 4, 17,
//! 613 or 80000–80014 (waiting as long as `X-Business-Use-Case-Usage`'s
//! `estimated_time_to_regain_access` says, when it says).
//!
//! Inputs, per campaign (`dimension` = campaign id) on the row's
//! `date_start` (the ad account's day), for the connector's shop:
//! `ad_spend` = spend (account currency), `ad_impressions`, `ad_clicks`,
//! `ad_orders` and `ad_gmv` = the purchase entry of `actions` and
//! `action_values`, and `ad_arrivals` = the `landing_page_view` action
//! (people who clicked and whose landing page loaded). Meta has no clean
//! visitor count for `ad_uv` (`reach` counts people shown the ad), so it is
//! not written.
//!
//! Purchases: Meta reports the same purchases under several overlapping
//! action types, so exactly one is taken, the first present of
//! `omni_purchase` (all channels, deduplicated; Ads Manager's "Purchases"),
//! `purchase`, `offsite_conversion.fb_pixel_purchase` (website only); the
//! same rule picks the value in `action_values`. Meta omits actions with no
//! count, so a row without one stores 0.

use super::ad_days::run_report;
use super::options::{check_base_url, OptionProblem, Polling, PollingSpec, Read};
use super::records::{map_records, Rejected};
use super::registry::KindOptions;
use super::{connector_http, connector_shop, http_error, Connector, ConnectorError, Sink, Window};
use crate::config::ConnectorConfig;
use crate::facts::{echo, Batch, DailyValue};
use crate::http::pagination::{advance_cursor, graph_after_cursor, graph_next_url};
use crate::http::{platform_errors, query_key, strip_query, HttpClient, HttpError};
use crate::money::parse_micros;
use crate::period::today;
use crate::settings::Settings;
use chrono::NaiveDate;
use chrono_tz::Tz;
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const HINT: &str = "check the connector's ad_account_id (the number after act_) and that its access_token has ads_read on that ad account";
const FIELDS: &str = "campaign_id,spend,impressions,clicks,actions,action_values";
/// Overlapping purchase action types, most complete first; one is taken.
const PURCHASE_TYPES: [&str; 3] = [
    "omni_purchase",
    "purchase",
    "offsite_conversion.fb_pixel_purchase",
];
const ARRIVAL_TYPE: &str = "landing_page_view";

fn default_base_url() -> String {
    "https://graph.facebook.com".into()
}
fn default_api_version() -> String {
    "v23.0".into()
}
fn default_slice_days() -> u32 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaAdsOptions {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The Graph API version in the path (`v23.0`).
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// The ad account's id, with or without `act_`.
    pub ad_account_id: String,
    /// Days per insights request.
    #[serde(default = "default_slice_days")]
    pub slice_days: u32,
}

fn account_digits(id: &str) -> Option<String> {
    let t = id.trim();
    let digits = t.strip_prefix("act_").unwrap_or(t);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_string())
}

impl KindOptions for MetaAdsOptions {
    const POLLING: PollingSpec = PollingSpec {
        initial_days: None,
        ..PollingSpec::paged(3, 2, 2.0, 500, 5000)
    };
    const SECRETS: &'static [&'static str] = &["access_token"];

    fn check(read: &Read<Self>) -> Result<(), OptionProblem> {
        let o = &read.own;
        check_base_url(&o.base_url)?;
        if account_digits(&o.ad_account_id).is_none() {
            return Err((
                "ad_account_id".into(),
                format!(
                    "`{}` is not a Meta ad account id (digits, optionally after act_)",
                    o.ad_account_id
                ),
            ));
        }
        if !(1..=366).contains(&o.slice_days) {
            return Err(("slice_days".into(), "must be between 1 and 366".into()));
        }
        Ok(())
    }

    fn build(
        cfg: &ConnectorConfig,
        read: Read<Self>,
        settings: &Settings,
    ) -> Result<Connector, ConnectorError> {
        let token = read.secrets.resolve(&cfg.name, "access_token")?;
        let options = read.own;
        let (shop, tz) = connector_shop(cfg, settings)?;
        let http =
            connector_http(cfg, read.polling.requests_per_second)?.with_header_wait(usage_wait);
        Ok(Connector::MetaAds(Arc::new(MetaAdsConnector {
            name: cfg.name.clone(),
            shop,
            tz,
            account: account_digits(&options.ad_account_id).unwrap_or_default(),
            options,
            polling: read.polling,
            token,
            http: Arc::new(http),
        })))
    }
}

#[derive(Debug)]
pub struct MetaAdsConnector {
    pub name: String,
    shop: String,
    tz: Tz,
    options: MetaAdsOptions,
    polling: Polling,
    account: String,
    token: SecretString,
    http: Arc<HttpClient>,
}

/// The wait Meta names in `X-Business-Use-Case-Usage`
/// (`{"<business id>":[{"type":"ads_insights",…,"estimated_time_to_regain_access":N}]}`,
/// N in minutes): the longest over the use cases, if any is above zero.
pub(crate) fn usage_wait(headers: &HeaderMap) -> Option<Duration> {
    let v: Value =
        serde_json::from_slice(headers.get("x-business-use-case-usage")?.as_bytes()).ok()?;
    let minutes = v
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|u| u.get("estimated_time_to_regain_access")?.as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

impl MetaAdsConnector {
    fn insights_url(&self) -> String {
        format!(
            "{}/{}/act_{}/insights",
            self.options.base_url.trim_end_matches('/'),
            self.options.api_version,
            self.account
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

    async fn fetch_slice(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        tx: mpsc::Sender<Batch>,
    ) -> Result<(), ConnectorError> {
        let url = self.insights_url();
        let time_range = serde_json::json!({
            "since": from.format("%Y-%m-%d").to_string(),
            "until": to.format("%Y-%m-%d").to_string(),
        })
        .to_string();
        let limit = self.polling.page_size.to_string();
        let mut after: Option<String> = None;
        let mut page_no = 0u32;
        loop {
            page_no += 1;
            let mapper = Mapper {
                shop: self.shop.clone(),
                source: strip_query(&url),
                from,
                page_no,
            };
            let page = self
                .http
                .get_checked(
                    |c| {
                        let mut query = vec![
                            ("level", "campaign"),
                            ("time_increment", "1"),
                            ("fields", FIELDS),
                            ("time_range", time_range.as_str()),
                            ("limit", limit.as_str()),
                        ];
                        if let Some(a) = &after {
                            query.push(("after", a.as_str()));
                        }
                        query_key(
                            c.get(&url)
                                .query(&query)
                                .header("Accept", "application/json"),
                            "access_token",
                            &self.token,
                        )
                    },
                    HINT,
                    move |bytes: &[u8]| mapper.page_facts(bytes),
                    platform_errors::meta,
                )
                .await
                .map_err(|e| self.http_err(e))?;
            let (batch, next) = page.body;
            if tx.send(batch).await.is_err() {
                // The committer stopped on an error; it reports it.
                return Ok(());
            }
            match advance_cursor(after.as_deref(), next) {
                Ok(Some(cursor)) => after = Some(cursor),
                Ok(None) => return Ok(()),
                Err(message) => {
                    return Err(self.http_err(HttpError::Malformed {
                        url: strip_query(&url),
                        message,
                        snippet: String::new(),
                    }))
                }
            }
        }
    }
}

/// A page, each row kept raw so one bad row is set aside, not the page.
#[derive(Deserialize)]
struct InsightsPage {
    data: Vec<Box<RawValue>>,
    #[serde(default)]
    paging: Option<Value>,
}

#[derive(Deserialize)]
struct InsightRow {
    #[serde(default)]
    campaign_id: Option<Value>,
    #[serde(default)]
    date_start: Option<String>,
    #[serde(default)]
    date_stop: Option<String>,
    #[serde(default)]
    spend: Option<Value>,
    #[serde(default)]
    impressions: Option<Value>,
    #[serde(default)]
    clicks: Option<Value>,
    #[serde(default)]
    actions: Vec<Action>,
    #[serde(default)]
    action_values: Vec<Action>,
}

#[derive(Deserialize)]
struct Action {
    action_type: String,
    value: Value,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A decimal field (string or number) as micros; absent is 0.
fn micros(name: &str, v: Option<&Value>) -> Result<i64, String> {
    let Some(v) = v else { return Ok(0) };
    let t = text(v).ok_or_else(|| format!("{name}: `{}` is not a number", echo(&v.to_string())))?;
    parse_micros(&t).map_err(|e| format!("{name}: {e}"))
}

/// A count field as micros of itself.
fn count(name: &str, v: Option<&Value>) -> Result<i64, String> {
    let m = micros(name, v)?;
    if m % 1_000_000 != 0 {
        return Err(format!(
            "{name}: `{}` is not a whole count",
            crate::money::from_micros(m)
        ));
    }
    Ok(m)
}

/// The first action type of `types` present in `list`, as micros.
fn pick(list: &[Action], types: &[&str], name: &str) -> Result<i64, String> {
    match types
        .iter()
        .find_map(|t| list.iter().find(|a| a.action_type == *t))
    {
        Some(a) => micros(&format!("{name} {}", a.action_type), Some(&a.value)),
        None => Ok(0),
    }
}

/// Turns insights pages into facts on a blocking thread.
struct Mapper {
    shop: String,
    source: String,
    from: NaiveDate,
    page_no: u32,
}

impl Mapper {
    /// The page's facts and the cursor of the next page, if there is one.
    fn page_facts(&self, bytes: &[u8]) -> Result<(Batch, Option<String>), String> {
        let page: InsightsPage =
            serde_json::from_slice(bytes).map_err(|e| format!("not an insights page: {e}"))?;
        let paging = serde_json::json!({ "paging": page.paging });
        let next = graph_after_cursor(&paging);
        if next.is_none() && graph_next_url(&paging).is_some() {
            return Err("paging.next without paging.cursors.after".into());
        }
        let (values, rejects) = map_records(
            &self.source,
            &page.data,
            |i| format!("from {} page {} row {}", self.from, self.page_no, i + 1),
            |raw| self.row_facts(raw),
        );
        let batch = Batch {
            daily: values.into_iter().flatten().collect(),
            rejects,
            ..Batch::default()
        };
        Ok((batch, next))
    }

    fn row_facts(&self, raw: &str) -> Result<Vec<DailyValue>, Rejected> {
        let r: InsightRow = serde_json::from_str(raw).map_err(|e| (None, format!("row: {e}")))?;
        let campaign = r
            .campaign_id
            .as_ref()
            .and_then(text)
            .filter(|id| !id.is_empty())
            .ok_or((None, "the row has no campaign_id".to_string()))?;
        let date = r
            .date_start
            .clone()
            .ok_or((None, "the row has no date_start".to_string()))?;
        let day = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|_| {
            (
                None,
                format!("date_start `{}` is not YYYY-MM-DD", echo(&date)),
            )
        })?;
        let at = Some(format!("campaign {campaign} day {day}"));
        let fail = |reason: String| (at.clone(), reason);
        if r.date_stop.as_deref().is_some_and(|s| s != date) {
            return Err(fail(format!(
                "a row for {date}..{} is not one day (time_increment=1 was not applied)",
                r.date_stop.unwrap_or_default()
            )));
        }
        let values = [
            ("ad_spend", micros("spend", r.spend.as_ref()).map_err(fail)?),
            (
                "ad_impressions",
                count("impressions", r.impressions.as_ref()).map_err(fail)?,
            ),
            (
                "ad_clicks",
                count("clicks", r.clicks.as_ref()).map_err(fail)?,
            ),
            (
                "ad_orders",
                pick(&r.actions, &PURCHASE_TYPES, "actions").map_err(fail)?,
            ),
            (
                "ad_gmv",
                pick(&r.action_values, &PURCHASE_TYPES, "action_values").map_err(fail)?,
            ),
            (
                "ad_arrivals",
                pick(&r.actions, &[ARRIVAL_TYPE], "actions").map_err(fail)?,
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
    use reqwest::header::HeaderValue;

    fn mapper() -> Mapper {
        Mapper {
            shop: "s".into(),
            source: "u".into(),
            from: NaiveDate::from_ymd_opt(2024, 6, 21).unwrap(),
            page_no: 1,
        }
    }

    fn get(v: &[DailyValue], input: &str) -> Option<i64> {
        v.iter().find(|d| d.input == input).unwrap().value_micros
    }

    #[test]
    fn one_purchase_type_is_taken_never_added() {
        let raw = r#"{"campaign_id":"2385","date_start":"2024-06-21","date_stop":"2024-06-21",
            "spend":"361.79","impressions":"10000","clicks":"204",
            "actions":[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"2"},
                       {"action_type":"purchase","value":"3"},
                       {"action_type":"omni_purchase","value":"3"},
                       {"action_type":"landing_page_view","value":"150"}],
            "action_values":[{"action_type":"purchase","value":"389.70"},
                             {"action_type":"offsite_conversion.fb_pixel_purchase","value":"259.80"}]}"#;
        let v = mapper().row_facts(raw).unwrap();
        assert_eq!(get(&v, "ad_spend"), Some(361_790_000));
        assert_eq!(get(&v, "ad_orders"), Some(3_000_000));
        assert_eq!(get(&v, "ad_gmv"), Some(389_700_000));
        assert_eq!(get(&v, "ad_arrivals"), Some(150_000_000));
        // No purchase at all: zero, as Meta omits zero actions.
        let raw = r#"{"campaign_id":"2385","date_start":"2024-06-22","date_stop":"2024-06-22","spend":"280","impressions":"9","clicks":"1"}"#;
        let v = mapper().row_facts(raw).unwrap();
        assert_eq!(get(&v, "ad_orders"), Some(0));
        assert_eq!(get(&v, "ad_spend"), Some(280_000_000));
    }

    #[test]
    fn a_multi_day_row_is_refused() {
        // The shared fixtures' rows span 2024-06-21..24.
        let raw = r#"{"clicks":"204","spend":"361.79","date_start":"2024-06-21","date_stop":"2024-06-24","campaign_id":"1"}"#;
        let (at, reason) = mapper().row_facts(raw).unwrap_err();
        assert_eq!(at.as_deref(), Some("campaign 1 day 2024-06-21"));
        assert!(reason.contains("time_increment"), "{reason}");
    }

    #[test]
    fn usage_header_names_minutes() {
        let mut h = HeaderMap::new();
        assert_eq!(usage_wait(&h), None);
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(r#"{"1234":[{"type":"ads_insights","call_count":100,"total_cputime":40,"total_time":60,"estimated_time_to_regain_access":5},{"type":"ads_management","estimated_time_to_regain_access":0}]}"#),
        );
        assert_eq!(usage_wait(&h), Some(Duration::from_secs(300)));
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1234":[{"type":"ads_insights","estimated_time_to_regain_access":0}]}"#,
            ),
        );
        assert_eq!(usage_wait(&h), None);
    }
}
