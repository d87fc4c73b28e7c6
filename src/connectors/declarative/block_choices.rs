//! Definitions choosing the named blocks (`blocks/`): each name is taken,
//! and each wrong name or missing companion key is a problem under its key.
//! Kept apart from `blocks` so the blocks never import the definition checker.

mod signed {
    use super::super::blocks::envelope::Envelope;
    use super::super::blocks::signing::Signing;
    use super::super::definition::compile;
    use super::super::plan::PageStyle;

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

    use super::super::definition::assert_problems;

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
        assert_problems(
            SIGNED,
            &[
                ("signing = \"pdd\"", "signing = \"md5\"", &["auth.signing"]),
                (
                    "client_secret = {}",
                    "client_secret = { secret = false }",
                    &["credentials.client_secret"],
                ),
                ("access_token = {}", "token = {}", &["auth.signing"]),
                (
                    "api = \"pdd.order.list.get\"\n",
                    "",
                    &["streams.orders.api"],
                ),
                (
                    "method = \"POST\"",
                    "method = \"GET\"",
                    &["streams.orders.method"],
                ),
                (
                    "envelope = \"pdd\"",
                    "envelope = \"pdd\"\ncode = \"/code\"",
                    &["errors.envelope"],
                ),
                (
                    "envelope = \"pdd\"",
                    "envelope = \"jos\"",
                    &["errors.envelope"],
                ),
                (
                    "total = \"/r/total_count\"",
                    "has_next = \"/r/more\"",
                    &[
                        "streams.orders.pagination.total",
                        "streams.orders.pagination.has_next",
                    ],
                ),
                // Without signing, `api` means nothing.
                (
                    "signing = \"pdd\"",
                    "headers = { X = \"{client_id}\" }",
                    &["streams.orders.api"],
                ),
            ],
        );
    }
}

mod cursor_and_envelope {
    use super::super::blocks::cursor::CursorToken;
    use super::super::blocks::envelope::Envelope;
    use super::super::definition::compile;
    use super::super::plan::{PageStyle, Scheduled};

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

    use super::super::definition::assert_problems;

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

        assert_problems(
            BASE,
            &[
                (
                    "envelope = \"meta_graph\"",
                    "envelope = \"graph\"",
                    &["errors.envelope"],
                ),
                (
                    "token = \"meta_graph\"",
                    "token = \"graph\"",
                    &["streams.daily.pagination.token"],
                ),
                (
                    "token = \"meta_graph\"",
                    "token = \"meta_graph\"\nnext_cursor = \"/n\"",
                    &[
                        "streams.daily.pagination.token",
                        "streams.daily.pagination.next_cursor",
                    ],
                ),
                (
                    "scheduled = \"reached\"",
                    "scheduled = \"reach\"",
                    &["streams.daily.window.scheduled"],
                ),
                (
                    "[\"a\", \"b\"] }, first",
                    "[\"a\"], \"/x\" = [\"b\"] }, first",
                    &["streams.daily.daily.inputs.ad_orders.first"],
                ),
                (
                    "default = \"0\"",
                    "default = \"zero\"",
                    &["streams.daily.daily.inputs.ad_clicks.default"],
                ),
                (
                    "dimension = \"/campaign_id\"\n",
                    "",
                    &["streams.daily.daily.label"],
                ),
                (
                    "dimension = \"/campaign_id\"",
                    "dimension = { pointer = \"/campaign_id\", whole = true }",
                    &["streams.daily.daily.dimension.whole"],
                ),
            ],
        );
    }
}
