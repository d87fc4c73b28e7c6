//! A shop whose connectors deliver no refunds has no refund KPIs: its
//! snapshots show none (never 0) and `kpid check` names it. A shop with a
//! refund source but no refund in the period has 0.
mod common;
mod helpers;

use common::facts::{refund_kpis, REFUNDS_TOTAL_KPI};
use helpers::*;
use std::process::Command;

/// Three Shanghai shops: `orders_only` has an order file and nothing that
/// delivers refunds; `with_refunds` has orders and a refund file (with no
/// refund in October); `daily` has a daily file with refund columns.
const CONFIG: &str = r#"
timezone = "Asia/Shanghai"

[storage]
url = "{db}"

[[shops]]
id = "orders_only"

[[shops]]
id = "with_refunds"

[[shops]]
id = "daily"

[[connectors]]
name = "orders-a"
kind = "csv"
stream = "orders"
shop = "orders_only"
path = "{dir}/a/orders/*.csv"

[[connectors]]
name = "orders-b"
kind = "csv"
stream = "orders"
shop = "with_refunds"
path = "{dir}/b/orders/*.csv"

[[connectors]]
name = "daily-c"
kind = "csv"
stream = "daily"
shop = "daily"
path = "{dir}/c/daily/*.csv"
"#;

/// The refund file connector of `with_refunds`.
const REFUND_CONNECTOR: &str = r#"
[[connectors]]
name = "refunds-b"
kind = "csv"
stream = "refunds"
shop = "with_refunds"
path = "{dir}/b/refunds/*.csv"
"#;

const ORDERS: &str = "order_id,paid_at,amount,buyer_id\n\
    o1,2026-10-01 10:00:00,100.00,u1\n\
    o2,2026-10-02 10:00:00,50.00,u2\n";

