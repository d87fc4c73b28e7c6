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

/// An exact amount of money, held as integer micros (value × 10⁶) as it is
/// stored. Arithmetic is checked: `checked_*` give an error on overflow and
/// the operators panic (as `Duration`'s do) rather than wrap, because a
/// wrapped total would be a wrong number shown as a right one.
///
/// It carries no currency: a fact's currency is its shop's (`[[shops]]
/// currency`), and money of several currencies is only added through
/// [`crate::currency`]'s conversion plans.
///
/// Serde writes it as the decimal string (`"129.9"`), the way amounts are
/// written in JSON today (`Decimal` with serde-str), and reads it back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);

    /// From stored micros.
    pub const fn from_micros(micros: i64) -> Self {
        Money(micros)
    }

    /// The stored micros.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Exactly `value`, refusing (rather than rounding) anything finer than a micro.
    pub fn from_decimal(value: Decimal) -> Result<Self, AmountError> {
        to_micros(value).map(Money)
    }

    /// The exact decimal, without trailing zeros.
    pub fn to_decimal(self) -> Decimal {
        from_micros(self.0)
    }

    /// Parses a decimal string as [`parse_decimal`] does.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        parse_micros(text).map(Money)
    }

    /// Integer minor units (fen, cents) with `decimals` places.
    pub fn from_minor_units(units: i64, decimals: u32) -> Result<Self, AmountError> {
        minor_units_to_micros(units, decimals)
            .map(Money)
            .ok_or_else(|| AmountError::TooLarge(format!("{units} minor units")))
    }

    pub fn checked_add(self, other: Money) -> Result<Money, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or_else(|| overflow(self, "+", other))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, AmountError> {
        self.0
            .checked_sub(other.0)
            .map(Money)
            .ok_or_else(|| overflow(self, "-", other))
    }

    /// The total of `amounts`, an error if it does not fit.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Result<Money, AmountError> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |total, m| total.checked_add(m))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Written with `decimals` places ("129.90" for 2), rounded half away
    /// from zero when the amount is finer: for a currency's minor unit.
    pub fn to_string_scaled(self, decimals: u32) -> String {
        let mut d = self.to_decimal().round_dp_with_strategy(
            decimals,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        );
        d.rescale(decimals);
        d.to_string()
    }
}

fn overflow(a: Money, op: &str, b: Money) -> AmountError {
    AmountError::TooLarge(format!("{a} {op} {b}"))
}

impl std::ops::Add for Money {
    type Output = Money;
    /// Panics on overflow; see [`Money::checked_add`].
    fn add(self, other: Money) -> Money {
        self.checked_add(other)
            .unwrap_or_else(|e| panic!("money overflow: {e}"))
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    /// Panics on overflow; see [`Money::checked_sub`].
    fn sub(self, other: Money) -> Money {
        self.checked_sub(other)
            .unwrap_or_else(|e| panic!("money overflow: {e}"))
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        *self = *self + other;
    }
}

impl std::ops::SubAssign for Money {
    fn sub_assign(&mut self, other: Money) {
        *self = *self - other;
    }
}

impl std::ops::Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(
            self.0
                .checked_neg()
                .expect("money overflow: negating i64::MIN micros"),
        )
    }
}

/// Panics on overflow; [`Money::checked_sum`] gives an error instead.
impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl<'a> std::iter::Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

/// The decimal without trailing zeros (`129.9`, `-3`), as amounts are shown today.
impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.to_decimal(), f)
    }
}

impl std::str::FromStr for Money {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl TryFrom<Decimal> for Money {
    type Error = AmountError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Money::from_decimal(value)
    }
}

impl From<Money> for Decimal {
    fn from(m: Money) -> Decimal {
        m.to_decimal()
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `Decimal` (serde-str) reads the string; the exactness check is ours.
        let value = <Decimal as serde::Deserialize>::deserialize(d)?;
        Money::from_decimal(value).map_err(serde::de::Error::custom)
    }
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
    fn money_adds_and_subtracts_exactly() {
        let a = Money::parse("0.1").unwrap();
        let b = Money::parse("0.2").unwrap();
        assert_eq!(a + b, Money::parse("0.3").unwrap());
        assert_eq!((a - b).to_string(), "-0.1");
        assert_eq!(-a, Money::from_micros(-100_000));
        let total: Money = [a, b, b].iter().sum();
        assert_eq!(total.micros(), 500_000);
        let mut m = Money::ZERO;
        m += b;
        m -= a;
        assert_eq!(m, a);
        assert_eq!(Money::checked_sum([a, b]), Ok(Money::from_micros(300_000)));
    }

    #[test]
    fn money_overflow_is_an_error_not_a_wrap() {
        let max = Money::from_micros(i64::MAX);
        let one = Money::from_micros(1);
        assert!(matches!(
            max.checked_add(one),
            Err(AmountError::TooLarge(_))
        ));
        assert!(matches!(
            Money::from_micros(i64::MIN).checked_sub(one),
            Err(AmountError::TooLarge(_))
        ));
        assert!(matches!(
            Money::checked_sum([max, one]),
            Err(AmountError::TooLarge(_))
        ));
        assert!(std::panic::catch_unwind(|| max + one).is_err());
        assert!(matches!(
            Money::from_minor_units(i64::MAX, 2),
            Err(AmountError::TooLarge(_))
        ));
    }

    #[test]
    fn money_parses_and_converts_like_the_micros_helpers() {
        assert_eq!(Money::parse("129.90"), Ok(Money::from_micros(129_900_000)));
        assert_eq!("7.".parse::<Money>(), Ok(Money::from_micros(7_000_000)));
        assert!(matches!(
            Money::parse("1e3"),
            Err(AmountError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse("1.0000001"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            Money::parse("99999999999999"),
            Err(AmountError::TooLarge(_))
        ));
        let d = parse_decimal("10610.836202").unwrap();
        let m = Money::try_from(d).unwrap();
        assert_eq!(m.micros(), 10_610_836_202);
        assert_eq!(Decimal::from(m), d);
        assert_eq!(
            Money::from_minor_units(1999, 2),
            Ok(Money::from_micros(19_990_000))
        );
    }

    #[test]
    fn money_is_written_without_trailing_zeros_or_at_a_currency_scale() {
        let m = Money::parse("129.90").unwrap();
        assert_eq!(m.to_string(), "129.9");
        assert_eq!(m.to_string_scaled(2), "129.90");
        assert_eq!(Money::parse("-3").unwrap().to_string_scaled(2), "-3.00");
        assert_eq!(Money::parse("0.125").unwrap().to_string_scaled(2), "0.13");
        assert_eq!(Money::parse("-0.125").unwrap().to_string_scaled(2), "-0.13");
        assert_eq!(Money::parse("5").unwrap().to_string_scaled(0), "5");
    }

    #[test]
    fn money_serializes_as_the_decimal_string() {
        let m = Money::parse("129.90").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"129.9\"");
        assert_eq!(serde_json::from_str::<Money>("\"129.90\"").unwrap(), m);
        // As `Decimal` with serde-str: a JSON number is not an amount's wire form.
        assert!(serde_json::from_str::<Money>("129.9").is_err());
        assert!(serde_json::from_str::<Money>("\"0.0000001\"").is_err());
    }

    #[test]
    fn google_ads_micros_fit() {
        assert_eq!(parse_micros("10610.836202").unwrap(), 10_610_836_202);
        assert_eq!(minor_units_to_micros(1999, 2), Some(19_990_000));
    }
}
