//! The CSV connector: exported files dropped in a folder.
//!
//! Files are read in lexical order of their paths; a file already imported
//! with the same content is skipped; rows replace earlier rows with the same
//! id (the later file wins); a bad row is kept aside with its line and reason
//! while the good rows land.

use super::{typed_options, ConnectorError, Sink, Window};
use crate::config::{ConnectorConfig, Settings};
use crate::facts::{Batch, DailyValue, FileMark, Order, OrderStatus, Refund, Reject};
use crate::kpi::catalogue::input_def;
use crate::money::parse_micros;
use crate::period::local_day;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Rows committed per transaction inside a large file.
const ROWS_PER_COMMIT: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Orders,
    Refunds,
    Daily,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    pub stream: Stream,
    /// A glob such as `imports/orders/*.csv`.
    pub path: String,
}

impl CsvOptions {
    pub fn from_config(cfg: &ConnectorConfig) -> Result<Self, (String, String)> {
        let o: CsvOptions = typed_options(cfg)?;
        glob::Pattern::new(&o.path)
            .map_err(|e| ("path".to_string(), format!("bad glob `{}`: {e}", o.path)))?;
        Ok(o)
    }
}

#[derive(Debug, Clone)]
pub struct CsvConnector {
    pub name: String,
    pub options: CsvOptions,
    default_shop: Option<String>,
    shops: HashMap<String, Tz>,
}

impl CsvConnector {
    pub fn build(cfg: &ConnectorConfig, settings: &Settings) -> Result<Self, ConnectorError> {
        let options = CsvOptions::from_config(cfg).map_err(|(k, m)| ConnectorError::Config {
            connector: cfg.name.clone(),
            message: format!("{k}: {m}"),
        })?;
        Ok(CsvConnector {
            name: cfg.name.clone(),
            options,
            default_shop: cfg.shop.clone(),
            shops: settings
                .shops
                .iter()
                .map(|s| (s.id.clone(), s.tz))
                .collect(),
        })
    }

