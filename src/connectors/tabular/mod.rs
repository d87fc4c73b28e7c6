//! What the file connectors (CSV and XLSX) share: each stream's header
//! contract, the `columns` mapping and `skip_rows`, parsing a row of cell
//! texts into facts, and the loop over the files a glob matches.
//!
//! A source only turns its file into a header and rows of cell texts with a
//! locator (`line 7`, `sheet 订单 row 7`) and the raw text to keep with a
//! reject; everything after that happens here, once.

use crate::config::{ConnectorConfig, KeyProblem};
use crate::facts::{check_id, echo, Batch, DailyValue, Order, OrderStatus, Refund};
use crate::kpi::catalogue::input_def;
use crate::money::{parse_micros, Money};
use crate::period::{local_day, LocalDay};
use crate::settings::Settings;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Rows (good and rejected) committed per transaction inside a large file.
/// A commit on SQLite writes every index page it touched to the log: with
/// many shops in one file that is a page or more per shop and index
/// whatever the batch size, so larger batches write fewer pages a row
/// (issue 16). Three batches are in memory at most (one being read, one
/// waiting, one committing), a few MB each.
pub const ROWS_PER_COMMIT: usize = 10_000;

/// What the rows of a file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Orders,
    Refunds,
    Daily,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Orders => "orders",
            Stream::Refunds => "refunds",
            Stream::Daily => "daily",
        }
    }

    /// The stream's required and optional columns (daily also takes input ids).
    fn contract(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Stream::Orders => (
                &["order_id", "paid_at", "amount"],
                &["shop", "status", "buyer_id"],
            ),
            Stream::Refunds => (
                &["refund_id", "order_id", "refunded_at", "amount"],
                &["shop"],
            ),
            Stream::Daily => (&["date"], &["shop", "dimension"]),
        }
    }

    fn knows(self, name: &str) -> bool {
        let (required, optional) = self.contract();
        required.contains(&name)
            || optional.contains(&name)
            || (self == Stream::Daily && input_def(name).is_some())
    }

    fn expected(self) -> String {
        let (required, optional) = self.contract();
        required
            .iter()
            .chain(optional)
            .copied()
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The `columns` option: kpid's column name → the header text in the export.
pub type ColumnMap = BTreeMap<String, String>;

/// Checks the `path` option, a glob, at configuration load.
pub fn check_path(pattern: &str) -> Result<(), KeyProblem> {
    glob::Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| path_problem(pattern, e))
}

fn path_problem(pattern: &str, e: glob::PatternError) -> KeyProblem {
    KeyProblem::new("path", format!("bad glob `{pattern}`: {e}"))
}

/// Checks a `columns` option against the stream, at configuration load.
pub fn check_columns(stream: Stream, columns: &ColumnMap) -> Result<(), KeyProblem> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (name, header) in columns {
        let err = |m: String| Err(KeyProblem::new(format!("columns.{name}"), m));
        if !stream.knows(name) {
            return err(match stream {
                Stream::Daily => format!(
                    "`{name}` is neither date, shop, dimension nor an input id (see `kpid kpis --inputs`)"
                ),
                _ => format!(
                    "`{name}` is not a column of the {} stream (expected {})",
                    stream.as_str(),
                    stream.expected()
                ),
            });
        }
        let text = normalize(header);
        if text.is_empty() {
            return err("is mapped to an empty header".into());
        }
        if let Some(other) = seen.insert(text, name) {
            return err(format!(
                "`{other}` and `{name}` are both mapped to the header `{header}`"
            ));
        }
    }
    Ok(())
}

/// Header texts compare trimmed and ASCII case-insensitively.
fn normalize(header: &str) -> String {
    header.trim().to_ascii_lowercase()
}

/// How a column's cells are read; lets a typed source (XLSX) render a cell
/// in the form the row parser expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Ids, shop, status, dimension: taken as text.
    Text,
    /// Amounts and daily input values: exact decimals.
    Number,
    /// `paid_at`, `refunded_at`: an instant, naive ones in the shop's zone.
    Instant,
    /// The daily `date`: a calendar day.
    Date,
}

