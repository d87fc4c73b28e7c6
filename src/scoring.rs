//! Attainment, score and grade: the one rule that snapshots, scorecards (and
//! appeals) and alerts all apply, with the one score cap they share.

use crate::config::{GradeConfig, ScoringConfig};
use crate::kpi::{round_value, Direction, KpiSpec};
use crate::measure::Measure;
use crate::period::LocalDay;
use rust_decimal::Decimal;

/// Attainment of `actual` against `target` for `kpi`.
///
/// - Ratio form, for a target above 0 on a KPI whose values cannot be
///   negative: actual/target for `up` KPIs, target/actual for `down` ones,
///   where an actual of 0 is full attainment (the cap).
/// - Distance form, for a target of 0 or below, or a KPI whose values can be
///   negative (growth rates, differences; see [`KpiSpec::signed`]): a ratio
///   of two negative numbers would invert the score, so attainment is
///   1 + (actual − target)/|target| for `up` KPIs and
///   1 + (target − actual)/|target| for `down` ones, never below 0. A target
///   of exactly 0 has no width to measure by: 1 + (actual − target) (`up`),
///   1 + (target − actual) (`down`). For an `up` KPI with a positive target
///   both forms agree.
///
/// The score caps attainment (see [`score`]); attainment itself is not capped.
pub fn attainment(
    kpi: &KpiSpec,
    actual: Decimal,
    target: Decimal,
    cap: Decimal,
) -> Option<Decimal> {
    if kpi.signed || target <= Decimal::ZERO {
        let width = if target.is_zero() {
            Decimal::ONE
        } else {
            target.abs()
        };
        let ahead = match kpi.direction {
            Direction::Up => actual.checked_sub(target)?,
            Direction::Down => target.checked_sub(actual)?,
        };
        let a = Decimal::ONE.checked_add(ahead.checked_div(width)?)?;
        return Some(round_value(a.max(Decimal::ZERO)));
    }
    match kpi.direction {
        Direction::Up => actual.checked_div(target),
        Direction::Down if actual.is_zero() => Some(cap),
        Direction::Down => target.checked_div(actual),
    }
    .map(round_value)
}

/// [`attainment`] where the value or the target may be missing: without
/// both there is none. Snapshots, alerts and digests all read it so.
pub fn attainment_of(
    kpi: &KpiSpec,
    actual: Option<Decimal>,
    target: Option<Decimal>,
    cap: Decimal,
) -> Option<Decimal> {
    attainment(kpi, actual?, target?, cap)
}

/// A value against its target, scored as snapshots and scorecards keep
/// it: the measure with its [`attainment_of`], and the [`score`] of that
/// attainment; neither without both a value and a target.
pub fn scored(
    kpi: &KpiSpec,
    value: Option<Decimal>,
    target: Option<Decimal>,
    cap: Decimal,
) -> (Measure, Option<Decimal>) {
    let attainment = attainment_of(kpi, value, target, cap);
    let measure = Measure {
        value,
        target,
        attainment,
    };
    (measure, attainment.map(|a| score(a, cap)))
}

/// Score = 100 × min(attainment, cap), never below 0.
pub fn score(attainment: Decimal, cap: Decimal) -> Decimal {
    round_value(Decimal::ONE_HUNDRED * attainment.min(cap).max(Decimal::ZERO))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grade {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub min: Decimal,
    pub bonus: Decimal,
}

/// Scoring rules with grade bands sorted from the best down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoring {
    /// The one score cap: snapshots, scorecards and alerts all score with it.
    pub cap: Decimal,
    pub grades: Vec<Grade>,
    pub close_working_days: u32,
    pub appeal_working_days: u32,
    pub holidays: Vec<LocalDay>,
}

