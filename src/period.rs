//! Local days and reporting periods.
//!
//! Every fact is filed under the local calendar day of its shop's IANA time zone,
//! decided once at ingestion. Periods are ranges of those days.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;

/// A calendar day in a shop's time zone. A newtype rather than a bare
/// `NaiveDate` so a UTC calendar date (or any date read off an API) cannot
/// stand in for a shop-local day without an explicit [`LocalDay::from_date`].
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct LocalDay(NaiveDate);

impl LocalDay {
    /// Takes `date` as a shop-local day: for the boundaries where a date
    /// arrives already in the shop's zone (a CLI argument, a CSV date column,
    /// an API's report day).
    pub const fn from_date(date: NaiveDate) -> Self {
        LocalDay(date)
    }

    /// Reads exactly `YYYY-MM-DD` (the `%Y-%m-%d` pattern), the form days
    /// take in arguments, files, API fields and cursors.
    pub fn parse_ymd(text: &str) -> Result<Self, chrono::ParseError> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map(LocalDay)
    }

    /// The day `year-month-day`, if it exists.
    pub fn from_ymd_opt(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(LocalDay)
    }

    /// The plain calendar date, for chrono formatting and arithmetic.
    pub const fn date(self) -> NaiveDate {
        self.0
    }

    /// This day and every day after it.
    pub fn iter_days(self) -> impl Iterator<Item = LocalDay> {
        self.0.iter_days().map(LocalDay)
    }

    /// The next day.
    pub fn succ(self) -> Self {
        self + Duration::days(1)
    }

    /// The day before.
    pub fn pred(self) -> Self {
        self - Duration::days(1)
    }

    pub fn year(self) -> i32 {
        self.0.year()
    }

    pub fn month(self) -> u32 {
        self.0.month()
    }

    pub fn day(self) -> u32 {
        self.0.day()
    }

    pub fn weekday(self) -> Weekday {
        self.0.weekday()
    }
}

impl Add<Duration> for LocalDay {
    type Output = LocalDay;
    fn add(self, d: Duration) -> LocalDay {
        LocalDay(self.0 + d)
    }
}

impl Sub<Duration> for LocalDay {
    type Output = LocalDay;
    fn sub(self, d: Duration) -> LocalDay {
        LocalDay(self.0 - d)
    }
}

impl Sub for LocalDay {
    type Output = Duration;
    fn sub(self, other: LocalDay) -> Duration {
        self.0 - other.0
    }
}

/// `YYYY-MM-DD`, as `NaiveDate` writes it (stored columns, JSON, labels).
impl fmt::Display for LocalDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// As the date itself, so debug output and error texts read as before.
impl fmt::Debug for LocalDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Reads `YYYY-MM-DD` as `NaiveDate`'s `FromStr` does.
impl FromStr for LocalDay {
    type Err = chrono::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(LocalDay)
    }
}

/// The local day on which `instant` falls in `tz`.
pub fn local_day(instant: DateTime<Utc>, tz: Tz) -> LocalDay {
    LocalDay(instant.with_timezone(&tz).date_naive())
}

/// Today in `tz`.
pub fn today(tz: Tz) -> LocalDay {
    local_day(Utc::now(), tz)
}

/// The kind of a period, as written on the command line and in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeriodKind {
    Day,
    Month,
    Year,
}

impl PeriodKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Month => "month",
            PeriodKind::Year => "year",
        }
    }
}

/// A day, a calendar month or a calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Day(LocalDay),
    Month { year: i32, month: u32 },
    Year(i32),
}

/// Why a period could not be read.
#[derive(Debug, thiserror::Error)]
#[error("`{text}` is not a {kind} (expected {expected})")]
pub struct PeriodError {
    text: String,
    kind: &'static str,
    expected: &'static str,
}

impl Period {
    pub fn parse_day(text: &str) -> Result<Self, PeriodError> {
        LocalDay::parse_ymd(text.trim())
            .map(Period::Day)
            .map_err(|_| PeriodError {
                text: text.into(),
                kind: "day",
                expected: "YYYY-MM-DD",
            })
    }

