//! The built-in catalogue: every input the connectors deliver and every KPI of
//! the operations scheme (`kpi-catalogue.md`), as data.

use serde::Serialize;

/// How an input's daily values combine over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Sum over days (and over dimensions such as campaigns or agents).
    Sum,
    /// Mean of the recorded values (survey and review scores).
    Mean,
    /// The value of the latest day that has one; the best (lowest) across
    /// dimensions on that day (ranks).
    Latest,
    /// Counted distinct over the whole period from records (`buyers`); a
    /// daily series answers only a single day (a buyer of two days would
    /// count twice in their sum).
    Distinct,
}

/// What a number measures; decides formatting and which values are money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Money,
    Count,
    Ratio,
    Percent,
    Seconds,
    Score,
    Rank,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Money => "money",
            Unit::Count => "count",
            Unit::Ratio => "ratio",
            Unit::Percent => "percent",
            Unit::Seconds => "seconds",
            Unit::Score => "score",
            Unit::Rank => "rank",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "money" => Unit::Money,
            "count" => Unit::Count,
            "ratio" => Unit::Ratio,
            "percent" | "%" => Unit::Percent,
            "seconds" => Unit::Seconds,
            "score" => Unit::Score,
            "rank" => Unit::Rank,
            _ => return None,
        })
    }
}

/// Whether higher or lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Direction::Up),
            "down" => Some(Direction::Down),
            _ => None,
        }
    }
}

/// A stored input.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct InputDef {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub unit: Unit,
    pub aggregation: Aggregation,
}

const fn input(
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    unit: Unit,
    aggregation: Aggregation,
) -> InputDef {
    InputDef {
        id,
        name_zh,
        name_en,
        unit,
        aggregation,
    }
}

use Aggregation::{Distinct, Latest, Mean, Sum};

/// Every input of the scheme. `orders`, `gmv`, `buyers`, `refund_orders` and
/// `refund_amount` come from order and refund records when a shop has them.
#[rustfmt::skip]
pub const INPUTS: &[InputDef] = &[
    input("pv", "页面浏览量", "Page views", Unit::Count, Sum),
    input("uv", "独立访客", "Unique visitors", Unit::Count, Sum),
    input("new_uv", "新增独立访客", "New unique visitors", Unit::Count, Sum),
    input("visits", "网站访问量", "Visits (sessions)", Unit::Count, Sum),
    input("bounces", "跳出", "Bounces", Unit::Count, Sum),
    input("stay_seconds_total", "停留时长合计", "Total time on site", Unit::Seconds, Sum),
    input("orders", "订单量", "Paid orders", Unit::Count, Sum),
    input("buyers", "成交人数", "Paying buyers", Unit::Count, Distinct),
    input("gmv", "成交额", "GMV", Unit::Money, Sum),
    // Distinct orders over the period from refund records; a daily series
    // sums its days (an order refunded on two days counts twice there), so
    // `refund_rate` has a value for any period of daily data.
    input("refund_orders", "退款订单数", "Refunded orders", Unit::Count, Sum),
    input("refund_amount", "退款金额", "Refund amount", Unit::Money, Sum),
    input("return_orders", "退货订单数", "Returned orders", Unit::Count, Sum),
    input("exchange_orders", "换货订单数", "Exchanged orders", Unit::Count, Sum),
    input("reviews_total", "评价数", "Reviews", Unit::Count, Sum),
    input("reviews_positive", "好评数", "Positive reviews", Unit::Count, Sum),
    input("ad_spend", "广告花费", "Ad spend", Unit::Money, Sum),
    input("ad_impressions", "广告展现", "Ad impressions", Unit::Count, Sum),
    input("ad_clicks", "广告点击", "Ad clicks", Unit::Count, Sum),
    input("ad_arrivals", "广告到达", "Ad arrivals", Unit::Count, Sum),
    input("ad_uv", "广告访客", "Ad visitors", Unit::Count, Sum),
    input("ad_gmv", "广告成交额", "Ad GMV", Unit::Money, Sum),
    input("ad_orders", "广告订单", "Ad orders", Unit::Count, Sum),
    input("shares", "分享次数", "Social shares", Unit::Count, Sum),
    input("keyword_rank", "品牌关键词排名", "Brand keyword rank", Unit::Rank, Latest),
    input("campaign_participants", "活动参与人数", "Campaign participants", Unit::Count, Sum),
    input("campaign_target_participants", "活动目标人数", "Campaign target participants", Unit::Count, Sum),
    input("cs_sessions", "咨询接待数", "CS consultations", Unit::Count, Sum),
    input("cs_first_response_seconds_total", "首次响应时长合计", "Total first-response time", Unit::Seconds, Sum),
    input("cs_paid_uv", "咨询成交人数", "CS converted buyers", Unit::Count, Sum),
    input("cs_gmv", "客服成交额", "CS GMV", Unit::Money, Sum),
    input("cs_violations", "违规用语次数", "Banned-phrase violations", Unit::Count, Sum),
    input("csat_score", "客户满意度评分", "CSAT score", Unit::Score, Mean),
    input("complaints", "投诉数", "Complaints", Unit::Count, Sum),
    input("complaints_resolved", "投诉处理数", "Complaints resolved", Unit::Count, Sum),
    input("peer_review_internal", "内部协作评分", "Internal peer review", Unit::Score, Mean),
    input("peer_review_cross_dept", "跨部门协作评分", "Cross-department peer review", Unit::Score, Mean),
];

