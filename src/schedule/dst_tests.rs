//! Daylight-saving transitions, checked against cronie's (Vixie cron's)
//! rules rather than against this module's own reasoning. cronie's cron.c
//! (`main`, the `timeDiff` cases, and `find_jobs`) does this:
//!
//! - clocks jump forward ("DST begins"): it runs the wildcard jobs of the
//!   current minute once, then every *fixed-time* job of each skipped minute,
//!   i.e. right after the jump; wildcard jobs of the skipped minutes do not run;
//! - clocks go back ("DST ends"): virtual time stands still while the hour
//!   repeats and only *wildcard* jobs run, so fixed-time jobs run once (in the
//!   first pass) and wildcard jobs run in both passes;
//! - a job is "wildcard" when its minute or hour field starts with `*`
//!   (entry.c sets `MIN_STAR`/`HR_STAR` on the field's first character;
//!   `@hourly` sets `HR_STAR`).
//!
//! Every expected instant below was worked out by hand from those rules and
//! the zones' published transitions (tzdata):
//! - America/Los_Angeles: 2027-03-14 02:00 PST → 03:00 PDT (10:00Z);
//!   2027-11-07 02:00 PDT → 01:00 PST (09:00Z).
//! - Europe/Berlin: 2027-03-28 02:00 CET → 03:00 CEST (01:00Z);
//!   2027-10-31 03:00 CEST → 02:00 CET (01:00Z).
//! - America/Santiago (jumps at midnight): 2026-09-06 00:00 -04 → 01:00 -03
//!   (04:00Z); 2027-04-04 00:00 -03 → 2027-04-03 23:00 -04 (03:00Z).
//!
//! The implementation was also compared once, outside CI, with crondst 1.0.3
//! (an independent Python implementation of Vixie cron's DST handling): 20
//! expressions from four starting points around every transition of
//! 2026–2028 in Los Angeles, Berlin, Santiago, Lord Howe (30-minute shift)
//! and Havana (midnight), 12 runs each — 2400 sequences, no difference.

use super::*;
use crate::testing::at;
use chrono::Duration;
use chrono_tz::America::{Los_Angeles, Santiago};
use chrono_tz::Europe::Berlin;

fn runs(expr: &str, tz: Tz, from: &str, n: usize) -> Vec<DateTime<Utc>> {
    CronSchedule::parse(expr, tz).unwrap().upcoming(at(from), n)
}

fn all(expected: &[&str]) -> Vec<DateTime<Utc>> {
    expected.iter().map(|s| at(s)).collect()
}

/// Asserts each case `(expression, zone, from, expected)`: the runs after
/// `from`, as many as expected, are those instants. A failure names its case.
fn assert_runs(cases: &[(&str, Tz, &str, &[&str])]) {
    for (expr, tz, from, expected) in cases {
        assert_eq!(
            runs(expr, *tz, from, expected.len()),
            all(expected),
            "`{expr}` in {tz} from {from}"
        );
    }
}

#[test]
fn fixed_time_in_a_spring_forward_gap_runs_once_right_after_the_jump() {
    assert_runs(&[
        // 02:30 does not exist on 2027-03-14 in Los Angeles: 03:00 PDT.
        (
            "30 2 14 3 *",
            Los_Angeles,
            "2027-01-01T00:00:00Z",
            &["2027-03-14T10:00:00Z", "2028-03-14T09:30:00Z"],
        ),
        // Daily, around the Berlin jump: 03:00 CEST, then 02:30 CEST again.
        (
            "30 2 * * *",
            Berlin,
            "2027-03-27T00:00:00Z",
            &[
                "2027-03-27T01:30:00Z",
                "2027-03-28T01:00:00Z",
                "2027-03-29T00:30:00Z",
            ],
        ),
        // Two fixed times in the same gap both run at the jump: one tick.
        (
            "0,30 2 * * *",
            Berlin,
            "2027-03-27T23:00:00Z",
            &["2027-03-28T01:00:00Z", "2027-03-29T00:00:00Z"],
        ),
    ]);
}

#[test]
fn santiago_midnight_jump_keeps_the_nightly_snapshot() {
    assert_runs(&[
        // The default snapshot schedule: 00:30 on 2026-09-06 does not exist, the
        // day still gets its run at 01:00 -03.
        (
            "30 0 * * *",
            Santiago,
            "2026-09-04T12:00:00Z",
            &[
                "2026-09-05T04:30:00Z",
                "2026-09-06T04:00:00Z",
                "2026-09-07T03:30:00Z",
            ],
        ),
    ]);
    let days: Vec<_> = runs("30 0 * * *", Santiago, "2026-09-04T12:00:00Z", 3)
        .iter()
        .map(|t| t.with_timezone(&Santiago).date_naive().to_string())
        .collect();
    assert_eq!(days, ["2026-09-05", "2026-09-06", "2026-09-07"]);
}

