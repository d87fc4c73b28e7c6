//! The XLSX connector: Excel workbooks dropped in a folder.
//!
//! The same rules as the CSV connector: files in lexical order of their
//! paths, an unchanged file skipped (by sha256), a later file's rows winning,
//! a bad row rejected (locator `sheet NAME row N`, raw the row's cell values
//! joined with ` | `) while the good rows land. One sheet is read per file:
//! `sheet`, or the first one. `skip_rows` sheet rows above the header (an
//! export's title rows) are ignored, then blank rows until the header; row
//! numbers are the sheet's own, as Excel shows them.
//!
//! Cells arrive typed and are rendered as the text the shared row parser
//! (see [`super::tabular`]) expects, by the kind of the column they are in:
//!
//! - **Numbers** (amounts, daily values). A numeric cell is a binary float;
//!   it is read as Excel shows it at full precision, 15 significant digits,
//!   then rounded (half away from zero) to at most 6 decimal places, the
//!   micros kept in storage. So a money cell keeps its 2 places — 19.99
//!   stored as 19.989999999999998 (or 19.989999999) reads exactly 19.99 —
//!   unless the cell's text form truly has more (0.125 stays 0.125; a 7th
//!   place is rounded away). A text cell holding a number is read exactly,
//!   as in CSV (more than 6 places is refused, not rounded).
//! - **Instants** (`paid_at`, `refunded_at`). A date-time cell (or a bare
//!   number, taken as an Excel serial date in the 1900 system) is a naive
//!   local time, rounded to the second and read in the shop's time zone; a
//!   text cell is parsed as in CSV (RFC 3339, or local `YYYY-MM-DD HH:MM:SS`).
//! - **Dates** (the daily `date`). A date cell (or serial number) without a
//!   time of day, or text `YYYY-MM-DD`.
//! - **Text** (ids, shop, status, dimension). A whole number is written
//!   without decimals; one above 2⁵³ cannot be an exact id and is refused.
//!
//! A cell holding an Excel error (`#N/A`, `#VALUE!`, …) in a used column
//! rejects its row.

use super::options::KindOptions;
use super::options::{Building, OptionProblem, PollingSpec};
use super::tabular::{
    check_columns, check_path, ColumnKind, ColumnMap, FileImport, FileSource, HeaderError,
    ImportError, Layout, RowParser, Stream,
};
use super::{Connector, ConnectorError};
use calamine::{CellErrorType, Data, ExcelDateTime, ExcelDateTimeType, Reader, Xlsx, XlsxError};
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use std::io::BufReader;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XlsxOptions {
    pub stream: Stream,
    /// A glob such as `imports/orders/*.xlsx`.
    pub path: String,
    /// The sheet to read; the first one when unset.
    #[serde(default)]
    pub sheet: Option<String>,
    /// kpid's column name → the header text in the export.
    #[serde(default)]
    pub columns: ColumnMap,
    /// Sheet rows above the header (an export's title rows).
    #[serde(default)]
    pub skip_rows: usize,
}

impl KindOptions for XlsxOptions {
    const POLLING: PollingSpec = PollingSpec::NONE;
    const NEEDS_SHOP: bool = false;

    fn check(&self) -> Result<(), OptionProblem> {
        check_path(&self.path)?;
        if self.sheet.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(OptionProblem::new("sheet", "must not be empty"));
        }
        check_columns(self.stream, &self.columns)?;
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        Ok(Connector::Xlsx(XlsxConnector {
            name: with.name(),
            options: self,
            parser: RowParser::new(with.cfg, with.settings),
        }))
    }
}

#[derive(Debug, Clone)]
pub struct XlsxConnector {
    pub name: String,
    pub options: XlsxOptions,
    parser: RowParser,
}

/// Why a workbook was not imported.
#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    #[error("cannot be read: {0}")]
    Unreadable(std::io::Error),
    #[error("not a readable .xlsx workbook: {0}")]
    NotWorkbook(XlsxError),
    #[error("no sheet `{wanted}` (the sheets are: {})", .sheets.join(", "))]
    NoSuchSheet { wanted: String, sheets: Vec<String> },
    #[error("the workbook has no sheet")]
    NoSheet,
    #[error("sheet `{sheet}`: {problem}")]
    Sheet {
        sheet: String,
        problem: SheetProblem,
    },
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// What is wrong with the sheet read.
#[derive(Debug, thiserror::Error)]
pub enum SheetProblem {
    #[error("cannot be read: {0}")]
    Unreadable(XlsxError),
    #[error("the sheet is empty")]
    Empty,
    #[error("no header row below the {skipped} skipped row(s)")]
    NoHeader { skipped: usize },
    #[error("header row {row}: {error}")]
    Header { row: usize, error: HeaderError },
}

