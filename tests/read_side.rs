//! The `kpi_latest` view that dashboards read, on both databases.

mod common;

use kpid::period::Period;
use kpid::store::StoredKpi;
use rust_decimal::Decimal;
use sqlx::Row;

fn line(kpi: &str, value: i64) -> StoredKpi {
    StoredKpi {
        kpi: kpi.into(),
        value: Some(Decimal::from(value)),
        target: None,
        attainment: None,
        score: None,
    }
}

#[tokio::test]
async fn kpi_latest_shows_only_the_newest_revision_of_each_period() {
    for db in common::backends().await {
        let oct = Period::parse_month("2026-10").unwrap();
        let nov = Period::parse_month("2026-11").unwrap();
        db.store
            .write_snapshot("sh", oct, &[line("gmv", 100)])
            .await
            .unwrap();
        db.store
            .write_snapshot("sh", oct, &[line("gmv", 120)])
            .await
            .unwrap();
        db.store
            .write_snapshot("sh", nov, &[line("gmv", 90)])
            .await
            .unwrap();
        let rows = sqlx::query(
            "SELECT period, revision, value FROM kpi_latest WHERE shop = 'sh' AND kpi = 'gmv' ORDER BY period",
        )
        .fetch_all(db.store.pool())
        .await
        .unwrap();
        let got: Vec<(String, i64, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get(0).unwrap(),
                    r.try_get(1).unwrap(),
                    r.try_get(2).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-10".into(), 2, "120".into()),
                ("2026-11".into(), 1, "90".into())
            ],
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
}
