//! The configuration validated and assembled for use: shops with their
//! zones, the KPI catalogue, targets, roles, people, scoring and currency
//! rates. It sits above `kpi` and `targets`, whose types it holds, and below
//! the components (connectors, snapshots, scorecards, alerts) that read it;
//! `crate::setup` adds their checks and parts (connector definitions, alert
//! rules) on top.

pub mod refund_sources;
mod validate;

pub use validate::{validate, Checked};

use crate::config::{Config, ConnectorConfig};
use crate::currency::Rates;
use crate::kpi::Catalogue;
use crate::schedule::CronSchedule;
use crate::scoring::Scoring;
use crate::targets::roles::{Person, Role};
use crate::targets::Target;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::ids::ShopId;

/// A shop with its zone resolved.
#[derive(Debug, Clone)]
pub struct Shop {
    pub id: ShopId,
    pub tz: Tz,
    pub currency: String,
}

/// A configuration that passed validation, with parsed parts ready for use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub file: PathBuf,
    pub shops: Vec<Shop>,
    pub default_tz: Tz,
    pub catalogue: Catalogue,
    pub connector_schedules: BTreeMap<String, Option<CronSchedule>>,
    /// Configured targets (imported ones are in the database).
    pub targets: Vec<Target>,
    /// Built-in roles with the configured ones applied.
    pub roles: Vec<Role>,
    pub people: Vec<Person>,
    pub scoring: Scoring,
    /// Currency conversion rates (`[currency]`).
    pub rates: Rates,
    /// Which definition kinds deliver refunds (filled in by `crate::setup`,
    /// which loads the definitions).
    pub refund_kinds: refund_sources::RefundKinds,
    /// `[server] token` resolved (from the file, variable or inline value).
    pub server_token: Option<secrecy::SecretString>,
}

impl Settings {
    pub fn shop(&self, id: &str) -> Option<&Shop> {
        self.shops.iter().find(|s| s.id == id)
    }

    /// The zone a connector's schedule runs in: its shop's, else the global one.
    pub fn connector_tz(&self, c: &ConnectorConfig) -> Tz {
        c.shop
            .as_deref()
            .and_then(|s| self.shop(s))
            .map(|s| s.tz)
            .unwrap_or(self.default_tz)
    }

    pub fn role(&self, id: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }

    pub fn storage_url(&self) -> &str {
        &self.config.storage.url
    }
}
