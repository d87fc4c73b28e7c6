//! Pinduoduo (拼多多) 开放平台 orders: form POSTs to the router
//! (`https://gw-api.pinduoduo.com/api/router`) with `type`, `client_id`,
//! `access_token`, `timestamp` (Unix seconds), `data_type=JSON` and an MD5
//! `sign` ([`super::declarative::blocks::signing::pdd_signed`]). Errors, throttling included,
//! arrive inside HTTP 200 bodies as `error_response`
//! ([`super::declarative::blocks::envelope::pdd`]).
//!
//! A scheduled run reads `pdd.order.number.list.increment.get`: orders whose
//! `updated_at` falls since the stored cursor minus the lookback, in windows
//! of at most 30 minutes (the API refuses wider ones). Each window is read
//! backwards — page 1 for the count, then the last page to the first — as
//! Pinduoduo asks, so an order updated while paging moves onto pages already
//! read instead of being skipped. A backfill (`--from/--to`) reads
//! `pdd.order.list.get` by deal time (`start_confirm_at`/`end_confirm_at`),
//! one local day per slice (the API allows 24 hours).
//!
//! Records: `order_sn` is the id (text, even when a number is sent);
//! `pay_amount` (yuan, string or number) the amount; `pay_time` — else
//! `confirm_time`, else `created_time` — the time it counts on, as Beijing
//! wall-clock text or Unix seconds. Pinduoduo exposes no buyer identity in
//! order lists, so every order counts as its own buyer.
//!
//! Refunds come from the after-sales list `pdd.refund.list.increment.get`
//! (售后列表增量接口), read after the orders of the same run: by the
//! after-sale's `updated_at` in the same 30-minute windows (the API's own
//! limit), backwards like the order increment, for a scheduled run the
//! same span as its orders, for a backfill each local day of the range.
//! Fields, as the API's documentation describes them (the open platform's
//! page for this API, mirrored in the public SDK typings, e.g.
//! `pdd-node-sdk`'s `PddRefundListIncrementGet`): request
//! `after_sales_status` (10 = 退款成功, refund succeeded: the only state
//! asked for and the only one counted), `after_sales_type` (1 = all kinds),
//! `start_updated_at`/`end_updated_at` (Unix seconds, at most 30 minutes
//! apart), `page` from 1, `page_size` ≤ 100; answer
//! `refund_increment_get_response.{total_count, refund_list}` whose
//! records carry `id` (售后编号, the refund id), `order_sn`,
//! `refund_amount` (退款金额, yuan), `after_sales_status` and
//! `updated_time`/`created_time` (Beijing wall-clock text). A succeeded
//! after-sale no longer changes, so its `updated_time` is the moment it
//! succeeded: the refund counts on that local day of the shop.

use super::cn_fields::{self, slices};
use super::declarative::blocks::envelope;
use super::declarative::blocks::paging::page_count;
use super::declarative::blocks::signing::Signing;
use super::options::PollingSpec;
use super::records::{PageOf, ORDER, REFUND};
use super::shop_api::{
    days, move_cursor, pages_backward, pages_in_order, signed_call, MarketApp, MarketOptions,
};
use super::{Connector, ConnectorError, Sink, Window};
use crate::facts::{Batch, FieldError, Order, OrderStatus, Refund};
use crate::http::{HttpError, PageError};
use crate::period::LocalDay;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::sync::Arc;
use tokio::sync::mpsc;

const STREAM: &str = "orders";
const INCREMENT_API: &str = "pdd.order.number.list.increment.get";
const LIST_API: &str = "pdd.order.list.get";
const REFUND_API: &str = "pdd.refund.list.increment.get";
/// `after_sales_status` 10: 退款成功 (the refund succeeded).
const REFUND_SUCCEEDED: i64 = 10;
const HINT: &str = "check the connector's base_url (the Pinduoduo router), client_id, client_secret and access_token";
/// Widest `updated_at` window the increment API accepts.
const INCREMENT_MAX_MINUTES: i64 = 30;
/// Widest `confirm_at` window `pdd.order.list.get` accepts.
const LIST_MAX_HOURS: i64 = 24;

