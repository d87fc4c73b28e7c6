//! Configuration: defaults, then the TOML file, then `KPID_…` environment
//! variables (`__` between levels, e.g. `KPID_STORAGE__URL`).
//!
//! Loading never stops at the first problem: `kpid check` wants them all, each
//! naming the file, the key, the line where known, and what is wrong.

pub(crate) mod collect;

use crate::currency::Rates;
use crate::kpi::Catalogue;
use crate::period::Period;
use crate::schedule::CronSchedule;
use crate::scorecard::roles::{self, Person, Role, Scoring};
use crate::store::redact_url;
use crate::targets::{Target, TargetPeriod, TargetScope, TargetSource};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Environment variables that start with `KPID_` but are not configuration.
const NOT_CONFIG_ENV: &[&str] = &["KPID_CONFIG", "KPID_LOG", "KPID_TEST_POSTGRES_URL"];

fn default_timezone() -> String {
    "Asia/Shanghai".into()
}
fn default_storage_url() -> String {
    "sqlite://data/kpid.db".into()
}
fn default_currency() -> String {
    "CNY".into()
}
fn default_snapshot_schedule() -> String {
    "30 0 * * *".into()
}
fn default_score_cap() -> Decimal {
    Decimal::new(12, 1)
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
    /// Alert rules, digests and channels (`crate::alerts::config`).
    #[serde(default)]
    pub alerts: crate::alerts::config::AlertsConfig,
}

fn default_listen() -> String {
    "127.0.0.1:9187".into()
}

/// The HTTP listener: health, readiness, metrics, the API and the dashboard.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port`; loopback by default so nothing is exposed by accident.
    /// An empty string turns the listener off.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The bearer token the API, dashboard data and `/metrics` require:
    /// inline, by environment variable (`token_env`) or by file (`token_file`).
    /// Needed to listen on anything but loopback.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "hidden_secret"
    )]
    pub token: Option<secrecy::SecretString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// The dashboard's default language (`zh` or `en`); `[alerts] language` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::alerts::message::Language>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
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

fn default_lease_seconds() -> u64 {
    60
}
fn default_catchup_hours() -> u64 {
    24
}
fn default_grace_seconds() -> u64 {
    30
}

/// How scheduled jobs are shared, caught up and stopped.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// A claimed tick's lease; renewed every third of it while the job runs.
    /// A replica that dies has its tick taken over once the lease expires.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// Ticks missed while no daemon ran are caught up at start when younger
    /// than this (connectors once, snapshot days each once).
    #[serde(default = "default_catchup_hours")]
    pub max_catchup_hours: u64,
    /// Each job's ticks wait a fixed offset in 0..jitter seconds, derived from
    /// the job's name, so many jobs on one schedule do not fire together.
    #[serde(default)]
    pub jitter_seconds: u64,
    /// After SIGTERM, how long running jobs may take to commit their current page.
    #[serde(default = "default_grace_seconds")]
    pub shutdown_grace_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            lease_seconds: default_lease_seconds(),
            max_catchup_hours: default_catchup_hours(),
            jitter_seconds: 0,
            shutdown_grace_seconds: default_grace_seconds(),
        }
    }
}

/// Where the data lives. `Debug` and `kpid check` hide the password.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default = "default_storage_url")]
    pub url: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: default_storage_url(),
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

/// Credential names that connector definitions declare secret, whatever
/// they are called; hiding a key in every connector is always safe.
static DECLARED_SECRET_KEYS: std::sync::RwLock<std::collections::BTreeSet<String>> =
    std::sync::RwLock::new(std::collections::BTreeSet::new());

/// Makes [`is_secret_key`] hide `key` (a definition's secret credential).
pub fn declare_secret_key(key: &str) {
    if let Ok(mut keys) = DECLARED_SECRET_KEYS.write() {
        keys.insert(key.to_ascii_lowercase());
    }
}

/// Option keys whose values are credentials.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !k.ends_with("_file")
        && !k.ends_with("_env")
        && (DECLARED_SECRET_KEYS
            .read()
            .map(|keys| keys.contains(&k))
            .unwrap_or(true)
            || k.contains("secret")
            || k.contains("token")
            || k.contains("password")
            || k == "session"
            || k == "api_key"
            || k == "consumer_key"
            || k == "private_key")
}

