//! Alerts: rules over fresh KPI values, a persisted state machine
//! (inactive → pending → firing → resolved), silences, an outbox of
//! notifications, digests, and the channels that deliver them.
//!
//! `message` is the contract between the evaluation side (which decides what
//! to say) and `channels` (which say it in each service's format).

pub mod channels;
pub mod config;
pub mod deliver;
pub mod digest;
pub mod evaluate;
pub mod message;
pub mod state;
