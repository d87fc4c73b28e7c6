//! `[alerts]`: rules, digests and channels as configured, and their
//! validation into ready-to-evaluate [`Rules`].
//!
//! Problems are returned as (key, message) pairs with keys such as
//! `alerts.rules[2].kpi`, which `settings::validate` turns into file:line
//! problems like every other section's.

use super::message::WatchPeriod;
use crate::config::{default_severity, ChannelConfig, KeyProblem, Language};
pub use crate::config::{AlertsConfig, DecimalText, DigestConfig, RuleConfig};
use crate::kpi::Catalogue;
use crate::schedule::CronSchedule;
use crate::settings::Shop;
use crate::targets::roles::{Person, Role};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::collections::HashSet;
use std::str::FromStr;

/// What a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Attainment against the (pro-rated) target below `threshold`.
    BelowTarget,
    AboveTarget,
    /// The value itself below / above `threshold`.
    Below,
    Above,
    /// Change against the comparison period by more than `threshold` (a fraction).
    Drop,
    Rise,
}

impl Condition {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "below_target" => Condition::BelowTarget,
            "above_target" => Condition::AboveTarget,
            "below" => Condition::Below,
            "above" => Condition::Above,
            "drop" => Condition::Drop,
            "rise" => Condition::Rise,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::BelowTarget => "below_target",
            Condition::AboveTarget => "above_target",
            Condition::Below => "below",
            Condition::Above => "above",
            Condition::Drop => "drop",
            Condition::Rise => "rise",
        }
    }

    pub fn needs_target(self) -> bool {
        matches!(self, Condition::BelowTarget | Condition::AboveTarget)
    }
}

/// The period a `drop`/`rise` rule compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    PreviousDay,
    SameDayLastWeek,
    PreviousMonth,
}

impl Compare {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "previous_day" => Compare::PreviousDay,
            "same_day_last_week" => Compare::SameDayLastWeek,
            "previous_month" => Compare::PreviousMonth,
            _ => return None,
        })
    }
}

fn parse_watch_period(s: &str) -> Option<WatchPeriod> {
    Some(match s {
        "today" => WatchPeriod::Today,
        "day" => WatchPeriod::Day,
        "month" => WatchPeriod::Month,
        _ => return None,
    })
}

/// Whom a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleScope {
    EveryShop,
    Shop(String),
    Person(String),
    /// Every person with this role.
    Role(String),
}

/// Which KPIs a rule watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKpis {
    One(String),
    /// The built-in rule: every KPI that has a target for the scope.
    WithTarget,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub kpis: RuleKpis,
    pub scope: RuleScope,
    pub period: WatchPeriod,
    pub condition: Condition,
    pub threshold: Decimal,
    pub compare: Option<Compare>,
    /// Consecutive breaching evaluations before it fires (at least 1).
    pub for_evaluations: u32,
    pub severity: String,
    pub channels: Vec<String>,
}

/// The name of the built-in rule (`[alerts] below_target`).
pub const BUILTIN_RULE: &str = "below-target";

impl DigestConfig {
    /// The digest's schedule in a shop's zone (validated at load).
    pub fn schedule_in(&self, tz: Tz) -> Option<CronSchedule> {
        CronSchedule::parse(&self.schedule, tz).ok()
    }
}

/// `[alerts]` ready to use.
#[derive(Debug, Clone)]
pub struct Rules {
    pub language: Language,
    pub repeat_interval: chrono::Duration,
    pub send_resolved: bool,
    pub dashboard_url: Option<String>,
    pub rules: Vec<Rule>,
    /// As configured, checked, with `shops` resolved (never empty): a
    /// validated digest needs nothing the table does not say.
    pub digests: Vec<DigestConfig>,
    pub channels: Vec<ChannelConfig>,
}

impl Rules {
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.name == name)
    }

    pub fn digest(&self, name: &str) -> Option<&DigestConfig> {
        self.digests.iter().find(|d| d.name == name)
    }
}

/// What validation needs from the rest of the configuration.
pub struct Context<'a> {
    pub catalogue: &'a Catalogue,
    pub shops: &'a [Shop],
    pub people: &'a [Person],
    pub roles: &'a [Role],
    pub default_tz: Tz,
}

/// The problems found in `[alerts]`, each at its key.
#[derive(Default)]
struct Problems(Vec<KeyProblem>);

impl Problems {
    fn at(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(KeyProblem::new(key, message));
    }

    fn add(&mut self, found: impl IntoIterator<Item = KeyProblem>) {
        self.0.extend(found);
    }
}

