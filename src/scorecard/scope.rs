//! A person's inputs: only the data of their scope.
//!
//! Shops bound everything. Within them, ad inputs (`ad_*`, one series per
//! campaign in `dimension`) count only the person's campaigns, and
//! customer-service inputs (`cs_*`, one series per agent) only their agent
//! ids; an empty list means all. Peer means (`peer_mean(cs_gmv)`) are taken
//! over every agent of the person's shops in the same period, so an agent is
//! compared with the whole desk, themselves included.

use crate::currency::{convert_micros, convert_money, MoneyPlan, Rates};
use crate::ids::ShopId;
use crate::kpi::catalogue::is_money_input;
use crate::kpi::inputs::{FactsCache, ShopFacts};
use crate::kpi::{round_value, InputValues};
use crate::money::{from_micros, Money};
use crate::period::{Days, Period};
use crate::settings::refund_sources;
use crate::settings::Settings;
use crate::store::{fold_daily, DailyRow, RecordTotals, Store, StoreError};
use crate::targets::roles::Person;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// Which dimension an input's series are split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DimensionKind {
    Campaign,
    Agent,
}

pub fn dimension_of(input: &str) -> Option<DimensionKind> {
    if input.starts_with("ad_") {
        Some(DimensionKind::Campaign)
    } else if input.starts_with("cs_") {
        Some(DimensionKind::Agent)
    } else {
        None
    }
}

fn in_scope(person: &Person, row: &DailyRow) -> bool {
    let ids = match dimension_of(&row.input) {
        Some(DimensionKind::Campaign) => &person.campaigns,
        Some(DimensionKind::Agent) => &person.agents,
        None => return true,
    };
    ids.is_empty() || ids.contains(&row.dimension)
}

/// How `person`'s money adds up over `period`: their shops' currencies
/// (see [`crate::currency`]).
pub fn money_plan(settings: &Settings, person: &Person, period: Period) -> MoneyPlan {
    let currencies: Vec<&str> = person
        .shops
        .iter()
        .filter_map(|s| settings.shop(s))
        .map(|s| s.currency.as_str())
        .collect();
    settings.rates.plan(&currencies, period)
}

/// The inputs of `person` over `period` (manual inputs are added by the
/// caller). Money of shops in different currencies is converted to the base
/// currency day by day at its month's rate, or has no value (see [`money_plan`]).
pub async fn load_person(
    settings: &Settings,
    store: &Store,
    person: &Person,
    period: Period,
) -> Result<InputValues, StoreError> {
    load_person_days(settings, store, person, period, period.days()).await
}

/// As [`load_person`], over the local `days` inside `period`
/// (alerts watch month to date and today so far, which are not whole
/// periods); money is converted at the rates of `period`'s months.
pub async fn load_person_days(
    settings: &Settings,
    store: &Store,
    person: &Person,
    period: Period,
    days: Days,
) -> Result<InputValues, StoreError> {
    let facts =
        ScopeFacts::load(settings, store, &FactsCache::default(), &person.shops, days).await?;
    person_values(settings, store, &facts, person, period).await
}

/// The facts of many shops over one range of days, read at once and
/// shared by every person whose scope covers some of them.
#[derive(Debug, Clone)]
pub struct ScopeFacts {
    days: Days,
    shops: HashMap<ShopId, ShopFacts>,
    refunds_known: HashSet<ShopId>,
    /// Record totals month by month (keyed by the month's days within
    /// `days`) of the shops whose currency is not the base: their amounts
    /// convert at each month's rate. Read once for all shops, so that many
    /// people in mixed currencies cost a few queries per month, not a few
    /// per shop and month. Empty for a range within one month, whose
    /// totals are the shops' own.
    month_totals: HashMap<Days, HashMap<ShopId, RecordTotals>>,
}

