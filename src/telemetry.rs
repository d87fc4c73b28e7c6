//! Logging: human-readable on a terminal, JSON for journald or Loki. Logs go
//! to stderr so `kpid report --format json` keeps stdout clean, above the
//! progress bar of `kpid ingest` when one is drawn.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `KPID_LOG` (a tracing filter) wins over
/// the configured level; the default is `info`.
pub fn init(format: Option<&str>, level: Option<&str>) {
    let filter = std::env::var("KPID_LOG")
        .ok()
        .or_else(|| level.map(str::to_string))
        .unwrap_or_else(|| "info".into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::progress::stderr);
    let result = if format == Some("json") {
        builder.json().with_current_span(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init()
    };
    // A second init (tests, repeated CLI calls in one process) keeps the first.
    let _ = result;
}
