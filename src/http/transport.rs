//! What went wrong below HTTP. reqwest says only "error sending request";
//! the cause — refused, DNS, TLS, a timeout — is further down its chain of
//! sources (hyper's connect error, then the OS or rustls error).

use super::{HttpError, Timeouts};
use std::error::Error as _;
use std::time::Duration;

/// The transport error of a request to the URL `e` names, with the URL
/// shown without credentials or query string.
pub(super) fn error(e: &reqwest::Error, timeouts: Timeouts) -> HttpError {
    let url = e.url();
    HttpError::Transport {
        url: url.map(shown_url).unwrap_or_default(),
        message: cause(e, url, timeouts),
    }
}

/// `scheme://host:port/path`: no `user:password@`, no query (keys and
/// signatures travel there), no fragment.
fn shown_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

fn cause(e: &reqwest::Error, url: Option<&reqwest::Url>, timeouts: Timeouts) -> String {
    let host = url.and_then(|u| u.host_str()).unwrap_or("the host");
    let address = match url.and_then(|u| u.port_or_known_default()) {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let chain = sources(e);
    // The innermost message is the OS's or rustls's own words.
    let detail = chain.last().map(|s| s.to_string()).unwrap_or_default();
    let io_kind = chain
        .iter()
        .find_map(|s| s.downcast_ref::<std::io::Error>().map(|io| io.kind()));
    let says = |text: &str| chain.iter().any(|s| s.to_string().starts_with(text));

    if e.is_timeout() && e.is_connect() {
        format!(
            "timed out connecting to {address} after {}",
            seconds(timeouts.connect)
        )
    } else if e.is_timeout() {
        format!(
            "no response from {address}: timed out after {} without data (the read timeout)",
            seconds(timeouts.read)
        )
    } else if says("dns error") {
        format!("DNS lookup of `{host}` failed: {detail}")
    } else if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        format!("cannot connect to {address}: connection refused (nothing listens there)")
    } else if e.is_connect() && url.is_some_and(|u| u.scheme() == "https") && !says("tcp connect") {
        // TCP connected (else hyper says "tcp connect error"): the TLS
        // handshake that follows failed.
        format!("TLS handshake with {address} failed: {detail}")
    } else if e.is_connect() {
        format!("cannot connect to {address}: {detail}")
    } else {
        let words: Vec<String> = std::iter::once(e.to_string())
            .chain(chain.iter().map(|s| s.to_string()))
            .collect();
        format!("cannot send or read: {}", dedup(words).join(": "))
    }
}

/// The error's sources, outermost first.
fn sources(e: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s);
        cur = s.source();
    }
    out
}

/// Wrapping errors often repeat their source's message.
fn dedup(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words {
        if !out.iter().any(|o| o.contains(&w)) {
            out.retain(|o| !w.contains(o.as_str()));
            out.push(w);
        }
    }
    out
}

/// `10 s`, `0.3 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}
