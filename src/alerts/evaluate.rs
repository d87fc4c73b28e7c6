//! Evaluation: each rule's KPIs over its running period, from the facts as
//! they are now (no snapshot revision is written), against the target
//! pro-rated to the part of the period that has passed.
//!
//! - `today`: the local day so far; sum-type KPIs against the day target ×
//!   the elapsed share of the local day, ratios as they are.
//! - `day`: yesterday, complete.
//! - `month`: the 1st through yesterday; sum-type KPIs against the month
//!   target × completed days / days in the month. On the 1st there is no
//!   month to date and the rule is not evaluated.
//!
//! A day target is the exact day's target when one is set; otherwise a
//! sum-type KPI's month target spread evenly over the month's days, and a
//! ratio's month target as it is.

use super::config::{Compare, Condition, Rule, RuleKpis, RuleScope, Rules};
use super::message::{Measure, Reading, WatchPeriod};
use crate::ids::ShopId;
use crate::kpi::{round_value, InputValues, KpiSpec};
use crate::period::{day_start, local_day, Days, LocalDay, Period};
use crate::scoring::attainment_of;
use crate::settings::refund_sources;
use crate::settings::Settings;
use crate::store::{Store, StoreError};
use crate::targets::roles::Person;
use crate::targets::{TargetBook, TargetScope};
use chrono::{DateTime, Duration, Months, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Whom an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Shop(ShopId),
    Person(String),
}

impl Scope {
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Shop(_) => "shop",
            Scope::Person(_) => "person",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Scope::Shop(s) => s,
            Scope::Person(s) => s,
        }
    }

    pub fn from_parts(kind: &str, id: &str) -> Option<Self> {
        match kind {
            "shop" => Some(Scope::Shop(id.into())),
            "person" => Some(Scope::Person(id.into())),
            _ => None,
        }
    }
}

/// The local days a running period covers at an instant, and the share of
/// its target that has come due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub period: WatchPeriod,
    pub days: Days,
    /// The month whose targets apply.
    pub month: Period,
    /// Of the period's own target (a day's or the month's), the part due.
    pub share: Share,
}

/// A fraction kept as two integers, so a target × 9/31 is computed as
/// target × 9 / 31 (exact when the target is a multiple of 31).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    pub part: i64,
    pub whole: i64,
}

impl Share {
    pub const ALL: Share = Share { part: 1, whole: 1 };

    pub fn of(&self, d: Decimal) -> Decimal {
        d * Decimal::from(self.part) / Decimal::from(self.whole.max(1))
    }
}

impl Window {
    /// `None` on the 1st for `month` (there is no month to date).
    pub fn at(period: WatchPeriod, at: DateTime<Utc>, tz: Tz) -> Option<Window> {
        let today = local_day(at, tz);
        let yesterday = today - Duration::days(1);
        Some(match period {
            WatchPeriod::Today => {
                // The local day's real length: 23 or 25 hours across DST.
                let start = day_start(today, tz);
                let length = (day_start(today + Duration::days(1), tz) - start).num_seconds();
                let elapsed = (at - start).num_seconds().clamp(0, length);
                Window {
                    period,
                    days: Days::one(today),
                    month: Period::month_of(today),
                    share: Share {
                        part: elapsed,
                        whole: length,
                    },
                }
            }
            WatchPeriod::Day => Window {
                period,
                days: Days::one(yesterday),
                month: Period::month_of(yesterday),
                share: Share::ALL,
            },
            WatchPeriod::Month => {
                if today.day() == 1 {
                    return None;
                }
                let month = Period::month_of(today);
                Window {
                    period,
                    days: Days::new(month.first_day(), yesterday).ok()?,
                    month,
                    share: Share {
                        part: i64::from(today.day() - 1),
                        whole: month.days().count(),
                    },
                }
            }
        })
    }

    /// `2026-10-05`, or `2026-10-01..2026-10-09`.
    pub fn label(&self) -> String {
        self.days.to_string()
    }

