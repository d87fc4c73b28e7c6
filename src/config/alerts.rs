//! `[alerts]` as written: rules, digests and channels. Their validation
//! into rules ready to evaluate is the alerts component's
//! (the alerts component's `config` module).

use super::default_true;
use crate::ids::ShopId;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Message language (`[alerts] language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

fn default_repeat_interval() -> String {
    "4h".into()
}
fn default_for() -> u32 {
    1
}
/// The severity of a rule that names none (the built-in rule's too).
pub(crate) fn default_severity() -> String {
    "warning".into()
}

/// The `[alerts]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(default)]
    pub language: Language,
    /// `4h`, `30m`, `1h 30m`: a still-firing alert is sent again after this.
    #[serde(default = "default_repeat_interval")]
    pub repeat_interval: String,
    #[serde(default = "default_true")]
    pub send_resolved: bool,
    /// Channels of the built-in rule: every KPI with a target, month to date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub below_target: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dashboard_url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<DigestConfig>,
    /// Channels carry secrets (robot URLs hold tokens): never printed back;
    /// `kpid check` lists their names and kinds only.
    #[serde(default, skip_serializing)]
    pub channels: Vec<ChannelConfig>,
}

/// A configuration without `[alerts]` gets the same defaults as an empty table.
impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            language: Language::default(),
            repeat_interval: default_repeat_interval(),
            send_resolved: default_true(),
            below_target: Vec::new(),
            dashboard_url: String::new(),
            rules: Vec::new(),
            digests: Vec::new(),
            channels: Vec::new(),
        }
    }
}

/// A number written as a string (`"0.9"`) or a TOML number, kept as text so
/// a bad one is reported with its key and line instead of failing the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DecimalText(pub String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            F(f64),
        }
        Ok(DecimalText(match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::F(f) => f.to_string(),
        }))
    }
}

/// One `[[alerts.rules]]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub kpi: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub period: String,
    pub condition: String,
    pub threshold: DecimalText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    #[serde(rename = "for", default = "default_for")]
    pub for_evaluations: u32,
    #[serde(default = "default_severity")]
    pub severity: String,
    pub channels: Vec<String>,
}

/// One `[[alerts.digests]]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    pub name: String,
    /// Crontab, in each shop's zone.
    pub schedule: String,
    /// Default: every shop (resolved when the rules are validated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shops: Vec<ShopId>,
    /// Default: every KPI with a target for the shop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kpis: Vec<String>,
    pub channels: Vec<String>,
}

/// One `[[alerts.channels]]` table. Which keys a kind takes is listed in the
/// README ("Alert channels"); a key the kind does not use is an error.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: String,
    /// The endpoint (a secret: robot URLs carry their token).
    #[serde(default)]
    pub url: Option<SecretString>,
    #[serde(default)]
    pub url_env: Option<String>,
    #[serde(default)]
    pub url_file: Option<String>,
    /// Signing secret (DingTalk, Feishu, webhook).
    #[serde(default)]
    pub secret: Option<SecretString>,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<String>,
    /// Email: `smtp://host[:port]` (STARTTLS) or `smtps://host[:port]` (TLS),
    /// with the user name in the URL.
    #[serde(default)]
    pub smtp_url: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    /// One address or a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub to: Vec<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<String>,
    /// How long one delivery, retries included, may take (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Attempts after the first when the service fails temporarily (default 3).
    #[serde(default)]
    pub retries: Option<u32>,
}

/// `to = "a@example.com"` or `to = ["a@example.com", "b@example.com"]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match <OneOrMany as serde::Deserialize>::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}
