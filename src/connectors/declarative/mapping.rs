//! Turns one response page into facts as a definition maps them, on a
//! blocking thread. A record that does not fit is set aside with its raw
//! JSON and a reason naming the definition's field; a page that is not
//! what the definition describes is an error (retried, then the run fails).

use super::plan::{
    AmountPlan, BodyErrors, DailyPlan, DayPlan, FieldPlan, OrderPlan, RefundPlan, Scale,
    StatusPlan, StreamPlan, TimeFormat, TimePlan,
};
use crate::facts::{check_id, echo, Batch, DailyValue, Order, OrderStatus, Refund, Reject};
use crate::http::HttpError;
use crate::money::{from_micros, minor_units_to_micros, parse_micros};
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
    /// The time zone the page says its days are in (`reports_zone`).
    pub zone: Option<String>,
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

/// `Value::pointer`, without its two allocations per token for every
/// lookup (the mapping reads a dozen pointers per record): a token is
/// unescaped only when it has a `~`.
fn at<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() {
        return Some(v);
    }
    pointer
        .strip_prefix('/')?
        .split('/')
        .try_fold(v, |target, token| {
            let token: std::borrow::Cow<str> = if token.contains('~') {
                token.replace("~1", "/").replace("~0", "~").into()
            } else {
                token.into()
            };
            match target {
                Value::Object(map) => map.get(token.as_ref()),
                // `Value::pointer`'s index rule: digits, no sign, no leading zero.
                Value::Array(list) if token == "0" || !token.starts_with(['0', '+']) => {
                    token.parse::<usize>().ok().and_then(|i| list.get(i))
                }
                _ => None,
            }
        })
}

/// [`check_id`], naming the field only when the id is too long (formatting
/// it for every record cost more than the check).
fn check_field_id(f: &FieldPlan, id: &str) -> Result<(), String> {
    if id.len() > crate::facts::MAX_ID_BYTES {
        check_id(&f.to_string(), id)
    } else {
        Ok(())
    }
}

struct Record<'a> {
    value: &'a Value,
    parent: Option<&'a Value>,
    /// The page's column names (`columns`), for `@name` pointer tokens.
    columns: &'a [String],
}

