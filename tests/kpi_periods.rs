//! KPI inputs per period: local days in the shop's zone, distinct buyers,
//! exact sums, null for zero denominators, growth and user formulas.
mod common;
mod helpers;

use helpers::*;
use rust_decimal::{Decimal, RoundingStrategy};

#[tokio::test]
async fn order_paid_after_16_utc_belongs_to_next_day_in_shanghai() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-31T16:30:00Z,100,b1,paid\n\
                 o2,sh,2026-10-31T15:59:59Z,7,b2,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let nov1 = inputs(&db, "sh", "2026-11-01").await;
        assert_eq!(nov1.get("orders"), Some(d("1")), "{}", db.backend);
        assert_eq!(nov1.get("gmv"), Some(d("100")), "{}", db.backend);
        let oct31 = inputs(&db, "sh", "2026-10-31").await;
        assert_eq!(oct31.get("gmv"), Some(d("7")), "{}", db.backend);
        assert_eq!(
            inputs(&db, "sh", "2026-11").await.get("gmv"),
            Some(d("100"))
        );
        assert_eq!(inputs(&db, "sh", "2026-10").await.get("gmv"), Some(d("7")));

        // The snapshot of the local day agrees.
        let c = compute(&db, &s, "sh", "2026-11-01").await;
        assert_eq!(value(&c.kpis, "gmv"), Some(d("100")), "{}", db.backend);
        assert_eq!(value(&c.kpis, "orders"), Some(d("1")), "{}", db.backend);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn order_paid_at_5_utc_on_nov_1_belongs_to_oct_31_in_los_angeles() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,la,2026-11-01T05:00:00Z,30,b1,paid\n\
                 o2,la,2026-11-01T08:00:00Z,12.5,b2,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        // 05:00Z is 22:00 PDT on Oct 31; 08:00Z is 01:00 PDT on Nov 1.
        let oct31 = inputs(&db, "la", "2026-10-31").await;
        assert_eq!(oct31.get("gmv"), Some(d("30")), "{}", db.backend);
        assert_eq!(oct31.get("orders"), Some(d("1")), "{}", db.backend);
        let nov1 = inputs(&db, "la", "2026-11-01").await;
        assert_eq!(nov1.get("gmv"), Some(d("12.5")), "{}", db.backend);
        assert_eq!(inputs(&db, "la", "2026-10").await.get("gmv"), Some(d("30")));

        let c = compute(&db, &s, "la", "2026-10").await;
        assert_eq!(value(&c.kpis, "gmv"), Some(d("30")), "{}", db.backend);
        // Nothing leaked into the other shop.
        assert_eq!(inputs(&db, "sh", "2026-10").await.get("gmv"), None);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn local_times_without_offset_are_read_in_the_shop_zone() {
    for db in common::backends().await {
        let s = settings(&db, "");
        // Read as UTC these would land on the other side of midnight.
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 s1,sh,2026-10-31 20:00:00,5,b1,paid\n\
                 l1,la,2026-11-01 03:00:00,9,b2,paid\n\
                 l2,la,2026-10-31T23:30:00,4,b3,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        assert_eq!(
            inputs(&db, "sh", "2026-10-31").await.get("gmv"),
            Some(d("5")),
            "{}",
            db.backend
        );
        assert_eq!(
            inputs(&db, "sh", "2026-11-01").await.get("gmv"),
            Some(d("0")),
            "{}",
            db.backend
        );
        assert_eq!(
            inputs(&db, "la", "2026-11-01").await.get("gmv"),
            Some(d("9")),
            "{}",
            db.backend
        );
        assert_eq!(
            inputs(&db, "la", "2026-10-31").await.get("gmv"),
            Some(d("4")),
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn refund_counts_on_its_own_local_day_not_the_order_day() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}o1,sh,2026-10-20T02:00:00Z,100,b1,paid\n"),
        );
        // 16:10Z on Oct 31 is Nov 1 in Shanghai.
        db.write(
            "imports/refunds/a.csv",
            &format!("{REFUNDS_HEADER}r1,o1,sh,2026-10-31T16:10:00Z,40\n"),
        );
        ingest_ok(&db, &s).await;
        let oct = inputs(&db, "sh", "2026-10").await;
        assert_eq!(oct.get("refund_amount"), Some(d("0")), "{}", db.backend);
        assert_eq!(oct.get("refund_orders"), Some(d("0")), "{}", db.backend);
        let nov = inputs(&db, "sh", "2026-11").await;
        assert_eq!(nov.get("refund_amount"), Some(d("40")), "{}", db.backend);
        assert_eq!(nov.get("refund_orders"), Some(d("1")), "{}", db.backend);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn same_buyer_on_two_days_counts_once_in_the_month_and_once_in_each_day() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,alice,paid\n\
                 o2,sh,2026-10-02 10:00:00,20,alice,paid\n\
                 o3,sh,2026-10-02 11:00:00,30,bob,paid\n\
                 o4,sh,2026-10-02 12:00:00,40,alice,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        let month = inputs(&db, "sh", "2026-10").await;
        assert_eq!(month.get("orders"), Some(d("4")), "{b}");
        assert_eq!(
            month.get("buyers"),
            Some(d("2")),
            "{b}: not the sum of daily counts"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10-01").await.get("buyers"),
            Some(d("1")),
            "{b}"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10-02").await.get("buyers"),
            Some(d("2")),
            "{b}"
        );
        assert_eq!(
            inputs(&db, "sh", "2026").await.get("buyers"),
            Some(d("2")),
            "{b}"
        );

        // aov is per buyer: 100 / 2.
        let c = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&c.kpis, "buyers"), Some(d("2")), "{b}");
        assert_eq!(value(&c.kpis, "aov"), Some(d("50")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn guest_orders_each_count_as_their_own_buyer() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 g1,sh,2026-10-01 10:00:00,10,,paid\n\
                 g2,sh,2026-10-01 11:00:00,10,,paid\n\
                 g3,sh,2026-10-02 11:00:00,10,,\n\
                 o1,sh,2026-10-02 12:00:00,10,carol,paid\n\
                 o2,sh,2026-10-03 12:00:00,10,carol,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("buyers"),
            Some(d("4")),
            "{b}"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10-01").await.get("buyers"),
            Some(d("2")),
            "{b}"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10-02").await.get("buyers"),
            Some(d("2")),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn cancelled_and_unpaid_orders_do_not_count() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o2,sh,2026-10-01 11:00:00,99,b,cancelled\n\
                 o3,sh,2026-10-01 12:00:00,77,c,unpaid\n\
                 o4,sh,2026-10-01 13:00:00,55,d,closed\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("orders"), Some(d("1")), "{}", db.backend);
        assert_eq!(v.get("gmv"), Some(d("10")), "{}", db.backend);
        assert_eq!(v.get("buyers"), Some(d("1")), "{}", db.backend);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn many_small_amounts_sum_to_an_exact_decimal() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let mut csv = ORDERS_HEADER.to_string();
        let mut n = 0;
        for (amount, count) in [("0.1", 1000), ("0.2", 1000), ("19.99", 7), ("0.000001", 3)] {
            for _ in 0..count {
                n += 1;
                csv.push_str(&format!("o{n},sh,2026-10-15 12:00:00,{amount},u{n},paid\n"));
            }
        }
        db.write("imports/orders/a.csv", &csv);
        ingest_ok(&db, &s).await;
        let b = db.backend;
        let expected = d("439.930003");
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("gmv"), Some(expected), "{b}");
        assert_eq!(v.get("orders"), Some(Decimal::from(n)), "{b}");

        let c = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&c.kpis, "gmv"), Some(expected), "{b}");
        // aov = gmv / buyers, rounded half away from zero to 6 places.
        let aov = (expected / Decimal::from(n))
            .round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero)
            .normalize();
        assert_eq!(value(&c.kpis, "aov"), Some(aov), "{b}");
        // What storage gives back is the same exact value.
        let snap = stored(&db, "sh", "2026-10", None).await;
        assert_eq!(value(&snap.kpis, "gmv"), Some(expected), "{b}");
        assert_eq!(value(&snap.kpis, "gmv").unwrap().to_string(), "439.930003");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn zero_denominators_give_no_value_never_zero() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[targets]]
