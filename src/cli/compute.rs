//! `kpid compute`: snapshots of a period for every shop (or one), then the
//! people's scorecards of a month or year.

use super::PeriodArgs;
use crate::kpi::FactsCache;
use crate::period::Period;
use crate::scorecard;
use crate::settings::{Settings, Shop};
use crate::snapshot::compute_many;
use crate::store::Store;
use anyhow::Context;
use clap::Args;
use std::path::Path;

/// Compute KPI snapshots for a period (a new revision only when values changed).
#[derive(Debug, Args)]
pub struct Compute {
    #[command(flatten)]
    period: PeriodArgs,
    #[arg(long)]
    shop: Option<String>,
}

impl Compute {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let s = super::setup(config)?;
        let period = self.period.period()?;
        let store = super::open_store(&s).await?;
        // All shops at once: the period's facts are read in a few set-based
        // queries and the revisions written in batches; the scorecards
        // then take the same facts instead of reading them again.
        let shops = selected_shops(&s, &self.shop)?;
        let facts = FactsCache::default();
        for c in compute_many(&s, &store, &facts, &shops, period).await? {
            println!(
                "{} {}: revision {} ({})",
                c.shop,
                c.period,
                c.revision,
                if c.new_revision { "new" } else { "unchanged" }
            );
        }
        compute_scorecards(&s, &store, &facts, period, self.shop.as_deref()).await
    }
}

fn selected_shops<'a>(s: &'a Settings, shop: &Option<String>) -> anyhow::Result<Vec<&'a Shop>> {
    match shop {
        Some(id) => Ok(vec![s
            .shop(id)
            .with_context(|| format!("no shop `{id}` in {}", s.file.display()))?]),
        None => Ok(s.shops.iter().collect()),
    }
}

/// Prints what `kpid compute` did to scorecards.
async fn compute_scorecards(
    s: &Settings,
    store: &Store,
    facts: &FactsCache,
    period: Period,
    shop: Option<&str>,
) -> anyhow::Result<()> {
    if matches!(period, Period::Day(_)) || s.people.is_empty() {
        return Ok(());
    }
    for r in scorecard::refresh_all(s, store, facts, period, shop).await? {
        let state = if r.frozen {
            "closed, unchanged"
        } else if r.new_revision {
            "new"
        } else {
            "unchanged"
        };
        println!(
            "scorecard {} {}: revision {} ({state}), total {}, grade {}",
            r.card.person,
            r.card.period,
            r.card.revision,
            r.card
                .total
                .map(|t| crate::format::fixed(t, 2))
                .unwrap_or_else(|| "n/a".into()),
            r.card.grade.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
