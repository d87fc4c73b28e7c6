//! Crontab schedules evaluated in a shop's time zone.
//!
//! The `cron` crate reads seconds-first expressions and numbers weekdays
//! 1–7 from Sunday, unlike crontab(5) (0–7, both 0 and 7 Sunday). We check
//! the crontab form ourselves (so an error names the field and its range),
//! expand the weekday field to names, and hand the crate an unambiguous
//! expression. When both day-of-month and day-of-week are restricted,
//! crontab fires when *either* matches, so such a schedule is the union of
//! two `cron` schedules.
//!
//! The crate walks the local wall clock (we give it the local time as if it
//! were UTC, so it never sees a gap or a repeated hour); mapping each local
//! time to instants follows cronie's daylight-saving rules (see
//! [`CronSchedule::instants`]).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use std::str::FromStr;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    source: String,
    /// Evaluated over local wall-clock times.
    parts: Vec<Schedule>,
    tz: Tz,
    /// cronie's "wildcard" job: the minute or hour field starts with `*`
    /// (`@hourly` too). It runs in both passes of a repeated hour and not in a
    /// skipped one; a fixed-time job runs once in either case.
    wildcard: bool,
}

/// Why a schedule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expr}` is not a crontab schedule: {reason}")]
pub struct ScheduleError {
    pub expr: String,
    pub reason: String,
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// The largest step a zone's clocks make at once is below this (tzdata's
/// largest daylight-saving shift is 2 hours): how far around a repeated hour
/// to look for local times that map to later instants.
const MAX_SHIFT: Duration = Duration::hours(3);

fn weekday_number(token: &str) -> Option<u32> {
    let t = token.to_ascii_lowercase();
    if let Ok(n) = t.parse::<u32>() {
        return (n <= 7).then_some(n);
    }
    DAY_NAMES
        .iter()
        .position(|d| t.len() >= 3 && d.to_ascii_lowercase() == t[..3])
        .map(|p| p as u32)
}

/// Expands a crontab weekday field into the set of days (0 = Sunday).
fn expand_weekdays(field: &str) -> Option<[bool; 7]> {
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            (weekday_number(a)?, weekday_number(b)?)
        } else {
            let n = weekday_number(range)?;
            (n, if step > 1 { 7 } else { n })
        };
        if lo > hi {
            return None;
        }
        let mut d = lo;
        while d <= hi {
            days[(d % 7) as usize] = true;
            d += step;
        }
    }
    Some(days)
}

/// One crontab(5) field: its name, what its values are, and their range.
struct Field {
    name: &'static str,
    values: &'static str,
    lo: u32,
    hi: u32,
    names: &'static [&'static str],
    first_name: u32,
}

/// One crontab field that does not read, by its name (`minute`, `day-of-week`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} field `{text}`: {why}")]
pub struct CronFieldError {
    pub field: &'static str,
    pub text: String,
    pub why: String,
}

const SECOND: Field = Field::numeric("second", "seconds", 0, 59);
const MINUTE: Field = Field::numeric("minute", "minutes", 0, 59);
const HOUR: Field = Field::numeric("hour", "hours", 0, 23);
const DAY_OF_MONTH: Field = Field::numeric("day-of-month", "days of the month", 1, 31);
const MONTH: Field = Field {
    names: &MONTH_NAMES,
    first_name: 1,
    ..Field::numeric("month", "months", 1, 12)
};
const DAY_OF_WEEK: Field = Field {
    names: &DAY_NAMES,
    first_name: 0,
    ..Field::numeric("day-of-week", "weekdays", 0, 7)
};

impl Field {
    const fn numeric(name: &'static str, values: &'static str, lo: u32, hi: u32) -> Field {
        Field {
            name,
            values,
            lo,
            hi,
            names: &[],
            first_name: 0,
        }
    }

    fn range_text(&self) -> String {
        let mut text = format!("{} are {}–{}", self.values, self.lo, self.hi);
        if let (Some(first), Some(last)) = (self.names.first(), self.names.last()) {
            text.push_str(&format!(
                " or {}–{}",
                first.to_lowercase(),
                last.to_lowercase()
            ));
        }
        text
    }

