//! Connectors turn a source (an API or exported files) into typed facts for
//! a window. They never compute KPIs and never write SQL: they hand batches
//! to a [`Sink`], which commits them idempotently.

pub mod csv;
pub mod declarative;
pub mod demo;
pub mod douyin;
pub mod google_ads;
pub mod jd;
pub mod pinduoduo;
pub mod taobao;
pub mod xlsx;
pub mod zendesk;

mod ad_days;
mod cn_fields;
pub(crate) mod options;
mod records;
pub mod registry;
mod shop_api;
mod tabular;

pub use tabular::{HeaderError, ImportError};

use crate::config::ConnectorConfig;
use crate::facts::{Batch, IngestStats, Reject};
use crate::period::{Days, LocalDay};
use crate::progress::Progress;
use crate::settings::Settings;
use crate::store::{Backend, ImportCommits, Store, StoreError};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

/// Why a connector run failed (rejected records are not failures).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("connector `{connector}`: {message}")]
    Config { connector: String, message: String },
    /// One of the connector's options is wrong: the key and what is wrong.
    #[error("connector `{connector}`: {}: {}", .problem.key, .problem.message)]
    BadOption {
        connector: String,
        problem: crate::config::KeyProblem,
    },
    #[error("connector `{connector}`: cannot read {path}: {source}")]
    Io {
        connector: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file's error is in the message, not a `source`: the binary
    /// prints an error's chain, which would say it twice.
    #[error("connector `{connector}`: {path}: {error}")]
    File {
        connector: String,
        path: String,
        /// Boxed: a workbook's error is large, and every connector result carries this.
        error: Box<FileError>,
    },
    #[error("connector `{connector}`: {source}")]
    Http {
        connector: String,
        #[source]
        source: crate::http::HttpError,
    },
    #[error("connector `{connector}`: stopped by shutdown after committing the page in hand")]
    Interrupted { connector: String },
    #[error("connector `{connector}`: {source}")]
    Store {
        connector: String,
        #[source]
        source: StoreError,
    },
}

/// Why a file was not imported (it is tried again next run).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Csv(#[from] csv::CsvFileError),
    #[error(transparent)]
    Xlsx(#[from] xlsx::WorkbookError),
    #[error("reading the file failed: {0}")]
    Reading(tokio::task::JoinError),
    #[error("cannot count the repeated row keys: {0}")]
    RowKeys(std::io::Error),
}

/// The days a run should cover; open ends mean "the connector's default".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<LocalDay>,
    pub to: Option<LocalDay>,
}

impl Window {
    /// A scheduled run: no days given, so it resumes from the stored cursor
    /// (a backfill names its days and leaves the cursor alone).
    pub fn is_scheduled(self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// A backfill's days `(from, to)`: `--to` defaults to `today`, `--from`
    /// to `--to` (a `from` after `to` covers nothing).
    pub fn backfill_days(self, today: LocalDay) -> (LocalDay, LocalDay) {
        let to = self.to.unwrap_or(today);
        (self.from.unwrap_or(to), to)
    }
}

/// Rejected records a run keeps in memory for its summary.
const REJECTS_KEPT: usize = 100;

/// Where a connector delivers its batches.
pub struct Sink<'a> {
    store: &'a Store,
    connector: &'a str,
    pub stats: IngestStats,
    /// The first rejected records of this run, for the summary printed to
    /// the user (all of them are in the `rejects` table; the count is in `stats`).
    pub rejects: Vec<Reject>,
    stop: Option<tokio_util::sync::CancellationToken>,
    progress: Progress,
}

