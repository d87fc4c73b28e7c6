//! Configuration: defaults, then the TOML file, then `KPID_…` environment
//! variables (`__` between levels, e.g. `KPID_STORAGE__URL`).
//!
//! Loading never stops at the first problem: `kpid check` wants them all, each
//! naming the file, the key, the line where known, and what is wrong.

mod alerts;
pub(crate) mod collect;
mod load;
mod redact;
mod tree;

pub(crate) use alerts::default_severity;
pub use alerts::{AlertsConfig, ChannelConfig, DecimalText, DigestConfig, Language, RuleConfig};
pub use load::{line_of_key, read, Origins};
pub(crate) use redact::json_to_toml;
pub use redact::redacted_toml;

use crate::secrets::redact_url;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

fn default_timezone() -> String {
    "Asia/Shanghai".into()
}
fn default_currency() -> String {
    "CNY".into()
}
fn default_true() -> bool {
    true
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Default IANA time zone of shops that name none.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub shops: Vec<ShopConfig>,
    #[serde(default)]
    pub connectors: Vec<ConnectorConfig>,
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Converting money where a scope covers shops of different currencies.
    #[serde(default)]
    pub currency: CurrencyConfig,
    #[serde(default)]
    pub kpis: Vec<UserKpiConfig>,
    /// Scorecard roles; built-in ones are replaced by an entry with their id.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// People assessed by scorecards.
    #[serde(default)]
    pub people: Vec<PersonConfig>,
    #[serde(default)]
    pub scoring: ScoringConfig,
    #[serde(default)]
    pub snapshot: SnapshotConfig,
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Folders of connector definitions (`*.toml`) for platforms kpid has
    /// no built-in kind for, relative to this file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub definitions: Vec<String>,
    /// Alert rules, digests and channels (the alerts component's `config` module).
    #[serde(default)]
    pub alerts: AlertsConfig,
}

/// The HTTP listener: health, readiness, metrics, the API and the dashboard.
/// A key left out takes its value from [`Default`], the one place the
/// defaults are written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `host:port`; loopback by default so nothing is exposed by accident.
    /// An empty string turns the listener off.
    pub listen: String,
    /// The bearer token the API, dashboard data and `/metrics` require:
    /// inline, by environment variable (`token_env`) or by file (`token_file`).
    /// Needed to listen on anything but loopback.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "hidden_secret"
    )]
    pub token: Option<secrecy::SecretString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The dashboard's default language (`zh` or `en`); `[alerts] language` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:9187".into(),
            token: None,
            token_env: None,
            token_file: None,
            language: None,
        }
    }
}

/// Prints a secret as `***` (for `kpid check`).
fn hidden_secret<S: serde::Serializer>(
    v: &Option<secrecy::SecretString>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => ser.serialize_str("***"),
        None => ser.serialize_none(),
    }
}

/// Whether `listen` stays on this machine (a loopback address).
pub fn is_loopback_listen(listen: &str) -> bool {
    listen
        .parse::<std::net::SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(false)
}

/// How scheduled jobs are shared, caught up and stopped; a key left out
/// takes its value from [`Default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// A claimed tick's lease; renewed every third of it while the job runs.
    /// A replica that dies has its tick taken over once the lease expires.
    pub lease_seconds: u64,
    /// Ticks missed while no daemon ran are caught up at start when younger
    /// than this (connectors once, snapshot days each once).
    pub max_catchup_hours: u64,
    /// Each job's ticks wait a fixed offset in 0..jitter seconds, derived from
    /// the job's name, so many jobs on one schedule do not fire together.
    pub jitter_seconds: u64,
    /// After SIGTERM, how long running jobs may take to commit their current page.
    pub shutdown_grace_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            lease_seconds: 60,
            max_catchup_hours: 24,
            jitter_seconds: 0,
            shutdown_grace_seconds: 30,
        }
    }
}

/// Where the data lives. `Debug` and `kpid check` hide the password.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub url: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: "sqlite://data/kpid.db".into(),
        }
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageConfig")
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShopConfig {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default = "default_currency")]
    pub currency: String,
}

/// A connector: the keys every kind shares, plus the kind's own options.
#[derive(Clone, Deserialize, Serialize)]
pub struct ConnectorConfig {
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(flatten)]
    pub options: BTreeMap<String, serde_json::Value>,
}

