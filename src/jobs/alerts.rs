//! Alert jobs: evaluation after fresh data (a connector that stored
//! something, a snapshot job), and the scheduled digests.

use super::Context;
use crate::settings::Shop;
use crate::store::RunResult;
use chrono::{DateTime, Utc};

/// Evaluates every rule now and delivers what is due; problems are logged,
/// alerting never fails the job that triggered it.
pub async fn evaluate(cx: &Context) {
    crate::alerts::evaluate_and_deliver(
        &cx.setup,
        &cx.setup.alerts,
        &cx.store,
        &cx.owner,
        Some(&cx.metrics),
    )
    .await;
}

/// Sends what the outbox holds, what an earlier process decided and did
/// not send included.
pub async fn deliver(cx: &Context) {
    crate::alerts::deliver(&cx.setup.alerts, &cx.store, &cx.owner, Some(&cx.metrics)).await;
}

/// A scheduled tick of a digest (`[[alerts.digests]]`, by name) for one shop.
pub(super) async fn digest(
    cx: &Context,
    name: &str,
    shop: &Shop,
    tick: DateTime<Utc>,
) -> RunResult {
    let Some(spec) = cx.setup.alerts.digest(name) else {
        return RunResult {
            status: "failed",
            error: Some(format!("no digest `{name}`")),
            ..Default::default()
        };
    };
    let shops = [shop.id.clone()];
    let queued = async {
        let digest = crate::alerts::digest::build(
            &cx.setup,
            &cx.setup.alerts,
            &cx.store,
            spec,
            &shops,
            tick,
        )
        .await?;
        crate::alerts::digest::enqueue(&cx.store, spec, &digest).await
    };
    match queued.await {
        Ok(_) => {
            deliver(cx).await;
            RunResult {
                status: "ok",
                records: spec.channels.len() as i64,
                detail: format!(
                    "digest {name} for {} queued to {}",
                    shop.id,
                    spec.channels.join(", ")
                ),
                ..Default::default()
            }
        }
        Err(e) => RunResult {
            status: "failed",
            error: Some(e.to_string()),
            ..Default::default()
        },
    }
}
