//! Reading snapshots back for people: table, JSON and CSV.

use crate::format::{column_width, display_value, json_number, pad, round_display};
use crate::kpi::{Catalogue, Unit};
use crate::store::StoredSnapshot;
use rust_decimal::Decimal;
use serde_json::{json, Value};
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

/// One snapshot as the JSON object of `kpid report --format json`.
pub fn snapshot_json(s: &StoredSnapshot, cat: &Catalogue) -> Value {
    let kpis: Vec<Value> = ordered(s, cat)
        .into_iter()
        .map(|(k, unit)| {
            json!({
                "id": k.kpi,
                "value": json_number(k.measure.value),
                "unit": unit.map(|u| u.as_str()).unwrap_or("ratio"),
                "target": json_number(k.measure.target),
                "attainment": json_number(k.measure.attainment),
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

/// The first three columns of a bilingual KPI table: each line's KPI id
/// with its Chinese and English names, each column as wide as its widest.
pub(crate) struct NameColumns<'a> {
    names: Vec<[&'a str; 3]>,
    widths: [usize; 3],
}

impl<'a> NameColumns<'a> {
    const HEADER: [&'static str; 3] = ["KPI", "指标", "name"];

    pub fn new(ids: impl Iterator<Item = &'a str>, cat: &'a Catalogue) -> Self {
        let names: Vec<[&str; 3]> = ids
            .map(|id| {
                let spec = cat.get(id);
                [
                    id,
                    spec.map(|s| s.name_zh.as_str()).unwrap_or(""),
                    spec.map(|s| s.name_en.as_str()).unwrap_or(""),
                ]
            })
            .collect();
        // The names hold CJK text, so they are aligned by display width.
        let widths =
            [0, 1, 2].map(|c| column_width(names.iter().map(|n| n[c]).chain([Self::HEADER[c]])));
        NameColumns { names, widths }
    }

    /// The header cells: `KPI`, `指标`, `name`.
    pub fn header(&self) -> String {
        self.cells(Self::HEADER)
    }

    /// Each line's cells, in the order of the ids.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.names.iter().map(|n| self.cells(*n))
    }

    fn cells(&self, cells: [&str; 3]) -> String {
        let [w_id, w_zh, w_en] = self.widths;
        format!(
            "{}{}{}",
            pad(cells[0], w_id),
            pad(cells[1], w_zh),
            pad(cells[2], w_en)
        )
    }
}

/// The table of `kpid report`: Chinese and English names side by side.
pub fn snapshot_table(s: &StoredSnapshot, cat: &Catalogue) -> String {
    let lines = ordered(s, cat);
    let names = NameColumns::new(lines.iter().map(|(k, _)| k.kpi.as_str()), cat);
    let mut out = String::new();
    let _ = writeln!(out, "{} {} — revision {}", s.shop, s.period, s.revision);
    let _ = writeln!(
        out,
        "{}{:>16} {:>16} {:>11} {:>8}",
        names.header(),
        "value",
        "target",
        "attainment",
        "score"
    );
    for ((k, unit), names) in lines.into_iter().zip(names.lines()) {
        let _ = writeln!(
            out,
            "{names}{:>16} {:>16} {:>11} {:>8}",
            display_value(k.measure.value, unit),
            if k.measure.target.is_some() {
                display_value(k.measure.target, unit)
            } else {
                "-".into()
            },
            if k.measure.attainment.is_some() {
                display_value(k.measure.attainment, Some(Unit::Percent))
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
            s.shop.to_string(),
            s.revision.to_string(),
            k.kpi.to_string(),
            spec.map(|s| s.name_zh.clone()).unwrap_or_default(),
            spec.map(|s| s.name_en.clone()).unwrap_or_default(),
            unit.map(|u| u.as_str()).unwrap_or("ratio").to_string(),
            text(k.measure.value),
            text(k.measure.target),
            text(k.measure.attainment),
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
    use crate::measure::Measure;
    use std::str::FromStr;

    #[test]
    fn the_table_rounds_half_away_from_zero() {
        let d = |s| Some(Decimal::from_str(s).unwrap());
        // The score column of the table keeps one place.
        let snap = StoredSnapshot {
            shop: "sh".into(),
            period: crate::period::Period::parse_month("2026-10").unwrap(),
            revision: 1,
            computed_at: 0,
            kpis: vec![crate::store::StoredKpi {
                kpi: "gmv".into(),
                measure: Measure {
                    value: d("12.505"),
                    target: d("10"),
                    attainment: d("1.2505"),
                },
                score: d("120.25"),
            }],
        };
        let table = snapshot_table(&snap, &Catalogue::builtin());
        assert!(table.contains("12.51"), "{table}");
        assert!(table.contains("125.05%"), "{table}");
        assert!(table.contains("120.3"), "{table}");
    }

    /// Terminal columns of `s` by the Unicode East Asian Width property,
    /// worked out here by the ranges the table's names use (CJK ideographs
    /// and full-width forms are wide), independently of the code under test.
    fn columns(s: &str) -> usize {
        s.chars()
            .map(|c| match c as u32 {
                0x3000..=0x303F | 0x4E00..=0x9FFF | 0xFF01..=0xFF60 => 2,
                _ => 1,
            })
            .sum()
    }

    #[test]
    fn table_columns_fit_the_widest_name_with_a_gap() {
        let cat = Catalogue::builtin();
        let s = StoredSnapshot {
            shop: "sh".into(),
            period: crate::period::Period::parse_any("2026-10").unwrap(),
            revision: 1,
            computed_at: 0,
            kpis: cat
                .iter()
                .map(|k| crate::store::StoredKpi {
                    kpi: k.id.clone(),
                    measure: Measure {
                        value: Some(Decimal::ONE),
                        ..Measure::default()
                    },
                    score: None,
                })
                .collect(),
        };
        let table = snapshot_table(&s, &cat);
        let row = table
            .lines()
            .find(|l| l.starts_with("cs_violations "))
            .expect("a row for cs_violations");
        assert!(
            row.contains("服务态度(违规用语次数)  Banned-phrase violations"),
            "a gap after the longest Chinese name: {row}"
        );
        // Every English name starts in the same terminal column as `name`.
        let start_of = |line: &str, name: &str| line.find(name).map(|i| columns(&line[..i]));
        let header = table.lines().nth(1).unwrap();
        let column = start_of(header, "name").unwrap();
        for k in cat.iter() {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("{} ", k.id)))
                .unwrap();
            assert_eq!(start_of(row, &k.name_en), Some(column), "{row}");
        }
    }
}
