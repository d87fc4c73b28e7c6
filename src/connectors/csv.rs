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
//! `encoding` names the file's character set: Chinese platforms and Excel on
//! a Chinese Windows write GBK / GB18030, not UTF-8.

use super::options::KindOptions;
use super::options::{Building, OptionProblem, PollingSpec};
use super::tabular::{
    check_columns, check_path, skip_lines, ColumnMap, Decode, FileImport, FileSource, HeaderError,
    ImportError, Layout, RowParser, Tracked,
};
use super::{Connector, ConnectorError};
use encoding_rs::Encoding;
use serde::Deserialize;
use std::io::BufReader;

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
    /// The files' character set (`utf-8` when absent; `gb18030`, `gbk`, or
    /// any other WHATWG encoding label).
    #[serde(default)]
    pub encoding: Option<String>,
}

impl KindOptions for CsvOptions {
    const POLLING: PollingSpec = PollingSpec::NONE;
    const NEEDS_SHOP: bool = false;

    fn check(&self) -> Result<(), OptionProblem> {
        check_path(&self.path)?;
        check_columns(self.stream, &self.columns)?;
        self.text_encoding()?;
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        let encoding = self.text_encoding().map_err(with.option_error())?;
        Ok(Connector::Csv(CsvConnector {
            name: with.name(),
            options: self,
            encoding,
            parser: RowParser::new(with.cfg, with.settings),
        }))
    }
}

impl CsvOptions {
    /// The `encoding` option's character set.
    fn text_encoding(&self) -> Result<&'static Encoding, OptionProblem> {
        let Some(label) = &self.encoding else {
            return Ok(encoding_rs::UTF_8);
        };
        Encoding::for_label_no_replacement(label.trim().as_bytes()).ok_or_else(|| {
            OptionProblem::new(
                "encoding",
                format!(
                    "`{label}` is not a character set kpid knows (utf-8, gb18030, gbk, \
                     or another WHATWG encoding label such as big5 or shift_jis)"
                ),
            )
        })
    }
}

#[derive(Debug, Clone)]
pub struct CsvConnector {
    pub name: String,
    pub options: CsvOptions,
    encoding: &'static Encoding,
    parser: RowParser,
}

/// Why a CSV file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum CsvFileError {
    #[error("cannot be read: {0}")]
    Unreadable(std::io::Error),
    /// Bytes not valid in the file's character set: the message names the
    /// line or the character set, and the `encoding` option to set.
    #[error("{0}")]
    Encoding(std::io::Error),
    #[error("cannot read the header: {0}")]
    Header(::csv::Error),
    #[error(transparent)]
    Columns(#[from] HeaderError),
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// Why a row of a CSV file is kept aside before its cells are read.
#[derive(Debug, thiserror::Error)]
enum CsvRowError {
    #[error("unreadable row: {0}")]
    Unreadable(::csv::Error),
    #[error("expected {expected} fields, found {found}")]
    Fields { expected: usize, found: usize },
}

impl FileSource for CsvConnector {
    type Error = CsvFileError;

    fn name(&self) -> &str {
        &self.name
    }

    fn pattern(&self) -> &str {
        &self.options.path
    }

    /// Reads one file a buffer at a time into `file`.
    fn read(&self, path: &str, file: &mut FileImport) -> Result<(), CsvFileError> {
        let open = || std::fs::File::open(path).map_err(CsvFileError::Unreadable);
        // A file not valid in its character set fails whole before any row
        // lands (every row would be garbled): a first pass only decodes.
        let mut check = Decode::new(open()?, self.encoding);
        std::io::copy(&mut check, &mut std::io::sink()).map_err(text_error)?;

        let mut text = BufReader::with_capacity(64 * 1024, Decode::new(open()?, self.encoding));
        let skipped = self.options.skip_rows;
        skip_lines(&mut text, skipped).map_err(text_error)?;
        // Lines count from the top of the file, skipped title lines included.
        let body = Tracked::new(text, skipped as u64 + 1);
        let mut reader = ::csv::ReaderBuilder::new().flexible(true).from_reader(body);
        let header: Vec<String> = reader
            .headers()
            .map_err(CsvFileError::Header)?
            .iter()
            .map(String::from)
            .collect();
        let layout = Layout::new(self.options.stream, &header, &self.options.columns)?;
        let fields = header.len();
        let mut record = ::csv::StringRecord::new();
        loop {
            let position = reader.position().byte();
            reader.get_mut().release(position);
            let read = reader.read_record(&mut record);
            let at = match &read {
                Err(e) => e.position().map(|p| p.byte()),
                Ok(_) => record.position().map(|p| p.byte()),
            };
            let body = reader.get_mut();
            let start = body.record_start(at.unwrap_or(position));
            let line = body.line_at(start);
            match read {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) if matches!(e.kind(), ::csv::ErrorKind::Io(_)) => {
                    return Err(text_error(e.into()));
                }
                Err(e) => {
                    let raw = body.raw_line(start);
                    file.bad_row(line, &CsvRowError::Unreadable(e), raw)?;
                    continue;
                }
            }
            if record.len() != fields {
                // An unquoted `1,234.50` or cells past the header would
                // otherwise shift into the wrong columns or be dropped.
                let reason = CsvRowError::Fields {
                    expected: fields,
                    found: record.len(),
                };
                file.bad_row(line, &reason, body.raw_line(start))?;
                continue;
            }
            file.row(&self.parser, &layout, &record, line, || {
                body.raw_line(start)
            })?;
        }
        Ok(())
    }
}

/// A read or decoding error as the file's failure: a character-set problem
/// carries its own message (the line, the `encoding` option).
fn text_error(e: std::io::Error) -> CsvFileError {
    match e.kind() {
        std::io::ErrorKind::InvalidData => CsvFileError::Encoding(e),
        _ => CsvFileError::Unreadable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_say_the_file_cannot_be_read() {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "line 2 is not UTF-8");
        assert_eq!(text_error(e).to_string(), "line 2 is not UTF-8");
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = text_error(e);
        assert!(matches!(e, CsvFileError::Unreadable(_)), "{e:?}");
        assert!(e.to_string().starts_with("cannot be read: "), "{e}");
    }
}
