//! The row keys of one file, to count rows whose key an earlier row of the
//! same file had and to say where the first of them is, in memory that does
//! not grow with the file.
//!
//! Each key is kept as two independent 64-bit SipHashes (a false "seen
//! before" needs both to collide: about 1 in 10^26 for a million-row file)
//! with its row's line and an offset into a log of the key texts (for the
//! warning). Up to [`IN_MEMORY`] keys stay in memory; past that they are
//! spilled to anonymous temporary files, spread over [`PARTS`] files by hash,
//! so that equal keys share a file. At the end each part is read back alone,
//! sorted and scanned: a key seen `n` times is `n - 1` duplicates, and the
//! first duplicate of the file is the earliest second sighting of any key.

use std::fs::File;
use std::hash::{BuildHasher, Hash, RandomState};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Keys held in memory before the log spills to disk (32 bytes each, plus
/// the key's text).
const IN_MEMORY: usize = 64 * 1024;

/// Spill files; a part read back at the end holds about 1/PARTS of the keys.
const PARTS: usize = 64;

/// One row's key: its hash, its line (rows come in increasing lines), and
/// where its text starts in the text log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    hash: u128,
    line: u64,
    text: u64,
}

impl Entry {
    const SIZE: usize = 32;

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.hash.to_le_bytes())?;
        out.write_all(&self.line.to_le_bytes())?;
        out.write_all(&self.text.to_le_bytes())
    }

    fn read(bytes: &[u8; Self::SIZE]) -> Entry {
        let word = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Entry {
            hash: u128::from_le_bytes(bytes[..16].try_into().expect("16 bytes")),
            line: word(16),
            text: word(24),
        }
    }
}

/// The first row whose key an earlier row had: its line and the key's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstDuplicate {
    pub line: u64,
    pub key: String,
}

/// What the key log found once the file is read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Duplicates {
    pub count: u64,
    pub first: Option<FirstDuplicate>,
}

/// Row keys of one file, in bounded memory.
#[derive(Default)]
pub struct KeyLog {
    seeds: (RandomState, RandomState),
    entries: Vec<Entry>,
    /// Key texts not yet spilled, each a little-endian u32 length and bytes.
    texts: Vec<u8>,
    /// Bytes of texts already written to the spill's text file.
    texts_spilled: u64,
    spill: Option<Spill>,
}

struct Spill {
    parts: Vec<BufWriter<File>>,
    texts: BufWriter<File>,
}

impl KeyLog {
    /// Logs the key of the row at `line`; `text` renders it, for the warning.
    pub fn add(
        &mut self,
        key: impl Hash,
        line: u64,
        text: impl std::fmt::Display,
    ) -> io::Result<()> {
        let (a, b) = &self.seeds;
        let hash = (u128::from(a.hash_one(&key)) << 64) | u128::from(b.hash_one(&key));
        let offset = self.texts_spilled + self.texts.len() as u64;
        let start = self.texts.len();
        self.texts.extend_from_slice(&[0; 4]);
        write!(&mut self.texts, "{text}")?;
        let len = (self.texts.len() - start - 4) as u32;
        self.texts[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.entries.push(Entry {
            hash,
            line,
            text: offset,
        });
        if self.entries.len() >= IN_MEMORY {
            self.spill_entries()?;
        }
        Ok(())
    }

    /// Moves the entries and texts in memory to the spill files.
    fn spill_entries(&mut self) -> io::Result<()> {
        if self.spill.is_none() {
            let mut parts = Vec::with_capacity(PARTS);
            for _ in 0..PARTS {
                parts.push(BufWriter::with_capacity(8 * 1024, tempfile::tempfile()?));
            }
            self.spill = Some(Spill {
                parts,
                texts: BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?),
            });
        }
        let spill = self.spill.as_mut().expect("created above");
        for e in self.entries.drain(..) {
            e.write(&mut spill.parts[part_of(e.hash)])?;
        }
        spill.texts.write_all(&self.texts)?;
        self.texts_spilled += self.texts.len() as u64;
        self.texts.clear();
        Ok(())
    }

