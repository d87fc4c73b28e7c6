//! Helpers shared by the behaviour tests: configuration text, running the
//! configured connectors, and reading inputs and snapshot lines.
#![allow(dead_code)]

use crate::common::TestDb;
use kpid::connectors::Window;
use kpid::jobs::{build_connectors, run_connector, ConnectorRun};
use kpid::kpi::InputValues;
use kpid::period::Period;
use kpid::settings::{Settings, Shop};
use kpid::setup::Setup;
use kpid::snapshot::Computed;
use kpid::store::{StoredKpi, StoredSnapshot};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Two shops either side of UTC and the three CSV streams.
pub const BASE: &str = r#"
timezone = "Asia/Shanghai"

[storage]
url = "{db}"

[[shops]]
id = "sh"
timezone = "Asia/Shanghai"

[[shops]]
id = "la"
timezone = "America/Los_Angeles"
currency = "USD"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
path = "{dir}/imports/orders/*.csv"

[[connectors]]
name = "refunds"
kind = "csv"
stream = "refunds"
path = "{dir}/imports/refunds/*.csv"

[[connectors]]
name = "daily"
kind = "csv"
stream = "daily"
shop = "sh"
path = "{dir}/imports/daily/*.csv"
"#;

pub const ORDERS_HEADER: &str = "order_id,shop,paid_at,amount,buyer_id,status\n";
pub const REFUNDS_HEADER: &str = "refund_id,order_id,shop,refunded_at,amount\n";

/// The base configuration followed by `extra` TOML.
pub fn settings(db: &TestDb, extra: &str) -> Setup {
    db.settings(&format!("{BASE}\n{extra}"))
}

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub fn period(s: &str) -> Period {
    Period::parse_any(s).unwrap()
}

pub fn shop<'a>(settings: &'a Settings, id: &str) -> &'a Shop {
    settings.shop(id).unwrap()
}

/// Runs every configured connector once, in configuration order.
pub async fn ingest(db: &TestDb, settings: &Setup) -> Vec<ConnectorRun> {
    let mut out = Vec::new();
    for c in build_connectors(settings, &[]).unwrap() {
        out.push(run_connector(&db.store, &c, Window::default()).await);
    }
    out
}

/// Runs one named connector once.
pub async fn ingest_one(db: &TestDb, settings: &Setup, name: &str) -> ConnectorRun {
    let c = build_connectors(settings, &[name.to_string()])
        .unwrap()
        .pop()
        .unwrap();
    run_connector(&db.store, &c, Window::default()).await
}

/// Runs every connector and fails the test on any connector error.
pub async fn ingest_ok(db: &TestDb, settings: &Setup) -> Vec<ConnectorRun> {
    let runs = ingest(db, settings).await;
    for r in &runs {
        assert!(
            r.error.is_none(),
            "{}: connector {} failed: {:?}",
            db.backend,
            r.connector,
            r.error
        );
    }
    runs
}

pub async fn inputs(db: &TestDb, shop: &str, p: &str) -> InputValues {
    InputValues::load(&db.store, shop, period(p)).await.unwrap()
}

pub async fn compute(db: &TestDb, settings: &Settings, shop_id: &str, p: &str) -> Computed {
    kpid::snapshot::compute(settings, &db.store, shop(settings, shop_id), period(p))
        .await
        .unwrap()
}

pub fn line<'a>(kpis: &'a [StoredKpi], id: &str) -> &'a StoredKpi {
    kpis.iter()
        .find(|k| k.kpi == id)
        .unwrap_or_else(|| panic!("no line for KPI `{id}`"))
}

pub fn value(kpis: &[StoredKpi], id: &str) -> Option<Decimal> {
    line(kpis, id).measure.value
}

pub async fn stored(db: &TestDb, shop: &str, p: &str, revision: Option<i64>) -> StoredSnapshot {
    db.store
        .snapshot(shop, period(p), revision)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{}: no snapshot {shop} {p} {revision:?}", db.backend))
}