    pub fn parse_month(text: &str) -> Result<Self, PeriodError> {
        let err = || PeriodError {
            text: text.into(),
            kind: "month",
            expected: "YYYY-MM",
        };
        let (y, m) = text.trim().split_once('-').ok_or_else(err)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(err());
        }
        let year: i32 = y.parse().map_err(|_| err())?;
        let month: u32 = m.parse().map_err(|_| err())?;
        if !(1..=12).contains(&month) {
            return Err(err());
        }
        Ok(Period::Month { year, month })
    }

    pub fn parse_year(text: &str) -> Result<Self, PeriodError> {
        let t = text.trim();
        match t.parse::<i32>() {
            Ok(y) if t.len() == 4 => Ok(Period::Year(y)),
            _ => Err(PeriodError {
                text: text.into(),
                kind: "year",
                expected: "YYYY",
            }),
        }
    }

    /// Reads a period of `kind` from its label.
    pub fn parse(kind: PeriodKind, text: &str) -> Result<Self, PeriodError> {
        match kind {
            PeriodKind::Day => Self::parse_day(text),
            PeriodKind::Month => Self::parse_month(text),
            PeriodKind::Year => Self::parse_year(text),
        }
    }

    /// Reads any label: `2026-10-01`, `2026-10` or `2026`.
    pub fn parse_any(text: &str) -> Result<Self, PeriodError> {
        match text.trim().len() {
            10 => Self::parse_day(text),
            7 => Self::parse_month(text),
            _ => Self::parse_year(text),
        }
    }

    pub fn month_of(day: LocalDay) -> Self {
        Period::Month {
            year: day.year(),
            month: day.month(),
        }
    }

    pub fn kind(&self) -> PeriodKind {
        match self {
            Period::Day(_) => PeriodKind::Day,
            Period::Month { .. } => PeriodKind::Month,
            Period::Year(_) => PeriodKind::Year,
        }
    }

    pub fn first_day(&self) -> LocalDay {
        match *self {
            Period::Day(d) => d,
            Period::Month { year, month } => {
                LocalDay::from_ymd_opt(year, month, 1).expect("validated month")
            }
            Period::Year(y) => LocalDay::from_ymd_opt(y, 1, 1).expect("valid year"),
        }
    }

    /// The last day, inclusive.
    pub fn last_day(&self) -> LocalDay {
        match *self {
            Period::Day(d) => d,
            Period::Month { .. } => self.next().first_day() - Duration::days(1),
            Period::Year(y) => LocalDay::from_ymd_opt(y, 12, 31).expect("valid year"),
        }
    }

    /// The period of the same kind just before this one.
    pub fn previous(&self) -> Self {
        match *self {
            Period::Day(d) => Period::Day(d.pred()),
            Period::Month { year, month: 1 } => Period::Month {
                year: year - 1,
                month: 12,
            },
            Period::Month { year, month } => Period::Month {
                year,
                month: month - 1,
            },
            Period::Year(y) => Period::Year(y - 1),
        }
    }

    /// The period of the same kind `n` periods before this one (itself for 0).
    pub fn back(&self, n: usize) -> Self {
        (0..n).fold(*self, |p, _| p.previous())
    }

    /// The period of the same kind just after this one.
    pub fn next(&self) -> Self {
        match *self {
            Period::Day(d) => Period::Day(d.succ()),
            Period::Month { year, month: 12 } => Period::Month {
                year: year + 1,
                month: 1,
            },
            Period::Month { year, month } => Period::Month {
                year,
                month: month + 1,
            },
            Period::Year(y) => Period::Year(y + 1),
        }
    }

    pub fn contains(&self, day: LocalDay) -> bool {
        self.days().contains(day)
    }

    /// The period's local days.
    pub fn days(&self) -> Days {
        Days {
            first: self.first_day(),
            last: self.last_day(),
        }
    }

    /// The first instant of the period in `tz` (for fetch windows).
    pub fn start_instant(&self, tz: Tz) -> DateTime<Utc> {
        day_start(self.first_day(), tz)
    }
}

/// A range of local days, both ends included: a period's days, month to
/// date, one day. Built only with `first <= last`, so a reversed range
/// (which every query would silently read as empty) cannot reach storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Days {
    first: LocalDay,
    last: LocalDay,
}

/// A range of days whose first day comes after its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the range of days starts on {first}, after its last day {last}")]
pub struct ReversedDays {
    pub first: LocalDay,
    pub last: LocalDay,
}

impl Days {
    /// The days `first..=last`.
    pub fn new(first: LocalDay, last: LocalDay) -> Result<Self, ReversedDays> {
        if first <= last {
            Ok(Days { first, last })
        } else {
            Err(ReversedDays { first, last })
        }
    }

    /// The single day `day`.
    pub fn one(day: LocalDay) -> Self {
        Days {
            first: day,
            last: day,
        }
    }

    pub fn first(self) -> LocalDay {
        self.first
    }

    /// The last day, inclusive.
    pub fn last(self) -> LocalDay {
        self.last
    }