/// Validates `[alerts]`; each problem names its key.
pub fn resolve(cfg: &AlertsConfig, cx: &Context) -> (Rules, Vec<KeyProblem>) {
    let mut problems = Problems::default();

    let repeat_interval = humantime::parse_duration(cfg.repeat_interval.trim())
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .filter(|d| *d > chrono::Duration::zero())
        .unwrap_or_else(|| {
            problems.at(
                "alerts.repeat_interval",
                format!(
                    "`{}` is not a duration such as 4h, 30m or 1h 30m",
                    cfg.repeat_interval
                ),
            );
            chrono::Duration::hours(4)
        });

    let mut channel_names = HashSet::new();
    for (i, c) in cfg.channels.iter().enumerate() {
        if c.name.trim().is_empty() {
            problems.at(format!("alerts.channels[{i}].name"), "must not be empty");
        } else if !channel_names.insert(c.name.clone()) {
            problems.at(
                format!("alerts.channels[{i}].name"),
                format!("channel `{}` is defined twice", c.name),
            );
        }
        if let Err(e) = c
            .build()
            .map(|_| ())
            .or_else(|e| if e.key == "name" { Ok(()) } else { Err(e) })
        {
            problems.at(format!("alerts.channels[{i}].{}", e.key), e.message);
        }
    }
    let known_channels = || {
        let mut v: Vec<&str> = cfg.channels.iter().map(|c| c.name.as_str()).collect();
        v.sort();
        if v.is_empty() {
            "none: add [[alerts.channels]]".to_string()
        } else {
            v.join(", ")
        }
    };
    // A rule's or digest's channels that no [[alerts.channels]] defines.
    let unknown_channels = |key: &str, list: &[String]| -> Vec<KeyProblem> {
        list.iter()
            .filter(|name| !channel_names.contains(*name))
            .map(|name| {
                KeyProblem::new(
                    key,
                    format!(
                        "no channel `{name}` in [[alerts.channels]] (known: {})",
                        known_channels()
                    ),
                )
            })
            .collect()
    };

    let mut rules = Vec::new();
    if !cfg.below_target.is_empty() {
        problems.add(unknown_channels("alerts.below_target", &cfg.below_target));
        rules.push(Rule {
            name: BUILTIN_RULE.into(),
            kpis: RuleKpis::WithTarget,
            scope: RuleScope::EveryShop,
            period: WatchPeriod::Month,
            condition: Condition::BelowTarget,
            threshold: Decimal::ONE,
            compare: None,
            for_evaluations: 1,
            severity: default_severity(),
            channels: cfg.below_target.clone(),
        });
    }

    let mut rule_names: HashSet<String> = rules.iter().map(|r| r.name.clone()).collect();
    for (i, r) in cfg.rules.iter().enumerate() {
        let key = |field: &str| format!("alerts.rules[{i}].{field}");
        if r.name.trim().is_empty() {
            problems.at(key("name"), "must not be empty");
        } else if !rule_names.insert(r.name.clone()) {
            problems.at(
                key("name"),
                if r.name == BUILTIN_RULE {
                    format!("`{BUILTIN_RULE}` is the built-in rule of `[alerts] below_target`")
                } else {
                    format!("rule `{}` is defined twice", r.name)
                },
            );
        }
        if cx.catalogue.get(&r.kpi).is_none() {
            problems.at(
                key("kpi"),
                format!("unknown KPI `{}` (see `kpid kpis`)", r.kpi),
            );
        }
        let scope = match (&r.shop, &r.person, &r.role) {
            (None, None, None) => Some(RuleScope::EveryShop),
            (Some(s), None, None) => {
                if !cx.shops.iter().any(|x| &x.id == s) {
                    problems.at(key("shop"), format!("no shop `{s}` in [[shops]]"));
                }
                Some(RuleScope::Shop(s.clone()))
            }
            (None, Some(p), None) => {
                if !cx.people.iter().any(|x| &x.id == p) {
                    problems.at(key("person"), format!("no person `{p}` in [[people]]"));
                }
                Some(RuleScope::Person(p.clone()))
            }
            (None, None, Some(role)) => {
                if !cx.roles.iter().any(|x| &x.id == role) {
                    problems.at(key("role"), format!("no role `{role}`"));
                }
                Some(RuleScope::Role(role.clone()))
            }
            _ => {
                problems.at(
                    key("name"),
                    "set at most one of `shop`, `person` and `role`",
                );
                None
            }
        };
        let period = parse_watch_period(&r.period);
        if period.is_none() {
            problems.at(
                key("period"),
                format!("`{}` must be today, day or month", r.period),
            );
        }
        let condition = Condition::parse(&r.condition);
        if condition.is_none() {
            problems.at(
                key("condition"),
                format!(
                    "`{}` must be below_target, above_target, below, above, drop or rise",
                    r.condition
                ),
            );
        }
        let threshold = crate::money::parse_decimal(&r.threshold.0)
            .or_else(|_| Decimal::from_str(r.threshold.0.trim()))
            .ok();
        if threshold.is_none() {
            problems.at(
                key("threshold"),
                format!(
                    "`{}` is not a decimal number such as \"0.9\"",
                    r.threshold.0
                ),
            );
        }
        let compare = match (&r.compare, condition) {
            (Some(c), Some(Condition::Drop | Condition::Rise)) => {
                let parsed = Compare::parse(c);
                if parsed.is_none() {
                    problems.at(
                        key("compare"),
                        format!("`{c}` must be previous_day, same_day_last_week or previous_month"),
                    );
                }
                parsed
            }
            (Some(_), Some(other)) => {
                problems.at(
                    key("compare"),
                    format!(
                        "`compare` is only for drop and rise (this rule's condition is {})",
                        other.as_str()
                    ),
                );
                None
            }
            (None, Some(Condition::Drop | Condition::Rise)) => Some(Compare::PreviousDay),
            _ => None,
        };
        if r.for_evaluations == 0 {
            problems.at(key("for"), "must be at least 1");
        }
        if r.channels.is_empty() {
            problems.at(key("channels"), "name at least one channel");
        }
        problems.add(unknown_channels(&key("channels"), &r.channels));
        if let (Some(scope), Some(period), Some(condition), Some(threshold)) =
            (scope, period, condition, threshold)
        {
            rules.push(Rule {
                name: r.name.clone(),
                kpis: RuleKpis::One(r.kpi.clone()),
                scope,
                period,
                condition,
                threshold,
                compare,
                for_evaluations: r.for_evaluations.max(1),
                severity: r.severity.clone(),
                channels: r.channels.clone(),
            });
        }
    }

    let mut digests = Vec::new();
    let mut digest_names = HashSet::new();
    for (i, d) in cfg.digests.iter().enumerate() {
        let key = |field: &str| format!("alerts.digests[{i}].{field}");
        if d.name.trim().is_empty() {
            problems.at(key("name"), "must not be empty");
        } else if !digest_names.insert(d.name.clone()) {
            problems.at(key("name"), format!("digest `{}` is defined twice", d.name));
        }
        if let Err(e) = CronSchedule::parse(&d.schedule, cx.default_tz) {
            problems.at(key("schedule"), e.to_string());
        }
        for s in &d.shops {
            if !cx.shops.iter().any(|x| &x.id == s) {
                problems.at(key("shops"), format!("no shop `{s}` in [[shops]]"));
            }
        }
        for k in &d.kpis {
            if cx.catalogue.get(k).is_none() {
                problems.at(key("kpis"), format!("unknown KPI `{k}` (see `kpid kpis`)"));
            }
        }
        if d.channels.is_empty() {
            problems.at(key("channels"), "name at least one channel");
        }
        problems.add(unknown_channels(&key("channels"), &d.channels));
        let mut digest = d.clone();
        if digest.shops.is_empty() {
            digest.shops = cx.shops.iter().map(|s| s.id.clone()).collect();
        }
        digests.push(digest);
    }

    let dashboard_url = Some(cfg.dashboard_url.trim().to_string()).filter(|u| !u.is_empty());
    (
        Rules {
            language: cfg.language,
            repeat_interval,
            send_resolved: cfg.send_resolved,
            dashboard_url,
            rules,
            digests,
            channels: cfg.channels.clone(),
        },
        problems.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_alerts_table_means_the_documented_defaults() {
        let absent = AlertsConfig::default();
        let empty: AlertsConfig = toml::from_str("").unwrap();
        for c in [absent, empty] {
            assert_eq!(c.repeat_interval, "4h");
            assert!(c.send_resolved);
            assert_eq!(c.language, Language::Zh);
        }
    }

    #[test]
    fn a_channel_no_table_defines_is_named_under_the_key_that_uses_it() {
        let cfg: AlertsConfig = toml::from_str(
            r#"
            below_target = ["pager"]
            [[channels]]
            name = "ops"
            kind = "log"
            [[digests]]
            name = "morning"
            schedule = "0 9 * * *"
            channels = ["ops", "mail"]
            "#,
        )
        .unwrap();
        let catalogue = Catalogue::builtin();
        let cx = Context {
            catalogue: &catalogue,
            shops: &[],
            people: &[],
            roles: &[],
            default_tz: chrono_tz::UTC,
        };
        let (_, problems) = resolve(&cfg, &cx);
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.key.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "alerts.below_target",
                    "no channel `pager` in [[alerts.channels]] (known: ops)"
                ),
                (
                    "alerts.digests[0].channels",
                    "no channel `mail` in [[alerts.channels]] (known: ops)"
                ),
            ]
        );
    }
}
