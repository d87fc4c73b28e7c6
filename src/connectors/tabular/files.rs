//! Files on their way to the store: which files a pattern names, whether
//! a file's content was imported before, and its rows read on a blocking
//! thread and committed in batches as they fill, with rejects kept aside.

use super::super::{ConnectorError, FileError, Sink};
use super::keys::KeyLog;
use super::{Cells, Layout, RowParser, Stream, ROWS_PER_COMMIT};
use crate::facts::{echo, Batch, FileMark, Reject};
use crate::period::LocalDay;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Read;
use tokio::sync::mpsc;

/// The rows of one file on their way to the store, on the thread that
/// reads it: good rows are batched and handed to the committer every
/// [`ROWS_PER_COMMIT`] rows (bad ones count too, kept aside as rejects).
/// The first commit drops the rejects an earlier import of the file left:
/// the file's rejects are those of its latest content.
pub struct FileImport {
    path: String,
    /// What a row's line number is prefixed with in a locator (`line `,
    /// `sheet 订单 row `).
    locator: String,
    batch: Batch,
    rows: i64,
    /// The keys of the rows taken so far, to count rows whose key an earlier
    /// row of the same file had (the last one wins, as across files).
    keys: KeyLog,
    out: Option<mpsc::Sender<Batch>>,
}

/// Why a file's rows stop on their way to the store.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The committer is gone: a commit failed or the run was stopped (the
    /// committer reports which).
    #[error("the import stopped")]
    Stopped,
    #[error("cannot keep the row keys aside: {0}")]
    RowKeys(std::io::Error),
}

impl FileImport {
    fn new(path: &str, out: mpsc::Sender<Batch>) -> Self {
        FileImport {
            path: path.to_string(),
            locator: "line ".to_string(),
            batch: Batch {
                replaces_rejects_of: Some(path.to_string()),
                ..Batch::default()
            },
            rows: 0,
            keys: KeyLog::default(),
            out: Some(out),
        }
    }

    /// Rows are located as `{prefix}{n}` (the default is `line {n}`).
    pub fn locate_as(&mut self, prefix: String) {
        self.locator = prefix;
    }

    fn locator(&self, n: u64) -> String {
        format!("{}{n}", self.locator)
    }

    /// One data row at line (or sheet row) `n`: parsed into the batch, or
    /// rejected with where it was, why and its raw text.
    pub fn row<C: Cells + ?Sized>(
        &mut self,
        parser: &RowParser,
        layout: &Layout,
        cells: &C,
        n: u64,
        raw: impl FnOnce() -> String,
    ) -> Result<(), ImportError> {
        self.rows += 1;
        match parser.parse(layout, cells, &mut self.batch) {
            Err(reason) => self.reject(self.locator(n), reason.to_string(), raw()),
            Ok(()) => {
                if let Some(key) = RowKey::last(&self.batch, layout.stream) {
                    self.keys.add(key, n, key).map_err(ImportError::RowKeys)?;
                }
            }
        }
        self.send_if_full()
    }

    /// One data row at `n` the source could not turn into cell texts.
    pub fn bad_row(
        &mut self,
        n: u64,
        reason: &dyn std::fmt::Display,
        raw: String,
    ) -> Result<(), ImportError> {
        self.rows += 1;
        self.reject(self.locator(n), reason.to_string(), raw);
        self.send_if_full()
    }

    fn reject(&mut self, locator: String, reason: String, raw: String) {
        self.batch.rejects.push(Reject {
            source: self.path.clone(),
            locator,
            reason,
            raw,
        });
    }

    /// Hands the batch to the committer once it is large enough; waits
    /// while the committer is one batch behind (memory stays flat).
    fn send_if_full(&mut self) -> Result<(), ImportError> {
        if self.batch.records() + self.batch.rejects.len() < ROWS_PER_COMMIT {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let out = self.out.as_ref().ok_or(ImportError::Stopped)?;
        out.blocking_send(batch).map_err(|_| ImportError::Stopped)
    }
}

/// Reads one file on a blocking thread with `read`, committing its rows in
/// batches as they fill, then the rest with the file's mark (so an unchanged
/// file is skipped next time). A file whose reading fails is not marked: it
/// is tried again next run (a header or character-set problem is found
/// before any row is committed).
async fn import_streaming<F, E>(
    connector: &str,
    path: &str,
    sha256: &str,
    sink: &mut Sink<'_>,
    read: F,
) -> Result<(), ConnectorError>
where
    F: FnOnce(&mut FileImport) -> Result<(), E> + Send + 'static,
    E: Into<FileError> + Send + 'static,
{
    let file_err = |source: FileError| ConnectorError::File {
        connector: connector.to_string(),
        path: path.to_string(),
        error: Box::new(source),
    };
    // One batch waits while another commits: parsing and committing overlap.
    let (tx, mut rx) = mpsc::channel::<Batch>(1);
    let mut file = FileImport::new(path, tx);
    let reading = tokio::task::spawn_blocking(move || {
        let result = read(&mut file);
        file.out = None;
        let duplicates = match result {
            Ok(()) => file.keys.finish().map(Some),
            Err(_) => Ok(None),
        };
        (file.batch, file.rows, file.locator, result, duplicates)
    });
    let mut commits = sink.import_commits();
    while let Some(batch) = rx.recv().await {
        // On an error `rx` is dropped: the reader's next hand-over fails and it stops.
        sink.commit_part(&mut commits, batch).await?;
    }
    let (mut batch, rows, locator, result, duplicates) =
        reading.await.map_err(|e| file_err(FileError::Reading(e)))?;
    let store_err = |source| ConnectorError::Store {
        connector: connector.to_string(),
        source,
    };
    if result.is_err() || duplicates.is_err() {
        // The rows before a failure land, as they did when each batch
        // committed alone; the file stays unmarked and is read again next run.
        commits.commit().await.map_err(store_err)?;
    }
    result.map_err(|e| file_err(e.into()))?;
    let duplicates = duplicates
        .map_err(|e| file_err(FileError::RowKeys(e)))?
        .unwrap_or_default();
    batch.file = Some(FileMark {
        path: path.to_string(),
        sha256: sha256.to_string(),
        rows,
    });
    sink.commit_part(&mut commits, batch).await?;
    // The mark's batch commits its transaction: this one has nothing left.
    commits.commit().await.map_err(store_err)?;
    sink.stats.duplicates += duplicates.count;
    if let Some(first) = &duplicates.first {
        tracing::warn!(
            connector = %connector,
            path = %path,
            duplicates = duplicates.count,
            first = %format!("{locator}{}: {}", first.line, first.key),
            "rows repeat the key of an earlier row of the file; the last row of each key was kept"
        );
    }
    tracing::info!(connector = %connector, path = %path, rows, "file imported");
    Ok(())
}

/// What a later row with the same key replaces: the stream's key.
#[derive(Debug, Clone, Copy, Hash)]
enum RowKey<'a> {
    Order(&'a str, &'a str),
    Refund(&'a str, &'a str),
    Daily(&'a str, LocalDay, &'a str),
}