    fn value(&self, token: &str) -> Option<u32> {
        if let Ok(n) = token.parse::<u32>() {
            return (self.lo..=self.hi).contains(&n).then_some(n);
        }
        let t = token.to_ascii_lowercase();
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&t))
            .map(|p| p as u32 + self.first_name)
    }

    /// Checks crontab(5) syntax: a list of `*`, `N` or `N-M`, each with an
    /// optional `/step`. Other crons' extensions (`?`, `L`, `W`, `#`) are
    /// refused rather than guessed at.
    fn check(&self, text: &str) -> Result<(), CronFieldError> {
        let fail = |why: String| {
            Err(CronFieldError {
                field: self.name,
                text: text.to_string(),
                why,
            })
        };
        if text.contains('?') {
            return fail(
                "`?` is not crontab(5) (it comes from Quartz); write `*` for any value".into(),
            );
        }
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            if let Some(step) = step {
                if !step.parse::<u32>().is_ok_and(|s| s > 0) {
                    return fail(format!("the step `{step}` must be a positive whole number"));
                }
            }
            if range == "*" {
                continue;
            }
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            let (Some(lo), Some(hi)) = (self.value(a), self.value(b)) else {
                return fail(self.range_text());
            };
            if lo > hi {
                return fail(format!("the range `{range}` runs backwards"));
            }
        }
        Ok(())
    }
}

