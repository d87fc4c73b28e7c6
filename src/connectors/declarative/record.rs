//! Reading a record's fields as a definition says: JSON pointers (with
//! `..` for the enclosing record and `@name` for a named column), text,
//! times, exact amounts and statuses. A field that does not read gives a
//! [`RecordError`] naming the definition's key.

use super::plan::{AmountPlan, FieldPlan, Scale, StatusPlan, SumPlan, TimeFormat, TimePlan};
use super::reasons::{RecordError, ScaledAmountError, TimeError};
use super::tree::{NotAValue, Tree};
use crate::facts::{check_id, echo, FieldError, OrderStatus};
use crate::money::{from_micros, minor_units_to_micros, parse_micros, AmountError};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use std::borrow::Cow;

/// A value's text: strings as they are, numbers exactly as written
/// (`arbitrary_precision` keeps 20-digit ids and `0.1` intact).
pub(super) fn text(v: &Value) -> Result<String, NotAValue> {
    v.text().map(Cow::into_owned)
}

/// `Value::pointer`, without its two allocations per token for every
/// lookup (the mapping reads a dozen pointers per record): a token is
/// unescaped only when it has a `~`.
pub(super) fn at<'a, T: Tree>(v: &'a T, pointer: &str) -> Option<&'a T> {
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
            match target.list() {
                None => target.key(token.as_ref()),
                // `Value::pointer`'s index rule: digits, no sign, no leading zero.
                Some(list) if token == "0" || !token.starts_with(['0', '+']) => {
                    token.parse::<usize>().ok().and_then(|i| list.get(i))
                }
                Some(_) => None,
            }
        })
}

/// `str::trim`, without its scan for Unicode white space when the text
/// starts and ends with a visible ASCII character, as ids, amounts and
/// times do (the scan was 0.5 % of the Shopify definition's ingest).
pub(super) fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        [only] if only.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// [`check_id`], naming the field only when the id is too long (formatting
/// it for every record cost more than the check).
pub(super) fn check_field_id(f: &FieldPlan, id: &str) -> Result<(), FieldError> {
    if id.len() > crate::facts::MAX_ID_BYTES {
        check_id(&f.to_string(), id)
    } else {
        Ok(())
    }
}

pub(super) struct Record<'a, T = Value> {
    pub(super) value: &'a T,
    pub(super) parent: Option<&'a T>,
    /// The page's column names (`columns`), for `@name` pointer tokens.
    pub(super) columns: &'a [String],
}

impl<'a, T: Tree> Record<'a, T> {
    /// Every pointer of `f` reads a column the page does not have.
    pub(super) fn absent(&self, f: &FieldPlan) -> bool {
        f.pointers
            .iter()
            .all(|p| p.path.reads_columns() && p.path.find_in(self.value, self.columns).is_err())
    }

    /// The first pointer with a non-null value, as text; `None` when absent
    /// or equal to one of the field's `none_if` values.
    pub(super) fn get(&self, f: &FieldPlan) -> Result<Option<String>, RecordError> {
        Ok(self.get_ref(f)?.map(Cow::into_owned))
    }

