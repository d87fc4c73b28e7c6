//! Why the declarative engine does not take a record, a page or the next
//! page: typed, each naming the definition's field (its key and pointers)
//! or the page's pointer, and what is wrong. The reading code returns these
//! without formatting anything: a field's name and the value's echo are
//! built only when a record fails, never for the records that read.

use super::tree::NotAValue;
use crate::facts::FieldError;
use crate::http::pagination::RepeatedCursor;
use crate::money::AmountError;
use crate::period::LocalDay;
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// Why a record is set aside; its text is the reject's reason. `field` is
/// the definition's field as `key (pointers)`: `amount (/pay_amount)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The pointer reaches a list, an object or null where a value belongs.
    #[error("{field} {problem}")]
    NotAValue { field: String, problem: NotAValue },
    #[error("{field} is missing")]
    Missing { field: String },
    /// An id longer than an id may be.
    #[error(transparent)]
    Id(#[from] FieldError),
    /// An order's or a refund's amount below zero.
    #[error("{field}: must not be negative ({amount})")]
    Negative { field: String, amount: Decimal },
    /// `shown` is the value's start, as [`crate::facts::echo`] cuts it.
    #[error("{field}: `{shown}` {problem}")]
    Time {
        field: String,
        shown: String,
        problem: TimeError,
    },
    #[error("{field}: {problem}")]
    Amount {
        field: String,
        problem: ScaledAmountError,
    },
    /// An item of a `sum`'s list (`line_items[2]`) whose amount is not one.
    #[error("{field} in {list}[{index}]: {problem}")]
    ItemAmount {
        field: String,
        list: String,
        index: usize,
        problem: ScaledAmountError,
    },
    /// A `sum`'s `each` that holds something else than a list.
    #[error("{field}: `{list}` is not a list")]
    NotAList { field: String, list: String },
    #[error("{field}: the sum is out of range")]
    SumOutOfRange { field: String },
    #[error("{field}: the difference is out of range")]
    DifferenceOutOfRange { field: String },
    /// The absolute value of the smallest amount.
    #[error("{field}: out of range")]
    OutOfRange { field: String },
    /// A count (`whole = true`) with a fraction.
    #[error("{field}: `{amount}` is not a whole count")]
    NotWholeCount { field: String, amount: Decimal },
    #[error("{field}: `{shown}` is not in the definition's status map")]
    UnknownStatus { field: String, shown: String },
    /// A daily record's day that does not read with the definition's pattern.
    #[error("{field}: `{shown}` does not match `{pattern}` ({cause})")]
    NotADate {
        field: String,
        shown: String,
        pattern: String,
        cause: chrono::ParseError,
    },
    /// A daily record whose `until` day is another day than its own.
    #[error("the record covers {first}..{last}, not one day ({field})")]
    SpansDays {
        field: String,
        first: LocalDay,
        last: LocalDay,
    },
    /// The refunds' `each` holds something else than a list.
    #[error("refunds `{list}` is not a list")]
    RefundsNotAList { list: String },
    /// A refund's field, named with the refund's id.
    #[error("refund {refund_id}: {reason}")]
    InRefund {
        refund_id: String,
        reason: Box<RecordError>,
    },
}

/// Why a time's text is not a time in the field's format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("is not an RFC 3339 time ({0})")]
    NotRfc3339(chrono::ParseError),
    #[error("is not whole Unix seconds")]
    NotUnixSeconds,
    #[error("is not whole Unix milliseconds")]
    NotUnixMillis,
    #[error("is out of range")]
    OutOfRange,
    #[error("does not match `{pattern}` ({cause})")]
    NoMatch {
        pattern: String,
        cause: chrono::ParseError,
    },
    /// A local time the clocks skip in spring.
    #[error("does not exist in {zone} (a daylight-saving gap)")]
    Gap { zone: Tz },
}

/// Why an amount's text is not an amount in the field's scale.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScaledAmountError {
    /// Not a decimal, too precise or too large (in any scale).
    #[error(transparent)]
    Decimal(#[from] AmountError),
    /// Hundredths or micros with a fraction: `unit` names the scale.
    #[error("`{shown}` is not a whole number of {unit}")]
    NotWhole { shown: String, unit: &'static str },
}

/// Why a page is not what the definition describes (retried, then the run
/// fails with it); `pointer` is where the definition says to look.
#[derive(Debug, thiserror::Error)]
pub enum PageShapeError {
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("`{pointer}` is not a list of records")]
    RecordsNotAList { pointer: String },
    /// No records where the definition says: `platform` is the error
    /// envelope's `code C: message`, when the body carries one.
    #[error(
        "no `{pointer}` (the records) in the response{}",
        platform_says(platform)
    )]
    NoRecords {
        pointer: String,
        platform: Option<String>,
    },
    /// A count (`what`: total pages, total records) that is not one.
    #[error("`{pointer}` ({what}) is not a whole number: {shown}")]
    NotAWholeNumber {
        pointer: String,
        what: &'static str,
        shown: String,
    },
    #[error("`{pointer}` (has next) is not true or false: {shown}")]
    NotTrueOrFalse { pointer: String, shown: String },
    #[error("`{pointer}` (next cursor) {problem}")]
    CursorNotAValue { pointer: String, problem: NotAValue },
    #[error(transparent)]
    Cursor(#[from] super::blocks::cursor::CursorError),
}

fn platform_says(platform: &Option<String>) -> String {
    platform
        .as_deref()
        .map(|m| format!(" (the platform says {m})"))
        .unwrap_or_default()
}

/// Why the page after this one cannot be asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagingError {
    /// Reverse paging reads the count from page 1 to start at the last page.
    #[error("page 1 has no total (`{pointer}`): reverse paging needs the count")]
    NoTotal { pointer: String },
    #[error(transparent)]
    RepeatedCursor(#[from] RepeatedCursor),
}