impl ScopeFacts {
    /// Reads the facts of `shops` over `days`, or takes those the pass has
    /// read (see [`FactsCache`]).
    pub async fn load(
        settings: &Settings,
        store: &Store,
        facts: &FactsCache,
        shops: &[ShopId],
        days: Days,
    ) -> Result<Self, StoreError> {
        let foreign: Vec<ShopId> = match settings.rates.base() {
            Some(base) => shops
                .iter()
                .filter(|s| settings.shop(s).is_some_and(|s| s.currency != base))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let months = days.months();
        let mut month_totals = HashMap::new();
        if !foreign.is_empty() && months.len() > 1 {
            for month in months {
                let totals = store.record_totals_of(&foreign, month).await?;
                month_totals.insert(month, totals);
            }
        }
        Ok(ScopeFacts {
            days,
            shops: facts.shop_facts(store, shops, days).await?,
            refunds_known: refund_sources::with_refund_source(settings, store, shops).await?,
            month_totals,
        })
    }
}

/// The inputs of `person` over `period` from facts read beforehand (which
/// must hold the person's shops), over the facts' days.
pub async fn person_values(
    settings: &Settings,
    store: &Store,
    facts: &ScopeFacts,
    person: &Person,
    period: Period,
) -> Result<InputValues, StoreError> {
    let single_day = facts.days.is_one_day();
    let plan = money_plan(settings, person, period);
    // As for a shop: without a refund source in any of their shops, a
    // person has no refund KPIs (not 0).
    let refunds_known = person.shops.iter().any(|s| facts.refunds_known.contains(s));
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut buyers_unknown = false;
    let scope = facts;
    for shop in &person.shops {
        // Each shop's records win on its own days with records.
        let mut facts = scope.shops.get(shop).cloned().unwrap_or_default();
        buyers_unknown |= facts.buyers_unknown(single_day);
        if let Some(currency) = settings.shop(shop).map(|s| s.currency.as_str()) {
            convert(
                store,
                &settings.rates,
                &plan,
                shop,
                currency,
                (period, scope),
                &mut facts,
            )
            .await?;
        }
        rows.extend(facts.rows);
        records.extend(facts.records);
    }
    // Merged shops' rows must be in input, day order for the fold.
    rows.sort_by(|a, b| (&a.input, &a.day).cmp(&(&b.input, &b.day)));
    let peers = fold_daily(
        rows.iter()
            .filter(|r| dimension_of(&r.input) == Some(DimensionKind::Agent))
            .cloned(),
    )?;
    let mine = fold_daily(rows.into_iter().filter(|r| in_scope(person, r)))?;
    let mut values = InputValues::from_daily(&mine, single_day);
    for t in &records {
        values.add_records(t);
    }
    if buyers_unknown {
        values.forget(|id| id == "buyers");
    }
    if let MoneyPlan::NoValue(_) = plan {
        values.forget(is_money_input);
    }
    if !refunds_known {
        refund_sources::clear(&mut values);
    }
    for (input, agg) in &peers {
        let agents: Vec<i64> = agg
            .by_dimension
            .iter()
            .filter(|(d, _)| !d.is_empty())
            .map(|(_, v)| *v)
            .collect();
        if !agents.is_empty() {
            let total: i64 = agents.iter().sum();
            let mean = from_micros(total) / Decimal::from(agents.len() as i64);
            values.set_peer_mean(input, round_value(mean));
        }
    }
    Ok(values)
}

/// Converts a shop's money facts into the plan's base currency: daily
/// values at the rate of their day's month, record amounts month by month
/// (read beforehand with the scope's facts; see [`ScopeFacts`]).
async fn convert(
    store: &Store,
    rates: &Rates,
    plan: &MoneyPlan,
    shop: &str,
    currency: &str,
    (period, scope): (Period, &ScopeFacts),
    facts: &mut ShopFacts,
) -> Result<(), StoreError> {
    let too_large = |what: &str| {
        StoreError::Corrupt(format!(
            "{what} of shop {shop} converted to the base currency is too large"
        ))
    };
    for row in facts.rows.iter_mut().filter(|r| is_money_input(&r.input)) {
        if let Some(rate) = plan.rate_on(rates, currency, row.day) {
            row.value_micros =
                convert_micros(row.value_micros, rate).ok_or_else(|| too_large(&row.input))?;
        }
    }
    let converts = matches!(plan, MoneyPlan::Convert { base, .. } if base != currency);
    let Some(records) = facts.records.as_mut().filter(|_| converts) else {
        return Ok(());
    };
    // Amounts month by month at each month's rate (counts stay as they are:
    // distinct buyers do not add up over months).
    let whole = *records;
    let (mut gmv, mut refunds) = (Money::ZERO, Money::ZERO);
    for month in period.days().months() {
        let Some(days) = month.overlap(scope.days) else {
            continue;
        };
        let Some(rate) = plan.rate_on(rates, currency, days.first()) else {
            continue;
        };
        let t = if days == scope.days {
            whole
        } else if let Some(totals) = scope.month_totals.get(&days) {
            totals.get(shop).copied().unwrap_or_default()
        } else {
            // Not read beforehand (the facts' range is not cut at this
            // period's months): read it alone.
            store.record_totals(shop, days).await?
        };
        gmv = gmv
            .checked_add(convert_money(t.gmv, rate).ok_or_else(|| too_large("gmv"))?)
            .map_err(|_| too_large("gmv"))?;
        let refund =
            convert_money(t.refund_amount, rate).ok_or_else(|| too_large("refund_amount"))?;
        refunds = refunds
            .checked_add(refund)
            .map_err(|_| too_large("refund_amount"))?;
    }
    records.gmv = gmv;
    records.refund_amount = refunds;
    Ok(())
}
