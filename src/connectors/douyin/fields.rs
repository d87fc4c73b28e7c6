//! How 抖店 writes a record's fields: ids as digits or integers, amounts
//! as whole fen, times as Unix seconds, each as a number or a string.

use crate::facts::{echo, FieldError};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Micros per fen (1 yuan = 100 fen = 10^6 micros).
const MICROS_PER_FEN: i64 = 10_000;

/// An id as exact text: a string of digits or an integer (never through f64).
pub(super) fn id_text(v: Option<&Value>) -> Option<String> {
    let text = match v? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// An id as [`id_text`] reads it, required.
pub(super) fn required_id(v: Option<&Value>, field: &str) -> Result<String, FieldError> {
    id_text(v).ok_or_else(|| FieldError::invalid(field, "missing or not an id"))
}

/// An amount in fen (分) as micros: not negative, within range.
pub(super) fn fen_micros(fen: i64, field: &str) -> Result<i64, FieldError> {
    if fen < 0 {
        return Err(FieldError::invalid(field, format!("{fen} is negative")));
    }
    fen.checked_mul(MICROS_PER_FEN)
        .ok_or_else(|| FieldError::invalid(field, format!("{fen} is out of range")))
}

/// A whole number given as a JSON integer or a string of digits.
pub(super) fn integer(r: &Map<String, Value>, key: &str) -> Result<Option<i64>, FieldError> {
    let text = match r.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => {
            let shown = other.to_string();
            return Err(FieldError::invalid(
                key,
                format!("`{}` is not a number", echo(&shown)),
            ));
        }
    };
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| FieldError::invalid(key, format!("`{}` is not a whole number", echo(&text))))
}

/// Unix seconds; 0 means "not yet" (抖店 sends `pay_time: 0` for unpaid orders).
pub(super) fn instant(
    r: &Map<String, Value>,
    key: &str,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    match integer(r, key)? {
        None | Some(0) => Ok(None),
        Some(s) => DateTime::from_timestamp(s, 0)
            .map(Some)
            .ok_or_else(|| FieldError::invalid(key, format!("{s} is not a time"))),
    }
}

pub(super) fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
