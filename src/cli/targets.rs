//! `kpid targets import | list`: the targets in force, bulk import from CSV/XLSX.

use super::{keep_rejects, reject, Action};
use crate::format::csv_table;
use crate::report::Format;
use crate::scorecard::imports;
use crate::setup::Setup;
use crate::store::Store;
use crate::targets::TargetBook;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// Import targets from CSV/XLSX: kpi, period, value[, shop | person | role].
    Import { file: PathBuf },
    /// Every target in force (configured and imported).
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

impl Action for TargetsCommand {
    async fn run(self, s: &Setup, store: &Store) -> anyhow::Result<()> {
        match self {
            TargetsCommand::Import { file } => {
                let name = file.display().to_string();
                let rows = imports::read_rows(&file)?;
                let mut book = TargetBook::load(&s.targets, store).await?;
                let (mut good, mut rejects) = (Vec::new(), Vec::new());
                for row in &rows {
                    match imports::target_row(s, row, &name) {
                        Ok(t) => match book.clash_with(&t) {
                            Some(other) => rejects.push(reject(
                                &name,
                                row,
                                format!(
                                    "the months {} overlap {} of {} for `{}` ({})",
                                    t.period, other.period, other.source, t.kpi, t.scope
                                ),
                            )),
                            None => {
                                book.insert(t.clone());
                                good.push(t);
                            }
                        },
                        Err(reason) => rejects.push(reject(&name, row, reason.to_string())),
                    }
                }
                let changed = crate::targets::import(store, &good, &name).await?;
                println!(
                    "{name}: {} rows, {} targets taken ({changed} new or changed), {} rejected",
                    rows.len(),
                    good.len(),
                    rejects.len()
                );
                keep_rejects(store, "targets-import", &name, rejects).await?;
            }
            TargetsCommand::List { format } => {
                let book = TargetBook::load(&s.targets, store).await?;
                let mut list: Vec<_> = book.iter().collect();
                list.sort_by(|a, b| {
                    (&a.kpi, &a.scope, a.period.to_string()).cmp(&(
                        &b.kpi,
                        &b.scope,
                        b.period.to_string(),
                    ))
                });
                match format {
                    Format::Json => {
                        let v: Vec<_> = list
                            .iter()
                            .map(|t| {
                                serde_json::json!({
                                    "kpi": t.kpi, "scope": t.scope.kind(), "scope_id": t.scope.id(),
                                    "period": t.period.to_string(),
                                    "value": crate::format::json_number(Some(t.value)),
                                    "source": t.source.to_string(),
                                })
                            })
                            .collect();
                        println!("{}", serde_json::to_string_pretty(&v)?);
                    }
                    Format::Csv => {
                        let header = ["kpi", "scope", "scope_id", "period", "value", "source"];
                        let rows = list.iter().map(|t| {
                            [
                                t.kpi.to_string(),
                                t.scope.kind().to_string(),
                                t.scope.id().to_string(),
                                t.period.to_string(),
                                t.value.normalize().to_string(),
                                t.source.to_string(),
                            ]
                        });
                        print!("{}", csv_table(&header, rows)?);
                    }
                    _ => {
                        println!(
                            "{:<26} {:<24} {:<18} {:>14}  source",
                            "kpi", "scope", "period", "value"
                        );
                        for t in list {
                            println!(
                                "{:<26} {:<24} {:<18} {:>14}  {}",
                                t.kpi,
                                t.scope.to_string(),
                                t.period.to_string(),
                                t.value.normalize().to_string(),
                                t.source
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