fn kind_of(name: &str) -> ColumnKind {
    match name {
        "amount" => ColumnKind::Number,
        "paid_at" | "refunded_at" => ColumnKind::Instant,
        "date" => ColumnKind::Date,
        "order_id" | "refund_id" | "buyer_id" | "shop" | "status" | "dimension" => ColumnKind::Text,
        _ => ColumnKind::Number,
    }
}

/// Column positions of a file, checked against the stream's contract.
///
/// Without a `columns` mapping the header must use kpid's names and nothing
/// else (an unknown column fails the file). With one, the mapped headers
/// carry kpid's names, unmapped headers that are kpid names keep them, and
/// every other column is ignored: platform exports carry dozens. Empty
/// header cells are always ignored.
#[derive(Debug)]
pub struct Layout {
    stream: Stream,
    columns: HashMap<String, usize>,
    /// kpid's name of each header position; `None` for ignored columns.
    names: Vec<Option<String>>,
    shop: Option<usize>,
    inputs: Vec<(usize, String)>,
}

impl Layout {
    pub fn new(stream: Stream, header: &[String], map: &ColumnMap) -> Result<Self, HeaderError> {
        let header: Vec<String> = header.iter().map(|h| normalize(h)).collect();
        let mut names: Vec<Option<String>> = vec![None; header.len()];
        let mut columns = HashMap::new();
        for (name, text) in map {
            let want = normalize(text);
            let mut hits = header
                .iter()
                .enumerate()
                .filter(|(_, h)| **h == want)
                .map(|(i, _)| i);
            let i = hits
                .next()
                .ok_or_else(|| HeaderError::MappedHeaderMissing {
                    column: name.clone(),
                    header: text.clone(),
                })?;
            if hits.next().is_some() {
                return Err(HeaderError::MappedHeaderTwice {
                    column: name.clone(),
                    header: text.clone(),
                });
            }
            names[i] = Some(name.clone());
            columns.insert(name.clone(), i);
        }
        for (i, h) in header.iter().enumerate() {
            if names[i].is_some() || h.is_empty() {
                continue;
            }
            if stream.knows(h) {
                if columns.contains_key(h) {
                    if map.is_empty() {
                        return Err(HeaderError::ColumnTwice { column: shown(h) });
                    }
                    // A column of the same name as a mapped one: the mapping wins.
                    continue;
                }
                names[i] = Some(h.clone());
                columns.insert(h.clone(), i);
            } else if !map.is_empty() {
                continue;
            } else if header[..i].contains(h) {
                return Err(HeaderError::ColumnTwice { column: shown(h) });
            } else if stream == Stream::Daily {
                return Err(HeaderError::UnknownInput { column: shown(h) });
            } else {
                return Err(HeaderError::UnknownColumn {
                    column: shown(h),
                    stream,
                });
            }
        }
        let (required, _) = stream.contract();
        for r in required {
            if !columns.contains_key(*r) {
                return Err(HeaderError::MissingColumn { column: r });
            }
        }
        if stream == Stream::Orders && !columns.contains_key("buyer_id") {
            return Err(HeaderError::MissingColumn { column: "buyer_id" });
        }
        let (_, optional) = stream.contract();
        let inputs: Vec<(usize, String)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.as_ref()?;
                (stream == Stream::Daily
                    && !required.contains(&n.as_str())
                    && !optional.contains(&n.as_str()))
                .then(|| (i, n.clone()))
            })
            .collect();
        if stream == Stream::Daily && inputs.is_empty() {
            return Err(HeaderError::NoInputColumn);
        }
        Ok(Layout {
            stream,
            shop: columns.get("shop").copied(),
            columns,
            names,
            inputs,
        })
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    /// kpid's name and kind of the column at a position; `None` when ignored.
    pub fn column(&self, i: usize) -> Option<(&str, ColumnKind)> {
        let name = self.names.get(i)?.as_deref()?;
        Some((name, kind_of(name)))
    }
}

