//! Options every connector kind reads the same way: the polling keys
//! ([`Polling`]), credentials given as the `x` / `x_env` / `x_file` triple
//! ([`Secrets`]), and the reading of a kind's own keys into its typed struct
//! with every problem named under its key ([`read`]).
//!
//! A kind declares which polling keys it takes (with its defaults) and the
//! names of its credentials; the keys are taken out of the connector's table
//! before the rest is read into the kind's struct, so no kind re-declares
//! them, and a key the kind does not take is still an unknown key.

use super::{Connector, ConnectorError};
use crate::config::collect::{deserialize_all, Found};
use crate::config::ConnectorConfig;
use crate::http::HttpClient;
use crate::ids::ShopId;
use crate::settings::Settings;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;

/// An option problem: the key (`page_size`, `columns.amount`) and what is wrong.
pub(crate) type OptionProblem = crate::config::KeyProblem;

/// `initial_days` of the order and ticket connectors: the history, in days,
/// their first scheduled run fetches.
const DEFAULT_INITIAL_DAYS: i64 = 30;

/// The polling keys a kind takes and its defaults; `None`: the kind does not
/// take the key (it is then an unknown key of that kind).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollingSpec {
    pub lookback_days: Option<i64>,
    pub initial_days: Option<i64>,
    pub concurrency: Option<usize>,
    pub requests_per_second: Option<f64>,
    /// The default and the platform's largest page.
    pub page_size: Option<(u32, u32)>,
}

impl PollingSpec {
    /// A kind that does not poll (files, generated data).
    pub const NONE: PollingSpec = PollingSpec {
        lookback_days: None,
        initial_days: None,
        concurrency: None,
        requests_per_second: None,
        page_size: None,
    };

    /// A paged API read by day slices with a cursor: every polling key, with
    /// 30 days of history on the first run.
    pub const fn paged(
        lookback_days: i64,
        concurrency: usize,
        requests_per_second: f64,
        page_size: u32,
        max_page_size: u32,
    ) -> PollingSpec {
        PollingSpec {
            lookback_days: Some(lookback_days),
            initial_days: Some(DEFAULT_INITIAL_DAYS),
            concurrency: Some(concurrency),
            requests_per_second: Some(requests_per_second),
            page_size: Some((page_size, max_page_size)),
        }
    }

    fn keys(&self) -> Vec<&'static str> {
        [
            ("lookback_days", self.lookback_days.is_some()),
            ("initial_days", self.initial_days.is_some()),
            ("concurrency", self.concurrency.is_some()),
            ("requests_per_second", self.requests_per_second.is_some()),
            ("page_size", self.page_size.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, taken)| taken.then_some(k))
        .collect()
    }
}

/// How a connector polls its platform. A key its kind does not take holds a
/// neutral value (0, or 1 fetcher) that the kind never reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polling {
    /// Days re-fetched before the cursor on each scheduled run.
    pub lookback_days: i64,
    /// History fetched by the first scheduled run.
    pub initial_days: i64,
    /// Slices fetched at once.
    pub concurrency: usize,
    /// Request rate (0 = unlimited).
    pub requests_per_second: f64,
    /// Records asked for per page, within the platform's limit.
    pub page_size: u32,
}

/// The polling keys as written; each absent one takes the kind's default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PollingKeys {
    lookback_days: Option<i64>,
    initial_days: Option<i64>,
    concurrency: Option<usize>,
    requests_per_second: Option<f64>,
    page_size: Option<u32>,
}

impl Polling {
    fn of(spec: &PollingSpec, keys: PollingKeys) -> Polling {
        Polling {
            lookback_days: keys.lookback_days.or(spec.lookback_days).unwrap_or(0),
            initial_days: keys.initial_days.or(spec.initial_days).unwrap_or(0),
            concurrency: keys.concurrency.or(spec.concurrency).unwrap_or(1),
            requests_per_second: keys
                .requests_per_second
                .or(spec.requests_per_second)
                .unwrap_or(0.0),
            page_size: keys.page_size.or(spec.page_size.map(|p| p.0)).unwrap_or(0),
        }
    }

