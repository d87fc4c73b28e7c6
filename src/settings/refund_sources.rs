//! Which shops have a refund source. A shop's refund inputs
//! (`refund_orders`, `refund_amount`) are facts only where something
//! delivers refunds: without any, "no refunds" is a claim nobody made, so
//! the shop's refund KPIs (`refund_rate` and any formula over those inputs)
//! have no value rather than 0, and `kpid check` names the shop. A shop
//! with a refund source but no refund in a period has 0.
//!
//! A refund source of a shop is one of:
//! - a connector of the shop (or one without `shop`, whose rows may name
//!   any shop) of a built-in kind that reads refunds ([`REFUND_KINDS`]);
//! - a `csv`/`xlsx` connector with `stream = "refunds"`, or a daily one
//!   whose `columns` map a refund input;
//! - a connector of a definition kind with a stream that maps refunds
//!   (among the connector's `streams`, when it picks some);
//! - daily values of a refund input stored for the shop (a daily file
//!   with `refund_orders`/`refund_amount` columns), or refund records
//!   stored for it (by a connector since removed from the configuration).

use crate::config::ConnectorConfig;
use crate::ids::ShopId;
use crate::kpi::InputValues;
use crate::settings::Settings;
use crate::store::{known_or_found, Store, StoreError};
use std::collections::{BTreeMap, HashSet};

/// The inputs that only a refund source gives.
pub const REFUND_INPUTS: &[&str] = &["refund_orders", "refund_amount"];

/// Built-in connector kinds that read refunds (the demo generates them).
pub const REFUND_KINDS: &[&str] = &["demo", "taobao", "pinduoduo", "jd", "douyin"];

/// The connector kinds from definitions, each with the names of its
/// streams that map refunds. The definitions are loaded above this layer
/// (`crate::setup`), which gives this summary of them.
#[derive(Debug, Clone, Default)]
pub struct RefundKinds(BTreeMap<String, Vec<String>>);

impl RefundKinds {
    pub fn new(kinds: BTreeMap<String, Vec<String>>) -> Self {
        RefundKinds(kinds)
    }

    /// Whether a connector of definition kind `kind` delivers refunds, with
    /// `picked` its `streams = [...]` when it picks some.
    fn deliver(&self, kind: &str, picked: Option<&Vec<serde_json::Value>>) -> bool {
        self.0.get(kind).is_some_and(|streams| {
            streams.iter().any(|s| {
                picked.is_none_or(|names| names.iter().any(|n| n.as_str() == Some(s.as_str())))
            })
        })
    }
}

/// Whether connector `c` delivers refunds (by its configuration).
pub fn delivers_refunds(settings: &Settings, c: &ConnectorConfig) -> bool {
    match c.kind.as_str() {
        "csv" | "xlsx" => match c.options.get("stream").and_then(|v| v.as_str()) {
            Some("refunds") => true,
            Some("daily") => c
                .options
                .get("columns")
                .and_then(|v| v.as_object())
                .is_some_and(|cols| REFUND_INPUTS.iter().any(|i| cols.contains_key(*i))),
            _ => false,
        },
        kind if REFUND_KINDS.contains(&kind) => true,
        // `streams = [...]` picks some of the definition's streams.
        kind => settings
            .refund_kinds
            .deliver(kind, c.options.get("streams").and_then(|v| v.as_array())),
    }
}

/// Whether a configured connector delivers refunds for `shop`.
pub fn configured(settings: &Settings, shop: &str) -> bool {
    settings
        .config
        .connectors
        .iter()
        .filter(|c| c.shop.as_deref().is_none_or(|s| s == shop))
        .any(|c| delivers_refunds(settings, c))
}

/// Whether `shop` has a refund source: a configured one, or stored refund
/// facts.
pub async fn has_refund_source(
    settings: &Settings,
    store: &Store,
    shop: &str,
) -> Result<bool, StoreError> {
    Ok(with_refund_source(settings, store, &[shop.into()])
        .await?
        .contains(shop))
}

/// Those of `shops` that have a refund source, looked up for all at once.
pub async fn with_refund_source(
    settings: &Settings,
    store: &Store,
    shops: &[ShopId],
) -> Result<HashSet<ShopId>, StoreError> {
    let known: HashSet<ShopId> = shops
        .iter()
        .filter(|s| configured(settings, s))
        .cloned()
        .collect();
    known_or_found(
        known,
        shops,
        |rest| async move { stored(store, &rest).await },
    )
    .await
}

/// Those of `shops` with refund records or daily refund values stored.
async fn stored(store: &Store, shops: &[ShopId]) -> Result<HashSet<ShopId>, StoreError> {
    if shops.is_empty() {
        return Ok(HashSet::new());
    }
    let with_refunds = store.shops_with_refunds(shops).await?;
    known_or_found(with_refunds, shops, |rest| async move {
        store.shops_with_daily_input(&rest, REFUND_INPUTS).await
    })
    .await
}

/// Leaves the refund inputs without a value (a shop without refund source).
pub fn clear(values: &mut InputValues) {
    for input in REFUND_INPUTS {
        values.remove(input);
    }
}

/// Notes for `kpid check`: each shop without a refund source (the stored
/// refunds and daily values are looked at when the database is at hand,
/// for all shops at once).
pub async fn check_notes(settings: &Settings, store: Option<&Store>) -> Vec<String> {
    let unconfigured: Vec<ShopId> = settings
        .shops
        .iter()
        .filter(|s| !configured(settings, &s.id))
        .map(|s| s.id.clone())
        .collect();
    // A database that cannot be read counts as holding nothing: the note
    // then says what the configuration alone provides.
    let stored = match store {
        Some(st) => stored(st, &unconfigured).await.unwrap_or_default(),
        None => HashSet::new(),
    };
    unconfigured
        .into_iter()
        .filter(|shop| !stored.contains(shop))
        .map(|shop| {
            format!(
                "shop `{shop}` has no refund source (no connector delivering refunds, no stored \
                 refunds or daily refund_orders/refund_amount values): its refund KPIs \
                 (refund_rate and any formula over refund_orders or refund_amount) have no value"
            )
        })
        .collect()
}