impl Record<'_> {
    /// `path` with each `@name` token replaced by that column's index;
    /// `None` when the page has no such column.
    fn resolve<'p>(&self, path: &'p str) -> Option<std::borrow::Cow<'p, str>> {
        if !path.contains("/@") {
            return Some(path.into());
        }
        let mut out = String::with_capacity(path.len());
        for token in path.split('/').skip(1) {
            out.push('/');
            match token.strip_prefix('@') {
                Some(name) => {
                    let i = self.columns.iter().position(|c| c == name)?;
                    out.push_str(&i.to_string());
                }
                None => out.push_str(token),
            }
        }
        Some(out.into())
    }

    /// Every pointer of `f` reads a column the page does not have.
    fn absent(&self, f: &FieldPlan) -> bool {
        f.pointers
            .iter()
            .all(|p| p.path.contains("/@") && self.resolve(&p.path).is_none())
    }

    /// The first pointer with a non-null value, as text; `None` when absent
    /// or equal to one of the field's `none_if` values.
    fn get(&self, f: &FieldPlan) -> Result<Option<String>, String> {
        for p in &f.pointers {
            let base = if p.parent {
                self.parent
            } else {
                Some(self.value)
            };
            let Some(path) = self.resolve(&p.path) else {
                continue;
            };
            match base.and_then(|b| at(b, &path)) {
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
        check_field_id(f, &id)?;
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
            None => {
                let raw = self.required(&a.field)?;
                amount_micros(raw.trim(), a.scale).map_err(|e| format!("{}: {e}", a.field))?
            }
            Some(sum) => {
                let items = match at(self.value, &sum.each) {
                    None | Some(Value::Null) => &[][..],
                    Some(Value::Array(a)) => a.as_slice(),
                    Some(_) => return Err(format!("{}: `{}` is not a list", a.field, sum.each)),
                };
                let mut total = 0i64;
                for (i, item) in items.iter().enumerate() {
                    let chosen = sum.filters.iter().all(|(p, values)| {
                        let v = match at(item, p) {
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
                        columns: self.columns,
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
        if a.absolute {
            micros
                .checked_abs()
                .ok_or_else(|| format!("{}: out of range", a.field))
        } else {
            Ok(micros)
        }
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
        if let super::plan::PageStyle::Cursor { next } = &p.style {
            info.next_cursor = match body.pointer(next) {
                None | Some(Value::Null) => None,
                Some(v) => Some(text(v).map_err(|e| format!("`{next}` (next cursor) {e}"))?)
                    .filter(|c| !c.is_empty()),
            };
        }
        info.zone = s
            .reports_zone
            .as_deref()
            .and_then(|z| body.pointer(z))
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
        let mut batch = Batch::default();
        for (i, record) in records.iter().enumerate() {
            self.record(record, i, &columns, &mut batch);
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

    fn record(&self, value: &Value, i: usize, columns: &[String], batch: &mut Batch) {
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
                    // Without a dimension a day is one record: name it so.
                    let locator = match (&d.dimension, self.day(&rec, d)) {
                        (None, Ok(day)) => format!("day {day}"),
                        _ => at(),
                    };
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
            amount_micros,
            buyer_id,
            status,
        })
    }

    fn refunds(&self, value: &Value, r: &RefundPlan) -> Result<Vec<Refund>, String> {
        let items: Vec<Record> = match &r.each {
            None => vec![Record {
                value,
                parent: None,
                columns: &[],
            }],
            Some(each) => match at(value, each) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| Record {
                        value: v,
                        parent: Some(value),
                        columns: &[],
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
                    shop: self.shop.clone(),
                    order_id: rec.id(&r.order_id)?,
                    refunded_at: at,
                    local_day: local_day(at, self.tz),
                    amount_micros: rec
                        .money(&r.amount)
                        .map_err(|e| format!("refund {refund_id}: {e}"))?,
                    refund_id,
                })
            })
            .collect()
    }

    fn daily(&self, rec: &Record, d: &DailyPlan) -> Result<Vec<DailyValue>, String> {
        let day = self.day(rec, d)?;
        self.daily_values(rec, d, day)
    }

    fn day(&self, rec: &Record, d: &DailyPlan) -> Result<NaiveDate, String> {
        Ok(match &d.day {
            DayPlan::Date { field, pattern } => {
                let raw = rec.required(field)?;
                NaiveDate::parse_from_str(raw.trim(), pattern).map_err(|e| {
                    format!("{field}: `{}` does not match `{pattern}` ({e})", echo(&raw))
                })?
            }
            DayPlan::Instant(t) => local_day(rec.time(t, self.tz)?, self.tz),
        })
    }

    fn daily_values(
        &self,
        rec: &Record,
        d: &DailyPlan,
        day: NaiveDate,
    ) -> Result<Vec<DailyValue>, String> {
        let dimension = match &d.dimension {
            Some(f) => rec.get(f)?.unwrap_or_default(),
            None => String::new(),
        };
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

/// A pointer of `if_present` that holds a value decides; else the map,
/// then the default.
fn status(rec: &Record, st: &StatusPlan) -> Result<OrderStatus, String> {
    let present = st
        .if_present
        .iter()
        .find(|(p, _)| !matches!(at(rec.value, p), None | Some(Value::Null)));
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
    fn lookups_read_what_value_pointer_reads() {
        let v = serde_json::json!({
            "id": 1, "a/b": {"m~n": 2}, "list": [{"x": 3}, 4], "": 5, "01": 6
        });
        for p in [
            "",
            "/id",
            "/a~1b/m~0n",
            "/list/0/x",
            "/list/1",
            "/list/01",
            "/list/+1",
            "/list/2",
            "/",
            "/01",
            "id",
            "/id/x",
            "/list/-1",
        ] {
            assert_eq!(at(&v, p), v.pointer(p), "{p}");
        }
    }

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
