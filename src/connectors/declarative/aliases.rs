//! Old kind names. The Shopify, WooCommerce and GA4 definitions were first
//! shipped beside the Rust modules as `shopify_rest`, `woocommerce_rest` and
//! `ga4_rest`; when they replaced those modules they took their kinds. The
//! old names keep working for one release, with a warning when a connector
//! is built and a note in `kpid check`, so configurations written for the
//! definitions do not break on upgrade.

/// `(old name, kind)`.
pub const RENAMED: &[(&str, &str)] = &[
    ("shopify_rest", "shopify"),
    ("woocommerce_rest", "woocommerce"),
    ("ga4_rest", "ga4"),
];

/// The kind an old name stands for.
pub fn renamed(kind: &str) -> Option<&'static str> {
    RENAMED
        .iter()
        .find(|(old, _)| *old == kind)
        .map(|(_, new)| *new)
}

/// What to tell the user about connector `connector` of kind `kind`, if
/// that kind is an old name.
pub fn note(connector: &str, kind: &str) -> Option<String> {
    renamed(kind).map(|new| {
        format!(
            "connector `{connector}`: kind `{kind}` is deprecated and goes in the next release; write `kind = \"{new}\"` (the same definition)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_names_stand_for_the_kinds_that_replaced_them() {
        assert_eq!(renamed("shopify_rest"), Some("shopify"));
        assert_eq!(renamed("woocommerce_rest"), Some("woocommerce"));
        assert_eq!(renamed("ga4_rest"), Some("ga4"));
        assert_eq!(renamed("shopify"), None);
        let n = note("shop-1", "ga4_rest").unwrap();
        assert!(n.contains("`shop-1`") && n.contains("`ga4_rest`") && n.contains("\"ga4\""));
        assert_eq!(note("shop-1", "ga4"), None);
    }
}
