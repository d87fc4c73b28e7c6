//! The command line: `kpid run | ingest | compute | report | kpis | alerts | silence | check | migrate`.

use crate::config::{self, redacted_toml, Settings};
use crate::connectors::Window;
use crate::daemon::{self, build_connectors, run_connector_with};
use crate::kpi::catalogue::INPUTS;
use crate::period::{Period, PeriodKind};
use crate::progress::Progress;
use crate::read;
use crate::report::{self, Format};
use crate::schedule::CronSchedule;
use crate::snapshot::compute;
use crate::store::{redact_url, Store};
use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub(crate) mod alerts;
mod scorecards;
mod silence;
use alerts::AlertsCommand;
use scorecards::{AppealCommand, InputCommand, TargetsCommand};
use silence::SilenceCommand;

fn default_by() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

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
    Run {
        /// Run every connector once, compute, and exit.
        #[arg(long)]
        once: bool,
    },
    /// Run connectors once now, optionally over a backfill range.
    Ingest {
        /// Only this connector (repeatable).
        #[arg(long = "connector")]
        connectors: Vec<String>,
        /// First local day of a backfill (YYYY-MM-DD).
        #[arg(long, requires = "to")]
        from: Option<NaiveDate>,
        /// Last local day of a backfill, inclusive.
        #[arg(long, requires = "from")]
        to: Option<NaiveDate>,
    },
    /// Compute KPI snapshots for a period (a new revision only when values changed).
    Compute {
        #[command(flatten)]
        period: PeriodArgs,
        #[arg(long)]
        shop: Option<String>,
    },
    /// Print the latest snapshot revision of a period (or, with
    /// --scorecards, the people's scorecards).
    Report {
        #[command(flatten)]
        period: PeriodArgs,
        #[arg(long, conflicts_with = "scorecards")]
        shop: Option<String>,
        /// People's scorecards instead of shop snapshots.
        #[arg(long)]
        scorecards: bool,
        /// One person's scorecard (with --scorecards).
        #[arg(long, requires = "scorecards")]
        person: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Write to this file instead of standard output (needed for xlsx).
        #[arg(long)]
        output: Option<PathBuf>,
        /// A given revision instead of the latest.
        #[arg(long)]
        revision: Option<i64>,
    },
    /// Close a month: compute its final scorecards and freeze them.
    Close {
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// Who closes it (recorded); defaults to $USER.
        #[arg(long, default_value_t = default_by())]
        by: String,
    },
    /// Appeals against closed scorecards.
    Appeal {
        #[command(subcommand)]
        action: AppealCommand,
    },
    /// Manual inputs (teamwork reviews, surveys, complaints), audited.
    Input {
        #[command(subcommand)]
        action: InputCommand,
    },
    /// Targets in force; bulk import from CSV/XLSX.
    Targets {
        #[command(subcommand)]
        action: TargetsCommand,
    },
    /// List the KPI catalogue (built-in and configured).
    Kpis {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// List the inputs (daily CSV columns) instead.
        #[arg(long)]
        inputs: bool,
    },
    /// List recent scheduled runs: job, tick, replica, status and counts.
    Runs {
        /// Only this job (a connector name or `snapshot:<shop>`).
        #[arg(long)]
        job: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Alerts: evaluate rules, list alerts and notifications, test channels, send digests.
    Alerts {
        #[command(subcommand)]
        action: AlertsCommand,
    },
    /// Silences: alerts matching them change state but send nothing.
    Silence {
        #[command(subcommand)]
        action: SilenceCommand,
    },
    /// Validate the configuration and show what would run when.
    Check,
    /// Apply database migrations.
    Migrate,
}

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
fn settings(path: &std::path::Path) -> anyhow::Result<Settings> {
    match config::load(path) {
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

async fn open_store(s: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(s.storage_url()).await?;
    store
        .migrate()
        .await
        .with_context(|| format!("migrating {}", redact_url(s.storage_url())))?;
    Ok(store)
}

fn selected_shops<'a>(
    s: &'a Settings,
    shop: &Option<String>,
) -> anyhow::Result<Vec<&'a config::Shop>> {
    match shop {
        Some(id) => Ok(vec![s
            .shop(id)
            .with_context(|| format!("no shop `{id}` in {}", s.file.display()))?]),
        None => Ok(s.shops.iter().collect()),
    }
}

