//! Named building blocks a definition picks by name, for what its plain
//! keys cannot say: how a platform hands over the next page's cursor
//! ([`cursor`]) and how it wraps its errors ([`envelope`]). Each block is
//! written once here and shared by every definition that names it.

pub mod cursor;
pub mod envelope;

#[cfg(test)]
mod tests {
    use super::super::definition::compile;
    use super::super::plan::{PageStyle, Scheduled};
    use super::cursor::CursorToken;
    use super::envelope::Envelope;

    const BASE: &str = r#"
kind = "t"
description = "test"
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
            ["envelope"]
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
