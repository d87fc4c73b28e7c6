//! Targets: a KPI's goal for a scope (everyone, a shop, a role, a person)
//! and a period (a day, a month, a range of months, a year, every month).
//!
//! Targets come from the configuration and from bulk imports (`kpid targets
//! import`), which live in the database; an imported target replaces a
//! configured one with the same KPI, scope and period.
//!
//! **Most specific wins**, period first, then scope: the exact period, then
//! the narrowest range of months that holds the month (the scheme's yearly
//! phases), then "every month"; within one period level a person's target
//! beats their role's, which beats their shop's, which beats everyone's. So a
//! special month set for a whole role still applies to a person who only has
//! an every-month target of their own.

pub mod roles;

use crate::ids::{KpiId, ShopId};
use crate::period::{Period, PeriodError};
use crate::store::{Store, StoreError, TargetRow};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::fmt;

/// Whom a target is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetScope {
    All,
    Shop(ShopId),
    Role(String),
    Person(String),
}

impl TargetScope {
    /// The kind as stored (`all`, `shop`, `role`, `person`).
    pub fn kind(&self) -> &'static str {
        match self {
            TargetScope::All => "all",
            TargetScope::Shop(_) => "shop",
            TargetScope::Role(_) => "role",
            TargetScope::Person(_) => "person",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            TargetScope::All => "",
            TargetScope::Shop(s) => s,
            TargetScope::Role(s) | TargetScope::Person(s) => s,
        }
    }

    pub fn from_parts(kind: &str, id: &str) -> Option<Self> {
        Some(match kind {
            "all" => TargetScope::All,
            "shop" => TargetScope::Shop(id.into()),
            "role" => TargetScope::Role(id.into()),
            "person" => TargetScope::Person(id.into()),
            _ => return None,
        })
    }
}

impl fmt::Display for TargetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetScope::All => f.write_str("all"),
            other => write!(f, "{} {}", other.kind(), other.id()),
        }
    }
}

/// Why a target's period could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TargetPeriodError {
    #[error("`{0}`: a range is two months, YYYY-MM..YYYY-MM")]
    NotMonths(String),
    #[error("`{0}`: the range ends before it starts")]
    Backwards(String),
    #[error("{0}; use YYYY-MM, YYYY-MM..YYYY-MM, YYYY, YYYY-MM-DD or *")]
    NotAPeriod(#[source] PeriodError),
}

/// A month as (year, month), ordered.
pub type YearMonth = (i32, u32);

/// The periods a target applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetPeriod {
    Exact(Period),
    /// Every month from the first to the last, inclusive (`2026-01..2026-03`).
    Months(YearMonth, YearMonth),
    EveryMonth,
}

impl TargetPeriod {
    /// Reads `2026-10`, `2026`, `2026-10-01`, `2026-01..2026-03` or `*`.
    pub fn parse(text: &str) -> Result<Self, TargetPeriodError> {
        let text = text.trim();
        if text == "*" {
            return Ok(TargetPeriod::EveryMonth);
        }
        if let Some((a, b)) = text.split_once("..") {
            let month = |t: &str| match Period::parse_month(t) {
                Ok(Period::Month { year, month }) => Ok((year, month)),
                _ => Err(TargetPeriodError::NotMonths(text.into())),
            };
            let (from, to) = (month(a)?, month(b)?);
            if from > to {
                return Err(TargetPeriodError::Backwards(text.into()));
            }
            return Ok(TargetPeriod::Months(from, to));
        }
        Period::parse_any(text)
            .map(TargetPeriod::Exact)
            .map_err(TargetPeriodError::NotAPeriod)
    }

    /// How specifically this applies to `period` (lower is more specific),
    /// or `None` when it does not apply.
    fn rank(&self, period: Period) -> Option<u32> {
        match (self, period) {
            (TargetPeriod::Exact(p), _) if *p == period => Some(0),
            (TargetPeriod::Months(from, to), Period::Month { year, month })
                if *from <= (year, month) && (year, month) <= *to =>
            {
                Some(1 + months_between(*from, *to))
            }
            (TargetPeriod::EveryMonth, Period::Month { .. }) => Some(u32::MAX),
            _ => None,
        }
    }

    /// The months a month-level period covers, for overlap checks.
    fn months(&self) -> Option<(YearMonth, YearMonth)> {
        match self {
            TargetPeriod::Exact(Period::Month { year, month }) => {
                Some(((*year, *month), (*year, *month)))
            }
            TargetPeriod::Months(a, b) => Some((*a, *b)),
            _ => None,
        }
    }
}

