//! JD (京东) JOS orders: `jingdong.pop.order.search`, form POSTs to
//! `https://api.jd.com/routerjson` with `method`, `app_key`,
//! `access_token`, `timestamp` (GMT+8 `yyyy-MM-dd HH:mm:ss`), `v=2.0`, the
//! business parameters as `360buy_param_json` and an MD5 `sign`
//! ([`super::declarative::blocks::signing::jd_signed`]). Errors, throttling included, arrive
//! inside HTTP 200 bodies ([`super::declarative::blocks::envelope::jd`]).
//!
//! A backfill (`--from/--to`) reads orders *created* in the range
//! (`dateType` 1), a scheduled run what was *modified* since the stored
//! cursor minus the lookback (`dateType` 0); both one local day per slice,
//! several slices at once, `page`/`page_size` pages bounded by `orderTotal`.
//! Time filters are Beijing time whatever the shop's zone.
//!
//! Records: `orderId` is the id (text, even when a number is sent); the
//! amount is `orderPayment` (what the buyer pays, yuan), else
//! `orderTotalPrice`; it counts on `paymentConfirmTime`, else
//! `orderStartTime`; the buyer is `open_id_buyer`, else `xid_buyer`, else
//! `pin`.
//!
//! Refunds come from the after-sales service API
//! `jingdong.asc.serviceAndRefund.view` (查看售后和退款信息, JOS API 15040 in
//! the 商家售后服务 category; its request and answer fields as the JOS page
//! and the JOS SDKs generated from it name them), read after the orders of
//! the same run through the same router, signing and error envelopes. JD
//! lets the list be searched by application or by approval time only — by
//! neither completion nor update — so kpid asks by *approval* time
//! (`approveTimeBegin`/`approveTimeEnd`, Beijing `yyyy-MM-dd HH:mm:ss`, at
//! most 10 days apart) over the same local days as the orders: the backfill
//! range, or for a scheduled run the days since the cursor minus the
//! lookback (a refund completed more than `lookback_days` after its approval
//! is found by a backfill of its approval day). Pages: `pageNumber` from 1,
//! `pageSize` at most 50, bounded by `pageResult.totalCount`. A record of
//! `pageResult.data` counts when its `status` is 13 (退款成功, refunded; 14
//! is 退款失败): the refund id is `afsRefundId`, the order
//! `sameOrderServiceBill.orderId`, the amount `refoundAmount` (JD's
//! spelling; the actual amount refunded, a decimal in yuan like the order
//! amounts — the page does not name the unit), and it counts on the local
//! day of `completeTime` (退款完成时间, Beijing time). Cancellations of
//! unshipped orders refunded through `jingdong.pop.afs.soa.refundapply.*`
//! carry no completed-refund amount or time there and are not read.

use super::cn_fields::{self, beijing_text};
use super::declarative::blocks::envelope;
use super::declarative::blocks::paging::page_count;
use super::declarative::blocks::signing::Signing;
use super::options::{OptionProblem, PollingSpec};
use super::records::{PageOf, AFTER_SALE, ORDER};
use super::shop_api::{days, move_cursor, signed_call, MarketApp, MarketOptions};
use super::{Connector, ConnectorError, Sink, Window};
use crate::facts::{Batch, FieldError, Order, OrderStatus, Refund};
use crate::http::{HttpError, PageError};
use crate::period::{local_day, today, LocalDay};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::sync::Arc;

const STREAM: &str = "orders";
const METHOD: &str = "jingdong.pop.order.search";
const REFUND_METHOD: &str = "jingdong.asc.serviceAndRefund.view";
/// `status` 13: 退款成功 (the money went back).
const REFUND_SUCCEEDED: i64 = 13;
/// The largest `pageSize` the after-sales list accepts.
const REFUND_MAX_PAGE_SIZE: u32 = 50;
const HINT: &str =
    "check the connector's base_url (the JOS router), app_key, app_secret and access_token";
/// The fields asked for; JD returns only those named.
const OPTIONAL_FIELDS: &str = "orderId,orderState,orderTotalPrice,orderPayment,orderStartTime,paymentConfirmTime,modified,pin,open_id_buyer,xid_buyer";