kpi = "aov"
period = "*"
value = 100

[[targets]]
kpi = "bounce_rate"
period = "*"
value = "0.4"
"#,
        );
        // October: only a cancelled order, so buyers = 0; visits = 0 on Oct 1.
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,cancelled\n\
                 o2,sh,2026-11-01 10:00:00,10,a,paid\n"
            ),
        );
        db.write(
            "imports/daily/a.csv",
            "date,shop,visits,bounces,pv,uv\n2026-10-01,sh,0,0,0,0\n",
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        let oct = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&oct.kpis, "gmv"), Some(d("0")), "{b}: no sales is 0");
        assert_eq!(value(&oct.kpis, "buyers"), Some(d("0")), "{b}");
        for id in [
            "aov",
            "bounce_rate",
            "pv_per_uv",
            "conversion_rate",
            "refund_rate",
        ] {
            let l = line(&oct.kpis, id);
            assert_eq!(l.measure.value, None, "{b}: {id}");
            assert_eq!(l.measure.attainment, None, "{b}: {id} must not be scored");
            assert_eq!(l.score, None, "{b}: {id} must not be scored");
        }
        assert_eq!(line(&oct.kpis, "aov").measure.target, Some(d("100")), "{b}");
        // Read back from storage, still null rather than 0.
        let snap = stored(&db, "sh", "2026-10", None).await;
        assert_eq!(value(&snap.kpis, "aov"), None, "{b}");
        assert_eq!(value(&snap.kpis, "bounce_rate"), None, "{b}");

        // La has neither orders nor traffic: every ratio is null.
        let la = compute(&db, &s, "la", "2026-10").await;
        for id in [
            "aov",
            "bounce_rate",
            "avg_stay_seconds",
            "gmv",
            "gmv_growth_mom",
        ] {
            assert_eq!(value(&la.kpis, id), None, "{b}: la {id}");
        }
        // November has visits missing entirely: bounce_rate is null, aov is not.
        let nov = compute(&db, &s, "sh", "2026-11").await;
        assert_eq!(value(&nov.kpis, "bounce_rate"), None, "{b}");
        assert_eq!(value(&nov.kpis, "aov"), Some(d("10")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn gmv_growth_mom_is_right_whichever_month_is_computed_first() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-05 10:00:00,120,a,paid\n\
                 o2,sh,2026-10-31 23:59:59,80,b,paid\n\
                 o3,sh,2026-11-01 00:00:00,250,c,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        // November first: (250 - 200) / 200.
        let nov = compute(&db, &s, "sh", "2026-11").await;
        assert_eq!(value(&nov.kpis, "gmv_growth_mom"), Some(d("0.25")), "{b}");
        // October has no September sales: no growth value.
        let oct = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&oct.kpis, "gmv"), Some(d("200")), "{b}");
        assert_eq!(value(&oct.kpis, "gmv_growth_mom"), None, "{b}");
        // Recomputing November after October changes nothing.
        let again = compute(&db, &s, "sh", "2026-11").await;
        assert!(!again.new_revision, "{b}");
        assert_eq!(value(&again.kpis, "gmv_growth_mom"), Some(d("0.25")), "{b}");

        // A late October order changes November's growth: (250 - 300) / 300.
        db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}o4,sh,2026-10-20 10:00:00,100,d,paid\n"),
        );
        ingest_ok(&db, &s).await;
        let nov = compute(&db, &s, "sh", "2026-11").await;
        assert!(nov.new_revision, "{b}");
        assert_eq!(nov.revision, 2, "{b}");
        assert_eq!(
            value(&nov.kpis, "gmv_growth_mom"),
            Some(d("-0.166667")),
            "{b}"
        );
        // Day periods compare with the day before.
        let day = compute(&db, &s, "sh", "2026-11-01").await;
        assert_eq!(value(&day.kpis, "gmv_growth_mom"), Some(d("2.125")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn user_formula_net_sales_is_gmv_minus_refund_amount() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[kpis]]
id = "net_sales"
formula = "gmv - refund_amount"
unit = "money"
direction = "up"
category = "sales"
name_zh = "净销售额"

[[kpis]]
id = "net_per_order"
formula = "net_sales / orders"
unit = "money"
direction = "up"
category = "sales"

[[targets]]
kpi = "net_sales"
shop = "sh"
period = "2026-10"
value = "1000"
"#,
        );
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,500.10,a,paid\n\
                 o2,sh,2026-10-02 10:00:00,400.05,b,paid\n\
                 o3,sh,2026-10-03 10:00:00,100,c,paid\n"
            ),
        );
        db.write(
            "imports/refunds/a.csv",
            &format!("{REFUNDS_HEADER}r1,o2,sh,2026-10-05 10:00:00,100.05\n"),
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        let c = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&c.kpis, "net_sales"), Some(d("900.1")), "{b}");
        assert_eq!(
            value(&c.kpis, "net_per_order"),
            Some(d("300.033333")),
            "{b}"
        );
        let l = line(&c.kpis, "net_sales");
        assert_eq!(l.measure.target, Some(d("1000")), "{b}");
        assert_eq!(l.measure.attainment, Some(d("0.9001")), "{b}");
        assert_eq!(l.score, Some(d("90.01")), "{b}");
        // A month without sales: 0 - 0 = 0, and the ratio has no value.
        let nov = compute(&db, &s, "sh", "2026-11").await;
        assert_eq!(value(&nov.kpis, "net_sales"), Some(d("0")), "{b}");
        assert_eq!(value(&nov.kpis, "net_per_order"), None, "{b}");
        db.drop_db().await;
    }
}