    /// The same days of the comparison period of a drop/rise rule.
    fn compared(&self, compare: Compare) -> Days {
        let back = |d: LocalDay| match compare {
            Compare::PreviousDay => d - Duration::days(1),
            Compare::SameDayLastWeek => d - Duration::days(7),
            Compare::PreviousMonth => d
                .date()
                .checked_sub_months(Months::new(1))
                .map_or(d, LocalDay::from_date),
        };
        Days::new(back(self.days.first()), back(self.days.last()))
            .expect("moving both ends back alike keeps their order")
    }

    /// The days whose values `prev(…)` in formulas reads.
    fn previous(&self) -> Days {
        match self.period {
            WatchPeriod::Month => self.compared(Compare::PreviousMonth),
            _ => self.compared(Compare::PreviousDay),
        }
    }
}

/// The target a KPI is held against over `window`: `(full, due)`, the
/// period's whole target and the part of it due by now.
pub fn window_target(
    spec: &KpiSpec,
    book: &TargetBook,
    scopes: &[TargetScope],
    window: &Window,
) -> (Option<Decimal>, Option<Decimal>) {
    let month_target = book.lookup(spec.id.as_str(), window.month, scopes);
    let sums = spec.sums_over_days;
    let due_of = |t: Decimal| if sums { window.share.of(t) } else { t };
    let (full, due) = match window.period {
        WatchPeriod::Month => (month_target, month_target.map(due_of)),
        WatchPeriod::Today | WatchPeriod::Day => {
            match book.lookup(spec.id.as_str(), Period::Day(window.days.first()), scopes) {
                Some(day) => (Some(day), Some(due_of(day))),
                None => match month_target {
                    // The month's target spread evenly over its days; the
                    // due part in one step so it stays exact.
                    Some(t) if sums => {
                        let days = window.month.days().count();
                        let spread = Share {
                            part: window.share.part,
                            whole: window.share.whole * days,
                        };
                        (Some(t / Decimal::from(days)), Some(spread.of(t)))
                    }
                    other => (other, other),
                },
            }
        }
    };
    (full.map(round_value), due.map(round_value))
}

/// One (rule, scope, KPI) as evaluated now.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub rule: String,
    pub kpi: String,
    pub scope: Scope,
    /// The running period watched, and the days it covered.
    pub period: WatchPeriod,
    pub period_label: String,
    pub reading: Reading,
    /// `None` when there is nothing to decide (no value, no target, no
    /// comparison value): the alert's state stays as it is.
    pub breach: Option<bool>,
}

/// Values of every KPI of one scope over some days, computed once per
/// evaluation.
pub(crate) struct Values<'a> {
    settings: &'a Settings,
    store: &'a Store,
    pub(crate) book: TargetBook,
    cache: HashMap<(Scope, Days), HashMap<String, Option<Decimal>>>,
    inputs: HashMap<(Scope, Days), InputValues>,
}

impl<'a> Values<'a> {
    pub(crate) async fn new(settings: &'a Settings, store: &'a Store) -> Result<Self, StoreError> {
        Ok(Values {
            settings,
            store,
            book: TargetBook::load(&settings.targets, store).await?,
            cache: HashMap::new(),
            inputs: HashMap::new(),
        })
    }

    async fn inputs(&mut self, scope: &Scope, days: Days) -> Result<InputValues, StoreError> {
        let key = (scope.clone(), days);
        if let Some(v) = self.inputs.get(&key) {
            return Ok(v.clone());
        }
        let v = match scope {
            Scope::Shop(shop) => {
                let mut v = InputValues::load_days(self.store, shop, days).await?;
                // As in snapshots: a shop without a refund source has no refund KPIs.
                if !refund_sources::has_refund_source(self.settings, self.store, shop).await? {
                    refund_sources::clear(&mut v);
                }
                v
            }
            Scope::Person(id) => match self.settings.person(id) {
                Some(p) => {
                    // Windows lie within a month (one across a year's end
                    // converts money at that year's rates).
                    let (from, to) = (days.first(), days.last());
                    let rates_of = if (from.year(), from.month()) == (to.year(), to.month()) {
                        Period::month_of(from)
                    } else {
                        Period::Year(from.year())
                    };
                    crate::scorecard::scope::load_person_days(
                        self.settings,
                        self.store,
                        p,
                        rates_of,
                        days,
                    )
                    .await?
                }
                None => InputValues::default(),
            },
        };
        self.inputs.insert(key, v.clone());
        Ok(v)
    }

