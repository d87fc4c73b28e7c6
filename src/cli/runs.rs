//! `kpid runs`: recent scheduled runs (job, tick, replica, status, counts).

use super::{csv_of, rfc3339};
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
        Format::Csv => print!("{}", runs_csv(runs)?),
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

/// `kpid runs --format csv`: every field of `--format json`.
fn runs_csv(runs: &[JobRun]) -> anyhow::Result<String> {
    csv_of(
        &read::runs_json(runs),
        &[
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
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_csv_has_a_column_per_json_field_and_leaves_null_ones_empty() {
        let run = JobRun {
            job: "shop-a".into(),
            tick: 0,
            owner: "host-1".into(),
            status: "running".into(),
            attempts: 2,
            started_at: 60,
            finished_at: None,
            records: 5,
            changed: 3,
            rejects: 1,
            detail: "a, \"b\"".into(),
            error: None,
        };
        assert_eq!(
            runs_csv(&[run]).unwrap(),
            "job,tick,owner,status,attempts,started_at,finished_at,records,changed,rejects,detail,error\n\
             shop-a,1970-01-01T00:00:00+00:00,host-1,running,2,1970-01-01T00:01:00+00:00,,5,3,1,\"a, \"\"b\"\"\",\n"
        );
    }
}
