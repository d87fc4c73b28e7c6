//! 抖店 (Douyin shop) open platform: `order.searchList` at
//! `{base_url}/order/searchList`, signed with HMAC-SHA256 over the sorted,
//! compact `param_json` (see [`super::declarative::blocks::signing::douyin_signed`]), errors
//! inside HTTP-200 bodies (`code` ≠ 10000; see
//! [`super::declarative::blocks::envelope::douyin`]), `page` counted from 0 with
//! `size` ≤ 100, times in Unix seconds, money in fen (integers).
//!
//! The request is a POST whose query carries every signed parameter
//! (`app_key`, `method`, `access_token`, `param_json`, `timestamp`, `v=2`,
//! `sign_method=hmac-sha256`, `sign`), with `param_json` also as the JSON
//! body, as the official SDKs send it. The signature is computed again on
//! each attempt so a retried request carries a fresh `timestamp`.
//!
//! A backfill (`--from/--to`) fetches orders *created* in the range
//! (`create_time_start/end`), one local day of the shop per slice. A
//! scheduled run fetches what was *updated* since the stored cursor minus
//! `lookback_days` (`update_time_start/end`), so late payments and
//! cancellations are picked up; the cursor moves only after every page is
//! committed. An order updated while its slice is being paged can move past
//! the slice's end and shift a record out of the pages still to read: the
//! next scheduled run fetches it again (its new `update_time` lies after
//! this run's start, which becomes the cursor).
//!
//! Facts: `order_id` is kept as the exact text (ids exceed 2^53);
//! `pay_amount` in fen becomes exact micros (12345 fen = 123.45 yuan);
//! the buyer is `doudian_open_id`; an order is filed under the local day
//! of its `pay_time` (of `create_time` when a paid order has none).
//! `order_status` maps as follows:
//!
//! | code | 抖店 meaning              | status      |
//! |------|--------------------------|-------------|
//! | 1    | 待确认/待支付 (placed)     | `unpaid`    |
//! | 103  | 部分支付 (part paid)      | `unpaid`    |
//! | 105  | 已支付 (paid)             | `paid`      |
//! | 2    | 备货中 (to ship)          | `paid`      |
//! | 101  | 部分发货 (part shipped)   | `paid`      |
//! | 3    | 已发货 (shipped)          | `paid`      |
//! | 5    | 已完成 (completed)        | `paid`      |
//! | 4    | 已取消 (cancelled)        | `cancelled` |
//!
//! Any other code counts as `paid` when the order has a `pay_time`, else as
//! `unpaid` (new codes have so far been stages after payment).
//!
//! Refunds come from the after-sales list `afterSale.List`
//! (`{base_url}/afterSale/List`, same signing, envelope and errors), read
//! after the orders of the same run, by *update* time over the same local
//! days (`update_start_time`/`update_end_time`, both included, with
//! `order_by: ["update_time asc"]` as the API asks for update-time
//! polling), for a backfill the range's days. Field meanings from the API's
//! documentation (抖店开放平台 售后列表, as carried in the SDKs generated from
//! it, e.g. `AfterSaleListReq`/`AfterSaleListRsp`): times are Unix seconds,
//! money is fen; `page` counts from 0, `size` ≤ 100, `data.has_more` and
//! `data.total`; each of `data.items` has `aftersale_info` (`aftersale_id`,
//! `refund_status` — 3 is 退款成功, the money went back; 1 待退款, 2 退款中,
//! 4 退款失败 are not (yet) refunds —, `refund_amount` in fen (the goods
//! refund; the returned postage `refund_post_amount` is not added),
//! `update_time`) and `order_info.shop_order_id` (the order). A refunded
//! after-sale counts on the local day of its `update_time`, the moment it
//! last changed, i.e. when the refund went through.

mod fields;

