//! Taobao/Tmall Open Platform (TOP): orders and refunds of one shop through
//! the `router/rest` gateway, every call signed (`md5`, `hmac` or
//! `hmac-sha256`) with the app's secret and carrying the shop's `session`.
//!
//! - A scheduled run asks `taobao.trades.sold.increment.get` for trades
//!   *modified* since the stored cursor minus the lookback, and
//!   `taobao.refunds.receive.get` for refunds modified in the same window.
//!   TOP refuses increment windows wider than one day: the window is cut at
//!   GMT+8 midnights, so no slice is ever wider than a platform day. Both
//!   APIs are read last page first (the documented way not to miss records
//!   modified while paging).
//! - A backfill (`--from/--to`) asks `taobao.trades.sold.get` for trades
//!   *created* on those days (and refunds modified on them), one platform day
//!   per slice, paging forward with `has_next`.
//!
//! TOP speaks GMT+8 without an offset (`yyyy-MM-dd HH:mm:ss`) whatever the
//! shop's zone; money is a decimal string in yuan; `tid` and `refund_id` are
//! JSON numbers beyond 2^53, read as their digits (never through f64).
//! Throttling (code 7, "This ban will last for N more seconds") and bad
//! credentials arrive inside HTTP 200 bodies and are classified by
//! [`envelope::top`].

use super::declarative::blocks::envelope;
use super::declarative::blocks::signing::{Signing, TopSignMethod};
use super::options::PollingSpec;
use super::records::{Naming, PageOf, REFUND};
use super::shop_api::{
    move_cursor, pages_backward, pages_forward, signed_call, MarketApp, MarketOptions,
};
use super::{Connector, ConnectorError, Sink, Window};
use crate::facts::{echo, Batch, FieldError, Order, OrderStatus, Refund};
use crate::http::{HttpError, PageError};
use crate::money::parse_micros;
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The cursor: the end of the last scheduled window that was committed.
const STREAM: &str = "trades";
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
const TRADE_FIELDS: &str = "tid,status,payment,created,modified,pay_time,buyer_open_uid";
const REFUND_FIELDS: &str = "refund_id,tid,refund_fee,status,created,modified";
/// The largest `page_size` the three APIs accept.
const MAX_PAGE_SIZE: u32 = 100;
/// A trade that fails is set aside under its `tid`.
const TRADE: Naming = Naming {
    read: "trade",
    named: "tid",
};
const HINT: &str = "TOP refused the request: check the connector's base_url (the TOP gateway, https://eco.taobao.com/router/rest), app_key, app_secret and session";

fn default_base_url() -> String {
    "https://eco.taobao.com/router/rest".into()
}
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaobaoOptions {
    /// The TOP gateway (or a proxy / mock).
    #[serde(default = "default_base_url")]
    pub base_url: String,
    pub app_key: String,
    /// Credentials (each also as `_env` / `_file`): `app_secret`, and
    /// `session`, the shop's authorization (access token) for this app.
    #[serde(default)]
    pub sign_method: TopSignMethod,
    /// TOP `type` (comma-separated trade types); unset, TOP returns its
    /// default types only.
    #[serde(default)]
    pub trade_type: Option<String>,
}

impl MarketOptions for TaobaoOptions {
    /// TOP quotas are per app and API; it keeps three months of history.
    const APP_POLLING: PollingSpec = PollingSpec::paged(2, 2, 5.0, MAX_PAGE_SIZE, MAX_PAGE_SIZE);
    const APP_SECRETS: [&'static str; 2] = ["app_secret", "session"];
    const KEY_NAME: &'static str = "app_key";
    const CONNECTOR: fn(Arc<MarketApp<Self>>) -> Connector = Connector::Taobao;
    const HINT: &'static str = HINT;
    const ENVELOPE: fn(&[u8]) -> Option<HttpError> = envelope::top;

    fn gateway(&self) -> (&str, &str, Signing) {
        (
            &self.base_url,
            &self.app_key,
            Signing::Top(self.sign_method),
        )
    }
}

pub type TaobaoConnector = MarketApp<TaobaoOptions>;

/// The three TOP calls this connector makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// Trades by modification time, at most one day per call.
    Increment,
    /// Trades by creation time (backfill).
    Sold,
    /// Refunds received by the seller, by modification time.
    Refunds,
}

