//! Turns one response page into facts as a definition maps them, on a
//! blocking thread. A record that does not fit is set aside with its raw
//! JSON and a reason naming the definition's field; a page that is not
//! what the definition describes is an error (retried, then the run fails).

use super::plan::{BodyErrors, DailyPlan, DayPlan, FieldPlan, OrderPlan, PageStyle, RefundPlan};
use super::plan::{StreamPlan, TimePlan};
use super::reasons::{PageShapeError, RecordError};
pub use super::record::{amount_micros, format_time, parse_time};
use super::record::{at, check_field_id, status, text, trim, Record};
use super::tree::{Node, Tree};
use crate::facts::{echo, Batch, DailyValue, Order, OrderStatus, Refund, Reject, ShopId};
use crate::http::HttpError;
use crate::money::Money;
use crate::period::{local_day, LocalDay};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::Value;
use std::sync::Arc;

/// What the page says about the pages after it.
#[derive(Debug, Default, Clone)]
pub struct PageInfo {
    pub served: usize,
    pub total_pages: Option<u64>,
    pub has_next: Option<bool>,
    pub total: Option<u64>,
    pub next_cursor: Option<String>,
    /// The time zone the page says its days are in (`reports_zone`).
    pub zone: Option<String>,
}

/// Owns what mapping a page needs, so it can move to a blocking thread.
#[derive(Clone)]
pub struct Mapper {
    pub stream: Arc<StreamPlan>,
    /// Shared by every fact of the page (a clone is a reference count).
    pub shop: ShopId,
    pub tz: Tz,
    pub source: String,
    pub page_no: u32,
    /// The slice's local start (`2026-10-08`, `2026-10-08 06:00`): with the
    /// page and position it locates a record that has no id of its own.
    pub slice: String,
    pub errors: Option<BodyErrors>,
}

impl Mapper {
    /// Maps a page built only as far as the stream's projection reads; a
    /// page with a reject or an error is redone from the full JSON, so a
    /// reject keeps the record's whole raw JSON and an error quotes the page.
    pub fn page(&self, bytes: &[u8]) -> Result<(Batch, PageInfo), PageShapeError> {
        if let Some(Ok((batch, info))) = self.streamed(bytes) {
            if batch.rejects.is_empty() {
                // The test suites run in debug builds: there every pruned
                // page proves the projection misses nothing the mapping reads.
                if cfg!(debug_assertions) {
                    assert_eq!(
                        format!("{:?}", self.full(bytes)),
                        format!("{:?}", Ok::<_, PageShapeError>((&batch, &info))),
                        "stream `{}`: the projection misses a pointer the mapping reads",
                        self.stream.name
                    );
                }
                return Ok((batch, info));
            }
        }
        self.full(bytes)
    }

    fn full(&self, bytes: &[u8]) -> Result<(Batch, PageInfo), PageShapeError> {
        let body: Value = serde_json::from_slice(bytes).map_err(PageShapeError::NotJson)?;
        self.map(&body, None)
    }

    /// The page parsed by the stream's projection, each record mapped as
    /// soon as it is read and then dropped: no tree of the page's records
    /// is built (the cost that made definitions slower than the Rust
    /// modules). `None` when the page does not parse (the full parse says
    /// why). A page whose records read `@name` columns is mapped from its
    /// tree, since the columns may come after the records.
    fn streamed(&self, bytes: &[u8]) -> Option<Result<(Batch, PageInfo), PageShapeError>> {
        let s = &self.stream;
        if s.columns.is_some() {
            let body = s.projection.parse(bytes).ok()?;
            return Some(self.map(&body, None));
        }
        let records = super::projection::tokens(&s.records)?;
        let mut batch = Batch::default();
        let mut i = 0;
        let (body, count) = s
            .projection
            .parse_streaming(bytes, &records, &mut |record: Node| {
                self.record(&record, i, &[], &mut batch);
                i += 1;
            })
            .ok()?;
        Some(self.map(&body, count.map(|n| (batch, n))))
    }

