//! The queries both databases share. Both take the same SQL, so each
//! database compiles this folder for its own driver's types (`sqlite/mod.rs`
//! and `postgres/mod.rs` load it): `Db`, `DbRow`, `DbStore` and `MIGRATIONS`
//! below are that database's.

mod alerts;
mod facts;
mod manual;
mod meta;
mod revisions;
mod rows;
mod runs;
mod scorecards;
pub(super) mod sets;
mod snapshots;

use super::{
    paid_totals_of, Db, DbRow, DbStore, MIGRATIONS, MANY_DAYS_WITH, MANY_ORDERS_FROM,
    SHOP_DAYS_WITH, SHOP_ORDERS_FROM, value_rows,
};