impl Api {
    fn method(self) -> &'static str {
        match self {
            Api::Increment => "taobao.trades.sold.increment.get",
            Api::Sold => "taobao.trades.sold.get",
            Api::Refunds => "taobao.refunds.receive.get",
        }
    }

    /// The key wrapping a successful answer.
    fn response_key(self) -> &'static str {
        match self {
            Api::Increment => "trades_sold_increment_get_response",
            Api::Sold => "trades_sold_get_response",
            Api::Refunds => "refunds_receive_get_response",
        }
    }

    /// The time filter's parameter names.
    fn range_keys(self) -> (&'static str, &'static str) {
        match self {
            Api::Sold => ("start_created", "end_created"),
            Api::Increment | Api::Refunds => ("start_modified", "end_modified"),
        }
    }

    /// The list inside the answer: `trades.trade` or `refunds.refund`.
    fn list_keys(self) -> (&'static str, &'static str) {
        match self {
            Api::Refunds => ("refunds", "refund"),
            Api::Increment | Api::Sold => ("trades", "trade"),
        }
    }
}

/// One call plan: an API over a piece of the window in GMT+8 wall-clock
/// time (both ends included, as TOP reads them).
#[derive(Debug, Clone, Copy)]
struct Slice {
    api: Api,
    start: NaiveDateTime,
    end: NaiveDateTime,
}

fn gmt8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset")
}

/// `[start, end]` cut at GMT+8 midnights: pieces in GMT+8 wall-clock time,
/// each within one platform day, so never wider than TOP's one-day limit.
pub(crate) fn platform_days(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let (start, end) = (
        start.with_timezone(&gmt8()).naive_local(),
        end.with_timezone(&gmt8()).naive_local(),
    );
    let mut out = Vec::new();
    let mut cur = start;
    while cur <= end {
        let day = cur.date();
        let last_second = day.and_hms_opt(23, 59, 59).expect("a valid time");
        out.push((cur, last_second.min(end)));
        cur = (day + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("a valid time");
    }
    out
}

/// A TOP time (`yyyy-MM-dd HH:mm:ss`, GMT+8, no offset) in `field`.
fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, FieldError> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), TIME_FORMAT).map_err(|e| {
        FieldError::invalid(
            field,
            format!("`{}` is not yyyy-MM-dd HH:mm:ss ({e})", echo(text)),
        )
    })?;
    Ok((naive - Duration::hours(8)).and_utc())
}

impl TaobaoConnector {
    fn slices(&self, trades: Api, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Slice> {
        let days = platform_days(start, end);
        [trades, Api::Refunds]
            .into_iter()
            .flat_map(|api| {
                days.iter()
                    .map(move |&(start, end)| Slice { api, start, end })
            })
            .collect()
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let incremental = window.is_scheduled();
        let now = Utc::now();
        let slices = if incremental {
            let since = self.api.resume(sink, STREAM, now).await?;
            self.slices(Api::Increment, since, now)
        } else {
            let (from, to) = self.api.backfill_days(window);
            let (start, _) = self.api.day_bounds(from);
            let (_, end) = self.api.day_bounds(to);
            self.slices(Api::Sold, start, end.min(now))
        };
        self.api
            .fetch(sink, slices, |slice, tx| self.fetch_slice(slice, tx))
            .await?;
        if incremental {
            // Everything modified up to `now` is committed; only now may the
            // cursor move.
            move_cursor(sink, STREAM, now).await?;
        }
        Ok(())
    }

    async fn fetch_slice(
        &self,
        slice: Slice,
        tx: mpsc::Sender<Batch>,
    ) -> Result<(), ConnectorError> {
        match slice.api {
            // Creation times do not change: forward paging cannot skip.
            Api::Sold => {
                pages_forward(&tx, 1, |page_no| async move {
                    let page = self.call(slice, page_no).await?;
                    let more = page.has_next == Some(true) && page.listed > 0;
                    Ok((page.batch, more))
                })
                .await
            }
            Api::Increment | Api::Refunds => {
                let first = self.call(slice, 1).await?;
                let size = u64::from(self.api.polling.page_size);
                let total = first.total.unwrap_or(0);
                pages_backward(&tx, first.batch, total, size, |page_no| async move {
                    Ok(self.call(slice, page_no).await?.batch)
                })
                .await
            }
        }
    }

    /// One signed call for one page of a slice. The parameters are signed
    /// again on each attempt: a retry after a ban needs a fresh timestamp.
    async fn call(&self, slice: Slice, page_no: u64) -> Result<ParsedPage, ConnectorError> {
        let (start_key, end_key) = slice.api.range_keys();
        // Sent as text, as TOP's own SDK sends them.
        let mut business = Map::new();
        let fields = match slice.api {
            Api::Refunds => REFUND_FIELDS,
            Api::Increment | Api::Sold => TRADE_FIELDS,
        };
        business.insert("fields".into(), fields.into());
        business.insert(
            start_key.into(),
            slice.start.format(TIME_FORMAT).to_string().into(),
        );
        business.insert(
            end_key.into(),
            slice.end.format(TIME_FORMAT).to_string().into(),
        );
        business.insert("page_no".into(), page_no.to_string().into());
        business.insert(
            "page_size".into(),
            self.api.polling.page_size.to_string().into(),
        );
        if slice.api == Api::Sold {
            business.insert("use_has_next".into(), "true".into());
        }
        if let (Some(t), Api::Increment | Api::Sold) = (&self.options.trade_type, slice.api) {
            business.insert("type".into(), t.clone().into());
        }
        let business = Value::Object(business);
        let mapper = Mapper {
            api: slice.api,
            page: self.api.page(
                format!(
                    "{} {}..{}",
                    slice.api.method(),
                    slice.start.format(TIME_FORMAT),
                    slice.end.format(TIME_FORMAT)
                ),
                format!("page {page_no}"),
            ),
        };
        signed_call(self, slice.api.method(), &business, mapper, Mapper::page).await
    }
}

/// A page read into facts, with what paging needs.
struct ParsedPage {
    total: Option<u64>,
    has_next: Option<bool>,
    /// Records listed on the page, taken or rejected.
    listed: usize,
    batch: Batch,
}

/// A platform id (`tid`, `refund_id`): a JSON number of any size (or a
/// string of digits), kept as its digits.
struct TopId(String);

impl<'de> Deserialize<'de> for TopId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // With serde_json's arbitrary_precision, a number keeps its text.
        let text = match Value::deserialize(d)? {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected an id, got {other}"
                )))
            }
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is not an id of digits"
            )));
        }
        Ok(TopId(text))
    }
}

