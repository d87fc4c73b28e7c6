//! The connector registry: every kind kpid knows, by name, with its typed
//! options, its credentials and how it is built. A Rust kind is one line of
//! [`RUST_KINDS`]; a declarative kind is one definition file
//! ([`Definitions`]). The configuration knows no kind: checking a
//! connector's options, telling which of its keys are secret and building it
//! all ask the registry.

use super::declarative::{self, Definitions};
use super::options::{self, KindOptions, OptionProblem, Read};
use super::{csv, demo, douyin, google_ads, jd, pinduoduo, taobao, xlsx, zendesk};
use super::{Connector, ConnectorError};
use crate::config::ConnectorConfig;
use crate::settings::Settings;

/// A Rust kind in the registry.
#[derive(Clone, Copy)]
pub struct Kind {
    pub name: &'static str,
    /// Option keys holding credentials.
    pub secrets: &'static [&'static str],
    check: fn(&ConnectorConfig) -> Vec<OptionProblem>,
    build: fn(&ConnectorConfig, &Settings) -> Result<Connector, ConnectorError>,
}

impl Kind {
    /// The kind `name` whose options are `O`.
    pub(crate) const fn of<O: KindOptions>(name: &'static str) -> Kind {
        Kind {
            name,
            secrets: O::SECRETS,
            check: check_kind::<O>,
            build: build_kind::<O>,
        }
    }
}

/// Every typing problem of the options at once (unknown keys, wrong types);
/// when they read, the first problem of the kind's own checks, then the shop.
fn check_kind<O: KindOptions>(cfg: &ConnectorConfig) -> Vec<OptionProblem> {
    match read_checked::<O>(cfg) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

fn read_checked<O: KindOptions>(cfg: &ConnectorConfig) -> Result<Read<O>, Vec<OptionProblem>> {
    let (read, problems) = options::read::<O>(cfg, &O::POLLING, O::SECRETS);
    let read = read.ok_or(problems)?;
    read.own.check().map_err(|p| vec![p])?;
    read.own.check_secrets(&read.secrets).map_err(|p| vec![p])?;
    if O::NEEDS_SHOP {
        require_shop(cfg).map_err(|p| vec![p])?;
    }
    Ok(read)
}

fn build_kind<O: KindOptions>(
    cfg: &ConnectorConfig,
    settings: &Settings,
) -> Result<Connector, ConnectorError> {
    let read = read_checked::<O>(cfg).map_err(|problems| {
        let first = problems
            .into_iter()
            .next()
            .unwrap_or_else(|| OptionProblem::new("kind", "the options cannot be read"));
        options::config_error(cfg)(first)
    })?;
    read.build(cfg, settings)
}

/// The kinds implemented in Rust, one line each.
pub(crate) const RUST_KINDS: &[Kind] = &[
    Kind::of::<csv::CsvOptions>("csv"),
    Kind::of::<xlsx::XlsxOptions>("xlsx"),
    Kind::of::<demo::DemoOptions>("demo"),
    Kind::of::<taobao::TaobaoOptions>("taobao"),
    Kind::of::<pinduoduo::PinduoduoOptions>("pinduoduo"),
    Kind::of::<jd::JdOptions>("jd"),
    Kind::of::<douyin::DouyinOptions>("douyin"),
    Kind::of::<zendesk::ZendeskOptions>("zendesk"),
    Kind::of::<google_ads::GoogleAdsOptions>("google_ads"),
];

/// The names of the Rust kinds (a definition may not take one).
pub fn rust_kind_names() -> Vec<&'static str> {
    RUST_KINDS.iter().map(|k| k.name).collect()
}

/// Kinds whose data belongs to one shop must name it; whether the shop
/// exists is checked with the keys every kind shares.
pub(crate) fn require_shop(cfg: &ConnectorConfig) -> Result<(), OptionProblem> {
    match cfg.shop {
        Some(_) => Ok(()),
        None => Err(OptionProblem::new(
            "shop",
            format!(
                "a `{}` connector needs the `shop` its data belongs to",
                cfg.kind
            ),
        )),
    }
}

