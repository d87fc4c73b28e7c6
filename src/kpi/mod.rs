//! The KPI engine: the catalogue (built-in and user KPIs), the inputs of a
//! period, and formula evaluation.

pub mod catalogue;
pub mod formula;
pub mod inputs;

pub use catalogue::{Direction, Unit};
pub use inputs::{FactsCache, InputValues};

use crate::config::UserKpiConfig;
use crate::ids::KpiId;
use catalogue::{builtin_kpi, input_def, CATEGORIES, INPUTS, KPIS};
use formula::{Expr, Op};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::HashMap;

/// Decimal places kept for derived values (ratios, averages).
pub const VALUE_DP: u32 = 6;

/// A KPI ready to evaluate.
#[derive(Debug, Clone)]
pub struct KpiSpec {
    pub id: KpiId,
    pub name_zh: String,
    pub name_en: String,
    pub formula: String,
    pub expr: Expr,
    pub unit: Unit,
    pub direction: Direction,
    pub category: String,
    pub builtin: bool,
    /// Its values can be negative: the formula subtracts or negates, or
    /// names a KPI that can (growth rates, differences). Such a KPI is scored
    /// by distance to its target, never by ratio (`scoring::attainment`).
    pub signed: bool,
    /// The value adds up over days (gmv, orders, pv, ad spend…): a part of
    /// a period is held against the same part of its target. Ratios,
    /// means, ranks and distinct counts do not.
    pub sums_over_days: bool,
}

/// Built-in KPIs followed by the user's, in order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    kpis: Vec<KpiSpec>,
    index: HashMap<KpiId, usize>,
}

/// A user KPI that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiConfigError {
    pub index: usize,
    pub field: &'static str,
    pub message: String,
}

impl Catalogue {
    pub fn builtin() -> Self {
        Self::new(&[]).expect("built-in catalogue is valid")
    }

