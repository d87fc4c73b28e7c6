//! `kpid runs`: recent scheduled runs (job, tick, replica, status, counts).

use super::rfc3339;
use crate::format::csv_table;
use crate::read;
use crate::report::Format;
use crate::store::JobRun;
use anyhow::bail;
use clap::Args;
use std::path::Path;

/// List recent scheduled runs: job, tick, replica, status and counts.
#[derive(Debug, Args)]
pub struct Runs {
    /// Only this job (a connector name or `snapshot:<shop>`).
    #[arg(long)]
    job: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: i64,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

impl Runs {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let (_, store) = super::setup_and_store(config).await?;
        let runs = store.recent_runs(self.job.as_deref(), self.limit).await?;
        print_runs(&runs, self.format)
    }
}

fn print_runs(runs: &[JobRun], format: Format) -> anyhow::Result<()> {
    if format == Format::Xlsx {
        bail!("--format xlsx is for `report --scorecards`");
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&read::runs_json(runs))?),
        Format::Csv => {
            let header = [
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
            ];
            let rows = runs.iter().map(|r| {
                [
                    r.job.clone(),
                    rfc3339(r.tick),
                    r.owner.clone(),
                    r.status.clone(),
                    r.attempts.to_string(),
                    rfc3339(r.started_at),
                    r.finished_at.map(rfc3339).unwrap_or_default(),
                    r.records.to_string(),
                    r.changed.to_string(),
                    r.rejects.to_string(),
                    r.detail.clone(),
                    r.error.clone().unwrap_or_default(),
                ]
            });
            print!("{}", csv_table(&header, rows)?);
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
                    rfc3339(r.tick),
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