fn shorthand(expr: &str) -> Option<&'static str> {
    Some(match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

impl CronSchedule {
    /// Parses five crontab fields (or six with leading seconds, or an `@daily`
    /// shorthand), evaluated in `tz`.
    pub fn parse(expr: &str, tz: Tz) -> Result<Self, ScheduleError> {
        let err = |reason: &str| ScheduleError {
            expr: expr.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = expr.trim();
        let text = shorthand(trimmed).unwrap_or(trimmed);
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            _ => {
                return Err(err(
                    "expected 5 fields (minute hour day month weekday) or 6 with seconds first",
                ))
            }
        };
        let (min, hour, dom, month, dow) = (rest[0], rest[1], rest[2], rest[3], rest[4]);
        for (field, text) in [
            (&SECOND, sec),
            (&MINUTE, min),
            (&HOUR, hour),
            (&DAY_OF_MONTH, dom),
            (&MONTH, month),
            (&DAY_OF_WEEK, dow),
        ] {
            field.check(text).map_err(|e| err(&e.to_string()))?;
        }
        let days = expand_weekdays(dow).ok_or_else(|| err(&DAY_OF_WEEK.range_text()))?;
        let dow_names: Vec<&str> = (0..7).filter(|d| days[*d]).map(|d| DAY_NAMES[d]).collect();
        let dow_expr = if dow_names.len() == 7 {
            "*".to_string()
        } else {
            dow_names.join(",")
        };
        let dom_restricted = !dom.starts_with('*');
        let dow_restricted = !dow.starts_with('*');
        let build = |d: &str, w: &str| {
            Schedule::from_str(&format!("{sec} {min} {hour} {d} {month} {w}"))
                .map_err(|e| err(&e.to_string()))
        };
        let parts = if dom_restricted && dow_restricted {
            vec![build(dom, "*")?, build("*", &dow_expr)?]
        } else {
            vec![build(dom, &dow_expr)?]
        };
        let schedule = CronSchedule {
            source: expr.to_string(),
            parts,
            tz,
            wildcard: min.starts_with('*') || hour.starts_with('*'),
        };
        // `0 0 31 2 *` is valid field by field but names no real date.
        if schedule
            .next_local(DateTime::UNIX_EPOCH.naive_utc())
            .is_none()
        {
            return Err(err(
                "it never runs: no date has that day of the month in that month",
            ));
        }
        Ok(schedule)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first local wall-clock time after `local` that the fields match.
    fn next_local(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        let from = local.and_utc();
        self.parts
            .iter()
            .filter_map(|s| s.after(&from).next())
            .min()
            .map(|t| t.naive_utc())
    }

    /// When a matching local time runs, by cronie's daylight-saving rules
    /// (cron.c): a time the clocks skip runs a fixed-time job once, right
    /// after the jump, and no wildcard job; a time that happens twice runs a
    /// fixed-time job once (the first time) and a wildcard job both times.
    fn instants(&self, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) if self.wildcard => {
                vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
            }
            LocalResult::Ambiguous(first, _) => vec![first.with_timezone(&Utc)],
            LocalResult::None if self.wildcard => vec![],
            LocalResult::None => self.end_of_gap(local).into_iter().collect(),
        }
    }

    /// The instant the clocks jumped over `local`: the first local minute
    /// after it that exists (chrono-tz does not expose transitions).
    fn end_of_gap(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let minute = local.with_second(0)?.with_nanosecond(0)?;
        (1..=26 * 60)
            .map(|m| minute + Duration::minutes(m))
            .find_map(|l| self.tz.from_local_datetime(&l).earliest())
            .map(|t| t.with_timezone(&Utc))
    }

    fn offset(&self, t: DateTime<Utc>) -> Duration {
        let offset = self.tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        Duration::seconds(offset.local_minus_utc().into())
    }

    /// The first run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_at_one_offset(after)
            .or_else(|| self.next_across_clock_changes(after))
    }

    /// The common case, when the clocks do not change near now or near the
    /// next run: the first matching local time after now's, at the same
    /// offset. `None` when a clock change is near (or no run is left).
    fn next_at_one_offset(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let offset = self.offset(after);
        let next = self.next_local(after.naive_utc() + offset)?;
        let t = next.and_utc() - offset;
        let steady = [after + MAX_SHIFT, t - MAX_SHIFT, t]
            .iter()
            .all(|x| self.offset(*x) == offset);
        (steady && t > after).then_some(t)
    }

    /// Walks the local clock, mapping each matching time by cronie's rules.
    fn next_across_clock_changes(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // When the clocks go back soon, local times a little before now's
        // happen again later: start the walk that much earlier.
        let back = (self.offset(after) - self.offset(after + MAX_SHIFT)).max(Duration::zero());
        let mut local = after.naive_utc() + self.offset(after) - back - Duration::seconds(1);
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(next) = self.next_local(local) {
            if let Some(b) = best {
                // Every later local time runs at or after `next - offset`,
                // with the largest offset in force just before `b`.
                let widest = self.offset(b).max(self.offset(b - MAX_SHIFT));
                if next.and_utc() - widest >= b {
                    break;
                }
            }
            for t in self.instants(next) {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            local = next;
        }
        best
    }

    /// The next `n` runs after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;
    use chrono::{Datelike, TimeZone, Weekday};

    #[test]
    fn weekdays_one_to_five_are_monday_to_friday() {
        let s = CronSchedule::parse("0 9 * * 1-5", chrono_tz::UTC).unwrap();
        // 2026-11-27 is a Friday.
        let runs = s.upcoming(at("2026-11-27T10:00:00Z"), 5);
        let days: Vec<Weekday> = runs.iter().map(|t| t.weekday()).collect();
        assert_eq!(
            days,
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri
            ]
        );
    }

    #[test]
    fn zero_and_seven_are_sunday() {
        for expr in ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun"] {
            let s = CronSchedule::parse(expr, chrono_tz::UTC).unwrap();
            let next = s.next_after(at("2026-11-27T10:00:00Z")).unwrap();
            assert_eq!(next, at("2026-11-29T09:00:00Z"), "{expr}");
        }
    }

    #[test]
    fn evaluated_in_the_shop_time_zone() {
        let s = CronSchedule::parse("30 0 * * *", chrono_tz::Asia::Shanghai).unwrap();
        let next = s.next_after(at("2026-11-27T10:00:00Z")).unwrap();
        assert_eq!(
            next,
            chrono_tz::Asia::Shanghai
                .with_ymd_and_hms(2026, 11, 28, 0, 30, 0)
                .unwrap()
        );
    }

    #[test]
    fn day_of_month_or_weekday_when_both_restricted() {
        // crontab(5): the 1st of the month OR any Monday.
        let s = CronSchedule::parse("0 0 1 * mon", chrono_tz::UTC).unwrap();
        let runs = s.upcoming(at("2026-11-27T00:00:00Z"), 3);
        assert_eq!(runs[0], at("2026-11-30T00:00:00Z"));
        assert_eq!(runs[1], at("2026-12-01T00:00:00Z"));
        assert_eq!(runs[2], at("2026-12-07T00:00:00Z"));
    }

    #[test]
    fn shorthands_steps_and_seconds() {
        let s = CronSchedule::parse("@daily", chrono_tz::UTC).unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T10:00:00Z")).unwrap(),
            at("2026-11-28T00:00:00Z")
        );
        let s = CronSchedule::parse("*/15 * * * *", chrono_tz::UTC).unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T10:01:00Z")).unwrap(),
            at("2026-11-27T10:15:00Z")
        );
        let s = CronSchedule::parse("*/10 * * * * *", chrono_tz::UTC).unwrap();
        assert_eq!(
            s.next_after(at("2026-11-27T10:00:01Z")).unwrap(),
            at("2026-11-27T10:00:10Z")
        );
        assert!(CronSchedule::parse("* * *", chrono_tz::UTC).is_err());
        assert!(CronSchedule::parse("0 9 * * 8", chrono_tz::UTC).is_err());
    }

    fn reason(expr: &str) -> String {
        CronSchedule::parse(expr, chrono_tz::UTC)
            .unwrap_err()
            .reason
    }

    #[test]
    fn quartz_question_mark_is_refused_naming_the_field() {
        let r = reason("0 0 ? * mon");
        assert!(r.contains("day-of-month") && r.contains('?'), "{r}");
        let r = reason("0 0 * * ?");
        assert!(r.contains("day-of-week") && r.contains('?'), "{r}");
    }

    #[test]
    fn out_of_range_values_name_the_field_and_its_range() {
        let r = reason("61 * * * *");
        assert!(
            r.contains("minute") && r.contains("minutes are 0–59"),
            "{r}"
        );
        assert!(reason("0 24 * * *").contains("hours are 0–23"));
        assert!(reason("0 0 0 * *").contains("days of the month are 1–31"));
        assert!(reason("0 0 * 13 *").contains("months are 1–12"));
        assert!(reason("0 0 * * 8").contains("weekdays are 0–7"));
        assert!(reason("0 0 * * 5-1").contains("day-of-week"));
        assert!(reason("*/0 * * * *").contains("step"));
        assert!(reason("0 0 L * *").contains("day-of-month"));
    }

    #[test]
    fn month_and_weekday_names_in_any_case() {
        let s = CronSchedule::parse("0 0 1 jan,JUL * ", chrono_tz::UTC).unwrap();
        let runs = s.upcoming(at("2026-11-27T00:00:00Z"), 2);
        assert_eq!(
            runs,
            [at("2027-01-01T00:00:00Z"), at("2027-07-01T00:00:00Z")]
        );
        assert!(CronSchedule::parse("0 9 * * MON-fri", chrono_tz::UTC).is_ok());
        assert!(reason("0 0 1 janvier *").contains("months are 1–12 or jan–dec"));
    }

    #[test]
    fn an_expression_that_never_runs_is_refused() {
        let r = reason("0 0 31 2 *");
        assert!(r.contains("never runs"), "{r}");
        assert!(reason("0 0 30 2 *").contains("never runs"));
        // February 29th comes every four years: it runs.
        assert!(CronSchedule::parse("0 0 29 2 *", chrono_tz::UTC).is_ok());
        // Day 31 in February OR any Monday: runs on Mondays.
        assert!(CronSchedule::parse("0 0 31 2 mon", chrono_tz::UTC).is_ok());
    }
}

#[cfg(test)]
mod dst_tests;
