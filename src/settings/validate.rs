//! Validation of what the settings hold, without the network, and the
//! assembly of [`Settings`]. A component's own checks (KPI formulas, roles,
//! scoring) come back as (key, message) pairs located here at their file
//! and line; `crate::setup` adds connector and alert problems the same way.

use super::{Settings, Shop};
use crate::config::collect;
use crate::config::{
    is_currency_code, Config, ConfigErrors, CurrencyConfig, KeyProblem, Origins, Problem,
};
use crate::currency::Rates;
use crate::ids::ShopId;
use crate::kpi::Catalogue;
use crate::period::Period;
use crate::schedule::CronSchedule;
use crate::scoring::Scoring;
use crate::secrets::redact_url;
use crate::targets::roles::{self, Person};
use crate::targets::{Target, TargetPeriod, TargetScope, TargetSource};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::str::FromStr;

/// A configuration read and checked as far as the settings go, with every
/// problem found so far. The layers above (`crate::setup`: connector kinds
/// and options, alert rules) add theirs before [`Checked::finish`], so one
/// run reports every problem, each at its file, line and key.
pub struct Checked {
    /// The settings, with stand-ins where a part is wrong (the UTC zone, the
    /// built-in catalogue…) so that the checks above can still run.
    pub settings: Settings,
    origins: Origins,
    /// Keys reported while reading: validation sees placeholders and
    /// defaults there, and a key already reported is not reported again.
    reported: Vec<String>,
    problems: Vec<Problem>,
}

impl Checked {
    /// Loads, merges the environment over the file, and validates. An error
    /// only when nothing typed can be read (no file, bad TOML syntax).
    pub fn load(path: &Path) -> Result<Checked, ConfigErrors> {
        let (config, origins, problems) = crate::config::read(path)?;
        let reported: Vec<String> = problems.iter().map(|p| p.key.clone()).collect();
        let (settings, more) = assemble(config, path, &origins);
        let mut checked = Checked {
            settings,
            origins,
            reported,
            problems,
        };
        for p in more {
            checked.push(p);
        }
        Ok(checked)
    }

    /// Adds a problem under `key` of the configuration, located at the
    /// key's line (or the environment variable that set it).
    pub fn report(&mut self, p: KeyProblem) {
        let p = self.origins.problem(p.key, p.message);
        self.push(p);
    }

    /// Adds a problem already located (in a definition file, say).
    pub fn push(&mut self, p: Problem) {
        if !self.reported.iter().any(|r| collect::is_under(&p.key, r)) {
            self.problems.push(p);
        }
    }

    /// The settings, or every problem: in the file's order, environment
    /// variables and other files after.
    pub fn finish(self) -> Result<Settings, ConfigErrors> {
        let Checked {
            settings,
            origins,
            mut problems,
            ..
        } = self;
        if problems.is_empty() {
            return Ok(settings);
        }
        problems.sort_by_key(|p| (p.file != origins.file(), p.line.is_none(), p.line));
        Err(ConfigErrors(problems))
    }
}

/// A `timezone` that names no zone of the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not an IANA time zone (e.g. Asia/Shanghai)")]
pub struct UnknownZone {
    pub name: String,
}

fn parse_tz(name: &str) -> Result<Tz, UnknownZone> {
    Tz::from_str(name).map_err(|_| UnknownZone {
        name: name.to_string(),
    })
}

/// Checks what the settings hold without touching the network (every key
/// as written in `text`, the contents of `path`); connector kinds and alert
/// rules are `crate::setup`'s.
pub fn validate(config: Config, path: &Path, text: &str) -> Result<Settings, ConfigErrors> {
    let (settings, problems) = assemble(config, path, &Origins::of_file(path, text));
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigErrors(problems))
    }
}

/// Reports an empty `id`, and one `seen` before (a `what` defined twice).
fn check_unique_id(
    id: &str,
    seen: &mut HashSet<String>,
    what: &str,
    mut report: impl FnMut(String),
) {
    if id.trim().is_empty() {
        report("must not be empty".into());
    }
    if !seen.insert(id.to_string()) {
        report(format!("{what} `{id}` is defined twice"));
    }
}

/// The settings with stand-ins where a part is wrong, and the problems
/// found, in the order checked.
fn assemble(config: Config, path: &Path, origins: &Origins) -> (Settings, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut report = |key: String, message: String| {
        problems.push(origins.problem(key, message));
    };

    let default_tz = parse_tz(&config.timezone).unwrap_or_else(|e| {
        report("timezone".into(), e.to_string());
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
        check_unique_id(&s.id, &mut shop_ids, "shop", |m| {
            report(format!("shops[{i}].id"), m)
        });
        let tz = match &s.timezone {
            Some(name) => parse_tz(name).unwrap_or_else(|e| {
                report(format!("shops[{i}].timezone"), e.to_string());
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
            id: s.id.as_str().into(),
            tz,
            currency: s.currency.clone(),
        });
    }

    let (rates, rate_problems) = currency_rates(&config.currency);
    for p in rate_problems {
        report(p.key, p.message);
    }

    let catalogue = match Catalogue::new(&config.kpis) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs {
                report(format!("kpis[{}].{}", e.index, e.field), e.message);
            }
            Catalogue::builtin()
        }
    };

    let mut names = HashSet::new();
    let mut connector_schedules = BTreeMap::new();
    for (i, c) in config.connectors.iter().enumerate() {
        check_unique_id(&c.name, &mut names, "connector", |m| {
            report(format!("connectors[{i}].name"), m)
        });
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
    }

    if let Err(e) = CronSchedule::parse(&config.snapshot.schedule, default_tz) {
        report("snapshot.schedule".into(), e.to_string());
    }
    if config.snapshot.score_cap.is_some() {
        report(
            "snapshot.score_cap".into(),
            "removed: set scoring.cap (the one cap of snapshots, scorecards and alerts)".into(),
        );
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
    for p in role_problems {
        report(p.key(), p.to_string());
    }
    let mut people = Vec::new();
    let mut person_ids = HashSet::new();
    for (i, p) in config.people.iter().enumerate() {
        check_unique_id(&p.id, &mut person_ids, "person", |m| {
            report(format!("people[{i}].id"), m)
        });
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
            config.shops.iter().map(|s| ShopId::from(&s.id)).collect()
        } else {
            p.shops.iter().map(ShopId::from).collect()
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
    let scoring = Scoring::check(&config.scoring).unwrap_or_else(|errs| {
        for e in errs {
            report(e.key().into(), e.to_string());
        }
        Scoring::default()
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
                Some(TargetScope::Shop(s.as_str().into()))
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
            .map_err(|e| report(format!("targets[{i}].period"), e.to_string()))
            .ok();
        if let (Some(scope), Some(period)) = (scope, period) {
            let target = Target {
                kpi: t.kpi.as_str().into(),
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
        Err(e) => {
            report("server.token".into(), e.to_string());
            None
        }
    };

    let settings = Settings {
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
        refund_kinds: Default::default(),
        server_token,
    };
    (settings, problems)
}

/// Validates `[currency]` and its rates: the rates, and a problem at each
/// key that is wrong.
fn currency_rates(c: &CurrencyConfig) -> (Rates, Vec<KeyProblem>) {
    let mut problems = Vec::new();
    let mut report = |key: String, message: String| problems.push(KeyProblem::new(key, message));
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
    (Rates::new(c.base.clone(), out), problems)
}
