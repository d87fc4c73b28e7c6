//! Zendesk Support: the cursor-based incremental ticket export
//! (`GET /api/v2/incremental/tickets/cursor.json?start_time=…&include=metric_sets`,
//! then `cursor=<after_cursor>` until `end_of_stream`), HTTP Basic auth as
//! `{email}/token:{api_token}`, 10 requests per minute on the export
//! endpoints, 429 with `Retry-After`.
//!
//! Inputs, per local day of the ticket's `created_at` (in the shop's zone)
//! and per agent (`dimension` = the ticket's `assignee_id`, `unassigned`
//! when it has none): `cs_sessions` (tickets) and
//! `cs_first_response_seconds_total` (the sum of the sideloaded metric
//! set's `reply_time_in_seconds.calendar`).
//!
//! A ticket with no first reply yet is not a session yet: the KPI
//! `first_response_seconds` is `cs_first_response_seconds_total /
//! cs_sessions`, and counting a waiting ticket in the denominator only
//! would make an agent who leaves tickets unanswered look faster. It
//! counts once answered, on its creation day, when a later run covers that
//! day. Deleted tickets (`status` "deleted") do not count; a ticket whose
//! metric set is missing from its page is set aside as a reject.
//!
//! Idempotence: the export returns tickets *changed* since `start_time`,
//! but the daily values are totals over *all* tickets of a day. So each run
//! recomputes whole days: for the days `[from, to]` it exports from the
//! start of `from` (every ticket created on or after that instant has been
//! updated since, so it is in the export), keeps the latest state of each
//! ticket (a ticket changed during the export appears again), totals the
//! tickets created in `[from, to]`, writes every (day, agent) total and
//! clears the ones this connector stored for those days that no longer
//! have tickets (a ticket reassigned or deleted). Re-running the same
//! window writes the same totals: nothing changes.
//!
//! A backfill covers `--from..--to`. A scheduled run covers the days from
//! the stored cursor minus `lookback_days` (default 7: first replies and
//! reassignments come within days) through today; a change to a ticket
//! created before that is picked up by a backfill over its day. The cursor
//! moves only after the totals are committed. Zendesk refuses a
//! `start_time` within the last minute, so the export starts at most a
//! minute ago (it leaves out the last minute's changes, which the next run
//! covers).

use super::options::KindOptions;
use super::options::{check_base_url, Building, OptionProblem, Polling, PollingSpec};
use super::{http_error, resume_since, Connector, ConnectorError, Sink, Window};
use crate::facts::{Batch, DailyValue, Reject};
use crate::http::pagination::{advance_cursor, after_cursor};
use crate::http::{strip_query, HttpClient, PageError};
use crate::ids::ShopId;
use crate::period::{day_start, local_day, today, Days, LocalDay};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

const STREAM: &str = "tickets";
const EXPORT_PATH: &str = "/api/v2/incremental/tickets/cursor.json";
const HINT: &str = "check the connector's email and api_token (Admin Center → Apps and integrations → Zendesk API, with token access enabled; the user must be an admin to use the incremental export) and its subdomain";
const SESSIONS: &str = "cs_sessions";
const RESPONSE_TOTAL: &str = "cs_first_response_seconds_total";
const UNASSIGNED: &str = "unassigned";
const MICROS: i64 = 1_000_000;

