//! Numbers as people read them in a message: money to two places with
//! thousands separators, fractions as percentages, counts whole.

use crate::kpi::catalogue::Unit;
use rust_decimal::{Decimal, RoundingStrategy};

/// `1234567.891` → `1,234,567.89`.
pub fn money(d: Decimal) -> String {
    grouped(
        d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        2,
    )
}

/// A fraction as a percentage: `0.8345` → `83.45%`.
pub fn percent(d: Decimal) -> String {
    let p = (d * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    format!("{}%", grouped(p, 2))
}

/// A change as a signed percentage: `0.05` → `+5.00%`, `-0.031` → `-3.10%`.
pub fn change(d: Decimal) -> String {
    if d > Decimal::ZERO {
        format!("+{}", percent(d))
    } else {
        percent(d)
    }
}

/// A KPI value in its unit; `n/a` when there is none.
pub fn value(d: Option<Decimal>, unit: Unit) -> String {
    let Some(d) = d else { return "n/a".into() };
    match unit {
        Unit::Money => money(d),
        Unit::Percent => percent(d),
        Unit::Count | Unit::Rank if d.fract().is_zero() => grouped(d, 0),
        Unit::Seconds => format!("{}s", grouped(d.round_dp(1), 1).trim_end_matches(".0")),
        _ => {
            let r = d.round_dp(2).normalize();
            grouped(r, r.scale())
        }
    }
}

/// A value and the threshold it is held against, each in its unit. Where
/// [`value`]'s places would show two different numbers alike (a CSAT of
/// 4.598 against 4.6 read "4.6 (threshold 4.6)"), both take as many more
/// places, up to six, as tell them apart.
pub fn value_and_threshold(
    value: Option<Decimal>,
    threshold: Option<Decimal>,
    unit: Unit,
) -> (String, String) {
    let usual = (self::value(value, unit), self::value(threshold, unit));
    match (value, threshold) {
        (Some(v), Some(t)) if v != t && usual.0 == usual.1 => (1..=6)
            .map(|extra| (with_places(v, unit, extra), with_places(t, unit, extra)))
            .find(|(a, b)| a != b)
            .unwrap_or(usual),
        _ => usual,
    }
}

/// `d` in its unit with `extra` places more than [`value`] gives a fraction.
fn with_places(d: Decimal, unit: Unit, extra: u32) -> String {
    let at = |d: Decimal, places: u32| {
        grouped(
            d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero),
            places,
        )
    };
    match unit {
        Unit::Percent => format!("{}%", at(d * Decimal::ONE_HUNDRED, 2 + extra)),
        Unit::Seconds => format!("{}s", at(d, 1 + extra)),
        _ => at(d, 2 + extra),
    }
}

/// Optional fraction as a percentage, `n/a` when there is none.
pub fn opt_percent(d: Option<Decimal>) -> String {
    d.map(percent).unwrap_or_else(|| "n/a".into())
}

/// Optional change, `n/a` when there is none.
pub fn opt_change(d: Option<Decimal>) -> String {
    d.map(change).unwrap_or_else(|| "n/a".into())
}

/// Thousands separators on the integer part, `places` decimals.
fn grouped(d: Decimal, places: u32) -> String {
    let text = format!("{:.*}", places as usize, d.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (text.clone(), None),
    };
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    if d.is_sign_negative() && !d.is_zero() {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dec as d;

    #[test]
    fn money_has_two_places_and_thousands_separators() {
        for (amount, text) in [
            ("1234567.891", "1,234,567.89"),
            ("999.995", "1,000.00"),
            ("12", "12.00"),
            ("-4321.5", "-4,321.50"),
            ("0", "0.00"),
        ] {
            assert_eq!(money(d(amount)), text, "{amount}");
        }
    }

    #[test]
    fn fractions_read_as_percentages_and_changes_carry_a_sign() {
        assert_eq!(percent(d("0.8345")), "83.45%");
        assert_eq!(percent(d("12.5")), "1,250.00%");
        for (fraction, text) in [("0.05", "+5.00%"), ("-0.031", "-3.10%"), ("0", "0.00%")] {
            assert_eq!(change(d(fraction)), text, "{fraction}");
        }
    }

    #[test]
    fn values_follow_their_unit() {
        assert_eq!(value(Some(d("12345")), Unit::Count), "12,345");
        assert_eq!(value(Some(d("0.0345")), Unit::Percent), "3.45%");
        assert_eq!(value(Some(d("3.456")), Unit::Ratio), "3.46");
        assert_eq!(value(Some(d("42.0")), Unit::Seconds), "42s");
        assert_eq!(value(None, Unit::Money), "n/a");
    }

    #[test]
    fn a_value_and_its_threshold_take_the_places_that_tell_them_apart() {
        let pair = |v: &str, t: &str, unit| value_and_threshold(Some(d(v)), Some(d(t)), unit);
        let both = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(pair("4.598", "4.6", Unit::Score), both("4.598", "4.600"));
        assert_eq!(
            pair("1064", "1064.004", Unit::Count),
            both("1,064.000", "1,064.004")
        );
        assert_eq!(
            pair("99.999", "100", Unit::Money),
            both("99.999", "100.000")
        );
        assert_eq!(pair("59.96", "60", Unit::Seconds), both("59.96s", "60.00s"));
        // Apart, or equal: the usual places.
        assert_eq!(pair("4.2", "4.6", Unit::Score), both("4.2", "4.6"));
        assert_eq!(pair("4.60", "4.6", Unit::Score), both("4.6", "4.6"));
        // Closer than six more places: the usual places.
        assert_eq!(pair("1.000000001", "1", Unit::Ratio), both("1", "1"));
        assert_eq!(
            value_and_threshold(None, Some(d("4.6")), Unit::Score),
            both("n/a", "4.6")
        );
    }
}