fn default_base_url() -> String {
    "https://gw-api.pinduoduo.com/api/router".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinduoduoOptions {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The app's `client_id` (not a secret: it is sent in every request).
    pub client_id: String,
}

impl MarketOptions for PinduoduoOptions {
    const APP_POLLING: PollingSpec = PollingSpec::paged(2, 4, 5.0, 100, 100);
    const APP_SECRETS: [&'static str; 2] = ["client_secret", "access_token"];
    const KEY_NAME: &'static str = "client_id";
    const CONNECTOR: fn(Arc<MarketApp<Self>>) -> Connector = Connector::Pinduoduo;
    const HINT: &'static str = HINT;
    const ENVELOPE: fn(&[u8]) -> Option<HttpError> = envelope::pdd;

    fn gateway(&self) -> (&str, &str, Signing) {
        (&self.base_url, &self.client_id, Signing::Pdd)
    }
}

pub type PinduoduoConnector = MarketApp<PinduoduoOptions>;

/// Which list a window is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `pdd.order.number.list.increment.get`, by `updated_at`, read backwards.
    Increment,
    /// `pdd.order.list.get`, by deal time, read forwards.
    List,
    /// `pdd.refund.list.increment.get`, by `updated_at`, read backwards.
    Refunds,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Increment => INCREMENT_API,
            Api::List => LIST_API,
            Api::Refunds => REFUND_API,
        }
    }
}

/// One window of one list; both bounds inclusive.
#[derive(Debug, Clone, Copy)]
struct Slice {
    api: Api,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// `{"order_sn_increment_get_response": {...}}`,
/// `{"order_list_get_response": {...}}` or
/// `{"refund_increment_get_response": {...}}`, records kept raw so one bad
/// record is set aside, not the page.
#[derive(Deserialize)]
struct Envelope {
    order_sn_increment_get_response: Option<PageBody>,
    order_list_get_response: Option<PageBody>,
    refund_increment_get_response: Option<PageBody>,
}

#[derive(Deserialize)]
struct PageBody {
    total_count: Option<u64>,
    #[serde(default)]
    order_sn_list: Vec<Box<RawValue>>,
    #[serde(default)]
    order_list: Vec<Box<RawValue>>,
    #[serde(default)]
    refund_list: Vec<Box<RawValue>>,
}

/// The fields of an after-sale kpid reads.
#[derive(Deserialize)]
struct PddRefund {
    id: Option<Value>,
    order_sn: Option<Value>,
    refund_amount: Option<Value>,
    after_sales_status: Option<Value>,
    updated_time: Option<Value>,
}

/// The fields kpid reads; the rest of a record is ignored.
#[derive(Deserialize)]
struct PddOrder {
    order_sn: Option<Value>,
    pay_amount: Option<Value>,
    pay_time: Option<Value>,
    confirm_time: Option<Value>,
    created_time: Option<Value>,
    confirm_status: Option<Value>,
    group_status: Option<Value>,
}

/// A page's records and the window's total count.
struct PageFacts {
    total: u64,
    batch: Batch,
}

impl PinduoduoConnector {
    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let incremental = window.is_scheduled();
        if incremental {
            // Whole minutes: the end of this run's window is the next run's
            // cursor, and the seconds still being written are left to it.
            let until = Utc::now()
                .duration_trunc(Duration::minutes(1))
                .unwrap_or_else(|_| Utc::now());
            let since = self.api.resume(sink, STREAM, until).await?;
            let windows = slices(since, until, Duration::minutes(INCREMENT_MAX_MINUTES));
            self.fetch(Self::on(Api::Increment, &windows), sink).await?;
            self.fetch(Self::on(Api::Refunds, &windows), sink).await?;
            // Every order updated up to `until` is committed; only now may
            // the cursor move.
            move_cursor(sink, STREAM, until).await?;
        } else {
            let (from, to) = self.api.backfill_days(window);
            let orders = self.day_windows(from, to, Duration::hours(LIST_MAX_HOURS));
            self.fetch(Self::on(Api::List, &orders), sink).await?;
            // Refunds of those days by the time they last changed, in the
            // increment API's windows.
            let refunds = self.day_windows(from, to, Duration::minutes(INCREMENT_MAX_MINUTES));
            self.fetch(Self::on(Api::Refunds, &refunds), sink).await?;
        }
        Ok(())
    }

