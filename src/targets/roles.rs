//! Roles and people, as the configuration resolves them: the scheme's data
//! that scorecards, alerts and the settings all read, so it lives below them.
//!
//! The scheme (article 4) names each role's KPIs but, like every target, not
//! their weights; the built-in weights below are kpid's defaults (the money
//! KPIs weigh most) and any role can be redefined in `[[roles]]`. The team
//! scorecard is article 3's: categories weighted sales 40, satisfaction 20,
//! traffic 20, marketing 10, teamwork 10, each category's KPIs sharing its weight.

use super::TargetScope;
use crate::config::RoleConfig;
use crate::kpi::Catalogue;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleKpi {
    pub kpi: String,
    pub weight: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub kpis: Vec<RoleKpi>,
    /// Non-empty for a team scorecard: category → weight.
    pub category_weights: BTreeMap<String, Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub role: String,
    /// Never empty: "every shop" is resolved at load.
    pub shops: Vec<String>,
    pub campaigns: Vec<String>,
    pub agents: Vec<String>,
}

impl Person {
    /// The scopes whose targets apply to this person, most specific first; a
    /// shop's targets apply to a person who covers exactly that shop.
    pub fn target_scopes(&self) -> Vec<TargetScope> {
        let mut scopes = vec![
            TargetScope::Person(self.id.clone()),
            TargetScope::Role(self.role.clone()),
        ];
        if let [shop] = self.shops.as_slice() {
            scopes.push(TargetScope::Shop(shop.clone()));
        }
        scopes.push(TargetScope::All);
        scopes
    }
}

fn kpis(pairs: &[(&str, i64)]) -> Vec<RoleKpi> {
    pairs
        .iter()
        .map(|(k, w)| RoleKpi {
            kpi: (*k).into(),
            weight: Decimal::from(*w),
        })
        .collect()
}

/// The built-in roles of the scheme.
pub fn builtin_roles() -> Vec<Role> {
    let role = |id: &str, zh: &str, en: &str, k: Vec<RoleKpi>| Role {
        id: id.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        kpis: k,
        category_weights: BTreeMap::new(),
    };
    let mut team = role(
        "team",
        "运营团队",
        "Operations team",
        kpis(&[
            ("gmv", 1),
            ("orders", 1),
            ("positive_review_rate", 1),
            ("return_rate", 1),
            ("visits", 1),
            ("pv", 1),
            ("ad_roi", 1),
            ("campaign_participation", 1),
            ("teamwork_internal", 1),
            ("teamwork_cross_dept", 1),
        ]),
    );
    team.category_weights = [
        ("sales", 40),
        ("satisfaction", 20),
        ("traffic", 20),
        ("marketing", 10),
        ("teamwork", 10),
    ]
    .iter()
    .map(|(c, w)| ((*c).to_string(), Decimal::from(*w)))
    .collect();
    vec![
        role(
            "ops_specialist",
            "运营专员",
            "Operations specialist",
            kpis(&[
                ("pv", 10),
                ("pv_per_uv", 10),
                ("buyers", 15),
                ("conversion_rate", 15),
                ("gmv", 25),
                ("avg_stay_seconds", 10),
                ("aov", 15),
            ]),
        ),
        role(
            "promotion",
            "推广人员",
            "Promotion specialist",
            kpis(&[
                ("uv", 20),
                ("reach_rate", 15),
                ("bounce_rate", 15),
                ("uv_cost", 20),
                ("order_cost", 15),
                ("ad_roi", 15),
            ]),
        ),
        role(
            "customer_service",
            "客服人员",
            "Customer service agent",
            kpis(&[
                ("first_response_seconds", 20),
                ("cs_violations", 15),
                ("consult_conversion_rate", 20),
                ("cs_gmv_ratio", 15),
                ("return_rate", 10),
                ("exchange_rate", 10),
                ("refund_rate", 10),
            ]),
        ),
        team,
    ]
}