    /// [`Record::get`], borrowing the text where the tree has it.
    pub(super) fn get_ref(&self, f: &FieldPlan) -> Result<Option<Cow<'a, str>>, RecordError> {
        for p in &f.pointers {
            let base = if p.parent {
                self.parent
            } else {
                Some(self.value)
            };
            let Some(base) = base else {
                continue;
            };
            // A column the page does not have reads nothing.
            match p.path.find_in(base, self.columns).ok().flatten() {
                None => continue,
                Some(v) if v.is_null() => continue,
                Some(v) => {
                    let t = v.text().map_err(|problem| RecordError::NotAValue {
                        field: f.to_string(),
                        problem,
                    })?;
                    return Ok((!f.none_if.iter().any(|n| *n == *t)).then_some(t));
                }
            }
        }
        Ok(None)
    }

    pub(super) fn required(&self, f: &FieldPlan) -> Result<String, RecordError> {
        self.required_ref(f).map(Cow::into_owned)
    }

    /// [`Record::required`], borrowing the text where the tree has it.
    pub(super) fn required_ref(&self, f: &FieldPlan) -> Result<Cow<'a, str>, RecordError> {
        match self.get_ref(f)? {
            Some(t) if !trim(&t).is_empty() => Ok(t),
            _ => Err(RecordError::Missing {
                field: f.to_string(),
            }),
        }
    }

    /// A required id, at most [`crate::facts::MAX_ID_BYTES`] long.
    pub(super) fn id(&self, f: &FieldPlan) -> Result<String, RecordError> {
        let id = self.required(f)?;
        check_field_id(f, &id)?;
        Ok(id)
    }

    /// An order's or a refund's amount: never negative, as in a file.
    pub(super) fn money(&self, a: &AmountPlan) -> Result<i64, RecordError> {
        let micros = self.amount(a)?;
        if micros < 0 {
            return Err(RecordError::Negative {
                field: a.field.to_string(),
                amount: from_micros(micros),
            });
        }
        Ok(micros)
    }

    pub(super) fn time(&self, t: &TimePlan, shop: Tz) -> Result<DateTime<Utc>, RecordError> {
        let raw = self.required_ref(&t.field)?;
        parse_time(trim(&raw), &t.format, t.zone.resolve(shop)).map_err(|problem| {
            RecordError::Time {
                field: t.field.to_string(),
                shown: echo(&raw).into_owned(),
                problem,
            }
        })
    }

    pub(super) fn amount(&self, a: &AmountPlan) -> Result<i64, RecordError> {
        let mut micros = match &a.sum {
            None => match (a.default, self.get_ref(&a.field)?) {
                (Some(d), None) => d,
                _ => {
                    let raw = self.required_ref(&a.field)?;
                    amount_micros(trim(&raw), a.scale).map_err(|problem| RecordError::Amount {
                        field: a.field.to_string(),
                        problem,
                    })?
                }
            },
            Some(sum) if sum.first => self.first_of(a, sum)?,
            Some(sum) => {
                let items = self.items(a, sum)?;
                let mut total = 0i64;
                for (i, item) in items.iter().enumerate() {
                    let chosen = sum.filters.iter().all(|(p, values)| {
                        let v = match p.find(item) {
                            Some(v) if !v.is_null() => v.text().unwrap_or_default(),
                            _ => Cow::Borrowed(""),
                        };
                        values.iter().any(|w| *w == *v)
                    });
                    if !chosen {
                        continue;
                    }
                    let rec = Record {
                        value: item,
                        parent: self.parent,
                        columns: self.columns,
                    };
                    let raw = rec.required_ref(&a.field)?;
                    let m = amount_micros(trim(&raw), a.scale)
                        .map_err(|problem| item_error(a, sum, i, problem))?;
                    total = total
                        .checked_add(m)
                        .ok_or_else(|| RecordError::SumOutOfRange {
                            field: a.field.to_string(),
                        })?;
                }
                total
            }
        };
        if let Some(m) = &a.minus {
            let raw = self.required_ref(m)?;
            let sub =
                amount_micros(trim(&raw), a.scale).map_err(|problem| RecordError::Amount {
                    field: m.to_string(),
                    problem,
                })?;
            micros = micros
                .checked_sub(sub)
                .ok_or_else(|| RecordError::DifferenceOutOfRange {
                    field: a.field.to_string(),
                })?;
        }
        if let Some(floor) = a.at_least {
            micros = micros.max(floor);
        }
        if a.whole && micros % 1_000_000 != 0 {
            return Err(RecordError::NotWholeCount {
                field: a.field.to_string(),
                amount: from_micros(micros),
            });
        }
        if a.absolute {
            micros.checked_abs().ok_or_else(|| RecordError::OutOfRange {
                field: a.field.to_string(),
            })
        } else {
            Ok(micros)
        }
    }
}