    /// Every KPI of `scope` over a running period's days; `prev(…)` reads
    /// the window's previous days, `target(…)` its pro-rated targets.
    pub(crate) async fn of_window(
        &mut self,
        scope: &Scope,
        window: &Window,
    ) -> Result<HashMap<String, Option<Decimal>>, StoreError> {
        let key = (scope.clone(), window.days);
        if let Some(v) = self.cache.get(&key) {
            return Ok(v.clone());
        }
        let current = self.inputs(scope, window.days).await?;
        let prev = self.inputs(scope, window.previous()).await?;
        let scopes = target_scopes(self.settings, scope);
        let cat = &self.settings.catalogue;
        let book = &self.book;
        let target = |id: &str| {
            cat.get(id)
                .and_then(|spec| window_target(spec, book, &scopes, window).1)
        };
        // `prev(…)` reaches one window back here; targets of earlier
        // windows are not pro-rated, so `target(…)` under `prev` has none.
        let target_back = |id: &str, back: usize| if back == 0 { target(id) } else { None };
        let values: HashMap<String, Option<Decimal>> = cat
            .evaluate(&[current, prev], &target_back)
            .into_iter()
            .collect();
        self.cache.insert(key, values.clone());
        Ok(values)
    }
}

/// The scopes whose targets apply, most specific first.
pub fn target_scopes(settings: &Settings, scope: &Scope) -> Vec<TargetScope> {
    match scope {
        Scope::Shop(s) => vec![TargetScope::Shop(s.clone()), TargetScope::All],
        Scope::Person(p) => match settings.person(p) {
            Some(person) => person.target_scopes(),
            None => vec![TargetScope::Person(p.clone()), TargetScope::All],
        },
    }
}

/// The zone whose days a scope's alerts count: the shop's, or a person's
/// first shop's.
pub fn scope_tz(settings: &Settings, scope: &Scope) -> Tz {
    let shop = match scope {
        Scope::Shop(s) => Some(s.as_str()),
        Scope::Person(p) => settings
            .person(p)
            .and_then(|p: &Person| p.shops.first().map(ShopId::as_str)),
    };
    shop.and_then(|s| settings.shop(s))
        .map(|s| s.tz)
        .unwrap_or(settings.default_tz)
}

fn rule_scopes(settings: &Settings, rule: &Rule) -> Vec<Scope> {
    match &rule.scope {
        RuleScope::EveryShop => settings
            .shops
            .iter()
            .map(|s| Scope::Shop(s.id.clone()))
            .collect(),
        RuleScope::Shop(s) => vec![Scope::Shop(s.as_str().into())],
        RuleScope::Person(p) => vec![Scope::Person(p.clone())],
        RuleScope::Role(r) => settings
            .people
            .iter()
            .filter(|p| &p.role == r)
            .map(|p| Scope::Person(p.id.clone()))
            .collect(),
    }
}

/// Evaluates every rule as of `at`.
pub async fn observe(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    at: DateTime<Utc>,
) -> Result<Vec<Observation>, StoreError> {
    let mut values = Values::new(settings, store).await?;
    let cap = settings.scoring.cap;
    let mut out = Vec::new();
    for rule in &rules.rules {
        for scope in rule_scopes(settings, rule) {
            let Some(window) = Window::at(rule.period, at, scope_tz(settings, &scope)) else {
                continue;
            };
            let scopes = target_scopes(settings, &scope);
            let kpis: Vec<&KpiSpec> = match &rule.kpis {
                RuleKpis::One(id) => settings.catalogue.get(id).into_iter().collect(),
                RuleKpis::WithTarget => settings
                    .catalogue
                    .iter()
                    .filter(|k| {
                        values
                            .book
                            .lookup(k.id.as_str(), window.month, &scopes)
                            .is_some()
                    })
                    .collect(),
            };
            if kpis.is_empty() {
                continue;
            }
            let now = values.of_window(&scope, &window).await?;
            let base = match rule.compare {
                Some(c) if matches!(rule.condition, Condition::Drop | Condition::Rise) => {
                    let shifted = Window {
                        days: window.compared(c),
                        ..window
                    };
                    Some(values.of_window(&scope, &shifted).await?)
                }
                _ => None,
            };
            for spec in kpis {
                let value = now.get(spec.id.as_str()).copied().flatten();
                let (full, due) = window_target(spec, &values.book, &scopes, &window);
                let attained = attainment_of(spec, value, due, cap);
                let compared = base
                    .as_ref()
                    .and_then(|b| b.get(spec.id.as_str()).copied().flatten());
                // A comparison day is whole: today so far is held against
                // the same share of it.
                let compared = compared.map(|c| {
                    if window.period == WatchPeriod::Today && spec.sums_over_days {
                        window.share.of(c)
                    } else {
                        c
                    }
                });
                let (threshold, breach) = decide(rule, spec, value, due, attained, compared);
                out.push(Observation {
                    rule: rule.name.clone(),
                    kpi: spec.id.to_string(),
                    scope: scope.clone(),
                    period: rule.period,
                    period_label: window.label(),
                    reading: Reading {
                        measure: Measure {
                            value,
                            target: full,
                            attainment: attained,
                        },
                        threshold: threshold.map(round_value),
                    },
                    breach,
                });
            }
        }
    }
    Ok(out)
}

