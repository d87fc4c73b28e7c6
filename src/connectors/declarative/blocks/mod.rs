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

/// A problem in a definition: the dotted key and what is wrong.
type Problem = (String, String);

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
        problems.push((
            "errors.envelope".into(),
            "a named envelope knows its codes: leave out code, message, ok, throttled and auth"
                .into(),
        ));
    }
    let found = Envelope::from_name(name);
    if found.is_none() {
        problems.push((
            "errors.envelope".into(),
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
                problems.push((
                    format!("streams.{s}.api"),
                    "names the API a signing block calls: set `[auth] signing`".into(),
                ));
            }
        }
        return None;
    };
    let Some(signing) = Signing::from_name(name) else {
        problems.push((
            "auth.signing".into(),
            format!("`{name}` is not one of {}", Signing::NAMES.join(", ")),
        ));
        return None;
    };
    let [app, secret, token] = signing.key_names();
    if !raw.credentials.contains_key(app) && !raw.options.contains_key(app) {
        problems.push((
            "auth.signing".into(),
            format!("`{name}` signs with `{app}`: declare it under [credentials] or [options]"),
        ));
    }
    for key in [secret, token] {
        match raw.credentials.get(key) {
            Some(c) if c.secret => {}
            Some(_) => problems.push((
                format!("credentials.{key}"),
                format!("`{key}` is what `{name}` signs with: it must stay secret"),
            )),
            None => problems.push((
                "auth.signing".into(),
                format!("`{name}` signs with `{key}`: declare it under [credentials]"),
            )),
        }
    }
    for (s, stream) in &raw.streams {
        if stream.api.as_deref().is_none_or(str::is_empty) {
            problems.push((
                format!("streams.{s}.api"),
                format!("`{name}` signs a call of one API: name it (e.g. `api = \"pdd.order.list.get\"`)"),
            ));
        }
        if signing.json_business() && stream.body.is_none() {
            problems.push((
                format!("streams.{s}.body"),
                format!("`{name}` sends the business parameters as JSON: give them as `body`"),
            ));
        }
        if !stream.method.eq_ignore_ascii_case("POST") {
            problems.push((
                format!("streams.{s}.method"),
                "a signed call is a POST to the platform's router".into(),
            ));
        }
    }
    Some(signing)
}

#[cfg(test)]
mod tests {
    use super::super::definition::compile;
    use super::super::plan::PageStyle;
    use super::*;

    /// A Pinduoduo-shaped definition: signed, with its envelope, paged in reverse.
    const SIGNED: &str = r#"
kind = "s"
description = "test"
[credentials]
client_id = { secret = false }
client_secret = {}
access_token = {}
[auth]
signing = "pdd"
[errors]
envelope = "pdd"
[streams.orders]
api = "pdd.order.list.get"
method = "POST"
path = "/api/router"
records = "/r/list"
query = { page = "{page}", start = "{from}" }
[streams.orders.window]
format = "unix"
[streams.orders.pagination]
style = "reverse"
total = "/r/total_count"
[streams.orders.order]
id = "/id"
paid_at = { pointer = "/at", format = "unix" }
amount = "/total"
"#;

    fn keys(text: &str) -> Vec<String> {
        match compile(text, "s.toml") {
            Ok(_) => Vec::new(),
            Err(ps) => ps.into_iter().map(|(k, _, _)| k).collect(),
        }
    }

    #[test]
    fn a_signed_definition_compiles_with_its_blocks() {
        let d = compile(SIGNED, "s.toml").unwrap();
        assert_eq!(d.signing, Some(Signing::Pdd));
        assert_eq!(d.envelope, Some(Envelope::Pdd));
        assert!(d.errors.is_none());
        assert_eq!(d.streams[0].pagination.style, PageStyle::Reverse);
        assert_eq!(d.streams[0].api.as_deref(), Some("pdd.order.list.get"));
    }

