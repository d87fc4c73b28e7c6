//! `kpid kpis [--inputs]`: the KPI catalogue (built-in and configured), or
//! the inputs a daily CSV may carry.

use crate::format::csv_table;
use crate::kpi::catalogue::INPUTS;
use crate::kpi::Catalogue;
use crate::read;
use crate::report::Format;
use crate::setup;
use anyhow::bail;
use clap::Args;
use std::path::Path;

/// List the KPI catalogue (built-in and configured).
#[derive(Debug, Args)]
pub struct Kpis {
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// List the inputs (daily CSV columns) instead.
    #[arg(long)]
    inputs: bool,
}

impl Kpis {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        // The catalogue includes user KPIs when a valid config is at hand.
        let cat = match setup::load(config) {
            Ok(s) => s.settings.catalogue,
            Err(_) => Catalogue::builtin(),
        };
        print_catalogue(&cat, self.format, self.inputs)
    }
}

fn print_catalogue(cat: &Catalogue, format: Format, inputs: bool) -> anyhow::Result<()> {
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
            let header = [
                "id",
                "name_zh",
                "name_en",
                "formula",
                "unit",
                "direction",
                "category",
                "builtin",
            ];
            let rows = cat.iter().map(|k| {
                [
                    k.id.to_string(),
                    k.name_zh.clone(),
                    k.name_en.clone(),
                    k.formula.clone(),
                    k.unit.as_str().to_string(),
                    format!("{:?}", k.direction).to_lowercase(),
                    k.category.clone(),
                    k.builtin.to_string(),
                ]
            });
            print!("{}", csv_table(&header, rows)?);
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
