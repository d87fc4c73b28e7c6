//! How values are kept in columns: exact decimals as text, local days as
//! `YYYY-MM-DD`, periods as their labels.

use super::{Result, StoreError};
use crate::period::{Days, LocalDay, Period};
use rust_decimal::Decimal;
use std::fmt::Display;
use std::str::FromStr;

/// An exact decimal read back from its text; `column` (`table.column`)
/// names it when the text is not a decimal (any `Display`, so that a name
/// put together per row is only written out for the error).
pub(super) fn decimal(column: impl Display, text: &str) -> Result<Decimal> {
    Decimal::from_str(text)
        .map_err(|_| StoreError::Corrupt(format!("{column} `{text}` is not a decimal")))
}

/// As [`decimal`], for a column that may be null (no value).
pub(super) fn dec(column: impl Display, text: Option<String>) -> Result<Option<Decimal>> {
    text.map(|t| decimal(column, &t)).transpose()
}

pub(super) fn text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.normalize().to_string())
}

pub(super) fn norm(d: Option<Decimal>) -> Option<Decimal> {
    d.map(|d| d.normalize())
}

/// A stored day (`YYYY-MM-DD` text in both databases); `what` names the
/// column for the error.
pub(super) fn parse_day(what: &str, text: &str) -> Result<LocalDay> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} `{text}` is not a day")))
}

/// `YYYY-MM-DD`: `LocalDay`'s `Display` (`NaiveDate`'s) writes the same text
/// as the `%Y-%m-%d` pattern without parsing a pattern per row.
pub(super) fn day_text(d: LocalDay) -> String {
    d.to_string()
}

/// The first and last day of `days` as bound to `day >= $a AND day <= $b`.
pub(super) fn day_texts(days: Days) -> [String; 2] {
    [day_text(days.first()), day_text(days.last())]
}

pub(super) fn period(kind: &str, text: &str) -> Result<Period> {
    let p = match kind {
        "year" => Period::parse_year(text),
        "day" => Period::parse_day(text),
        _ => Period::parse_month(text),
    };
    p.map_err(|_| StoreError::Corrupt(format!("period `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_days_are_read_back_or_named_as_corrupt() {
        let day = LocalDay::from_ymd_opt(2026, 10, 5).unwrap();
        assert_eq!(parse_day("daily_values.day", &day_text(day)).unwrap(), day);
        let e = parse_day("daily_values.day", "2026-13-01").unwrap_err();
        assert!(
            e.to_string().contains("daily_values.day `2026-13-01`"),
            "{e}"
        );
    }

    #[test]
    fn stored_decimals_are_read_back_or_named_as_corrupt() {
        assert_eq!(
            dec("alerts.value", Some("12.50".into())).unwrap(),
            Some(Decimal::new(1250, 2))
        );
        assert_eq!(dec("alerts.value", None).unwrap(), None);
        let e = decimal("targets.value", "1,5").unwrap_err();
        assert!(e.to_string().contains("targets.value `1,5`"), "{e}");
    }
}
