//! Reading snapshots back for people: table, JSON and CSV.

use crate::kpi::{Catalogue, Unit};
use crate::store::StoredSnapshot;
use rust_decimal::Decimal;
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

/// Human formatting: money to 2 places, percentages as %, n/a for no value.
pub fn display_value(d: Option<Decimal>, unit: Option<Unit>) -> String {
    let Some(d) = d else { return "n/a".into() };
    match unit {
        Some(Unit::Money) => format!("{:.2}", d.round_dp(2)),
        Some(Unit::Percent) => format!("{:.2}%", (d * Decimal::ONE_HUNDRED).round_dp(2)),
        Some(Unit::Count) | Some(Unit::Rank) => d.normalize().to_string(),
        _ => format!("{}", d.round_dp(2).normalize()),
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
                .map(|s| s.round_dp(1).normalize().to_string())
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
}