    /// `windows` as slices of `api`.
    fn on(api: Api, windows: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<Slice> {
        windows
            .iter()
            .map(|&(start, end)| Slice { api, start, end })
            .collect()
    }

    /// Local days of `[from, to]`, each cut into windows no wider than
    /// `max` (a day with a DST change can be 25 hours).
    fn day_windows(
        &self,
        from: LocalDay,
        to: LocalDay,
        max: Duration,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        days(from, to)
            .flat_map(|d| {
                let (start, end) = self.api.day_bounds(d);
                slices(start, end, max)
            })
            .collect()
    }

    async fn fetch(&self, windows: Vec<Slice>, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        self.api
            .fetch(sink, windows, |slice, tx| self.fetch_slice(slice, tx))
            .await
    }

    async fn fetch_slice(
        &self,
        slice: Slice,
        tx: mpsc::Sender<Batch>,
    ) -> Result<(), ConnectorError> {
        let size = u64::from(self.api.polling.page_size);
        let first = self.page(slice, 1).await?;
        let batch = |n| async move { Ok(self.page(slice, n).await?.batch) };
        match slice.api {
            Api::Increment | Api::Refunds => {
                pages_backward(&tx, first.batch, first.total, size, batch).await
            }
            Api::List => {
                if tx.send(first.batch).await.is_err() {
                    return Ok(());
                }
                let pages = page_count(first.total, size);
                pages_in_order(&tx, 2..=pages, batch).await
            }
        }
    }

    fn business(&self, slice: Slice, page_no: u64) -> Value {
        let (start_key, end_key) = match slice.api {
            Api::Increment | Api::Refunds => ("start_updated_at", "end_updated_at"),
            Api::List => ("start_confirm_at", "end_confirm_at"),
        };
        // Sent as text, as the platform's signer sends them.
        let mut p = Map::new();
        p.insert(start_key.into(), slice.start.timestamp().to_string().into());
        p.insert(end_key.into(), slice.end.timestamp().to_string().into());
        if slice.api == Api::Refunds {
            // Only succeeded refunds count; 1: every after-sales kind.
            p.insert(
                "after_sales_status".into(),
                REFUND_SUCCEEDED.to_string().into(),
            );
            p.insert("after_sales_type".into(), "1".into());
        } else {
            // 5: every shipping state; 5: every after-sales state.
            p.insert("order_status".into(), "5".into());
            p.insert("refund_status".into(), "5".into());
        }
        if slice.api == Api::Increment {
            // 0: lottery and ordinary orders alike.
            p.insert("is_lucky_flag".into(), "0".into());
        }
        p.insert("page".into(), page_no.to_string().into());
        p.insert(
            "page_size".into(),
            self.api.polling.page_size.to_string().into(),
        );
        Value::Object(p)
    }

    async fn page(&self, slice: Slice, page_no: u64) -> Result<PageFacts, ConnectorError> {
        let business = self.business(slice, page_no);
        let mapper = Mapper {
            api: slice.api,
            page: self.api.page(slice.api.name(), format!("page {page_no}")),
        };
        signed_call(
            self,
            slice.api.name(),
            &business,
            mapper,
            Mapper::page_facts,
        )
        .await
    }
}

/// Turns pages into facts on a blocking thread: owns what it needs.
struct Mapper {
    api: Api,
    page: PageOf,
}

impl Mapper {
    fn page_facts(&self, bytes: &[u8]) -> Result<PageFacts, PageError> {
        let env: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable(format!("a {} answer", self.api.name()), e))?;
        let body = match self.api {
            Api::Increment => env.order_sn_increment_get_response,
            Api::List => env.order_list_get_response,
            Api::Refunds => env.refund_increment_get_response,
        }
        .ok_or_else(|| {
            FieldError::missing(format!("the response object of {}", self.api.name()))
        })?;
        let total = body
            .total_count
            .ok_or_else(|| FieldError::missing("total_count"))?;
        let batch = match self.api {
            Api::Increment => self.to_facts(&body.order_sn_list),
            Api::List => self.to_facts(&body.order_list),
            Api::Refunds => self.refund_facts(&body.refund_list),
        };
        Ok(PageFacts { total, batch })
    }

