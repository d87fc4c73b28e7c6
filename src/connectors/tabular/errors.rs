//! Why a file, a row or a cell of a CSV or XLSX import is not taken: each
//! error names the column (and the header or cell text) a user can fix.

use super::Stream;
use crate::facts::FieldError;
use crate::money::AmountError;
use chrono_tz::Tz;

/// Why a file's header does not fit its stream: fails the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("column `{column}` is mapped to the header `{header}`, which the file lacks")]
    MappedHeaderMissing { column: String, header: String },
    #[error("the header `{header}` (mapped to `{column}`) appears twice")]
    MappedHeaderTwice { column: String, header: String },
    /// `column` as [`echo`](crate::facts::echo) shows it, as in the variants below.
    #[error("column `{column}` appears twice in the header")]
    ColumnTwice { column: String },
    #[error("unknown column `{column}` (not an input id; see the inputs in `kpid kpis --inputs`)")]
    UnknownInput { column: String },
    #[error("unknown column `{column}` (expected {})", .stream.expected())]
    UnknownColumn { column: String, stream: Stream },
    #[error("the header has no `{column}` column")]
    MissingColumn { column: &'static str },
    #[error("the header names no input column (pv, uv, ad_spend, …)")]
    NoInputColumn,
}

/// Why a row cannot be taken: the column and what is wrong with its cell.
/// The row is kept aside as a reject with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("{column}: {problem}")]
    Cell {
        column: String,
        problem: CellProblem,
    },
    /// An id too long to keep (the error names its column).
    #[error(transparent)]
    Id(#[from] FieldError),
}

/// What is wrong with one cell; texts quoted as [`echo`](crate::facts::echo) shows them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellProblem {
    #[error("missing")]
    Missing,
    #[error("empty, and the connector names no `shop`")]
    NoShop,
    #[error("unknown shop `{0}`")]
    UnknownShop(String),
    #[error(transparent)]
    Amount(#[from] AmountError),
    #[error("must not be negative")]
    Negative,
    #[error(transparent)]
    Instant(#[from] InstantError),
    #[error("`{0}` is not paid, cancelled, closed or unpaid")]
    Status(String),
    #[error("`{0}` is not YYYY-MM-DD")]
    Date(String),
}

impl RowError {
    pub(super) fn cell(column: &str, problem: impl Into<CellProblem>) -> Self {
        RowError::Cell {
            column: column.to_string(),
            problem: problem.into(),
        }
    }
}

/// Why a cell's text is not an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error("`{0}` is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS")]
    Unreadable(String),
    #[error("`{text}` does not exist in {tz} (a daylight-saving gap)")]
    Gap { text: String, tz: Tz },
}