/// The effective threshold and whether it is breached; `None` when there is
/// nothing to compare.
fn decide(
    rule: &Rule,
    spec: &KpiSpec,
    value: Option<Decimal>,
    due: Option<Decimal>,
    attained: Option<Decimal>,
    compared: Option<Decimal>,
) -> (Option<Decimal>, Option<bool>) {
    use crate::kpi::Direction;
    let t = rule.threshold;
    let Some(value) = value else {
        return (None, None);
    };
    match rule.condition {
        Condition::BelowTarget | Condition::AboveTarget => {
            // Attainment already reads "worse" the same way for both
            // directions (target/actual for `down` KPIs).
            let threshold = due.and_then(|d| match spec.direction {
                Direction::Up => Some(d * t),
                Direction::Down if t.is_zero() => None,
                Direction::Down => Some(d / t),
            });
            let breach = attained.map(|a| {
                if rule.condition == Condition::BelowTarget {
                    a < t
                } else {
                    a > t
                }
            });
            (threshold, breach)
        }
        Condition::Below => (Some(t), Some(value < t)),
        Condition::Above => (Some(t), Some(value > t)),
        Condition::Drop | Condition::Rise => {
            let Some(base) = compared.filter(|b| !b.is_zero()) else {
                return (None, None);
            };
            let threshold = if rule.condition == Condition::Drop {
                base * (Decimal::ONE - t)
            } else {
                base * (Decimal::ONE + t)
            };
            let change = (value - base) / base.abs();
            let breach = if rule.condition == Condition::Drop {
                change < -t
            } else {
                change > t
            };
            (Some(threshold), Some(breach))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;
    use std::str::FromStr;

    #[test]
    fn month_to_date_covers_completed_days_and_skips_the_first() {
        let tz = chrono_tz::Asia::Shanghai;
        let w = Window::at(WatchPeriod::Month, at("2026-10-10T01:00:00+08:00"), tz).unwrap();
        assert_eq!(w.label(), "2026-10-01..2026-10-09");
        assert_eq!(w.share.of(Decimal::from(31000)), Decimal::from(9000));
        assert!(Window::at(WatchPeriod::Month, at("2026-11-01T09:00:00+08:00"), tz).is_none());
        // 16:30 UTC on 31 October is already 1 November in Shanghai.
        assert!(Window::at(WatchPeriod::Month, at("2026-10-31T16:30:00Z"), tz).is_none());
    }

    #[test]
    fn today_share_follows_the_local_day_length() {
        // 2026-11-01 in Los Angeles has 25 hours (DST ends at 02:00).
        let tz = chrono_tz::America::Los_Angeles;
        let w = Window::at(WatchPeriod::Today, at("2026-11-01T12:30:00-08:00"), tz).unwrap();
        assert_eq!(w.share.of(Decimal::from(250)), Decimal::from(135));
        let d = Decimal::from_str("50").unwrap();
        let w = Window::at(
            WatchPeriod::Today,
            at("2026-10-05T12:00:00+08:00"),
            chrono_tz::Asia::Shanghai,
        )
        .unwrap();
        assert_eq!(w.share.of(Decimal::from(100)), d);
    }
}