/// Runs a parsed command line; the error is printed by `main`.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { once } => {
            let s = Arc::new(settings(&cli.config)?);
            let store = open_store(&s).await?;
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                daemon::stop_signal().await;
                trigger.cancel();
            });
            if once {
                daemon::run_once(s, store, shutdown).await
            } else {
                daemon::run(s, store, shutdown).await
            }
        }
        Command::Ingest {
            connectors,
            from,
            to,
        } => {
            let s = settings(&cli.config)?;
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    bail!("--from {f} is after --to {t}");
                }
            }
            let store = open_store(&s).await?;
            let built = build_connectors(&s, &connectors)?;
            let window = Window { from, to };
            let mut failed = Vec::new();
            for c in &built {
                // A bar on a terminal, log lines otherwise; both on stderr.
                let progress = Progress::auto(c.name());
                let run = run_connector_with(&store, c, window, None, progress).await;
                println!(
                    "{}: {} records read, {} stored or changed, {} rejected, {} files imported, {} unchanged files skipped ({:.1}s)",
                    run.connector,
                    run.stats.records,
                    run.stats.changed,
                    run.stats.rejects,
                    run.stats.files_imported,
                    run.stats.files_skipped,
                    run.elapsed.as_secs_f64()
                );
                for r in run.rejects.iter().take(20) {
                    println!("  rejected {} {}: {}", r.source, r.locator, r.reason);
                }
                if run.stats.rejects > 20 {
                    println!("  … and {} more (table `rejects`)", run.stats.rejects - 20);
                }
                if run.stats.duplicates > 0 {
                    println!(
                        "  {} row(s) repeated the key of an earlier row of their file; the last row of each key was kept",
                        run.stats.duplicates
                    );
                }
                if let Some(e) = run.error {
                    println!("  FAILED: {e}");
                    failed.push(run.connector);
                }
            }
            if !failed.is_empty() {
                bail!("connector(s) failed: {}", failed.join(", "));
            }
            Ok(())
        }
        Command::Compute { period, shop } => {
            let s = settings(&cli.config)?;
            let period = period.period()?;
            let store = open_store(&s).await?;
            for shop in selected_shops(&s, &shop)? {
                let c = compute(&s, &store, shop, period).await?;
                println!(
                    "{} {}: revision {} ({})",
                    c.shop,
                    c.period,
                    c.revision,
                    if c.new_revision { "new" } else { "unchanged" }
                );
            }
            scorecards::compute(&s, &store, period, shop.as_deref()).await
        }
        Command::Report {
            period,
            shop,
            scorecards: true,
            person,
            format,
            output,
            revision,
        } => {
            let _ = shop;
            let s = settings(&cli.config)?;
            let period = period.period()?;
            let store = open_store(&s).await?;
            scorecards::report(
                &s,
                &store,
                period,
                person.as_deref(),
                revision,
                format,
                output.as_deref(),
            )
            .await
        }
        Command::Report {
            period,
            shop,
            format,
            revision,
            output,
            ..
        } => {
            if output.is_some() || format == Format::Xlsx {
                bail!("--output and --format xlsx are for --scorecards");
            }
            let s = settings(&cli.config)?;
            let period = period.period()?;
            let store = open_store(&s).await?;
            let snaps = read::snapshots(&s, &store, period, shop.as_deref(), revision).await?;
            match format {
                Format::Table => {
                    for snap in &snaps {
                        println!("{}", report::snapshot_table(snap, &s.catalogue));
                    }
                }
                Format::Json => {
                    let value = read::snapshots_json(&snaps, &s.catalogue, shop.is_some());
                    println!("{}", serde_json::to_string_pretty(&value)?);
                }
                Format::Csv => {
                    let text = read::snapshots_csv(&snaps, &s.catalogue)?;
                    print!("{}", String::from_utf8(text)?);
                }
                Format::Xlsx => unreachable!("refused above"),
            }
            Ok(())
        }
        Command::Close { month, by } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            scorecards::close(&s, &store, &month, &by).await
        }
        Command::Appeal { action } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            scorecards::appeal(&s, &store, action).await
        }
        Command::Input { action } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            scorecards::input(&s, &store, action).await
        }
        Command::Targets { action } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            scorecards::targets(&s, &store, action).await
        }
        Command::Kpis { format, inputs } => {
            // The catalogue includes user KPIs when a valid config is at hand.
            let cat = match config::load(&cli.config) {
                Ok(s) => s.catalogue,
                Err(_) => crate::kpi::Catalogue::builtin(),
            };
            print_catalogue(&cat, format, inputs)
        }
        Command::Check => {
            let s = match config::load(&cli.config) {
                Ok(s) => s,
                Err(e) => {
                    eprint!("{e}");
                    bail!("{} is not valid", cli.config.display());
                }
            };
            println!(
                "# {} is valid. Effective configuration (secrets hidden):\n",
                cli.config.display()
            );
            println!("{}", redacted_toml(&s.config));
            if !s.alerts.channels.is_empty() {
                // Channel tables hold secrets (robot URLs): names and kinds only.
                println!("# Alert channels (secrets hidden):");
                for c in &s.alerts.channels {
                    println!("{:<28} {}", c.name, c.describe());
                }
                println!();
            }
            print_listener(&s);
            println!("# Connector kinds from definitions:");
            for d in s.definitions.iter() {
                println!("{:<28} {} [{}]", d.kind, d.description, d.source);
            }
            println!("\n# Next runs:");
            let now = Utc::now();
            for c in &s.config.connectors {
                match s.connector_schedules.get(&c.name).and_then(|x| x.as_ref()) {
                    Some(sched) => {
                        println!("{:<28} {:<18} {}", c.name, sched.source(), runs(sched, now))
                    }
                    None => println!(
                        "{:<28} (no schedule: `kpid ingest` and `run --once` only)",
                        c.name
                    ),
                }
            }
            for shop in &s.shops {
                let sched = CronSchedule::parse(&s.config.snapshot.schedule, shop.tz)?;
                println!(
                    "{:<28} {:<18} {}",
                    format!("snapshot:{}", shop.id),
                    sched.source(),
                    runs(&sched, now)
                );
            }
            for d in &s.alerts.digests {
                for shop in s.shops.iter().filter(|x| d.shops.contains(&x.id)) {
                    if let Some(sched) = d.schedule_in(shop.tz) {
                        println!(
                            "{:<28} {:<18} {}",
                            format!("digest:{}:{}", d.name, shop.id),
                            sched.source(),
                            runs(&sched, now)
                        );
                    }
                }
            }
            let notes: Vec<String> = s
                .config
                .connectors
                .iter()
                .filter_map(|c| crate::connectors::declarative::aliases::note(&c.name, &c.kind))
                .collect();
            if !notes.is_empty() {
                println!("\n# Notes:");
                for n in &notes {
                    println!("note: {n}");
                }
            }
            let warnings = scorecards::check_warnings(&s).await;
            if !warnings.is_empty() {
                println!("\n# Warnings:");
                for w in &warnings {
                    println!("warning: {w}");
                }
            }
            Ok(())
        }
        Command::Alerts { action } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            alerts::run(&s, &store, action).await
        }
        Command::Silence { action } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            silence::run(&store, action).await
        }
        Command::Runs { job, limit, format } => {
            let s = settings(&cli.config)?;
            let store = open_store(&s).await?;
            let runs = store.recent_runs(job.as_deref(), limit).await?;
            print_runs(&runs, format)
        }
        Command::Migrate => {
            let s = settings(&cli.config)?;
            open_store(&s).await?;
            println!("migrations applied to {}", redact_url(s.storage_url()));
            Ok(())
        }
    }
}