/// Why a row of a workbook is kept aside: a cell of a column kpid reads
/// holds what that column cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{column}: {problem}")]
struct BadCell {
    column: String,
    problem: CellError,
}

/// What a typed cell holds that its column cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CellError {
    #[error("the cell holds the error {0}")]
    Excel(CellErrorType),
    #[error("a date cell ({shown}) where {expected} is expected")]
    DateWhere {
        shown: String,
        expected: &'static str,
    },
    #[error("`{0}` is not a number")]
    NotANumber(f64),
    #[error("`{0}` is too large to store")]
    TooLarge(f64),
    #[error("`{0}` is a number too large to be an exact id (store the column as text)")]
    IdTooLarge(f64),
    #[error("`{0}` is a duration, not a date")]
    Duration(f64),
    #[error("`{0}` is not a date")]
    NotADate(f64),
    #[error("`{0}` is not an Excel date")]
    NotExcelDate(f64),
    #[error("`{0}` has a time of day; a date is expected")]
    TimeOfDay(String),
}

impl FileSource for XlsxConnector {
    type Error = WorkbookError;

    fn name(&self) -> &str {
        &self.name
    }

    fn pattern(&self) -> &str {
        &self.options.path
    }

    /// Reads the wanted (or first) sheet of one workbook into `file`, a row
    /// at a time (calamine's cell reader; the shared strings table, which
    /// calamine reads whole when it opens the book, is the part that stays).
    /// Unzipping and parsing the sheet is CPU work: it runs on the reading thread.
    fn read(&self, path: &str, file: &mut FileImport) -> Result<(), WorkbookError> {
        let input = std::fs::File::open(path).map_err(WorkbookError::Unreadable)?;
        let mut book: Xlsx<_> =
            Xlsx::new(BufReader::new(input)).map_err(WorkbookError::NotWorkbook)?;
        let names = book.sheet_names();
        let sheet = match &self.options.sheet {
            Some(w) => names
                .iter()
                .find(|n| n.trim() == w.trim())
                .cloned()
                .ok_or_else(|| WorkbookError::NoSuchSheet {
                    wanted: w.clone(),
                    sheets: names.clone(),
                })?,
            None => names.first().cloned().ok_or(WorkbookError::NoSheet)?,
        };
        let sheet_err = |problem: SheetProblem| WorkbookError::Sheet {
            sheet: sheet.clone(),
            problem,
        };
        let mut cells = book
            .worksheet_cells_reader(&sheet)
            .map_err(|e| sheet_err(SheetProblem::Unreadable(e)))?;
        let mut rows = SheetRows::default();
        let skip = self.options.skip_rows;
        // Rows numbered as Excel shows them (1-based, absolute); blank rows
        // and the skipped title rows are passed over.
        let mut next_row = || -> Result<Option<(usize, Vec<Data>)>, WorkbookError> {
            let mut read = || {
                let cell = cells.next_cell()?;
                Ok(cell.map(|c| (c.get_position(), Data::from(c.get_value().clone()))))
            };
            while let Some((n, cells)) = rows
                .next(&mut read)
                .map_err(|e| sheet_err(SheetProblem::Unreadable(e)))?
            {
                if n > skip && !cells.iter().all(is_blank) {
                    return Ok(Some((n, cells)));
                }
            }
            Ok(None)
        };
        let Some((header_row, header_cells)) = next_row()? else {
            return Err(sheet_err(match rows.any_cell {
                false => SheetProblem::Empty,
                true => SheetProblem::NoHeader { skipped: skip },
            }));
        };
        // Columns count from the header's first cell, as the sheet's used
        // range would start there.
        let first_col = header_cells.iter().position(|c| !is_blank(c)).unwrap_or(0);
        let header: Vec<String> = header_cells[first_col..].iter().map(raw_text).collect();
        let layout =
            Layout::new(self.options.stream, &header, &self.options.columns).map_err(|error| {
                sheet_err(SheetProblem::Header {
                    row: header_row,
                    error,
                })
            })?;
        file.locate_as(format!("sheet {sheet} row "));
        let raw = |cells: &[Data]| {
            cells
                .iter()
                .map(raw_text)
                .collect::<Vec<_>>()
                .join(" | ")
                .trim_end_matches([' ', '|'])
                .to_string()
        };
        while let Some((n, row)) = next_row()? {
            let cells = row.get(first_col..).unwrap_or_default();
            match row_texts(&layout, cells) {
                Ok(texts) => file.row(&self.parser, &layout, texts.as_slice(), n as u64, || {
                    raw(cells)
                })?,
                Err(reason) => file.bad_row(n as u64, &reason, raw(cells))?,
            }
        }
        Ok(())
    }
}