#[test]
fn wildcard_jobs_skip_the_minutes_of_a_gap() {
    assert_runs(&[
        // `*/30 2 …` is a wildcard job (minute starts with `*`): nothing at the jump.
        (
            "*/30 2 * * *",
            Los_Angeles,
            "2027-03-13T11:00:00Z",
            &["2027-03-15T09:00:00Z", "2027-03-15T09:30:00Z"],
        ),
        // Hourly: 01:00 PST, (02:00 skipped), 03:00 PDT.
        (
            "0 * * * *",
            Los_Angeles,
            "2027-03-14T08:30:00Z",
            &[
                "2027-03-14T09:00:00Z",
                "2027-03-14T10:00:00Z",
                "2027-03-14T11:00:00Z",
            ],
        ),
    ]);
}

#[test]
fn wildcard_jobs_run_again_in_the_repeated_hour() {
    assert_runs(&[
        // The example: 01:00 PDT, 01:30 PDT, 01:00 PST, 01:30 PST.
        (
            "*/30 1 7 11 *",
            Los_Angeles,
            "2027-11-07T07:00:00Z",
            &[
                "2027-11-07T08:00:00Z",
                "2027-11-07T08:30:00Z",
                "2027-11-07T09:00:00Z",
                "2027-11-07T09:30:00Z",
                "2028-11-07T09:00:00Z",
            ],
        ),
        // `@hourly` is a wildcard job too (cronie sets HR_STAR).
        (
            "@hourly",
            Los_Angeles,
            "2027-11-07T06:30:00Z",
            &[
                "2027-11-07T07:00:00Z",
                "2027-11-07T08:00:00Z",
                "2027-11-07T09:00:00Z",
                "2027-11-07T10:00:00Z",
            ],
        ),
        // Berlin repeats 02:00–02:59: 01:15 CEST, 02:15 CEST, 02:15 CET, 03:15 CET.
        (
            "15 * * * *",
            Berlin,
            "2027-10-30T23:00:00Z",
            &[
                "2027-10-30T23:15:00Z",
                "2027-10-31T00:15:00Z",
                "2027-10-31T01:15:00Z",
                "2027-10-31T02:15:00Z",
            ],
        ),
        // Santiago repeats 23:00–23:59 on 2027-04-03.
        (
            "*/30 23 * * *",
            Santiago,
            "2027-04-04T01:00:00Z",
            &[
                "2027-04-04T02:00:00Z",
                "2027-04-04T02:30:00Z",
                "2027-04-04T03:00:00Z",
                "2027-04-04T03:30:00Z",
                "2027-04-05T03:00:00Z",
            ],
        ),
    ]);
}

#[test]
fn fixed_time_in_a_repeated_hour_runs_once() {
    assert_runs(&[
        (
            "30 1 * * *",
            Los_Angeles,
            "2027-11-06T12:00:00Z",
            &["2027-11-07T08:30:00Z", "2027-11-08T09:30:00Z"],
        ),
        (
            "30 2 * * *",
            Berlin,
            "2027-10-30T12:00:00Z",
            &["2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z"],
        ),
        (
            "30 23 * * *",
            Santiago,
            "2027-04-03T12:00:00Z",
            &["2027-04-04T02:30:00Z", "2027-04-05T03:30:00Z"],
        ),
    ]);
}

#[test]
fn next_after_is_never_in_the_past_inside_a_repeated_hour() {
    // From inside the second pass, a fixed-time job waits for the next day,
    // a wildcard job for its next slot in the second pass.
    let fixed = CronSchedule::parse("30 1 * * *", Los_Angeles).unwrap();
    assert_eq!(
        fixed.next_after(at("2027-11-07T09:10:00Z")),
        Some(at("2027-11-08T09:30:00Z"))
    );
    let wild = CronSchedule::parse("*/30 1 * * *", Los_Angeles).unwrap();
    assert_eq!(
        wild.next_after(at("2027-11-07T09:10:00Z")),
        Some(at("2027-11-07T09:30:00Z"))
    );
    // Every minute around every transition, for every kind of job.
    let transitions = [
        (Los_Angeles, "2027-03-14T10:00:00Z"),
        (Los_Angeles, "2027-11-07T09:00:00Z"),
        (Berlin, "2027-03-28T01:00:00Z"),
        (Berlin, "2027-10-31T01:00:00Z"),
        (Santiago, "2026-09-06T04:00:00Z"),
        (Santiago, "2027-04-04T03:00:00Z"),
    ];
    let exprs = [
        "30 1 * * *",
        "30 2 * * *",
        "30 23 * * *",
        "30 0 * * *",
        "*/30 * * * *",
        "*/30 1 * * *",
        "0 * * * *",
        "*/7 * * * *",
        "45 * * * * *",
    ];
    for (tz, when) in transitions {
        for expr in exprs {
            let s = CronSchedule::parse(expr, tz).unwrap();
            let mut t = at(when) - Duration::hours(3);
            while t < at(when) + Duration::hours(3) {
                let next = s.next_after(t).unwrap();
                assert!(next > t, "{expr} in {tz} after {t}: {next}");
                t += Duration::seconds(59);
            }
        }
    }
}

#[test]
fn upcoming_across_a_fall_back_has_no_duplicates_and_goes_forward() {
    for tz in [Los_Angeles, Berlin, Santiago] {
        for expr in ["*/30 * * * *", "0 * * * *", "30 1 * * *", "30 2 * * *"] {
            let r = runs(expr, tz, "2027-01-01T00:00:00Z", 2000);
            assert!(r.windows(2).all(|w| w[0] < w[1]), "{expr} in {tz}");
        }
    }
}