/// What `kpid check` says about the HTTP listener and its token (never the token).
fn print_listener(s: &Settings) {
    let server = &s.config.server;
    println!("# HTTP listener:");
    if server.listen.is_empty() {
        println!("off (server.listen is empty)\n");
        return;
    }
    let token = match (&s.server_token, &server.token_env, &server.token_file) {
        (None, _, _) => {
            "no token: the dashboard, API and /metrics are open to whoever reaches the address"
                .to_string()
        }
        (Some(_), Some(var), _) => format!("token set (from ${var}, hidden)"),
        (Some(_), _, Some(file)) => format!("token set (from {file}, hidden)"),
        (Some(_), _, _) => "token set (inline, hidden)".to_string(),
    };
    println!("listen       {}", server.listen);
    println!("dashboard    http://{}/", server.listen);
    println!("token        {token}");
    if s.server_token.is_some() {
        println!("protected    /metrics and /api/v1/ need `Authorization: Bearer <token>`; /healthz and /readyz do not");
    }
    if let Some(why) = crate::server::refuse_public_without_token(s) {
        println!("warning: `kpid run` will refuse to start: {why}");
    }
    println!();
}

fn runs(sched: &CronSchedule, now: chrono::DateTime<Utc>) -> String {
    sched
        .upcoming(now, 3)
        .iter()
        .map(|t| {
            t.with_timezone(&sched.timezone())
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_catalogue(
    cat: &crate::kpi::Catalogue,
    format: Format,
    inputs: bool,
) -> anyhow::Result<()> {
    if format == Format::Xlsx {
        bail!("--format xlsx is for `report --scorecards`");
    }
    if inputs {
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(INPUTS)?),
            _ => {
                for i in INPUTS {
                    println!(
                        "{:<34} {:<10} {:<9} {} / {}",
                        i.id,
                        i.unit.as_str(),
                        format!("{:?}", i.aggregation).to_lowercase(),
                        i.name_zh,
                        i.name_en
                    );
                }
            }
        }
        return Ok(());
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&read::kpis_json(cat))?),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "id",
                "name_zh",
                "name_en",
                "formula",
                "unit",
                "direction",
                "category",
                "builtin",
            ])?;
            for k in cat.iter() {
                w.write_record([
                    k.id.as_str(),
                    &k.name_zh,
                    &k.name_en,
                    &k.formula,
                    k.unit.as_str(),
                    &format!("{:?}", k.direction).to_lowercase(),
                    &k.category,
                    if k.builtin { "true" } else { "false" },
                ])?;
            }
            print!("{}", String::from_utf8(w.into_inner()?)?);
        }
        Format::Table | Format::Xlsx => {
            for k in cat.iter() {
                println!(
                    "{:<26} {:<8} {:<5} {:<13} {:<56} {} / {}",
                    k.id,
                    k.unit.as_str(),
                    format!("{:?}", k.direction).to_lowercase(),
                    k.category,
                    k.formula,
                    k.name_zh,
                    k.name_en
                );
            }
        }
    }
    Ok(())
}

