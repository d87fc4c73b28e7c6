//! Turns one response page into facts as a definition maps them, on a
//! blocking thread. A record that does not fit is set aside with its raw
//! JSON and a reason naming the definition's field; a page that is not
//! what the definition describes is an error (retried, then the run fails).

use super::plan::{
    AmountPlan, BodyErrors, DailyPlan, DayPlan, FieldPlan, OrderPlan, PageStyle, RefundPlan, Scale,
    StatusPlan, StreamPlan, SumPlan, TimeFormat, TimePlan,
};
use crate::facts::{check_id, echo, Batch, DailyValue, Order, OrderStatus, Refund, Reject};
use crate::http::HttpError;
use crate::money::{from_micros, minor_units_to_micros, parse_micros, Money};
use crate::period::local_day;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
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
}

/// Owns what mapping a page needs, so it can move to a blocking thread.
#[derive(Clone)]
pub struct Mapper {
    pub stream: Arc<StreamPlan>,
    pub shop: String,
    pub tz: Tz,
    pub source: String,
    pub page_no: u32,
    /// The slice's local start (`2026-10-08`, `2026-10-08 06:00`): with the
    /// page and position it locates a record that has no id of its own.
    pub slice: String,
    pub errors: Option<BodyErrors>,
}

/// A value's text: strings as they are, numbers exactly as written
/// (`arbitrary_precision` keeps 20-digit ids and `0.1` intact).
fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Array(_) => Err("is a list, not a value".into()),
        Value::Object(_) => Err("is an object, not a value".into()),
        Value::Null => Err("is null".into()),
    }
}

struct Record<'a> {
    value: &'a Value,
    parent: Option<&'a Value>,
}

impl Record<'_> {
    /// The first pointer with a non-null value, as text; `None` when absent
    /// or equal to one of the field's `none_if` values.
    fn get(&self, f: &FieldPlan) -> Result<Option<String>, String> {
        for p in &f.pointers {
            let base = if p.parent {
                self.parent
            } else {
                Some(self.value)
            };
            match base.and_then(|b| b.pointer(&p.path)) {
                None | Some(Value::Null) => continue,
                Some(v) => {
                    let t = text(v).map_err(|e| format!("{f} {e}"))?;
                    return Ok((!f.none_if.contains(&t)).then_some(t));
                }
            }
        }
        Ok(None)
    }

    fn required(&self, f: &FieldPlan) -> Result<String, String> {
        match self.get(f)? {
            Some(t) if !t.trim().is_empty() => Ok(t),
            _ => Err(format!("{f} is missing")),
        }
    }

    /// A required id, at most [`crate::facts::MAX_ID_BYTES`] long.
    fn id(&self, f: &FieldPlan) -> Result<String, String> {
        let id = self.required(f)?;
        check_id(&f.to_string(), &id)?;
        Ok(id)
    }

    /// An order's or a refund's amount: never negative, as in a file.
    fn money(&self, a: &AmountPlan) -> Result<i64, String> {
        let micros = self.amount(a)?;
        if micros < 0 {
            return Err(format!(
                "{}: must not be negative ({})",
                a.field,
                from_micros(micros)
            ));
        }
        Ok(micros)
    }

    fn time(&self, t: &TimePlan, shop: Tz) -> Result<DateTime<Utc>, String> {
        let raw = self.required(&t.field)?;
        parse_time(raw.trim(), &t.format, t.zone.resolve(shop))
            .map_err(|e| format!("{}: `{}` {e}", t.field, echo(&raw)))
    }

    fn amount(&self, a: &AmountPlan) -> Result<i64, String> {
        let mut micros = match &a.sum {
            None => match (a.default, self.get(&a.field)?) {
                (Some(d), None) => d,
                _ => {
                    let raw = self.required(&a.field)?;
                    amount_micros(raw.trim(), a.scale).map_err(|e| format!("{}: {e}", a.field))?
                }
            },
            Some(sum) if sum.first => self.first_of(a, sum)?,
            Some(sum) => {
                let items = match self.value.pointer(&sum.each) {
                    None | Some(Value::Null) => &[][..],
                    Some(Value::Array(a)) => a.as_slice(),
                    Some(_) => return Err(format!("{}: `{}` is not a list", a.field, sum.each)),
                };
                let mut total = 0i64;
                for (i, item) in items.iter().enumerate() {
                    let chosen = sum.filters.iter().all(|(p, values)| {
                        let v = match item.pointer(p) {
                            None | Some(Value::Null) => String::new(),
                            Some(v) => text(v).unwrap_or_default(),
                        };
                        values.contains(&v)
                    });
                    if !chosen {
                        continue;
                    }
                    let rec = Record {
                        value: item,
                        parent: self.parent,
                    };
                    let raw = rec.required(&a.field)?;
                    let m = amount_micros(raw.trim(), a.scale)
                        .map_err(|e| format!("{} in {}[{i}]: {e}", a.field, sum.each))?;
                    total = total
                        .checked_add(m)
                        .ok_or_else(|| format!("{}: the sum is out of range", a.field))?;
                }
                total
            }
        };
        if let Some(m) = &a.minus {
            let raw = self.required(m)?;
            let sub = amount_micros(raw.trim(), a.scale).map_err(|e| format!("{m}: {e}"))?;
            micros = micros
                .checked_sub(sub)
                .ok_or_else(|| format!("{}: the difference is out of range", a.field))?;
        }
        if let Some(floor) = a.at_least {
            micros = micros.max(floor);
        }
        if a.whole && micros % 1_000_000 != 0 {
            return Err(format!(
                "{}: `{}` is not a whole count",
                a.field,
                from_micros(micros)
            ));
        }
        if a.absolute {
            micros
                .checked_abs()
                .ok_or_else(|| format!("{}: out of range", a.field))
        } else {
            Ok(micros)
        }
    }
}

