//! What the connector tests read back: exact decimals, the error a failed
//! run reports, stored per-dimension daily values, and configuration errors.

use super::TestDb;
use kpid::jobs::ConnectorRun;
use kpid::money::from_micros;
use kpid::period::{Days, LocalDay};
use rust_decimal::Decimal;
use sqlx::Row;
use std::str::FromStr;

/// An exact decimal from its text.
pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The error that ended `run` (`why` says why the run must have failed).
/// It names each of `named` — the connector, the credential to check, the
/// platform's code — and none of `secrets`: a credential never appears in
/// an error.
pub fn failure(run: &ConnectorRun, why: &str, named: &[&str], secrets: &[&str]) -> String {
    let msg = run.error.as_ref().expect(why).to_string();
    for n in named {
        assert!(msg.contains(n), "`{n}` is not named: {msg}");
    }
    for s in secrets {
        assert!(!msg.contains(s), "a credential leaked: {msg}");
    }
    msg
}

/// The value stored for `input` of one dimension (a campaign, an agent) on
/// `day` of `shop`, in units (facts hold micros).
pub async fn daily_value(
    db: &TestDb,
    shop: &str,
    day: LocalDay,
    input: &str,
    dimension: &str,
) -> Option<Decimal> {
    let aggs = db
        .store
        .daily_aggregates(shop, Days::one(day))
        .await
        .unwrap();
    aggs.get(input)
        .and_then(|a| a.by_dimension.get(dimension))
        .map(|m| Decimal::new(*m, 6).normalize())
}

/// Loads `toml` (`{dir}` replaced by a fresh temporary directory) as a
/// configuration file; the error it reports, if any.
pub fn load_config(toml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    std::fs::write(
        &path,
        toml.replace("{dir}", &dir.path().display().to_string()),
    )
    .unwrap();
    kpid::setup::load(&path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOrder {
    pub order_id: String,
    /// Unix seconds.
    pub paid_at: i64,
    pub local_day: String,
    pub amount: Decimal,
    pub buyer_id: Option<String>,
    pub status: String,
}

/// The stored orders of `shop`, by order id.
pub async fn stored_orders(db: &TestDb, shop: &str) -> Vec<StoredOrder> {
    crate::fetch_rows!(
        db.store,
        "SELECT order_id, paid_at, local_day, amount_micros, buyer_id, status FROM orders \
         WHERE shop = $1 ORDER BY order_id",
        [shop],
        |r| StoredOrder {
            order_id: r.get(0),
            paid_at: r.get(1),
            local_day: r.get(2),
            amount: from_micros(r.get(3)),
            buyer_id: r.get(4),
            status: r.get(5),
        }
    )
}

/// A shop's stored refunds as (refund id, order id, local day, amount),
/// sorted by refund id.
pub async fn stored_refunds(db: &TestDb, shop: &str) -> Vec<(String, String, String, Decimal)> {
    use sqlx::Row;
    let mut rows: Vec<(String, String, String, Decimal)> = crate::fetch_rows!(
        db.store,
        "SELECT refund_id, order_id, local_day, amount_micros FROM refunds WHERE shop = $1",
        [shop],
        |r| {
            (
                r.get::<String, _>(0),
                r.get::<String, _>(1),
                r.get::<String, _>(2),
                Decimal::new(r.get::<i64, _>(3), 6).normalize(),
            )
        }
    );
    rows.sort();
    rows
}

/// A user KPI equal to the `refund_amount` input, so a snapshot shows it
/// (add it to a test's configuration to read it with [`refund_kpis`]).
pub const REFUNDS_TOTAL_KPI: &str = r#"
[[kpis]]
id = "refunds_total"
formula = "refund_amount"
unit = "money"
direction = "down"
category = "satisfaction"
"#;

/// The snapshot of `shop` over `period` (`2026-03-05`, `2026-03`) as the
/// nightly job computes it: its `refund_rate` and `refunds_total` (the
/// `refund_amount` input; see [`REFUNDS_TOTAL_KPI`]), `None` where there is
/// no value.
pub async fn refund_kpis(
    db: &TestDb,
    settings: &kpid::settings::Settings,
    shop: &str,
    period: &str,
) -> (Option<Decimal>, Option<Decimal>) {
    let shop_cfg = settings.shop(shop).expect("a configured shop");
    let period = kpid::period::Period::parse_any(period).unwrap();
    let computed = kpid::snapshot::compute(settings, &db.store, shop_cfg, period)
        .await
        .unwrap();
    let value = |id: &str| {
        computed
            .kpis
            .iter()
            .find(|k| k.kpi == id)
            .unwrap_or_else(|| panic!("no `{id}` line"))
            .measure
            .value
            .map(|v| v.normalize())
    };
    (value("refund_rate"), value("refunds_total"))
}
