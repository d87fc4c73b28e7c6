//! Liveness and migration state.
//!
//! Compiled once per database (see `sqlite/mod.rs`, `postgres/mod.rs`):
//! `super::{DbStore, MIGRATIONS}` are that database's own.

use super::{DbStore, MIGRATIONS};
use crate::store::Result;
use sqlx::Row;

impl DbStore {
    pub async fn migrations_applied(&self) -> Result<bool> {
        let expected = MIGRATIONS.iter().count() as i64;
        let row = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)? >= expected)
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