impl<'a, T: Tree> Record<'a, T> {
    /// The list a `sum` adds up; none (or null) is an empty one.
    fn items(&self, a: &AmountPlan, sum: &SumPlan) -> Result<&'a [T], RecordError> {
        match sum.each.find(self.value) {
            None => Ok(&[]),
            Some(v) if v.is_null() => Ok(&[]),
            Some(v) => v.list().ok_or_else(|| RecordError::NotAList {
                field: a.field.to_string(),
                list: sum.each.to_string(),
            }),
        }
    }

    /// `sum` with `first`: the amount of the one item whose filter value
    /// comes earliest in the filter's list (Meta reports one purchase
    /// under several overlapping action types); none listed is 0.
    fn first_of(&self, a: &AmountPlan, sum: &SumPlan) -> Result<i64, RecordError> {
        let Some((key, wanted)) = sum.filters.first() else {
            return Ok(0);
        };
        let items = self.items(a, sum)?;
        let chosen = wanted.iter().find_map(|w| {
            items.iter().enumerate().find(|(_, item)| {
                key.find(*item)
                    .and_then(|v| v.text().ok())
                    .is_some_and(|v| *v == **w)
            })
        });
        let Some((i, item)) = chosen else {
            return Ok(0);
        };
        let rec = Record {
            value: item,
            parent: self.parent,
            columns: self.columns,
        };
        let raw = rec.required_ref(&a.field)?;
        amount_micros(trim(&raw), a.scale).map_err(|problem| item_error(a, sum, i, problem))
    }
}

/// The amount of item `index` of a `sum`'s list does not read.
fn item_error(
    a: &AmountPlan,
    sum: &SumPlan,
    index: usize,
    problem: ScaledAmountError,
) -> RecordError {
    RecordError::ItemAmount {
        field: a.field.to_string(),
        list: sum.each.to_string(),
        index,
        problem,
    }
}