impl Record<'_> {
    /// `sum` with `first`: the amount of the one item whose filter value
    /// comes earliest in the filter's list (Meta reports one purchase
    /// under several overlapping action types); none listed is 0.
    fn first_of(&self, a: &AmountPlan, sum: &SumPlan) -> Result<i64, String> {
        let Some((key, wanted)) = sum.filters.first() else {
            return Ok(0);
        };
        let items = match self.value.pointer(&sum.each) {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => return Err(format!("{}: `{}` is not a list", a.field, sum.each)),
        };
        let chosen = wanted.iter().find_map(|w| {
            items.iter().enumerate().find(|(_, item)| {
                item.pointer(key)
                    .and_then(|v| text(v).ok())
                    .is_some_and(|v| &v == w)
            })
        });
        let Some((i, item)) = chosen else {
            return Ok(0);
        };
        let rec = Record {
            value: item,
            parent: self.parent,
        };
        let raw = rec.required(&a.field)?;
        amount_micros(raw.trim(), a.scale)
            .map_err(|e| format!("{} in {}[{i}]: {e}", a.field, sum.each))
    }
}

pub fn parse_time(raw: &str, format: &TimeFormat, zone: Tz) -> Result<DateTime<Utc>, String> {
    let out_of_range = || "is out of range".to_string();
    match format {
        TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("is not an RFC 3339 time ({e})")),
        TimeFormat::UnixSeconds => {
            let s: i64 = raw
                .parse()
                .map_err(|_| "is not whole Unix seconds".to_string())?;
            DateTime::from_timestamp(s, 0).ok_or_else(out_of_range)
        }
        TimeFormat::UnixMillis => {
            let ms: i64 = raw
                .parse()
                .map_err(|_| "is not whole Unix milliseconds".to_string())?;
            DateTime::from_timestamp_millis(ms).ok_or_else(out_of_range)
        }
        TimeFormat::Pattern(p) => {
            let naive = NaiveDateTime::parse_from_str(raw, p)
                .map_err(|e| format!("does not match `{p}` ({e})"))?;
            zone.from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("does not exist in {zone} (a daylight-saving gap)"))
        }
    }
}

/// Formats an instant for a window parameter.
pub fn format_time(t: DateTime<Utc>, format: &TimeFormat, zone: Tz) -> String {
    match format {
        TimeFormat::Rfc3339 => t
            .with_timezone(&zone)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        TimeFormat::UnixSeconds => t.timestamp().to_string(),
        TimeFormat::UnixMillis => t.timestamp_millis().to_string(),
        TimeFormat::Pattern(p) => t.with_timezone(&zone).format(p).to_string(),
    }
}

pub fn amount_micros(raw: &str, scale: Scale) -> Result<i64, String> {
    let whole = |what: &str| -> Result<i64, String> {
        raw.parse::<i64>()
            .map_err(|_| format!("`{}` is not a whole number of {what}", echo(raw)))
    };
    match scale {
        Scale::Decimal => parse_micros(raw).map_err(|e| e.to_string()),
        Scale::Hundredths => minor_units_to_micros(whole("hundredths (fen, cents)")?, 2)
            .ok_or_else(|| format!("`{}` is too large to store", echo(raw))),
        Scale::Micros => whole("micros"),
    }
}

