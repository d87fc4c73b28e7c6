//! Manual inputs with their audit trail, and imported targets.

use crate::ids::KpiId;
use rust_decimal::Decimal;

/// A manual input value in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualInput {
    pub person: String,
    pub input: String,
    /// `YYYY-MM` or `YYYY`.
    pub period: String,
    pub value: Decimal,
    pub updated_by: String,
    pub updated_at: i64,
    pub note: Option<String>,
}

/// One change of a manual input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualChange {
    pub person: String,
    pub input: String,
    pub period: String,
    pub old_value: Option<Decimal>,
    pub new_value: Decimal,
    pub changed_by: String,
    pub changed_at: i64,
    pub note: Option<String>,
    /// `cli` or the imported file.
    pub source: String,
}

/// An imported target as stored: `targets` turns it into its own `Target`
/// (storage sits below targets and knows only the columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    pub kpi: KpiId,
    /// `all`, `shop`, `role` or `person`.
    pub scope_kind: String,
    /// Empty for `all`.
    pub scope_id: String,
    /// The target period's label.
    pub period: String,
    pub value: Decimal,
    /// The imported file and when (Unix time); ignored when importing.
    pub file: String,
    pub imported_at: i64,
}