    /// Maps a page's tree; `streamed` holds the batch and the number of
    /// records already mapped while parsing (their list is then empty).
    fn map(
        &self,
        body: &Value,
        streamed: Option<(Batch, usize)>,
    ) -> Result<(Batch, PageInfo), PageShapeError> {
        let s = &self.stream;
        let records: &[Value] = match body.pointer(&s.records) {
            _ if streamed.is_some() => &[],
            Some(Value::Array(a)) => a,
            Some(Value::Null) => &[],
            None if s.records_optional => &[],
            Some(_) => {
                return Err(PageShapeError::RecordsNotAList {
                    pointer: s.records.clone(),
                })
            }
            None => {
                return Err(PageShapeError::NoRecords {
                    pointer: s.records.clone(),
                    platform: self.errors.as_ref().and_then(|e| said(e, body)),
                })
            }
        };
        let mut info = PageInfo {
            served: streamed.as_ref().map_or(records.len(), |(_, n)| *n),
            ..PageInfo::default()
        };
        let p = &s.pagination;
        let number = |ptr: &Option<String>, what: &'static str| match ptr
            .as_deref()
            .and_then(|x| body.pointer(x))
        {
            None | Some(Value::Null) => Ok(None),
            Some(v) => text(v)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| PageShapeError::NotAWholeNumber {
                    pointer: ptr.clone().unwrap_or_default(),
                    what,
                    shown: echo(&v.to_string()).into_owned(),
                }),
        };
        info.total_pages = number(&p.total_pages, "total pages")?;
        info.total = number(&p.total, "total records")?;
        info.has_next = match p.has_next.as_deref().and_then(|x| body.pointer(x)) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => match text(v).ok().as_deref() {
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                _ => {
                    return Err(PageShapeError::NotTrueOrFalse {
                        pointer: p.has_next.clone().unwrap_or_default(),
                        shown: echo(&v.to_string()).into_owned(),
                    })
                }
            },
        };
        match &p.style {
            PageStyle::Cursor { next } => {
                info.next_cursor = match body.pointer(next) {
                    None | Some(Value::Null) => None,
                    Some(v) => {
                        Some(text(v).map_err(|problem| PageShapeError::CursorNotAValue {
                            pointer: next.clone(),
                            problem,
                        })?)
                        .filter(|c| !c.is_empty())
                    }
                };
            }
            PageStyle::Token(token) => info.next_cursor = token.next(body)?,
            _ => {}
        }
        info.zone = s
            .reports_zone
            .as_deref()
            .and_then(|z| at(body, z))
            .and_then(Value::as_str)
            .map(str::to_string);
        // The names of the page's columns (GA4 `metricHeaders`), which
        // `@name` pointer tokens index.
        let columns: Vec<String> = match s.columns.as_deref().and_then(|c| at(body, c)) {
            Some(Value::Array(list)) => list
                .iter()
                .map(|c| {
                    c.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut batch = streamed.map(|(b, _)| b).unwrap_or_default();
        for (i, record) in records.iter().enumerate() {
            self.record(record, i, &columns, &mut batch);
        }
        Ok((batch, info))
    }

    fn reject<T: Tree>(&self, batch: &mut Batch, locator: String, reason: RecordError, raw: &T) {
        batch.rejects.push(Reject {
            source: self.source.clone(),
            locator,
            reason: reason.to_string(),
            raw: raw.raw(),
        });
    }

    fn record<T: Tree>(&self, value: &T, i: usize, columns: &[String], batch: &mut Batch) {
        let rec = Record {
            value,
            parent: None,
            columns,
        };
        let s = &self.stream;
        let at = || format!("{} page {} record {}", self.slice, self.page_no, i + 1);
        if let Some(o) = &s.order {
            // Built only for a reject: most records have none.
            let locator = || {
                rec.get(&o.id)
                    .ok()
                    .flatten()
                    .map(|id| format!("order {}", echo(&id)))
                    .unwrap_or_else(at)
            };
            let mapped = self.order(&rec, o).and_then(|order| {
                let refunds = match &s.refunds {
                    Some(r) => self.refunds(value, r)?,
                    None => Vec::new(),
                };
                Ok((order, refunds))
            });
            match mapped {
                Ok((order, refunds)) => {
                    batch.orders.push(order);
                    batch.refunds.extend(refunds);
                }
                Err(reason) => self.reject(batch, locator(), reason, value),
            }
        } else if let Some(r) = &s.refunds {
            match self.refunds(value, r) {
                Ok(refunds) => batch.refunds.extend(refunds),
                Err(reason) => {
                    let locator = match &r.each {
                        None => rec
                            .get(&r.id)
                            .ok()
                            .flatten()
                            .map(|id| format!("refund {}", echo(&id)))
                            .unwrap_or_else(at),
                        Some(_) => at(),
                    };
                    self.reject(batch, locator, reason, value)
                }
            }
        } else if let Some(d) = &s.daily {
            match self.daily(&rec, d) {
                Ok(values) => batch.daily.extend(values),
                Err(reason) => {
                    let locator = self.daily_locator(&rec, d).unwrap_or_else(at);
                    self.reject(batch, locator, reason, value)
                }
            }
        }
    }

    fn order<T: Tree>(&self, rec: &Record<T>, o: &OrderPlan) -> Result<Order, RecordError> {
        let order_id = rec.id(&o.id)?;
        let paid_at = rec.time(&o.paid_at, self.tz)?;
        let amount_micros = rec.money(&o.amount)?;
        let buyer_id = match &o.buyer_id {
            Some(f) => rec.get(f)?.filter(|b| !trim(b).is_empty()),
            None => None,
        };
        if let (Some(f), Some(b)) = (&o.buyer_id, &buyer_id) {
            check_field_id(f, b)?;
        }
        let status = match &o.status {
            None => OrderStatus::Paid,
            Some(st) => status(rec, st)?,
        };
        Ok(Order {
            shop: self.shop.clone(),
            order_id,
            paid_at: Some(paid_at),
            local_day: Some(local_day(paid_at, self.tz)),
            amount: Money::from_micros(amount_micros),
            buyer_id,
            status,
        })
    }

    fn refunds<T: Tree>(&self, value: &T, r: &RefundPlan) -> Result<Vec<Refund>, RecordError> {
        // The items and their enclosing record, with no list of `Record`s
        // built per order.
        let (items, parent): (&[T], _) = match &r.each {
            None => (std::slice::from_ref(value), None),
            Some(each) => match each.find(value).filter(|v| !v.is_null()).map(T::list) {
                None => (&[], None),
                Some(Some(a)) => (a, Some(value)),
                Some(_) => {
                    return Err(RecordError::RefundsNotAList {
                        list: each.to_string(),
                    })
                }
            },
        };
        items
            .iter()
            .map(|value| {
                let rec = &Record {
                    value,
                    parent,
                    columns: &[],
                };
                let refund_id = rec.id(&r.id)?;
                let at = rec.time(&r.refunded_at, self.tz)?;
                let order_id = rec.id(&r.order_id)?;
                let amount_micros = match rec.money(&r.amount) {
                    Ok(m) => m,
                    Err(e) => {
                        return Err(RecordError::InRefund {
                            refund_id,
                            reason: Box::new(e),
                        })
                    }
                };
                Ok(Refund {
                    shop: self.shop.clone(),
                    refund_id,
                    order_id,
                    refunded_at: at,
                    local_day: local_day(at, self.tz),
                    amount: Money::from_micros(amount_micros),
                })
            })
            .collect()
    }

    /// The day a daily record is filed under, read from `field` as `d.day` says.
    fn day_of<T: Tree>(
        &self,
        rec: &Record<T>,
        d: &DailyPlan,
        field: Option<&FieldPlan>,
    ) -> Result<LocalDay, RecordError> {
        match &d.day {
            DayPlan::Date { field: f, pattern } => {
                let field = field.unwrap_or(f);
                let raw = rec.required(field)?;
                NaiveDate::parse_from_str(raw.trim(), pattern)
                    .map(LocalDay::from_date)
                    .map_err(|cause| RecordError::NotADate {
                        field: field.to_string(),
                        shown: echo(&raw).into_owned(),
                        pattern: pattern.clone(),
                        cause,
                    })
            }
            DayPlan::Instant(t) => {
                let t = match field {
                    Some(f) => &TimePlan {
                        field: f.clone(),
                        ..t.clone()
                    },
                    None => t,
                };
                Ok(local_day(rec.time(t, self.tz)?, self.tz))
            }
        }
    }

    /// `campaign X day D` for a labelled dimension whose value and day
    /// read; `day D` without a dimension (a day is then one record).
    fn daily_locator<T: Tree>(&self, rec: &Record<T>, d: &DailyPlan) -> Option<String> {
        if d.dimension.is_none() {
            return Some(format!("day {}", self.day_of(rec, d, None).ok()?));
        }
        let label = d.label.as_deref()?;
        let dim = rec.get(d.dimension.as_ref()?).ok().flatten()?;
        let day = self.day_of(rec, d, None).ok()?;
        Some(format!("{label} {} day {day}", echo(&dim)))
    }

    fn daily<T: Tree>(
        &self,
        rec: &Record<T>,
        d: &DailyPlan,
    ) -> Result<Vec<DailyValue>, RecordError> {
        let day = self.day_of(rec, d, None)?;
        let dimension = match (&d.dimension, &d.label) {
            (Some(f), Some(_)) => rec.required(f)?,
            (Some(f), None) => rec.get(f)?.unwrap_or_default(),
            (None, _) => String::new(),
        };
        if let Some(until) = &d.until {
            if rec.get(until)?.is_some() {
                let last = self.day_of(rec, d, Some(until))?;
                if last != day {
                    return Err(RecordError::SpansDays {
                        field: until.to_string(),
                        first: day,
                        last,
                    });
                }
            }
        }
        d.inputs
            .iter()
            // A column the page does not have is an input it does not give
            // (a report without that metric), not an error.
            .filter(|(_, a)| {
                !(rec.absent(&a.field) || a.minus.as_ref().is_some_and(|m| rec.absent(m)))
            })
            .map(|(input, a)| {
                Ok(DailyValue {
                    shop: self.shop.clone(),
                    day,
                    input: input.clone(),
                    dimension: dimension.clone(),
                    value_micros: Some(rec.amount(a)?),
                })
            })
            .collect()
    }
}

/// The definition's error envelope, read on every response: a `throttled`
/// code is retried like a 429, an `auth` code fails at once with the hint.
/// Other codes are left to the status and the parser: a page without its
/// records is retried, then fails quoting the platform's code and message.
pub fn classify(errors: &BodyErrors, hint: &str, bytes: &[u8]) -> Option<HttpError> {
    let body: Value = serde_json::from_slice(bytes).ok()?;
    let code = text(body.pointer(&errors.code)?).ok()?;
    if errors.throttled.contains(&code) {
        return Some(HttpError::Throttled {
            url: String::new(),
            status: 0,
            retry_after: None,
        });
    }
    errors.auth.contains(&code).then(|| HttpError::Rejected {
        url: String::new(),
        status: 0,
        body: said(errors, &body).unwrap_or_default(),
        hint: hint.to_string(),
    })
}

/// `code C: message` when the body carries a code outside `ok`.
fn said(errors: &BodyErrors, body: &Value) -> Option<String> {
    let code = text(body.pointer(&errors.code)?).ok()?;
    if errors.ok.contains(&code) {
        return None;
    }
    let message = errors
        .message
        .as_deref()
        .and_then(|m| body.pointer(m))
        .and_then(|v| text(v).ok())
        .unwrap_or_default();
    Some(format!("code {code}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelopes_throttle_or_refuse_by_code() {
        let e = BodyErrors {
            code: "/code".into(),
            message: Some("/msg".into()),
            ok: vec!["0".into()],
            throttled: vec!["42901".into()],
            auth: vec!["40101".into()],
        };
        assert!(classify(&e, "h", br#"{"code":0,"data":{}}"#).is_none());
        assert!(matches!(
            classify(&e, "h", br#"{"code":42901}"#),
            Some(HttpError::Throttled { .. })
        ));
        match classify(
            &e,
            "check access_key",
            br#"{"code":"40101","msg":"bad key"}"#,
        ) {
            Some(HttpError::Rejected { body, hint, .. }) => {
                assert_eq!(body, "code 40101: bad key");
                assert_eq!(hint, "check access_key");
            }
            other => panic!("{other:?}"),
        }
        assert!(classify(&e, "h", br#"{"code":500}"#).is_none());
        assert_eq!(
            said(&e, &serde_json::json!({"code": 500, "msg": "x"})).as_deref(),
            Some("code 500: x")
        );
    }

    fn meta_ads_mapper() -> Mapper {
        let def = super::super::Definitions::builtin()
            .get("meta_ads")
            .expect("built in");
        Mapper {
            stream: Arc::new(def.streams[0].clone()),
            shop: "s".into(),
            tz: chrono_tz::Europe::London,
            source: "u".into(),
            page_no: 1,
            slice: "2024-06-21".into(),
            errors: None,
        }
    }

    #[test]
    fn a_page_not_as_described_is_a_typed_error_naming_the_pointer() {
        let m = meta_ads_mapper();
        match m.page(br#"{"data": 5}"#) {
            Err(PageShapeError::RecordsNotAList { pointer }) => assert_eq!(pointer, "/data"),
            other => panic!("{other:?}"),
        }
        match m.page(br#"{"error": {}}"#) {
            Err(e @ PageShapeError::NoRecords { .. }) => {
                assert_eq!(e.to_string(), "no `/data` (the records) in the response")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(m.page(b"{"), Err(PageShapeError::NotJson(_))));
        // Graph says there is a next page but gives no cursor to ask for it.
        let page = br#"{"data": [], "paging": {"next": "https://graph/?after=1"}}"#;
        assert!(matches!(
            m.page(page),
            Err(PageShapeError::Cursor(
                crate::connectors::declarative::blocks::cursor::CursorError::NextWithoutAfter
            ))
        ));
    }
}
