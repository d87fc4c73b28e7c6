//! The `kpi_latest` view that dashboards read, on both databases.

mod common;

use kpid::measure::Measure;
use kpid::period::Period;
use kpid::store::StoredKpi;
use rust_decimal::Decimal;
use sqlx::Row;

fn line(kpi: &str, value: i64) -> StoredKpi {
    StoredKpi {
        kpi: kpi.into(),
        measure: Measure {
            value: Some(Decimal::from(value)),
            ..Measure::default()
        },
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
        let got: Vec<(String, i64, String)> = crate::fetch_rows!(
            db.store,
            "SELECT period, revision, value FROM kpi_latest WHERE shop = 'sh' AND kpi = 'gmv' ORDER BY period",
            [],
            |r| (
                r.try_get(0).unwrap(),
                r.try_get(1).unwrap(),
                r.try_get(2).unwrap(),
            )
        );
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

#[tokio::test]
async fn scorecard_latest_shows_only_the_newest_revision() {
    use kpid::store::{ScoreLine, StoredScorecard};
    for db in common::backends().await {
        let oct = Period::parse_month("2026-10").unwrap();
        let card = |total: i64, reason: &str| StoredScorecard {
            person: "li".into(),
            period: oct,
            revision: 0,
            role: "customer_service".into(),
            total: Some(Decimal::from(total)),
            grade: Some("pass".into()),
            bonus: Some(Decimal::new(8, 1)),
            monthly_mean: None,
            reason: reason.into(),
            computed_at: 0,
            lines: vec![ScoreLine {
                kpi: "cs_violations".into(),
                measure: Measure {
                    value: Some(Decimal::from(total)),
                    target: Some(Decimal::ONE),
                    attainment: None,
                },
                weight: Decimal::from(15),
                score: Some(Decimal::from(total)),
            }],
        };
        db.store
            .write_scorecard(&card(70, "computed"), false)
            .await
            .unwrap();
        db.store
            .write_scorecard(&card(85, "appeal #1: ok"), true)
            .await
            .unwrap();
        let rows: Vec<(i64, String, String, String, String)> = crate::fetch_rows!(
            db.store,
            "SELECT revision, total, reason, kpi, weight FROM scorecard_latest WHERE person = 'li'",
            [],
            |r| (
                r.try_get(0).unwrap(),
                r.try_get(1).unwrap(),
                r.try_get(2).unwrap(),
                r.try_get(3).unwrap(),
                r.try_get(4).unwrap(),
            )
        );
        assert_eq!(rows.len(), 1, "{}", db.backend);
        let got = rows[0].clone();
        assert_eq!(
            got,
            (
                2,
                "85".into(),
                "appeal #1: ok".into(),
                "cs_violations".into(),
                "15".into()
            ),
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
}
