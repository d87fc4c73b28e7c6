//! kpid: an e-commerce KPI daemon.
//!
//! The modules follow the data: connectors fetch records, facts hold them,
//! the KPI engine derives values, snapshots keep them, reports read them, and
//! the daemon schedules it all.

pub mod alerts;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod currency;
pub mod daemon;
pub mod facts;
pub mod format;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod kpi;
pub mod measure;
pub mod metrics;
pub mod money;
pub mod period;
pub mod progress;
pub mod read;
pub mod report;
pub mod schedule;
pub mod scheduler;
pub mod scorecard;
pub mod scoring;
pub mod secrets;
pub mod server;
pub mod settings;
pub mod setup;
pub mod snapshot;
pub mod store;
pub mod targets;
pub mod telemetry;
#[cfg(test)]
mod testing;
