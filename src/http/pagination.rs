//! Pagination primitives.

use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;

/// The `rel="next"` target of an RFC 8288 `Link` header (Shopify `page_info`,
/// GitHub-style APIs).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (target, params) = part.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                matches!(
                    p.trim().replace(' ', "").as_str(),
                    "rel=\"next\"" | "rel=next"
                )
            });
            let t = target.trim();
            (is_next && t.starts_with('<') && t.ends_with('>'))
                .then(|| t[1..t.len() - 1].to_string())
        })
}

fn non_empty(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Google APIs' `nextPageToken` (absent or empty on the last page).
pub fn next_page_token(body: &Value) -> Option<String> {
    non_empty(body.get("nextPageToken"))
}

/// Zendesk-style cursors: the incremental cursor export
/// (`after_cursor` + `end_of_stream`) and cursor pagination
/// (`meta.after_cursor` + `meta.has_more`). `None` once the stream says it
/// has ended; a cursor with no end marker at all is followed.
pub fn after_cursor(body: &Value) -> Option<String> {
    if let Some(cursor) = non_empty(body.get("after_cursor")) {
        let ended = body.get("end_of_stream").and_then(Value::as_bool) == Some(true)
            || body.get("has_more").and_then(Value::as_bool) == Some(false);
        return (!ended).then_some(cursor);
    }
    let meta = body.get("meta")?;
    if meta.get("has_more").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    non_empty(meta.get("after_cursor"))
}

/// A platform handed back the cursor it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the platform returned the same page cursor again (`{cursor}`); stopping instead of looping"
)]
pub struct RepeatedCursor {
    pub cursor: String,
}

/// Guards a cursor loop against a platform that hands back the cursor it
/// was given (which would loop forever): the next cursor, or the error.
pub fn advance_cursor(
    previous: Option<&str>,
    next: Option<String>,
) -> Result<Option<String>, RepeatedCursor> {
    match (previous, next) {
        (Some(p), Some(n)) if p == n => Err(RepeatedCursor { cursor: n }),
        (_, n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    #[test]
    fn next_page_token_ends_when_absent_or_empty() {
        assert_eq!(
            next_page_token(&json!({"rows": [], "nextPageToken": "CAE"})).as_deref(),
            Some("CAE")
        );
        assert_eq!(next_page_token(&json!({"nextPageToken": ""})), None);
        assert_eq!(next_page_token(&json!({"rows": []})), None);
    }

    #[test]
    fn after_cursor_reads_export_and_cursor_pagination() {
        let page = json!({"tickets": [], "after_cursor": "MTU3", "end_of_stream": false});
        assert_eq!(after_cursor(&page).as_deref(), Some("MTU3"));
        let end = json!({"tickets": [], "after_cursor": "MTU4", "end_of_stream": true});
        assert_eq!(after_cursor(&end), None);
        let meta = json!({"meta": {"has_more": true, "after_cursor": "xyz"}});
        assert_eq!(after_cursor(&meta).as_deref(), Some("xyz"));
        let meta_end = json!({"meta": {"has_more": false, "after_cursor": "xyz"}});
        assert_eq!(after_cursor(&meta_end), None);
        let flat_end = json!({"after_cursor": "c", "has_more": false});
        assert_eq!(after_cursor(&flat_end), None);
        assert_eq!(after_cursor(&json!({"after_cursor": null})), None);
    }

    #[test]
    fn advance_cursor_refuses_a_repeated_cursor() {
        assert_eq!(advance_cursor(None, Some("a".into())), Ok(Some("a".into())));
        assert_eq!(
            advance_cursor(Some("a"), Some("b".into())),
            Ok(Some("b".into()))
        );
        assert_eq!(advance_cursor(Some("a"), None), Ok(None));
        assert_eq!(
            advance_cursor(Some("a"), Some("a".into())),
            Err(RepeatedCursor { cursor: "a".into() })
        );
    }

    #[test]
    fn finds_next_among_previous_and_next() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://s/admin/api/2024-10/orders.json?limit=250&page_info=abc>; rel=\"previous\", <https://s/admin/api/2024-10/orders.json?limit=250&page_info=def>; rel=\"next\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://s/admin/api/2024-10/orders.json?limit=250&page_info=def")
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://s/x?page_info=abc>; rel=\"previous\""),
        );
        assert_eq!(next_link(&h), None);
    }
}