    pub fn is_one_day(self) -> bool {
        self.first == self.last
    }

    /// How many days the range holds (at least 1).
    pub fn count(self) -> i64 {
        (self.last - self.first).num_days() + 1
    }

    pub fn contains(self, day: LocalDay) -> bool {
        self.first <= day && day <= self.last
    }

    /// The days both ranges hold, if any.
    pub fn overlap(self, other: Days) -> Option<Days> {
        Days::new(self.first.max(other.first), self.last.min(other.last)).ok()
    }

    /// The range cut at month ends, one range per calendar month it touches.
    pub fn months(self) -> Vec<Days> {
        let mut out = Vec::new();
        let mut first = self.first;
        while first <= self.last {
            let last = Period::month_of(first).last_day().min(self.last);
            out.push(Days { first, last });
            first = last.succ();
        }
        out
    }
}

impl fmt::Display for Days {
    /// `2026-10-01..2026-10-31`, or the one day.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_one_day() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

/// Midnight at the start of `day` in `tz`, in UTC. Zones that skip midnight
/// (DST at 00:00) start the day at the first instant that exists.
pub fn day_start(day: LocalDay, tz: Tz) -> DateTime<Utc> {
    let naive = day.date().and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let later = naive + Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(d) => write!(f, "{d}"),
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Year(y) => write!(f, "{y:04}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_boundaries_and_previous() {
        let p = Period::parse_month("2026-03").unwrap();
        assert_eq!(p.last_day().to_string(), "2026-03-31");
        assert_eq!(p.previous().to_string(), "2026-02");
        assert_eq!(
            Period::parse_month("2026-01")
                .unwrap()
                .previous()
                .to_string(),
            "2025-12"
        );
        assert_eq!(
            Period::parse_month("2024-02")
                .unwrap()
                .last_day()
                .to_string(),
            "2024-02-29"
        );
    }

    #[test]
    fn utc_instant_falls_on_next_local_day_in_shanghai() {
        let t = DateTime::parse_from_rfc3339("2026-10-31T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            local_day(t, chrono_tz::Asia::Shanghai).to_string(),
            "2026-11-01"
        );
        assert_eq!(
            local_day(t, chrono_tz::America::Los_Angeles).to_string(),
            "2026-10-31"
        );
    }

    #[test]
    fn days_refuse_a_reversed_range_and_cut_at_month_ends() {
        let day = |t: &str| t.parse::<LocalDay>().unwrap();
        assert!(Days::new(day("2026-10-02"), day("2026-10-01")).is_err());
        let range = Days::new(day("2026-01-30"), day("2026-03-01")).unwrap();
        assert_eq!(range.count(), 31);
        let months: Vec<String> = range.months().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            months,
            [
                "2026-01-30..2026-01-31",
                "2026-02-01..2026-02-28",
                "2026-03-01"
            ]
        );
        let feb = Period::parse_month("2026-02").unwrap().days();
        assert_eq!(range.overlap(feb), Some(feb));
        assert_eq!(feb.overlap(Days::one(day("2026-03-01"))), None);
        let year = Period::Year(2026).days().months();
        assert_eq!(year.len(), 12);
        assert_eq!(year[1].last(), day("2026-02-28"));
        let one = Period::parse_day("2026-10-15").unwrap().days();
        assert_eq!(one.months(), [one]);
    }

    #[test]
    fn a_local_day_reads_and_writes_as_its_date() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        let day = LocalDay::from_date(date);
        assert_eq!(day.to_string(), "2026-03-09");
        assert_eq!(format!("{day:?}"), format!("{date:?}"));
        assert_eq!(serde_json::to_string(&day).unwrap(), "\"2026-03-09\"");
        assert_eq!(
            serde_json::from_str::<LocalDay>("\"2026-03-09\"").unwrap(),
            day
        );
        assert_eq!("2026-03-09".parse::<LocalDay>().unwrap(), day);
        assert!("2026-02-30".parse::<LocalDay>().is_err());
        assert_eq!(day.pred().to_string(), "2026-03-08");
        assert_eq!(
            LocalDay::from_ymd_opt(2026, 2, 28)
                .unwrap()
                .succ()
                .to_string(),
            "2026-03-01"
        );
        assert_eq!((day - day.pred()).num_days(), 1);
    }

    #[test]
    fn rejects_malformed_labels() {
        assert!(Period::parse_month("2026-13").is_err());
        assert!(Period::parse_month("2026-1").is_err());
        assert!(Period::parse_year("26").is_err());
        assert!(Period::parse_day("2026-02-30").is_err());
    }
}
