//! A text file read as a stream: decoded from its character set to UTF-8 a
//! buffer at a time, with the line numbers and raw text of the records a
//! CSV reader takes from it, in memory that does not grow with the file.

use encoding_rs::{Decoder, DecoderResult, Encoding};
use std::io::{self, BufRead, Read};

/// Raw bytes read from the file at a time.
const RAW_BUFFER: usize = 64 * 1024;

/// Decodes `inner` from its character set into UTF-8. A byte order mark,
/// when there is one, says the character set, and is dropped (Excel writes
/// one in UTF-8 files). Bytes not valid in the character set are an
/// [`io::ErrorKind::InvalidData`] error whose message names the line (for
/// UTF-8) or the character set, and what to set.
pub struct Decode<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    raw_at: usize,
    raw_end: usize,
    eof: bool,
    done: bool,
    out: Vec<u8>,
    out_at: usize,
    /// Newlines decoded so far, for the line of a decoding error.
    newlines: u64,
}

impl<R: Read> Decode<R> {
    pub fn new(inner: R, encoding: &'static Encoding) -> Self {
        Decode {
            inner,
            decoder: encoding.new_decoder(),
            raw: vec![0; RAW_BUFFER],
            raw_at: 0,
            raw_end: 0,
            eof: false,
            done: false,
            out: Vec::with_capacity(RAW_BUFFER * 2),
            out_at: 0,
            newlines: 0,
        }
    }

    /// Decodes the next piece into `out`; false at the end of the text.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            if self.done {
                return Ok(false);
            }
            if self.raw_at == self.raw_end && !self.eof {
                self.raw_end = loop {
                    match self.inner.read(&mut self.raw) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        read => break read?,
                    }
                };
                self.raw_at = 0;
                self.eof = self.raw_end == 0;
            }
            self.out.clear();
            self.out.resize(RAW_BUFFER * 2, 0);
            self.out_at = 0;
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.raw[self.raw_at..self.raw_end],
                &mut self.out,
                self.eof,
            );
            self.raw_at += read;
            self.out.truncate(written);
            let newlines = self.out.iter().filter(|b| **b == b'\n').count() as u64;
            self.newlines += newlines;
            match result {
                DecoderResult::Malformed(_, _) => return Err(self.malformed()),
                DecoderResult::InputEmpty if self.eof => self.done = true,
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
            if written > 0 {
                return Ok(true);
            }
        }
    }

    fn malformed(&self) -> io::Error {
        let encoding = self.decoder.encoding();
        let message = if encoding == encoding_rs::UTF_8 {
            format!(
                "line {} is not UTF-8; a GBK or GB18030 export (Taobao, Tmall, \
                 生意参谋, Excel on a Chinese Windows) needs `encoding = \"gb18030\"`",
                self.newlines + 1
            )
        } else {
            format!(
                "is not valid {} text; check the connector's `encoding`",
                encoding.name()
            )
        };
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_at == self.out.len() && !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

/// Reads past the first `n` lines (an export's title lines), however long.
pub fn skip_lines(input: &mut impl BufRead, n: usize) -> io::Result<()> {
    let mut left = n;
    while left > 0 {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                left -= 1;
            }
            None => {
                let len = buf.len();
                input.consume(len);
            }
        }
    }
    Ok(())
}

/// Keeps the text a CSV reader read from `inner` since the record it is at,
/// so a record's line number and raw first line can be told from the byte
/// offsets the reader reports. Offsets count from where this reader starts.
pub struct Tracked<R> {
    inner: R,
    kept: Vec<u8>,
    /// Offset of `kept[0]`.
    base: u64,
    /// Newlines are counted up to this offset...
    counted: u64,
    /// ...which is on this line.
    line: u64,
}

/// Text kept behind the reader's position before it is dropped at once
/// (dropping on every record would move the rest each time).
const KEEP_SLACK: u64 = 64 * 1024;

impl<R: Read> Tracked<R> {
    /// `first_line` is the line number of the first byte read.
    pub fn new(inner: R, first_line: u64) -> Self {
        Tracked {
            inner,
            kept: Vec::new(),
            base: 0,
            counted: 0,
            line: first_line,
        }
    }

