//! Snapshots: append-only revisions, targets, attainment and scores.
mod common;
mod helpers;

use helpers::*;

const OCTOBER_ORDERS: &str = "o1,sh,2026-10-01 10:00:00,200,a,paid\n\
     o2,sh,2026-10-02 10:00:00,300,b,paid\n\
     o3,sh,2026-10-03 10:00:00,100,c,paid\n\
     o4,sh,2026-10-04 10:00:00,200,a,paid\n\
     l1,la,2026-10-04 10:00:00,50,x,paid\n";

#[tokio::test]
async fn recomputing_with_unchanged_facts_writes_no_new_revision() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{OCTOBER_ORDERS}"),
        );
        ingest_ok(&db, &s).await;
        let first = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!((first.revision, first.new_revision), (1, true), "{b}");
        let second = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!((second.revision, second.new_revision), (1, false), "{b}");
        assert_eq!(first.kpis, second.kpis, "{b}");
        // Every catalogue KPI has a line, value or not.
        let snap = stored(&db, "sh", "2026-10", None).await;
        assert_eq!(snap.revision, 1, "{b}");
        assert_eq!(snap.kpis.len(), s.catalogue.len(), "{b}");
        assert!(
            db.store
                .snapshot("sh", period("2026-10"), Some(2))
                .await
                .unwrap()
                .is_none(),
            "{b}"
        );
        // Other shops and periods have their own revision counters.
        let la = compute(&db, &s, "la", "2026-10").await;
        assert_eq!((la.revision, la.new_revision), (1, true), "{b}");
        let day = compute(&db, &s, "sh", "2026-10-01").await;
        assert_eq!((day.revision, day.new_revision), (1, true), "{b}");
        let year = compute(&db, &s, "sh", "2026").await;
        assert_eq!(value(&year.kpis, "gmv"), Some(d("800")), "{b}");
        assert_eq!(
            db.store.snapshot_shops(period("2026-10")).await.unwrap(),
            vec!["la".to_string(), "sh".to_string()],
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn late_refund_writes_revision_2_and_revision_1_stays_readable() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{OCTOBER_ORDERS}"),
        );
        ingest_ok(&db, &s).await;
        let rev1 = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(rev1.revision, 1, "{b}");
        assert_eq!(value(&rev1.kpis, "refund_rate"), Some(d("0")), "{b}");

        // A refund dated in October arrives after the month was computed.
        db.write(
            "imports/refunds/late.csv",
            &format!("{REFUNDS_HEADER}r1,o2,sh,2026-10-30 18:00:00,300\n"),
        );
        ingest_ok(&db, &s).await;
        let rev2 = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!((rev2.revision, rev2.new_revision), (2, true), "{b}");
        assert_eq!(value(&rev2.kpis, "refund_rate"), Some(d("0.25")), "{b}");

        let latest = stored(&db, "sh", "2026-10", None).await;
        assert_eq!(latest.revision, 2, "{b}");
        assert_eq!(value(&latest.kpis, "refund_rate"), Some(d("0.25")), "{b}");
        let old = stored(&db, "sh", "2026-10", Some(1)).await;
        assert_eq!(old.revision, 1, "{b}");
        assert_eq!(value(&old.kpis, "refund_rate"), Some(d("0")), "{b}");
        assert_eq!(value(&old.kpis, "gmv"), Some(d("800")), "{b}");
        assert!(old.computed_at <= latest.computed_at, "{b}");

        // And once more unchanged: still revision 2.
        let again = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!((again.revision, again.new_revision), (2, false), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn attainment_and_capped_score_for_up_and_down_kpis() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = 1000

[[targets]]
kpi = "orders"
period = "2026-10"
value = 2

[[targets]]
kpi = "refund_rate"
period = "*"
value = "0.1"

[[targets]]
kpi = "bounce_rate"
period = "*"
value = 0.5

[[targets]]
kpi = "return_rate"
period = "*"
value = "0.05"

[[targets]]
kpi = "aov"
period = "*"
value = "400"
"#,
        );
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{OCTOBER_ORDERS}"),
        );
        db.write(
            "imports/refunds/a.csv",
            &format!("{REFUNDS_HEADER}r1,o2,sh,2026-10-05 10:00:00,300\n"),
        );
        db.write(
            "imports/daily/a.csv",
            "date,visits,bounces,return_orders\n2026-10-01,60,30,0\n2026-10-02,40,10,0\n",
        );
        ingest_ok(&db, &s).await;
        let c = compute(&db, &s, "sh", "2026-10").await;
        let check = |id: &str, value: &str, target: &str, attainment: &str, score: &str| {
            let l = line(&c.kpis, id);
            assert_eq!(l.measure.value, Some(d(value)), "{b}: {id} value");
            assert_eq!(l.measure.target, Some(d(target)), "{b}: {id} target");
            assert_eq!(
                l.measure.attainment,
                Some(d(attainment)),
                "{b}: {id} attainment"
            );
            assert_eq!(l.score, Some(d(score)), "{b}: {id} score");
        };
        // up: actual / target
        check("gmv", "800", "1000", "0.8", "80");
        check("orders", "4", "2", "2", "120");
        check("aov", "266.666667", "400", "0.666667", "66.6667");
        // down: target / actual; a zero actual is full attainment (the cap)
        check("refund_rate", "0.25", "0.1", "0.4", "40");
        check("bounce_rate", "0.4", "0.5", "1.25", "120");
        check("return_rate", "0", "0.05", "1.2", "120");
        // gmv_attainment reads the same target inside a formula.
        assert_eq!(value(&c.kpis, "gmv_attainment"), Some(d("0.8")), "{b}");
        // A KPI without a target has neither attainment nor score.
        let pv = line(&c.kpis, "buyers");
        assert_eq!(
            (pv.measure.target, pv.measure.attainment, pv.score),
            (None, None, None),
            "{b}"
        );
        // The stored revision holds the same numbers.
        let snap = stored(&db, "sh", "2026-10", None).await;
        assert_eq!(line(&snap.kpis, "aov").score, Some(d("66.6667")), "{b}");
        assert_eq!(line(&snap.kpis, "orders").score, Some(d("120")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn score_cap_is_taken_from_configuration() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[scoring]
cap = "1.5"

[[targets]]
kpi = "orders"
period = "*"
value = 2

[[targets]]
kpi = "refund_rate"
period = "*"
value = "0.1"
"#,
        );
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{OCTOBER_ORDERS}"),
        );
        ingest_ok(&db, &s).await;
        let c = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(line(&c.kpis, "orders").score, Some(d("150")), "{b}");
        assert_eq!(
            line(&c.kpis, "refund_rate").measure.attainment,
            Some(d("1.5")),
            "{b}"
        );
        assert_eq!(line(&c.kpis, "refund_rate").score, Some(d("150")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn most_specific_target_wins() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[targets]]
kpi = "gmv"
period = "*"
value = 100

[[targets]]
kpi = "gmv"
shop = "sh"
period = "*"
value = 200

[[targets]]
kpi = "gmv"
period = "2026-10"
value = 300

[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = 400

[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026"
value = 5000

[[targets]]
kpi = "gmv"
period = "2026-10-01"
value = 8
"#,
        );
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{OCTOBER_ORDERS}"),
        );
        ingest_ok(&db, &s).await;
        for (shop, p, target) in [
            ("sh", "2026-10", Some("400")),
            ("la", "2026-10", Some("300")),
            ("sh", "2026-11", Some("200")),
            ("la", "2026-11", Some("100")),
            ("sh", "2026", Some("5000")),
            ("la", "2026", None),
            ("sh", "2026-10-01", Some("8")),
            ("la", "2026-10-01", Some("8")),
            ("sh", "2026-10-02", None),
        ] {
            let c = compute(&db, &s, shop, p).await;
            let l = line(&c.kpis, "gmv");
            assert_eq!(l.measure.target, target.map(d), "{b}: {shop} {p}");
            assert_eq!(
                l.measure.attainment.is_some(),
                target.is_some(),
                "{b}: {shop} {p} attainment"
            );
        }
        let c = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(line(&c.kpis, "gmv").measure.attainment, Some(d("2")), "{b}");
        assert_eq!(line(&c.kpis, "gmv").score, Some(d("120")), "{b}");
        assert_eq!(value(&c.kpis, "gmv_attainment"), Some(d("2")), "{b}");
        let c = compute(&db, &s, "la", "2026-10").await;
        assert_eq!(value(&c.kpis, "gmv_attainment"), Some(d("0.166667")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_changed_target_writes_a_new_revision() {
    for db in common::backends().await {
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{OCTOBER_ORDERS}"),
        );
        let s = settings(
            &db,
            "[[targets]]\nkpi = \"gmv\"\nperiod = \"*\"\nvalue = 1000\n",
        );
        ingest_ok(&db, &s).await;
        assert_eq!(compute(&db, &s, "sh", "2026-10").await.revision, 1, "{b}");
        let s = settings(
            &db,
            "[[targets]]\nkpi = \"gmv\"\nperiod = \"*\"\nvalue = 800\n",
        );
        let c = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!((c.revision, c.new_revision), (2, true), "{b}");
        assert_eq!(line(&c.kpis, "gmv").score, Some(d("100")), "{b}");
        let old = stored(&db, "sh", "2026-10", Some(1)).await;
        assert_eq!(line(&old.kpis, "gmv").score, Some(d("80")), "{b}");
        db.drop_db().await;
    }
}

/// September 2000, October 1590 (growth −0.205), November 1721.97 (growth
/// +0.083): the issue's numbers.
const GROWTH_ORDERS: &str = "o1,sh,2026-09-10 10:00:00,2000,a,paid\n\
     o2,sh,2026-10-10 10:00:00,1590,b,paid\n\
     o3,sh,2026-11-10 10:00:00,1721.97,c,paid\n";

#[tokio::test]
async fn a_negative_target_scores_by_distance_not_by_ratio() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[targets]]
kpi = "gmv_growth_mom"
period = "*"
value = "-0.1"
"#,
        );
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}{GROWTH_ORDERS}"),
        );
        ingest_ok(&db, &s).await;
        // A fall of 20.5% against a target of "fall at most 10%" is missed:
        // 1 + (−0.205 − (−0.1)) / 0.1 = −0.05, floored at 0 (the ratio gave 2.05).
        let oct = compute(&db, &s, "sh", "2026-10").await;
        let l = line(&oct.kpis, "gmv_growth_mom");
        assert_eq!(l.measure.value, Some(d("-0.205")), "{b}");
        assert_eq!(l.measure.attainment, Some(d("0")), "{b}");
        assert_eq!(l.score, Some(d("0")), "{b}");
        // Growth of 8.3% beats it: 1 + (0.083 + 0.1) / 0.1 = 2.83, capped (the ratio gave −0.83).
        let nov = compute(&db, &s, "sh", "2026-11").await;
        let l = line(&nov.kpis, "gmv_growth_mom");
        assert_eq!(l.measure.value, Some(d("0.083")), "{b}");
        assert_eq!(l.measure.attainment, Some(d("2.83")), "{b}");
        assert_eq!(l.score, Some(d("120")), "{b}");
        let snap = stored(&db, "sh", "2026-11", None).await;
        assert_eq!(
            line(&snap.kpis, "gmv_growth_mom").score,
            Some(d("120")),
            "{b}"
        );
        db.drop_db().await;
    }
}