    /// Imports every matching file not yet imported. The window does not
    /// apply: a file is imported whole or not at all.
    pub async fn run(&self, _window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let mut paths: Vec<String> = glob::glob(&self.options.path)
            .map_err(|e| self.config_err(format!("bad glob `{}`: {e}", self.options.path)))?
            .filter_map(|p| p.ok())
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        paths.sort();
        if paths.is_empty() {
            tracing::info!(connector = %self.name, pattern = %self.options.path, "no files match");
        }
        let mut failures = Vec::new();
        for path in paths {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|source| ConnectorError::Io {
                    connector: self.name.clone(),
                    path: path.clone(),
                    source,
                })?;
            let sha = hex(&Sha256::digest(&bytes));
            if sink.already_imported(&path, &sha).await? {
                sink.stats.files_skipped += 1;
                tracing::debug!(connector = %self.name, %path, "unchanged since last import, skipped");
                continue;
            }
            match self.import_file(&path, &sha, &bytes, sink).await {
                Ok(()) => {}
                Err(e @ ConnectorError::File { .. }) => {
                    tracing::error!(error = %e, "file not imported");
                    failures.push(e);
                }
                Err(e) => return Err(e),
            }
        }
        match failures.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(()),
        }
    }

    fn config_err(&self, message: String) -> ConnectorError {
        ConnectorError::Config {
            connector: self.name.clone(),
            message,
        }
    }

    async fn import_file(
        &self,
        path: &str,
        sha: &str,
        bytes: &[u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), ConnectorError> {
        // Excel writes a UTF-8 byte order mark; it is not part of the first column name.
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let file_err = |message: String| ConnectorError::File {
            connector: self.name.clone(),
            path: path.to_string(),
            message,
        };
        let mut reader = ::csv::ReaderBuilder::new().flexible(true).from_reader(body);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| file_err(format!("cannot read the header: {e}")))?
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let layout = Layout::new(self.options.stream, &header).map_err(file_err)?;
        let mut batch = Batch::default();
        let mut rows = 0i64;
        let mut record = ::csv::StringRecord::new();
        loop {
            let position = reader.position().clone();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(position.line());
                    batch.rejects.push(Reject {
                        source: path.to_string(),
                        locator: format!("line {line}"),
                        reason: format!("unreadable row: {e}"),
                        raw: raw_line(body, position.byte() as usize),
                    });
                    continue;
                }
            }
            rows += 1;
            let line = record
                .position()
                .map(|p| p.line())
                .unwrap_or(position.line());
            if let Err(reason) = self.parse_row(&layout, &record, &mut batch) {
                batch.rejects.push(Reject {
                    source: path.to_string(),
                    locator: format!("line {line}"),
                    reason,
                    raw: raw_line(
                        body,
                        record.position().map(|p| p.byte() as usize).unwrap_or(0),
                    ),
                });
            }
            if batch.records() >= ROWS_PER_COMMIT {
                sink.commit(std::mem::take(&mut batch)).await?;
            }
        }
        batch.file = Some(FileMark {
            path: path.to_string(),
            sha256: sha.to_string(),
            rows,
        });
        sink.commit(batch).await?;
        tracing::info!(connector = %self.name, %path, rows, "file imported");
        Ok(())
    }

    fn shop_of(&self, layout: &Layout, rec: &::csv::StringRecord) -> Result<(String, Tz), String> {
        let from_row = layout
            .shop
            .and_then(|i| rec.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let shop = from_row
            .map(str::to_string)
            .or_else(|| self.default_shop.clone())
            .ok_or("shop: empty, and the connector names no `shop`")?;
        let tz = *self
            .shops
            .get(&shop)
            .ok_or_else(|| format!("shop: unknown shop `{shop}`"))?;
        Ok((shop, tz))
    }

    fn parse_row(
        &self,
        layout: &Layout,
        rec: &::csv::StringRecord,
        batch: &mut Batch,
    ) -> Result<(), String> {
        let (shop, tz) = self.shop_of(layout, rec)?;
        let cell = |name: &str| -> &str {
            layout
                .col(name)
                .and_then(|i| rec.get(i))
                .map(str::trim)
                .unwrap_or("")
        };
        let required = |name: &str| -> Result<&str, String> {
            let v = cell(name);
            if v.is_empty() {
                Err(format!("{name}: missing"))
            } else {
                Ok(v)
            }
        };
        let amount = |name: &str| -> Result<i64, String> {
            let micros = parse_micros(required(name)?).map_err(|e| format!("{name}: {e}"))?;
            if micros < 0 {
                return Err(format!("{name}: must not be negative"));
            }
            Ok(micros)
        };
        match layout.stream {
            Stream::Orders => {
                let order_id = required("order_id")?.to_string();
                let paid_at =
                    parse_instant(required("paid_at")?, tz).map_err(|e| format!("paid_at: {e}"))?;
                let status_text = cell("status");
                let status = OrderStatus::parse(status_text).ok_or_else(|| {
                    format!("status: `{status_text}` is not paid, cancelled, closed or unpaid")
                })?;
                let amount_micros = amount("amount")?;
                let buyer = cell("buyer_id");
                batch.orders.push(Order {
                    shop,
                    order_id,
                    paid_at: Some(paid_at),
                    local_day: Some(local_day(paid_at, tz)),
                    amount_micros,
                    buyer_id: (!buyer.is_empty()).then(|| buyer.to_string()),
                    status,
                });
            }
            Stream::Refunds => {
                let refund_id = required("refund_id")?.to_string();
                let order_id = required("order_id")?.to_string();
                let at = parse_instant(required("refunded_at")?, tz)
                    .map_err(|e| format!("refunded_at: {e}"))?;
                let amount_micros = amount("amount")?;
                batch.refunds.push(Refund {
                    shop,
                    refund_id,
                    order_id,
                    refunded_at: at,
                    local_day: local_day(at, tz),
                    amount_micros,
                });
            }
            Stream::Daily => {
                let day_text = required("date")?;
                let day = NaiveDate::parse_from_str(day_text, "%Y-%m-%d")
                    .map_err(|_| format!("date: `{day_text}` is not YYYY-MM-DD"))?;
                let dimension = cell("dimension").to_string();
                let mut values = Vec::with_capacity(layout.inputs.len());
                for (i, input) in &layout.inputs {
                    let text = rec.get(*i).map(str::trim).unwrap_or("");
                    let value_micros = if text.is_empty() {
                        None
                    } else {
                        Some(parse_micros(text).map_err(|e| format!("{input}: {e}"))?)
                    };
                    values.push(DailyValue {
                        shop: shop.clone(),
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

/// Column positions of a file, checked against the stream's contract.
struct Layout {
    stream: Stream,
    columns: HashMap<String, usize>,
    shop: Option<usize>,
    inputs: Vec<(usize, String)>,
}

impl Layout {
    fn new(stream: Stream, header: &[String]) -> Result<Self, String> {
        let (required, optional): (&[&str], &[&str]) = match stream {
            Stream::Orders => (
                &["order_id", "paid_at", "amount"],
                &["shop", "status", "buyer_id"],
            ),
            Stream::Refunds => (
                &["refund_id", "order_id", "refunded_at", "amount"],
                &["shop"],
            ),
            Stream::Daily => (&["date"], &["shop", "dimension"]),
        };
        let mut columns = HashMap::new();
        let mut inputs = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if columns.insert(h.clone(), i).is_some() {
                return Err(format!("column `{h}` appears twice in the header"));
            }
            let known = required.contains(&h.as_str()) || optional.contains(&h.as_str());
            if known {
                continue;
            }
            if stream == Stream::Daily && input_def(h).is_some() {
                inputs.push((i, h.clone()));
            } else if stream == Stream::Daily {
                return Err(format!(
                    "unknown column `{h}` (not an input id; see the inputs in `kpid kpis --inputs`)"
                ));
            } else {
                return Err(format!(
                    "unknown column `{h}` (expected {})",
                    required
                        .iter()
                        .chain(optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
        }
        for r in required {
            if !columns.contains_key(*r) {
                return Err(format!("the header has no `{r}` column"));
            }
        }
        if stream == Stream::Orders && !columns.contains_key("buyer_id") {
            return Err("the header has no `buyer_id` column".into());
        }
        if stream == Stream::Daily && inputs.is_empty() {
            return Err("the header names no input column (pv, uv, ad_spend, …)".into());
        }
        Ok(Layout {
            stream,
            shop: columns.get("shop").copied(),
            columns,
            inputs,
        })
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }
}

/// RFC 3339 with an offset, or a local `YYYY-MM-DD HH:MM:SS` in the shop's zone.
pub fn parse_instant(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| format!("`{text}` is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS"))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("`{text}` does not exist in {tz} (a daylight-saving gap)"))
}

fn raw_line(body: &[u8], start: usize) -> String {
    let rest = body.get(start..).unwrap_or_default();
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .trim_end_matches('\r')
        .to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let h = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert!(Layout::new(
            Stream::Orders,
            &h("order_id,shop,paid_at,amount,buyer_id,status")
        )
        .is_ok());
        assert!(Layout::new(Stream::Orders, &h("order_id,paid_at,amount,buyer_id")).is_ok());
        let e = Layout::new(Stream::Daily, &h("date,shop,pv,page_views"))
            .err()
            .unwrap();
        assert!(e.contains("`page_views`"), "{e}");
        let e = Layout::new(Stream::Orders, &h("order_id,paid_at,buyer_id"))
            .err()
            .unwrap();
        assert!(e.contains("`amount`"), "{e}");
    }
}
