//! Files on their way to the store: which files a pattern names, whether
//! a file's content was imported before, and its rows committed in batches
//! with rejects kept aside.

use super::super::{ConnectorError, Sink};
use super::{Cells, Layout, RowParser, Stream, ROWS_PER_COMMIT};
use crate::facts::{echo, Batch, FileMark, Reject};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};

/// The rows of one file on their way to the store: good rows are batched
/// and committed every [`ROWS_PER_COMMIT`], bad ones kept aside as rejects.
/// The first commit drops the rejects an earlier import of the file left:
/// the file's rejects are those of its latest content.
pub struct FileImport {
    connector: String,
    path: String,
    batch: Batch,
    rows: i64,
    /// The keys of the rows taken so far, to count rows whose key an earlier
    /// row of the same file had (the last one wins, as across files).
    keys: KeySet,
    duplicates: u64,
    /// Where the first duplicate key was, for the warning.
    first_duplicate: Option<(String, String)>,
}

impl FileImport {
    pub fn new(connector: &str, path: &str) -> Self {
        FileImport {
            connector: connector.to_string(),
            path: path.to_string(),
            batch: Batch {
                replaces_rejects_of: Some(path.to_string()),
                ..Batch::default()
            },
            rows: 0,
            keys: KeySet::default(),
            duplicates: 0,
            first_duplicate: None,
        }
    }

    /// One data row: parsed into the batch, or rejected with where it was
    /// (`locator`), why and its raw text.
    pub fn row<C: Cells + ?Sized>(
        &mut self,
        parser: &RowParser,
        layout: &Layout,
        cells: &C,
        locator: impl FnOnce() -> String,
        raw: impl FnOnce() -> String,
    ) {
        self.rows += 1;
        if let Err(reason) = parser.parse(layout, cells, &mut self.batch) {
            self.reject(locator(), reason, raw());
            return;
        }
        let Some(key) = RowKey::last(&self.batch, layout.stream) else {
            return;
        };
        if !self.keys.insert(key) {
            self.duplicates += 1;
            if self.first_duplicate.is_none() {
                self.first_duplicate = Some((locator(), key.to_string()));
            }
        }
    }

    /// One data row the source could not turn into cell texts.
    pub fn bad_row(&mut self, locator: String, reason: String, raw: String) {
        self.rows += 1;
        self.reject(locator, reason, raw);
    }

    /// Something that is not a row (an unreadable record) kept aside.
    pub fn reject(&mut self, locator: String, reason: String, raw: String) {
        self.batch.rejects.push(Reject {
            source: self.path.clone(),
            locator,
            reason,
            raw,
        });
    }

    /// Commits what is batched once it is large enough.
    pub async fn commit_if_full(&mut self, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        if self.batch.records() >= ROWS_PER_COMMIT {
            sink.commit(std::mem::take(&mut self.batch)).await?;
        }
        Ok(())
    }

    /// Commits the rest with the file's mark, so an unchanged file is skipped next time.
    pub async fn finish(mut self, sha256: &str, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        self.batch.file = Some(FileMark {
            path: self.path.clone(),
            sha256: sha256.to_string(),
            rows: self.rows,
        });
        sink.commit(self.batch).await?;
        sink.stats.duplicates += self.duplicates;
        if let Some((at, key)) = &self.first_duplicate {
            tracing::warn!(
                connector = %self.connector,
                path = %self.path,
                duplicates = self.duplicates,
                first = %format!("{at}: {key}"),
                "rows repeat the key of an earlier row of the file; the last row of each key was kept"
            );
        }
        tracing::info!(connector = %self.connector, path = %self.path, rows = self.rows, "file imported");
        Ok(())
    }
}

/// What a later row with the same key replaces: the stream's key.
#[derive(Debug, Clone, Copy, Hash)]
enum RowKey<'a> {
    Order(&'a str, &'a str),
    Refund(&'a str, &'a str),
    Daily(&'a str, NaiveDate, &'a str),
}

impl<'a> RowKey<'a> {
    /// The key of the row parsed last into `batch`.
    fn last(batch: &'a Batch, stream: Stream) -> Option<Self> {
        match stream {
            Stream::Orders => (batch.orders.last()).map(|o| RowKey::Order(&o.shop, &o.order_id)),
            Stream::Refunds => {
                (batch.refunds.last()).map(|r| RowKey::Refund(&r.shop, &r.refund_id))
            }
            Stream::Daily => {
                (batch.daily.last()).map(|v| RowKey::Daily(&v.shop, v.day, &v.dimension))
            }
        }
    }
}