/// Money in yuan: a decimal string (or, tolerated, a JSON number's text).
struct Yuan(String);

impl<'de> Deserialize<'de> for Yuan {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => Ok(Yuan(n.to_string())),
            Value::String(s) => Ok(Yuan(s)),
            other => Err(serde::de::Error::custom(format!(
                "expected an amount, got {other}"
            ))),
        }
    }
}

#[derive(Deserialize)]
struct Trade {
    tid: TopId,
    status: String,
    payment: Yuan,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    pay_time: Option<String>,
    #[serde(default)]
    buyer_open_uid: Option<String>,
}

#[derive(Deserialize)]
struct TopRefund {
    refund_id: TopId,
    tid: TopId,
    refund_fee: Yuan,
    status: String,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    modified: Option<String>,
}

/// Turns pages into facts on a blocking thread: owns what it needs.
struct Mapper {
    api: Api,
    page: PageOf,
}

/// A count TOP may send as a number or a numeric string.
fn count(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.to_string().parse().ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Mapper {
    /// One answer into facts; each record is read on its own so a bad one
    /// is set aside with its raw JSON while the rest of the page lands.
    fn page(&self, bytes: &[u8]) -> Result<ParsedPage, PageError> {
        let key = self.api.response_key();
        let mut envelope: HashMap<String, Box<RawValue>> =
            serde_json::from_slice(bytes).map_err(|e| PageError::undecodable("a TOP answer", e))?;
        let body = envelope
            .remove(key)
            .ok_or_else(|| FieldError::missing(format!("`{key}`")))?;
        let mut body: HashMap<String, Box<RawValue>> = serde_json::from_str(body.get())
            .map_err(|e| FieldError::invalid(format!("`{key}`"), e))?;
        let scalar = |name: &str| -> Result<Option<Value>, FieldError> {
            body.get(name)
                .map(|raw| serde_json::from_str::<Value>(raw.get()))
                .transpose()
                .map_err(|e| FieldError::invalid(format!("`{name}`"), e))
        };
        let total = count(scalar("total_results")?.as_ref());
        let has_next = flag(scalar("has_next")?.as_ref());
        if total.is_none() && self.api != Api::Sold {
            // Reverse paging cannot start without the count.
            return Err(FieldError::missing(format!("`{key}.total_results`")).into());
        }
        let (outer, inner) = self.api.list_keys();
        // TOP leaves the list out when nothing matched.
        let records: Vec<Box<RawValue>> = match body.remove(outer) {
            None => Vec::new(),
            Some(raw) => {
                let mut wrapper: HashMap<String, Box<RawValue>> =
                    serde_json::from_str(raw.get())
                        .map_err(|e| FieldError::invalid(format!("`{outer}`"), e))?;
                match wrapper.remove(inner) {
                    None => Vec::new(),
                    Some(list) => serde_json::from_str(list.get())
                        .map_err(|e| FieldError::invalid(format!("`{outer}.{inner}`"), e))?,
                }
            }
        };
        let batch = match self.api {
            Api::Refunds => self.page.refunds(
                &records,
                REFUND,
                |r: &TopRefund| Some(r.refund_id.0.clone()),
                |r| self.refund_fact(r),
            ),
            Api::Increment | Api::Sold => self.page.orders(
                &records,
                TRADE,
                |t: &Trade| Some(t.tid.0.clone()),
                |t| self.order_fact(t),
            ),
        };
        Ok(ParsedPage {
            total,
            has_next,
            listed: records.len(),
            batch,
        })
    }

    fn order_fact(&self, t: &Trade) -> Result<Order, FieldError> {
        let amount_micros =
            parse_micros(&t.payment.0).map_err(|e| FieldError::invalid("payment", e))?;
        let pay_time = t
            .pay_time
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_time("pay_time", s))
            .transpose()?;
        let status = trade_status(&t.status, pay_time.is_some()).ok_or_else(|| {
            FieldError::invalid(
                "status",
                format!("`{}` is not a known TOP trade status", echo(&t.status)),
            )
        })?;
        let at = match (status, pay_time) {
            (_, Some(p)) => p,
            (OrderStatus::Paid, None) => {
                return Err(FieldError::invalid(
                    "pay_time",
                    format!("missing for status {}", echo(&t.status)),
                ));
            }
            // Never paid: filed under its creation day, it counts nowhere.
            _ => parse_time(
                "created",
                t.created
                    .as_deref()
                    .ok_or_else(|| FieldError::none_set(&["pay_time", "created"]))?,
            )?,
        };
        let buyer_id = t
            .buyer_open_uid
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(self
            .page
            .order(t.tid.0.clone(), Some(at), amount_micros, buyer_id, status))
    }

    /// A refund counts once TOP says `SUCCESS`, on the day it got there
    /// (its last modification); other states are not money returned yet.
    fn refund_fact(&self, r: &TopRefund) -> Result<Option<Refund>, FieldError> {
        if r.status != "SUCCESS" {
            return Ok(None);
        }
        let amount_micros =
            parse_micros(&r.refund_fee.0).map_err(|e| FieldError::invalid("refund_fee", e))?;
        let (name, text) = match (&r.modified, &r.created) {
            (Some(m), _) if !m.trim().is_empty() => ("modified", m),
            (_, Some(c)) => ("created", c),
            _ => return Err(FieldError::none_set(&["modified", "created"])),
        };
        let at = parse_time(name, text)?;
        Ok(Some(self.page.refund(
            r.refund_id.0.clone(),
            r.tid.0.clone(),
            at,
            amount_micros,
        )))
    }
}

