//! `[streams.X.pagination]` and the window's `slice`.

use super::super::blocks::cursor::CursorToken;
use super::super::file::*;
use super::super::plan::*;
use super::checker::Checker;

pub(super) fn page_plan(c: &mut Checker, key: &str, p: &RawPagination) -> PagePlan {
    let style = match p.style.as_deref().unwrap_or("none") {
        "none" => PageStyle::None,
        "link" => PageStyle::Link,
        "page" => PageStyle::Page {
            first: p.first_page.unwrap_or(1),
        },
        "offset" => PageStyle::Offset,
        "cursor" if p.token.is_some() => {
            let name = p.token.as_deref().unwrap_or_default();
            if p.next_cursor.is_some() {
                c.report(
                    format!("{key}.token"),
                    "give either `token` (a named cursor block) or `next_cursor`, not both",
                );
            }
            match CursorToken::named(name) {
                Some(t) => PageStyle::Token(t),
                None => {
                    c.report(
                        format!("{key}.token"),
                        format!(
                            "`{name}` is not a cursor block (known: {})",
                            CursorToken::NAMES.join(", ")
                        ),
                    );
                    PageStyle::None
                }
            }
        }
        "reverse" => {
            if p.total.is_none() {
                c.report(
                    format!("{key}.total"),
                    "reverse pagination needs `total`, the pointer of the window's record count",
                );
            }
            PageStyle::Reverse
        }
        "cursor" => match &p.next_cursor {
            Some(n) => {
                if c.pointer(&format!("{key}.next_cursor"), n, false).is_none() {
                    PageStyle::None
                } else {
                    PageStyle::Cursor { next: n.clone() }
                }
            }
            None => {
                c.report(
                    format!("{key}.next_cursor"),
                    "cursor pagination needs `next_cursor`, the JSON pointer of the next page's token",
                );
                PageStyle::None
            }
        },
        other => {
            c.report(
                format!("{key}.style"),
                format!("`{other}` is not one of none, link, page, offset, cursor, reverse"),
            );
            PageStyle::None
        }
    };
    let allowed: &[&str] = match style {
        PageStyle::None | PageStyle::Link => &[],
        PageStyle::Page { .. } => &[
            "first_page",
            "total_pages_header",
            "total_pages",
            "has_next",
            "total",
            "total_header",
        ],
        PageStyle::Offset => &["has_next", "total", "total_header"],
        PageStyle::Cursor { .. } => &["next_cursor", "has_next"],
        PageStyle::Token(_) => &["token", "has_next"],
        PageStyle::Reverse => &["total"],
    };
    for (set, what) in [
        (p.first_page.is_some(), "first_page"),
        (p.total_pages_header.is_some(), "total_pages_header"),
        (p.total_pages.is_some(), "total_pages"),
        (p.has_next.is_some(), "has_next"),
        (p.total.is_some(), "total"),
        (p.total_header.is_some(), "total_header"),
        (p.next_cursor.is_some(), "next_cursor"),
        // A cursor's token is checked where it is read.
        (
            p.token.is_some() && p.style.as_deref() != Some("cursor"),
            "token",
        ),
    ] {
        if set && !allowed.contains(&what) {
            c.report(
                format!("{key}.{what}"),
                format!(
                    "does not apply to `{}` pagination",
                    p.style.as_deref().unwrap_or("none")
                ),
            );
        }
    }
    for (ptr, what) in [
        (&p.total_pages, "total_pages"),
        (&p.has_next, "has_next"),
        (&p.total, "total"),
    ] {
        if let Some(x) = ptr {
            c.pointer(&format!("{key}.{what}"), x, false);
        }
    }
    PagePlan {
        style,
        total_pages_header: p
            .total_pages_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase()),
        total_pages: p.total_pages.clone(),
        has_next: p.has_next.clone(),
        total: p.total.clone(),
        total_header: p.total_header.as_ref().map(|h| h.to_ascii_lowercase()),
    }
}

pub(super) fn slice_length(c: &mut Checker, key: &str, s: Option<&str>) -> SliceLength {
    let s = s.unwrap_or("1d");
    if s == "all" {
        return SliceLength::All;
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: Option<u32> = n.parse().ok().filter(|n| *n > 0);
    match (n, unit) {
        (Some(n), "d") => SliceLength::Days(n),
        (Some(n), "h") if n <= 24 => SliceLength::Seconds(n * 3600),
        (Some(n), "m") if n <= 1440 => SliceLength::Seconds(n * 60),
        _ => {
            c.report(
                key,
                format!("`{s}` is not a slice length such as 1d, 7d, 6h or 15m (at most a day in hours or minutes), or `all`"),
            );
            SliceLength::Days(1)
        }
    }
}
