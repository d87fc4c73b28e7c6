//! Working days: the scheme counts its deadlines (closing a month, appealing
//! a scorecard) in working days, so weekends and holidays do not count.

use crate::period::{LocalDay, Period};
use chrono::Weekday;

pub fn is_working_day(day: LocalDay, holidays: &[LocalDay]) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&day)
}

/// The `n`th working day after `day` (`day` itself not counted).
pub fn add_working_days(day: LocalDay, n: u32, holidays: &[LocalDay]) -> LocalDay {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d = d.succ();
        if is_working_day(d, holidays) {
            left -= 1;
        }
    }
    d
}

/// The last day on which `month` should be closed: its `n`th working day
/// after the month's last day.
pub fn close_due(month: Period, n: u32, holidays: &[LocalDay]) -> LocalDay {
    add_working_days(month.last_day(), n, holidays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::day as d;

    #[test]
    fn weekends_and_holidays_are_skipped() {
        // 2026-10-30 is a Friday.
        assert_eq!(add_working_days(d("2026-10-30"), 1, &[]), d("2026-11-02"));
        assert_eq!(add_working_days(d("2026-10-30"), 3, &[]), d("2026-11-04"));
        let holidays = [d("2026-11-02")];
        assert_eq!(
            add_working_days(d("2026-10-30"), 1, &holidays),
            d("2026-11-03")
        );
        assert_eq!(add_working_days(d("2026-10-30"), 0, &[]), d("2026-10-30"));
    }

    #[test]
    fn a_month_is_due_three_working_days_after_it_ends() {
        // October 2026 ends on a Saturday; Mon 2, Tue 3, Wed 4 November.
        let oct = Period::parse_month("2026-10").unwrap();
        assert_eq!(close_due(oct, 3, &[]), d("2026-11-04"));
    }
}