fn default_rpm() -> f64 {
    10.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskOptions {
    /// `{subdomain}.zendesk.com`.
    pub subdomain: String,
    /// Defaults to `https://{subdomain}.zendesk.com` (a proxy or mock otherwise).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The agent or admin the API token belongs to.
    pub email: String,
    /// Request rate (Zendesk allows 10 per minute on the export; 0 = unlimited).
    #[serde(default = "default_rpm")]
    pub requests_per_minute: f64,
}

impl KindOptions for ZendeskOptions {
    /// Pages of up to 1000 tickets (`per_page`); the rate is per minute
    /// (`requests_per_minute`), as Zendesk counts it.
    const POLLING: PollingSpec = PollingSpec {
        concurrency: None,
        requests_per_second: None,
        ..PollingSpec::paged(7, 1, 0.0, 1000, 1000)
    };
    const SECRETS: &'static [&'static str] = &["api_token"];

    fn check(&self) -> Result<(), OptionProblem> {
        let sub = self.subdomain.trim();
        if sub.is_empty() || !sub.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(OptionProblem::new(
                "subdomain",
                format!(
                    "`{}` is not a Zendesk subdomain (the `acme` of acme.zendesk.com)",
                    self.subdomain
                ),
            ));
        }
        if let Some(url) = &self.base_url {
            check_base_url(url)?;
        }
        if !self.email.contains('@') {
            return Err(OptionProblem::new(
                "email",
                format!(
                    "`{}` is not the email of the token's Zendesk user",
                    self.email
                ),
            ));
        }
        if !(self.requests_per_minute >= 0.0 && self.requests_per_minute.is_finite()) {
            return Err(OptionProblem::new(
                "requests_per_minute",
                "must be a number ≥ 0 (0 = unlimited)",
            ));
        }
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        let api_token = with.secret("api_token")?;
        let (shop, tz) = with.shop()?;
        let http = with.http(self.requests_per_minute / 60.0)?;
        Ok(Connector::Zendesk(Arc::new(ZendeskConnector {
            name: with.name(),
            shop,
            tz,
            options: self,
            polling: with.polling,
            api_token,
            http,
        })))
    }
}

impl ZendeskOptions {
    fn base_url(&self) -> String {
        match &self.base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("https://{}.zendesk.com", self.subdomain.trim()),
        }
    }
}

#[derive(Debug)]
pub struct ZendeskConnector {
    pub name: String,
    shop: ShopId,
    tz: Tz,
    options: ZendeskOptions,
    polling: Polling,
    api_token: SecretString,
    http: HttpClient,
}

/// An export page, each ticket and metric set kept raw so one bad record
/// is set aside, not the page.
#[derive(Deserialize)]
struct ExportPage {
    tickets: Vec<Box<RawValue>>,
    #[serde(default)]
    metric_sets: Vec<Box<RawValue>>,
    #[serde(default)]
    after_cursor: Option<String>,
    #[serde(default)]
    end_of_stream: Option<bool>,
}

#[derive(Deserialize)]
struct Ticket {
    id: u64,
    created_at: DateTime<Utc>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    assignee_id: Option<u64>,
}

#[derive(Deserialize)]
struct MetricSet {
    ticket_id: u64,
    #[serde(default)]
    reply_time_in_seconds: Option<Minutes>,
}

#[derive(Deserialize)]
struct Minutes {
    #[serde(default)]
    calendar: Option<i64>,
}

/// What one ticket adds to its day and agent; `None` when it adds nothing
/// (deleted, not answered yet, created outside the window).
type Contribution = Option<(LocalDay, String, i64)>;

/// A page read into per-ticket contributions.
struct PageFacts {
    tickets: Vec<(u64, Contribution)>,
    rejects: Vec<Reject>,
    next: Option<String>,
}

impl ZendeskConnector {
    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let incremental = window.is_scheduled();
        let started = Utc::now();
        let (from, to) = if incremental {
            let since = resume_since(
                sink.cursor(STREAM).await?,
                started,
                self.polling.lookback_days,
                self.polling.initial_days,
            );
            (local_day(since, self.tz), today(self.tz))
        } else {
            window.backfill_days(today(self.tz))
        };
        let Ok(days) = Days::new(from, to) else {
            return Ok(());
        };
        let start_time = day_start(from, self.tz).min(started - Duration::seconds(61));
        let (tickets, rejects) = self.export(start_time, days).await?;