impl ConnectorConfig {
    /// Options with the values of the keys `is_secret` names replaced, for
    /// printing (which keys are secret is the connector kind's to say).
    pub fn redacted_options(
        &self,
        is_secret: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, serde_json::Value> {
        self.options
            .iter()
            .map(|(k, v)| {
                let v = if is_secret(k) {
                    serde_json::Value::String("***".into())
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

/// Option values are left out: which of them are credentials is known to
/// the connector's kind only, not here.
impl fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("schedule", &self.schedule)
            .field("shop", &self.shop)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub kpi: String,
    /// At most one of `shop`, `person` and `role`; none means everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `2026-10`, `2026-01..2026-03`, `2026`, `2026-10-01`, or `*` for every month.
    pub period: String,
    #[serde(with = "decimal_text")]
    pub value: Decimal,
}

/// `[currency]`: the currency money of mixed-currency scopes is converted
/// to, and the rates (see the `currency` module).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateConfig>,
}

/// `[[currency.rates]]`: 1 `from` is worth `rate` of the base currency in `month`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    pub from: String,
    /// `YYYY-MM`.
    pub month: String,
    #[serde(with = "decimal_text")]
    pub rate: Decimal,
}

/// Whether `c` looks like an ISO 4217 code (three capital letters).
pub fn is_currency_code(c: &str) -> bool {
    c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase())
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserKpiConfig {
    pub id: String,
    pub formula: String,
    pub unit: String,
    pub direction: String,
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
}

fn default_weight() -> Decimal {
    Decimal::ONE
}

/// A scorecard role: its KPIs with weights, or (a team scorecard) weights by
/// KPI category shared among the category's KPIs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    pub kpis: Vec<RoleKpiConfig>,
    /// Category → weight (e.g. `{ sales = 40, satisfaction = 20 }`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        with = "decimal_map"
    )]
    pub category_weights: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleKpiConfig {
    pub kpi: String,
    /// Relative weight (within its category for a category-weighted role).
    #[serde(default = "default_weight", with = "decimal_text")]
    pub weight: Decimal,
}

/// A person assessed by a scorecard, with the data that is theirs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Shops whose data counts; empty means every shop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shops: Vec<String>,
    /// Ad campaign ids (the `dimension` of ad_* inputs); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<String>,
    /// Customer-service agent ids (the `dimension` of cs_* inputs); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
}

/// The grade bands when `[scoring]` names none.
fn default_grades() -> Vec<GradeConfig> {
    let g = |id: &str, zh: &str, en: &str, min: i64, bonus: i64| GradeConfig {
        id: id.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        min: Decimal::from(min),
        bonus: Decimal::new(bonus, 1),
    };
    vec![
        g("excellent", "优秀", "Excellent", 90, 12),
        g("good", "良好", "Good", 80, 10),
        g("pass", "合格", "Pass", 60, 8),
        g("fail", "不合格", "Fail", 0, 0),
    ]
}
/// How scorecards score, grade, close and take appeals; a key left out
/// takes its value from [`Default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringConfig {
    /// Attainment above this counts no more: score = 100 × min(attainment, cap).
    #[serde(with = "decimal_text")]
    pub cap: Decimal,
    /// Grade bands from the best down; a total reaches a grade at its `min`.
    pub grades: Vec<GradeConfig>,
    /// Working days after month end by which a month should be closed.
    pub close_working_days: u32,
    /// Working days after the close during which appeals are taken.
    pub appeal_working_days: u32,
    /// Days that are not working days besides weekends (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            cap: Decimal::new(12, 1),
            grades: default_grades(),
            close_working_days: 3,
            appeal_working_days: 5,
            holidays: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GradeConfig {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    /// The lowest total with this grade.
    #[serde(with = "decimal_text")]
    pub min: Decimal,
    /// Bonus coefficient paid with this grade.
    #[serde(with = "decimal_text")]
    pub bonus: Decimal,
}

/// The nightly snapshot job; a key left out takes its value from [`Default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    /// When the nightly snapshot job runs, in each shop's zone.
    pub schedule: String,
    /// Removed (the one cap is `scoring.cap`): read only to say so, as a
    /// config error rather than an unknown key.
    #[serde(skip_serializing)]
    pub score_cap: Option<serde::de::IgnoredAny>,
    /// Print the last complete month's report after the start-up pass.
    pub report_on_start: bool,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            schedule: "30 0 * * *".into(),
            score_cap: None,
            report_on_start: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// A tracing filter such as `info` or `kpid=debug`; `KPID_LOG` overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
}

/// Decimals are written as strings (`"1000000"`); integers and floats are
/// taken through their shortest text form so `1.2` stays exactly 1.2.
pub(crate) mod decimal_text {
    use rust_decimal::Decimal;
    use serde::{de, Deserialize, Deserializer, Serializer};
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.normalize().to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            F(f64),
        }
        let text = match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::F(f) => f.to_string(),
        };
        crate::money::parse_decimal(&text)
            .or_else(|_| Decimal::from_str(text.trim()))
            .map_err(|_| de::Error::custom(format!("`{text}` is not a decimal number")))
    }
}

/// A table of decimals, each read like [`decimal_text`].
pub(crate) mod decimal_map {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    #[derive(Deserialize, Serialize)]
    struct D(#[serde(with = "super::decimal_text")] Decimal);

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Decimal>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.iter()
            .map(|(k, v)| (k.clone(), D(*v)))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D2: Deserializer<'de>>(
        d: D2,
    ) -> Result<BTreeMap<String, Decimal>, D2::Error> {
        let m = BTreeMap::<String, D>::deserialize(d)?;
        Ok(m.into_iter().map(|(k, v)| (k, v.0)).collect())
    }
}

/// One thing wrong at a key, as a check finds it, before loading places it
/// at its file and line (a [`Problem`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct KeyProblem {
    /// The key's path (`alerts.rules[0].kpi`) or, for a component's own
    /// options, the key within its table (`base_url`).
    pub key: String,
    pub message: String,
}

impl KeyProblem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        KeyProblem {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: `{}`: {}", self.file, l, self.key, self.message),
            None => write!(f, "{}: `{}`: {}", self.file, self.key, self.message),
        }
    }
}

/// Every problem found while loading.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}