    /// Adds the user's KPIs to the built-in ones, checking every formula.
    pub fn new(user: &[UserKpiConfig]) -> Result<Self, Vec<KpiConfigError>> {
        let mut kpis: Vec<KpiSpec> = KPIS
            .iter()
            .map(|k| KpiSpec {
                id: k.id.into(),
                name_zh: k.name_zh.into(),
                name_en: k.name_en.into(),
                formula: k.formula.into(),
                expr: formula::parse(k.formula).expect("built-in formula parses"),
                unit: k.unit,
                direction: k.direction,
                category: k.category.into(),
                builtin: true,
                signed: false,
                sums_over_days: false,
            })
            .collect();
        let mut errors = Vec::new();
        // Position in `user` of each user KPI kept (one whose formula failed
        // to parse is left out, so catalogue positions do not map directly).
        let mut user_index_of = Vec::new();
        for (index, u) in user.iter().enumerate() {
            let mut err = |field, message: String| {
                errors.push(KpiConfigError {
                    index,
                    field,
                    message,
                })
            };
            if !valid_kpi_id(&u.id) {
                err(
                    "id",
                    format!("`{}` must be lowercase letters, digits and _", u.id),
                );
            } else if builtin_kpi(&u.id).is_some() || input_def(&u.id).is_some() {
                err(
                    "id",
                    format!("`{}` is already a built-in KPI or input", u.id),
                );
            } else if kpis.iter().any(|k| k.id == u.id) {
                err("id", format!("`{}` is defined twice", u.id));
            }
            let unit = Unit::parse(&u.unit).unwrap_or_else(|| {
                err(
                    "unit",
                    format!(
                        "`{}` is not a unit (money, count, ratio, percent, seconds, score, rank)",
                        u.unit
                    ),
                );
                Unit::Ratio
            });
            let direction = Direction::parse(&u.direction).unwrap_or_else(|| {
                err(
                    "direction",
                    format!("`{}` must be `up` or `down`", u.direction),
                );
                Direction::Up
            });
            if !CATEGORIES.contains(&u.category.as_str()) {
                err(
                    "category",
                    format!(
                        "`{}` is not a category ({})",
                        u.category,
                        CATEGORIES.join(", ")
                    ),
                );
            }
            let expr = match formula::parse(&u.formula) {
                Ok(e) => e,
                Err(e) => {
                    err(
                        "formula",
                        format!("KPI `{}`: `{}` {e}", u.id, excerpt(&u.formula)),
                    );
                    continue;
                }
            };
            user_index_of.push(index);
            kpis.push(KpiSpec {
                id: u.id.as_str().into(),
                name_zh: u.name_zh.clone().unwrap_or_else(|| u.id.clone()),
                name_en: u.name_en.clone().unwrap_or_else(|| u.id.clone()),
                formula: u.formula.clone(),
                expr,
                unit,
                direction,
                category: u.category.clone(),
                builtin: false,
                signed: false,
                sums_over_days: false,
            });
        }
        let index: HashMap<KpiId, usize> = kpis
            .iter()
            .enumerate()
            .map(|(i, k)| (k.id.clone(), i))
            .collect();
        let builtin_count = KPIS.len();
        for (i, k) in kpis.iter().enumerate().skip(builtin_count) {
            let user_index = user_index_of[i - builtin_count];
            for id in k.expr.ids() {
                if input_def(id).is_none() && !index.contains_key(id) {
                    errors.push(KpiConfigError {
                        index: user_index,
                        field: "formula",
                        message: format!(
                            "`{}` at position {}: unknown id `{id}` (not an input or KPI; see `kpid kpis`)",
                            k.formula,
                            k.formula.find(id).map(|p| p + 1).unwrap_or(1)
                        ),
                    });
                }
            }
        }
        let mut cat = Catalogue { kpis, index };
        if errors.is_empty() {
            let sums: Vec<bool> = cat
                .kpis
                .iter()
                .map(|k| cat.sums_over_days(&k.expr, 0))
                .collect();
            for (k, s) in cat.kpis.iter_mut().zip(sums) {
                k.sums_over_days = s;
            }
            for (i, k) in cat.kpis.iter().enumerate().skip(builtin_count) {
                if cat.reaches(k.id.as_str(), &k.expr, &mut Vec::new()) {
                    errors.push(KpiConfigError {
                        index: user_index_of[i - builtin_count],
                        field: "formula",
                        message: format!("`{}` refers back to `{}` (a cycle)", k.formula, k.id),
                    });
                }
            }
        }
        if errors.is_empty() {
            for i in 0..cat.kpis.len() {
                cat.kpis[i].signed = cat.can_be_negative(&cat.kpis[i].expr, &mut Vec::new());
            }
            Ok(cat)
        } else {
            Err(errors)
        }
    }

    /// True when `expr` adds up over days: inputs summed over days, and
    /// sums, differences and constant multiples of such.
    fn sums_over_days(&self, expr: &Expr, depth: usize) -> bool {
        // Depth bounds a cycle, which validation reports separately.
        if depth > 32 {
            return false;
        }
        let sums = |e: &Expr| self.sums_over_days(e, depth + 1);
        match expr {
            Expr::Ref(id) => match input_def(id) {
                Some(def) => def.aggregation == catalogue::Aggregation::Sum,
                None => self.get(id).is_some_and(|k| sums(&k.expr)),
            },
            Expr::Neg(x) => sums(x),
            Expr::Bin(Op::Add | Op::Sub, l, r) => sums(l) && sums(r),
            Expr::Bin(Op::Mul, l, r) => match (&**l, &**r) {
                (Expr::Num(_), x) | (x, Expr::Num(_)) => sums(x),
                _ => false,
            },
            Expr::Bin(Op::Div, l, r) => matches!(&**r, Expr::Num(_)) && sums(l),
            Expr::Num(_) | Expr::Prev(_) | Expr::Target(_) | Expr::PeerMean(_) => false,
        }
    }

