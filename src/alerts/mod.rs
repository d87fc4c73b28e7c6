//! Alerts: rules over fresh KPI values, a persisted state machine
//! (inactive → pending → firing → resolved), silences, an outbox of
//! notifications, digests, and the channels that deliver them.
//!
//! `message` is the contract between the evaluation side (which decides what
//! to say) and `channels` (which say it in each service's format).

pub mod channels;
pub mod config;
pub mod deliver;
pub mod digest;
pub mod evaluate;
pub mod message;
pub mod state;

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::Store;
use config::Rules;

/// One evaluation now and the delivery of what is due, as the daemon runs
/// it after a connector stored something and after each snapshot job.
/// Problems are logged: alerting never stops the job that triggered it.
pub async fn evaluate_and_deliver(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    owner: &str,
    metrics: Option<&Metrics>,
) {
    if rules.rules.is_empty() {
        return;
    }
    match state::evaluate(settings, rules, store, chrono::Utc::now(), owner).await {
        Ok(transitions) => {
            for t in &transitions {
                tracing::info!(
                    rule = %t.rule, kpi = %t.kpi, scope = %t.scope.id(), period = t.period.as_str(),
                    from = t.from.as_str(), to = t.to.as_str(), "alert state changed"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "alert evaluation failed"),
    }
    deliver(rules, store, owner, metrics).await;
    if let Some(m) = metrics {
        match store.alerts().await {
            Ok(alerts) => {
                let count = |state: &str| {
                    alerts
                        .iter()
                        .filter(|a| a.state == state && rules.rule(&a.rule).is_some())
                        .count() as i64
                };
                m.alert_states(&[
                    ("pending", count("pending")),
                    ("firing", count("firing")),
                    ("resolved", count("resolved")),
                ]);
            }
            Err(e) => tracing::warn!(error = %e, "cannot count alerts for /metrics"),
        }
    }
}

/// Sends what the outbox holds (also what a crashed process decided and
/// never sent).
pub async fn deliver(rules: &Rules, store: &Store, owner: &str, metrics: Option<&Metrics>) {
    if let Err(e) = deliver::deliver_due(rules, store, owner, metrics).await {
        tracing::error!(error = %e, "cannot deliver alert notifications");
    }
}