/// Which part of the team scorecard a KPI belongs to.
pub const CATEGORIES: &[&str] = &[
    "sales",
    "traffic",
    "marketing",
    "brand",
    "satisfaction",
    "service",
    "teamwork",
];

/// A built-in KPI.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KpiDef {
    pub id: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub formula: &'static str,
    pub unit: Unit,
    pub direction: Direction,
    pub category: &'static str,
}

const fn kpi(
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    formula: &'static str,
    unit: Unit,
    direction: Direction,
    category: &'static str,
) -> KpiDef {
    KpiDef {
        id,
        name_zh,
        name_en,
        formula,
        unit,
        direction,
        category,
    }
}

use Direction::{Down, Up};
use Unit::{Count, Money, Percent, Rank, Ratio, Score, Seconds};

/// The 34 KPIs of the scheme, in the catalogue's order.
#[rustfmt::skip]
pub const KPIS: &[KpiDef] = &[
    kpi("gmv", "成交额", "GMV", "gmv", Money, Up, "sales"),
    kpi("gmv_growth_mom", "月度销售额增长率", "GMV growth vs previous period", "(gmv - prev(gmv)) / prev(gmv)", Percent, Up, "sales"),
    kpi("gmv_attainment", "销售额完成率", "GMV attainment", "gmv / target(gmv)", Percent, Up, "sales"),
    kpi("orders", "订单量", "Orders", "orders", Count, Up, "sales"),
    kpi("orders_attainment", "订单完成率", "Orders attainment", "orders / target(orders)", Percent, Up, "sales"),
    kpi("buyers", "成交人数", "Buyers", "buyers", Count, Up, "sales"),
    kpi("aov", "客单价", "Average order value (per buyer)", "gmv / buyers", Money, Up, "sales"),
    kpi("pv", "PV 量", "Page views", "pv", Count, Up, "traffic"),
    kpi("uv", "UV 量", "Unique visitors (sum of daily)", "uv", Count, Up, "traffic"),
    kpi("new_uv", "新增独立访客", "New unique visitors", "new_uv", Count, Up, "traffic"),
    kpi("visits", "网站访问量", "Visits", "visits", Count, Up, "traffic"),
    kpi("pv_per_uv", "人均访问页面", "Pages per visitor", "pv / uv", Ratio, Up, "traffic"),
    kpi("avg_stay_seconds", "平均停留时长", "Average time on site", "stay_seconds_total / visits", Seconds, Up, "traffic"),
    kpi("bounce_rate", "跳出率", "Bounce rate", "bounces / visits", Percent, Down, "traffic"),
    kpi("conversion_rate", "订单转换率", "Conversion rate", "buyers / uv", Percent, Up, "traffic"),
    kpi("ad_roi", "广告投放回报率", "Return on ad spend", "ad_gmv / ad_spend", Ratio, Up, "marketing"),
    kpi("uv_cost", "UV 平均获取成本", "Cost per visitor", "ad_spend / ad_uv", Money, Down, "marketing"),
    kpi("order_cost", "订单转换成本", "Cost per order", "ad_spend / ad_orders", Money, Down, "marketing"),
    kpi("reach_rate", "到达率", "Reach rate", "ad_arrivals / ad_clicks", Percent, Up, "marketing"),
    kpi("campaign_participation", "活动参与度", "Campaign participation", "campaign_participants / campaign_target_participants", Percent, Up, "marketing"),
    kpi("shares", "社交媒体曝光度", "Social shares", "shares", Count, Up, "brand"),
    kpi("keyword_rank", "品牌关键词排名", "Brand keyword rank", "keyword_rank", Rank, Down, "brand"),
    kpi("positive_review_rate", "好评率", "Positive review rate", "reviews_positive / reviews_total", Percent, Up, "satisfaction"),
    kpi("return_rate", "退货率", "Return rate", "return_orders / orders", Percent, Down, "satisfaction"),
    kpi("exchange_rate", "换货率", "Exchange rate", "exchange_orders / orders", Percent, Down, "satisfaction"),
    kpi("refund_rate", "退款率", "Refund rate", "refund_orders / orders", Percent, Down, "satisfaction"),
    kpi("csat_score", "客户满意度评分", "Customer satisfaction", "csat_score", Score, Up, "satisfaction"),
    kpi("complaint_resolution_rate", "客户投诉处理率", "Complaint resolution rate", "complaints_resolved / complaints", Percent, Up, "satisfaction"),
    kpi("first_response_seconds", "及时响应时间", "First response time", "cs_first_response_seconds_total / cs_sessions", Seconds, Down, "service"),
    kpi("cs_violations", "服务态度(违规用语次数)", "Banned-phrase violations", "cs_violations", Count, Down, "service"),
    kpi("consult_conversion_rate", "咨询转换率", "Consultation conversion rate", "cs_paid_uv / cs_sessions", Percent, Up, "service"),
    kpi("cs_gmv_ratio", "成交额转换率", "Agent GMV vs agent mean", "cs_gmv / peer_mean(cs_gmv)", Ratio, Up, "service"),
    kpi("teamwork_internal", "内部协作满意度", "Internal teamwork", "peer_review_internal", Score, Up, "teamwork"),
    kpi("teamwork_cross_dept", "跨部门协作满意度", "Cross-department teamwork", "peer_review_cross_dept", Score, Up, "teamwork"),
];

pub fn input_def(id: &str) -> Option<&'static InputDef> {
    INPUTS.iter().find(|i| i.id == id)
}

/// True for inputs that are amounts of money (converted between currencies).
pub fn is_money_input(id: &str) -> bool {
    INPUTS.iter().any(|i| i.id == id && i.unit == Unit::Money)
}

pub fn builtin_kpi(id: &str) -> Option<&'static KpiDef> {
    KPIS.iter().find(|k| k.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::formula;

    #[test]
    fn every_builtin_formula_parses_and_names_known_ids() {
        for k in KPIS {
            let e = formula::parse(k.formula).unwrap_or_else(|e| panic!("{}: {e}", k.id));
            for id in e.ids() {
                assert!(
                    input_def(id).is_some() || builtin_kpi(id).is_some(),
                    "{} names unknown id {id}",
                    k.id
                );
            }
            assert!(CATEGORIES.contains(&k.category), "{}", k.id);
        }
    }

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = KPIS.iter().map(|k| k.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), KPIS.len());
        assert_eq!(KPIS.len(), 34);
    }

    #[test]
    fn money_inputs_are_the_amounts() {
        assert!(is_money_input("gmv") && is_money_input("cs_gmv") && !is_money_input("orders"));
    }
}
