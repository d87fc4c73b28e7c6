//! Checks shared by the options of several connector kinds.

use super::ConnectorError;
use crate::config::ConnectorConfig;

/// `initial_days` of the order and ticket connectors: the history, in days,
/// their first scheduled run fetches.
pub(crate) fn default_initial_days() -> i64 {
    30
}

/// Turns an option problem (key, message) into the connector's config error.
pub(crate) fn config_error(
    cfg: &ConnectorConfig,
) -> impl Fn((String, String)) -> ConnectorError + '_ {
    move |(key, message)| ConnectorError::Config {
        connector: cfg.name.clone(),
        message: format!("{key}: {message}"),
    }
}

/// Platform hosts are reached over https; http is allowed for mocks and proxies.
pub(crate) fn check_base_url(url: &str) -> Result<(), (String, String)> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err((
            "base_url".into(),
            format!("`{url}` must start with https:// (or http:// for a local mock or proxy)"),
        ))
    }
}

/// Page size within the platform's limit, at least one fetcher, no negative lookback.
pub(crate) fn check_paging(
    page_size: u32,
    max_page_size: u32,
    concurrency: usize,
    lookback_days: i64,
) -> Result<(), (String, String)> {
    if !(1..=max_page_size).contains(&page_size) {
        return Err((
            "page_size".into(),
            format!("must be between 1 and {max_page_size}"),
        ));
    }
    if concurrency == 0 {
        return Err(("concurrency".into(), "must be at least 1".into()));
    }
    if lookback_days < 0 {
        return Err(("lookback_days".into(), "must not be negative".into()));
    }
    Ok(())
}
