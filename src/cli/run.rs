//! `kpid run [--once]`: the daemon until Ctrl-C or SIGTERM, or every job once.

use crate::daemon;
use clap::Args;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Run the daemon: connectors on their schedules and the nightly snapshot job.
#[derive(Debug, Args)]
pub struct Run {
    /// Run every connector once, compute, and exit.
    #[arg(long)]
    once: bool,
}

impl Run {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let (s, store) = super::setup_and_store(config).await?;
        let s = Arc::new(s);
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            daemon::stop_signal().await;
            trigger.cancel();
        });
        if self.once {
            daemon::run_once(s, store, shutdown).await
        } else {
            daemon::run(s, store, shutdown).await
        }
    }
}