    /// True when `expr` depends on KPI `target` (through other KPIs).
    fn reaches<'a>(&'a self, target: &str, expr: &'a Expr, seen: &mut Vec<&'a str>) -> bool {
        expr.ids().into_iter().any(|id| {
            if input_def(id).is_some() || seen.contains(&id) {
                return false;
            }
            if id == target {
                return true;
            }
            seen.push(id);
            self.get(id)
                .is_some_and(|k| self.reaches(target, &k.expr, seen))
        })
    }

    /// True when `expr` can be negative although inputs never are: it
    /// subtracts or negates, or names a KPI (or a KPI's target) that can.
    fn can_be_negative<'a>(&'a self, expr: &'a Expr, seen: &mut Vec<&'a str>) -> bool {
        expr.subtracts()
            || expr.ids().into_iter().any(|id| {
                if input_def(id).is_some() || seen.contains(&id) {
                    return false;
                }
                seen.push(id);
                self.get(id)
                    .is_some_and(|k| self.can_be_negative(&k.expr, seen))
            })
    }

    pub fn get(&self, id: &str) -> Option<&KpiSpec> {
        self.index.get(id).map(|i| &self.kpis[*i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &KpiSpec> {
        self.kpis.iter()
    }

    pub fn len(&self) -> usize {
        self.kpis.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kpis.is_empty()
    }

    /// How many periods back evaluation reads: the deepest nesting of
    /// `prev()` over every KPI, through the KPIs each one names.
    pub fn prev_depth(&self) -> usize {
        self.kpis
            .iter()
            .map(|k| self.depth(&k.expr, &mut Vec::new()))
            .max()
            .unwrap_or(0)
    }

    fn depth<'a>(&'a self, expr: &'a Expr, seen: &mut Vec<&'a str>) -> usize {
        match expr {
            Expr::Num(_) | Expr::Target(_) | Expr::PeerMean(_) => 0,
            Expr::Ref(id) if input_def(id).is_some() || seen.contains(&id.as_str()) => 0,
            Expr::Ref(id) => {
                seen.push(id);
                let d = self.get(id).map(|k| self.depth(&k.expr, seen)).unwrap_or(0);
                seen.pop();
                d
            }
            Expr::Neg(x) => self.depth(x, seen),
            Expr::Prev(x) => 1 + self.depth(x, seen),
            Expr::Bin(_, l, r) => self.depth(l, seen).max(self.depth(r, seen)),
        }
    }

    /// Evaluates every KPI. `inputs[k]` holds the inputs of the period `k`
    /// periods back (0 is the period itself; see [`Catalogue::prev_depth`]
    /// for how many are read); `target(kpi, k)` looks up a KPI's target for
    /// that period. `prev()` shifts everything under it by one period,
    /// targets included, and nests; a period beyond `inputs` has no values.
    pub fn evaluate(
        &self,
        inputs: &[InputValues],
        target: &dyn Fn(&str, usize) -> Option<Decimal>,
    ) -> Vec<(String, Option<Decimal>)> {
        let mut ev = Evaluator {
            cat: self,
            inputs,
            target,
            memo: HashMap::new(),
        };
        (0..self.kpis.len())
            .map(|i| {
                let v = ev.kpi(i, 0).map(round_value);
                (self.kpis[i].id.to_string(), v)
            })
            .collect()
    }
}

/// A formula as quoted in an error: a long one is cut, so a generated
/// formula of thousands of terms does not flood the terminal.
fn excerpt(formula: &str) -> String {
    const SHOWN: usize = 60;
    match formula.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &formula[..cut]),
        None => formula.to_string(),
    }
}

fn valid_kpi_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Rounds a derived value half away from zero and drops trailing zeros.
pub fn round_value(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(VALUE_DP, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
}

struct Evaluator<'a> {
    cat: &'a Catalogue,
    inputs: &'a [InputValues],
    target: &'a dyn Fn(&str, usize) -> Option<Decimal>,
    /// Values by (KPI, periods back).
    memo: HashMap<(usize, usize), Option<Decimal>>,
}

