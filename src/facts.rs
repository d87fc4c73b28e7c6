//! Facts: what connectors deliver, already typed and filed under local days.
//!
//! Record streams (orders, refunds) are keyed by the platform's id so a
//! re-fetch replaces rather than duplicates; daily series are keyed by shop,
//! day, input and dimension (campaign, agent, ...).

// Rejects echo bad values the way amount errors do: one rule, kept with
// money (below facts) and re-exported for the connectors that file rejects.
pub use crate::ids::ShopId;
pub use crate::money::{echo, Money, ECHO_CHARS};
use crate::period::{local_day, LocalDay};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Whether an order counts towards sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Paid,
    Cancelled,
    Closed,
    /// Placed but not (yet) paid.
    Unpaid,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
            OrderStatus::Unpaid => "unpaid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "paid" => Some(OrderStatus::Paid),
            "cancelled" | "canceled" => Some(OrderStatus::Cancelled),
            "closed" => Some(OrderStatus::Closed),
            "unpaid" | "pending" => Some(OrderStatus::Unpaid),
            _ => None,
        }
    }
}

/// One order as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub shop: ShopId,
    pub order_id: String,
    pub paid_at: Option<DateTime<Utc>>,
    /// Local day of `paid_at` in the shop's zone.
    pub local_day: Option<LocalDay>,
    pub amount: Money,
    /// `None` for guest checkouts: such an order counts as its own buyer.
    pub buyer_id: Option<String>,
    pub status: OrderStatus,
}

/// One refund, counted on its own local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub shop: ShopId,
    pub refund_id: String,
    pub order_id: String,
    pub refunded_at: DateTime<Utc>,
    pub local_day: LocalDay,
    pub amount: Money,
}

impl Refund {
    /// The refund of `amount_micros` done at `at`, counted on that
    /// instant's local day in the shop's zone `tz`.
    pub fn done_at(
        shop: &str,
        tz: Tz,
        refund_id: String,
        order_id: String,
        at: DateTime<Utc>,
        amount_micros: i64,
    ) -> Refund {
        Refund {
            shop: shop.into(),
            refund_id,
            order_id,
            refunded_at: at,
            local_day: local_day(at, tz),
            amount: Money::from_micros(amount_micros),
        }
    }
}

/// One value of a daily series. `value_micros: None` clears a stored value
/// (an empty cell in a re-imported file means "no value").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyValue {
    pub shop: ShopId,
    pub day: LocalDay,
    pub input: String,
    pub dimension: String,
    pub value_micros: Option<i64>,
}

/// The longest id (order, refund, buyer) kept, in bytes: longer is not an
/// id but a broken export (a whole line in one cell), and is rejected.
pub const MAX_ID_BYTES: usize = 256;

/// Why one field of a record cannot be taken; names the field. A record
/// refused for it becomes a [`Reject`] with this as its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{field} is missing")]
    Missing { field: String },
    /// None of the fields that may give a value (a time, usually) is set.
    #[error("{}", none_set(fields))]
    NoneSet { fields: Vec<String> },
    #[error("{field} is negative")]
    Negative { field: String },
    #[error("{field}: `{shown}` is {bytes} bytes long, more than the {MAX_ID_BYTES} bytes an id may have")]
    TooLong {
        field: String,
        /// The id as [`echo`] shows it (its start).
        shown: String,
        bytes: usize,
    },
    /// Present but unreadable: `problem` says how (it may quote the value's start).
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
}

fn none_set(fields: &[String]) -> String {
    match fields {
        [a, b] => format!("neither {a} nor {b} is set"),
        _ => format!("none of {} is set", fields.join(", ")),
    }
}

impl FieldError {
    pub fn missing(field: impl Into<String>) -> Self {
        FieldError::Missing {
            field: field.into(),
        }
    }