#[test]
fn bad_user_formula_is_a_config_error_naming_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    let text = r#"[storage]
url = "sqlite://x.db"

[[shops]]
id = "sh"

[[kpis]]
id = "net_sales"
formula = "gmv - refund_amount"
unit = "money"
direction = "up"
category = "sales"

[[kpis]]
id = "broken"
formula = "gmv * (2 +"
unit = "money"
direction = "up"
category = "sales"

[[kpis]]
id = "unknown_ref"
formula = "gmv / nothing_here"
unit = "ratio"
direction = "up"
category = "sales"
"#;
    std::fs::write(&path, text).unwrap();
    let errs = kpid::setup::load(&path).expect_err("bad formulas must be refused");
    let broken = errs
        .0
        .iter()
        .find(|p| p.key == "kpis[1].formula")
        .unwrap_or_else(|| panic!("no problem for kpis[1].formula: {errs}"));
    assert!(broken.message.contains("position 11"), "{}", broken.message);
    assert_eq!(broken.line, Some(16), "{broken}");
    assert_eq!(broken.file, path.display().to_string());
    let unknown = errs
        .0
        .iter()
        .find(|p| p.key == "kpis[2].formula")
        .unwrap_or_else(|| panic!("no problem for kpis[2].formula: {errs}"));
    assert!(
        unknown.message.contains("nothing_here"),
        "{}",
        unknown.message
    );
    assert!(
        unknown.message.contains("position 7"),
        "{}",
        unknown.message
    );
    assert!(
        !errs.0.iter().any(|p| p.key.starts_with("kpis[0]")),
        "the good formula is not blamed: {errs}"
    );
    // The rendered message names file, line and key.
    let text = errs.to_string();
    assert!(
        text.contains(&format!("{}:16: `kpis[1].formula`", path.display())),
        "{text}"
    );
}