impl Evaluator<'_> {
    fn kpi(&mut self, i: usize, back: usize) -> Option<Decimal> {
        if let Some(v) = self.memo.get(&(i, back)) {
            return *v;
        }
        // Marks the KPI as in progress: a cycle (prevented by validation)
        // would read "no value" instead of recursing forever.
        self.memo.insert((i, back), None);
        let expr = self.cat.kpis[i].expr.clone();
        let v = self.eval(&expr, back);
        self.memo.insert((i, back), v);
        v
    }

    /// `back`: how many periods before the evaluated one `e` is read in.
    fn eval(&mut self, e: &Expr, back: usize) -> Option<Decimal> {
        match e {
            Expr::Num(n) => Some(*n),
            Expr::Ref(id) => {
                if input_def(id).is_some() {
                    self.inputs.get(back)?.get(id)
                } else {
                    let i = *self.cat.index.get(id.as_str())?;
                    self.kpi(i, back)
                }
            }
            Expr::Neg(x) => self.eval(x, back).map(|v| -v),
            Expr::Bin(op, l, r) => {
                let (l, r) = (self.eval(l, back)?, self.eval(r, back)?);
                match op {
                    Op::Add => l.checked_add(r),
                    Op::Sub => l.checked_sub(r),
                    Op::Mul => l.checked_mul(r),
                    // A zero denominator is "no value", never 0 or infinity.
                    Op::Div if r.is_zero() => None,
                    Op::Div => l.checked_div(r),
                }
            }
            Expr::Prev(x) => self.eval(x, back + 1),
            Expr::Target(id) => (self.target)(id, back),
            Expr::PeerMean(id) => self.inputs.get(back)?.peer_mean(id),
        }
    }
}