pub fn parse_time(raw: &str, format: &TimeFormat, zone: Tz) -> Result<DateTime<Utc>, TimeError> {
    match format {
        TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(TimeError::NotRfc3339),
        TimeFormat::UnixSeconds => {
            let s: i64 = raw.parse().map_err(|_| TimeError::NotUnixSeconds)?;
            DateTime::from_timestamp(s, 0).ok_or(TimeError::OutOfRange)
        }
        TimeFormat::UnixMillis => {
            let ms: i64 = raw.parse().map_err(|_| TimeError::NotUnixMillis)?;
            DateTime::from_timestamp_millis(ms).ok_or(TimeError::OutOfRange)
        }
        TimeFormat::Pattern(p) => {
            let naive =
                NaiveDateTime::parse_from_str(raw, p).map_err(|cause| TimeError::NoMatch {
                    pattern: p.clone(),
                    cause,
                })?;
            zone.from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or(TimeError::Gap { zone })
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

pub fn amount_micros(raw: &str, scale: Scale) -> Result<i64, ScaledAmountError> {
    let whole = |unit: &'static str| {
        raw.parse::<i64>().map_err(|_| ScaledAmountError::NotWhole {
            shown: echo(raw).into_owned(),
            unit,
        })
    };
    match scale {
        Scale::Decimal => Ok(parse_micros(raw)?),
        Scale::Hundredths => minor_units_to_micros(whole("hundredths (fen, cents)")?, 2)
            .ok_or_else(|| AmountError::TooLarge(echo(raw).into_owned()).into()),
        Scale::Micros => whole("micros"),
    }
}

/// A pointer of `if_present` that holds a value decides; else the map,
/// then the default.
pub(super) fn status<T: Tree>(
    rec: &Record<T>,
    st: &StatusPlan,
) -> Result<OrderStatus, RecordError> {
    let present = st
        .if_present
        .iter()
        .find(|(p, _)| p.find(rec.value).is_some_and(|v| !v.is_null()));
    if let Some((_, s)) = present {
        return Ok(*s);
    }
    let v = rec.get_ref(&st.field)?.unwrap_or_default();
    st.map
        .get(v.as_ref())
        .copied()
        .or(st.default)
        .ok_or_else(|| RecordError::UnknownStatus {
            field: st.field.to_string(),
            shown: echo(&v).into_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both readers of a pointer (`at` for the few read from a whole body,
    /// the split `JsonPointer` for every record field) read what serde_json's
    /// own `Value::pointer` reads (RFC 6901).
    #[test]
    fn lookups_read_what_value_pointer_reads() {
        let v = serde_json::json!({
            "id": 1, "a/b": {"m~n": 2}, "list": [{"x": 3}, 4], "": 5, "01": 6,
            "@c": 7, "2": 8
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
            "/@c",
        ] {
            assert_eq!(at(&v, p), v.pointer(p), "{p}");
            let split = crate::connectors::declarative::pointer::JsonPointer::new(p);
            assert_eq!(split.find(&v), v.pointer(p), "{p}");
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
        assert_eq!(err, TimeError::Gap { zone: ny });
        assert!(err.to_string().contains("daylight"), "{err}");
        assert!(parse_time("2026-10-01", &p, sh).is_err());
        let u = parse_time("1790812800", &TimeFormat::UnixSeconds, sh).unwrap();
        assert_eq!(format_time(u, &TimeFormat::UnixMillis, sh), "1790812800000");
        assert!(parse_time("1790812800.5", &TimeFormat::UnixSeconds, sh).is_err());
    }

    fn field(name: &str, path: &str) -> FieldPlan {
        FieldPlan {
            name: name.into(),
            pointers: vec![super::super::plan::Pointer {
                parent: false,
                path: path.into(),
            }],
            none_if: Vec::new(),
        }
    }

    fn amount_plan(sum: Option<SumPlan>) -> AmountPlan {
        AmountPlan {
            field: field("amount", "/price"),
            scale: Scale::Decimal,
            absolute: false,
            sum,
            minus: None,
            at_least: None,
            default: None,
            whole: false,
        }
    }

    #[test]
    fn a_field_that_does_not_read_is_named_in_a_typed_error() {
        let value = serde_json::json!({"price": [1], "items": [{"price": "1"}, {"price": "1e3"}]});
        let rec = Record {
            value: &value,
            parent: None,
            columns: &[],
        };
        assert_eq!(
            rec.amount(&amount_plan(None)),
            Err(RecordError::NotAValue {
                field: "amount (/price)".into(),
                problem: NotAValue::List,
            })
        );
        let sum = SumPlan {
            each: "/items".into(),
            filters: Vec::new(),
            first: false,
        };
        let err = rec.amount(&amount_plan(Some(sum))).unwrap_err();
        assert_eq!(
            err,
            RecordError::ItemAmount {
                field: "amount (/price)".into(),
                list: "/items".into(),
                index: 1,
                problem: AmountError::NotDecimal("1e3".into()).into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "amount (/price) in /items[1]: `1e3` is not a decimal number"
        );
        assert_eq!(
            rec.required(&field("order id", "/id")),
            Err(RecordError::Missing {
                field: "order id (/id)".into()
            })
        );
    }

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "12.50",
            "\t7\n",
            "\u{3000}12",
            "12\u{a0}",
            "é",
            "ab\u{2003}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
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
        assert_eq!(
            amount_micros("99999999999999999", Scale::Hundredths),
            Err(AmountError::TooLarge("99999999999999999".into()).into())
        );
        assert_eq!(
            amount_micros("0.5", Scale::Micros),
            Err(ScaledAmountError::NotWhole {
                shown: "0.5".into(),
                unit: "micros"
            })
        );
    }
}
