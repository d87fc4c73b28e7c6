//! Delivery channels: each renders a [`Message`] in its service's format,
//! signs it where the service asks, and sends it.
//!
//! The contract the evaluation side relies on:
//! - [`ChannelConfig`] is one `[[alerts.channels]]` table (deserialized by
//!   `config`, with unknown keys rejected); [`ChannelConfig::build`] resolves
//!   its secrets and returns a [`Channel`].
//! - [`Channel::deliver`] sends one message, retrying what the service says
//!   is temporary, and returns the service's answer or a [`DeliveryError`]
//!   that names the channel and the cause without any secret.

use super::message::{Message, RenderOptions};

/// A configured channel, ready to send.
pub struct Channel {
    pub name: String,
    pub kind: String,
    // The channel's transport (built by `ChannelConfig::build`).
}

/// What the service answered to a delivered message (for `kpid alerts test`
/// and history).
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub detail: String,
}

/// A message that could not be delivered: names the channel and the cause,
/// never a secret (robot URLs carry their token).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("channel {channel}: {reason}")]
pub struct DeliveryError {
    pub channel: String,
    pub reason: String,
}

impl Channel {
    /// Sends one message.
    pub async fn deliver(
        &self,
        _message: &Message,
        _options: &RenderOptions,
    ) -> Result<Receipt, DeliveryError> {
        Err(DeliveryError {
            channel: self.name.clone(),
            reason: format!("channel kind {} cannot send yet", self.kind),
        })
    }
}

/// One `[[alerts.channels]]` table.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: String,
}
