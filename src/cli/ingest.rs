//! `kpid ingest`: connectors once now, optionally over a backfill range,
//! with a progress bar (or log lines) on stderr and a summary on stdout.

use crate::connectors::Window;
use crate::jobs::{build_connectors, run_connector_with, ConnectorRun};
use crate::period::LocalDay;
use crate::progress::Progress;
use anyhow::bail;
use clap::Args;
use std::path::Path;

/// How many rejected rows of a run are printed; the rest stay in `rejects`.
const SHOWN_REJECTS: usize = 20;

/// Run connectors once now, optionally over a backfill range.
#[derive(Debug, Args)]
pub struct Ingest {
    /// Only this connector (repeatable).
    #[arg(long = "connector")]
    connectors: Vec<String>,
    /// First local day of a backfill (YYYY-MM-DD).
    #[arg(long, requires = "to")]
    from: Option<LocalDay>,
    /// Last local day of a backfill, inclusive.
    #[arg(long, requires = "from")]
    to: Option<LocalDay>,
}

impl Ingest {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let s = super::setup(config)?;
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f > t {
                bail!("--from {f} is after --to {t}");
            }
        }
        let store = super::open_store(&s).await?;
        let built = build_connectors(&s, &self.connectors)?;
        let window = Window {
            from: self.from,
            to: self.to,
        };
        let mut failed = Vec::new();
        for c in &built {
            // A bar on a terminal, log lines otherwise; both on stderr.
            let progress = Progress::auto(c.name());
            let run = run_connector_with(&store, c, window, None, progress).await;
            print_run(&run);
            if run.error.is_some() {
                failed.push(run.connector);
            }
        }
        if !failed.is_empty() {
            bail!("connector(s) failed: {}", failed.join(", "));
        }
        Ok(())
    }
}

fn print_run(run: &ConnectorRun) {
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
    for r in run.rejects.iter().take(SHOWN_REJECTS) {
        println!("  rejected {} {}: {}", r.source, r.locator, r.reason);
    }
    if run.stats.rejects > SHOWN_REJECTS as u64 {
        println!(
            "  … and {} more (table `rejects`)",
            run.stats.rejects - SHOWN_REJECTS as u64
        );
    }
    if run.stats.duplicates > 0 {
        println!(
            "  {} row(s) repeated the key of an earlier row of their file; the last row of each key was kept",
            run.stats.duplicates
        );
    }
    if let Some(e) = &run.error {
        println!("  FAILED: {e}");
    }
}