#[tokio::test]
async fn prev_shifts_everything_under_it_targets_included_and_nests() {
    for db in common::backends().await {
        let s = settings(
            &db,
            r#"
[[kpis]]
id = "gmv_two_months_ago"
formula = "prev(prev(gmv))"
unit = "money"
direction = "up"
category = "sales"

[[kpis]]
id = "prev_gmv_attainment"
formula = "prev(gmv_attainment)"
unit = "percent"
direction = "up"
category = "sales"

[[kpis]]
id = "prev_target_gap"
formula = "prev(target(gmv) - gmv)"
unit = "money"
direction = "down"
category = "sales"

[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = "100"

[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-11"
value = "1000"
"#,
        );
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-09-10 10:00:00,100,a,paid\n\
                 o2,sh,2026-10-10 10:00:00,200,b,paid\n\
                 o3,sh,2026-11-10 10:00:00,400,c,paid\n"
            ),
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        let nov = compute(&db, &s, "sh", "2026-11").await;
        // September's GMV, two months back.
        assert_eq!(
            value(&nov.kpis, "gmv_two_months_ago"),
            Some(d("100")),
            "{b}"
        );
        // October's GMV over October's target (not November's 1000).
        assert_eq!(value(&nov.kpis, "prev_gmv_attainment"), Some(d("2")), "{b}");
        assert_eq!(value(&nov.kpis, "prev_target_gap"), Some(d("-100")), "{b}");
        assert_eq!(value(&nov.kpis, "gmv_attainment"), Some(d("0.4")), "{b}");
        // October looks back to September (no target) and August (no sales).
        let oct = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&oct.kpis, "gmv_two_months_ago"), Some(d("0")), "{b}");
        assert_eq!(value(&oct.kpis, "prev_gmv_attainment"), None, "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn monthly_refund_rate_from_daily_series_sums_the_days() {
    for db in common::backends().await {
        let s = settings(&db, "");
        db.write(
            "imports/daily/a.csv",
            "date,orders,gmv,refund_orders,refund_amount\n\
             2026-10-01,10,1000,1,50\n\
             2026-10-02,30,3000,2,80\n",
        );
        ingest_ok(&db, &s).await;
        let b = db.backend;
        let oct = compute(&db, &s, "sh", "2026-10").await;
        // (1 + 2) / (10 + 30): daily refunded orders add up over days.
        assert_eq!(value(&oct.kpis, "refund_rate"), Some(d("0.075")), "{b}");
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("refund_orders"),
            Some(d("3")),
            "{b}"
        );
        let day = compute(&db, &s, "sh", "2026-10-02").await;
        assert_eq!(value(&day.kpis, "refund_rate"), Some(d("0.066667")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn order_records_win_only_on_their_own_days() {
    for db in common::backends().await {
        let s = settings(
            &db,
            "[[people]]\nid = \"li\"\nname = \"Li\"\nrole = \"ops_specialist\"\nshops = [\"sh\"]\n",
        );
        let b = db.backend;
        db.write(
            "imports/daily/a.csv",
            "date,orders,gmv,buyers\n2026-10-15,10,1000,8\n2026-11-02,3,300,3\n",
        );
        ingest_ok(&db, &s).await;
        let oct = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(value(&oct.kpis, "gmv"), Some(d("1000")), "{b}");
        // One order record on 2026-11-02: that day now reads from records.
        db.write(
            "imports/orders/a.csv",
            &format!("{ORDERS_HEADER}o1,sh,2026-11-02 10:00:00,120,a,paid\n"),
        );
        ingest_ok(&db, &s).await;
        let oct = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(
            value(&oct.kpis, "gmv"),
            Some(d("1000")),
            "{b}: October kept"
        );
        assert_eq!(value(&oct.kpis, "orders"), Some(d("10")), "{b}");
        let nov = compute(&db, &s, "sh", "2026-11").await;
        assert_eq!(
            value(&nov.kpis, "gmv"),
            Some(d("120")),
            "{b}: the record wins"
        );
        assert_eq!(value(&nov.kpis, "orders"), Some(d("1")), "{b}");
        assert_eq!(value(&nov.kpis, "buyers"), Some(d("1")), "{b}");
        let year = compute(&db, &s, "sh", "2026").await;
        assert_eq!(
            value(&year.kpis, "gmv"),
            Some(d("1120")),
            "{b}: both sources"
        );
        assert_eq!(value(&year.kpis, "orders"), Some(d("11")), "{b}");
        // Distinct buyers cannot be added across the two sources: no value.
        assert_eq!(value(&year.kpis, "buyers"), None, "{b}");
        assert_eq!(value(&year.kpis, "aov"), None, "{b}");
        // Single days are exact from either source.
        let d15 = compute(&db, &s, "sh", "2026-10-15").await;
        assert_eq!(value(&d15.kpis, "buyers"), Some(d("8")), "{b}");
        let d2 = compute(&db, &s, "sh", "2026-11-02").await;
        assert_eq!(value(&d2.kpis, "buyers"), Some(d("1")), "{b}");
        // A person's scorecard folds the shop the same way.
        let book = kpid::targets::TargetBook::load(&s.targets, &db.store)
            .await
            .unwrap();
        let li = s.person("li").unwrap();
        for (p, gmv) in [("2026-10", "1000"), ("2026-11", "120"), ("2026", "1120")] {
            let card = kpid::scorecard::compute_card(&s, &db.store, &book, li, period(p), "t")
                .await
                .unwrap();
            let l = card.lines.iter().find(|l| l.kpi == "gmv").unwrap();
            assert_eq!(l.measure.value, Some(d(gmv)), "{b}: li {p}");
        }
        // A day with neither source reads 0 once the shop has records.
        let d3 = compute(&db, &s, "sh", "2026-11-03").await;
        assert_eq!(value(&d3.kpis, "gmv"), Some(d("0")), "{b}");
        db.drop_db().await;
    }
}

/// A config whose user KPIs `deep` (20,000 parentheses deep) and `wide`
/// (a sum of 50,000 terms) are too big to evaluate safely.
fn oversized_formulas_config(dir: &std::path::Path) -> std::path::PathBuf {
    let deep = format!("{}gmv{}", "(".repeat(20_000), ")".repeat(20_000));
    let wide = vec!["gmv"; 50_000].join(" + ");
    let path = dir.join("kpid.toml");
    let text = format!(
        r#"[storage]
url = "sqlite://x.db"

[[shops]]
id = "sh"

[[kpis]]
id = "deep"
formula = "{deep}"
unit = "money"
direction = "up"
category = "sales"

[[kpis]]
id = "wide"
formula = "{wide}"
unit = "money"
direction = "up"
category = "sales"
"#
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn formulas_too_deep_or_too_long_are_config_errors_naming_the_kpi() {
    let dir = tempfile::tempdir().unwrap();
    let path = oversized_formulas_config(dir.path());
    let errs = kpid::setup::load(&path).expect_err("oversized formulas must be refused");
    for (key, id, limit) in [
        ("kpis[0].formula", "deep", "at most 64"),
        ("kpis[1].formula", "wide", "at most 1000"),
    ] {
        let p = errs
            .0
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("no problem for {key}: {errs}"));
        assert!(p.message.contains(&format!("`{id}`")), "{p}");
        assert!(p.message.contains(limit), "{p}");
        assert!(
            p.message.len() < 300,
            "the formula is not echoed whole: {p}"
        );
    }
    // The library's parser refuses them too (and a formula at the limits parses).
    let nested = |n: usize| format!("{}gmv{}", "(".repeat(n), ")".repeat(n));
    assert!(kpid::kpi::formula::parse(&nested(20_000)).is_err());
    assert!(kpid::kpi::formula::parse(&nested(64)).is_ok());
    assert!(kpid::kpi::formula::parse(&vec!["gmv"; 50_000].join(" + ")).is_err());
    assert!(kpid::kpi::formula::parse(&vec!["gmv"; 500].join(" + ")).is_ok());
    assert!(kpid::kpi::formula::parse(&format!("{}gmv", "-".repeat(20_000))).is_err());
}