impl<'a> RowKey<'a> {
    /// The key of the row parsed last into `batch`.
    fn last(batch: &'a Batch, stream: Stream) -> Option<Self> {
        match stream {
            Stream::Orders => {
                (batch.orders.last()).map(|o| RowKey::Order(o.shop.as_str(), &o.order_id))
            }
            Stream::Refunds => {
                (batch.refunds.last()).map(|r| RowKey::Refund(r.shop.as_str(), &r.refund_id))
            }
            Stream::Daily => {
                (batch.daily.last()).map(|v| RowKey::Daily(v.shop.as_str(), v.day, &v.dimension))
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

/// A connector that imports whole files: it turns one file into a header
/// and rows of cell texts; [`import_files`] does the rest.
pub(crate) trait FileSource: Clone + Send + Sync + 'static {
    /// Why the source could not read a file.
    type Error: Into<FileError> + Send + 'static;

    fn name(&self) -> &str;

    /// The glob naming the files to import.
    fn pattern(&self) -> &str;

    /// Reads one file into `file`, on a blocking thread (reading and
    /// parsing is CPU work) while the rows committed so far are written.
    fn read(&self, path: &str, file: &mut FileImport) -> Result<(), Self::Error>;
}

/// Imports one file whose content (hashed `sha256`) changed since its last
/// import; see [`import_streaming`].
async fn import_file<S: FileSource>(
    source: &S,
    path: &str,
    sha256: &str,
    sink: &mut Sink<'_>,
) -> Result<(), ConnectorError> {
    let (me, at) = (source.clone(), path.to_string());
    import_streaming(source.name(), path, sha256, sink, move |file| {
        me.read(&at, file)
    })
    .await
}

/// Imports every matching file not yet imported with this content,
/// in lexical order of their paths (so a later file's rows win). A file that
/// fails (bad header, unreadable) lands nothing and is tried again next run;
/// the others still land, and the first failure is returned. An empty file
/// (an export still being written, or a failed one) is skipped with a warning.
///
/// A file is hashed in a first pass that only reads (an unchanged file costs
/// that read and nothing more), then read again to import. A file rewritten
/// between the two keeps the first hash: the next run sees new content and
/// imports it again, which changes only what changed.
pub(crate) async fn import_files<S: FileSource>(
    source: &S,
    sink: &mut Sink<'_>,
) -> Result<(), ConnectorError> {
    let name = source.name();
    let pattern = source.pattern();
    let paths = matching_files(name, pattern).map_err(|e| ConnectorError::BadOption {
        connector: name.to_string(),
        problem: super::path_problem(pattern, e),
    })?;
    if paths.is_empty() {
        tracing::info!(connector = %name, %pattern, "no files match");
    }
    let mut failures = Vec::new();
    for path in paths {
        let io_err = |source| ConnectorError::Io {
            connector: name.to_string(),
            path: path.clone(),
            source,
        };
        let hashing = path.clone();
        let hashed = tokio::task::spawn_blocking(move || hash_file(&hashing))
            .await
            .map_err(|e| io_err(std::io::Error::other(e.to_string())))?
            .map_err(io_err)?;
        let Some(sha) = hashed else {
            tracing::warn!(connector = %name, %path, "empty file, skipped");
            continue;
        };
        if sink.already_imported(&path, &sha).await? {
            sink.stats.files_skipped += 1;
            tracing::debug!(connector = %name, %path, "unchanged since last import, skipped");
            continue;
        }
        match import_file(source, &path, &sha, sink).await {
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

/// The file's sha256 in hex, read a buffer at a time; `None` when empty.
fn hash_file(path: &str) -> std::io::Result<Option<String>> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((total > 0).then(|| hex(&hasher.finalize())))
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