/// All input ids, for CSV headers and validation.
pub fn input_ids() -> impl Iterator<Item = &'static str> {
    INPUTS.iter().map(|i| i.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dec as d;

    fn user(id: &str, formula: &str) -> UserKpiConfig {
        UserKpiConfig {
            id: id.into(),
            formula: formula.into(),
            unit: "money".into(),
            direction: "up".into(),
            category: "sales".into(),
            name_zh: None,
            name_en: None,
        }
    }

    fn value(results: &[(String, Option<Decimal>)], id: &str) -> Option<Decimal> {
        results.iter().find(|(k, _)| k == id).unwrap().1
    }

    #[test]
    fn zero_denominators_are_no_value() {
        let cat = Catalogue::builtin();
        let cur = InputValues::from_pairs(&[("gmv", d("100")), ("buyers", d("0")), ("uv", d("0"))]);
        let r = cat.evaluate(&[cur], &|_, _| None);
        assert_eq!(value(&r, "aov"), None);
        assert_eq!(value(&r, "conversion_rate"), None);
        assert_eq!(value(&r, "gmv"), Some(d("100")));
        assert_eq!(value(&r, "gmv_growth_mom"), None);
    }

    #[test]
    fn growth_uses_previous_period_and_targets_feed_attainment() {
        let cat = Catalogue::builtin();
        let cur = InputValues::from_pairs(&[("gmv", d("150"))]);
        let prev = InputValues::from_pairs(&[("gmv", d("120"))]);
        let r = cat.evaluate(&[cur, prev], &|k, _| (k == "gmv").then(|| d("200")));
        assert_eq!(value(&r, "gmv_growth_mom"), Some(d("0.25")));
        assert_eq!(value(&r, "gmv_attainment"), Some(d("0.75")));
    }

    #[test]
    fn user_formulas_compose_inputs_and_kpis() {
        let cat = Catalogue::new(&[
            user("net_sales", "gmv - refund_amount"),
            user("net_aov", "net_sales / buyers"),
        ])
        .unwrap();
        let cur = InputValues::from_pairs(&[
            ("gmv", d("1000.10")),
            ("refund_amount", d("100.05")),
            ("buyers", d("3")),
        ]);
        let r = cat.evaluate(&[cur], &|_, _| None);
        assert_eq!(value(&r, "net_sales"), Some(d("900.05")));
        assert_eq!(value(&r, "net_aov"), Some(d("300.016667")));
        // Both can be negative (a month of refunds): scored by distance.
        assert!(cat.get("net_sales").unwrap().signed);
        assert!(cat.get("net_aov").unwrap().signed);
        assert!(!cat.get("aov").unwrap().signed);
    }

    #[test]
    fn prev_nests_and_shifts_targets() {
        let cat = Catalogue::new(&[
            user("two_back", "prev(prev(gmv))"),
            user("prev_attainment", "prev(gmv_attainment)"),
            user("prev_growth", "prev(gmv_growth_mom)"),
        ])
        .unwrap();
        assert_eq!(cat.prev_depth(), 2);
        let gmv = |v| InputValues::from_pairs(&[("gmv", d(v))]);
        // November 400, October 200, September 100; targets 1000 (Nov), 100 (Oct).
        let inputs = [gmv("400"), gmv("200"), gmv("100")];
        let target = |k: &str, back: usize| match (k, back) {
            ("gmv", 0) => Some(d("1000")),
            ("gmv", 1) => Some(d("100")),
            _ => None,
        };
        let r = cat.evaluate(&inputs, &target);
        assert_eq!(value(&r, "two_back"), Some(d("100")));
        assert_eq!(value(&r, "prev_attainment"), Some(d("2")));
        assert_eq!(value(&r, "gmv_attainment"), Some(d("0.4")));
        assert_eq!(value(&r, "prev_growth"), Some(d("1")));
        // Periods not loaded have no values.
        let r = cat.evaluate(&inputs[..2], &target);
        assert_eq!(value(&r, "two_back"), None);
        assert_eq!(value(&r, "prev_growth"), None);
    }

    #[test]
    fn sums_over_days_follow_aggregations_and_formulas() {
        let cat = Catalogue::new(&[
            user("net_sales", "gmv - refund_amount"),
            user("half_gmv", "gmv / 2"),
            user("gmv_per_order", "gmv / orders"),
        ])
        .unwrap();
        let sums = |id: &str| cat.get(id).unwrap().sums_over_days;
        for id in [
            "gmv",
            "orders",
            "pv",
            "uv",
            "visits",
            "shares",
            "cs_violations",
        ] {
            assert!(sums(id), "{id}");
        }
        assert!(sums("net_sales") && sums("half_gmv"));
        for id in [
            "buyers",
            "aov",
            "conversion_rate",
            "refund_rate",
            "ad_roi",
            "keyword_rank",
            "csat_score",
            "gmv_attainment",
            "gmv_growth_mom",
            "gmv_per_order",
        ] {
            assert!(!sums(id), "{id}");
        }
    }

    #[test]
    fn bad_user_formulas_are_refused_with_positions() {
        let errs = Catalogue::new(&[user("x", "gmv * (2 +")]).unwrap_err();
        assert_eq!(errs[0].field, "formula");
        assert!(
            errs[0].message.contains("position 11"),
            "{}",
            errs[0].message
        );
        let errs = Catalogue::new(&[user("x", "gmv / nothing")]).unwrap_err();
        assert!(
            errs[0].message.contains("unknown id `nothing`"),
            "{}",
            errs[0].message
        );
        let errs = Catalogue::new(&[user("a", "b + 1"), user("b", "a + 1")]).unwrap_err();
        assert!(errs[0].message.contains("cycle"));
        let errs = Catalogue::new(&[user("gmv", "orders")]).unwrap_err();
        assert_eq!(errs[0].field, "id");
    }
}
