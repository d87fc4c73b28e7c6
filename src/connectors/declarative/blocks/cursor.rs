//! Cursor tokens: `[streams.X.pagination] style = "cursor"` with `token =
//! "<name>"` instead of a `next_cursor` pointer, for platforms whose next
//! cursor is more than one value in the body.

use crate::http::pagination::{after_cursor, next_page_token};
use serde_json::Value;

/// Why a page's paging cannot be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Meta Graph says there is a next page but gives no cursor for it.
    #[error("`paging.next` without `paging.cursors.after`: the next page cannot be asked for")]
    NextWithoutAfter,
}

/// A platform's way of handing over the next page's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorToken {
    /// Meta Graph: `paging.cursors.after`, sent back as `after=`. Graph
    /// returns cursors on the last page too; only `paging.next` says there
    /// is more.
    MetaGraph,
    /// Zendesk: the incremental export's `after_cursor` until
    /// `end_of_stream`, or cursor pagination's `meta.after_cursor` while
    /// `meta.has_more`.
    AfterCursor,
    /// Google APIs: `nextPageToken`, absent or empty on the last page.
    NextPageToken,
}

impl CursorToken {
    /// The names a definition writes.
    pub const NAMES: &'static [&'static str] = &["meta_graph", "after_cursor", "next_page_token"];

    pub fn named(name: &str) -> Option<Self> {
        match name {
            "meta_graph" => Some(CursorToken::MetaGraph),
            "after_cursor" => Some(CursorToken::AfterCursor),
            "next_page_token" => Some(CursorToken::NextPageToken),
            _ => None,
        }
    }

    /// The parts of a page the block reads (kept by the page projection).
    pub fn reads(self) -> &'static [&'static str] {
        match self {
            CursorToken::MetaGraph => &["/paging"],
            CursorToken::AfterCursor => &["/after_cursor", "/end_of_stream", "/has_more", "/meta"],
            CursorToken::NextPageToken => &["/nextPageToken"],
        }
    }

    /// The next page's cursor, `None` on the last page, or why the page's
    /// paging cannot be followed.
    pub fn next(self, body: &Value) -> Result<Option<String>, CursorError> {
        match self {
            CursorToken::MetaGraph => {
                let next = graph_after_cursor(body);
                if next.is_none() && graph_next_url(body).is_some() {
                    return Err(CursorError::NextWithoutAfter);
                }
                Ok(next)
            }
            CursorToken::AfterCursor => Ok(after_cursor(body)),
            CursorToken::NextPageToken => Ok(next_page_token(body)),
        }
    }
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Meta Graph `paging.next`: the full URL of the next page, absent on the
/// last page. It repeats the request's query, `access_token` included, so
/// it is only looked at, never followed or logged.
fn graph_next_url(body: &Value) -> Option<String> {
    non_empty(body.pointer("/paging/next"))
}

/// Meta Graph `paging.cursors.after`, given only while `paging.next` is.
fn graph_after_cursor(body: &Value) -> Option<String> {
    graph_next_url(body)?;
    non_empty(body.pointer("/paging/cursors/after"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn graph_paging_follows_next_only() {
        let more = json!({
            "data": [{}],
            "paging": {
                "cursors": {"before": "QVFI-b", "after": "QVFI-a"},
                "next": "https://graph.facebook.com/v19.0/act_1/insights?access_token=SECRET&after=QVFI-a"
            }
        });
        let graph = CursorToken::MetaGraph;
        assert_eq!(graph.next(&more), Ok(Some("QVFI-a".into())));
        let last = json!({"data": [{}], "paging": {"cursors": {"before": "b", "after": "a"}}});
        assert_eq!(graph.next(&last), Ok(None));
        assert_eq!(graph.next(&json!({"data": []})), Ok(None));
        let broken = json!({"data": [], "paging": {"next": "https://x/?after=1"}});
        assert_eq!(graph.next(&broken), Err(CursorError::NextWithoutAfter));
    }

    #[test]
    fn every_name_is_a_block() {
        for n in CursorToken::NAMES {
            assert!(CursorToken::named(n).is_some(), "{n}");
        }
        assert_eq!(CursorToken::named("graph"), None);
        let token = CursorToken::NextPageToken;
        assert_eq!(
            token.next(&json!({"nextPageToken": "CAE"})),
            Ok(Some("CAE".into()))
        );
        assert_eq!(token.next(&json!({"nextPageToken": ""})), Ok(None));
        let zendesk = CursorToken::AfterCursor;
        let page = json!({"tickets": [], "after_cursor": "MTU3", "end_of_stream": false});
        assert_eq!(zendesk.next(&page), Ok(Some("MTU3".into())));
    }
}