    fn refund_facts(&self, raws: &[Box<RawValue>]) -> Batch {
        self.page.refunds(
            raws,
            REFUND,
            |r: &PddRefund| cn_fields::text(r.id.as_ref()),
            |r| self.refund(r),
        )
    }

    /// One after-sale: a refund once `after_sales_status` is 10 (退款成功),
    /// on the local day of its `updated_time`; any other state is not
    /// money returned (yet) and is skipped.
    fn refund(&self, r: &PddRefund) -> Result<Option<Refund>, FieldError> {
        if cn_fields::code(r.after_sales_status.as_ref()) != Some(REFUND_SUCCEEDED) {
            return Ok(None);
        }
        let refund_id = cn_fields::id(r.id.as_ref(), "id")?;
        let order_id = cn_fields::id(r.order_sn.as_ref(), "order_sn")?;
        let amount = cn_fields::refund_yuan_micros(r.refund_amount.as_ref(), "refund_amount")?;
        let at = cn_fields::required_time(r.updated_time.as_ref(), "updated_time")?;
        Ok(Some(self.page.refund(refund_id, order_id, at, amount)))
    }

    fn to_facts(&self, raws: &[Box<RawValue>]) -> Batch {
        self.page.orders(
            raws,
            ORDER,
            |o: &PddOrder| cn_fields::text(o.order_sn.as_ref()),
            |o| self.order(o),
        )
    }

