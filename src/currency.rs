//! Money of several currencies: never added as it is.
//!
//! Each shop has a currency (`[[shops]] currency`). Money inputs of shops
//! that share a currency add up in that currency. Where one scope covers
//! shops of different currencies (a person covering a CNY shop and a USD
//! shop), every amount is converted to the configured base currency
//! (`[currency] base`) with the rate the user gives for its currency and
//! month (`[[currency.rates]]`): a day's amount at its month's rate, so a
//! year adds twelve months each at its own rate. Without a base, or without
//! a rate for one of the months, money has no value (null) for that scope
//! and period, and `kpid check` and the report say which rate is missing.

use crate::money::{from_micros, to_micros, Money};
use crate::period::{LocalDay, Period};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::BTreeMap;
use std::fmt;

/// Conversion rates per currency and month: 1 `from` = `rate` base units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rates {
    base: Option<String>,
    rates: BTreeMap<(String, Period), Decimal>,
}

impl Rates {
    /// `rates`: `(from, month, rate)`, already validated.
    pub fn new(
        base: Option<String>,
        rates: impl IntoIterator<Item = (String, Period, Decimal)>,
    ) -> Self {
        Rates {
            base,
            rates: rates.into_iter().map(|(c, m, r)| ((c, m), r)).collect(),
        }
    }

    pub fn base(&self) -> Option<&str> {
        self.base.as_deref()
    }

    /// The rate of `from` into the base currency for `month` (1 for the base itself).
    pub fn rate(&self, from: &str, month: Period) -> Option<Decimal> {
        if self.base.as_deref() == Some(from) {
            return Some(Decimal::ONE);
        }
        self.rates.get(&(from.to_string(), month)).copied()
    }

    /// How money of shops in `currencies` adds up over `period`.
    pub fn plan(&self, currencies: &[&str], period: Period) -> MoneyPlan {
        let mut distinct: Vec<&str> = currencies.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() <= 1 {
            return MoneyPlan::Same(distinct.first().map(|c| c.to_string()));
        }
        let Some(base) = self.base.clone() else {
            return MoneyPlan::NoValue(Missing::NoBase(
                distinct.iter().map(|c| c.to_string()).collect(),
            ));
        };
        let mut used = Vec::new();
        let mut missing = Vec::new();
        for c in distinct.iter().filter(|c| **c != base) {
            for month in months(period) {
                match self.rate(c, month) {
                    Some(r) => used.push(UsedRate {
                        from: c.to_string(),
                        month,
                        rate: r,
                    }),
                    None => missing.push((c.to_string(), month)),
                }
            }
        }
        if missing.is_empty() {
            MoneyPlan::Convert { base, used }
        } else {
            MoneyPlan::NoValue(Missing::Rates { base, missing })
        }
    }
}

/// A rate a conversion used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedRate {
    pub from: String,
    pub month: Period,
    pub rate: Decimal,
}

/// Why money of mixed currencies has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// Shops in these currencies and no `[currency] base` to convert to.
    NoBase(Vec<String>),
    /// No rate for these currencies and months.
    Rates {
        base: String,
        missing: Vec<(String, Period)>,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::NoBase(cs) => write!(
                f,
                "shops in {} and no `[currency] base` to convert them to",
                cs.join(", ")
            ),
            Missing::Rates { base, missing } => {
                let list: Vec<String> = missing
                    .iter()
                    .map(|(c, m)| format!("{c}→{base} {m}"))
                    .collect();
                write!(
                    f,
                    "no rate for {} (add [[currency.rates]] entries)",
                    list.join(", ")
                )
            }
        }
    }
}

/// How the money inputs of one scope and period are added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyPlan {
    /// One currency (or none): amounts add as they are.
    Same(Option<String>),
    /// Several currencies, every amount converted into `base`.
    Convert { base: String, used: Vec<UsedRate> },
    /// Several currencies that cannot be converted: money has no value.
    NoValue(Missing),
}