    #[test]
    fn each_block_problem_names_its_key() {
        let with = |from: &str, to: &str| {
            assert!(SIGNED.contains(from), "{from}");
            keys(&SIGNED.replace(from, to))
        };
        assert_eq!(
            with("signing = \"pdd\"", "signing = \"md5\""),
            ["auth.signing"]
        );
        assert_eq!(
            with("client_secret = {}", "client_secret = { secret = false }"),
            ["credentials.client_secret"]
        );
        assert_eq!(with("access_token = {}", "token = {}"), ["auth.signing"]);
        assert_eq!(
            with("api = \"pdd.order.list.get\"\n", ""),
            ["streams.orders.api"]
        );
        assert_eq!(
            with("method = \"POST\"", "method = \"GET\""),
            ["streams.orders.method"]
        );
        assert_eq!(
            with("envelope = \"pdd\"", "envelope = \"pdd\"\ncode = \"/code\""),
            ["errors.envelope"]
        );
        assert_eq!(
            with("envelope = \"pdd\"", "envelope = \"jos\""),
            ["errors.envelope"]
        );
        assert_eq!(
            with("total = \"/r/total_count\"", "has_next = \"/r/more\""),
            [
                "streams.orders.pagination.total",
                "streams.orders.pagination.has_next"
            ]
        );
        // Without signing, `api` means nothing.
        assert_eq!(
            with("signing = \"pdd\"", "headers = { X = \"{client_id}\" }"),
            ["streams.orders.api"]
        );
    }
}

#[cfg(test)]
mod cursor_tests {
    use super::super::definition::compile;
    use super::super::plan::{PageStyle, Scheduled};
    use super::cursor::CursorToken;
    use super::envelope::Envelope;

    const BASE: &str = r#"
kind = "t"
description = "test"
[errors]
envelope = "meta_graph"
[credentials]
token = {}
[options]
account = { digits = true, prefix = "act_" }
[auth]
query = { access_token = "{token}" }
[streams.daily]
path = "/act_{account}/insights"
records = "/data"
query = { since = "{from}", after = "{cursor}" }
[streams.daily.window]
format = "%Y-%m-%d"
zone = "shop"
scheduled = "reached"
[streams.daily.pagination]
style = "cursor"
token = "meta_graph"
[streams.daily.daily]
day = { pointer = "/date_start", format = "%Y-%m-%d" }
until = "/date_stop"
dimension = "/campaign_id"
label = "campaign"
[streams.daily.daily.inputs]
ad_clicks = { pointer = "/clicks", default = "0", whole = true }
ad_orders = { pointer = "/value", sum = "/actions", where = { "/action_type" = ["a", "b"] }, first = true }
"#;

    fn keys(text: &str) -> Vec<String> {
        match compile(text, "t.toml") {
            Ok(_) => Vec::new(),
            Err(ps) => ps.into_iter().map(|(k, _, _)| k).collect(),
        }
    }

    #[test]
    fn definitions_pick_blocks_by_name() {
        let d = compile(BASE, "t.toml").unwrap();
        assert_eq!(d.envelope, Some(Envelope::MetaGraph));
        let s = &d.streams[0];
        assert_eq!(s.pagination.style, PageStyle::Token(CursorToken::MetaGraph));
        assert_eq!(s.window.scheduled, Scheduled::Reached);
        let daily = s.daily.as_ref().unwrap();
        assert_eq!(daily.label.as_deref(), Some("campaign"));
        assert!(daily.until.is_some());
        assert_eq!(daily.inputs[0].1.default, Some(0));
        assert!(daily.inputs[0].1.whole);
        assert!(daily.inputs[1].1.sum.as_ref().unwrap().first);
        assert_eq!(d.options[0].prefix.as_deref(), Some("act_"));

        let with = |from: &str, to: &str| {
            assert!(BASE.contains(from), "{from}");
            keys(&BASE.replace(from, to))
        };
        assert_eq!(
            with("envelope = \"meta_graph\"", "envelope = \"graph\""),
            ["errors.envelope"]
        );
        assert_eq!(
            with("token = \"meta_graph\"", "token = \"graph\""),
            ["streams.daily.pagination.token"]
        );
        assert_eq!(
            with(
                "token = \"meta_graph\"",
                "token = \"meta_graph\"\nnext_cursor = \"/n\""
            ),
            [
                "streams.daily.pagination.token",
                "streams.daily.pagination.next_cursor"
            ]
        );
        assert_eq!(
            with("scheduled = \"reached\"", "scheduled = \"reach\""),
            ["streams.daily.window.scheduled"]
        );
        assert_eq!(
            with(
                "[\"a\", \"b\"] }, first",
                "[\"a\"], \"/x\" = [\"b\"] }, first"
            ),
            ["streams.daily.daily.inputs.ad_orders.first"]
        );
        assert_eq!(
            with("default = \"0\"", "default = \"zero\""),
            ["streams.daily.daily.inputs.ad_clicks.default"]
        );
        assert_eq!(
            with("dimension = \"/campaign_id\"\n", ""),
            ["streams.daily.daily.label"]
        );
        assert_eq!(
            with(
                "dimension = \"/campaign_id\"",
                "dimension = { pointer = \"/campaign_id\", whole = true }"
            ),
            ["streams.daily.daily.dimension.whole"]
        );
    }
}
