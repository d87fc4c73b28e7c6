//! The command line: one file per command, each a small clap struct with
//! `async fn execute(self, config)`; this module only parses and dispatches,
//! plus what several commands share (loading the configuration, opening the
//! store).

mod alerts;
mod appeal;
mod check;
mod close;
mod compute;
mod ingest;
mod input;
mod kpis;
mod migrate;
mod report;
mod run;
mod runs;
mod silence;
mod targets;

use crate::facts::{Batch, Reject};
use crate::format::csv_table;
use crate::period::{today, LocalDay, Period, PeriodKind};
use crate::read::rfc3339;
use crate::scorecard::imports;
use crate::settings::Settings;
use crate::setup::{self, Setup};
use crate::store::{redact_url, Store};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Parser)]
#[command(name = "kpid", version, about = "E-commerce KPI daemon")]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(
        long,
        global = true,
        env = "KPID_CONFIG",
        default_value = "config/kpid.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: connectors on their schedules and the nightly snapshot job.
    Run(run::Run),
    /// Run connectors once now, optionally over a backfill range.
    Ingest(ingest::Ingest),
    /// Compute KPI snapshots for a period (a new revision only when values changed).
    Compute(compute::Compute),
    /// Print the latest snapshot revision of a period (or, with
    /// --scorecards, the people's scorecards).
    Report(report::Report),
    /// Close a month: compute its final scorecards and freeze them.
    Close(close::Close),
    /// Appeals against closed scorecards.
    Appeal(Group<appeal::AppealCommand>),
    /// Manual inputs (teamwork reviews, surveys, complaints), audited.
    Input(Group<input::InputCommand>),
    /// Targets in force; bulk import from CSV/XLSX.
    Targets(Group<targets::TargetsCommand>),
    /// List the KPI catalogue (built-in and configured).
    Kpis(kpis::Kpis),
    /// List recent scheduled runs: job, tick, replica, status and counts.
    Runs(runs::Runs),
    /// Alerts: evaluate rules, list alerts and notifications, test channels, send digests.
    Alerts(Group<alerts::AlertsCommand>),
    /// Silences: alerts matching them change state but send nothing.
    Silence(Group<silence::SilenceCommand>),
    /// Validate the configuration and show what would run when.
    Check(check::Check),
    /// Apply database migrations.
    Migrate(migrate::Migrate),
}

impl Cli {
    /// Runs the parsed command line; the error is printed by `main`.
    pub async fn execute(self) -> anyhow::Result<()> {
        let config = self.config.as_path();
        let result = match self.command {
            Command::Run(c) => c.execute(config).await,
            Command::Ingest(c) => c.execute(config).await,
            Command::Compute(c) => c.execute(config).await,
            Command::Report(c) => c.execute(config).await,
            Command::Close(c) => c.execute(config).await,
            Command::Appeal(c) => c.execute(config).await,
            Command::Input(c) => c.execute(config).await,
            Command::Targets(c) => c.execute(config).await,
            Command::Kpis(c) => c.execute(config).await,
            Command::Runs(c) => c.execute(config).await,
            Command::Alerts(c) => c.execute(config).await,
            Command::Silence(c) => c.execute(config).await,
            Command::Check(c) => c.execute(config).await,
            Command::Migrate(c) => c.execute(config).await,
        };
        close_opened().await;
        result
    }
}

/// The stores this process's command opened, closed when it ends, whether it
/// succeeded or not: closing copies SQLite's write-ahead log into the file
/// and empties it (an import of 100k rows otherwise left ~15 MB of log for
/// the next command to replay) and lets PostgreSQL see its connections end
/// instead of reset ("could not receive data from client" in its log).
static OPENED: Mutex<Vec<Store>> = Mutex::new(Vec::new());

async fn close_opened() {
    let opened = std::mem::take(&mut *OPENED.lock().unwrap_or_else(|e| e.into_inner()));
    for store in opened {
        store.close().await;
    }
}

/// A command of several actions (`kpid input set | import | list`), each
/// run with the loaded configuration and the migrated store.
#[derive(Debug, Args)]
pub struct Group<A: Subcommand> {
    #[command(subcommand)]
    action: A,
}