#[tokio::test]
async fn a_shop_without_refund_source_has_no_refund_kpis_and_one_with_a_source_has_zero() {
    for db in common::backends().await {
        let s = db.settings(&format!("{CONFIG}{REFUND_CONNECTOR}{REFUNDS_TOTAL_KPI}"));
        let b = db.backend;
        db.write("a/orders/oct.csv", ORDERS);
        db.write("b/orders/oct.csv", ORDERS);
        // A refund in September only: none in October.
        db.write(
            "b/refunds/sep.csv",
            "refund_id,order_id,refunded_at,amount\nr1,o0,2026-09-20 10:00:00,5.00\n",
        );
        db.write(
            "c/daily/oct.csv",
            "date,orders,gmv,refund_orders,refund_amount\n\
             2026-10-01,4,400,1,20.5\n\
             2026-10-02,6,600,0,0\n",
        );
        ingest_ok(&db, &s).await;

        for p in ["2026-10", "2026-10-01"] {
            assert_eq!(
                refund_kpis(&db, &s, "orders_only", p).await,
                (None, None),
                "{b} {p}: no refund source, no refund KPIs"
            );
            assert_eq!(
                refund_kpis(&db, &s, "with_refunds", p).await,
                (Some(d("0")), Some(d("0"))),
                "{b} {p}: a refund source without refunds in the period"
            );
        }
        assert_eq!(
            refund_kpis(&db, &s, "with_refunds", "2026-09").await.1,
            Some(d("5")),
            "{b}"
        );
        // The daily file's refund columns are the shop's refund source.
        assert_eq!(
            refund_kpis(&db, &s, "daily", "2026-10-01").await,
            (Some(d("0.25")), Some(d("20.5"))),
            "{b}"
        );
        // Other KPIs of the shop without refunds keep their values.
        let c = compute(&db, &s, "orders_only", "2026-10").await;
        assert_eq!(value(&c.kpis, "gmv"), Some(d("150")), "{b}");
        // Refunds stored by a connector since removed still count.
        let s2 = db.settings(&format!("{CONFIG}{REFUNDS_TOTAL_KPI}"));
        assert_eq!(
            refund_kpis(&db, &s2, "with_refunds", "2026-10").await,
            (Some(d("0")), Some(d("0"))),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[test]
fn kpid_check_names_the_shops_without_a_refund_source() {
    let dir = tempfile::tempdir().unwrap();
    let text = (CONFIG.to_string() + REFUND_CONNECTOR)
        .replace("{db}", &format!("sqlite://{}/kpid.db", dir.path().display()))
        .replace("{dir}", &dir.path().display().to_string())
        // A Pinduoduo shop has a refund source (its after-sales list), and
        // so has a shop read by a definition whose stream maps refunds.
        + r#"
[[shops]]
id = "pdd"

[[shops]]
id = "rest"

[[shops]]
id = "web"

[[connectors]]
name = "pdd"
kind = "pinduoduo"
shop = "pdd"
client_id = "c"
client_secret = "s"
access_token = "t"

[[connectors]]
name = "rest"
kind = "shopify_rest"
shop = "rest"
base_url = "http://127.0.0.1:9"
access_token = "t"

[[connectors]]
name = "web"
kind = "ga4_rest"
shop = "web"
property_id = "123"
access_token = "t"
"#;
    let path = dir.path().join("kpid.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .env_remove("KPID_CONFIG")
        .env_remove("KPID_STORAGE__URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let notes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("no refund source"))
        .collect();
    assert_eq!(notes.len(), 3, "{stdout}");
    // A definition without a refund stream (GA4 traffic) is no refund source.
    assert!(notes.iter().any(|l| l.contains("`web`")), "{stdout}");
    assert!(
        notes.iter().any(|l| l.contains("`orders_only`")),
        "{stdout}"
    );
    // No database yet: the daily shop's refund columns are unknown, so it is
    // named with the hint that a daily file with refund columns would do.
    assert!(notes.iter().any(|l| l.contains("`daily`")), "{stdout}");
    assert!(
        notes.iter().all(|l| l.contains("refund_amount")),
        "{stdout}"
    );
}

/// A person's scorecard follows the same rule: over shops none of which has a
/// refund source, `refund_rate` has no value (it read 0 before); with one
/// shop that has a source, it has a value.
#[tokio::test]
async fn a_persons_refund_rate_needs_a_refund_source_in_their_shops() {
    for db in common::backends().await {
        let people = r#"
[[people]]
id = "no_source"
name = "No source"
role = "customer_service"
shops = ["orders_only"]

[[people]]
id = "with_source"
name = "With source"
role = "customer_service"
shops = ["with_refunds"]
"#;
        let s = db.settings(&format!("{CONFIG}{REFUND_CONNECTOR}{people}"));
        let b = db.backend;
        db.write("a/orders/oct.csv", ORDERS);
        db.write("b/orders/oct.csv", ORDERS);
        db.write(
            "b/refunds/oct.csv",
            "refund_id,order_id,refunded_at,amount\nr1,o1,2026-10-03 10:00:00,5.00\n",
        );
        ingest_ok(&db, &s).await;
        let book = kpid::targets::TargetBook::load(&s.targets, &db.store)
            .await
            .unwrap();
        let period = kpid::period::Period::parse_any("2026-10").unwrap();
        let refund_rate = |card: &kpid::store::StoredScorecard| {
            card.lines
                .iter()
                .find(|l| l.kpi == "refund_rate")
                .expect("a refund_rate line")
                .measure
                .value
                .map(|v| v.normalize())
        };
        let card = |id: &'static str| {
            let (s, db, book) = (&s, &db, &book);
            async move {
                let person = s.person(id).expect("a configured person");
                kpid::scorecard::compute_card(s, &db.store, book, person, period, "test")
                    .await
                    .unwrap()
            }
        };
        assert_eq!(refund_rate(&card("no_source").await), None, "{b}");
        assert_eq!(
            refund_rate(&card("with_source").await),
            Some(d("0.5")),
            "{b}"
        );
        db.drop_db().await;
    }
}
