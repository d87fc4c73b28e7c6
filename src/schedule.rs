//! Crontab schedules evaluated in a shop's time zone.
//!
//! The `cron` crate reads seconds-first expressions and numbers weekdays
//! 1–7 from Sunday, unlike crontab(5) (0–7, both 0 and 7 Sunday). We parse the
//! crontab form ourselves, expand the weekday field to names, and hand the
//! crate an unambiguous expression. When both day-of-month and day-of-week are
//! restricted, crontab fires when *either* matches, so such a schedule is the
//! union of two `cron` schedules.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use std::str::FromStr;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    source: String,
    parts: Vec<Schedule>,
    tz: Tz,
}

/// Why a schedule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expr}` is not a crontab schedule: {reason}")]
pub struct ScheduleError {
    pub expr: String,
    pub reason: String,
}

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

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
        let days = expand_weekdays(dow).ok_or_else(|| err("bad weekday field (0-7 or sun-sat)"))?;
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
        Ok(CronSchedule {
            source: expr.to_string(),
            parts,
            tz,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The first run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.tz);
        self.parts
            .iter()
            .filter_map(|s| s.after(&local).next())
            .min()
            .map(|t| t.with_timezone(&Utc))
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
    use chrono::{Datelike, TimeZone, Weekday};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

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
}