    /// Page size within the platform's limit, at least one fetcher, no
    /// negative lookback or history (a key the kind does not take passes).
    fn check(&self, spec: &PollingSpec) -> Result<(), OptionProblem> {
        let (page_size, max) = match spec.page_size {
            Some((_, max)) => (self.page_size, max),
            None => (1, 1),
        };
        check_paging(page_size, max, self.concurrency, self.lookback_days)?;
        if self.initial_days < 0 {
            return Err(OptionProblem::new("initial_days", "must not be negative"));
        }
        Ok(())
    }
}

/// Page size within the platform's limit, at least one fetcher, no negative
/// lookback.
pub(crate) fn check_paging(
    page_size: u32,
    max_page_size: u32,
    concurrency: usize,
    lookback_days: i64,
) -> Result<(), OptionProblem> {
    if !(1..=max_page_size).contains(&page_size) {
        return Err(OptionProblem::new(
            "page_size",
            format!("must be between 1 and {max_page_size}"),
        ));
    }
    if concurrency == 0 {
        return Err(OptionProblem::new("concurrency", "must be at least 1"));
    }
    if lookback_days < 0 {
        return Err(OptionProblem::new("lookback_days", "must not be negative"));
    }
    Ok(())
}

/// One credential as written: inline, by environment variable or by file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secret {
    inline: Option<SecretString>,
    env: Option<String>,
    file: Option<String>,
}

impl Secret {
    /// Whether any of the three forms is set.
    pub fn is_given(&self) -> bool {
        self.inline.is_some() || self.env.is_some() || self.file.is_some()
    }
}

/// A kind's credentials by name (each from its `x` / `x_env` / `x_file` keys).
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets(BTreeMap<&'static str, Secret>);

impl Secrets {
    /// The credential `name` as written (empty when the kind has none so named).
    pub fn get(&self, name: &str) -> Secret {
        self.0.get(name).cloned().unwrap_or_default()
    }

    /// Resolves the credential `name`: exactly one of its forms must be set.
    pub fn resolve(&self, connector: &str, name: &str) -> Result<SecretString, ConnectorError> {
        let s = self.get(name);
        super::secret_option(connector, name, s.inline, &s.env, &s.file)
    }
}

/// A kind's options read from a connector's table: its own typed keys, the
/// polling keys and the credentials.
#[derive(Debug, Clone)]
pub(crate) struct Read<O> {
    pub own: O,
    pub polling: Polling,
    pub secrets: Secrets,
}

/// Reads a connector's options, returning them (when everything reads) and
/// every problem found, each under its key, a credential's value never quoted.
pub(crate) fn read<O: DeserializeOwned>(
    cfg: &ConnectorConfig,
    spec: &PollingSpec,
    secret_names: &'static [&'static str],
) -> (Option<Read<O>>, Vec<OptionProblem>) {
    let mut table: toml::Table = cfg
        .options
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), crate::config::json_to_toml(v)?)))
        .collect();
    let mut take = |keys: &[&str]| -> toml::Table {
        keys.iter()
            .filter_map(|k| Some((k.to_string(), table.remove(*k)?)))
            .collect()
    };
    let polling_keys = take(&spec.keys());
    let mut secret_keys = toml::Table::new();
    for name in secret_names {
        secret_keys.extend(take(&[
            name,
            &format!("{name}_env"),
            &format!("{name}_file"),
        ]));
    }
    let polling_keys = take_into::<PollingKeys>(polling_keys);
    let secret_keys = take_into::<BTreeMap<String, String>>(secret_keys);
    let own = take_into::<O>(table);
    let is_secret = |key: &str| secret_names.contains(&key) || crate::secrets::looks_secret(key);
    let problems: Vec<OptionProblem> = [&polling_keys.1, &secret_keys.1, &own.1]
        .into_iter()
        .flatten()
        .map(|f| OptionProblem::new(f.key.clone(), f.message_hiding(is_secret)))
        .collect();
    let (Some(keys), Some(texts), Some(own)) = (polling_keys.0, secret_keys.0, own.0) else {
        return (None, problems);
    };
    if !problems.is_empty() {
        return (None, problems);
    }
    let polling = Polling::of(spec, keys);
    if let Err(p) = polling.check(spec) {
        return (None, vec![p]);
    }
    let secrets = secret_names
        .iter()
        .map(|name| {
            let text = |k: String| texts.get(&k).cloned();
            let secret = Secret {
                inline: text(name.to_string()).map(SecretString::from),
                env: text(format!("{name}_env")),
                file: text(format!("{name}_file")),
            };
            (*name, secret)
        })
        .collect();
    let read = Read {
        own,
        polling,
        secrets: Secrets(secrets),
    };
    (Some(read), Vec::new())
}

