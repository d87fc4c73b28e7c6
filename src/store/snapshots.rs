//! Append-only KPI snapshots: a new revision only when a value changed.

use crate::ids::{KpiId, ShopId};
use crate::measure::Measure;
use crate::period::Period;
use rust_decimal::Decimal;

/// One KPI line of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKpi {
    pub kpi: KpiId,
    pub measure: Measure,
    pub score: Option<Decimal>,
}

/// A revision of a shop's snapshot for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub shop: ShopId,
    pub period: Period,
    pub revision: i64,
    pub computed_at: i64,
    pub kpis: Vec<StoredKpi>,
}