/// The cells of one row, as text.
pub trait Cells {
    fn cell(&self, i: usize) -> Option<&str>;
}

impl Cells for ::csv::StringRecord {
    fn cell(&self, i: usize) -> Option<&str> {
        self.get(i)
    }
}

impl Cells for [String] {
    fn cell(&self, i: usize) -> Option<&str> {
        self.get(i).map(String::as_str)
    }
}

/// Turns rows of cell texts into facts for the shops of the configuration.
#[derive(Debug, Clone)]
pub struct RowParser {
    default_shop: Option<String>,
    shops: HashMap<String, Tz>,
}

impl RowParser {
    pub fn new(cfg: &ConnectorConfig, settings: &Settings) -> Self {
        RowParser {
            default_shop: cfg.shop.clone(),
            shops: settings
                .shops
                .iter()
                .map(|s| (s.id.to_string(), s.tz))
                .collect(),
        }
    }

    fn shop_of<C: Cells + ?Sized>(
        &self,
        layout: &Layout,
        rec: &C,
    ) -> Result<(String, Tz), RowError> {
        let from_row = layout
            .shop
            .and_then(|i| rec.cell(i))
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let shop = from_row
            .map(str::to_string)
            .or_else(|| self.default_shop.clone())
            .ok_or(RowError::cell("shop", CellProblem::NoShop))?;
        let tz = *self
            .shops
            .get(&shop)
            .ok_or_else(|| RowError::cell("shop", CellProblem::UnknownShop(shown(&shop))))?;
        Ok((shop, tz))
    }

    /// Parses one row into `batch`, or says why it cannot be taken.
    pub fn parse<C: Cells + ?Sized>(
        &self,
        layout: &Layout,
        rec: &C,
        batch: &mut Batch,
    ) -> Result<(), RowError> {
        let (shop, tz) = self.shop_of(layout, rec)?;
        let cell = |name: &str| -> &str {
            layout
                .col(name)
                .and_then(|i| rec.cell(i))
                .map(str::trim)
                .unwrap_or("")
        };
        let required = |name: &str| -> Result<&str, RowError> {
            let v = cell(name);
            if v.is_empty() {
                Err(RowError::cell(name, CellProblem::Missing))
            } else {
                Ok(v)
            }
        };
        let id = |name: &str| -> Result<String, RowError> {
            let v = required(name)?;
            check_id(name, v)?;
            Ok(v.to_string())
        };
        let amount = |name: &str| -> Result<i64, RowError> {
            let micros = parse_micros(required(name)?).map_err(|e| RowError::cell(name, e))?;
            if micros < 0 {
                return Err(RowError::cell(name, CellProblem::Negative));
            }
            Ok(micros)
        };
        let instant = |name: &str| -> Result<DateTime<Utc>, RowError> {
            parse_instant(required(name)?, tz).map_err(|e| RowError::cell(name, e))
        };
        match layout.stream {
            Stream::Orders => {
                let order_id = id("order_id")?;
                let paid_at = instant("paid_at")?;
                let status_text = cell("status");
                let status = OrderStatus::parse(status_text).ok_or_else(|| {
                    RowError::cell("status", CellProblem::Status(shown(status_text)))
                })?;
                let amount_micros = amount("amount")?;
                let buyer = cell("buyer_id");
                check_id("buyer_id", buyer)?;
                batch.orders.push(Order {
                    shop: shop.into(),
                    order_id,
                    paid_at: Some(paid_at),
                    local_day: Some(local_day(paid_at, tz)),
                    amount: Money::from_micros(amount_micros),
                    buyer_id: (!buyer.is_empty()).then(|| buyer.to_string()),
                    status,
                });
            }
            Stream::Refunds => {
                let refund_id = id("refund_id")?;
                let order_id = id("order_id")?;
                let at = instant("refunded_at")?;
                let amount_micros = amount("amount")?;
                batch.refunds.push(Refund::done_at(
                    &shop,
                    tz,
                    refund_id,
                    order_id,
                    at,
                    amount_micros,
                ));
            }
            Stream::Daily => {
                let day_text = required("date")?;
                let day = LocalDay::parse_ymd(day_text)
                    .map_err(|_| RowError::cell("date", CellProblem::Date(shown(day_text))))?;
                let dimension = cell("dimension").to_string();
                let mut values = Vec::with_capacity(layout.inputs.len());
                for (i, input) in &layout.inputs {
                    let text = rec.cell(*i).map(str::trim).unwrap_or("");
                    let value_micros = if text.is_empty() {
                        None
                    } else {
                        Some(parse_micros(text).map_err(|e| RowError::cell(input, e))?)
                    };
                    values.push(DailyValue {
                        shop: shop.as_str().into(),
                        day,
                        input: input.clone(),
                        dimension: dimension.clone(),
                        value_micros,
                    });
                }
                batch.daily.extend(values);
            }
        }
        Ok(())
    }
}

