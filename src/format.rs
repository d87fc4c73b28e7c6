//! Numbers and columns for people and for JSON, shared by snapshot reports,
//! scorecards, alerts and the read side: display rounding (half away from
//! zero), exact JSON numbers, and padding by terminal width.

use crate::kpi::Unit;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Number, Value};

/// A decimal as an exact JSON number (no float round trip), or null.
pub fn json_number(d: Option<Decimal>) -> Value {
    match d {
        Some(d) => {
            let text = d.normalize().to_string();
            text.parse::<Number>()
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
        None => Value::Null,
    }
}

/// A CSV table of text: `header`, then one record per row (the lists
/// `kpid kpis`, `runs` and `targets list` print with `--format csv`).
pub fn csv_table<R, F>(
    header: &[&str],
    rows: impl IntoIterator<Item = R>,
) -> Result<String, csv::Error>
where
    R: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        let fields: Vec<F> = row.into_iter().collect();
        w.write_record(fields.iter().map(|f| f.as_ref()))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    // Every field was text, so the bytes are.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `d` with exactly `dp` decimal places, rounded half away from zero for
/// display (stored values keep their precision).
pub fn fixed(d: Decimal, dp: u32) -> String {
    format!("{:.*}", dp as usize, round_display(d, dp))
}

/// `d` rounded half away from zero to at most `dp` places, trailing zeros dropped.
pub fn round_display(d: Decimal, dp: u32) -> Decimal {
    // `round_dp` alone is banker's rounding (12.505 → 12.50).
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

/// Human formatting: money to 2 places, percentages as %, n/a for no value.
pub fn display_value(d: Option<Decimal>, unit: Option<Unit>) -> String {
    let Some(d) = d else { return "n/a".into() };
    match unit {
        Some(Unit::Money) => fixed(d, 2),
        Some(Unit::Percent) => format!("{}%", fixed(d * Decimal::ONE_HUNDRED, 2)),
        Some(Unit::Count) | Some(Unit::Rank) => d.normalize().to_string(),
        _ => round_display(d, 2).to_string(),
    }
}

/// Spaces between a left-aligned column and the next one.
const GAP: usize = 2;

/// Terminal columns taken by `s` (a CJK character takes two).
pub(crate) fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` followed by spaces up to `width` terminal columns.
pub(crate) fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(display_width(s))))
}

/// `s` after spaces up to `width` terminal columns.
pub(crate) fn pad_left(s: &str, width: usize) -> String {
    format!("{}{s}", " ".repeat(width.saturating_sub(display_width(s))))
}

/// Width of a left-aligned column: its widest cell (header included) plus
/// a gap, so the longest name never runs into the next column.
pub(crate) fn column_width<'a>(cells: impl IntoIterator<Item = &'a str>) -> usize {
    cells.into_iter().map(display_width).max().unwrap_or(0) + GAP
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn csv_tables_quote_what_needs_it() {
        let rows = [["a,b", "引号\"x\""], ["plain", ""]];
        let text = csv_table(&["name", "note"], rows).unwrap();
        assert_eq!(text, "name,note\n\"a,b\",\"引号\"\"x\"\"\"\nplain,\n");
    }

    #[test]
    fn json_numbers_are_exact_and_null_for_no_value() {
        let v = json_number(Some(Decimal::from_str("1234.50").unwrap()));
        assert_eq!(v.to_string(), "1234.5");
        let v = json_number(Some(Decimal::from_str("0.1").unwrap()));
        assert_eq!(v.to_string(), "0.1");
        assert_eq!(json_number(None), Value::Null);
    }

    #[test]
    fn percentages_and_money_display() {
        let d = |s| Some(Decimal::from_str(s).unwrap());
        assert_eq!(display_value(d("0.4"), Some(Unit::Percent)), "40.00%");
        assert_eq!(display_value(d("12.5"), Some(Unit::Money)), "12.50");
        assert_eq!(display_value(None, Some(Unit::Money)), "n/a");
    }

    #[test]
    fn display_rounds_half_away_from_zero() {
        let d = |s| Some(Decimal::from_str(s).unwrap());
        // Banker's rounding would give 12.50, 0.12, 0.12% and 2.
        assert_eq!(display_value(d("12.505"), Some(Unit::Money)), "12.51");
        assert_eq!(display_value(d("-12.505"), Some(Unit::Money)), "-12.51");
        assert_eq!(display_value(d("0.125"), Some(Unit::Ratio)), "0.13");
        assert_eq!(display_value(d("0.00125"), Some(Unit::Percent)), "0.13%");
        assert_eq!(fixed(Decimal::from_str("12.505").unwrap(), 2), "12.51");
        assert_eq!(fixed(Decimal::from_str("2.5").unwrap(), 0), "3");
        assert_eq!(fixed(Decimal::from_str("12.5").unwrap(), 2), "12.50");
    }
}