impl<'a> Sink<'a> {
    /// A storage failure as this connector's error.
    fn store_error(&self) -> impl Fn(StoreError) -> ConnectorError + '_ {
        |source| ConnectorError::Store {
            connector: self.connector.to_string(),
            source,
        }
    }

    pub fn new(store: &'a Store, connector: &'a str) -> Self {
        Sink {
            store,
            connector,
            stats: IngestStats::default(),
            rejects: Vec::new(),
            stop: None,
            progress: Progress::off(),
        }
    }

    /// Makes commits stop the run once `stop` fires: the batch in hand is
    /// committed, the next one is refused, and the run ends `Interrupted`.
    pub fn stop_on(mut self, stop: tokio_util::sync::CancellationToken) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Reports the run's progress as batches commit (`kpid ingest`).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Announces `n` more slices of work for the progress report (days,
    /// weeks...); [`Sink::fetch_and_commit`] announces its own slices.
    pub fn expect_steps(&self, n: u64) {
        self.progress.add_total(n);
    }

    /// `n` of the announced slices are done.
    pub fn step(&self, n: u64) {
        self.progress.step(n);
    }

    /// Ends the progress report (clears the bar or logs the final figures).
    pub fn finish_progress(&self) {
        self.progress.finish();
    }

    /// Commits a batch (records, rejects and file mark) atomically.
    pub async fn commit(&mut self, batch: Batch) -> Result<(), ConnectorError> {
        if batch.is_empty() {
            return Ok(());
        }
        let changed = self.store.commit_batch(self.connector, &batch).await;
        self.account(batch, changed)
    }

    /// The commits of one long import (a file's batches), several batches
    /// to a transaction on SQLite; see [`Sink::commit_part`].
    pub fn import_commits(&self) -> ImportCommits<'a> {
        ImportCommits::new(self.store, self.connector)
    }

    /// Writes a batch of a long import through `commits`, which commits
    /// when its transaction is full or the batch carries the file mark.
    /// A stop commits what is written first (as [`Sink::commit`], the batch
    /// in hand lands).
    pub async fn commit_part(
        &mut self,
        commits: &mut ImportCommits<'_>,
        batch: Batch,
    ) -> Result<(), ConnectorError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut changed = commits.write(&batch).await;
        if changed.is_ok() && self.stop.as_ref().is_some_and(|s| s.is_cancelled()) {
            if let Err(e) = commits.commit().await {
                changed = Err(e);
            }
        }
        self.account(batch, changed)
    }

    /// Fetches `slices` of a window, `concurrency` at a time, while committing
    /// each page as it arrives; at most two pages per fetcher wait in memory,
    /// besides the commits in flight (each at most `GROUP_RECORDS` records).
    /// On PostgreSQL several pages commit at once on separate connections (the
    /// slices of a window hold different records); SQLite has one writer.
    /// Each slice is a step of the progress report once all its pages are fetched.
    pub async fn fetch_and_commit<S, F, Fut>(
        &mut self,
        slices: Vec<S>,
        concurrency: usize,
        fetch: F,
    ) -> Result<(), ConnectorError>
    where
        F: Fn(S, mpsc::Sender<Batch>) -> Fut,
        Fut: std::future::Future<Output = Result<(), ConnectorError>>,
    {
        let (tx, rx) = mpsc::channel::<Batch>(concurrency.max(1) * 2);
        self.progress.add_total(slices.len() as u64);
        let progress = self.progress.clone();
        let fetching = async move {
            let result = futures::stream::iter(slices)
                .map(|s| {
                    let fetched = fetch(s, tx.clone());
                    let progress = progress.clone();
                    async move {
                        fetched.await?;
                        progress.step(1);
                        Ok(())
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await;
            drop(tx);
            result
        };
        let parallel = match self.store.backend() {
            Backend::Postgres => 4,
            Backend::Sqlite => 1,
        };
        let committing = async {
            let mut rx = rx;
            let mut in_flight = futures::stream::FuturesUnordered::new();
            let mut open = true;
            loop {
                tokio::select! {
                    next = rx.recv(), if open && in_flight.len() < parallel => match next {
                        Some(batch) => in_flight.push(commit_one(self.store, self.connector, group(batch, &mut rx))),
                        None => open = false,
                    },
                    Some((batch, changed)) = in_flight.next(), if !in_flight.is_empty() => {
                        // An error returns and drops the receiver: fetchers see a
                        // closed channel and stop.
                        self.account(batch, changed)?;
                    }
                    else => break,
                }
            }
            Ok::<_, ConnectorError>(())
        };
        let (fetched, committed) = tokio::join!(fetching, committing);
        committed?;
        fetched.map(|_| ())
    }

    /// Counts a committed batch, logs its rejects, and ends the run when a
    /// stop was requested (the batch is already committed).
    fn account(
        &mut self,
        batch: Batch,
        changed: Result<u64, StoreError>,
    ) -> Result<(), ConnectorError> {
        let changed = changed.map_err(self.store_error())?;
        self.stats.records += batch.records() as u64;
        self.stats.changed += changed;
        self.stats.rejects += batch.rejects.len() as u64;
        if batch.file.is_some() {
            self.stats.files_imported += 1;
        }
        self.progress.records(batch.records() as u64);
        for r in &batch.rejects {
            tracing::warn!(connector = self.connector, source = %r.source, at = %r.locator, reason = %r.reason, "record rejected");
        }
        let room = REJECTS_KEPT.saturating_sub(self.rejects.len());
        self.rejects.extend(batch.rejects.into_iter().take(room));
        if self.stop.as_ref().is_some_and(|s| s.is_cancelled()) {
            return Err(ConnectorError::Interrupted {
                connector: self.connector.to_string(),
            });
        }
        Ok(())
    }

    /// The stored cursor of one of this connector's streams.
    pub async fn cursor(&self, stream: &str) -> Result<Option<String>, ConnectorError> {
        self.store
            .cursor(self.connector, stream)
            .await
            .map_err(self.store_error())
    }

    /// Moves a stream's cursor; call after the window's batches are committed.
    pub async fn set_cursor(&self, stream: &str, cursor: &str) -> Result<(), ConnectorError> {
        self.store
            .set_cursor(self.connector, stream, cursor)
            .await
            .map_err(self.store_error())
    }

    /// The `(day, dimension)` pairs of `input` this connector has stored for
    /// `shop` over `days`, so a connector that recomputes whole days
    /// can clear the dimensions (agents, campaigns) that are gone.
    pub async fn stored_dimensions(
        &self,
        shop: &str,
        input: &str,
        days: Days,
    ) -> Result<Vec<(LocalDay, String)>, ConnectorError> {
        self.store
            .daily_dimensions(self.connector, shop, input, days)
            .await
            .map_err(self.store_error())
    }

    /// True when this exact file content was imported before.
    pub async fn already_imported(&self, path: &str, sha256: &str) -> Result<bool, ConnectorError> {
        self.store
            .file_imported(self.connector, path, sha256)
            .await
            .map_err(self.store_error())
    }
}

/// Records one group commit takes at most: a few pages, and within one
/// PostgreSQL statement's arrays (`facts_pg`).
const GROUP_RECORDS: usize = 2_000;

/// Adds the pages already waiting behind `batch` to it, so a committer that
/// falls behind writes them in one transaction instead of one each (SQLite
/// rewrites the same index pages into its log at every commit). A committer
/// that keeps up finds nothing waiting and commits page by page.
fn group(mut batch: Batch, rx: &mut mpsc::Receiver<Batch>) -> Batch {
    // A group holds at most one file mark: it stops at the first.
    while batch.file.is_none() && batch.records() < GROUP_RECORDS {
        match rx.try_recv() {
            Ok(next) => batch.absorb(next),
            Err(_) => break,
        }
    }
    batch
}

/// Commits on a runtime worker: the task driving the fetchers (and parsing
/// nothing itself) is not also the one turning rows into statements.
async fn commit_one(
    store: &Store,
    connector: &str,
    batch: Batch,
) -> (Batch, Result<u64, StoreError>) {
    let (store, connector) = (store.clone(), connector.to_string());
    let task = tokio::spawn(async move {
        let changed = store.commit_batch(&connector, &batch).await;
        (batch, changed)
    });
    match task.await {
        Ok(done) => done,
        // A panic in a commit is a defect: surface it where it happened.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels the task; the run ends.
        Err(_) => (Batch::default(), Err(StoreError::Cancelled)),
    }
}

/// A configured connector, ready to run.
#[derive(Debug, Clone)]
pub enum Connector {
    Csv(csv::CsvConnector),
    Xlsx(xlsx::XlsxConnector),
    Demo(demo::DemoConnector),
    Taobao(std::sync::Arc<taobao::TaobaoConnector>),
    Pinduoduo(std::sync::Arc<pinduoduo::PinduoduoConnector>),
    Jd(std::sync::Arc<jd::JdConnector>),
    Douyin(std::sync::Arc<douyin::DouyinConnector>),
    Zendesk(std::sync::Arc<zendesk::ZendeskConnector>),
    GoogleAds(std::sync::Arc<google_ads::GoogleAdsConnector>),
    /// A kind from a definition file (`connectors/`, or the user's folders).
    Declarative(std::sync::Arc<declarative::DeclarativeConnector>),
}

impl Connector {
    /// Builds a configured connector through the registry of its
    /// configuration's kinds (the Rust ones and `definitions`).
    pub fn build(
        cfg: &ConnectorConfig,
        settings: &Settings,
        definitions: &declarative::Definitions,
    ) -> Result<Self, ConnectorError> {
        registry::Registry::new(definitions).build(cfg, settings)
    }

    pub fn name(&self) -> &str {
        match self {
            Connector::Csv(c) => &c.name,
            Connector::Xlsx(c) => &c.name,
            Connector::Demo(c) => &c.name,
            Connector::Taobao(c) => &c.name,
            Connector::Pinduoduo(c) => &c.name,
            Connector::Jd(c) => &c.name,
            Connector::Douyin(c) => &c.name,
            Connector::Zendesk(c) => &c.name,
            Connector::GoogleAds(c) => &c.name,
            Connector::Declarative(c) => &c.name,
        }
    }

    /// Fetches the window and commits what it finds.
    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        match self {
            // Every matching file not yet imported, whole or not at all:
            // the window does not apply.
            Connector::Csv(c) => tabular::import_files(c, sink).await,
            Connector::Xlsx(c) => tabular::import_files(c, sink).await,
            Connector::Demo(c) => c.run(window, sink).await,
            Connector::Taobao(c) => c.run(window, sink).await,
            Connector::Pinduoduo(c) => c.run(window, sink).await,
            Connector::Jd(c) => c.run(window, sink).await,
            Connector::Douyin(c) => c.run(window, sink).await,
            Connector::Zendesk(c) => c.run(window, sink).await,
            Connector::GoogleAds(c) => c.run(window, sink).await,
            Connector::Declarative(c) => c.run(window, sink).await,
        }
    }
}

/// The shop a connector's data belongs to, with its time zone.
pub(crate) fn connector_shop(
    cfg: &ConnectorConfig,
    settings: &Settings,
) -> Result<(String, chrono_tz::Tz), ConnectorError> {
    let err = |message: String| ConnectorError::Config {
        connector: cfg.name.clone(),
        message,
    };
    let shop = cfg
        .shop
        .clone()
        .ok_or_else(|| err("needs a `shop`".into()))?;
    let tz = settings
        .shop(&shop)
        .ok_or_else(|| err(format!("unknown shop `{shop}`")))?
        .tz;
    Ok((shop, tz))
}

/// The connector's HTTP client: `requests_per_second` (0 = unlimited) and the
/// default retries, its log lines and errors named after the connector.
pub(crate) fn connector_http(
    cfg: &ConnectorConfig,
    requests_per_second: f64,
) -> Result<crate::http::HttpClient, ConnectorError> {
    crate::http::HttpClient::new(
        &cfg.name,
        requests_per_second,
        crate::http::RetryPolicy::default(),
    )
    .map_err(|e| ConnectorError::Config {
        connector: cfg.name.clone(),
        message: e.to_string(),
    })
}

/// Names the connector on a failed request (`.map_err(http_error(&name))`).
pub(crate) fn http_error(
    connector: &str,
) -> impl Fn(crate::http::HttpError) -> ConnectorError + '_ {
    move |source| ConnectorError::Http {
        connector: connector.to_string(),
        source,
    }
}