/// Groups the cells calamine's reader yields (in row order) into rows.
#[derive(Default)]
struct SheetRows {
    /// A cell read past the end of the row before it.
    pending: Option<((u32, u32), Data)>,
    /// Whether the sheet holds any cell at all (to tell an empty sheet).
    any_cell: bool,
    /// The reader reached the end of the sheet's data (asking again would
    /// read past it, an error).
    done: bool,
}

impl SheetRows {
    /// The next row holding a cell: its 1-based number and its cells from
    /// column A, gaps filled with empty cells.
    fn next(
        &mut self,
        mut next_cell: impl FnMut() -> Result<Option<((u32, u32), Data)>, XlsxError>,
    ) -> Result<Option<(usize, Vec<Data>)>, XlsxError> {
        let mut row: Option<(u32, Vec<Data>)> = None;
        loop {
            let next = match self.pending.take() {
                Some(cell) => Some(cell),
                None if self.done => None,
                None => next_cell()?,
            };
            let Some(((r, c), value)) = next else {
                self.done = true;
                return Ok(row.map(|(r, cells)| (r as usize + 1, cells)));
            };
            if value == Data::Empty {
                continue;
            }
            self.any_cell = true;
            match &mut row {
                Some((current, _)) if *current != r => {
                    self.pending = Some(((r, c), value));
                    return Ok(row.map(|(r, cells)| (r as usize + 1, cells)));
                }
                Some((_, cells)) => put(cells, c, value),
                None => {
                    let mut cells = Vec::new();
                    put(&mut cells, c, value);
                    row = Some((r, cells));
                }
            }
        }
    }
}

fn put(cells: &mut Vec<Data>, col: u32, value: Data) {
    let col = col as usize;
    if cells.len() <= col {
        cells.resize(col + 1, Data::Empty);
    }
    cells[col] = value;
}

fn is_blank(cell: &Data) -> bool {
    match cell {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The cells of the columns kpid reads, rendered for the row parser; the
/// ignored columns are left empty.
fn row_texts(layout: &Layout, cells: &[Data]) -> Result<Vec<String>, BadCell> {
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| match layout.column(i) {
            Some((name, kind)) => cell_text(cell, kind).map_err(|problem| BadCell {
                column: name.to_string(),
                problem,
            }),
            None => Ok(String::new()),
        })
        .collect()
}

/// One cell as the text the row parser reads for a column of this kind.
fn cell_text(cell: &Data, kind: ColumnKind) -> Result<String, CellError> {
    match (cell, kind) {
        (Data::Empty, _) => Ok(String::new()),
        (Data::Error(e), _) => Err(CellError::Excel(e.clone())),
        (Data::String(s), _) | (Data::DateTimeIso(s), ColumnKind::Instant) => Ok(s.clone()),
        (Data::DateTimeIso(s), ColumnKind::Date) => match s.split_once('T') {
            Some((day, time)) if time.trim_start_matches(['0', ':', '.']).is_empty() => {
                Ok(day.to_string())
            }
            _ => Ok(s.clone()),
        },
        (Data::DateTime(dt), ColumnKind::Instant) => excel_datetime(dt).map(format_instant),
        (Data::DateTime(dt), ColumnKind::Date) => excel_datetime(dt).and_then(date_only),
        (Data::DateTime(_), _) => Err(CellError::DateWhere {
            shown: raw_text(cell),
            expected: if kind == ColumnKind::Number {
                "a number"
            } else {
                "text"
            },
        }),
        (Data::Float(f), ColumnKind::Instant) => serial(*f).map(format_instant),
        (Data::Float(f), ColumnKind::Date) => serial(*f).and_then(date_only),
        (Data::Int(i), ColumnKind::Instant) => serial(*i as f64).map(format_instant),
        (Data::Int(i), ColumnKind::Date) => serial(*i as f64).and_then(date_only),
        (Data::Float(f), ColumnKind::Number) => float_decimal(*f).map(|d| d.to_string()),
        (Data::Float(f), ColumnKind::Text) => id_text(*f),
        (Data::Int(i), _) => Ok(i.to_string()),
        (Data::Bool(b), _) => Ok(b.to_string()),
        (Data::DateTimeIso(s), _) | (Data::DurationIso(s), _) => Ok(s.clone()),
    }
}

/// A numeric cell as an exact decimal: 15 significant digits (what Excel
/// itself keeps and shows), then at most 6 decimal places.
pub fn float_decimal(f: f64) -> Result<Decimal, CellError> {
    if !f.is_finite() {
        return Err(CellError::NotANumber(f));
    }
    if f.abs() < 5e-7 {
        return Ok(Decimal::ZERO);
    }
    let text = format!("{f:.14e}");
    let d = Decimal::from_scientific(&text).map_err(|_| CellError::TooLarge(f))?;
    Ok(
        d.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
            .normalize(),
    )
}

/// A numeric cell in an id column: a whole number, written without decimals.
fn id_text(f: f64) -> Result<String, CellError> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() <= EXACT {
        return Ok(format!("{}", f as i64));
    }
    if f.abs() > EXACT {
        return Err(CellError::IdTooLarge(f));
    }
    float_decimal(f).map(|d| d.to_string())
}