    /// One order.
    ///
    /// Status: `confirm_status` 2 (已取消, cancelled) or `group_status` 2
    /// (团失败, the group-buy failed and the money went back) is
    /// *cancelled*; no `pay_time`, or `confirm_status` 0 (未成交, a group
    /// still forming) is *unpaid*; anything else — `confirm_status` 1
    /// (已成交), or a paid order without the field — is *paid*. An order
    /// refunded after the deal stays paid (GMV counts the sale; the refund is
    /// its own record, from the after-sales list).
    fn order(&self, o: &PddOrder) -> Result<Order, FieldError> {
        let order_id = cn_fields::id(o.order_sn.as_ref(), "order_sn")?;
        let amount_micros = cn_fields::yuan_micros(o.pay_amount.as_ref(), "pay_amount")?;
        let pay_time = cn_fields::time(o.pay_time.as_ref(), "pay_time")?;
        let confirm_time = cn_fields::time(o.confirm_time.as_ref(), "confirm_time")?;
        let created = cn_fields::time(o.created_time.as_ref(), "created_time")?;
        let confirm = cn_fields::code(o.confirm_status.as_ref());
        let group = cn_fields::code(o.group_status.as_ref());
        let status = if confirm == Some(2) || group == Some(2) {
            OrderStatus::Cancelled
        } else if pay_time.is_none() || confirm == Some(0) {
            OrderStatus::Unpaid
        } else {
            OrderStatus::Paid
        };
        let at = pay_time
            .or(confirm_time)
            .or(created)
            .ok_or_else(|| FieldError::none_set(&["pay_time", "confirm_time", "created_time"]))?;
        Ok(self
            .page
            .order(order_id, Some(at), amount_micros, None, status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(api: Api) -> Mapper {
        Mapper {
            api,
            page: PageOf::test(api.name()),
        }
    }

    #[test]
    fn statuses_follow_confirm_and_group_status() {
        let page = br#"{"order_sn_increment_get_response":{"total_count":5,"has_next":false,"order_sn_list":[
            {"order_sn":"a","pay_amount":"1.00","pay_time":"2026-03-01 10:00:00","confirm_status":1,"group_status":1},
            {"order_sn":"b","pay_amount":1,"pay_time":"2026-03-01 10:00:00","confirm_status":2},
            {"order_sn":"c","pay_amount":"1","pay_time":"2026-03-01 10:00:00","confirm_status":1,"group_status":2},
            {"order_sn":"d","pay_amount":"1","pay_time":"","created_time":"2026-03-01 10:00:00"},
            {"order_sn":"e","pay_amount":"1","pay_time":"2026-03-01 10:00:00","confirm_status":"0"}
        ]}}"#;
        let facts = mapper(Api::Increment).page_facts(page).unwrap();
        assert_eq!(facts.total, 5);
        let statuses: Vec<_> = facts.batch.orders.iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            vec![
                OrderStatus::Paid,
                OrderStatus::Cancelled,
                OrderStatus::Cancelled,
                OrderStatus::Unpaid,
                OrderStatus::Unpaid
            ]
        );
    }

    #[test]
    fn a_page_without_its_response_object_or_count_is_malformed() {
        let m = mapper(Api::List);
        assert!(m
            .page_facts(br#"{"order_list_get_response":{"order_list":[]}}"#)
            .is_err());
        assert!(m
            .page_facts(br#"{"order_sn_increment_get_response":{"total_count":0}}"#)
            .is_err());
        assert!(m.page_facts(b"<html>").is_err());
        let ok = m
            .page_facts(br#"{"order_list_get_response":{"total_count":0,"order_list":[]}}"#)
            .unwrap();
        assert_eq!(ok.total, 0);
        assert!(ok.batch.is_empty());
    }

    #[test]
    fn only_succeeded_after_sales_are_refunds_on_their_update_day() {
        let page = br#"{"refund_increment_get_response":{"total_count":3,"refund_list":[
            {"id":9007199254740993,"order_sn":"260301-1","refund_amount":"12.30","after_sales_status":10,"updated_time":"2026-03-01 00:30:00"},
            {"id":2,"order_sn":"260301-1","refund_amount":"1.00","after_sales_status":4,"updated_time":"2026-03-01 00:30:00"},
            {"id":"3","order_sn":"260301-2","refund_amount":"1.00","after_sales_status":"10"}
        ]}}"#;
        let facts = mapper(Api::Refunds).page_facts(page).unwrap();
        assert_eq!(facts.total, 3);
        let r = &facts.batch.refunds;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].refund_id, "9007199254740993");
        assert_eq!(r[0].amount.micros(), 12_300_000);
        assert_eq!(r[0].local_day, LocalDay::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(facts.batch.rejects[0].locator, "refund 3");
        assert!(facts.batch.rejects[0].reason.contains("updated_time"));
    }

    #[test]
    fn a_record_without_any_time_is_set_aside_with_its_id() {
        let page = br#"{"order_list_get_response":{"total_count":1,"order_list":[
            {"order_sn":"260301-1","pay_amount":"3.00"}]}}"#;
        let facts = mapper(Api::List).page_facts(page).unwrap();
        assert_eq!(facts.batch.rejects.len(), 1);
        assert_eq!(facts.batch.rejects[0].locator, "order 260301-1");
        assert!(facts.batch.rejects[0].raw.contains("\"3.00\""));
    }
}
