//! Sending the outbox: every pending notification is claimed by exactly one
//! sender (a conditional update), delivered through its channel, and
//! recorded as sent or failed. Channels send side by side, so one broken
//! channel never delays the others; within a channel, in the order decided.

use super::channels::{Channel, ChannelConfig, DeliveryError, Receipt};
use super::config::Rules;
use super::message::{Message, RenderOptions};
use crate::metrics::Metrics;
use crate::store::{Delivery, OutboxRow, Store, StoreError};
use chrono::Utc;
use std::collections::BTreeMap;

/// How long a claimed notification is the claimer's: a sender that dies
/// mid-send leaves it to another after this.
const CLAIM_SECONDS: i64 = 300;

/// How one notification ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub id: i64,
    pub channel: String,
    pub result: Result<Receipt, DeliveryError>,
}

/// The channel named in the configuration, ready to send.
pub fn open_channel(config: &ChannelConfig) -> Result<Channel, DeliveryError> {
    config.build().map_err(|e| DeliveryError {
        channel: e.channel,
        reason: format!("`{}`: {}", e.key, e.message),
    })
}

pub fn render_options(rules: &Rules) -> RenderOptions {
    RenderOptions {
        language: rules.language,
        dashboard_url: rules.dashboard_url.clone(),
    }
}

/// Sends one message through a configured channel now, outside the outbox
/// (`kpid alerts test`).
pub async fn send_now(
    rules: &Rules,
    channel: &str,
    message: &Message,
) -> Result<Receipt, DeliveryError> {
    let config = rules.channel(channel).ok_or_else(|| DeliveryError {
        channel: channel.to_string(),
        reason: "no such channel in [[alerts.channels]]".into(),
    })?;
    open_channel(config)?
        .deliver(message, &render_options(rules))
        .await
}

/// Claims and sends every notification due.
pub async fn deliver_due(
    rules: &Rules,
    store: &Store,
    owner: &str,
    metrics: Option<&Metrics>,
) -> Result<Vec<Delivered>, StoreError> {
    let now = Utc::now().timestamp();
    let mut by_channel: BTreeMap<String, Vec<OutboxRow>> = BTreeMap::new();
    for id in store.outbox_due(now).await? {
        if let Some(row) = store
            .claim_notification(id, owner, now + CLAIM_SECONDS, now)
            .await?
        {
            by_channel.entry(row.channel.clone()).or_default().push(row);
        }
    }
    let options = render_options(rules);
    let sends = by_channel.into_iter().map(|(name, rows)| {
        let options = &options;
        async move {
            let channel = rules
                .channel(&name)
                .ok_or_else(|| DeliveryError {
                    channel: name.clone(),
                    reason: "the channel is no longer configured".into(),
                })
                .and_then(open_channel);
            let mut out = Vec::new();
            for row in rows {
                let result = match (&channel, serde_json::from_str::<Message>(&row.message)) {
                    (Err(e), _) => Err(e.clone()),
                    (_, Err(e)) => Err(DeliveryError {
                        channel: name.clone(),
                        reason: format!("stored message #{} cannot be read: {e}", row.id),
                    }),
                    (Ok(c), Ok(message)) => c.deliver(&message, options).await,
                };
                // Recorded at once, so a crash after this never re-sends it.
                record(store, owner, metrics, &row, &result).await?;
                out.push(Delivered {
                    id: row.id,
                    channel: row.channel,
                    result,
                });
            }
            Ok::<_, StoreError>(out)
        }
    });
    let mut delivered = Vec::new();
    for sent in futures::future::join_all(sends).await {
        delivered.extend(sent?);
    }
    Ok(delivered)
}

async fn record(
    store: &Store,
    owner: &str,
    metrics: Option<&Metrics>,
    row: &OutboxRow,
    result: &Result<Receipt, DeliveryError>,
) -> Result<(), StoreError> {
    let now = Utc::now().timestamp();
    match result {
        Ok(receipt) => {
            store
                .finish_notification(
                    row,
                    owner,
                    Delivery::Sent {
                        detail: &receipt.detail,
                    },
                    now,
                )
                .await?;
            if let Some(m) = metrics {
                m.alert_sent(&row.channel);
            }
            tracing::info!(channel = %row.channel, notification = row.id, "notification sent");
        }
        Err(e) => {
            store
                .finish_notification(row, owner, Delivery::Failed { error: &e.reason }, now)
                .await?;
            if let Some(m) = metrics {
                m.alert_failed(&row.channel);
            }
            tracing::warn!(channel = %row.channel, notification = row.id, error = %e, "notification failed");
        }
    }
    Ok(())
}