fn take_into<T: DeserializeOwned>(table: toml::Table) -> (Option<T>, Vec<Found>) {
    deserialize_all::<T>(toml::Value::Table(table), &Default::default())
}

/// Turns an option problem into the connector's error, key kept.
pub(crate) fn config_error(cfg: &ConnectorConfig) -> impl Fn(OptionProblem) -> ConnectorError + '_ {
    move |problem| ConnectorError::BadOption {
        connector: cfg.name.clone(),
        problem,
    }
}

/// Platform hosts are reached over https; http is allowed for mocks and proxies.
pub(crate) fn check_base_url(url: &str) -> Result<(), OptionProblem> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(OptionProblem::new(
            "base_url",
            format!("`{url}` must start with https:// (or http:// for a local mock or proxy)"),
        ))
    }
}

/// A key that must hold some text.
pub(crate) fn not_empty(key: &str, value: &str) -> Result<(), OptionProblem> {
    if value.trim().is_empty() {
        return Err(OptionProblem::new(key, "must not be empty"));
    }
    Ok(())
}

/// What building a connector takes besides its kind's own options: the
/// connector's table and the settings, with the polling and credentials
/// read beside the options.
pub(crate) struct Building<'a> {
    pub cfg: &'a ConnectorConfig,
    pub settings: &'a Settings,
    pub polling: Polling,
    pub secrets: Secrets,
}

impl Building<'_> {
    /// The connector's name.
    pub fn name(&self) -> String {
        self.cfg.name.clone()
    }

    /// The credential `name`, resolved from the form it is given in.
    pub fn secret(&self, name: &str) -> Result<SecretString, ConnectorError> {
        self.secrets.resolve(&self.cfg.name, name)
    }

    /// The shop the connector's data belongs to, and its zone.
    pub fn shop(&self) -> Result<(ShopId, chrono_tz::Tz), ConnectorError> {
        let (shop, tz) = super::connector_shop(self.cfg, self.settings)?;
        Ok((shop.into(), tz))
    }

    /// The connector's HTTP client at `requests_per_second` (0 = unlimited).
    pub fn http(&self, requests_per_second: f64) -> Result<HttpClient, ConnectorError> {
        super::connector_http(self.cfg, requests_per_second)
    }

    /// Turns an option problem found while building into the connector's error.
    pub fn option_error(&self) -> impl Fn(OptionProblem) -> ConnectorError + '_ {
        config_error(self.cfg)
    }
}

impl<O: KindOptions> Read<O> {
    /// The connector, from options that passed the kind's checks.
    pub fn build(
        self,
        cfg: &ConnectorConfig,
        settings: &Settings,
    ) -> Result<Connector, ConnectorError> {
        self.own.build(Building {
            cfg,
            settings,
            polling: self.polling,
            secrets: self.secrets,
        })
    }
}