fn months_between(a: YearMonth, b: YearMonth) -> u32 {
    ((b.0 - a.0) * 12 + b.1 as i32 - a.1 as i32) as u32
}

impl fmt::Display for TargetPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetPeriod::Exact(p) => write!(f, "{p}"),
            TargetPeriod::Months(a, b) => {
                write!(f, "{:04}-{:02}..{:04}-{:02}", a.0, a.1, b.0, b.1)
            }
            TargetPeriod::EveryMonth => f.write_str("*"),
        }
    }
}

/// Where a target was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSource {
    /// `[[targets]]` entry number (0-based) of the configuration.
    Config(usize),
    /// Imported from a file at a Unix time.
    Imported { file: String, at: i64 },
}

impl fmt::Display for TargetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetSource::Config(i) => write!(f, "config targets[{i}]"),
            TargetSource::Imported { file, .. } => write!(f, "import {file}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kpi: KpiId,
    pub scope: TargetScope,
    pub period: TargetPeriod,
    pub value: Decimal,
    pub source: TargetSource,
}

impl Target {
    fn key(&self) -> (&str, &TargetScope, &TargetPeriod) {
        (&self.kpi, &self.scope, &self.period)
    }
}

/// The targets imported into the database (`kpid targets import`).
pub async fn imported(store: &Store) -> Result<Vec<Target>, StoreError> {
    store
        .imported_targets()
        .await?
        .into_iter()
        .map(|row| {
            Ok(Target {
                scope: TargetScope::from_parts(&row.scope_kind, &row.scope_id).ok_or_else(
                    || StoreError::Corrupt(format!("target scope `{}`", row.scope_kind)),
                )?,
                period: TargetPeriod::parse(&row.period)
                    .map_err(|_| StoreError::Corrupt(format!("target period `{}`", row.period)))?,
                kpi: row.kpi,
                value: row.value,
                source: TargetSource::Imported {
                    file: row.file,
                    at: row.imported_at,
                },
            })
        })
        .collect()
}

/// Stores imported targets from `file` (replacing earlier imports of the
/// same key) in one transaction; returns how many rows changed.
pub async fn import(store: &Store, targets: &[Target], file: &str) -> Result<u64, StoreError> {
    let rows: Vec<TargetRow> = targets
        .iter()
        .map(|t| TargetRow {
            kpi: t.kpi.clone(),
            scope_kind: t.scope.kind().to_string(),
            scope_id: t.scope.id().to_string(),
            period: t.period.to_string(),
            value: t.value,
            file: file.to_string(),
            imported_at: 0,
        })
        .collect();
    store.import_targets(&rows, file).await
}

/// Every target in force.
#[derive(Debug, Clone, Default)]
pub struct TargetBook {
    targets: Vec<Target>,
    /// Where each KPI's targets for each scope are in `targets`. A month's
    /// snapshots of 1,000 shops look up 35 KPIs for each; scanning every
    /// target on every lookup cost more than evaluating the KPIs, and grows
    /// with the targets (one a shop, or a shop and month, is thousands).
    by_kpi: HashMap<KpiId, HashMap<TargetScope, Vec<usize>>>,
}

impl TargetBook {
    /// Configured targets overlaid by imported ones with the same key.
    pub fn new(configured: Vec<Target>, imported: Vec<Target>) -> Self {
        // An imported target replaces a configured one, and a later import
        // an earlier one, of the same key; the book lists the configured
        // targets left, then the imported ones in the order of their last
        // import.
        let mut last: HashMap<(&str, &TargetScope, &TargetPeriod), usize> = HashMap::new();
        for (i, t) in imported.iter().enumerate() {
            last.insert(t.key(), i);
        }
        let keep: Vec<bool> = imported
            .iter()
            .enumerate()
            .map(|(i, t)| last[&t.key()] == i)
            .collect();
        let mut targets: Vec<Target> = configured
            .into_iter()
            .filter(|t| !last.contains_key(&t.key()))
            .collect();
        targets.extend(
            imported
                .into_iter()
                .zip(keep)
                .filter_map(|(t, keep)| keep.then_some(t)),
        );
        let mut book = TargetBook {
            targets,
            by_kpi: HashMap::new(),
        };
        book.index();
        book
    }

