//! How values are kept in columns: exact decimals as text, local days as
//! `YYYY-MM-DD`, periods as their labels.

use super::{Result, StoreError};
use crate::period::Period;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

pub(super) fn dec(text: Option<String>) -> Result<Option<Decimal>> {
    text.map(|t| {
        Decimal::from_str(&t).map_err(|_| StoreError::Corrupt(format!("decimal value `{t}`")))
    })
    .transpose()
}

pub(super) fn text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

pub(super) fn norm(d: Option<Decimal>) -> Option<Decimal> {
    d.map(|d| d.normalize())
}

pub(super) fn day(text: String) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("day `{text}`")))
}

pub(super) fn period(kind: &str, text: &str) -> Result<Period> {
    let p = match kind {
        "year" => Period::parse_year(text),
        "day" => Period::parse_day(text),
        _ => Period::parse_month(text),
    };
    p.map_err(|_| StoreError::Corrupt(format!("period `{text}`")))
}
