//! Field shapes the Chinese platforms' order records share: ids and amounts
//! that arrive as a string one day and a bare number the next, and times
//! written as Beijing wall-clock text or as Unix seconds.
//!
//! Values are read as `serde_json::Value`, whose numbers keep their exact
//! text (the `arbitrary_precision` feature), so an 18-digit order id or an
//! amount like `100.10` never passes through a float.

use crate::facts::{echo, FieldError};
use crate::money::parse_micros;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// The text of a string or number; `None` for null, absent or empty.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An id as text (string or number), required.
pub(crate) fn id(v: Option<&Value>, field: &str) -> Result<String, FieldError> {
    text(v).ok_or_else(|| FieldError::missing(field))
}

/// An amount in yuan (string or number) as micros, required.
pub(crate) fn yuan_micros(v: Option<&Value>, field: &str) -> Result<i64, FieldError> {
    let t = text(v).ok_or_else(|| FieldError::missing(field))?;
    parse_micros(&t).map_err(|e| FieldError::invalid(field, e))
}

/// A refunded amount in yuan as micros: required, and never negative.
pub(crate) fn refund_yuan_micros(v: Option<&Value>, field: &str) -> Result<i64, FieldError> {
    let micros = yuan_micros(v, field)?;
    if micros < 0 {
        return Err(FieldError::negative(field));
    }
    Ok(micros)
}

/// A small integer code (string or number); `None` when absent or not one.
pub(crate) fn code(v: Option<&Value>) -> Option<i64> {
    text(v)?.parse().ok()
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset")
}

/// A time as Beijing wall-clock text (`yyyy-MM-dd HH:mm:ss`, GMT+8, the
/// platforms' own zone whatever the shop's) or as Unix seconds (number or
/// digits). Absent, empty and the zero dates some APIs send for "never"
/// are `None`; anything else unreadable is an error naming the field.
pub(crate) fn time(v: Option<&Value>, field: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(t) = text(v) else {
        return Ok(None);
    };
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = t
            .parse()
            .map_err(|_| FieldError::invalid(field, format!("`{}` is not a time", echo(&t))))?;
        if secs == 0 {
            return Ok(None);
        }
        return DateTime::from_timestamp(secs, 0)
            .map(Some)
            .ok_or_else(|| FieldError::invalid(field, format!("`{}` is out of range", echo(&t))));
    }
    if t.starts_with("0000-00-00") || t.starts_with("1970-01-01 08:00:00") {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f"))
        .map_err(|_| {
            FieldError::invalid(
                field,
                format!("`{}` is not `yyyy-MM-dd HH:mm:ss`", echo(&t)),
            )
        })?;
    beijing()
        .from_local_datetime(&naive)
        .single()
        .map(|t| Some(t.with_timezone(&Utc)))
        .ok_or_else(|| FieldError::invalid(field, format!("`{}` is not a time", echo(&t))))
}

/// As [`time`], required.
pub(crate) fn required_time(v: Option<&Value>, field: &str) -> Result<DateTime<Utc>, FieldError> {
    time(v, field)?.ok_or_else(|| FieldError::missing(field))
}

/// `yyyy-MM-dd HH:mm:ss` in GMT+8, as the platforms read time filters.
pub(crate) fn beijing_text(t: DateTime<Utc>) -> String {
    t.with_timezone(&beijing())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `[start, end]` (both inclusive, whole seconds) cut into consecutive
/// pieces no wider than `max`, for APIs that refuse wider time filters.
pub(crate) fn slices(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    max: chrono::Duration,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut from = start;
    while from <= end {
        let to = (from + max).min(end);
        out.push((from, to));
        from = to + chrono::Duration::seconds(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    #[test]
    fn ids_and_amounts_keep_their_digits() {
        let v: Value = serde_json::from_str(r#"{"a": 9007199254740993, "b": 100.10}"#).unwrap();
        assert_eq!(text(v.get("a")).as_deref(), Some("9007199254740993"));
        assert_eq!(yuan_micros(v.get("b"), "b"), Ok(100_100_000));
        assert_eq!(yuan_micros(Some(&json!("0.01")), "x"), Ok(10_000));
        let e = yuan_micros(Some(&json!("12,34")), "pay_amount").unwrap_err();
        assert!(matches!(e, FieldError::Invalid { .. }), "{e:?}");
        assert!(e.to_string().starts_with("pay_amount: "), "{e}");
        assert_eq!(
            yuan_micros(None, "pay_amount"),
            Err(FieldError::missing("pay_amount"))
        );
        assert_eq!(text(Some(&json!(""))), None);
    }

    #[test]
    fn times_read_beijing_text_and_unix_seconds() {
        let t = time(Some(&json!("2026-03-01 00:30:00")), "pay_time")
            .unwrap()
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2026-02-28T16:30:00+00:00");
        let u = time(Some(&json!(1772337600)), "pay_time").unwrap().unwrap();
        assert_eq!(u.to_rfc3339(), "2026-03-01T04:00:00+00:00");
        assert_eq!(time(Some(&json!("1772337600")), "x").unwrap(), Some(u));
        assert_eq!(time(Some(&json!("")), "x").unwrap(), None);
        assert_eq!(time(None, "x").unwrap(), None);
        let e = time(Some(&json!("yesterday")), "pay_time").unwrap_err();
        assert_eq!(e.field(), "pay_time");
        assert!(e.to_string().contains("yesterday"), "{e}");
        assert_eq!(beijing_text(t), "2026-03-01 00:30:00");
    }

    #[test]
    fn slices_cover_the_window_without_exceeding_the_limit() {
        let s = DateTime::from_timestamp(1_772_337_600, 0).unwrap();
        let e = s + Duration::hours(2);
        let parts = slices(s, e, Duration::minutes(30));
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].0, s);
        assert_eq!(parts[3].1, e);
        for w in parts.windows(2) {
            assert_eq!(w[1].0, w[0].1 + Duration::seconds(1));
        }
        assert!(parts.iter().all(|(a, b)| *b - *a <= Duration::minutes(30)));
        assert_eq!(slices(s, s, Duration::minutes(30)), vec![(s, s)]);
        assert!(slices(e, s, Duration::minutes(30)).is_empty());
    }
}
