//! Values unit tests write as text: parsed, or the test fails.

use crate::period::LocalDay;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// An exact decimal, `dec("0.1")`.
pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A local day `YYYY-MM-DD`.
pub fn day(s: &str) -> LocalDay {
    LocalDay::parse_ymd(s).unwrap()
}

/// An instant in RFC 3339 with its offset, `2026-10-05T09:00:00+08:00`.
pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