/// An Excel date-time as a naive local time, rounded to the second.
fn excel_datetime(dt: &ExcelDateTime) -> Result<NaiveDateTime, CellError> {
    if dt.is_duration() {
        return Err(CellError::Duration(dt.as_f64()));
    }
    let t = dt
        .as_datetime()
        .ok_or_else(|| CellError::NotADate(dt.as_f64()))?;
    let ms = t.and_utc().timestamp_millis();
    chrono::DateTime::from_timestamp(
        ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) >= 500),
        0,
    )
    .map(|t| t.naive_utc())
    .ok_or_else(|| CellError::NotADate(dt.as_f64()))
}

/// A bare number in a date column: an Excel serial date (1900 system).
fn serial(f: f64) -> Result<NaiveDateTime, CellError> {
    // 1 is 1900-01-01; 2958465 is 9999-12-31.
    if !(1.0..2_958_466.0).contains(&f) {
        return Err(CellError::NotExcelDate(f));
    }
    excel_datetime(&ExcelDateTime::new(f, ExcelDateTimeType::DateTime, false))
}

fn format_instant(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn date_only(t: NaiveDateTime) -> Result<String, CellError> {
    if t.time() != chrono::NaiveTime::MIN {
        return Err(CellError::TimeOfDay(format_instant(t)));
    }
    Ok(date_text(t.date()))
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A cell as the user sees it in a reject: numbers as stored, dates as
/// date-times, errors as Excel writes them.
fn raw_text(cell: &Data) -> String {
    match cell {
        Data::DateTime(dt) => match excel_datetime(dt) {
            Ok(t) if t.time() == chrono::NaiveTime::MIN => date_text(t.date()),
            Ok(t) => format_instant(t),
            Err(_) => dt.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(f: f64) -> String {
        float_decimal(f).unwrap().to_string()
    }

    #[test]
    fn float_cells_become_exact_decimals() {
        assert_eq!(dec(19.99), "19.99");
        assert_eq!(dec(19.989999999), "19.99");
        // The double just below 19.99, as a formula result may leave it.
        assert_eq!(dec(f64::from_bits(19.99f64.to_bits() - 1)), "19.99");
        assert_eq!(dec(0.1 + 0.2), "0.3");
        assert_eq!(dec(129.9), "129.9");
        assert_eq!(dec(0.125), "0.125");
        assert_eq!(dec(10610.836202), "10610.836202");
        assert_eq!(dec(1.0000004), "1");
        assert_eq!(dec(2.0000005), "2.000001");
        assert_eq!(dec(123456789012.34), "123456789012.34");
        assert_eq!(dec(123456789012.33998), "123456789012.34");
        assert_eq!(dec(1234.0), "1234");
        assert_eq!(dec(-3.5), "-3.5");
        assert_eq!(dec(1e-9), "0");
        assert!(float_decimal(f64::NAN).is_err());
        assert_eq!(float_decimal(1e30), Err(CellError::TooLarge(1e30)));
    }

    #[test]
    fn ids_stay_whole() {
        assert_eq!(id_text(12345.0).unwrap(), "12345");
        assert_eq!(id_text(12.5).unwrap(), "12.5");
        assert_eq!(
            id_text(4.012345678901234e18),
            Err(CellError::IdTooLarge(4.012345678901234e18))
        );
    }

    #[test]
    fn serial_dates_are_naive_local_times() {
        // 46296 is 2026-10-01; .5 is noon.
        let t = serial(46296.5).unwrap();
        assert_eq!(format_instant(t), "2026-10-01 12:00:00");
        // Ten o'clock is not exact in binary; it still lands on the second.
        let t = serial(46296.0 + 10.0 / 24.0).unwrap();
        assert_eq!(format_instant(t), "2026-10-01 10:00:00");
        assert_eq!(date_only(serial(46296.0).unwrap()).unwrap(), "2026-10-01");
        assert!(date_only(t).is_err());
        assert!(serial(-1.0).is_err());
        assert_eq!(
            cell_text(&Data::Float(46296.0), ColumnKind::Date).unwrap(),
            "2026-10-01"
        );
        assert_eq!(
            cell_text(&Data::Float(19.99), ColumnKind::Number).unwrap(),
            "19.99"
        );
        let e = cell_text(&Data::Error(CellErrorType::NA), ColumnKind::Number).unwrap_err();
        assert_eq!(e, CellError::Excel(CellErrorType::NA));
        assert!(e.to_string().contains("#N/A"), "{e}");
    }
}