use super::declarative::blocks::envelope;
use super::declarative::blocks::paging::page_count;
use super::declarative::blocks::signing::Signing;
use super::options::PollingSpec;
use super::records::{PageOf, AFTER_SALE, ORDER};
use super::shop_api::{days, move_cursor, signed_call, MarketApp, MarketOptions};
use super::{Connector, ConnectorError, Sink, Window};
use crate::facts::{Batch, FieldError, Order, OrderStatus, Refund};
use crate::http::{HttpError, PageError};
use crate::period::{local_day, today, LocalDay};
use chrono::{DateTime, Utc};
use fields::{count, fen_micros, id_text, instant, integer, required_id};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const STREAM: &str = "orders";
const METHOD: &str = "order.searchList";
const REFUND_METHOD: &str = "afterSale.List";
/// `refund_status` 3: 退款成功 (refunded).
const REFUND_SUCCEEDED: i64 = 3;
const HINT: &str = "check the connector's app_key, app_secret and access_token (the shop must have authorized the app, with the order permission package)";

fn default_base_url() -> String {
    "https://openapi-fxg.jinritemai.com".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DouyinOptions {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The app's `app_key` (not a secret: it is sent in every URL).
    pub app_key: String,
}

impl MarketOptions for DouyinOptions {
    const APP_POLLING: PollingSpec = PollingSpec::paged(2, 2, 5.0, 100, 100);
    const APP_SECRETS: [&'static str; 2] = ["app_secret", "access_token"];
    const KEY_NAME: &'static str = "app_key";
    const CONNECTOR: fn(Arc<MarketApp<Self>>) -> Connector = Connector::Douyin;
    const HINT: &'static str = HINT;
    const ENVELOPE: fn(&[u8]) -> Option<HttpError> = envelope::douyin;

    fn gateway(&self) -> (&str, &str, Signing) {
        (&self.base_url, &self.app_key, Signing::Douyin)
    }

    /// Routed by path: the method's dots become its slashes
    /// (`order.searchList` at `{base_url}/order/searchList`).
    fn url(&self, method: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        format!("{base}/{}", method.replace('.', "/"))
    }
}

pub type DouyinConnector = MarketApp<DouyinOptions>;

/// Which time an order list is filtered and ordered by.
#[derive(Debug, Clone, Copy)]
enum TimeField {
    Create,
    Update,
}

impl TimeField {
    fn name(self) -> &'static str {
        match self {
            TimeField::Create => "create_time",
            TimeField::Update => "update_time",
        }
    }
}

/// One request plan: a time filter over a slice of the window (inclusive
/// Unix seconds), named by its local day for reject locators.
#[derive(Debug, Clone, Copy)]
struct Slice {
    field: TimeField,
    day: LocalDay,
    start: i64,
    end: i64,
}

/// The `data` of a page, each order kept raw so one bad record is set
/// aside, not the page.
#[derive(Deserialize)]
struct Envelope {
    data: PageData,
}

#[derive(Deserialize)]
struct PageData {
    #[serde(default)]
    shop_order_list: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    total: Option<Value>,
}

/// A parsed page: its facts and the order total the platform reports.
struct PageFacts {
    batch: Batch,
    served: usize,
    total: Option<u64>,
}

/// The `data` of an after-sales page, each item kept raw.
#[derive(Deserialize)]
struct RefundEnvelope {
    data: RefundData,
}

#[derive(Deserialize)]
struct RefundData {
    #[serde(default)]
    items: Option<Vec<Box<RawValue>>>,
    #[serde(default)]
    has_more: Option<bool>,
}

/// One item of an after-sales page: the after-sale and its order.
#[derive(Deserialize)]
struct AfterSaleItem {
    aftersale_info: Map<String, Value>,
    #[serde(default)]
    order_info: Map<String, Value>,
}

/// A parsed after-sales page: its refunds, how many items it listed and
/// whether the platform has more.
struct RefundPage {
    batch: Batch,
    served: usize,
    has_more: bool,
}

impl DouyinConnector {
    /// Day slices of `[from, to]` (local days), none reaching past `until`.
    fn day_slices(
        &self,
        field: TimeField,
        from: LocalDay,
        to: LocalDay,
        until: Option<DateTime<Utc>>,
    ) -> Vec<Slice> {
        days(from, to)
            .filter_map(|day| {
                let (start, end) = self.api.day_bounds(day);
                let (start, mut end) = (start.timestamp(), end.timestamp());
                if let Some(u) = until {
                    end = end.min(u.timestamp());
                }
                (start <= end).then_some(Slice {
                    field,
                    day,
                    start,
                    end,
                })
            })
            .collect()
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let incremental = window.is_scheduled();
        let started = Utc::now();
        let (field, from, to, until) = if incremental {
            let since = self.api.resume(sink, STREAM, started).await?;
            let from = local_day(since, self.api.tz);
            (TimeField::Update, from, today(self.api.tz), Some(started))
        } else {
            let (from, to) = self.api.backfill_days(window);
            (TimeField::Create, from, to, None)
        };
        let slices = self.day_slices(field, from, to, until);
        self.api
            .fetch_paged(sink, slices, 0, |slice, n| self.orders_page(slice, n))
            .await?;
        // The same days' after-sales, by the time they last changed.
        let refund_days = self.day_slices(TimeField::Update, from, to, until);
        self.api
            .fetch_paged(sink, refund_days, 0, |slice, n| self.refunds_page(slice, n))
            .await?;
        if incremental {
            // Every order updated before the run started is stored now.
            move_cursor(sink, STREAM, started).await?;
        }
        Ok(())
    }

    /// Page `page` (from 0) of a slice's orders, and whether another
    /// follows.
    async fn orders_page(&self, slice: Slice, page: u64) -> Result<(Batch, bool), ConnectorError> {
        let size = u64::from(self.api.polling.page_size);
        let field = slice.field.name();
        let filter = json!({
            format!("{field}_start"): slice.start,
            format!("{field}_end"): slice.end,
            "order_by": field,
            "order_asc": true,
        });
        let place = format!("{field} {}", slice.day);
        let parsed = self
            .list_page(METHOD, filter, place, page, Mapper::page_facts)
            .await?;
        // A short or empty page ends the slice whatever `total` claims,
        // so a wrong total cannot loop.
        let more = match parsed.total {
            Some(t) => page + 1 < page_count(t, size),
            None => true,
        };
        Ok((parsed.batch, parsed.served as u64 >= size && more))
    }

    /// Page `page` (from 0) of a slice's after-sales by update time, and
    /// whether another follows.
    async fn refunds_page(&self, slice: Slice, page: u64) -> Result<(Batch, bool), ConnectorError> {
        let size = u64::from(self.api.polling.page_size);
        let filter = json!({
            "update_start_time": slice.start,
            "update_end_time": slice.end,
            "order_by": ["update_time asc"],
        });
        let place = format!("after-sales {}", slice.day);
        let parsed = self
            .list_page(REFUND_METHOD, filter, place, page, Mapper::refund_page)
            .await?;
        // A short or empty page ends the slice whatever `has_more` says.
        Ok((
            parsed.batch,
            parsed.served as u64 >= size && parsed.has_more,
        ))
    }

    /// Page `page` of the list `method` filtered by `filter`, read by
    /// `parse`: the lists take `page` (from 0) and `size` after the filter.
    /// `place` and the page locate the records that have no usable id.
    async fn list_page<T: Send + 'static>(
        &self,
        method: &str,
        mut filter: Value,
        place: String,
        page: u64,
        parse: fn(&Mapper, &[u8]) -> Result<T, PageError>,
    ) -> Result<T, ConnectorError> {
        if let Value::Object(business) = &mut filter {
            business.insert("page".into(), page.into());
            business.insert("size".into(), self.api.polling.page_size.into());
        }
        let source = self.options.url(method);
        let mapper = Mapper(self.api.page(source, format!("{place} page {page}")));
        signed_call(self, method, &filter, mapper, parse).await
    }
}