/// Built-in roles with the configured ones applied (an entry with a built-in
/// id replaces it), and the problems found as (config key, message).
pub fn resolve(config: &[RoleConfig], catalogue: &Catalogue) -> (Vec<Role>, Vec<(String, String)>) {
    let mut roles = builtin_roles();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in config.iter().enumerate() {
        let mut bad = |key: String, msg: String| problems.push((key, msg));
        if r.id.trim().is_empty() {
            bad(format!("roles[{i}].id"), "must not be empty".into());
        }
        if !seen.insert(r.id.clone()) {
            bad(
                format!("roles[{i}].id"),
                format!("role `{}` is defined twice", r.id),
            );
        }
        if r.kpis.is_empty() {
            bad(
                format!("roles[{i}].kpis"),
                "a role needs at least one KPI".into(),
            );
        }
        let mut kpi_ids = std::collections::HashSet::new();
        for k in &r.kpis {
            match catalogue.get(&k.kpi) {
                None => bad(
                    format!("roles[{i}].kpis"),
                    format!("unknown KPI `{}` (see `kpid kpis`)", k.kpi),
                ),
                Some(spec)
                    if !r.category_weights.is_empty()
                        && !r.category_weights.contains_key(&spec.category) =>
                {
                    bad(
                        format!("roles[{i}].category_weights"),
                        format!(
                            "KPI `{}` is in category `{}`, which has no weight",
                            k.kpi, spec.category
                        ),
                    )
                }
                Some(_) => {}
            }
            if !kpi_ids.insert(&k.kpi) {
                bad(
                    format!("roles[{i}].kpis"),
                    format!("KPI `{}` is listed twice", k.kpi),
                );
            }
            if k.weight <= Decimal::ZERO {
                bad(
                    format!("roles[{i}].kpis"),
                    format!("the weight of `{}` must be above 0", k.kpi),
                );
            }
        }
        for (c, w) in &r.category_weights {
            if *w <= Decimal::ZERO {
                bad(
                    format!("roles[{i}].category_weights"),
                    format!("the weight of category `{c}` must be above 0"),
                );
            }
        }
        let role = Role {
            id: r.id.clone(),
            name_zh: r.name_zh.clone().unwrap_or_else(|| r.id.clone()),
            name_en: r.name_en.clone().unwrap_or_else(|| r.id.clone()),
            kpis: r
                .kpis
                .iter()
                .map(|k| RoleKpi {
                    kpi: k.kpi.clone(),
                    weight: k.weight,
                })
                .collect(),
            category_weights: r.category_weights.clone(),
        };
        match roles.iter_mut().find(|x| x.id == r.id) {
            Some(builtin) => {
                // A built-in keeps its names unless the entry gives new ones.
                let (zh, en) = (builtin.name_zh.clone(), builtin.name_en.clone());
                *builtin = role;
                if r.name_zh.is_none() {
                    builtin.name_zh = zh;
                }
                if r.name_en.is_none() {
                    builtin.name_en = en;
                }
            }
            None => roles.push(role),
        }
    }
    (roles, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_roles_use_catalogue_kpis() {
        let (roles, problems) = resolve(&[], &Catalogue::builtin());
        assert!(problems.is_empty(), "{problems:?}");
        let ids: Vec<_> = roles.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["ops_specialist", "promotion", "customer_service", "team"]
        );
        let cat = Catalogue::builtin();
        for r in &roles {
            for k in &r.kpis {
                let spec = cat.get(&k.kpi).unwrap_or_else(|| panic!("{}", k.kpi));
                if !r.category_weights.is_empty() {
                    assert!(r.category_weights.contains_key(&spec.category), "{}", k.kpi);
                }
            }
        }
        let team = roles.iter().find(|r| r.id == "team").unwrap();
        let sum: Decimal = team.category_weights.values().sum();
        assert_eq!(sum, Decimal::from(100));
    }
}
