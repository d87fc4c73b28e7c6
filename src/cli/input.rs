//! `kpid input set | import | list`: manual inputs (teamwork reviews,
//! surveys, complaints), audited.

use super::{keep_rejects, reject, Action};
use crate::scorecard::imports::{self, check_manual};
use crate::setup::Setup;
use crate::store::{ManualChange, Store};
use clap::Subcommand;
use rust_decimal::Decimal;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum InputCommand {
    /// Set a manual input of a person for a month or year (audited).
    Set {
        #[arg(long)]
        person: String,
        #[arg(long)]
        input: String,
        /// YYYY-MM or YYYY.
        #[arg(long)]
        period: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Import manual inputs from CSV/XLSX: person, input, period, value[, note].
    Import {
        file: PathBuf,
        #[arg(long)]
        by: String,
    },
    /// The manual inputs in force, or with --history every change.
    List {
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        history: bool,
    },
}

impl Action for InputCommand {
    async fn run(self, s: &Setup, store: &Store) -> anyhow::Result<()> {
        match self {
            InputCommand::Set {
                person,
                input,
                period,
                value,
                by,
                note,
            } => {
                let value = crate::money::parse_decimal(value.trim())
                    .map_err(|_| anyhow::anyhow!("--value `{value}` is not a decimal number"))?;
                let period =
                    check_manual(s, &person, &input, &period, value).map_err(anyhow::Error::msg)?;
                let change = ManualChange {
                    person,
                    input,
                    period,
                    old_value: None,
                    new_value: value,
                    changed_by: by,
                    changed_at: 0,
                    note,
                    source: "cli".into(),
                };
                match store.set_manual_input(&change).await? {
                    Some(c) => println!(
                        "{} {} {}: {} → {} (by {})",
                        c.person,
                        c.input,
                        c.period,
                        before(c.old_value, "(none)"),
                        c.new_value.normalize(),
                        c.changed_by
                    ),
                    None => println!(
                        "{} {} {} is already {}: nothing changed",
                        change.person,
                        change.input,
                        change.period,
                        value.normalize()
                    ),
                }
            }
            InputCommand::Import { file, by } => {
                let name = file.display().to_string();
                let rows = imports::read_rows(&file)?;
                let (mut changed, mut rejects) = (0, Vec::new());
                for row in &rows {
                    match imports::manual_row(s, row) {
                        Ok(e) => {
                            let change = ManualChange {
                                person: e.person,
                                input: e.input,
                                period: e.period,
                                old_value: None,
                                new_value: e.value,
                                changed_by: by.clone(),
                                changed_at: 0,
                                note: e.note,
                                source: name.clone(),
                            };
                            if store.set_manual_input(&change).await?.is_some() {
                                changed += 1;
                            }
                        }
                        Err(reason) => rejects.push(reject(&name, row, reason.to_string())),
                    }
                }
                println!(
                    "{name}: {} rows, {changed} changed, {} rejected",
                    rows.len(),
                    rejects.len()
                );
                keep_rejects(store, "input-import", &name, rejects).await?;
            }
            InputCommand::List { person, history } => {
                if history {
                    println!(
                        "{:<20} {:<14} {:<24} {:<8} {:>10} {:>10} {:<12} source / note",
                        "when", "person", "input", "period", "old", "new", "by"
                    );
                    for c in store.manual_history(person.as_deref()).await? {
                        println!(
                            "{:<20} {:<14} {:<24} {:<8} {:>10} {:>10} {:<12} {}{}",
                            time(c.changed_at),
                            c.person,
                            c.input,
                            c.period,
                            before(c.old_value, "-"),
                            c.new_value.normalize().to_string(),
                            c.changed_by,
                            c.source,
                            c.note.map(|n| format!(" / {n}")).unwrap_or_default()
                        );
                    }
                } else {
                    println!(
                        "{:<14} {:<24} {:<8} {:>10} {:<12} {:<20} note",
                        "person", "input", "period", "value", "by", "updated"
                    );
                    for m in store.manual_inputs(person.as_deref()).await? {
                        println!(
                            "{:<14} {:<24} {:<8} {:>10} {:<12} {:<20} {}",
                            m.person,
                            m.input,
                            m.period,
                            m.value.normalize().to_string(),
                            m.updated_by,
                            time(m.updated_at),
                            m.note.unwrap_or_default()
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// The value a change replaced, normalized (`12.50` as `12.5`), or `none`
/// for a first value.
fn before(old: Option<Decimal>, none: &str) -> String {
    old.map(|v| v.normalize().to_string())
        .unwrap_or_else(|| none.to_string())
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}
