//! Pagination primitives.

use reqwest::header::{HeaderMap, LINK};

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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

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
