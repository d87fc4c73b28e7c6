//! Digests: the morning report of each shop — yesterday and month to date,
//! with targets, attainment and changes, plus the alerts firing.
//!
//! Yesterday's numbers are the ones a snapshot of that day holds (the same
//! computation as `kpid report --day`); month to date is the 1st through
//! yesterday, against the month target pro-rated by completed days.

use super::config::{DigestConfig, Rules};
use super::evaluate::{window_target, Scope, Values, Window};
use super::message::{AlertState, Digest, DigestLine, KpiLabel, Message, ShopDigest, WatchPeriod};
use super::state::{notice, parse_state};
use crate::ids::ShopId;
use crate::kpi::round_value;
use crate::period::{local_day, Period};
use crate::scoring::attainment_of;
use crate::settings::Settings;
use crate::snapshot::values;
use crate::store::{OutboxDraft, Store, StoreError, StoredKpi};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

/// `(now - before) / |before|`; no value when `before` is 0 or missing.
fn change(now: Option<Decimal>, before: Option<Decimal>) -> Option<Decimal> {
    let (now, before) = (now?, before?);
    if before.is_zero() {
        return None;
    }
    Some(round_value((now - before) / before.abs()))
}

fn value_of(lines: &[StoredKpi], kpi: &str) -> Option<Decimal> {
    lines
        .iter()
        .find(|l| l.kpi == kpi)
        .and_then(|l| l.measure.value)
}

/// The digest of `shops` as of `at` (each shop's yesterday in its zone).
pub async fn build(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    spec: &DigestConfig,
    shops: &[ShopId],
    at: DateTime<Utc>,
) -> Result<Digest, StoreError> {
    let mut kpi_values = Values::new(settings, store).await?;
    let cap = settings.scoring.cap;
    let alerts = store.alerts().await?;
    let mut out = Vec::new();
    for id in shops {
        let Some(shop) = settings.shop(id) else {
            continue;
        };
        let scope = Scope::Shop(shop.id.clone());
        let scopes = super::evaluate::target_scopes(settings, &scope);
        let Some(day_window) = Window::at(WatchPeriod::Day, at, shop.tz) else {
            continue;
        };
        let yesterday = day_window.days.first();
        let days_back = |n| {
            values(
                settings,
                store,
                shop,
                Period::Day(yesterday - Duration::days(n)),
            )
        };
        let day = days_back(0).await?;
        let before = days_back(1).await?;
        let week_ago = days_back(7).await?;
        let month_window = Window::at(WatchPeriod::Month, at, shop.tz);
        let month = match &month_window {
            Some(w) => Some(kpi_values.of_window(&scope, w).await?),
            None => None,
        };
        let today = local_day(at, shop.tz);
        let kpis: Vec<String> = if spec.kpis.is_empty() {
            settings
                .catalogue
                .iter()
                .filter(|k| {
                    kpi_values
                        .book
                        .lookup(k.id.as_str(), Period::month_of(today), &scopes)
                        .is_some()
                })
                .map(|k| k.id.to_string())
                .collect()
        } else {
            spec.kpis.clone()
        };
        let mut lines = Vec::new();
        for kpi in &kpis {
            let Some(k) = settings.catalogue.get(kpi) else {
                continue;
            };
            let day_value = value_of(&day, kpi);
            let (day_target, day_due) = window_target(k, &kpi_values.book, &scopes, &day_window);
            let (month_value, month_target, month_due) = match (&month, &month_window) {
                (Some(m), Some(w)) => {
                    let (full, due) = window_target(k, &kpi_values.book, &scopes, w);
                    (m.get(kpi).copied().flatten(), full, due)
                }
                _ => (None, None, None),
            };
            let att = |v, t| attainment_of(k, v, t, cap);
            lines.push(DigestLine {
                kpi: KpiLabel::of(k),
                day_value,
                day_target,
                day_attainment: att(day_value, day_due),
                change_previous_day: change(day_value, value_of(&before, kpi)),
                change_same_day_last_week: change(day_value, value_of(&week_ago, kpi)),
                month_value,
                month_target,
                month_attainment: att(month_value, month_due),
            });
        }
        let firing = alerts
            .iter()
            .filter(|a| a.scope_kind == "shop" && shop.id == a.scope_id)
            .filter(|a| parse_state(&a.state) == AlertState::Firing)
            .filter(|a| rules.rule(&a.rule).is_some())
            .filter_map(|a| notice(settings, rules, a, at.timestamp()))
            .collect();
        out.push(ShopDigest {
            shop: shop.id.clone(),
            currency: shop.currency.clone(),
            day: yesterday.to_string(),
            month: Period::month_of(today).to_string(),
            month_to_date: month_window.map(|w| w.label()),
            lines,
            firing,
        });
    }
    Ok(Digest {
        name: spec.name.clone(),
        shops: out,
    })
}

/// Puts a built digest in the outbox for each of its channels; the caller
/// delivers (see [`super::deliver::deliver_due`]).
pub async fn enqueue(
    store: &Store,
    spec: &DigestConfig,
    digest: &Digest,
) -> Result<(), StoreError> {
    let message = serde_json::to_string(&Message::Digest(digest.clone()))
        .map_err(|e| StoreError::Corrupt(format!("digest {}: {e}", spec.name)))?;
    let clock = Utc::now().timestamp();
    for channel in &spec.channels {
        store
            .enqueue_notification(
                clock,
                &OutboxDraft {
                    channel: channel.clone(),
                    kind: "digest".into(),
                    scope: format!("digest:{}", spec.name),
                    alerts: Vec::new(),
                    message: message.clone(),
                    status: "pending".into(),
                },
            )
            .await?;
    }
    Ok(())
}
