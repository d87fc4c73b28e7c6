//! `kpid report`: the latest (or a given) snapshot revision of a period as a
//! table, JSON or CSV; with `--scorecards`, the people's scorecards (also
//! as XLSX).

use super::PeriodArgs;
use crate::period::Period;
use crate::read;
use crate::report::{self, Format};
use crate::scorecard::export::{self, CardView};
use crate::settings::Settings;
use crate::store::Store;
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};

/// Print the latest snapshot revision of a period (or, with --scorecards,
/// the people's scorecards).
#[derive(Debug, Args)]
pub struct Report {
    #[command(flatten)]
    period: PeriodArgs,
    /// One shop's snapshots (not with --scorecards: a person's scorecard
    /// covers all their shops).
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
}

impl Report {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        if self.scorecards {
            let s = super::setup(config)?;
            let period = self.period.period()?;
            let store = super::open_store(&s).await?;
            return scorecards(
                &s,
                &store,
                period,
                self.person.as_deref(),
                self.revision,
                self.format,
                self.output.as_deref(),
            )
            .await;
        }
        if self.output.is_some() || self.format == Format::Xlsx {
            bail!("--output and --format xlsx are for --scorecards");
        }
        let s = super::setup(config)?;
        let period = self.period.period()?;
        let store = super::open_store(&s).await?;
        let shop = self.shop.as_deref();
        let snaps = read::snapshots(&s, &store, period, shop, self.revision).await?;
        match self.format {
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
}

/// `kpid report --scorecards`.
async fn scorecards(
    s: &Settings,
    store: &Store,
    period: Period,
    person: Option<&str>,
    revision: Option<i64>,
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let cards = crate::read::scorecards(store, period, person, revision).await?;
    let views: Vec<CardView> = cards.iter().map(|c| CardView::new(s, c)).collect();
    let text = match format {
        Format::Table => views
            .iter()
            .map(|v| export::card_table(s, v))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Json => {
            serde_json::to_string_pretty(&crate::read::scorecards_json(s, &cards, person))? + "\n"
        }
        Format::Csv => String::from_utf8(export::cards_csv(&views)?)?,
        Format::Xlsx => {
            let out = output.context("--format xlsx needs --output FILE.xlsx")?;
            let bytes = export::workbook(s, &views)?;
            std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} scorecard(s) of {period} written to {}",
                cards.len(),
                out.display()
            );
            return Ok(());
        }
    };
    match output {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?
        }
        None => print!("{text}"),
    }
    Ok(())
}