        let mut totals: BTreeMap<(LocalDay, String), (i64, i64)> = BTreeMap::new();
        for (day, agent, seconds) in tickets.into_values().flatten() {
            let t = totals.entry((day, agent)).or_default();
            t.0 += 1;
            t.1 += seconds;
        }
        let mut batch = Batch {
            rejects,
            ..Batch::default()
        };
        let mut gone: BTreeSet<(LocalDay, String)> = BTreeSet::new();
        for input in [SESSIONS, RESPONSE_TOTAL] {
            for key in sink.stored_dimensions(&self.shop, input, days).await? {
                if !totals.contains_key(&key) {
                    gone.insert(key);
                }
            }
        }
        let value = |day: LocalDay, input: &str, agent: &str, v: Option<i64>| DailyValue {
            shop: self.shop.clone(),
            day,
            input: input.to_string(),
            dimension: agent.to_string(),
            value_micros: v,
        };
        for ((day, agent), (sessions, seconds)) in &totals {
            let micros = |n: i64| Some(n.saturating_mul(MICROS));
            batch
                .daily
                .push(value(*day, SESSIONS, agent, micros(*sessions)));
            batch
                .daily
                .push(value(*day, RESPONSE_TOTAL, agent, micros(*seconds)));
        }
        for (day, agent) in &gone {
            batch.daily.push(value(*day, SESSIONS, agent, None));
            batch.daily.push(value(*day, RESPONSE_TOTAL, agent, None));
        }
        sink.commit(batch).await?;
        if incremental {
            sink.set_cursor(STREAM, &started.to_rfc3339_opts(SecondsFormat::Secs, true))
                .await?;
        }
        Ok(())
    }

    /// Follows the export from `start_time` to its end: the latest
    /// contribution of each ticket, and the records set aside.
    async fn export(
        &self,
        start_time: DateTime<Utc>,
        days: Days,
    ) -> Result<(HashMap<u64, Contribution>, Vec<Reject>), ConnectorError> {
        let url = format!("{}{EXPORT_PATH}", self.options.base_url());
        let per_page = self.polling.page_size.to_string();
        let start = start_time.timestamp().to_string();
        let email = format!("{}/token", self.options.email.trim());
        let mut tickets: HashMap<u64, Contribution> = HashMap::new();
        let mut rejects = Vec::new();
        let mut cursor: Option<String> = None;
        let mut page_no = 0u32;
        loop {
            page_no += 1;
            let mut query: Vec<(&str, &str)> =
                vec![("include", "metric_sets"), ("per_page", per_page.as_str())];
            match &cursor {
                Some(c) => query.push(("cursor", c.as_str())),
                None => query.push(("start_time", start.as_str())),
            }
            let mapper = Mapper {
                tz: self.tz,
                days,
                source: strip_query(&url),
                page_no,
            };
            let page = self
                .http
                .get_checked(
                    |c| {
                        c.get(&url)
                            .query(&query)
                            .basic_auth(&email, Some(self.api_token.expose_secret()))
                            .header("Accept", "application/json")
                    },
                    HINT,
                    move |bytes: &[u8]| mapper.page_facts(bytes),
                    // Zendesk answers errors with their HTTP status only.
                    |_: &[u8]| None,
                )
                .await
                .map_err(http_error(&self.name))?
                .body;
            // A ticket changed during the export appears again: the later state wins.
            tickets.extend(page.tickets);
            rejects.extend(page.rejects);
            match advance_cursor(cursor.as_deref(), page.next) {
                Ok(Some(next)) => cursor = Some(next),
                Ok(None) => return Ok((tickets, rejects)),
                Err(repeated) => {
                    return Err(ConnectorError::Http {
                        connector: self.name.clone(),
                        source: crate::http::HttpError::Malformed {
                            url: strip_query(&url),
                            message: repeated.to_string(),
                            snippet: String::new(),
                        },
                    })
                }
            }
        }
    }
}

/// Turns pages into contributions on a blocking thread: owns what it needs.
struct Mapper {
    tz: Tz,
    days: Days,
    source: String,
    page_no: u32,
}