/// The kinds a configuration can use: the Rust ones and its definitions.
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    definitions: &'a Definitions,
}

/// A kind found in the registry.
enum Found<'a> {
    Rust(&'static Kind),
    Definition(&'a std::sync::Arc<declarative::Definition>),
}

impl<'a> Registry<'a> {
    pub fn new(definitions: &'a Definitions) -> Self {
        Registry { definitions }
    }

    fn find(&self, kind: &str) -> Option<Found<'a>> {
        match RUST_KINDS.iter().find(|k| k.name == kind) {
            Some(k) => Some(Found::Rust(k)),
            None => self.definitions.get(kind).map(Found::Definition),
        }
    }

    /// Every kind's name: the Rust ones, then the definitions'.
    pub fn names(&self) -> Vec<&str> {
        let mut names = rust_kind_names();
        names.extend(self.definitions.iter().map(|d| d.kind.as_str()));
        names
    }

    pub fn contains(&self, kind: &str) -> bool {
        self.find(kind).is_some()
    }

    /// Whether option `key` of a `kind` connector holds a credential: the
    /// kind says so, or (an unknown kind or key, a typo) the name looks like
    /// one, so that hiding errs on the safe side.
    pub fn is_secret(&self, kind: &str, key: &str) -> bool {
        let declared = match self.find(kind) {
            Some(Found::Rust(k)) => k.secrets.contains(&key),
            Some(Found::Definition(d)) => d
                .credentials
                .iter()
                .any(|c| c.secret && c.name.eq_ignore_ascii_case(key)),
            None => false,
        };
        declared || crate::secrets::looks_secret(key)
    }

    /// The problems of a connector's kind-specific options, each under its
    /// key; nothing for an unknown kind (reported with the shared keys).
    pub fn check(&self, cfg: &ConnectorConfig) -> Vec<OptionProblem> {
        match self.find(&cfg.kind) {
            Some(Found::Rust(k)) => (k.check)(cfg),
            Some(Found::Definition(def)) => {
                let mut problems = declarative::engine::Options::problems(def, cfg);
                if problems.is_empty() {
                    problems.extend(require_shop(cfg).err());
                }
                problems
            }
            None => Vec::new(),
        }
    }

    /// The connector, ready to run.
    pub fn build(
        &self,
        cfg: &ConnectorConfig,
        settings: &Settings,
    ) -> Result<Connector, ConnectorError> {
        match self.find(&cfg.kind) {
            Some(Found::Rust(k)) => (k.build)(cfg, settings),
            Some(Found::Definition(def)) => {
                declarative::DeclarativeConnector::build(def.clone(), cfg, settings)
                    .map(|c| Connector::Declarative(c.into()))
            }
            None => Err(ConnectorError::Config {
                connector: cfg.name.clone(),
                message: format!("unknown kind `{}`", cfg.kind),
            }),
        }
    }
}

/// The configuration as TOML for `kpid check`, each connector's credentials
/// hidden as its kind (among the Rust ones and `definitions`) declares them.
pub fn redacted_toml(config: &crate::config::Config, definitions: &Definitions) -> String {
    let registry = Registry::new(definitions);
    crate::config::redacted_toml(config, |c, key| registry.is_secret(&c.kind, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_built_in_definition_takes_a_rust_kind() {
        for def in Definitions::builtin().iter() {
            assert!(
                !rust_kind_names().contains(&def.kind.as_str()),
                "{} takes the Rust kind `{}`",
                def.source,
                def.kind
            );
        }
    }

    #[test]
    fn a_kind_says_which_of_its_keys_are_secret() {
        let registry = Registry::new(Definitions::builtin());
        assert!(registry.is_secret("taobao", "session"));
        assert!(registry.is_secret("taobao", "app_secret"));
        assert!(!registry.is_secret("taobao", "app_key"));
        assert!(!registry.is_secret("taobao", "session_env"));
        // A key of no kind that looks like a credential is hidden all the same.
        assert!(registry.is_secret("csv", "acess_token"));
    }
}
