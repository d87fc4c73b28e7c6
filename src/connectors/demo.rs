//! The demo connector: deterministic, realistic data for one shop so every
//! catalogue KPI has a value — orders with repeat buyers, refunds, traffic,
//! two ad campaigns, customer-service agents, reviews, surveys and peer reviews.
//!
//! A day's data depends only on (seed, shop, day), so re-running, or running
//! on a later date, produces the same facts for the days already covered.

use super::options::KindOptions;
use super::options::{Building, OptionProblem, PollingSpec};
use super::{Connector, ConnectorError, Sink, Window};
use crate::facts::{Batch, DailyValue, Order, OrderStatus, Refund};
use crate::ids::ShopId;
use crate::money::Money;
use crate::period::{day_start, local_day, today, LocalDay};
use chrono::{Datelike, Duration, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

fn default_days() -> u32 {
    90
}
fn default_seed() -> u64 {
    42
}
fn default_orders_per_day() -> u32 {
    120
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoOptions {
    /// How many days of history, ending `end_date`.
    #[serde(default = "default_days")]
    pub days: u32,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Last day generated (default: yesterday in the shop's zone).
    #[serde(default)]
    pub end_date: Option<LocalDay>,
    #[serde(default = "default_orders_per_day")]
    pub orders_per_day: u32,
}

impl KindOptions for DemoOptions {
    const POLLING: PollingSpec = PollingSpec::NONE;

    fn check(&self) -> Result<(), OptionProblem> {
        if self.days == 0 || self.days > 3660 {
            return Err(OptionProblem::new("days", "must be between 1 and 3660"));
        }
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        let (shop, tz) = with.shop()?;
        Ok(Connector::Demo(DemoConnector {
            name: with.name(),
            shop,
            tz,
            options: self,
        }))
    }
}

#[derive(Debug, Clone)]
pub struct DemoConnector {
    pub name: String,
    shop: ShopId,
    tz: Tz,
    options: DemoOptions,
}

/// SplitMix64: tiny, fast and reproducible on every platform.
struct Rng(u64);

impl Rng {
    fn new(parts: &[u64]) -> Self {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        for p in parts {
            r.0 ^= p.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            r.next();
        }
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Prices in fen; demo amounts are exact decimals.
const PRICES_FEN: &[i64] = &[3990, 5990, 8900, 12900, 19900, 25990, 39900, 59900];
const CAMPAIGNS: &[&str] = &["brand-search", "feed-ads"];
const AGENTS: &[&str] = &["agent-li", "agent-wang", "agent-zhao"];

impl DemoConnector {
    /// The days this connector covers, clipped to the window.
    pub fn days(&self, window: Window) -> Vec<LocalDay> {
        let end = self
            .options
            .end_date
            .unwrap_or_else(|| today(self.tz) - Duration::days(1));
        let start = end - Duration::days(self.options.days as i64 - 1);
        let from = window.from.map_or(start, |f| f.max(start));
        let to = window.to.map_or(end, |t| t.min(end));
        from.iter_days().take_while(|d| *d <= to).collect()
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let days = self.days(window);
        let last = days.last().copied();
        sink.expect_steps(days.len() as u64);
        for week in days.chunks(7) {
            let mut batch = Batch::default();
            for day in week {
                self.generate_day(*day, last.unwrap_or(*day), &mut batch);
            }
            sink.commit(batch).await?;
            sink.step(week.len() as u64);
        }
        Ok(())
    }

    fn generate_day(&self, day: LocalDay, last_day: LocalDay, batch: &mut Batch) {
        let shop_seed = hash_str(&self.shop);
        let mut rng = Rng::new(&[
            self.options.seed,
            shop_seed,
            day.date().num_days_from_ce() as u64,
        ]);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        // A slow upward trend plus a weekend lift makes month-over-month growth visible.
        let trend = 1.0 + (day.date().num_days_from_ce() % 365) as f64 / 365.0 * 0.3;
        let base = self.options.orders_per_day as f64 * trend * if weekend { 1.25 } else { 1.0 };
        let n_orders = (base * (0.85 + 0.3 * rng.unit())) as i64;
        let midnight = day_start(day, self.tz);
        let buyer_pool = (self.options.orders_per_day as f64 * 40.0) as u64;

        for k in 0..n_orders {
            let paid_at = midnight + Duration::seconds(rng.range(0, 86_399));
            let items = 1 + (rng.unit() * rng.unit() * 3.0) as i64;
            let amount_fen: i64 = (0..items)
                .map(|_| PRICES_FEN[rng.range(0, 7) as usize])
                .sum();
            // Squaring skews towards low buyer numbers: loyal customers come back.
            let buyer = (rng.unit() * rng.unit() * buyer_pool as f64) as u64;
            let guest = rng.unit() < 0.02;
            let status = if rng.unit() < 0.03 {
                OrderStatus::Cancelled
            } else {
                OrderStatus::Paid
            };
            let order_id = format!("{}-{}-{k:04}", self.shop, day.date().format("%Y%m%d"));
            if status == OrderStatus::Paid && rng.unit() < 0.06 {
                let refund_day_offset = rng.range(1, 5);
                let refunded_at = paid_at
                    + Duration::days(refund_day_offset)
                    + Duration::seconds(rng.range(0, 3600));
                let refund_local = local_day(refunded_at, self.tz);
                // Refunds after the last generated day have not happened yet.
                if refund_local <= last_day {
                    let partial = rng.unit() < 0.3;
                    let amount = if partial { amount_fen / 2 } else { amount_fen };
                    batch.refunds.push(Refund {
                        shop: self.shop.clone(),
                        refund_id: format!("{order_id}-r1"),
                        order_id: order_id.clone(),
                        refunded_at,
                        local_day: refund_local,
                        amount: Money::from_micros(amount * 10_000),
                    });
                }
            }
            batch.orders.push(Order {
                shop: self.shop.clone(),
                order_id,
                paid_at: Some(paid_at),
                local_day: Some(day),
                amount: Money::from_micros(amount_fen * 10_000),
                buyer_id: (!guest).then(|| format!("buyer-{buyer}")),
                status,
            });
        }

        let uv = (n_orders as f64 / (0.025 + 0.01 * rng.unit())) as i64;
        let visits = uv + uv * rng.range(10, 40) / 100;
        let pv = visits * rng.range(25, 45) / 10;
        let mut put = |input: &str, dimension: &str, micros: i64| {
            batch.daily.push(DailyValue {
                shop: self.shop.clone(),
                day,
                input: input.to_string(),
                dimension: dimension.to_string(),
                value_micros: Some(micros),
            });
        };
        const U: i64 = 1_000_000;
        put("pv", "", pv * U);
        put("uv", "", uv * U);
        put("new_uv", "", uv * rng.range(30, 55) / 100 * U);
        put("visits", "", visits * U);
        put("bounces", "", visits * rng.range(28, 45) / 100 * U);
        put("stay_seconds_total", "", visits * rng.range(90, 240) * U);
        put("return_orders", "", n_orders * rng.range(1, 4) / 100 * U);
        put("exchange_orders", "", n_orders * rng.range(0, 2) / 100 * U);
        let reviews = n_orders * rng.range(30, 50) / 100;
        put("reviews_total", "", reviews * U);
        put(
            "reviews_positive",
            "",
            reviews * rng.range(88, 98) / 100 * U,
        );
        put("shares", "", rng.range(20, 120) * U);
        put("keyword_rank", "", rng.range(1, 12) * U);
        put("campaign_participants", "", rng.range(200, 600) * U);
        put("campaign_target_participants", "", 500 * U);
        put("complaints", "", rng.range(0, 6) * U);
        put("complaints_resolved", "", rng.range(0, 5) * U);
        // Survey scores on a 5-point scale, to two places.
        put("csat_score", "", rng.range(420, 495) * 10_000);
        for c in CAMPAIGNS {
            let spend_fen = rng.range(80_000, 240_000);
            let clicks = rng.range(800, 2_400);
            let ad_orders = clicks * rng.range(2, 5) / 100;
            put("ad_spend", c, spend_fen * 10_000);
            put("ad_impressions", c, clicks * rng.range(20, 60) * U);
            put("ad_clicks", c, clicks * U);
            put("ad_arrivals", c, clicks * rng.range(80, 97) / 100 * U);
            put("ad_uv", c, clicks * rng.range(70, 90) / 100 * U);
            put("ad_orders", c, ad_orders * U);
            put("ad_gmv", c, ad_orders * rng.range(9_000, 20_000) * 10_000);
        }
        for a in AGENTS {
            let sessions = rng.range(40, 120);
            put("cs_sessions", a, sessions * U);
            put(
                "cs_first_response_seconds_total",
                a,
                sessions * rng.range(8, 40) * U,
            );
            let paid = sessions * rng.range(15, 40) / 100;
            put("cs_paid_uv", a, paid * U);
            put("cs_gmv", a, paid * rng.range(9_000, 20_000) * 10_000);
            put("cs_violations", a, if rng.unit() < 0.05 { U } else { 0 });
        }
        // Peer reviews are entered once a month, on its last day.
        if (day + Duration::days(1)).day() == 1 || day == last_day {
            put("peer_review_internal", "", rng.range(70, 98) * U);
            put("peer_review_cross_dept", "", rng.range(65, 95) * U);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible() {
        let a: Vec<u64> = (0..3).map(|_| Rng::new(&[1, 2]).next()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::new(&[1, 2]).next(), Rng::new(&[1, 3]).next());
    }
}