fn print_runs(runs: &[crate::store::JobRun], format: Format) -> anyhow::Result<()> {
    if format == Format::Xlsx {
        bail!("--format xlsx is for `report --scorecards`");
    }
    let time = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&read::runs_json(runs))?),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "job",
                "tick",
                "owner",
                "status",
                "attempts",
                "started_at",
                "finished_at",
                "records",
                "changed",
                "rejects",
                "detail",
                "error",
            ])?;
            for r in runs {
                w.write_record([
                    r.job.clone(),
                    time(r.tick),
                    r.owner.clone(),
                    r.status.clone(),
                    r.attempts.to_string(),
                    time(r.started_at),
                    r.finished_at.map(time).unwrap_or_default(),
                    r.records.to_string(),
                    r.changed.to_string(),
                    r.rejects.to_string(),
                    r.detail.clone(),
                    r.error.clone().unwrap_or_default(),
                ])?;
            }
            print!("{}", String::from_utf8(w.into_inner()?)?);
        }
        Format::Table | Format::Xlsx => {
            println!(
                "{:<26} {:<26} {:<28} {:<12} {:>8} {:>8} {:>8} {:>9}  error",
                "job", "tick", "owner", "status", "records", "changed", "rejects", "seconds"
            );
            for r in runs {
                let secs = r
                    .finished_at
                    .map(|f| (f - r.started_at).to_string())
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<26} {:<26} {:<28} {:<12} {:>8} {:>8} {:>8} {:>9}  {}",
                    r.job,
                    time(r.tick),
                    r.owner,
                    r.status,
                    r.records,
                    r.changed,
                    r.rejects,
                    secs,
                    r.error.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