/// Turns pages into facts on a blocking thread: owns what it needs.
/// Its place is the slice and page.
struct Mapper(PageOf);

impl Mapper {
    fn page_facts(&self, bytes: &[u8]) -> Result<PageFacts, PageError> {
        let env: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable("an order list", e))?;
        let list = env
            .data
            .shop_order_list
            .ok_or_else(|| FieldError::missing("data.shop_order_list"))?;
        let total = env.data.total.as_ref().and_then(count);
        let batch = self.0.orders(
            &list,
            ORDER,
            |record: &Map<String, Value>| id_text(record.get("order_id")),
            |record| self.order(record),
        );
        Ok(PageFacts {
            served: list.len(),
            batch,
            total,
        })
    }

    fn refund_page(&self, bytes: &[u8]) -> Result<RefundPage, PageError> {
        let env: RefundEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable("an after-sales list", e))?;
        let items = env
            .data
            .items
            .ok_or_else(|| FieldError::missing("data.items"))?;
        let batch = self.0.refunds(
            &items,
            AFTER_SALE,
            |item: &AfterSaleItem| id_text(item.aftersale_info.get("aftersale_id")),
            |item| self.refund(item),
        );
        Ok(RefundPage {
            served: items.len(),
            has_more: env.data.has_more.unwrap_or(false),
            batch,
        })
    }

    /// One after-sale: a refund once `refund_status` is 3 (退款成功), on the
    /// local day of its `update_time`; other states are skipped.
    fn refund(&self, item: &AfterSaleItem) -> Result<Option<Refund>, FieldError> {
        let info = &item.aftersale_info;
        if integer(info, "refund_status")? != Some(REFUND_SUCCEEDED) {
            return Ok(None);
        }
        let refund_id = required_id(info.get("aftersale_id"), "aftersale_id")?;
        let order_id = required_id(
            item.order_info.get("shop_order_id"),
            "order_info.shop_order_id",
        )?;
        let fen =
            integer(info, "refund_amount")?.ok_or_else(|| FieldError::missing("refund_amount"))?;
        let amount_micros = fen_micros(fen, "refund_amount")?;
        let at = instant(info, "update_time")?.ok_or_else(|| FieldError::missing("update_time"))?;
        Ok(Some(self.0.refund(refund_id, order_id, at, amount_micros)))
    }

    fn order(&self, r: &Map<String, Value>) -> Result<Order, FieldError> {
        let order_id = required_id(r.get("order_id"), "order_id")?;
        let fen = integer(r, "pay_amount")?.ok_or_else(|| FieldError::missing("pay_amount"))?;
        let amount_micros = fen_micros(fen, "pay_amount")?;
        let created =
            instant(r, "create_time")?.ok_or_else(|| FieldError::missing("create_time"))?;
        let paid = instant(r, "pay_time")?;
        let code =
            integer(r, "order_status")?.ok_or_else(|| FieldError::missing("order_status"))?;
        let status = order_status(code, paid.is_some());
        let paid_at = match status {
            OrderStatus::Paid => Some(paid.unwrap_or(created)),
            _ => paid,
        };
        let buyer_id = r
            .get("doudian_open_id")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        Ok(self
            .0
            .order(order_id, paid_at, amount_micros, buyer_id, status))
    }
}

