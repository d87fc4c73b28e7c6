//! `kpid appeal open | resolve | list`: appeals against closed scorecards.

use super::{month, today_local, Action};
use crate::report::Format;
use crate::scorecard;
use crate::setup::Setup;
use crate::store::Store;
use anyhow::Context;
use clap::Subcommand;
use rust_decimal::Decimal;

#[derive(Debug, Subcommand)]
pub enum AppealCommand {
    /// Appeal a closed month's scorecard (within the configured working days).
    Open {
        #[arg(long)]
        person: String,
        #[arg(long)]
        month: String,
        #[arg(long)]
        reason: String,
    },
    /// Accept (writing a new scorecard revision) or reject an appeal.
    Resolve {
        id: i64,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        accept: bool,
        #[arg(long)]
        reject: bool,
        /// A KPI value the appeal corrects, `KPI=VALUE` (repeatable, with --accept).
        #[arg(long = "set", requires = "accept")]
        sets: Vec<String>,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: String,
    },
    /// List appeals, newest first.
    List {
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        month: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

fn parse_set(text: &str) -> anyhow::Result<(String, Decimal)> {
    let (k, v) = text
        .split_once('=')
        .with_context(|| format!("--set `{text}`: use KPI=VALUE"))?;
    let v = crate::money::parse_decimal(v.trim())
        .map_err(|_| anyhow::anyhow!("--set `{text}`: `{v}` is not a decimal number"))?;
    Ok((k.trim().to_string(), v))
}

impl Action for AppealCommand {
    async fn run(self, s: &Setup, store: &Store) -> anyhow::Result<()> {
        match self {
            AppealCommand::Open {
                person,
                month: m,
                reason,
            } => {
                let m = month(&m)?;
                let id =
                    scorecard::open_appeal(s, store, &person, m, &reason, today_local(s)).await?;
                println!("appeal #{id} opened for {person} {m}");
            }
            AppealCommand::Resolve {
                id,
                accept,
                reject: _,
                sets,
                by,
                note,
            } => {
                let sets = sets
                    .iter()
                    .map(|t| parse_set(t))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let r = scorecard::resolve_appeal(s, store, id, accept, &sets, &by, &note).await?;
                match r.card {
                    Some(card) => println!(
                        "appeal #{id} accepted: {} {} revision {} (total {}, grade {})",
                        card.person,
                        card.period,
                        card.revision,
                        card.total
                            .map(|t| crate::format::fixed(t, 2))
                            .unwrap_or_else(|| "n/a".into()),
                        card.grade.as_deref().unwrap_or("-")
                    ),
                    None => println!("appeal #{id} rejected"),
                }
            }
            AppealCommand::List {
                person,
                month: m,
                format,
            } => {
                let m = m.as_deref().map(month).transpose()?;
                let appeals = store.appeals(person.as_deref(), m).await?;
                match format {
                    Format::Json => {
                        let list = crate::read::appeals_json(&appeals);
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    }
                    _ => {
                        println!(
                            "{:>4}  {:<14} {:<8} {:<10} {:<9} {:>4} {:>4}  reason / decision",
                            "id", "person", "month", "opened", "status", "rev", "new"
                        );
                        for a in appeals {
                            println!(
                                "{:>4}  {:<14} {:<8} {:<10} {:<9} {:>4} {:>4}  {}{}",
                                a.id,
                                a.person,
                                a.period.to_string(),
                                a.opened_on.to_string(),
                                a.status,
                                a.revision_before,
                                a.revision_after
                                    .map(|r| r.to_string())
                                    .unwrap_or_else(|| "-".into()),
                                a.reason,
                                match (&a.resolved_by, &a.note) {
                                    (Some(by), Some(n)) => format!(" / {by}: {n}"),
                                    _ => String::new(),
                                }
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
