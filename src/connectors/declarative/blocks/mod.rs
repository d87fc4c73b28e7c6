//! Named building blocks a definition picks for platforms whose APIs need
//! more than templates: request signing (`[auth] signing = "top_md5"`),
//! error envelopes inside response bodies (`[errors] envelope = "top"`),
//! reverse paging (`[streams.X.pagination] style = "reverse"`) and cursor
//! tokens (`style = "cursor"`, `token = "meta_graph"`). The
//! Rust connectors of the same platforms use the same blocks, so a
//! platform's signing and error rules exist once.

pub mod cursor;
pub mod envelope;
pub mod paging;
pub mod signing;

use super::file::RawDefinition;
use envelope::Envelope;
use signing::Signing;

use crate::config::KeyProblem as Problem;

/// `[errors] envelope = "…"`, checked: a known name, and none of the keys
/// a hand-written envelope takes beside it.
pub(super) fn envelope_of(raw: &RawDefinition, problems: &mut Vec<Problem>) -> Option<Envelope> {
    let e = raw.errors.as_ref()?;
    let name = e.envelope.as_deref()?;
    let mixed = e.code.is_some()
        || e.message.is_some()
        || !e.ok.is_empty()
        || !e.throttled.is_empty()
        || !e.auth.is_empty();
    if mixed {
        problems.push(Problem::new(
            "errors.envelope",
            "a named envelope knows its codes: leave out code, message, ok, throttled and auth",
        ));
    }
    let found = Envelope::from_name(name);
    if found.is_none() {
        problems.push(Problem::new(
            "errors.envelope",
            format!("`{name}` is not one of {}", Envelope::NAMES.join(", ")),
        ));
    }
    found
}

/// `[auth] signing = "…"`, checked: a known name; the app id (a credential
/// or an option), the secret and the shop's authorization declared under
/// the platform's names, the two latter as secret credentials; and an
/// `api` on every stream (only with signing).
pub(super) fn signing_of(raw: &RawDefinition, problems: &mut Vec<Problem>) -> Option<Signing> {
    let Some(name) = raw.auth.signing.as_deref() else {
        for (s, stream) in &raw.streams {
            if stream.api.is_some() {
                problems.push(Problem::new(
                    format!("streams.{s}.api"),
                    "names the API a signing block calls: set `[auth] signing`",
                ));
            }
        }
        return None;
    };
    let Some(signing) = Signing::from_name(name) else {
        problems.push(Problem::new(
            "auth.signing",
            format!("`{name}` is not one of {}", Signing::NAMES.join(", ")),
        ));
        return None;
    };
    let [app, secret, token] = signing.key_names();
    if !raw.credentials.contains_key(app) && !raw.options.contains_key(app) {
        problems.push(Problem::new(
            "auth.signing",
            format!("`{name}` signs with `{app}`: declare it under [credentials] or [options]"),
        ));
    }
    for key in [secret, token] {
        match raw.credentials.get(key) {
            Some(c) if c.secret => {}
            Some(_) => problems.push(Problem::new(
                format!("credentials.{key}"),
                format!("`{key}` is what `{name}` signs with: it must stay secret"),
            )),
            None => problems.push(Problem::new(
                "auth.signing",
                format!("`{name}` signs with `{key}`: declare it under [credentials]"),
            )),
        }
    }
    for (s, stream) in &raw.streams {
        if stream.api.as_deref().is_none_or(str::is_empty) {
            problems.push(Problem::new(
                format!("streams.{s}.api"),
                format!("`{name}` signs a call of one API: name it (e.g. `api = \"pdd.order.list.get\"`)"),
            ));
        }
        if signing.json_business() && stream.body.is_none() {
            problems.push(Problem::new(
                format!("streams.{s}.body"),
                format!("`{name}` sends the business parameters as JSON: give them as `body`"),
            ));
        }
        if !stream.method.eq_ignore_ascii_case("POST") {
            problems.push(Problem::new(
                format!("streams.{s}.method"),
                "a signed call is a POST to the platform's router",
            ));
        }
    }
    Some(signing)
}