impl Mapper {
    /// Maps a page built only as far as the stream's projection reads; a
    /// page with a reject or an error is redone from the full JSON, so a
    /// reject keeps the record's whole raw JSON and an error quotes the page.
    pub fn page(&self, bytes: &[u8]) -> Result<(Batch, PageInfo), String> {
        let pruned = self.stream.projection.parse(bytes).ok();
        if let Some(Ok((batch, info))) = pruned.as_ref().map(|body| self.map(body)) {
            if batch.rejects.is_empty() {
                // The test suites run in debug builds: there every pruned
                // page proves the projection misses nothing the mapping reads.
                if cfg!(debug_assertions) {
                    assert_eq!(
                        format!("{:?}", self.full(bytes)),
                        format!("{:?}", Ok::<_, String>((&batch, &info))),
                        "stream `{}`: the projection misses a pointer the mapping reads",
                        self.stream.name
                    );
                }
                return Ok((batch, info));
            }
        }
        self.full(bytes)
    }

    fn full(&self, bytes: &[u8]) -> Result<(Batch, PageInfo), String> {
        let body: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        self.map(&body)
    }

    fn map(&self, body: &Value) -> Result<(Batch, PageInfo), String> {
        let s = &self.stream;
        let records: &[Value] = match body.pointer(&s.records) {
            Some(Value::Array(a)) => a,
            Some(Value::Null) => &[],
            None if s.records_optional => &[],
            Some(_) => return Err(format!("`{}` is not a list of records", s.records)),
            None => {
                let platform = self
                    .errors
                    .as_ref()
                    .and_then(|e| said(e, body))
                    .map(|m| format!(" (the platform says {m})"))
                    .unwrap_or_default();
                return Err(format!(
                    "no `{}` (the records) in the response{platform}",
                    s.records
                ));
            }
        };
        let mut info = PageInfo {
            served: records.len(),
            ..PageInfo::default()
        };
        let p = &s.pagination;
        let number = |ptr: &Option<String>, what: &str| -> Result<Option<u64>, String> {
            match ptr.as_deref().and_then(|x| body.pointer(x)) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => text(v)
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .map(Some)
                    .ok_or_else(|| {
                        format!(
                            "`{}` ({what}) is not a whole number: {}",
                            ptr.as_deref().unwrap_or(""),
                            echo(&v.to_string())
                        )
                    }),
            }
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
                    return Err(format!(
                        "`{}` (has next) is not true or false: {}",
                        p.has_next.as_deref().unwrap_or(""),
                        echo(&v.to_string())
                    ))
                }
            },
        };
        match &p.style {
            PageStyle::Cursor { next } => {
                info.next_cursor = match body.pointer(next) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(text(v).map_err(|e| format!("`{next}` (next cursor) {e}"))?)
                        .filter(|c| !c.is_empty()),
                };
            }
            PageStyle::Token(token) => info.next_cursor = token.next(body)?,
            _ => {}
        }
        let mut batch = Batch::default();
        for (i, record) in records.iter().enumerate() {
            self.record(record, i, &mut batch);
        }
        Ok((batch, info))
    }

    fn reject(&self, batch: &mut Batch, locator: String, reason: String, raw: &Value) {
        batch.rejects.push(Reject {
            source: self.source.clone(),
            locator,
            reason,
            raw: raw.to_string(),
        });
    }

    fn record(&self, value: &Value, i: usize, batch: &mut Batch) {
        let rec = Record {
            value,
            parent: None,
        };
        let s = &self.stream;
        let at = || format!("{} page {} record {}", self.slice, self.page_no, i + 1);
        if let Some(o) = &s.order {
            let locator = rec
                .get(&o.id)
                .ok()
                .flatten()
                .map(|id| format!("order {}", echo(&id)))
                .unwrap_or_else(at);
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
                Err(reason) => self.reject(batch, locator, reason, value),
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

    fn order(&self, rec: &Record, o: &OrderPlan) -> Result<Order, String> {
        let order_id = rec.id(&o.id)?;
        let paid_at = rec.time(&o.paid_at, self.tz)?;
        let amount_micros = rec.money(&o.amount)?;
        let buyer_id = match &o.buyer_id {
            Some(f) => rec.get(f)?.filter(|b| !b.trim().is_empty()),
            None => None,
        };
        if let (Some(f), Some(b)) = (&o.buyer_id, &buyer_id) {
            check_id(&f.to_string(), b)?;
        }
        let status = match &o.status {
            None => OrderStatus::Paid,
            Some(st) => status(rec, st)?,
        };
        Ok(Order {
            shop: self.shop.as_str().into(),
            order_id,
            paid_at: Some(paid_at),
            local_day: Some(local_day(paid_at, self.tz)),
            amount: Money::from_micros(amount_micros),
            buyer_id,
            status,
        })
    }

    fn refunds(&self, value: &Value, r: &RefundPlan) -> Result<Vec<Refund>, String> {
        let items: Vec<Record> = match &r.each {
            None => vec![Record {
                value,
                parent: None,
            }],
            Some(each) => match value.pointer(each) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| Record {
                        value: v,
                        parent: Some(value),
                    })
                    .collect(),
                Some(_) => return Err(format!("refunds `{each}` is not a list")),
            },
        };
        items
            .iter()
            .map(|rec| {
                let refund_id = rec.id(&r.id)?;
                let at = rec.time(&r.refunded_at, self.tz)?;
                Ok(Refund {
                    shop: self.shop.as_str().into(),
                    order_id: rec.id(&r.order_id)?,
                    refunded_at: at,
                    local_day: local_day(at, self.tz),
                    amount: Money::from_micros(
                        rec.money(&r.amount)
                            .map_err(|e| format!("refund {refund_id}: {e}"))?,
                    ),
                    refund_id,
                })
            })
            .collect()
    }

    /// The day a daily record is filed under, read from `field` as `d.day` says.
    fn day_of(
        &self,
        rec: &Record,
        d: &DailyPlan,
        field: Option<&FieldPlan>,
    ) -> Result<NaiveDate, String> {
        match &d.day {
            DayPlan::Date { field: f, pattern } => {
                let field = field.unwrap_or(f);
                let raw = rec.required(field)?;
                NaiveDate::parse_from_str(raw.trim(), pattern).map_err(|e| {
                    format!("{field}: `{}` does not match `{pattern}` ({e})", echo(&raw))
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

    /// `campaign X day D` for a labelled dimension whose value and day read.
    fn daily_locator(&self, rec: &Record, d: &DailyPlan) -> Option<String> {
        let label = d.label.as_deref()?;
        let dim = rec.get(d.dimension.as_ref()?).ok().flatten()?;
        let day = self.day_of(rec, d, None).ok()?;
        Some(format!("{label} {} day {day}", echo(&dim)))
    }

    fn daily(&self, rec: &Record, d: &DailyPlan) -> Result<Vec<DailyValue>, String> {
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
                    return Err(format!(
                        "the record covers {day}..{last}, not one day ({until})"
                    ));
                }
            }
        }
        d.inputs
            .iter()
            .map(|(input, a)| {
                Ok(DailyValue {
                    shop: self.shop.as_str().into(),
                    day,
                    input: input.clone(),
                    dimension: dimension.clone(),
                    value_micros: Some(rec.amount(a)?),
                })
            })
            .collect()
    }
}

/// A pointer of `if_present` that holds a value decides; else the map,
/// then the default.
fn status(rec: &Record, st: &StatusPlan) -> Result<OrderStatus, String> {
    let present = st
        .if_present
        .iter()
        .find(|(p, _)| !matches!(rec.value.pointer(p), None | Some(Value::Null)));
    if let Some((_, s)) = present {
        return Ok(*s);
    }
    let v = rec.get(&st.field)?.unwrap_or_default();
    st.map.get(&v).copied().or(st.default).ok_or_else(|| {
        format!(
            "{}: `{}` is not in the definition's status map",
            st.field,
            echo(&v)
        )
    })
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
    fn patterns_are_read_in_their_zone() {
        let sh = chrono_tz::Asia::Shanghai;
        let p = TimeFormat::Pattern("%Y-%m-%d %H:%M:%S".into());
        let t = parse_time("2026-10-01 00:00:00", &p, sh).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-09-30T16:00:00+00:00");
        assert_eq!(format_time(t, &p, sh), "2026-10-01 00:00:00");
        // 02:30 on 2026-03-08 does not exist in New York.
        let ny = chrono_tz::America::New_York;
        let err = parse_time("2026-03-08 02:30:00", &p, ny).unwrap_err();
        assert!(err.contains("daylight"), "{err}");
        assert!(parse_time("2026-10-01", &p, sh).is_err());
        let u = parse_time("1790812800", &TimeFormat::UnixSeconds, sh).unwrap();
        assert_eq!(format_time(u, &TimeFormat::UnixMillis, sh), "1790812800000");
        assert!(parse_time("1790812800.5", &TimeFormat::UnixSeconds, sh).is_err());
    }

    #[test]
    fn amounts_scale_exactly() {
        assert_eq!(amount_micros("1999", Scale::Hundredths), Ok(19_990_000));
        assert_eq!(amount_micros("-5", Scale::Hundredths), Ok(-50_000));
        assert!(amount_micros("12.5", Scale::Hundredths).is_err());
        assert_eq!(amount_micros("0.1", Scale::Decimal), Ok(100_000));
        assert_eq!(
            amount_micros("10610836202", Scale::Micros),
            Ok(10_610_836_202)
        );
        assert!(amount_micros("1e3", Scale::Decimal).is_err());
        assert!(amount_micros("99999999999999999", Scale::Hundredths).is_err());
    }

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
}
