use super::*;

const BASE: &str = r#"
kind = "t"
description = "test"
[credentials]
token = {}
[streams.orders]
path = "/orders"
records = "/items"
query = { from = "{from}", page = "{page}" }
[streams.orders.window]
format = "rfc3339"
[streams.orders.pagination]
style = "page"
[streams.orders.order]
id = "/id"
paid_at = { pointer = "/at", format = "rfc3339" }
amount = "/total"
"#;

use super::problem_keys as keys;

#[test]
fn a_sound_definition_compiles() {
    let d = compile(BASE, "t.toml").unwrap();
    assert_eq!(d.kind, "t");
    assert_eq!(d.streams[0].pagination.style, PageStyle::Page { first: 1 });
    assert!(d.hint.contains("token"), "{}", d.hint);
}

#[test]
fn each_problem_names_its_key() {
    let with = |from: &str, to: &str| {
        assert!(BASE.contains(from), "{from}");
        BASE.replace(from, to)
    };
    assert_eq!(
        keys(&with(
            "style = \"page\"",
            "style = \"page\"\nnext_cursor = \"/n\""
        )),
        ["streams.orders.pagination.next_cursor"]
    );
    assert_eq!(
        keys(&with(
            "amount = \"/total\"",
            "amount = { pointer = \"/total\", format = \"unix\" }"
        )),
        ["streams.orders.order.amount.format"]
    );
    assert_eq!(
        keys(&with(
            "format = \"rfc3339\"\n[streams.orders.pagination]",
            "format = \"%Y-%m-%d\"\n[streams.orders.pagination]"
        )),
        ["streams.orders.window.zone"]
    );
    assert_eq!(
        keys(&with("id = \"/id\"", "id = \"../id\"")),
        ["streams.orders.order.id"]
    );
    assert_eq!(
        keys(&with(
            "id = \"/id\"",
            "id = \"/id\"\nstatus = { pointer = \"/s\", map = { A = \"shipped\" } }"
        )),
        ["streams.orders.order.status.map.A"]
    );
    assert_eq!(
        keys(&with("page = \"{page}\"", "p = \"1\"")),
        ["streams.orders.query"]
    );
    assert_eq!(
        keys(&with("path = \"/orders\"", "path = \"/o/{token}\"")),
        ["streams.orders.path"]
    );
    assert_eq!(keys(&with("kind = \"t\"", "kind = \"T x\"")), ["kind"]);
    assert_eq!(
        keys(&with("token = {}", "token = {}\npage = {}")),
        ["credentials.page"]
    );
    assert_eq!(
        keys(&with(
            "id = \"/id\"",
            "id = { pointer = \"/id\", minus = \"/x\" }"
        )),
        ["streams.orders.order.id.minus"]
    );
    assert_eq!(
        keys(&with(
            "amount = \"/total\"",
            "amount = { pointer = \"/total\", at_least = \"zero\" }"
        )),
        ["streams.orders.order.amount.at_least"]
    );
    assert_eq!(
        keys(&with(
            "format = \"rfc3339\"\n[streams.orders.pagination]",
            "format = \"rfc3339\"\nscheduled = \"always\"\nslice = \"all\"\n[streams.orders.pagination]"
        )),
        ["streams.orders.window.scheduled"]
    );
}

/// A POST stream paged by offset in its body, with a service account as
/// the alternative to a token (the shape of connectors/ga4.toml).
const POSTED: &str = r#"
kind = "p"
description = "test"
[credentials]
access_token = {}
key = {}
[options]
account = { digits = true }
[auth]
headers = { Authorization = "Bearer {access_token}" }
[auth.service_account]
key = "key"
token = "access_token"
scope = "https://example.com/auth/read"
[streams.daily]
method = "POST"
path = "/report/{account}"
records = "/rows"
records_optional = true
body = { range = { start = "{from}", end = "{to}" }, limit = "{page_size}", offset = "{offset}" }
[streams.daily.window]
format = "%Y-%m-%d"
zone = "shop"
slice = "all"
scheduled = "lookback"
through = "yesterday"
[streams.daily.pagination]
style = "offset"
total = "/rowCount"
[streams.daily.daily]
day = { pointer = "/day", format = "%Y%m%d" }
inputs = { bounces = { pointer = "/m/0", minus = "/m/1", at_least = 0 } }
"#;

#[test]
fn post_bodies_and_service_accounts_are_checked() {
    let d = compile(POSTED, "p.toml").unwrap();
    let s = &d.streams[0];
    assert_eq!(s.method, reqwest::Method::POST);
    assert_eq!(s.window.slice, SliceLength::All);
    assert_eq!(s.window.scheduled, Scheduled::Lookback);
    assert_eq!(s.window.through, Through::Yesterday);
    assert!(s.records_optional);
    let bounces = &s.daily.as_ref().unwrap().inputs[0].1;
    assert_eq!(bounces.at_least, Some(0));
    assert!(bounces.minus.is_some());
    assert_eq!(d.service_account.as_ref().unwrap().token, "access_token");
    assert!(d.options[0].digits);

    let with = |from: &str, to: &str| {
        assert!(POSTED.contains(from), "{from}");
        keys(&POSTED.replace(from, to))
    };
    // The offset must reach the request.
    assert_eq!(
        with(", offset = \"{offset}\" }", " }"),
        ["streams.daily.query"]
    );
    assert_eq!(
        with("key = \"key\"", "key = \"keys\""),
        ["auth.service_account.key"]
    );
    assert_eq!(
        with(
            "scope = \"https://example.com/auth/read\"",
            "scope = \"read\""
        ),
        ["auth.service_account.scope"]
    );
    // The key is only signed with; the minted token must be sent.
    assert_eq!(
        with(
            "path = \"/report/{account}\"",
            "path = \"/report/{account}\"\nquery = { k = \"{key}\" }"
        ),
        ["credentials.key"]
    );
    assert_eq!(
        with("Bearer {access_token}", "Bearer"),
        ["auth.service_account.token"]
    );
    assert_eq!(
        with(
            "account = { digits = true }",
            "account = { digits = true, default = \"G-1\" }"
        ),
        ["options.account.default"]
    );
    assert_eq!(
        with("method = \"POST\"", "method = \"GET\""),
        ["streams.daily.body"]
    );
}
