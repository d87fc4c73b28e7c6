//! Exact decimal amounts.
//!
//! Amounts travel through kpid as [`rust_decimal::Decimal`] and are stored as
//! integer *micros* (value × 10⁶). Six places hold every currency's minor unit
//! and Google Ads' `costMicros` exactly, and integer columns let both SQLite and
//! PostgreSQL sum them without ever going through a float.

use rust_decimal::Decimal;
use std::borrow::Cow;
use std::str::FromStr;

/// Decimal places kept in storage.
pub const SCALE: u32 = 6;
const FACTOR: i64 = 1_000_000;

/// Why a decimal could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal number")]
    NotDecimal(String),
    #[error("`{0}` has more than 6 decimal places")]
    TooPrecise(String),
    #[error("`{0}` is too large to store")]
    TooLarge(String),
}

/// Parses a decimal string as written by platforms and CSV exports ("129.90",
/// "-3"): an optional sign, digits and at most one `.`. Anything else is
/// refused, though `Decimal` would take it: exponents (`1e3`) and
/// underscores (`1_000`) hide typos in money columns.
pub fn parse_decimal(text: &str) -> Result<Decimal, AmountError> {
    let t = text.trim();
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    let plain = digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !plain {
        return Err(AmountError::NotDecimal(echo(text).into_owned()));
    }
    Decimal::from_str(t).map_err(|_| AmountError::NotDecimal(echo(text).into_owned()))
}

/// Converts to stored micros, refusing (rather than rounding) anything finer.
pub fn to_micros(value: Decimal) -> Result<i64, AmountError> {
    let normalized = value.normalize();
    if normalized.scale() > SCALE {
        return Err(AmountError::TooPrecise(value.to_string()));
    }
    let scaled = normalized
        .checked_mul(Decimal::from(FACTOR))
        .ok_or_else(|| AmountError::TooLarge(value.to_string()))?;
    i64::try_from(scaled).map_err(|_| AmountError::TooLarge(value.to_string()))
}

/// Parses a decimal string straight into micros.
pub fn parse_micros(text: &str) -> Result<i64, AmountError> {
    to_micros(parse_decimal(text)?)
}

/// Turns stored micros back into a decimal, without trailing zeros.
pub fn from_micros(micros: i64) -> Decimal {
    Decimal::new(micros, SCALE).normalize()
}

/// Integer minor units (e.g. fen, cents) into micros.
pub fn minor_units_to_micros(units: i64, decimals: u32) -> Option<i64> {
    let factor = 10_i64.checked_pow(SCALE.checked_sub(decimals)?)?;
    units.checked_mul(factor)
}

/// Characters of a bad value that a reject's reason or a log line repeats.
pub const ECHO_CHARS: usize = 200;

/// A bad value as a reason or a log line repeats it: cut to [`ECHO_CHARS`]
/// characters, so a cell holding a whole pasted file does not flood the
/// logs and the `rejects` table (the reject's `raw` keeps the full text).
pub fn echo(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(ECHO_CHARS) {
        None => Cow::Borrowed(value),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… ({} characters)",
            &value[..cut],
            value.chars().count()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_values_are_cut_to_200_characters() {
        assert_eq!(echo("abc"), "abc");
        let exact = "z".repeat(ECHO_CHARS);
        assert_eq!(echo(&exact), exact);
        // Characters, not bytes: a cut never splits a character.
        let long = "订".repeat(5000);
        let cut = echo(&long);
        assert!(cut.starts_with(&"订".repeat(ECHO_CHARS)));
        assert!(!cut.contains(&"订".repeat(ECHO_CHARS + 1)));
        assert!(cut.ends_with("… (5000 characters)"), "{cut}");
    }

    #[test]
    fn round_trips_cents_exactly() {
        let m = parse_micros("129.90").unwrap();
        assert_eq!(m, 129_900_000);
        assert_eq!(from_micros(m).to_string(), "129.9");
    }

    #[test]
    fn sums_that_floats_get_wrong_stay_exact() {
        let total: i64 = ["0.1", "0.2"]
            .iter()
            .map(|s| parse_micros(s).unwrap())
            .sum();
        assert_eq!(from_micros(total), parse_decimal("0.3").unwrap());
    }

    #[test]
    fn refuses_sub_micro_precision_and_junk() {
        assert_eq!(
            parse_micros("1.0000001"),
            Err(AmountError::TooPrecise("1.0000001".into()))
        );
        assert!(matches!(
            parse_micros("12,5"),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            parse_micros("1e3"),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(parse_micros(""), Err(AmountError::NotDecimal(_))));
        for junk in [
            "1_000", "1__0", "_1", "0x10", "1.2.3", ".", "-", "+-1", "١٢",
        ] {
            assert!(
                matches!(parse_micros(junk), Err(AmountError::NotDecimal(_))),
                "{junk}"
            );
        }
        assert_eq!(parse_micros(" -3 "), Ok(-3_000_000));
        assert_eq!(parse_micros("+.5"), Ok(500_000));
        assert_eq!(parse_micros("7."), Ok(7_000_000));
    }

    #[test]
    fn google_ads_micros_fit() {
        assert_eq!(parse_micros("10610.836202").unwrap(), 10_610_836_202);
        assert_eq!(minor_units_to_micros(1999, 2), Some(19_990_000));
    }
}