/// TOP trade statuses. Unpaid: no payment yet (`WAIT_BUYER_PAY`,
/// `TRADE_NO_CREATE_PAY`, `PAY_PENDING` card payment being confirmed,
/// `WAIT_PRE_AUTH_CONFIRM`) or closed before payment
/// (`TRADE_CLOSED_BY_TAOBAO`). `TRADE_CLOSED` is "closed after a full
/// refund": the sale stays a paid order on its paid day and the money going
/// back is the refund fact on the refund's day, as for other platforms'
/// refunded orders (counting it unpaid as well would take the money off
/// twice); without a `pay_time` it is closed.
fn trade_status(status: &str, has_pay_time: bool) -> Option<OrderStatus> {
    Some(match status {
        "WAIT_BUYER_PAY"
        | "TRADE_NO_CREATE_PAY"
        | "PAY_PENDING"
        | "WAIT_PRE_AUTH_CONFIRM"
        | "TRADE_CLOSED_BY_TAOBAO" => OrderStatus::Unpaid,
        "WAIT_SELLER_SEND_GOODS"
        | "SELLER_CONSIGNED_PART"
        | "WAIT_BUYER_CONFIRM_GOODS"
        | "TRADE_BUYER_SIGNED"
        | "TRADE_FINISHED"
        | "PAID_FORBID_CONSIGN" => OrderStatus::Paid,
        "TRADE_CLOSED" if has_pay_time => OrderStatus::Paid,
        "TRADE_CLOSED" => OrderStatus::Closed,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