/// Where a scheduled run starts reading: the stored cursor less
/// `lookback_days`, so changes that arrived late are fetched again, or
/// `initial_days` before `now` on a first run (or when the cursor cannot be
/// read).
pub(crate) fn resume_since(
    cursor: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
    lookback_days: i64,
    initial_days: i64,
) -> chrono::DateTime<chrono::Utc> {
    cursor
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c).ok())
        .map(|t| t.with_timezone(&chrono::Utc) - chrono::Duration::days(lookback_days))
        .unwrap_or_else(|| now - chrono::Duration::days(initial_days))
}

/// A credential given inline, by environment variable (`<key>_env`) or by
/// file (`<key>_file`, trailing newline trimmed). Exactly one must be set.
pub(crate) fn secret_option(
    connector: &str,
    key: &str,
    inline: Option<secrecy::SecretString>,
    env: &Option<String>,
    file: &Option<String>,
) -> Result<secrecy::SecretString, ConnectorError> {
    crate::secrets::resolve(key, inline, env, file).map_err(|e| ConnectorError::Config {
        connector: connector.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn page(first_id: usize, n: usize) -> Batch {
        Batch {
            orders: (first_id..first_id + n)
                .map(|i| crate::facts::Order {
                    shop: "s".into(),
                    order_id: i.to_string(),
                    paid_at: None,
                    local_day: None,
                    amount: crate::money::Money::from_micros(1),
                    buyer_id: None,
                    status: crate::facts::OrderStatus::Paid,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_commit_takes_the_pages_waiting_behind_it_up_to_a_bound() {
        let (tx, mut rx) = mpsc::channel(16);
        for i in 0..10 {
            tx.send(page(i * 250, 250)).await.unwrap();
        }
        let first = rx.recv().await.unwrap();
        let grouped = group(first, &mut rx);
        // 250 + 7 × 250 reaches GROUP_RECORDS; later pages wait for the next commit.
        assert_eq!(grouped.orders.len(), GROUP_RECORDS);
        assert_eq!(
            grouped.orders[250].order_id, "250",
            "pages stay in arrival order"
        );
        let rest = group(rx.recv().await.unwrap(), &mut rx);
        assert_eq!(rest.orders.len(), 500);
        // Nothing waiting: the page commits alone.
        tx.send(page(0, 3)).await.unwrap();
        assert_eq!(group(rx.recv().await.unwrap(), &mut rx).orders.len(), 3);
    }

    #[tokio::test]
    async fn a_group_holds_at_most_one_file_mark() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut marked = page(10, 1);
        marked.file = Some(crate::facts::FileMark {
            path: "b.csv".into(),
            sha256: "x".into(),
            rows: 1,
        });
        tx.send(marked.clone()).await.unwrap();
        tx.send(page(20, 1)).await.unwrap();
        let grouped = group(page(0, 1), &mut rx);
        assert_eq!(grouped.orders.len(), 2, "stops after the marked batch");
        assert_eq!(
            grouped.file.as_ref().map(|f| f.path.as_str()),
            Some("b.csv")
        );
        assert_eq!(rx.recv().await.unwrap().orders[0].order_id, "20");
    }

    #[test]
    fn a_run_resumes_before_its_cursor_or_starts_initial_days_back() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
        let cursor = Some("2026-03-08T06:30:00Z".to_string());
        assert_eq!(
            resume_since(cursor, now, 2, 30),
            Utc.with_ymd_and_hms(2026, 3, 6, 6, 30, 0).unwrap()
        );
        let first = Utc.with_ymd_and_hms(2026, 2, 8, 12, 0, 0).unwrap();
        assert_eq!(resume_since(None, now, 2, 30), first);
        assert_eq!(resume_since(Some("garbled".into()), now, 2, 30), first);
    }
}