    /// Counts the rows whose key an earlier row had, and finds the first.
    pub fn finish(mut self) -> io::Result<Duplicates> {
        let mut found = Duplicates::default();
        if self.spill.is_none() {
            let best = scan(&mut self.entries, &mut found.count);
            found.first = best.map(|e| self.text_in_memory(e));
            return Ok(found);
        }
        // The tail joins the parts, so each part holds every sighting of its keys.
        self.spill_entries()?;
        let spill = self.spill.take().expect("checked above");
        let mut best: Option<Entry> = None;
        for part in spill.parts {
            let mut file = part.into_inner().map_err(|e| e.into_error())?;
            file.seek(SeekFrom::Start(0))?;
            let mut entries = Vec::new();
            let mut reader = BufReader::new(file);
            let mut bytes = [0u8; Entry::SIZE];
            loop {
                match reader.read_exact(&mut bytes) {
                    Ok(()) => entries.push(Entry::read(&bytes)),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            best = earlier(best, scan(&mut entries, &mut found.count));
        }
        if let Some(e) = best {
            let mut texts = spill.texts.into_inner().map_err(|e| e.into_error())?;
            texts.seek(SeekFrom::Start(e.text))?;
            let mut len = [0u8; 4];
            texts.read_exact(&mut len)?;
            let mut key = vec![0; u32::from_le_bytes(len) as usize];
            texts.read_exact(&mut key)?;
            found.first = Some(FirstDuplicate {
                line: e.line,
                key: String::from_utf8_lossy(&key).into_owned(),
            });
        }
        Ok(found)
    }

    fn text_in_memory(&self, e: Entry) -> FirstDuplicate {
        let at = (e.text - self.texts_spilled) as usize;
        let len = u32::from_le_bytes(self.texts[at..at + 4].try_into().expect("4 bytes"));
        let key = &self.texts[at + 4..at + 4 + len as usize];
        FirstDuplicate {
            line: e.line,
            key: String::from_utf8_lossy(key).into_owned(),
        }
    }
}

/// Equal keys go to the same part.
fn part_of(hash: u128) -> usize {
    (hash >> 122) as usize % PARTS
}

/// The earlier (by line) of two candidates.
fn earlier(a: Option<Entry>, b: Option<Entry>) -> Option<Entry> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.line < a.line { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Sorts entries by key, adds each key's repeats to `count`, and returns
/// the earliest second sighting of a key.
fn scan(entries: &mut [Entry], count: &mut u64) -> Option<Entry> {
    entries.sort_unstable();
    let mut best = None;
    for group in entries.chunk_by(|a, b| a.hash == b.hash) {
        if let [_, second, ..] = group {
            *count += group.len() as u64 - 1;
            best = earlier(best, Some(*second));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(keys: &[u32]) -> Duplicates {
        let mut log = KeyLog::default();
        for (i, k) in keys.iter().enumerate() {
            log.add(k, i as u64 + 2, format!("key {k}")).unwrap();
        }
        log.finish().unwrap()
    }

    #[test]
    fn repeats_are_counted_and_the_first_one_found() {
        let found = log(&[1, 2, 3, 2, 1, 2]);
        assert_eq!(found.count, 3);
        let first = found.first.unwrap();
        assert_eq!((first.line, first.key.as_str()), (5, "key 2"));
        assert_eq!(log(&[1, 2, 3]), Duplicates::default());
    }

    #[test]
    fn a_log_past_memory_spills_and_still_finds_every_repeat() {
        // Three spills and a tail; the first repeat sits in the second spill
        // and its key's first sighting in the first; the others in the tail.
        let n = IN_MEMORY as u32 * 3 + 100;
        let mut keys: Vec<u32> = (0..n).collect();
        keys[IN_MEMORY + 7] = 5;
        keys[n as usize - 1] = 9;
        keys[n as usize - 2] = IN_MEMORY as u32 + 7 + 1;
        let found = log(&keys);
        assert_eq!(found.count, 3);
        let first = found.first.unwrap();
        assert_eq!(first.line, IN_MEMORY as u64 + 7 + 2);
        assert_eq!(first.key, "key 5");
    }
}