/// The status an `order_status` code stands for (see the module docs).
fn order_status(code: i64, has_pay_time: bool) -> OrderStatus {
    match code {
        4 => OrderStatus::Cancelled,
        1 | 103 => OrderStatus::Unpaid,
        2 | 3 | 5 | 101 | 105 => OrderStatus::Paid,
        _ if has_pay_time => OrderStatus::Paid,
        _ => OrderStatus::Unpaid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper(PageOf {
            shop: "dy".into(),
            tz: chrono_tz::Asia::Shanghai,
            source: "https://x/order/searchList".into(),
            place: "create_time 2026-10-01 page 0".into(),
        })
    }

    #[test]
    fn fen_become_exact_yuan_and_big_ids_stay_exact() {
        let body = br#"{"code":10000,"msg":"success","data":{"shop_order_list":[
            {"order_id":"6920000000000000123","pay_amount":12345,"create_time":1759248000,"pay_time":1759248060,"update_time":1759248060,"order_status":105,"doudian_open_id":"1@#abc"},
            {"order_id":6920000000000000999,"pay_amount":"1","create_time":1759248000,"pay_time":0,"order_status":1}
        ],"page":0,"size":100,"total":2}}"#;
        let page = mapper().page_facts(body).unwrap();
        assert_eq!(page.total, Some(2));
        let o = &page.batch.orders;
        assert_eq!(o[0].order_id, "6920000000000000123");
        assert_eq!(o[0].amount.micros(), 123_450_000);
        assert_eq!(o[0].status, OrderStatus::Paid);
        assert_eq!(o[0].buyer_id.as_deref(), Some("1@#abc"));
        // 2025-09-30 16:01 UTC is 2025-10-01 00:01 in Shanghai.
        assert_eq!(o[0].local_day, LocalDay::from_ymd_opt(2025, 10, 1));
        assert_eq!(o[1].order_id, "6920000000000000999");
        assert_eq!(o[1].amount.micros(), 10_000);
        assert_eq!(o[1].status, OrderStatus::Unpaid);
        assert_eq!(o[1].paid_at, None);
    }

    #[test]
    fn only_refunded_after_sales_count_in_exact_yuan() {
        let body = br#"{"code":10000,"data":{"has_more":false,"total":3,"items":[
            {"aftersale_info":{"aftersale_id":7400000000000000999,"refund_status":3,"refund_amount":12345,"update_time":1759248000},"order_info":{"shop_order_id":"6920000000000000123"}},
            {"aftersale_info":{"aftersale_id":"2","refund_status":2,"refund_amount":1,"update_time":1759248000},"order_info":{"shop_order_id":"1"}},
            {"aftersale_info":{"aftersale_id":"3","refund_status":3,"refund_amount":1,"update_time":1759248000},"order_info":{}}
        ]}}"#;
        let page = mapper().refund_page(body).unwrap();
        assert_eq!((page.served, page.has_more), (3, false));
        let r = &page.batch.refunds;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].refund_id, "7400000000000000999");
        assert_eq!(r[0].order_id, "6920000000000000123");
        assert_eq!(r[0].amount.micros(), 123_450_000);
        // 2025-09-30 16:00 UTC is 1 October in Shanghai.
        assert_eq!(r[0].local_day, LocalDay::from_ymd_opt(2025, 10, 1).unwrap());
        assert_eq!(page.batch.rejects[0].locator, "refund 3");
        assert!(page.batch.rejects[0].reason.contains("shop_order_id"));
        assert!(mapper()
            .refund_page(br#"{"code":10000,"data":{}}"#)
            .is_err());
    }

    #[test]
    fn statuses_map_by_code_then_by_payment() {
        assert_eq!(order_status(4, true), OrderStatus::Cancelled);
        assert_eq!(order_status(1, false), OrderStatus::Unpaid);
        assert_eq!(order_status(103, true), OrderStatus::Unpaid);
        for c in [2, 3, 5, 101, 105] {
            assert_eq!(order_status(c, false), OrderStatus::Paid, "{c}");
        }
        assert_eq!(order_status(999, true), OrderStatus::Paid);
        assert_eq!(order_status(999, false), OrderStatus::Unpaid);
    }

    #[test]
    fn bad_records_are_set_aside_with_their_text() {
        let body = br#"{"code":10000,"data":{"shop_order_list":[
            {"order_id":"1","pay_amount":"12.5","create_time":1,"order_status":2},
            {"pay_amount":1,"create_time":1,"order_status":2},
            {"order_id":"3","pay_amount":-1,"create_time":1,"order_status":2}
        ],"total":3}}"#;
        let page = mapper().page_facts(body).unwrap();
        assert!(page.batch.orders.is_empty());
        let r = &page.batch.rejects;
        assert_eq!(r[0].locator, "order 1");
        assert!(r[0].reason.contains("pay_amount"), "{}", r[0].reason);
        assert!(r[0].raw.contains("\"12.5\""));
        assert_eq!(r[1].locator, "create_time 2026-10-01 page 0 record 2");
        assert_eq!(r[2].locator, "order 3");
        assert!(mapper().page_facts(br#"{"code":10000,"data":{}}"#).is_err());
        assert!(mapper().page_facts(b"<html>").is_err());
    }
}
