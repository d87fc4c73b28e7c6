//! `kpid close --month`: a month's final scorecards, frozen; appeals are
//! taken for the configured working days after.

use super::{month, today_local};
use crate::scorecard;
use clap::Args;
use std::path::Path;

fn default_by() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

/// Close a month: compute its final scorecards and freeze them.
#[derive(Debug, Args)]
pub struct Close {
    /// YYYY-MM.
    #[arg(long)]
    month: String,
    /// Who closes it (recorded); defaults to $USER.
    #[arg(long, default_value_t = default_by())]
    by: String,
}

impl Close {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let (s, store) = super::setup_and_store(config).await?;
        let (s, store, by) = (&s, &store, &self.by);
        let m = month(&self.month)?;
        let today = today_local(s);
        let cards = scorecard::close_month(s, store, m, by, today).await?;
        let due =
            scorecard::workdays::close_due(m, s.scoring.close_working_days, &s.scoring.holidays);
        println!(
            "{m} closed by {by} on {today}: {} scorecard(s) frozen",
            cards.len()
        );
        if today > due {
            println!("note: the scheme's deadline for closing {m} was {due}");
        }
        let deadline = scorecard::workdays::add_working_days(
            today,
            s.scoring.appeal_working_days,
            &s.scoring.holidays,
        );
        println!("appeals are taken until {deadline}");
        Ok(())
    }
}