impl ConnectorConfig {
    /// Options with credentials replaced, for printing.
    pub fn redacted_options(&self) -> BTreeMap<String, serde_json::Value> {
        self.options
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_key(k) {
                    serde_json::Value::String("***".into())
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

impl fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("schedule", &self.schedule)
            .field("shop", &self.shop)
            .field("options", &self.redacted_options())
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
/// to, and the rates (see `crate::currency`).
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

fn is_currency_code(c: &str) -> bool {
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
fn default_close_days() -> u32 {
    3
}
fn default_appeal_days() -> u32 {
    5
}

/// How scorecards score, grade, close and take appeals.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// Attainment above this counts no more: score = 100 × min(attainment, cap).
    #[serde(default = "default_score_cap", with = "decimal_text")]
    pub cap: Decimal,
    /// Grade bands from the best down; a total reaches a grade at its `min`.
    #[serde(default = "default_grades")]
    pub grades: Vec<GradeConfig>,
    /// Working days after month end by which a month should be closed.
    #[serde(default = "default_close_days")]
    pub close_working_days: u32,
    /// Working days after the close during which appeals are taken.
    #[serde(default = "default_appeal_days")]
    pub appeal_working_days: u32,
    /// Days that are not working days besides weekends (`YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            cap: default_score_cap(),
            grades: default_grades(),
            close_working_days: default_close_days(),
            appeal_working_days: default_appeal_days(),
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// When the nightly snapshot job runs, in each shop's zone.
    #[serde(default = "default_snapshot_schedule")]
    pub schedule: String,
    /// Attainment above this counts no more (score = 100 × min(attainment, cap)).
    #[serde(default = "default_score_cap", with = "decimal_text")]
    pub score_cap: Decimal,
    /// Print the last complete month's report after the start-up pass.
    #[serde(default = "default_true")]
    pub report_on_start: bool,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            schedule: default_snapshot_schedule(),
            score_cap: default_score_cap(),
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
mod decimal_text {
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
mod decimal_map {
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

/// A shop with its zone resolved.
#[derive(Debug, Clone)]
pub struct Shop {
    pub id: String,
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
    /// Connector kinds from definitions: the built-in ones and the user's.
    pub definitions: std::sync::Arc<crate::connectors::declarative::Definitions>,
    /// `[alerts]` validated.
    pub alerts: crate::alerts::config::Rules,
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

/// Where a configuration key was set: the file (with its text, for lines)
/// or, for keys an environment variable set, that variable.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    file: String,
    text: String,
    /// Key path set by an environment variable → the variable.
    env: BTreeMap<String, String>,
}

impl Origins {
    /// Keys all from `text`, the contents of `file`.
    pub fn of_file(file: &Path, text: &str) -> Self {
        Origins {
            file: file.display().to_string(),
            text: text.to_string(),
            env: BTreeMap::new(),
        }
    }

    /// A problem under `key`, located in the file (with the key's line) or
    /// at the environment variable that set it.
    pub fn problem(&self, key: String, message: String) -> Problem {
        match self.env.iter().find(|(k, _)| collect::is_under(&key, k)) {
            Some((_, var)) => Problem {
                file: format!("environment variable {var}"),
                key,
                line: None,
                message,
            },
            None => Problem {
                file: self.file.clone(),
                line: line_of_key(&self.text, &key),
                key,
                message,
            },
        }
    }
}

/// Loads, merges the environment over the file, and validates, reporting
/// every problem found (not only the first).
pub fn load(path: &Path) -> Result<Settings, ConfigErrors> {
    let file = path.display().to_string();
    let problem = |key: &str, line: Option<usize>, message: String| Problem {
        file: file.clone(),
        key: key.to_string(),
        line,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![problem(
            "(file)",
            None,
            format!("cannot read the file: {e}"),
        )])
    })?;
    let mut tree = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => {
            let line = e.span().map(|s| line_of_offset(&text, s.start));
            return Err(ConfigErrors(vec![problem(
                "(syntax)",
                line,
                format!("invalid TOML: {}", e.message()),
            )]));
        }
    };
    // Dates and times are read as their text, as every option taking one
    // expects (`end_date = 2026-09-30` is the same as `"2026-09-30"`).
    datetimes_as_text(&mut tree);
    let mut origins = Origins::of_file(path, &text);
    let mut problems = Vec::new();
    let texts = apply_env(&mut tree, &mut origins, &mut problems);
    let (config, found) = collect::deserialize_all::<Config>(tree, &texts);
    problems.extend(
        found
            .into_iter()
            .map(|f| origins.problem(f.key.clone(), f.message_hiding(is_secret_key))),
    );
    let Some(config) = config else {
        return Err(ConfigErrors(problems));
    };
    // Validation sees placeholders and defaults where reading failed: a key
    // already reported is not reported again.
    let reported: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
    let validated = validate_from(config, path, &origins);
    let more = match &validated {
        Ok(_) => Vec::new(),
        Err(e) => e.0.clone(),
    };
    problems.extend(
        more.into_iter()
            .filter(|p| !reported.iter().any(|r| collect::is_under(&p.key, r))),
    );
    match validated {
        Ok(settings) if problems.is_empty() => Ok(settings),
        _ => {
            // In the file's order; environment variables and other files after.
            problems.sort_by_key(|p| (p.file != origins.file, p.line.is_none(), p.line));
            Err(ConfigErrors(problems))
        }
    }
}

/// Sets each `KPID_A__B` variable at key `a.b` of the tree. A value that
/// reads as a TOML number, boolean or list is taken as one; the text is kept
/// (returned by key) in case the key wants a string after all.
///
/// The `config` crate reads the environment layer (prefix, `__` levels,
/// lowercase keys); kpid sets the values into the file's tree itself so that
/// every problem can name the variable it came from.
fn apply_env(
    tree: &mut toml::Value,
    origins: &mut Origins,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, String> {
    use ::config::Source;
    let mut texts = BTreeMap::new();
    let env = ::config::Environment::with_prefix("KPID")
        .prefix_separator("_")
        .separator("__")
        .collect()
        .unwrap_or_default();
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.into_string().ok()?)))
        .map(|(key, raw)| {
            let var = format!("KPID_{}", key.to_ascii_uppercase().replace('.', "__"));
            (var, raw)
        })
        .filter(|(var, _)| !NOT_CONFIG_ENV.contains(&var.as_str()))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var["KPID_".len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let key = path.join(".");
        origins.env.insert(key.clone(), var.clone());
        let value = match format!("v = {raw}").parse::<toml::Table>() {
            Ok(mut t) => match t.remove("v") {
                Some(
                    v @ (toml::Value::Integer(_)
                    | toml::Value::Float(_)
                    | toml::Value::Boolean(_)
                    | toml::Value::Array(_)),
                ) => {
                    texts.insert(key.clone(), raw.clone());
                    v
                }
                _ => toml::Value::String(raw),
            },
            Err(_) => toml::Value::String(raw),
        };
        if !insert_path(tree, &path, value) {
            problems.push(origins.problem(
                key,
                "only keys of tables can be set from the environment (not inside a list)".into(),
            ));
        }
    }
    texts
}

/// Sets `value` at `path`, making the tables on the way; false when the
/// path runs through something other than a table.
fn insert_path(at: &mut toml::Value, path: &[String], value: toml::Value) -> bool {
    let Some(table) = at.as_table_mut() else {
        return false;
    };
    match path {
        [last] => {
            table.insert(last.clone(), value);
            true
        }
        [first, rest @ ..] => insert_path(
            table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            rest,
            value,
        ),
        [] => false,
    }
}

fn datetimes_as_text(v: &mut toml::Value) {
    match v {
        toml::Value::Datetime(d) => *v = toml::Value::String(d.to_string()),
        toml::Value::Array(a) => a.iter_mut().for_each(datetimes_as_text),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| datetimes_as_text(v)),
        _ => {}
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Finds the line of a dotted key such as `connectors[1].schedule`: the
/// line of the key itself, or, for a key not written in the file, of the
/// nearest table that holds it (a `[[connectors]]` header).
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml_edit::{Item, Table, TableLike, Value};
    /// A place in the document: tables, list elements and values differ in type.
    #[derive(Clone, Copy)]
    enum Node<'a> {
        Item(&'a Item),
        Table(&'a Table),
        Value(&'a Value),
    }
    impl<'a> Node<'a> {
        fn table(self) -> Option<&'a dyn TableLike> {
            match self {
                Node::Item(i) => i.as_table_like(),
                Node::Table(t) => Some(t),
                Node::Value(v) => v.as_inline_table().map(|t| t as &dyn TableLike),
            }
        }
        fn index(self, i: usize) -> Option<(Node<'a>, Option<std::ops::Range<usize>>)> {
            match self {
                Node::Item(Item::ArrayOfTables(a)) => a.get(i).map(|t| (Node::Table(t), t.span())),
                Node::Item(Item::Value(Value::Array(a))) | Node::Value(Value::Array(a)) => {
                    a.get(i).map(|v| (Node::Value(v), v.span()))
                }
                _ => None,
            }
        }
    }
    let doc = text.parse::<toml_edit::ImDocument<String>>().ok()?;
    let mut node = Node::Table(doc.as_table());
    let mut span = None;
    for seg in collect::parse_key(key) {
        let step = match seg {
            collect::Seg::Key(k) => node
                .table()
                .and_then(|t| t.get_key_value(&k))
                .map(|(k, v)| (Node::Item(v), k.span().or_else(|| v.span()))),
            collect::Seg::Index(i) => node.index(i),
        };
        let Some((next, at)) = step else { break };
        node = next;
        span = at.or(span);
    }
    span.map(|s| line_of_offset(text, s.start))
}

/// Kinds implemented in Rust (definitions may not take these names).
pub const CONNECTOR_KINDS: &[&str] = &[
    "csv",
    "xlsx",
    "demo",
    "taobao",
    "pinduoduo",
    "jd",
    "douyin",
    "zendesk",
    "google_ads",
    "meta_ads",
];

fn parse_tz(name: &str) -> Result<Tz, String> {
    Tz::from_str(name)
        .map_err(|_| format!("`{name}` is not an IANA time zone (e.g. Asia/Shanghai)"))
}

/// Checks everything that can be checked without touching the network
/// (every key as written in `text`, the contents of `path`).
pub fn validate(config: Config, path: &Path, text: &str) -> Result<Settings, ConfigErrors> {
    validate_from(config, path, &Origins::of_file(path, text))
}

fn validate_from(config: Config, path: &Path, origins: &Origins) -> Result<Settings, ConfigErrors> {
    let mut problems = Vec::new();
    // Problems inside definition files name those files, not this one.
    let mut problems_from_definitions = Vec::new();
    let mut report = |key: String, message: String| {
        problems.push(origins.problem(key, message));
    };

    let default_tz = parse_tz(&config.timezone).unwrap_or_else(|m| {
        report("timezone".into(), m);
        chrono_tz::UTC
    });
    if crate::store::Backend::of_url(&config.storage.url).is_none() {
        report(
            "storage.url".into(),
            format!(
                "`{}` must start with sqlite:// or postgres://",
                redact_url(&config.storage.url)
            ),
        );
    }

    let mut shops = Vec::new();
    let mut shop_ids = HashSet::new();
    if config.shops.is_empty() {
        report(
            "shops".into(),
            "at least one [[shops]] entry is needed".into(),
        );
    }
    for (i, s) in config.shops.iter().enumerate() {
        if s.id.trim().is_empty() {
            report(format!("shops[{i}].id"), "must not be empty".into());
        }
        if !shop_ids.insert(s.id.clone()) {
            report(
                format!("shops[{i}].id"),
                format!("shop `{}` is defined twice", s.id),
            );
        }
        let tz = match &s.timezone {
            Some(name) => parse_tz(name).unwrap_or_else(|m| {
                report(format!("shops[{i}].timezone"), m);
                default_tz
            }),
            None => default_tz,
        };
        if !is_currency_code(&s.currency) {
            report(
                format!("shops[{i}].currency"),
                format!("`{}` is not an ISO 4217 code such as CNY", s.currency),
            );
        }
        shops.push(Shop {
            id: s.id.clone(),
            tz,
            currency: s.currency.clone(),
        });
    }

    let rates = currency_rates(&config.currency, &mut report);

    let catalogue = match Catalogue::new(&config.kpis) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs {
                report(format!("kpis[{}].{}", e.index, e.field), e.message);
            }
            Catalogue::builtin()
        }
    };