/// RFC 3339 with an offset, or a local `YYYY-MM-DD HH:MM:SS` in the shop's zone.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, InstantError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| InstantError::Unreadable(shown(text)))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| InstantError::Gap {
            text: text.to_string(),
            tz,
        })
}

/// A text from the file as an error quotes it: its start, made printable.
fn shown(text: &str) -> String {
    echo(text).into_owned()
}

mod errors;
mod files;
mod keys;
pub use errors::{CellProblem, HeaderError, InstantError, RowError};
mod text;

pub(crate) use files::{import_files, FileSource};
pub use files::{FileImport, ImportError};
pub use text::{skip_lines, Decode, Tracked};

#[cfg(test)]
mod tests {
    use super::files::matching_files;
    use super::*;

    fn h(s: &str) -> Vec<String> {
        s.split(',').map(String::from).collect()
    }

    fn map(pairs: &[(&str, &str)]) -> ColumnMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn local_times_are_read_in_the_shop_zone() {
        let t = parse_instant("2026-11-01 00:30:00", chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-10-31T16:30:00+00:00");
        let t = parse_instant("2026-10-31T16:30:00Z", chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(
            local_day(t, chrono_tz::Asia::Shanghai).to_string(),
            "2026-11-01"
        );
        assert!(parse_instant("2026-03-08 02:30:00", chrono_tz::America::New_York).is_err());
        assert!(parse_instant("31/10/2026", chrono_tz::UTC).is_err());
    }

    #[test]
    fn headers_are_checked_against_the_contract() {
        let none = ColumnMap::new();
        assert!(Layout::new(
            Stream::Orders,
            &h("order_id,shop,paid_at,amount,buyer_id,status"),
            &none
        )
        .is_ok());
        assert!(Layout::new(
            Stream::Orders,
            &h("order_id,paid_at,amount,buyer_id"),
            &none
        )
        .is_ok());
        let e = Layout::new(Stream::Daily, &h("date,shop,pv,page_views"), &none)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`page_views`"), "{e}");
        let e = Layout::new(Stream::Orders, &h("order_id,paid_at,buyer_id"), &none)
            .err()
            .unwrap();
        assert_eq!(e, HeaderError::MissingColumn { column: "amount" });
        assert_eq!(e.to_string(), "the header has no `amount` column");
        let e = Layout::new(
            Stream::Orders,
            &h("order_id,paid_at,amount,buyer_id,extra"),
            &none,
        )
        .err()
        .unwrap();
        assert_eq!(
            e,
            HeaderError::UnknownColumn {
                column: "extra".into(),
                stream: Stream::Orders
            }
        );
        assert!(e.to_string().contains("`extra`"), "{e}");
        let e = Layout::new(Stream::Daily, &h("date,pv,pv"), &none)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn a_mapping_renames_headers_and_ignores_the_rest() {
        let m = map(&[
            ("order_id", "订单编号"),
            ("paid_at", "付款时间"),
            ("amount", "实付金额"),
            ("buyer_id", "买家会员名"),
        ]);
        let l = Layout::new(
            Stream::Orders,
            &h("买家会员名,订单编号, 付款时间 ,宝贝标题,实付金额,status,运费"),
            &m,
        )
        .unwrap();
        assert_eq!(l.col("buyer_id"), Some(0));
        assert_eq!(l.col("order_id"), Some(1));
        assert_eq!(l.col("paid_at"), Some(2));
        assert_eq!(l.col("amount"), Some(4));
        assert_eq!(l.col("status"), Some(5), "an unmapped kpid name keeps it");
        assert_eq!(l.column(3), None, "ignored");
        assert_eq!(l.column(4), Some(("amount", ColumnKind::Number)));
        assert_eq!(l.column(2), Some(("paid_at", ColumnKind::Instant)));

        let e = Layout::new(Stream::Orders, &h("订单编号,付款时间,金额,买家会员名"), &m)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`amount`") && e.contains("`实付金额`"), "{e}");

        let daily = map(&[("date", "统计日期"), ("pv", "浏览量"), ("uv", "访客数")]);
        let l = Layout::new(Stream::Daily, &h("统计日期,访客数,浏览量,跳失率,"), &daily).unwrap();
        assert_eq!(l.inputs, vec![(1, "uv".into()), (2, "pv".into())]);
        assert_eq!(l.column(0), Some(("date", ColumnKind::Date)));
    }

    #[test]
    fn patterns_match_like_globs_and_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        for f in [
            "a.csv",
            "sub/b.csv",
            "sub/deeper/c.csv",
            "sub/x.txt",
            "sub/deeper/.d.csv",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let names = |pattern: &str| -> Vec<String> {
            matching_files("t", &format!("{d}/{pattern}"))
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(&format!("{d}/")).unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names("**/*.csv"),
            [
                "a.csv",
                "sub/b.csv",
                "sub/deeper/.d.csv",
                "sub/deeper/c.csv"
            ]
        );
        assert_eq!(names("*.csv"), ["a.csv"]);
        assert_eq!(names("*/*.csv"), ["sub/b.csv"]);
        assert_eq!(names("sub/**/c.csv"), ["sub/deeper/c.csv"]);
        assert_eq!(names("sub/b.csv"), ["sub/b.csv"]);
        assert!(names("none/*.csv").is_empty());
        // The same paths, spelled the same way, as the glob crate finds.
        for pattern in [
            "**/*.csv",
            "*/*",
            "sub/*/*.csv",
            "./sub/*.csv",
            "sub/../a.csv",
        ] {
            let pattern = format!("{d}/{pattern}");
            let globbed: Vec<String> = glob::glob(&pattern)
                .unwrap()
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .map(|p| p.display().to_string())
                .collect();
            assert_eq!(matching_files("t", &pattern).unwrap(), globbed, "{pattern}");
        }
        #[cfg(unix)]
        {
            // A second path to the same folder: its files are kept once.
            std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("alias")).unwrap();
            assert_eq!(names("*/b.csv"), ["alias/b.csv"]);
        }
    }

    #[test]
    fn a_bad_glob_is_a_problem_at_path() {
        assert!(check_path("imports/**/*.csv").is_ok());
        let p = check_path("imports/[a.csv").unwrap_err();
        assert_eq!(p.key, "path");
        assert!(p.message.starts_with("bad glob `imports/[a.csv`: "), "{p}");
    }

    #[test]
    fn column_options_are_checked_at_load() {
        assert!(check_columns(Stream::Daily, &map(&[("pv", "浏览量")])).is_ok());
        let p = check_columns(Stream::Orders, &map(&[("pv", "浏览量")])).unwrap_err();
        assert_eq!(p.key, "columns.pv");
        assert!(
            p.message.contains("not a column of the orders stream"),
            "{p}"
        );
        let p =
            check_columns(Stream::Daily, &map(&[("pv", "浏览量"), ("uv", "浏览量")])).unwrap_err();
        assert!(p.message.contains("both mapped"), "{p}");
        assert!(check_columns(Stream::Daily, &map(&[("page_views", "x")])).is_err());
    }
}
