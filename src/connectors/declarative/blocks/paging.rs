//! Reverse paging, the named pagination block `style = "reverse"`: the
//! increment APIs of TOP and Pinduoduo (and the order lists of JD and
//! 抖店) say how many records a window holds on its first page; the pages
//! are then read from the last to the first, and page 1 once more last.

/// The number of pages of `total` records at `page_size` per page.
pub fn page_count(total: u64, page_size: u64) -> u64 {
    if page_size == 0 {
        return 0;
    }
    total.div_ceil(page_size)
}

/// Reverse paging for increment APIs (TOP `taobao.trades.sold.increment.get`,
/// PDD `pdd.order.number.list.increment.get`): after a first request
/// (`page_no=1`) gives the total count, fetch pages from the last to the
/// first. Records modified during paging move out of the window's order,
/// toward its end; walking backwards means a record that moves shifts
/// pages already read, never one still to read, so none is skipped (the
/// platforms document this order). Yields 1-based page numbers; nothing for
/// a total of 0. When there is one page, the first response is that page.
pub fn reverse_pages(total: u64, page_size: u64) -> impl Iterator<Item = u64> {
    (1..=page_count(total, page_size)).rev()
}

/// Where a reverse walk goes after page `page`, given the window's
/// `total` as page 1 answered it: `None` when the walk is over. A window
/// of one page is read once; otherwise page 1 (which only answered the
/// count) is followed by the last page, and each page by the one before.
pub fn reverse_next(page: u64, descending: bool, total: u64, page_size: u64) -> Option<u64> {
    let pages = page_count(total, page_size);
    match (descending, page) {
        (false, _) if pages <= 1 => None,
        (false, _) => Some(pages),
        (true, 1) => None,
        (true, p) => Some(p - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_pages_run_from_last_to_first() {
        assert_eq!(reverse_pages(250, 100).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(reverse_pages(200, 100).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(reverse_pages(1, 100).collect::<Vec<_>>(), vec![1]);
        assert_eq!(reverse_pages(0, 100).count(), 0);
        assert_eq!(reverse_pages(5, 0).count(), 0);
        assert_eq!(page_count(101, 50), 3);
    }

    #[test]
    fn a_reverse_walk_reads_page_one_for_the_count_then_last_to_first() {
        let walk = |total: u64| {
            let mut seen = vec![1];
            let (mut page, mut down) = (1, false);
            while let Some(next) = reverse_next(page, down, total, 100) {
                seen.push(next);
                page = next;
                down = true;
            }
            seen
        };
        assert_eq!(walk(250), vec![1, 3, 2, 1]);
        assert_eq!(walk(100), vec![1]);
        assert_eq!(walk(0), vec![1]);
        assert_eq!(walk(101), vec![1, 2, 1]);
    }
}
