//! `kpid kpis [--inputs]`: the KPI catalogue (built-in and configured), or
//! the inputs a daily CSV may carry.

use super::csv_of;
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
        Format::Csv => print!("{}", kpis_csv(cat)?),
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

/// `kpid kpis --format csv`: the fields of `--format json` but `sums_over_days`.
fn kpis_csv(cat: &Catalogue) -> anyhow::Result<String> {
    csv_of(
        &read::kpis_json(cat),
        &[
            "id",
            "name_zh",
            "name_en",
            "formula",
            "unit",
            "direction",
            "category",
            "builtin",
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kpis_csv_has_a_row_per_kpi_with_its_json_fields() {
        let cat = Catalogue::builtin();
        let text = kpis_csv(&cat).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("id,name_zh,name_en,formula,unit,direction,category,builtin")
        );
        assert_eq!(lines.next(), Some("gmv,成交额,GMV,gmv,money,up,sales,true"));
        assert_eq!(text.lines().count(), cat.iter().count() + 1);
    }
}
