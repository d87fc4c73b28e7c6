//! `kpid migrate`: applies the database migrations and says where.

use crate::store::redact_url;
use clap::Args;
use std::path::Path;

/// Apply database migrations.
#[derive(Debug, Args)]
pub struct Migrate {}

impl Migrate {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let (s, _) = super::setup_and_store(config).await?;
        println!("migrations applied to {}", redact_url(s.storage_url()));
        Ok(())
    }
}