    /// The text before `offset` is no longer asked about.
    pub fn release(&mut self, offset: u64) {
        self.line_at(offset);
        let drop = offset.min(self.counted).saturating_sub(self.base);
        if drop > KEEP_SLACK {
            self.kept.drain(..drop as usize);
            self.base += drop;
        }
    }

    /// Where a record's text begins. The reader reports the end of the line
    /// before it: after a CRLF line end that is the `\n` of the previous line,
    /// and blank lines between records are skipped like line ends.
    pub fn record_start(&self, offset: u64) -> u64 {
        let rest = self.kept_from(offset);
        offset
            + rest
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count() as u64
    }

    /// The line of an offset; asked in increasing order of offsets.
    pub fn line_at(&mut self, offset: u64) -> u64 {
        let end = offset.min(self.base + self.kept.len() as u64);
        if end > self.counted {
            let from = (self.counted - self.base) as usize;
            let to = (end - self.base) as usize;
            self.line += self.kept[from..to].iter().filter(|b| **b == b'\n').count() as u64;
            self.counted = end;
        }
        self.line
    }

    /// The first line of the text from `offset`, without its line end.
    pub fn raw_line(&self, offset: u64) -> String {
        let rest = self.kept_from(offset);
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end])
            .trim_end_matches('\r')
            .to_string()
    }

    fn kept_from(&self, offset: u64) -> &[u8] {
        let at = offset.saturating_sub(self.base) as usize;
        self.kept.get(at..).unwrap_or_default()
    }
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.kept.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads through a reader that hands out at most `piece` bytes a call,
    /// as a file read ends anywhere, mid-character included.
    struct Pieces<'a>(&'a [u8], usize);

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.1).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn decode(bytes: &[u8], encoding: &'static Encoding, piece: usize) -> io::Result<String> {
        let mut text = String::new();
        Decode::new(Pieces(bytes, piece), encoding).read_to_string(&mut text)?;
        Ok(text)
    }

    #[test]
    fn text_is_decoded_in_its_character_set_across_reads() {
        let gbk = b"\xd5\xc5\xc8\xfd,1\n";
        for piece in [1, 2, 3, 1000] {
            assert_eq!(
                decode(gbk, encoding_rs::GB18030, piece).unwrap(),
                "张三,1\n"
            );
            assert_eq!(
                decode("张三,1\n".as_bytes(), encoding_rs::UTF_8, piece).unwrap(),
                "张三,1\n"
            );
            assert_eq!(
                decode(b"\xEF\xBB\xBFa,b", encoding_rs::UTF_8, piece).unwrap(),
                "a,b"
            );
        }
        let e = decode(b"ok\n\xd5\xc5\n", encoding_rs::UTF_8, 2).unwrap_err();
        assert!(e.to_string().starts_with("line 2 is not UTF-8"), "{e}");
        // A lone lead byte is not GB18030.
        let e = decode(b"a,\x81", encoding_rs::GB18030, 1000).unwrap_err();
        assert!(e.to_string().contains("gb18030"), "{e}");
    }

    #[test]
    fn title_lines_are_skipped() {
        let skip = |text: &[u8], n| {
            let mut input = io::BufReader::with_capacity(2, text);
            skip_lines(&mut input, n).unwrap();
            let mut rest = Vec::new();
            input.read_to_end(&mut rest).unwrap();
            rest
        };
        assert_eq!(skip(b"title\n\nh1,h2\nx,y\n", 2), b"h1,h2\nx,y\n");
        assert_eq!(skip(b"h1,h2\n", 0), b"h1,h2\n");
        assert_eq!(skip(b"only a title", 3), b"");
    }

    #[test]
    fn lines_count_from_the_first_line_and_skip_line_ends() {
        let body = b"h1,h2\r\nx,y\r\n\r\nz,w\r\n";
        let mut t = Tracked::new(&body[..], 3);
        io::copy(&mut t.by_ref(), &mut io::sink()).unwrap();
        // The reader's position of the second record is the `\n` before it.
        assert_eq!(t.record_start(6), 7);
        // A blank line between records is skipped like a line end.
        assert_eq!(t.record_start(11), 14);
        assert_eq!(t.line_at(0), 3);
        assert_eq!(t.line_at(7), 4);
        assert_eq!(t.line_at(14), 6);
        assert_eq!(t.raw_line(14), "z,w");
    }
}
