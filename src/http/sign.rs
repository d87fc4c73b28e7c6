//! Digests shared by request signatures: the webhook and group-bot alert
//! channels (HMAC-SHA256) and the platforms' signing blocks
//! ([`crate::connectors::declarative::blocks::signing`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write as _;

/// `bytes` as hex, upper or lower case.
pub(crate) fn hex(bytes: &[u8], upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        if upper {
            let _ = write!(out, "{b:02X}");
        } else {
            let _ = write!(out, "{b:02x}");
        }
    }
    out
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