/// What is wrong with the scoring rules; [`ScoringProblem::key`] names the
/// configuration key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringProblem {
    #[error("must be at least 1")]
    CapBelowOne,
    #[error("at least one grade is needed")]
    NoGrades,
    #[error("grades `{first}` and `{second}` have the same min")]
    SameMin { first: String, second: String },
    #[error("grade `{0}` is defined twice")]
    GradeTwice(String),
    #[error("`{0}` is not a date YYYY-MM-DD")]
    NotADate(String),
}

impl ScoringProblem {
    /// The configuration key the problem is about.
    pub fn key(&self) -> &'static str {
        match self {
            ScoringProblem::CapBelowOne => "scoring.cap",
            ScoringProblem::NoGrades
            | ScoringProblem::SameMin { .. }
            | ScoringProblem::GradeTwice(_) => "scoring.grades",
            ScoringProblem::NotADate(_) => "scoring.holidays",
        }
    }
}

impl Default for Scoring {
    fn default() -> Self {
        Scoring::check(&ScoringConfig::default()).expect("the default scoring rules are valid")
    }
}

impl Scoring {
    /// Checks and sorts the scoring rules of `[scoring]`.
    pub fn check(c: &ScoringConfig) -> Result<Scoring, Vec<ScoringProblem>> {
        let mut problems = Vec::new();
        if c.cap < Decimal::ONE {
            problems.push(ScoringProblem::CapBelowOne);
        }
        if c.grades.is_empty() {
            problems.push(ScoringProblem::NoGrades);
        }
        let mut grades: Vec<Grade> = c.grades.iter().map(grade).collect();
        grades.sort_by_key(|g| std::cmp::Reverse(g.min));
        for w in grades.windows(2) {
            if w[0].min == w[1].min {
                problems.push(ScoringProblem::SameMin {
                    first: w[0].id.clone(),
                    second: w[1].id.clone(),
                });
            }
        }
        let mut ids = std::collections::HashSet::new();
        for g in &grades {
            if !ids.insert(&g.id) {
                problems.push(ScoringProblem::GradeTwice(g.id.clone()));
            }
        }
        let mut holidays = Vec::new();
        for h in &c.holidays {
            match LocalDay::parse_ymd(h.trim()) {
                Ok(d) => holidays.push(d),
                Err(_) => problems.push(ScoringProblem::NotADate(h.clone())),
            }
        }
        if problems.is_empty() {
            Ok(Scoring {
                cap: c.cap,
                grades,
                close_working_days: c.close_working_days,
                appeal_working_days: c.appeal_working_days,
                holidays,
            })
        } else {
            Err(problems)
        }
    }

    /// The grade of a total: the best band whose minimum it reaches; below
    /// every minimum, the lowest band.
    pub fn grade(&self, total: Decimal) -> &Grade {
        self.grades
            .iter()
            .find(|g| total >= g.min)
            .unwrap_or_else(|| self.grades.last().expect("at least one grade"))
    }

    pub fn grade_by_id(&self, id: &str) -> Option<&Grade> {
        self.grades.iter().find(|g| g.id == id)
    }
}

