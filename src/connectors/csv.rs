//! The CSV connector: exported files dropped in a folder.
//!
//! Files are read in lexical order of their paths; a file already imported
//! with the same content is skipped; rows replace earlier rows with the same
//! id (the later file wins); a bad row is kept aside with its line and reason
//! while the good rows land.
//!
//! `columns` maps kpid's column names to the export's headers (see
//! [`Layout`]); `skip_rows` lines above the header (title lines) are ignored,
//! and line numbers in rejects still count from the top of the file.

use super::options::config_error;
use super::tabular::{self, check_columns, ColumnMap, FileImport, FileSource, Layout, RowParser};
use super::{typed_options, ConnectorError, Sink, Window};
use crate::config::{ConnectorConfig, Settings};
use serde::Deserialize;

pub use super::tabular::{parse_instant, Stream};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    pub stream: Stream,
    /// A glob such as `imports/orders/*.csv`.
    pub path: String,
    /// kpid's column name → the header text in the export.
    #[serde(default)]
    pub columns: ColumnMap,
    /// Lines above the header (an export's title lines).
    #[serde(default)]
    pub skip_rows: usize,
}

impl CsvOptions {
    pub fn from_config(cfg: &ConnectorConfig) -> Result<Self, (String, String)> {
        let o: CsvOptions = typed_options(cfg)?;
        glob::Pattern::new(&o.path)
            .map_err(|e| ("path".to_string(), format!("bad glob `{}`: {e}", o.path)))?;
        check_columns(o.stream, &o.columns)?;
        Ok(o)
    }
}

#[derive(Debug, Clone)]
pub struct CsvConnector {
    pub name: String,
    pub options: CsvOptions,
    parser: RowParser,
}

impl CsvConnector {
    pub fn build(cfg: &ConnectorConfig, settings: &Settings) -> Result<Self, ConnectorError> {
        let options = CsvOptions::from_config(cfg).map_err(config_error(cfg))?;
        Ok(CsvConnector {
            name: cfg.name.clone(),
            options,
            parser: RowParser::new(cfg, settings),
        })
    }

    /// Imports every matching file not yet imported. The window does not
    /// apply: a file is imported whole or not at all.
    pub async fn run(&self, _window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        tabular::import_files(self, &self.options.path, sink).await
    }
}

impl FileSource for CsvConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn import_file(
        &self,
        path: &str,
        sha: &str,
        bytes: Vec<u8>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ConnectorError> {
        // Excel writes a UTF-8 byte order mark; it is not part of the first column name.
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let skipped = self.options.skip_rows;
        let body = skip_lines(body, skipped);
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
            .map(String::from)
            .collect();
        let layout =
            Layout::new(self.options.stream, &header, &self.options.columns).map_err(file_err)?;
        let mut file = FileImport::new(&self.name, path);
        let mut record = ::csv::StringRecord::new();
        // Lines count from the top of the file, skipped title lines included.
        let line_no = |line: u64| line + skipped as u64;
        loop {
            let position = reader.position().clone();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(position.line());
                    file.reject(
                        format!("line {}", line_no(line)),
                        format!("unreadable row: {e}"),
                        raw_line(body, position.byte() as usize),
                    );
                    continue;
                }
            }
            let at = record.position().cloned().unwrap_or(position);
            file.row(
                &self.parser,
                &layout,
                &record,
                || format!("line {}", line_no(at.line())),
                || raw_line(body, at.byte() as usize),
            );
            file.commit_if_full(sink).await?;
        }
        file.finish(sha, sink).await
    }
}

/// The text after the first `n` lines.
fn skip_lines(body: &[u8], n: usize) -> &[u8] {
    let mut rest = body;
    for _ in 0..n {
        match rest.iter().position(|b| *b == b'\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return &[],
        }
    }
    rest
}

fn raw_line(body: &[u8], start: usize) -> String {
    let rest = body.get(start..).unwrap_or_default();
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .trim_end_matches('\r')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_lines_are_skipped() {
        assert_eq!(skip_lines(b"title\n\nh1,h2\nx,y\n", 2), b"h1,h2\nx,y\n");
        assert_eq!(skip_lines(b"h1,h2\n", 0), b"h1,h2\n");
        assert_eq!(skip_lines(b"only a title", 3), b"");
    }
}
