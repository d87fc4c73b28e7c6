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
use crate::ids::{KpiId, ShopId};
use crate::kpi::Catalogue;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleKpi {
    pub kpi: KpiId,
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
    pub shops: Vec<ShopId>,
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

/// What is wrong with entry `role` (0-based) of `[[roles]]`;
/// [`RoleProblem::key`] names the configuration key to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleProblem {
    #[error("must not be empty")]
    EmptyId { role: usize },
    #[error("role `{id}` is defined twice")]
    Twice { role: usize, id: String },
    #[error("a role needs at least one KPI")]
    NoKpis { role: usize },
    #[error("unknown KPI `{kpi}` (see `kpid kpis`)")]
    UnknownKpi { role: usize, kpi: String },
    #[error("KPI `{kpi}` is in category `{category}`, which has no weight")]
    UnweightedCategory {
        role: usize,
        kpi: String,
        category: String,
    },
    #[error("KPI `{kpi}` is listed twice")]
    KpiTwice { role: usize, kpi: String },
    #[error("the weight of `{kpi}` must be above 0")]
    KpiWeight { role: usize, kpi: String },
    #[error("the weight of category `{category}` must be above 0")]
    CategoryWeight { role: usize, category: String },
}

impl RoleProblem {
    /// The configuration key the problem is about (`roles[2].kpis`).
    pub fn key(&self) -> String {
        use RoleProblem::*;
        let (role, field) = match self {
            EmptyId { role } | Twice { role, .. } => (role, "id"),
            NoKpis { role }
            | UnknownKpi { role, .. }
            | KpiTwice { role, .. }
            | KpiWeight { role, .. } => (role, "kpis"),
            UnweightedCategory { role, .. } | CategoryWeight { role, .. } => {
                (role, "category_weights")
            }
        };
        format!("roles[{role}].{field}")
    }
}

/// Built-in roles with the configured ones applied (an entry with a built-in
/// id replaces it), and the problems found.
pub fn resolve(config: &[RoleConfig], catalogue: &Catalogue) -> (Vec<Role>, Vec<RoleProblem>) {
    let mut roles = builtin_roles();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in config.iter().enumerate() {
        let role = i;
        if r.id.trim().is_empty() {
            problems.push(RoleProblem::EmptyId { role });
        }
        if !seen.insert(r.id.clone()) {
            problems.push(RoleProblem::Twice {
                role,
                id: r.id.clone(),
            });
        }
        if r.kpis.is_empty() {
            problems.push(RoleProblem::NoKpis { role });
        }
        let mut kpi_ids = std::collections::HashSet::new();
        for k in &r.kpis {
            let kpi = k.kpi.clone();
            match catalogue.get(&k.kpi) {
                None => problems.push(RoleProblem::UnknownKpi {
                    role,
                    kpi: kpi.clone(),
                }),
                Some(spec)
                    if !r.category_weights.is_empty()
                        && !r.category_weights.contains_key(&spec.category) =>
                {
                    problems.push(RoleProblem::UnweightedCategory {
                        role,
                        kpi: kpi.clone(),
                        category: spec.category.clone(),
                    })
                }
                Some(_) => {}
            }
            if !kpi_ids.insert(&k.kpi) {
                problems.push(RoleProblem::KpiTwice {
                    role,
                    kpi: kpi.clone(),
                });
            }
            if k.weight <= Decimal::ZERO {
                problems.push(RoleProblem::KpiWeight { role, kpi });
            }
        }
        for (c, w) in &r.category_weights {
            if *w <= Decimal::ZERO {
                problems.push(RoleProblem::CategoryWeight {
                    role,
                    category: c.clone(),
                });
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
                    kpi: k.kpi.as_str().into(),
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
    fn role_problems_name_their_key() {
        let p = RoleProblem::UnweightedCategory {
            role: 2,
            kpi: "gmv".into(),
            category: "sales".into(),
        };
        assert_eq!(p.key(), "roles[2].category_weights");
        assert_eq!(
            p.to_string(),
            "KPI `gmv` is in category `sales`, which has no weight"
        );
        assert_eq!(RoleProblem::NoKpis { role: 0 }.key(), "roles[0].kpis");
    }

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
