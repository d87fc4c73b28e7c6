//! Bulk files of targets and manual inputs (CSV or XLSX, a header row then
//! one record per row). A bad row is reported with its line and kept aside;
//! the good rows are taken.

use crate::kpi::catalogue::input_def;
use crate::money::parse_decimal;
use crate::period::Period;
use crate::settings::Settings;
use crate::targets::{Target, TargetPeriod, TargetPeriodError, TargetScope, TargetSource};
use calamine::{Data, Reader};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One data row: its line (as a spreadsheet shows it), cells by lowercase
/// header, and the raw text for the rejects table.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: usize,
    pub cells: HashMap<String, String>,
    pub raw: String,
}

impl Row {
    fn get(&self, col: &str) -> &str {
        self.cells.get(col).map(|s| s.trim()).unwrap_or("")
    }

    fn opt(&self, col: &str) -> Option<String> {
        Some(self.get(col).to_string()).filter(|s| !s.is_empty())
    }
}

/// Why a file of targets or manual inputs cannot be read at all; names
/// the file (a bad row is not this: it is kept aside). The cause is in the
/// message, not a `source`: the binary prints an error's chain.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: only .csv and .xlsx files can be imported", .path.display())]
    NotCsvOrXlsx { path: PathBuf },
    #[error("{}: {error}", .path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: header: {error}", .path.display())]
    CsvHeader { path: PathBuf, error: csv::Error },
    #[error("{}: {error}", .path.display())]
    CsvRow { path: PathBuf, error: csv::Error },
    #[error("{}: {error}", .path.display())]
    Workbook {
        path: PathBuf,
        error: calamine::Error,
    },
    #[error("{}: the workbook has no sheet", .path.display())]
    NoSheet { path: PathBuf },
}

/// Reads every data row of a `.csv` or `.xlsx` file (first sheet).
pub fn read_rows(path: &Path) -> Result<Vec<Row>, ReadError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => read_csv(path),
        Some("xlsx") => read_xlsx(path),
        _ => Err(ReadError::NotCsvOrXlsx { path: path.into() }),
    }
}

fn read_csv(path: &Path) -> Result<Vec<Row>, ReadError> {
    let bytes = std::fs::read(path).map_err(|error| ReadError::Unreadable {
        path: path.into(),
        error,
    })?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .map_err(|error| ReadError::CsvHeader {
            path: path.into(),
            error,
        })?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|error| ReadError::CsvRow {
            path: path.into(),
            error,
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        rows.push(Row {
            line,
            cells: header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect(),
            raw: rec.iter().collect::<Vec<_>>().join(","),
        });
    }
    Ok(rows)
}

/// A cell as text. A date cell on the 1st reads as its month (`2026-10`),
/// which is what Excel makes of a typed `2026-10`.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // The shortest text that reads back as the same double: what Excel shows.
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => format!("#{e:?}"),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(d) if d.format("%d").to_string() == "01" => d.format("%Y-%m").to_string(),
            Some(d) => d.format("%Y-%m-%d").to_string(),
            None => dt.to_string(),
        },
    }
}

fn read_xlsx(path: &Path) -> Result<Vec<Row>, ReadError> {
    let workbook_err = |error| ReadError::Workbook {
        path: path.into(),
        error,
    };
    let mut wb = calamine::open_workbook_auto(path).map_err(workbook_err)?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ReadError::NoSheet { path: path.into() })?;
    let range = wb.worksheet_range(&sheet).map_err(workbook_err)?;
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut rows = range.rows();
    let header: Vec<String> = match rows.next() {
        Some(h) => h
            .iter()
            .map(|c| cell_text(c).trim().to_ascii_lowercase())
            .collect(),
        None => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        let texts: Vec<String> = row.iter().map(cell_text).collect();
        if texts.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        out.push(Row {
            // Excel's row numbers: 1-based, header first.
            line: first_row + i + 2,
            cells: header.iter().cloned().zip(texts.iter().cloned()).collect(),
            raw: texts.join(" | "),
        });
    }
    Ok(out)
}

/// Why a row of a target or manual input file was rejected; the message
/// starts with the column to fix.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error("`{0}` is empty")]
    Empty(String),
    #[error("`{column}`: `{text}` is not a decimal number")]
    NotDecimal { column: String, text: String },
    #[error("`kpi`: unknown KPI `{0}`")]
    UnknownKpi(String),
    #[error("`shop`: no shop `{0}`")]
    NoShop(String),
    #[error("`person`: no person `{0}`")]
    NoPerson(String),
    #[error("`role`: no role `{0}`")]
    NoRole(String),
    #[error("set at most one of `shop`, `person` and `role`")]
    ManyScopes,
    #[error("`period`: {0}")]
    TargetPeriod(#[source] TargetPeriodError),
    #[error("`person`: no person `{0}` in [[people]]")]
    NotInPeople(String),
    #[error("`input`: `{0}` is not an input (see `kpid kpis --inputs`)")]
    NotAnInput(String),
    #[error("`period`: `{0}` is not a month YYYY-MM or a year YYYY")]
    NotMonthOrYear(String),
    #[error("`value`: {0} is negative")]
    Negative(Decimal),
    #[error("`value`: {0} is above 100 (reviews score 0–100)")]
    ReviewAbove100(Decimal),
}

