//! Liveness and migration state.

use super::{DbStore, MIGRATIONS};
use crate::store::Result;

impl DbStore {
    /// True when every embedded migration has been applied.
    pub async fn migrations_applied(&self) -> Result<bool> {
        let expected = MIGRATIONS.iter().count() as i64;
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        Ok(applied >= expected)
    }

    /// Cheap liveness probe for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
