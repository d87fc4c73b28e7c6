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
use super::options::{config_error, OptionProblem, PollingSpec, Read};
use super::tabular::{self, check_columns, ColumnMap, FileImport, FileSource, Layout, RowParser};
use super::{Connector, ConnectorError, Sink, Window};
use crate::config::ConnectorConfig;
use crate::settings::Settings;
use encoding_rs::Encoding;
use serde::Deserialize;
use std::borrow::Cow;

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

    fn check(read: &Read<Self>) -> Result<(), OptionProblem> {
        let o = &read.own;
        glob::Pattern::new(&o.path)
            .map_err(|e| ("path".to_string(), format!("bad glob `{}`: {e}", o.path)))?;
        check_columns(o.stream, &o.columns)?;
        o.text_encoding()?;
        Ok(())
    }

    fn build(
        cfg: &ConnectorConfig,
        read: Read<Self>,
        settings: &Settings,
    ) -> Result<Connector, ConnectorError> {
        CsvConnector::build(cfg, read.own, settings).map(Connector::Csv)
    }
}

impl CsvOptions {
    /// The `encoding` option's character set.
    fn text_encoding(&self) -> Result<&'static Encoding, (String, String)> {
        let Some(label) = &self.encoding else {
            return Ok(encoding_rs::UTF_8);
        };
        Encoding::for_label_no_replacement(label.trim().as_bytes()).ok_or_else(|| {
            (
                "encoding".to_string(),
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

impl CsvConnector {
    fn build(
        cfg: &ConnectorConfig,
        options: CsvOptions,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let encoding = options.text_encoding().map_err(config_error(cfg))?;
        Ok(CsvConnector {
            name: cfg.name.clone(),
            options,
            encoding,
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
        let file_err = |message: String| ConnectorError::File {
            connector: self.name.clone(),
            path: path.to_string(),
            message,
        };
        let text = decode(&bytes, self.encoding).map_err(file_err)?;
        let skipped = self.options.skip_rows;
        let body = skip_lines(text.as_bytes(), skipped);
        let mut reader = ::csv::ReaderBuilder::new().flexible(true).from_reader(body);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| file_err(format!("cannot read the header: {e}")))?
            .iter()
            .map(String::from)
            .collect();
        let layout =
            Layout::new(self.options.stream, &header, &self.options.columns).map_err(file_err)?;
        let fields = header.len();
        let mut file = FileImport::new(&self.name, path);
        let mut record = ::csv::StringRecord::new();
        // Lines count from the top of the file, skipped title lines included.
        let mut lines = Lines::new(body, skipped as u64 + 1);
        loop {
            let position = reader.position().clone();
            let read = reader.read_record(&mut record);
            let at = match &read {
                Err(e) => e.position().unwrap_or(&position),
                Ok(_) => record.position().unwrap_or(&position),
            };
            let start = record_start(body, at.byte() as usize);
            match read {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    file.bad_row(
                        format!("line {}", lines.line_at(start)),
                        format!("unreadable row: {e}"),
                        raw_line(body, start),
                    );
                    continue;
                }
            }
            if record.len() != fields {
                // An unquoted `1,234.50` or cells past the header would
                // otherwise shift into the wrong columns or be dropped.
                file.bad_row(
                    format!("line {}", lines.line_at(start)),
                    format!("expected {fields} fields, found {}", record.len()),
                    raw_line(body, start),
                );
                continue;
            }
            file.row(
                &self.parser,
                &layout,
                &record,
                || format!("line {}", lines.line_at(start)),
                || raw_line(body, start),
            );
            file.commit_if_full(sink).await?;
        }
        file.finish(sha, sink).await
    }
}

/// The file's text in the configured character set. UTF-8 drops the byte
/// order mark Excel writes; a file that is not valid in its character set
/// fails whole (every row would be garbled), naming the `encoding` option.
fn decode<'a>(bytes: &'a [u8], encoding: &'static Encoding) -> Result<Cow<'a, str>, String> {
    if encoding == encoding_rs::UTF_8 {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        return std::str::from_utf8(body).map(Cow::Borrowed).map_err(|e| {
            let line = 1 + body[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            format!(
                "line {line} is not UTF-8; a GBK or GB18030 export (Taobao, Tmall, \
                 生意参谋, Excel on a Chinese Windows) needs `encoding = \"gb18030\"`"
            )
        });
    }
    // A byte order mark, when there is one, says the character set.
    let (text, used, had_errors) = encoding.decode(bytes);
    if had_errors {
        return Err(format!(
            "is not valid {} text; check the connector's `encoding`",
            used.name()
        ));
    }
    Ok(text)
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

/// Where a record's text begins. The reader reports the end of the line
/// before it: after a CRLF line end that is the `\n` of the previous line.
fn record_start(body: &[u8], byte: usize) -> usize {
    let rest = body.get(byte..).unwrap_or_default();
    byte + rest
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count()
}

/// Line numbers of byte offsets, asked for in increasing order (each row's
/// newlines are counted once, however long the file).
struct Lines<'a> {
    body: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(body: &'a [u8], first_line: u64) -> Self {
        Lines {
            body,
            offset: 0,
            line: first_line,
        }
    }

    fn line_at(&mut self, byte: usize) -> u64 {
        let byte = byte.min(self.body.len());
        if byte > self.offset {
            let newlines = self.body[self.offset..byte]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.line += newlines as u64;
            self.offset = byte;
        }
        self.line
    }
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

    #[test]
    fn lines_count_from_the_first_line_and_skip_line_ends() {
        let body = b"h1,h2\r\nx,y\r\n\r\nz,w\r\n";
        // The reader's position of the second record is the `\n` before it.
        assert_eq!(record_start(body, 6), 7);
        // A blank line between records is skipped like a line end.
        assert_eq!(record_start(body, 11), 14);
        let mut lines = Lines::new(body, 3);
        assert_eq!(lines.line_at(0), 3);
        assert_eq!(lines.line_at(7), 4);
        assert_eq!(lines.line_at(14), 6);
        assert_eq!(raw_line(body, 14), "z,w");
    }

    #[test]
    fn text_is_decoded_in_its_character_set() {
        let gbk = b"\xd5\xc5\xc8\xfd,1\n";
        assert_eq!(decode(gbk, encoding_rs::GB18030).unwrap(), "张三,1\n");
        let e = decode(b"ok\n\xd5\xc5\n", encoding_rs::UTF_8).unwrap_err();
        assert!(e.starts_with("line 2 is not UTF-8"), "{e}");
        assert_eq!(
            decode(b"\xEF\xBB\xBFa,b", encoding_rs::UTF_8).unwrap(),
            "a,b"
        );
        // A lone lead byte is not GB18030.
        assert!(decode(b"a,\x81", encoding_rs::GB18030).is_err());
    }
}