/// The actions of a [`Group`].
pub(crate) trait Action {
    async fn run(self, s: &Setup, store: &Store) -> anyhow::Result<()>;
}

impl<A: Subcommand> Group<A> {
    async fn execute(self, config: &Path) -> anyhow::Result<()>
    where
        A: Action,
    {
        let (s, store) = setup_and_store(config).await?;
        self.action.run(&s, &store).await
    }
}

/// `--day`, `--month` or `--year`: exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PeriodArgs {
    /// A local day, YYYY-MM-DD.
    #[arg(long)]
    pub day: Option<String>,
    /// A month, YYYY-MM.
    #[arg(long)]
    pub month: Option<String>,
    /// A year, YYYY.
    #[arg(long)]
    pub year: Option<String>,
}

impl PeriodArgs {
    pub fn period(&self) -> anyhow::Result<Period> {
        let (kind, text) = match (&self.day, &self.month, &self.year) {
            (Some(d), _, _) => (PeriodKind::Day, d),
            (_, Some(m), _) => (PeriodKind::Month, m),
            (_, _, Some(y)) => (PeriodKind::Year, y),
            _ => bail!("give --day, --month or --year"),
        };
        Ok(Period::parse(kind, text)?)
    }
}

/// Loads the configuration, printing every problem, and sets up logging.
fn setup(path: &Path) -> anyhow::Result<Setup> {
    match setup::load(path) {
        Ok(s) => {
            crate::telemetry::init(
                s.config.log.format.as_deref(),
                s.config.log.level.as_deref(),
            );
            Ok(s)
        }
        Err(e) => {
            crate::telemetry::init(None, None);
            bail!("{e}")
        }
    }
}

/// Connects to the configured database and applies pending migrations.
async fn open_store(s: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(s.storage_url()).await?;
    OPENED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(store.clone());
    store
        .migrate()
        .await
        .with_context(|| format!("migrating {}", redact_url(s.storage_url())))?;
    Ok(store)
}

/// What most commands start with: the configuration, then the migrated store.
async fn setup_and_store(path: &Path) -> anyhow::Result<(Setup, Store)> {
    let s = setup(path)?;
    let store = open_store(&s).await?;
    Ok((s, store))
}

/// A `YYYY-MM` argument.
fn month(text: &str) -> anyhow::Result<Period> {
    Ok(Period::parse_month(text)?)
}

/// Today in the configuration's default zone (closing and appeal deadlines).
fn today_local(s: &Settings) -> LocalDay {
    today(s.default_tz)
}

/// `--format csv` of a list as `--format json` prints it: the `columns`
/// of each object, null as an empty field, so the two cannot disagree.
fn csv_of(list: &Value, columns: &[&str]) -> anyhow::Result<String> {
    let rows = list.as_array().into_iter().flatten().map(|obj| {
        columns.iter().map(|c| match &obj[*c] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            v => v.to_string(),
        })
    });
    Ok(csv_table(columns, rows)?)
}

/// Keeps bad rows of an import of `file` in `rejects` under a
/// pseudo-connector, in place of those an earlier import of it left; an
/// import with any is an error (its good rows stay imported).
async fn keep_rejects(
    store: &Store,
    kind: &str,
    file: &str,
    rejects: Vec<Reject>,
) -> anyhow::Result<()> {
    let bad = rejects.len();
    let batch = Batch {
        rejects,
        replaces_rejects_of: Some(file.to_string()),
        ..Default::default()
    };
    store.commit_batch(kind, &batch).await?;
    if bad > 0 {
        bail!("{bad} row(s) of {file} were rejected (kept in table `rejects`); the others were imported");
    }
    Ok(())
}

/// A bad row of an import, printed as it is found.
fn reject(file: &str, row: &imports::Row, reason: String) -> Reject {
    println!("  rejected {file} line {}: {reason}", row.line);
    Reject {
        source: file.to_string(),
        locator: format!("line {}", row.line),
        reason,
        raw: row.raw.clone(),
    }
}