fn grade(g: &GradeConfig) -> Grade {
    Grade {
        id: g.id.clone(),
        name_zh: g.name_zh.clone(),
        name_en: g.name_en.clone(),
        min: g.min,
        bonus: g.bonus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::Catalogue;
    use crate::testing::dec as d;
    use std::str::FromStr;

    fn spec(id: &str) -> KpiSpec {
        Catalogue::builtin().get(id).unwrap().clone()
    }

    #[test]
    fn no_attainment_without_both_a_value_and_a_target() {
        let (cap, gmv) = (d("1.2"), spec("gmv"));
        assert_eq!(attainment_of(&gmv, None, Some(d("100")), cap), None);
        assert_eq!(attainment_of(&gmv, Some(d("50")), None, cap), None);
        assert_eq!(
            attainment_of(&gmv, Some(d("50")), Some(d("100")), cap),
            Some(d("0.5"))
        );
    }

    #[test]
    fn a_scored_measure_keeps_its_numbers_and_is_capped() {
        let (cap, gmv) = (d("1.2"), spec("gmv"));
        let (m, s) = scored(&gmv, Some(d("150")), Some(d("100")), cap);
        assert_eq!(
            (m.value, m.target, m.attainment),
            (Some(d("150")), Some(d("100")), Some(d("1.5")))
        );
        assert_eq!(s, Some(d("120")));
        let (m, s) = scored(&gmv, Some(d("150")), None, cap);
        assert_eq!((m.value, m.attainment, s), (Some(d("150")), None, None));
    }

    #[test]
    fn down_kpi_with_zero_actual_is_full_attainment() {
        let cap = d("1.2");
        let first_response = spec("first_response_seconds");
        assert_eq!(attainment(&first_response, d("0"), d("30"), cap), Some(cap));
        assert_eq!(
            attainment(&first_response, d("60"), d("30"), cap),
            Some(d("0.5"))
        );
    }

    #[test]
    fn negative_targets_and_signed_kpis_use_the_distance_form() {
        let cap = d("1.2");
        let growth = spec("gmv_growth_mom");
        assert!(growth.signed && !spec("gmv").signed);
        // (actual, target, attainment) of the growth KPI.
        for (actual, target, want) in [
            // The numbers: target −0.1.
            ("-0.205", "-0.1", "0"),
            ("0.083", "-0.1", "2.83"),
            ("-0.1", "-0.1", "1"),
            ("-0.15", "-0.1", "0.5"),
            // A positive growth target: the same as the ratio for `up`.
            ("0.05", "0.1", "0.5"),
            ("-0.05", "0.1", "0"),
            // A target of exactly 0: 1 + (actual − target).
            ("0.2", "0", "1.2"),
            ("-0.3", "0", "0.7"),
        ] {
            assert_eq!(
                attainment(&growth, d(actual), d(target), cap),
                Some(d(want)),
                "{actual} against {target}"
            );
        }
        let gmv = spec("gmv");
        assert_eq!(attainment(&gmv, d("5"), d("0"), cap), Some(d("6")));
        // `down` mirrors it: 1 + (target − actual)/|target|.
        let violations = spec("cs_violations");
        assert_eq!(attainment(&violations, d("0"), d("0"), cap), Some(d("1")));
        assert_eq!(attainment(&violations, d("2"), d("0"), cap), Some(d("0")));
        let mut falling = growth.clone();
        falling.direction = Direction::Down;
        assert_eq!(
            attainment(&falling, d("-0.15"), d("-0.1"), cap),
            Some(d("1.5"))
        );
        assert_eq!(attainment(&falling, d("0"), d("-0.1"), cap), Some(d("0")));
        assert_eq!(score(d("2.83"), cap), d("120"));
    }

    #[test]
    fn score_is_capped_and_floored() {
        let cap = d("1.2");
        assert_eq!(score(d("1.5"), cap), d("120"));
        assert_eq!(score(d("0.8"), cap), d("80"));
        assert_eq!(score(d("-0.2"), cap), d("0"));
    }

    #[test]
    fn grade_bands_meet_at_their_minimums() {
        let s = Scoring::default();
        let g = |t: &str| s.grade(Decimal::from_str(t).unwrap()).id.clone();
        assert_eq!(g("90"), "excellent");
        assert_eq!(g("89.99"), "good");
        assert_eq!(g("80"), "good");
        assert_eq!(g("60"), "pass");
        assert_eq!(g("59.99"), "fail");
        assert_eq!(g("0"), "fail");
        assert_eq!(g("120"), "excellent");
    }

    #[test]
    fn a_cap_below_one_is_a_problem_on_scoring_cap() {
        let c = ScoringConfig {
            cap: d("0.9"),
            ..ScoringConfig::default()
        };
        let problems = Scoring::check(&c).unwrap_err();
        assert_eq!(problems, [ScoringProblem::CapBelowOne]);
        assert_eq!(problems[0].key(), "scoring.cap");
        assert_eq!(Scoring::default().cap, d("1.2"));
    }
}