    pub fn negative(field: impl Into<String>) -> Self {
        FieldError::Negative {
            field: field.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        FieldError::Invalid {
            field: field.into(),
            problem: problem.to_string(),
        }
    }

    pub fn none_set(fields: &[&str]) -> Self {
        FieldError::NoneSet {
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// The field named (the first, for [`FieldError::NoneSet`]).
    pub fn field(&self) -> &str {
        match self {
            FieldError::Missing { field }
            | FieldError::Negative { field }
            | FieldError::TooLong { field, .. }
            | FieldError::Invalid { field, .. } => field,
            FieldError::NoneSet { fields } => fields.first().map_or("", |f| f.as_str()),
        }
    }
}

/// Checks an id's length; the error names the field.
pub fn check_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.len() > MAX_ID_BYTES {
        return Err(FieldError::TooLong {
            field: field.to_string(),
            shown: echo(id).into_owned(),
            bytes: id.len(),
        });
    }
    Ok(())
}

/// A record that could not be taken, kept aside with its raw text.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reject {
    /// File path or endpoint.
    pub source: String,
    /// Where in the source: `line 12`, `page 3 record 7`, an id.
    pub locator: String,
    pub reason: String,
    pub raw: String,
}

/// A file whose content was imported whole, recorded with the batch so a
/// re-run skips it only once its rows are committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMark {
    pub path: String,
    pub sha256: String,
    pub rows: i64,
}

/// What a connector commits at once (a file, a page, a window).
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub orders: Vec<Order>,
    pub refunds: Vec<Refund>,
    pub daily: Vec<DailyValue>,
    pub rejects: Vec<Reject>,
    /// A source (a file's path) whose stored rejects are dropped before this
    /// batch's are kept: a file imported again keeps only its new rejects.
    pub replaces_rejects_of: Option<String>,
    pub file: Option<FileMark>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
            && self.refunds.is_empty()
            && self.daily.is_empty()
            && self.rejects.is_empty()
            && self.replaces_rejects_of.is_none()
            && self.file.is_none()
    }

    pub fn records(&self) -> usize {
        self.orders.len() + self.refunds.len() + self.daily.len()
    }

    /// Appends `later`'s facts, which win over this batch's for the same key
    /// as if committed after it. Only a batch without a file mark can absorb
    /// (one commit records one file).
    pub fn absorb(&mut self, later: Batch) {
        debug_assert!(
            self.file.is_none(),
            "a batch with a file mark absorbs nothing"
        );
        // Dropping a source's rejects happens before a batch's own are kept:
        // only the first batch of a group may ask for it.
        debug_assert!(
            later.replaces_rejects_of.is_none(),
            "a batch that drops rejects is not absorbed"
        );
        self.orders.extend(later.orders);
        self.refunds.extend(later.refunds);
        self.daily.extend(later.daily);
        self.rejects.extend(later.rejects);
        self.file = later.file;
    }
}

/// Counts of one ingestion run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestStats {
    /// Records read from the source.
    pub records: u64,
    /// Rows inserted or changed in storage (0 when re-ingesting the same data).
    pub changed: u64,
    pub rejects: u64,
    pub files_imported: u64,
    pub files_skipped: u64,
    /// Rows whose key an earlier row of the same file had (the last row won).
    pub duplicates: u64,
}

impl IngestStats {
    pub fn add(&mut self, other: &IngestStats) {
        self.records += other.records;
        self.changed += other.changed;
        self.rejects += other.rejects;
        self.files_imported += other.files_imported;
        self.files_skipped += other.files_skipped;
        self.duplicates += other.duplicates;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_at_most_256_bytes() {
        assert!(check_id("order_id", &"x".repeat(MAX_ID_BYTES)).is_ok());
        let e = check_id("order_id", &"订".repeat(86)).unwrap_err();
        assert!(
            matches!(&e, FieldError::TooLong { field, bytes: 258, .. } if field == "order_id"),
            "{e:?}"
        );
        let e = e.to_string();
        assert!(
            e.starts_with("order_id: ") && e.contains("258 bytes"),
            "{e}"
        );
    }
}
