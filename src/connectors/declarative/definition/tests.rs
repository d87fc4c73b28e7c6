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

#[test]
fn a_sound_definition_compiles() {
    let d = compile(BASE, "t.toml").unwrap();
    assert_eq!(d.kind, "t");
    assert_eq!(d.streams[0].pagination.style, PageStyle::Page { first: 1 });
    assert!(d.hint.contains("token"), "{}", d.hint);
}

#[test]
fn each_problem_names_its_key() {
    assert_problems(
        BASE,
        &[
            ("style = \"page\"", "style = \"page\"\nnext_cursor = \"/n\"", &["streams.orders.pagination.next_cursor"]),
            ("amount = \"/total\"", "amount = { pointer = \"/total\", format = \"unix\" }", &["streams.orders.order.amount.format"]),
            ("format = \"rfc3339\"\n[streams.orders.pagination]", "format = \"%Y-%m-%d\"\n[streams.orders.pagination]", &["streams.orders.window.zone"]),
            ("id = \"/id\"", "id = \"../id\"", &["streams.orders.order.id"]),
            ("id = \"/id\"", "id = \"/id\"\nstatus = { pointer = \"/s\", map = { A = \"shipped\" } }", &["streams.orders.order.status.map.A"]),
            ("page = \"{page}\"", "p = \"1\"", &["streams.orders.query"]),
            ("path = \"/orders\"", "path = \"/o/{token}\"", &["streams.orders.path"]),
            ("kind = \"t\"", "kind = \"T x\"", &["kind"]),
            ("token = {}", "token = {}\npage = {}", &["credentials.page"]),
            ("id = \"/id\"", "id = { pointer = \"/id\", minus = \"/x\" }", &["streams.orders.order.id.minus"]),
            ("amount = \"/total\"", "amount = { pointer = \"/total\", at_least = \"zero\" }", &["streams.orders.order.amount.at_least"]),
            ("format = \"rfc3339\"\n[streams.orders.pagination]", "format = \"rfc3339\"\nscheduled = \"always\"\nslice = \"all\"\n[streams.orders.pagination]", &["streams.orders.window.scheduled"]),
        ],
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

    assert_problems(
        POSTED,
        &[
            // The offset must reach the request.
            (", offset = \"{offset}\" }", " }", &["streams.daily.query"]),
            (
                "key = \"key\"",
                "key = \"keys\"",
                &["auth.service_account.key"],
            ),
            (
                "scope = \"https://example.com/auth/read\"",
                "scope = \"read\"",
                &["auth.service_account.scope"],
            ),
            // The key is only signed with; the minted token must be sent.
            (
                "path = \"/report/{account}\"",
                "path = \"/report/{account}\"\nquery = { k = \"{key}\" }",
                &["credentials.key"],
            ),
            (
                "Bearer {access_token}",
                "Bearer",
                &["auth.service_account.token"],
            ),
            (
                "account = { digits = true }",
                "account = { digits = true, default = \"G-1\" }",
                &["options.account.default"],
            ),
            (
                "method = \"POST\"",
                "method = \"GET\"",
                &["streams.daily.body"],
            ),
        ],
    );
}