impl Mapper {
    fn page_facts(&self, bytes: &[u8]) -> Result<PageFacts, PageError> {
        let page: ExportPage = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable("an incremental ticket export page", e))?;
        let next = after_cursor(&json!({
            "after_cursor": page.after_cursor,
            "end_of_stream": page.end_of_stream,
        }));
        let mut rejects = Vec::new();
        // A metric set that cannot be read leaves its ticket without one:
        // the ticket is then set aside, with the metric set's text.
        let mut metrics: HashMap<u64, Option<i64>> = HashMap::new();
        let mut unreadable: HashMap<u64, String> = HashMap::new();
        for raw in &page.metric_sets {
            match serde_json::from_str::<MetricSet>(raw.get()) {
                Ok(m) => {
                    let reply = m.reply_time_in_seconds.and_then(|r| r.calendar);
                    metrics.insert(m.ticket_id, reply);
                }
                Err(e) => {
                    if let Some(id) = serde_json::from_str::<Value>(raw.get())
                        .ok()
                        .and_then(|v| v.get("ticket_id").and_then(Value::as_u64))
                    {
                        unreadable.insert(id, format!("metric_set: {e}: {}", raw.get()));
                    }
                }
            }
        }
        let mut tickets = Vec::with_capacity(page.tickets.len());
        for (i, raw) in page.tickets.iter().enumerate() {
            let reject = |locator: String, reason: String| Reject {
                source: self.source.clone(),
                locator,
                reason,
                raw: raw.get().to_string(),
            };
            let t: Ticket = match serde_json::from_str(raw.get()) {
                Ok(t) => t,
                Err(e) => {
                    let id = serde_json::from_str::<Value>(raw.get())
                        .ok()
                        .and_then(|v| v.get("id").and_then(Value::as_u64));
                    let at = match id {
                        Some(id) => format!("ticket {id}"),
                        None => format!("page {} record {}", self.page_no, i + 1),
                    };
                    rejects.push(reject(at, format!("ticket: {e}")));
                    continue;
                }
            };
            let day = local_day(t.created_at, self.tz);
            if t.status.as_deref() == Some("deleted") || !self.days.contains(day) {
                tickets.push((t.id, None));
                continue;
            }
            let reply = match metrics.get(&t.id) {
                Some(r) => *r,
                None => {
                    let reason = unreadable
                        .remove(&t.id)
                        .unwrap_or_else(|| "no metric_set for this ticket on its page".into());
                    rejects.push(reject(format!("ticket {}", t.id), reason));
                    continue;
                }
            };
            let contribution = match reply {
                None => None,
                Some(s) if s < 0 => {
                    rejects.push(reject(
                        format!("ticket {}", t.id),
                        format!("reply_time_in_seconds.calendar {s} is negative"),
                    ));
                    continue;
                }
                Some(s) => Some((
                    day,
                    t.assignee_id
                        .map(|a| a.to_string())
                        .unwrap_or_else(|| UNASSIGNED.to_string()),
                    s,
                )),
            };
            tickets.push((t.id, contribution));
        }
        Ok(PageFacts {
            tickets,
            rejects,
            next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper {
            tz: chrono_tz::Asia::Shanghai,
            days: Days::new(
                LocalDay::from_ymd_opt(2026, 10, 1).unwrap(),
                LocalDay::from_ymd_opt(2026, 10, 2).unwrap(),
            )
            .unwrap(),
            source: "https://x/api/v2/incremental/tickets/cursor.json".into(),
            page_no: 1,
        }
    }

    #[test]
    fn tickets_contribute_by_local_day_and_agent() {
        let body = br#"{"tickets":[
            {"id":1,"created_at":"2026-09-30T16:30:00Z","status":"open","assignee_id":77},
            {"id":2,"created_at":"2026-10-01T03:00:00Z","status":"deleted","assignee_id":77},
            {"id":3,"created_at":"2026-10-01T03:00:00Z","status":"new","assignee_id":null},
            {"id":4,"created_at":"2026-09-30T15:59:59Z","status":"solved","assignee_id":77},
            {"id":5,"created_at":"2026-10-01T03:00:00Z","status":"open"}
        ],"metric_sets":[
            {"ticket_id":1,"reply_time_in_seconds":{"calendar":120,"business":60}},
            {"ticket_id":2,"reply_time_in_seconds":{"calendar":5}},
            {"ticket_id":3,"reply_time_in_seconds":{"calendar":null,"business":null}},
            {"ticket_id":4,"reply_time_in_seconds":{"calendar":9}}
        ],"after_cursor":"abc","end_of_stream":false}"#;
        let page = mapper().page_facts(body).unwrap();
        assert_eq!(page.next.as_deref(), Some("abc"));
        let day = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
        assert_eq!(
            page.tickets,
            vec![
                (1, Some((day, "77".to_string(), 120))),
                (2, None),
                (3, None),
                // 2026-09-30 23:59:59 in Shanghai: before the window.
                (4, None),
            ]
        );
        assert_eq!(page.rejects.len(), 1);
        assert_eq!(page.rejects[0].locator, "ticket 5");
        assert!(page.rejects[0].reason.contains("metric_set"));
    }

    #[test]
    fn the_stream_ends_at_end_of_stream() {
        let body = br#"{"tickets":[],"metric_sets":[],"after_cursor":"z","end_of_stream":true}"#;
        assert_eq!(mapper().page_facts(body).unwrap().next, None);
        assert!(mapper().page_facts(br#"{"error":"x"}"#).is_err());
    }
}