/// What a Rust kind declares besides its typed options struct (`Self`):
/// the registry reads the options, runs the checks and hands the rest of
/// what a connector needs to [`KindOptions::build`].
pub(crate) trait KindOptions: DeserializeOwned + Sized {
    /// The polling keys the kind takes, with its defaults.
    const POLLING: PollingSpec;
    /// Its credentials, each given as `x`, `x_env` or `x_file`.
    const SECRETS: &'static [&'static str] = &[];
    /// Whether its data belongs to one shop, which it must then name.
    const NEEDS_SHOP: bool = true;

    /// What serde cannot check in the kind's own keys (ranges, formats,
    /// keys that go together); the first problem.
    fn check(&self) -> Result<(), OptionProblem> {
        Ok(())
    }

    /// What depends on which credentials are given (never on their
    /// values, which are resolved only when building); after
    /// [`KindOptions::check`].
    fn check_secrets(&self, _secrets: &Secrets) -> Result<(), OptionProblem> {
        Ok(())
    }

    /// The connector, from options that passed the checks.
    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Own {
        app_key: String,
    }

    const SPEC: PollingSpec = PollingSpec::paged(2, 4, 5.0, 100, 100);

    fn cfg(options: serde_json::Value) -> ConnectorConfig {
        ConnectorConfig {
            name: "c".into(),
            kind: "k".into(),
            schedule: None,
            shop: None,
            options: serde_json::from_value(options).unwrap(),
        }
    }

    #[test]
    fn polling_keys_take_the_kind_defaults_and_secrets_their_three_forms() {
        let c = cfg(serde_json::json!({"app_key": "k", "page_size": 50, "app_secret_env": "S"}));
        let (read, problems) = read::<Own>(&c, &SPEC, &["app_secret"]);
        assert!(problems.is_empty(), "{problems:?}");
        let read = read.unwrap();
        assert_eq!(read.own.app_key, "k");
        assert_eq!(
            read.polling,
            Polling {
                lookback_days: 2,
                initial_days: 30,
                concurrency: 4,
                requests_per_second: 5.0,
                page_size: 50
            }
        );
        assert_eq!(read.secrets.get("app_secret").env.as_deref(), Some("S"));
    }

    #[test]
    fn every_problem_is_named_and_a_credential_is_never_quoted() {
        let c = cfg(serde_json::json!({
            "app_key": "k", "page_size": "x", "app_secret": 987654321, "typo": 1
        }));
        let (read, problems) = read::<Own>(&c, &SPEC, &["app_secret"]);
        assert!(read.is_none());
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["page_size", "app_secret", "typo"], "{problems:?}");
        assert!(!problems[1].message.contains("987654321"), "{problems:?}");
    }

    #[test]
    fn a_polling_key_the_kind_does_not_take_is_unknown() {
        let c = cfg(serde_json::json!({"app_key": "k", "page_size": 10}));
        let (_, problems) = read::<Own>(&c, &PollingSpec::NONE, &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "page_size");
        assert!(
            problems[0].message.starts_with("unknown field"),
            "{problems:?}"
        );
    }

    #[test]
    fn page_size_stays_within_the_platform_limit() {
        let c = cfg(serde_json::json!({"app_key": "k", "page_size": 101}));
        let (_, problems) = read::<Own>(&c, &SPEC, &[]);
        assert_eq!(
            problems,
            [OptionProblem::new("page_size", "must be between 1 and 100")]
        );
    }

    #[test]
    fn a_bad_option_keeps_its_key_in_the_connector_error() {
        let c = cfg(serde_json::json!({"app_key": "k", "page_size": 101}));
        let (_, problems) = read::<Own>(&c, &SPEC, &[]);
        let e = config_error(&c)(problems.into_iter().next().unwrap());
        assert!(
            matches!(&e, ConnectorError::BadOption { connector, problem }
                if connector == "c" && problem.key == "page_size"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "connector `c`: page_size: must be between 1 and 100"
        );
        // The binary prints an error's chain: the problem is said once.
        assert_eq!(
            format!("{:#}", anyhow::Error::new(e)),
            "connector `c`: page_size: must be between 1 and 100"
        );
    }
}