    let folders = crate::connectors::declarative::folders(path, &config.definitions);
    let (definitions, definition_problems) =
        crate::connectors::declarative::Definitions::load(&folders);
    for p in definition_problems {
        if p.file.is_empty() {
            report(p.key, p.message);
        } else {
            problems_from_definitions.push(p);
        }
    }

    let mut names = HashSet::new();
    let mut connector_schedules = BTreeMap::new();
    for (i, c) in config.connectors.iter().enumerate() {
        if c.name.trim().is_empty() {
            report(format!("connectors[{i}].name"), "must not be empty".into());
        }
        if !names.insert(c.name.clone()) {
            report(
                format!("connectors[{i}].name"),
                format!("connector `{}` is defined twice", c.name),
            );
        }
        let definition = definitions.get(&c.kind);
        if !CONNECTOR_KINDS.contains(&c.kind.as_str()) && definition.is_none() {
            let mut known: Vec<&str> = CONNECTOR_KINDS.to_vec();
            known.extend(definitions.iter().map(|d| d.kind.as_str()));
            report(
                format!("connectors[{i}].kind"),
                format!("unknown kind `{}` (known: {})", c.kind, known.join(", ")),
            );
        }
        let tz = match c.shop.as_deref() {
            Some(s) if !shop_ids.contains(s) => {
                report(
                    format!("connectors[{i}].shop"),
                    format!("no shop `{s}` in [[shops]]"),
                );
                default_tz
            }
            Some(s) => shops
                .iter()
                .find(|x| x.id == s)
                .map(|x| x.tz)
                .unwrap_or(default_tz),
            None => default_tz,
        };
        let schedule = c.schedule.as_deref().and_then(|expr| {
            CronSchedule::parse(expr, tz)
                .map_err(|e| report(format!("connectors[{i}].schedule"), e.to_string()))
                .ok()
        });
        connector_schedules.insert(c.name.clone(), schedule);
        let checked: Vec<(String, String)> = match definition {
            Some(def) => {
                let mut p = crate::connectors::declarative::engine::Options::problems(def, c);
                if p.is_empty() {
                    p.extend(crate::connectors::require_shop(c).err());
                }
                p
            }
            None => crate::connectors::check_options(c),
        };
        for (field, msg) in checked {
            report(format!("connectors[{i}].{field}"), msg);
        }
    }