    /// The configured targets overlaid by those imported into `store`.
    pub async fn load(configured: &[Target], store: &Store) -> Result<Self, StoreError> {
        Ok(TargetBook::new(configured.to_vec(), imported(store).await?))
    }

    /// Adds a target, replacing one with the same KPI, scope and period.
    pub fn insert(&mut self, target: Target) {
        self.targets.retain(|t| t.key() != target.key());
        self.targets.push(target);
        self.index();
    }

    fn index(&mut self) {
        self.by_kpi.clear();
        for (i, t) in self.targets.iter().enumerate() {
            let scopes = self.by_kpi.entry(t.kpi.clone()).or_default();
            scopes.entry(t.scope.clone()).or_default().push(i);
        }
    }

    /// The targets of `kpi` for `scope`, in the book's order.
    fn of(&self, kpi: &str, scope: &TargetScope) -> impl Iterator<Item = &Target> {
        self.by_kpi
            .get(kpi)
            .and_then(|s| s.get(scope))
            .into_iter()
            .flatten()
            .map(|i| &self.targets[*i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter()
    }

    /// The most specific target of `kpi` for `period` among `scopes`, which
    /// are listed from the most specific (a person) to the least (everyone).
    pub fn lookup(&self, kpi: &str, period: Period, scopes: &[TargetScope]) -> Option<Decimal> {
        scopes
            .iter()
            .enumerate()
            .flat_map(|(s, scope)| {
                self.of(kpi, scope)
                    .filter_map(move |t| Some(((t.period.rank(period)?, s), t.value)))
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, v)| v)
    }

    /// True when some target of `kpi` could apply to a month for `scopes`.
    pub fn has_month_target(&self, kpi: &str, period: Period, scopes: &[TargetScope]) -> bool {
        self.lookup(kpi, period, scopes).is_some()
    }

    /// Pairs of targets of the same KPI and scope whose month ranges overlap
    /// without one being an exact month (then which applies is ambiguous).
    pub fn overlaps(&self) -> Vec<(&Target, &Target)> {
        let mut out = Vec::new();
        for (i, a) in self.targets.iter().enumerate() {
            for b in &self.targets[i + 1..] {
                if ranges_clash(a, b) {
                    out.push((a, b));
                }
            }
        }
        out
    }

    /// The target among these that `candidate` would clash with.
    pub fn clash_with(&self, candidate: &Target) -> Option<&Target> {
        self.of(&candidate.kpi, &candidate.scope)
            .find(|t| t.key() != candidate.key() && ranges_clash(t, candidate))
    }
}

/// Two ranges (not exact months, which are simply more specific) of the
/// same KPI and scope sharing a month.
fn ranges_clash(a: &Target, b: &Target) -> bool {
    if a.kpi != b.kpi || a.scope != b.scope {
        return false;
    }
    match (&a.period, &b.period) {
        (TargetPeriod::Months(..), TargetPeriod::Months(..)) => {
            let ((a0, a1), (b0, b1)) = (a.period.months().unwrap(), b.period.months().unwrap());
            a0 <= b1 && b0 <= a1
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dec as d;
    use std::str::FromStr;

    fn t(kpi: &str, scope: TargetScope, period: &str, v: &str) -> Target {
        Target {
            kpi: kpi.into(),
            scope,
            period: TargetPeriod::parse(period).unwrap(),
            value: Decimal::from_str(v).unwrap(),
            source: TargetSource::Config(0),
        }
    }

    fn m(s: &str) -> Period {
        Period::parse_month(s).unwrap()
    }

    #[test]
    fn the_most_specific_period_then_scope_wins() {
        let person = TargetScope::Person("li".into());
        let role = TargetScope::Role("ops".into());
        let scopes = [person.clone(), role.clone(), TargetScope::All];
        let book = TargetBook::new(
            vec![
                t("gmv", TargetScope::All, "*", "100"),
                t("gmv", person.clone(), "*", "110"),
                t("gmv", role.clone(), "2026-01..2026-03", "50"),
                t("gmv", TargetScope::All, "2026-01..2026-12", "70"),
                t("gmv", role.clone(), "2026-10", "200"),
                t("gmv", person.clone(), "2026-10", "210"),
            ],
            vec![],
        );
        assert_eq!(book.lookup("gmv", m("2026-10"), &scopes), Some(d("210")));
        assert_eq!(book.lookup("gmv", m("2026-02"), &scopes), Some(d("50")));
        assert_eq!(book.lookup("gmv", m("2026-05"), &scopes), Some(d("70")));
        assert_eq!(book.lookup("gmv", m("2027-05"), &scopes), Some(d("110")));
        // Another person only sees the shared targets.
        let other = [TargetScope::Person("wang".into()), TargetScope::All];
        assert_eq!(book.lookup("gmv", m("2027-05"), &other), Some(d("100")));
        // Month targets are not year targets.
        assert_eq!(
            book.lookup("gmv", Period::parse_year("2026").unwrap(), &scopes),
            None
        );
    }

    #[test]
    fn imports_replace_configured_targets_with_the_same_key() {
        let mut imported = t("gmv", TargetScope::All, "2026-10", "9");
        imported.source = TargetSource::Imported {
            file: "t.csv".into(),
            at: 1,
        };
        let book = TargetBook::new(
            vec![t("gmv", TargetScope::All, "2026-10", "5")],
            vec![imported],
        );
        assert_eq!(book.iter().count(), 1);
        assert_eq!(
            book.lookup("gmv", m("2026-10"), &[TargetScope::All]),
            Some(d("9"))
        );
    }

    #[test]
    fn a_book_overlays_imports_as_inserting_them_one_by_one_does() {
        let imported = |kpi: &str, period: &str, v: &str, at: i64| {
            let mut x = t(kpi, TargetScope::All, period, v);
            x.source = TargetSource::Imported {
                file: "t.csv".into(),
                at,
            };
            x
        };
        let configured = vec![
            t("gmv", TargetScope::All, "2026-10", "5"),
            t("orders", TargetScope::All, "*", "7"),
            t("gmv", TargetScope::All, "2026-11", "6"),
        ];
        // Imports that replace a configured target, each other, and neither.
        let imports = vec![
            imported("gmv", "2026-11", "60", 1),
            imported("uv", "2026-10", "1", 2),
            imported("gmv", "2026-11", "61", 3),
            imported("gmv", "2026-12", "8", 4),
        ];
        let book = TargetBook::new(configured.clone(), imports.clone());
        let mut one_by_one = TargetBook::new(configured, vec![]);
        for x in imports {
            one_by_one.insert(x);
        }
        let listed = |b: &TargetBook| b.iter().cloned().collect::<Vec<_>>();
        assert_eq!(listed(&book), listed(&one_by_one));
        let values: Vec<String> = book.iter().map(|x| x.value.to_string()).collect();
        assert_eq!(values, ["5", "7", "1", "61", "8"]);
        // Each KPI finds its own targets and only those.
        let all = [TargetScope::All];
        assert_eq!(book.lookup("gmv", m("2026-11"), &all), Some(d("61")));
        assert_eq!(book.lookup("orders", m("2026-11"), &all), Some(d("7")));
        assert_eq!(book.lookup("uv", m("2026-11"), &all), None);
        assert_eq!(book.lookup("refund_rate", m("2026-10"), &all), None);
        let clash = t("gmv", TargetScope::All, "2026-10..2026-12", "1");
        assert_eq!(book.clash_with(&clash).map(|x| x.kpi.as_str()), None);
        let ranged = TargetBook::new(
            vec![t("gmv", TargetScope::All, "2026-09..2026-10", "1")],
            vec![],
        );
        assert!(ranged.clash_with(&clash).is_some());
        let other_kpi = t("orders", TargetScope::All, "2026-10..2026-12", "1");
        assert!(ranged.clash_with(&other_kpi).is_none());
    }

    #[test]
    fn overlapping_ranges_are_found() {
        let book = TargetBook::new(
            vec![
                t("gmv", TargetScope::All, "2026-01..2026-03", "1"),
                t("gmv", TargetScope::All, "2026-03..2026-09", "2"),
                t("gmv", TargetScope::All, "2026-10..2026-12", "3"),
                t("gmv", TargetScope::All, "2026-02", "4"),
            ],
            vec![],
        );
        let o = book.overlaps();
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].0.period.to_string(), "2026-01..2026-03");
        assert_eq!(o[0].1.period.to_string(), "2026-03..2026-09");
    }

    #[test]
    fn periods_parse_and_print() {
        for s in ["2026-01..2026-03", "2026-10", "2026", "2026-10-01", "*"] {
            assert_eq!(TargetPeriod::parse(s).unwrap().to_string(), s);
        }
        assert!(TargetPeriod::parse("2026-03..2026-01").is_err());
        assert!(TargetPeriod::parse("2026-1..2026-03").is_err());
    }
}