fn decimal(row: &Row, col: &str) -> Result<Decimal, RowError> {
    let text = row.get(col);
    if text.is_empty() {
        return Err(RowError::Empty(col.into()));
    }
    parse_decimal(text).map_err(|_| RowError::NotDecimal {
        column: col.into(),
        text: text.into(),
    })
}

/// A target row: `kpi, period, value` and at most one of `shop`, `person`, `role`.
pub fn target_row(settings: &Settings, row: &Row, file: &str) -> Result<Target, RowError> {
    let kpi = row.get("kpi");
    if settings.catalogue.get(kpi).is_none() {
        return Err(RowError::UnknownKpi(kpi.into()));
    }
    let scope = match (row.opt("shop"), row.opt("person"), row.opt("role")) {
        (None, None, None) => TargetScope::All,
        (Some(s), None, None) if settings.shop(&s).is_some() => TargetScope::Shop(s.into()),
        (Some(s), None, None) => return Err(RowError::NoShop(s)),
        (None, Some(p), None) if settings.person(&p).is_some() => TargetScope::Person(p),
        (None, Some(p), None) => return Err(RowError::NoPerson(p)),
        (None, None, Some(r)) if settings.role(&r).is_some() => TargetScope::Role(r),
        (None, None, Some(r)) => return Err(RowError::NoRole(r)),
        _ => return Err(RowError::ManyScopes),
    };
    let period = TargetPeriod::parse(row.get("period")).map_err(RowError::TargetPeriod)?;
    Ok(Target {
        kpi: kpi.into(),
        scope,
        period,
        value: decimal(row, "value")?,
        source: TargetSource::Imported {
            file: file.to_string(),
            at: 0,
        },
    })
}

/// A manual input: who, which input, which period (a month or a year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualEntry {
    pub person: String,
    pub input: String,
    pub period: String,
    pub value: Decimal,
    pub note: Option<String>,
}

/// Checks a manual input whatever its origin (command line or file).
pub fn check_manual(
    settings: &Settings,
    person: &str,
    input: &str,
    period: &str,
    value: Decimal,
) -> Result<String, RowError> {
    if settings.person(person).is_none() {
        return Err(RowError::NotInPeople(person.into()));
    }
    if input_def(input).is_none() {
        return Err(RowError::NotAnInput(input.into()));
    }
    let period = match Period::parse_any(period) {
        Ok(p @ (Period::Month { .. } | Period::Year(_))) => p.to_string(),
        _ => return Err(RowError::NotMonthOrYear(period.into())),
    };
    if value < Decimal::ZERO {
        return Err(RowError::Negative(value));
    }
    if input.starts_with("peer_review") && value > Decimal::ONE_HUNDRED {
        return Err(RowError::ReviewAbove100(value));
    }
    Ok(period)
}

/// A manual input row: `person, input, period, value[, note]`.
pub fn manual_row(settings: &Settings, row: &Row) -> Result<ManualEntry, RowError> {
    let value = decimal(row, "value")?;
    let (person, input) = (row.get("person"), row.get("input"));
    let period = check_manual(settings, person, input, row.get("period"), value)?;
    Ok(ManualEntry {
        person: person.to_string(),
        input: input.to_string(),
        period,
        value,
        note: row.opt("note"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_read_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("targets.txt");
        std::fs::write(&txt, "kpi,value\n").unwrap();
        let e = read_rows(&txt).unwrap_err();
        assert!(
            matches!(&e, ReadError::NotCsvOrXlsx { path } if *path == txt),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}: only .csv and .xlsx files can be imported",
                txt.display()
            )
        );

        let missing = dir.path().join("missing.csv");
        let e = read_rows(&missing).unwrap_err();
        assert!(
            matches!(&e, ReadError::Unreadable { path, .. } if *path == missing),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(&missing.display().to_string()),
            "{e}"
        );
        // The binary prints an error's chain: the cause is said once.
        let shown = e.to_string();
        assert_eq!(format!("{:#}", anyhow::Error::new(e)), shown);

        let csv = dir.path().join("targets.csv");
        std::fs::write(&csv, "kpi,value\ngmv,100\n").unwrap();
        assert_eq!(read_rows(&csv).unwrap()[0].get("value"), "100");
    }
}