    if let Err(e) = CronSchedule::parse(&config.snapshot.schedule, default_tz) {
        report("snapshot.schedule".into(), e.to_string());
    }
    if config.snapshot.score_cap < Decimal::ONE {
        report("snapshot.score_cap".into(), "must be at least 1".into());
    }
    if config.scheduler.lease_seconds < 3 {
        report(
            "scheduler.lease_seconds".into(),
            "must be at least 3".into(),
        );
    }
    if !config.server.listen.is_empty()
        && config
            .server
            .listen
            .parse::<std::net::SocketAddr>()
            .is_err()
    {
        report(
            "server.listen".into(),
            format!(
                "`{}` is not host:port such as 127.0.0.1:9187",
                config.server.listen
            ),
        );
    }
    if let Some(f) = &config.log.format {
        if f != "text" && f != "json" {
            report(
                "log.format".into(),
                format!("`{f}` must be `text` or `json`"),
            );
        }
    }

    let (roles, role_problems) = roles::resolve(&config.roles, &catalogue);
    for (key, msg) in role_problems {
        report(key, msg);
    }
    let mut people = Vec::new();
    let mut person_ids = HashSet::new();
    for (i, p) in config.people.iter().enumerate() {
        if p.id.trim().is_empty() {
            report(format!("people[{i}].id"), "must not be empty".into());
        }
        if !person_ids.insert(p.id.clone()) {
            report(
                format!("people[{i}].id"),
                format!("person `{}` is defined twice", p.id),
            );
        }
        if !roles.iter().any(|r| r.id == p.role) {
            report(
                format!("people[{i}].role"),
                format!(
                    "no role `{}` (known: {})",
                    p.role,
                    roles
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        for s in &p.shops {
            if !shop_ids.contains(s) {
                report(
                    format!("people[{i}].shops"),
                    format!("no shop `{s}` in [[shops]]"),
                );
            }
        }
        let shops = if p.shops.is_empty() {
            config.shops.iter().map(|s| s.id.clone()).collect()
        } else {
            p.shops.clone()
        };
        people.push(Person {
            id: p.id.clone(),
            name: p.name.clone(),
            role: p.role.clone(),
            shops,
            campaigns: p.campaigns.clone(),
            agents: p.agents.clone(),
        });
    }
    let scoring = roles::scoring(&config.scoring).unwrap_or_else(|errs| {
        for (key, msg) in errs {
            report(key, msg);
        }
        Scoring::from_config(&ScoringConfig::default())
    });

    let mut targets: Vec<Target> = Vec::new();
    for (i, t) in config.targets.iter().enumerate() {
        if catalogue.get(&t.kpi).is_none() {
            report(
                format!("targets[{i}].kpi"),
                format!("unknown KPI `{}` (see `kpid kpis`)", t.kpi),
            );
        }
        let scope = match (&t.shop, &t.person, &t.role) {
            (None, None, None) => Some(TargetScope::All),
            (Some(s), None, None) => {
                if !shop_ids.contains(s) {
                    report(
                        format!("targets[{i}].shop"),
                        format!("no shop `{s}` in [[shops]]"),
                    );
                }
                Some(TargetScope::Shop(s.clone()))
            }
            (None, Some(p), None) => {
                if !person_ids.contains(p) {
                    report(
                        format!("targets[{i}].person"),
                        format!("no person `{p}` in [[people]]"),
                    );
                }
                Some(TargetScope::Person(p.clone()))
            }
            (None, None, Some(r)) => {
                if !roles.iter().any(|x| &x.id == r) {
                    report(format!("targets[{i}].role"), format!("no role `{r}`"));
                }
                Some(TargetScope::Role(r.clone()))
            }
            _ => {
                report(
                    format!("targets[{i}].kpi"),
                    "set at most one of `shop`, `person` and `role`".into(),
                );
                None
            }
        };
        let period = TargetPeriod::parse(&t.period)
            .map_err(|e| report(format!("targets[{i}].period"), e))
            .ok();
        if let (Some(scope), Some(period)) = (scope, period) {
            let target = Target {
                kpi: t.kpi.clone(),
                scope,
                period,
                value: t.value,
                source: TargetSource::Config(i),
            };
            if let Some(prev) = targets.iter().find(|x| {
                x.kpi == target.kpi && x.scope == target.scope && x.period == target.period
            }) {
                report(
                    format!("targets[{i}].period"),
                    format!(
                        "a target for `{}` ({}) in {} is already set in {}",
                        t.kpi, target.scope, t.period, prev.source
                    ),
                );
            }
            targets.push(target);
        }
    }
    let book = crate::targets::TargetBook::new(targets.clone(), Vec::new());
    for (a, b) in book.overlaps() {
        if let TargetSource::Config(i) = b.source {
            report(
                format!("targets[{i}].period"),
                format!(
                    "the months {} overlap {} of {} for `{}` ({}): which one applies is ambiguous",
                    b.period, a.period, a.source, b.kpi, b.scope
                ),
            );
        }
    }

    let server_token = match crate::secrets::resolve_optional(
        "token",
        config.server.token.clone(),
        &config.server.token_env,
        &config.server.token_file,
    ) {
        Ok(t) => t.filter(|t| !secrecy::ExposeSecret::expose_secret(t).is_empty()),
        Err(msg) => {
            report("server.token".into(), msg);
            None
        }
    };

    let (alerts, alert_problems) = crate::alerts::config::resolve(
        &config.alerts,
        &crate::alerts::config::Context {
            catalogue: &catalogue,
            shops: &shops,
            people: &people,
            roles: &roles,
            default_tz,
        },
    );
    for (key, msg) in alert_problems {
        report(key, msg);
    }

    problems.extend(problems_from_definitions);
    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    Ok(Settings {
        config,
        file: path.to_path_buf(),
        shops,
        default_tz,
        catalogue,
        connector_schedules,
        targets,
        roles,
        people,
        scoring,
        rates,
        definitions: std::sync::Arc::new(definitions),
        alerts,
        server_token,
    })
}

/// Validates `[currency]` and its rates.
fn currency_rates(c: &CurrencyConfig, report: &mut impl FnMut(String, String)) -> Rates {
    if let Some(base) = &c.base {
        if !is_currency_code(base) {
            report(
                "currency.base".into(),
                format!("`{base}` is not an ISO 4217 code such as CNY"),
            );
        }
    } else if !c.rates.is_empty() {
        report(
            "currency.base".into(),
            "rates are given but no base currency to convert to (e.g. base = \"CNY\")".into(),
        );
    }
    let mut out: Vec<(String, Period, Decimal)> = Vec::new();
    for (i, r) in c.rates.iter().enumerate() {
        let key = |f: &str| format!("currency.rates[{i}].{f}");
        if !is_currency_code(&r.from) {
            report(
                key("from"),
                format!("`{}` is not an ISO 4217 code such as USD", r.from),
            );
        } else if c.base.as_deref() == Some(r.from.as_str()) {
            report(
                key("from"),
                format!("`{}` is the base currency itself", r.from),
            );
        }
        if r.rate <= Decimal::ZERO {
            report(
                key("rate"),
                format!("`{}` must be above 0", r.rate.normalize()),
            );
        }
        let month = match Period::parse_month(&r.month) {
            Ok(m) => m,
            Err(e) => {
                report(key("month"), e.to_string());
                continue;
            }
        };
        if out.iter().any(|(f, m, _)| *f == r.from && *m == month) {
            report(
                key("month"),
                format!("a rate for {} in {month} is already set", r.from),
            );
        }
        out.push((r.from.clone(), month, r.rate));
    }
    Rates::new(c.base.clone(), out)
}

/// The configuration as TOML with credentials hidden, for `kpid check`.
pub fn redacted_toml(config: &Config) -> String {
    let mut c = config.clone();
    c.storage.url = redact_url(&c.storage.url);
    let options: Vec<_> = c
        .connectors
        .iter_mut()
        .map(|conn| std::mem::take(&mut conn.options))
        .collect();
    // Connector options are JSON values whose exact numbers serde would print
    // as a private wrapper table, so they go through `toml::Value` instead.
    let mut doc = match toml::Value::try_from(&c) {
        Ok(v) => v,
        Err(e) => return format!("# cannot print the configuration: {e}\n"),
    };
    if let Some(list) = doc.get_mut("connectors").and_then(|v| v.as_array_mut()) {
        for ((table, opts), conn) in list.iter_mut().zip(options).zip(&config.connectors) {
            let redacted = ConnectorConfig {
                options: opts,
                ..conn.clone()
            }
            .redacted_options();
            if let Some(t) = table.as_table_mut() {
                for (k, v) in redacted {
                    if let Some(v) = json_to_toml(&v) {
                        t.insert(k, v);
                    }
                }
            }
        }
    }
    toml::to_string_pretty(&doc)
        .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

pub(crate) fn json_to_toml(v: &serde_json::Value) -> Option<toml::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => {
            let text = n.to_string();
            match text.parse::<i64>() {
                Ok(i) => toml::Value::Integer(i),
                Err(_) => toml::Value::Float(text.parse().ok()?),
            }
        }
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(a) => toml::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        J::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_of_nested_keys() {
        let text = "timezone = \"UTC\"\n[[shops]]\nid = \"a\"\n\n[[connectors]]\nname = \"x\"\nkind = \"csv\"\nschedule = \"bad\"\n";
        assert_eq!(line_of_key(text, "timezone"), Some(1));
        assert_eq!(line_of_key(text, "connectors[0].schedule"), Some(8));
        assert_eq!(line_of_key(text, "shops[0].id"), Some(3));
    }

    #[test]
    fn finds_lines_in_nested_tables_and_inline_lists() {
        let text = r#"[[roles]]
id = "r"
kpis = [
  { kpi = "gmv" },
  { kpi = "aov", weight = "x" },
]

[[scoring.grades]]
id = "a"

[[scoring.grades]]
id = "b"
name_zh = 5
"#;
        assert_eq!(line_of_key(text, "roles[0].kpis[1].weight"), Some(5));
        assert_eq!(line_of_key(text, "roles[0].kpis[0]"), Some(4));
        assert_eq!(line_of_key(text, "scoring.grades[1].name_zh"), Some(13));
        // A key not in the file: the line of the table that lacks it.
        assert_eq!(line_of_key(text, "scoring.grades[0].min"), Some(8));
    }

    #[test]
    fn secret_keys_are_recognised() {
        for k in [
            "access_token",
            "consumer_secret",
            "consumer_key",
            "private_key",
            "app_secret",
            "password",
            "session",
            "api_token",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in ["credentials_file", "access_token_env", "path", "app_key_id"] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
