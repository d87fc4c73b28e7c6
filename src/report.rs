//! Reading snapshots back for people: table, JSON and CSV.

use crate::kpi::{Catalogue, Unit};
use crate::store::StoredSnapshot;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Number, Value};
use std::fmt::Write;

/// Output formats of `kpid report` and `kpid kpis`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// A workbook (`report --scorecards` only, with `--output`).
    Xlsx,
}

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

/// One snapshot as the JSON object of `kpid report --format json`.
pub fn snapshot_json(s: &StoredSnapshot, cat: &Catalogue) -> Value {
    let kpis: Vec<Value> = ordered(s, cat)
        .into_iter()
        .map(|(k, unit)| {
            json!({
                "id": k.kpi,
                "value": json_number(k.value),
                "unit": unit.map(|u| u.as_str()).unwrap_or("ratio"),
                "target": json_number(k.target),
                "attainment": json_number(k.attainment),
                "score": json_number(k.score),
            })
        })
        .collect();
    json!({
        "period": s.period.to_string(),
        "shop": s.shop,
        "revision": s.revision,
        "kpis": kpis,
    })
}

/// Snapshot lines in catalogue order (KPIs no longer configured go last).
fn ordered<'a>(
    s: &'a StoredSnapshot,
    cat: &Catalogue,
) -> Vec<(&'a crate::store::StoredKpi, Option<Unit>)> {
    let mut lines: Vec<_> = s.kpis.iter().collect();
    let pos = |id: &str| cat.iter().position(|k| k.id == id).unwrap_or(usize::MAX);
    lines.sort_by_key(|k| (pos(&k.kpi), k.kpi.clone()));
    lines
        .into_iter()
        .map(|k| (k, cat.get(&k.kpi).map(|s| s.unit)))
        .collect()
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

pub(crate) fn pad(s: &str, width: usize) -> String {
    // CJK characters take two terminal columns.
    let w: usize = s
        .chars()
        .map(|c| if (c as u32) > 0x2E80 { 2 } else { 1 })
        .sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// The table of `kpid report`: Chinese and English names side by side.
pub fn snapshot_table(s: &StoredSnapshot, cat: &Catalogue) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {} — revision {}", s.shop, s.period, s.revision);
    let _ = writeln!(
        out,
        "{}{}{}{:>16} {:>16} {:>11} {:>8}",
        pad("KPI", 26),
        pad("指标", 22),
        pad("name", 32),
        "value",
        "target",
        "attainment",
        "score"
    );
    for (k, unit) in ordered(s, cat) {
        let spec = cat.get(&k.kpi);
        let _ = writeln!(
            out,
            "{}{}{}{:>16} {:>16} {:>11} {:>8}",
            pad(&k.kpi, 26),
            pad(spec.map(|s| s.name_zh.as_str()).unwrap_or(""), 22),
            pad(spec.map(|s| s.name_en.as_str()).unwrap_or(""), 32),
            display_value(k.value, unit),
            if k.target.is_some() {
                display_value(k.target, unit)
            } else {
                "-".into()
            },
            if k.attainment.is_some() {
                display_value(k.attainment, Some(Unit::Percent))
            } else {
                "-".into()
            },
            k.score
                .map(|s| round_display(s, 1).to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }
    out
}

/// CSV lines (without header) of a snapshot.
pub fn snapshot_csv(
    s: &StoredSnapshot,
    cat: &Catalogue,
    w: &mut csv::Writer<Vec<u8>>,
) -> csv::Result<()> {
    let text = |d: Option<Decimal>| d.map(|d| d.normalize().to_string()).unwrap_or_default();
    for (k, unit) in ordered(s, cat) {
        let spec = cat.get(&k.kpi);
        w.write_record([
            s.period.to_string(),
            s.shop.clone(),
            s.revision.to_string(),
            k.kpi.clone(),
            spec.map(|s| s.name_zh.clone()).unwrap_or_default(),
            spec.map(|s| s.name_en.clone()).unwrap_or_default(),
            unit.map(|u| u.as_str()).unwrap_or("ratio").to_string(),
            text(k.value),
            text(k.target),
            text(k.attainment),
            text(k.score),
        ])?;
    }
    Ok(())
}

pub const CSV_HEADER: [&str; 11] = [
    "period",
    "shop",
    "revision",
    "kpi",
    "name_zh",
    "name_en",
    "unit",
    "value",
    "target",
    "attainment",
    "score",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

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
        // The score column of the table keeps one place.
        let snap = StoredSnapshot {
            shop: "sh".into(),
            period: crate::period::Period::parse_month("2026-10").unwrap(),
            revision: 1,
            computed_at: 0,
            kpis: vec![crate::store::StoredKpi {
                kpi: "gmv".into(),
                value: d("12.505"),
                target: d("10"),
                attainment: d("1.2505"),
                score: d("120.25"),
            }],
        };
        let table = snapshot_table(&snap, &Catalogue::builtin());
        assert!(table.contains("12.51"), "{table}");
        assert!(table.contains("125.05%"), "{table}");
        assert!(table.contains("120.3"), "{table}");
    }
}