impl MoneyPlan {
    /// The rate for `currency` on `day` under this plan: `None` when
    /// amounts stay as they are.
    pub fn rate_on(&self, rates: &Rates, currency: &str, day: LocalDay) -> Option<Decimal> {
        match self {
            MoneyPlan::Convert { base, .. } if currency != base => {
                rates.rate(currency, Period::month_of(day))
            }
            _ => None,
        }
    }

    /// A line for reports: the currency of money values and the rates used,
    /// or why money has no value. `None` for a single currency.
    pub fn note(&self) -> Option<String> {
        match self {
            MoneyPlan::Same(_) => None,
            MoneyPlan::Convert { base, used } => {
                let list: Vec<String> = used
                    .iter()
                    .map(|u| format!("{} {} × {}", u.from, u.month, u.rate.normalize()))
                    .collect();
                Some(format!("money in {base}, converted at {}", list.join(", ")))
            }
            MoneyPlan::NoValue(m) => Some(format!("money KPIs have no value: {m}")),
        }
    }
}

/// The months a period touches.
pub fn months(period: Period) -> Vec<Period> {
    match period {
        Period::Day(d) => vec![Period::month_of(d)],
        Period::Month { .. } => vec![period],
        Period::Year(y) => (1..=12)
            .map(|month| Period::Month { year: y, month })
            .collect(),
    }
}

/// `micros` converted at `rate`, rounded half away from zero to the micro.
pub fn convert_micros(micros: i64, rate: Decimal) -> Option<i64> {
    let v = from_micros(micros)
        .checked_mul(rate)?
        .round_dp_with_strategy(crate::money::SCALE, RoundingStrategy::MidpointAwayFromZero);
    to_micros(v).ok()
}

/// `amount` converted at `rate`, rounded as [`convert_micros`] rounds.
pub fn convert_money(amount: Money, rate: Decimal) -> Option<Money> {
    convert_micros(amount.micros(), rate).map(Money::from_micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::dec as d;

    fn day(s: &str) -> LocalDay {
        s.parse().unwrap()
    }

    fn month(s: &str) -> Period {
        Period::parse_month(s).unwrap()
    }

    #[test]
    fn plans_convert_only_mixed_currencies_with_every_rate() {
        let rates = Rates::new(
            Some("CNY".into()),
            [("USD".to_string(), month("2026-10"), d("7.12"))],
        );
        assert_eq!(
            rates.plan(&["USD", "USD"], month("2026-10")),
            MoneyPlan::Same(Some("USD".into()))
        );
        let plan = rates.plan(&["CNY", "USD"], month("2026-10"));
        assert!(matches!(plan, MoneyPlan::Convert { .. }), "{plan:?}");
        assert_eq!(
            plan.rate_on(&rates, "USD", day("2026-10-05")),
            Some(d("7.12"))
        );
        assert_eq!(plan.rate_on(&rates, "CNY", day("2026-10-05")), None);
        assert_eq!(
            plan.note().unwrap(),
            "money in CNY, converted at USD 2026-10 × 7.12"
        );
        // A year needs every month's rate.
        let plan = rates.plan(&["CNY", "USD"], Period::Year(2026));
        let MoneyPlan::NoValue(Missing::Rates { missing, .. }) = &plan else {
            panic!("{plan:?}");
        };
        assert_eq!(missing.len(), 11);
        assert!(plan.note().unwrap().contains("USD→CNY 2026-11"));
        let none = Rates::default().plan(&["CNY", "USD"], month("2026-10"));
        assert!(matches!(none, MoneyPlan::NoValue(Missing::NoBase(_))));
    }

    #[test]
    fn conversion_rounds_to_the_micro_half_away_from_zero() {
        assert_eq!(convert_micros(100_000_000, d("7.12")), Some(712_000_000));
        assert_eq!(convert_micros(1, d("0.5")), Some(1));
        assert_eq!(convert_micros(-1, d("0.5")), Some(-1));
        let usd = Money::parse("100").unwrap();
        assert_eq!(convert_money(usd, d("7.12")), Money::parse("712").ok());
        assert_eq!(convert_money(Money::from_micros(i64::MAX), d("2")), None);
    }
}