impl std::fmt::Display for RowKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowKey::Order(shop, id) => write!(f, "order {} of shop {shop}", echo(id)),
            RowKey::Refund(shop, id) => write!(f, "refund {} of shop {shop}", echo(id)),
            RowKey::Daily(shop, day, dimension) => {
                write!(f, "{day} of shop {shop}, dimension `{}`", echo(dimension))
            }
        }
    }
}

/// Row keys held as two independent 64-bit SipHashes: 16 bytes a row
/// however long the ids, and a false "seen before" needs both to collide
/// (about 1 in 10^26 for a million-row file).
#[derive(Default)]
struct KeySet {
    seeds: (RandomState, RandomState),
    seen: HashSet<u128>,
}

impl KeySet {
    /// True when the key was not in the set.
    fn insert(&mut self, key: RowKey) -> bool {
        let (a, b) = &self.seeds;
        let hash = (u128::from(a.hash_one(key)) << 64) | u128::from(b.hash_one(key));
        self.seen.insert(hash)
    }
}

/// A connector that imports whole files.
pub(crate) trait FileSource {
    fn name(&self) -> &str;

    /// Imports one file whose content changed since its last import.
    fn import_file(
        &self,
        path: &str,
        sha256: &str,
        bytes: Vec<u8>,
        sink: &mut Sink<'_>,
    ) -> impl Future<Output = Result<(), ConnectorError>> + Send;
}

/// Imports every file matching `pattern` not yet imported with this content,
/// in lexical order of their paths (so a later file's rows win). A file that
/// fails (bad header, unreadable) lands nothing and is tried again next run;
/// the others still land, and the first failure is returned. An empty file
/// (an export still being written, or a failed one) is skipped with a warning.
pub(crate) async fn import_files<S: FileSource>(
    source: &S,
    pattern: &str,
    sink: &mut Sink<'_>,
) -> Result<(), ConnectorError> {
    let name = source.name();
    let paths = matching_files(name, pattern).map_err(|e| ConnectorError::Config {
        connector: name.to_string(),
        message: format!("bad glob `{pattern}`: {e}"),
    })?;
    if paths.is_empty() {
        tracing::info!(connector = %name, %pattern, "no files match");
    }
    let mut failures = Vec::new();
    for path in paths {
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| ConnectorError::Io {
                connector: name.to_string(),
                path: path.clone(),
                source,
            })?;
        if bytes.is_empty() {
            tracing::warn!(connector = %name, %path, "empty file, skipped");
            continue;
        }
        let sha = hex(&Sha256::digest(&bytes));
        if sink.already_imported(&path, &sha).await? {
            sink.stats.files_skipped += 1;
            tracing::debug!(connector = %name, %path, "unchanged since last import, skipped");
            continue;
        }
        match source.import_file(&path, &sha, bytes, sink).await {
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

/// The files `pattern` matches, sorted, each once. Folders are walked from
/// the pattern's literal prefix following symbolic links, but not into a
/// link back to a folder above it (a loop under `**` would otherwise yield
/// the same files under ever longer paths), and a file reached by two
/// paths is kept under the first.
pub(super) fn matching_files(
    connector: &str,
    pattern: &str,
) -> Result<Vec<String>, glob::PatternError> {
    let matcher = glob::Pattern::new(pattern)?;
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..glob::MatchOptions::new()
    };
    let parts: Vec<&str> = pattern.split('/').collect();
    let literal = parts
        .iter()
        .take_while(|p| !p.contains(['*', '?', '[']))
        .count();
    let root = parts[..literal].join("/");
    let (walk_from, relative) = match root.as_str() {
        "" if pattern.starts_with('/') => ("/".to_string(), false),
        "" => (".".to_string(), true),
        _ => (root, false),
    };
    let mut walk = walkdir::WalkDir::new(&walk_from).follow_links(true);
    if !pattern.contains("**") {
        walk = walk.max_depth(parts.len().saturating_sub(literal));
    }
    let mut found = Vec::new();
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if e.loop_ancestor().is_some() {
                    tracing::warn!(connector, error = %e, "a symbolic link loops back to a folder above it; not followed");
                } else {
                    tracing::debug!(connector, error = %e, "cannot read a path the pattern may match");
                }
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let path = match relative {
            true => path.strip_prefix(".").unwrap_or(path),
            false => path,
        };
        if matcher.matches_path_with(path, options) {
            found.push(path.display().to_string());
        }
    }
    found.sort();
    let mut seen = HashSet::new();
    found.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.into())));
    Ok(found)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