fn default_base_url() -> String {
    "https://api.jd.com/routerjson".into()
}
/// Every state a POP order can be in, so none is missed.
fn default_order_state() -> String {
    "WAIT_SELLER_STOCK_OUT,WAIT_GOODS_RECEIVE_CONFIRM,WAIT_SELLER_DELIVERY,PAUSE,FINISHED_L,TRADE_CANCELED,LOCKED,POP_ORDER_PAUSE".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdOptions {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The app's `app_key` (not a secret: it is sent in every request).
    pub app_key: String,
    /// `order_state`: the states searched, comma-separated.
    #[serde(default = "default_order_state")]
    pub order_state: String,
}

impl MarketOptions for JdOptions {
    const APP_POLLING: PollingSpec = PollingSpec::paged(2, 4, 5.0, 100, 100);
    const APP_SECRETS: [&'static str; 2] = ["app_secret", "access_token"];
    const KEY_NAME: &'static str = "app_key";
    const CONNECTOR: fn(Arc<MarketApp<Self>>) -> Connector = Connector::Jd;
    const HINT: &'static str = HINT;
    const ENVELOPE: fn(&[u8]) -> Option<HttpError> = envelope::jd;

    fn gateway(&self) -> (&str, &str, Signing) {
        (&self.base_url, &self.app_key, Signing::Jd)
    }

    fn check_own(&self) -> Result<(), OptionProblem> {
        if self.order_state.trim().is_empty() {
            return Err(OptionProblem::new(
                "order_state",
                "must name at least one state",
            ));
        }
        Ok(())
    }
}

pub type JdConnector = MarketApp<JdOptions>;

/// One local day on one time field; both bounds inclusive.
#[derive(Debug, Clone, Copy)]
struct Slice {
    /// JD's `dateType`: 0 modified, 1 created.
    date_type: u8,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Envelope {
    jingdong_pop_order_search_responce: Responce,
}

#[derive(Deserialize)]
struct Responce {
    searchorderinfo_result: SearchResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchResult {
    order_total: Option<Value>,
    #[serde(default)]
    order_info_list: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JdOrder {
    order_id: Option<Value>,
    order_state: Option<String>,
    order_total_price: Option<Value>,
    order_payment: Option<Value>,
    order_start_time: Option<Value>,
    payment_confirm_time: Option<Value>,
    #[serde(rename = "open_id_buyer")]
    open_id_buyer: Option<Value>,
    #[serde(rename = "xid_buyer")]
    xid_buyer: Option<Value>,
    #[serde(rename = "pin")]
    pin: Option<Value>,
}

struct PageFacts {
    total: u64,
    batch: Batch,
}

/// `{"jingdong_asc_serviceAndRefund_view_responce": {"pageResult": {...}}}`.
#[derive(Deserialize)]
struct RefundEnvelope {
    #[serde(rename = "jingdong_asc_serviceAndRefund_view_responce")]
    responce: RefundResponce,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundResponce {
    page_result: RefundResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefundResult {
    success: Option<Value>,
    code: Option<Value>,
    msg: Option<Value>,
    total_count: Option<Value>,
    #[serde(default)]
    data: Vec<Box<RawValue>>,
}

/// The fields of an after-sales record kpid reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JdAfterSale {
    afs_refund_id: Option<Value>,
    status: Option<Value>,
    complete_time: Option<Value>,
    refound_amount: Option<Value>,
    same_order_service_bill: Option<ServiceBill>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceBill {
    order_id: Option<Value>,
}

/// A page of after-sales: its refunds and rejects, how many records it
/// listed (refunds not yet succeeded are listed but not kept) and the total.
struct RefundPage {
    total: u64,
    listed: usize,
    batch: Batch,
}

impl JdConnector {
    /// Local days of `[from, to]` on `date_type`.
    fn day_slices(&self, date_type: u8, from: LocalDay, to: LocalDay) -> Vec<Slice> {
        days(from, to)
            .map(|d| {
                let (start, end) = self.api.day_bounds(d);
                Slice {
                    date_type,
                    start,
                    end,
                }
            })
            .collect()
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let incremental = window.is_scheduled();
        let (date_type, from, to) = if incremental {
            let since = self.api.resume(sink, STREAM, Utc::now()).await?;
            (0, local_day(since, self.api.tz), today(self.api.tz))
        } else {
            let (from, to) = self.api.backfill_days(window);
            (1, from, to)
        };
        let slices = self.day_slices(date_type, from, to);
        let started = Utc::now();
        self.api
            .fetch_paged(sink, slices, 1, |slice, n| self.orders_page(slice, n))
            .await?;
        // The same days' refunds, by approval time.
        let refund_days = self.day_slices(date_type, from, to);
        self.api
            .fetch_paged(sink, refund_days, 1, |slice, n| self.refunds_page(slice, n))
            .await?;
        if incremental {
            // The slices reached the end of today, so everything modified
            // before the run started is stored; the cursor moves only now.
            move_cursor(sink, STREAM, started).await?;
        }
        Ok(())
    }

    /// Page `page_no` of a slice's orders, and whether another follows.
    async fn orders_page(
        &self,
        slice: Slice,
        page_no: u64,
    ) -> Result<(Batch, bool), ConnectorError> {
        let size = u64::from(self.api.polling.page_size);
        let page = self.page(slice, page_no).await?;
        let served = page.batch.orders.len() + page.batch.rejects.len();
        let more = page_no < page_count(page.total, size) && served > 0;
        Ok((page.batch, more))
    }

    /// Page `page_no` of the after-sales of one local day by approval time,
    /// and whether another follows.
    async fn refunds_page(
        &self,
        slice: Slice,
        page_no: u64,
    ) -> Result<(Batch, bool), ConnectorError> {
        let size = self.api.polling.page_size.min(REFUND_MAX_PAGE_SIZE);
        let page = self.refund_page(slice, page_no, size).await?;
        let more = page_no < page_count(page.total, u64::from(size)) && page.listed > 0;
        Ok((page.batch, more))
    }

    async fn refund_page(
        &self,
        slice: Slice,
        page_no: u64,
        size: u32,
    ) -> Result<RefundPage, ConnectorError> {
        // Leaf fields, as the JOS SDKs send them.
        let business = json!({
            "approveTimeBegin": beijing_text(slice.start),
            "approveTimeEnd": beijing_text(slice.end),
            "pageNumber": page_no,
            "pageSize": size,
        });
        self.call(REFUND_METHOD, &business, page_no, Mapper::refund_page)
            .await
    }

    async fn page(&self, slice: Slice, page_no: u64) -> Result<PageFacts, ConnectorError> {
        let business = json!({
            "start_date": beijing_text(slice.start),
            "end_date": beijing_text(slice.end),
            "order_state": self.options.order_state,
            "optional_fields": OPTIONAL_FIELDS,
            "page": page_no.to_string(),
            "page_size": self.api.polling.page_size.to_string(),
            "dateType": slice.date_type,
            // Ascending, so pages stay put while new orders arrive.
            "sortType": 0,
        });
        self.call(METHOD, &business, page_no, Mapper::page_facts)
            .await
    }

    /// One signed call of `method` for page `page_no`, its answer read by
    /// `parse`.
    async fn call<T: Send + 'static>(
        &self,
        method: &str,
        business: &Value,
        page_no: u64,
        parse: fn(&Mapper, &[u8]) -> Result<T, PageError>,
    ) -> Result<T, ConnectorError> {
        let mapper = Mapper(self.api.page(method, format!("page {page_no}")));
        // Signed per attempt: JD allows six minutes of clock drift.
        signed_call(self, method, business, mapper, parse).await
    }
}

/// Turns pages into facts on a blocking thread: owns what it needs.
struct Mapper(PageOf);

impl Mapper {
    fn page_facts(&self, bytes: &[u8]) -> Result<PageFacts, PageError> {
        let env: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable(format!("a {METHOD} answer"), e))?;
        let result = env
            .jingdong_pop_order_search_responce
            .searchorderinfo_result;
        let total = cn_fields::code(result.order_total.as_ref())
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| FieldError::missing("orderTotal"))?;
        Ok(PageFacts {
            total,
            batch: self.to_facts(&result.order_info_list),
        })
    }

    fn refund_page(&self, bytes: &[u8]) -> Result<RefundPage, PageError> {
        let env: RefundEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| PageError::undecodable(format!("a {REFUND_METHOD} answer"), e))?;
        let result = env.responce.page_result;
        let ok = match &result.success {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        if !ok {
            return Err(PageError::Failed {
                call: REFUND_METHOD.to_string(),
                detail: format!(
                    "code {}, {}",
                    cn_fields::text(result.code.as_ref()).unwrap_or_default(),
                    cn_fields::text(result.msg.as_ref()).unwrap_or_default()
                ),
            });
        }
        let total = cn_fields::code(result.total_count.as_ref())
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| FieldError::missing("totalCount"))?;
        let batch = self.0.refunds(
            &result.data,
            AFTER_SALE,
            |r: &JdAfterSale| cn_fields::text(r.afs_refund_id.as_ref()),
            |r| self.refund(r),
        );
        Ok(RefundPage {
            total,
            listed: result.data.len(),
            batch,
        })
    }

    /// One after-sale: a refund once its `status` is 13 (退款成功), on the
    /// local day of `completeTime`; other states are skipped.
    fn refund(&self, r: &JdAfterSale) -> Result<Option<Refund>, FieldError> {
        if cn_fields::code(r.status.as_ref()) != Some(REFUND_SUCCEEDED) {
            return Ok(None);
        }
        let refund_id = cn_fields::id(r.afs_refund_id.as_ref(), "afsRefundId")?;
        let order = r
            .same_order_service_bill
            .as_ref()
            .and_then(|b| b.order_id.as_ref());
        let order_id = cn_fields::id(order, "sameOrderServiceBill.orderId")?;
        let amount = cn_fields::refund_yuan_micros(r.refound_amount.as_ref(), "refoundAmount")?;
        let at = cn_fields::required_time(r.complete_time.as_ref(), "completeTime")?;
        Ok(Some(self.0.refund(refund_id, order_id, at, amount)))
    }

    fn to_facts(&self, raws: &[Box<RawValue>]) -> Batch {
        self.0.orders(
            raws,
            ORDER,
            |o: &JdOrder| cn_fields::text(o.order_id.as_ref()),
            |o| self.order(o),
        )
    }

    /// One order.
    ///
    /// Status: `TRADE_CANCELED` (and the spelling `TRADE_CANCELLED`) is
    /// *cancelled*; `WAIT_PAY`/`NOT_PAY`, or any state other than
    /// `FINISHED_L` without a `paymentConfirmTime` (cash on delivery not yet
    /// delivered), is *unpaid*; the rest — waiting to ship, shipped,
    /// finished, paused or locked awaiting a cancel decision — is *paid*.
    fn order(&self, o: &JdOrder) -> Result<Order, FieldError> {
        let order_id = cn_fields::id(o.order_id.as_ref(), "orderId")?;
        let amount = o.order_payment.as_ref().or(o.order_total_price.as_ref());
        let amount_micros = cn_fields::yuan_micros(amount, "orderPayment")?;
        let paid_time = cn_fields::time(o.payment_confirm_time.as_ref(), "paymentConfirmTime")?;
        let created = cn_fields::time(o.order_start_time.as_ref(), "orderStartTime")?;
        let state = o.order_state.as_deref().unwrap_or("").trim();
        let status = match state {
            "TRADE_CANCELED" | "TRADE_CANCELLED" => OrderStatus::Cancelled,
            "WAIT_PAY" | "NOT_PAY" => OrderStatus::Unpaid,
            "FINISHED_L" => OrderStatus::Paid,
            _ if paid_time.is_none() => OrderStatus::Unpaid,
            _ => OrderStatus::Paid,
        };
        let at = paid_time
            .or(created)
            .ok_or_else(|| FieldError::none_set(&["paymentConfirmTime", "orderStartTime"]))?;
        let buyer_id = cn_fields::text(o.open_id_buyer.as_ref())
            .or_else(|| cn_fields::text(o.xid_buyer.as_ref()))
            .or_else(|| cn_fields::text(o.pin.as_ref()));
        Ok(self
            .0
            .order(order_id, Some(at), amount_micros, buyer_id, status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper(PageOf::test(METHOD))
    }

    #[test]
    fn states_and_fallbacks() {
        let page = br#"{"jingdong_pop_order_search_responce":{"code":"0","searchorderinfo_result":{
            "apiResult":{"success":true,"numberCode":0},"orderTotal":"4","orderInfoList":[
            {"orderId":"1","orderState":"WAIT_SELLER_STOCK_OUT","orderPayment":"9.90","paymentConfirmTime":"2026-03-01 10:00:00","open_id_buyer":"o1"},
            {"orderId":2,"orderState":"TRADE_CANCELED","orderTotalPrice":5,"orderStartTime":"2026-03-01 10:00:00","pin":"p2"},
            {"orderId":"3","orderState":"WAIT_GOODS_RECEIVE_CONFIRM","orderPayment":"1","orderStartTime":"2026-03-01 10:00:00"},
            {"orderId":"4","orderState":"FINISHED_L","orderPayment":"1","orderStartTime":"2026-03-01 10:00:00","xid_buyer":"x4"}
        ]}}}"#;
        let facts = mapper().page_facts(page).unwrap();
        assert_eq!(facts.total, 4);
        let o = &facts.batch.orders;
        assert_eq!(o[0].status, OrderStatus::Paid);
        assert_eq!(o[0].buyer_id.as_deref(), Some("o1"));
        assert_eq!(o[0].amount.micros(), 9_900_000);
        assert_eq!(o[1].status, OrderStatus::Cancelled);
        assert_eq!(o[1].amount.micros(), 5_000_000);
        assert_eq!(o[1].buyer_id.as_deref(), Some("p2"));
        assert_eq!(o[2].status, OrderStatus::Unpaid);
        assert_eq!(o[3].status, OrderStatus::Paid);
        assert_eq!(o[3].buyer_id.as_deref(), Some("x4"));
    }

    #[test]
    fn after_sales_count_only_when_refunded_and_a_failed_query_is_an_error() {
        let page = br#"{"jingdong_asc_serviceAndRefund_view_responce":{"code":"0","pageResult":{
            "success":true,"code":"00000","totalCount":3,"pageNumber":1,"pageSize":50,"data":[
            {"afsRefundId":9007199254740993,"status":13,"refoundAmount":"12.30","completeTime":"2026-03-01 00:30:00","sameOrderServiceBill":{"serviceId":1,"orderId":300}},
            {"afsRefundId":"2","status":14,"refoundAmount":"1.00","completeTime":"","sameOrderServiceBill":{"orderId":300}},
            {"afsRefundId":"3","status":13,"refoundAmount":"1.00","sameOrderServiceBill":{"orderId":300}}
        ]}}}"#;
        let p = mapper().refund_page(page).unwrap();
        assert_eq!((p.total, p.listed), (3, 3));
        let r = &p.batch.refunds;
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].refund_id, "9007199254740993");
        assert_eq!(r[0].order_id, "300");
        assert_eq!(r[0].amount.micros(), 12_300_000);
        // 00:30 in Beijing is still 1 March in Shanghai.
        assert_eq!(r[0].local_day, LocalDay::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(p.batch.rejects.len(), 1);
        assert_eq!(p.batch.rejects[0].locator, "refund 3");
        assert!(p.batch.rejects[0].reason.contains("completeTime"));
        let failed = r#"{"jingdong_asc_serviceAndRefund_view_responce":{"code":"0","pageResult":{
            "success":false,"code":"E1001","msg":"参数错误","data":[]}}}"#;
        let err = mapper().refund_page(failed.as_bytes()).err().unwrap();
        assert!(
            matches!(&err, PageError::Failed { call, detail }
                if call == REFUND_METHOD && detail.contains("E1001") && detail.contains("参数错误")),
            "{err:?}"
        );
    }

    #[test]
    fn a_page_without_its_count_is_malformed() {
        let m = mapper();
        let e = m
            .page_facts(br#"{"jingdong_pop_order_search_responce":{"searchorderinfo_result":{"orderInfoList":[]}}}"#)
            .err()
            .unwrap();
        assert!(
            matches!(&e, PageError::Field(f) if f.field() == "orderTotal"),
            "{e:?}"
        );
        assert!(m.page_facts(br#"{"other":1}"#).is_err());
    }
}
