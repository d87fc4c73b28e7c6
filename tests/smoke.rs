mod common;

use kpid::facts::{Batch, DailyValue, Order, OrderStatus, Refund, Reject};
use kpid::money::Money;
use kpid::period::{Days, LocalDay};
use kpid::store::Store;

#[tokio::test]
async fn same_batch_twice_changes_nothing_the_second_time() {
    for db in common::backends().await {
        let order = Order {
            shop: "s".into(),
            order_id: "1".into(),
            paid_at: None,
            local_day: Some(LocalDay::from_ymd_opt(2026, 10, 1).unwrap()),
            amount: Money::from_micros(1_500_000),
            buyer_id: Some("b".into()),
            status: OrderStatus::Paid,
        };
        let batch = Batch {
            orders: vec![order],
            ..Default::default()
        };
        assert_eq!(
            db.store.commit_batch("c", &batch).await.unwrap(),
            1,
            "{}",
            db.backend
        );
        assert_eq!(
            db.store.commit_batch("c", &batch).await.unwrap(),
            0,
            "{}",
            db.backend
        );
        db.drop_db().await;
    }
}

fn order(id: &str, amount_micros: i64) -> Order {
    Order {
        shop: "s".into(),
        order_id: id.into(),
        paid_at: None,
        local_day: Some(LocalDay::from_ymd_opt(2026, 10, 1).unwrap()),
        amount: Money::from_micros(amount_micros),
        buyer_id: Some(format!("buyer-{id}")),
        status: OrderStatus::Paid,
    }
}

fn refund(id: &str, amount_micros: i64) -> Refund {
    Refund {
        shop: "s".into(),
        refund_id: id.into(),
        order_id: "1".into(),
        refunded_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        local_day: LocalDay::from_ymd_opt(2026, 10, 2).unwrap(),
        amount: Money::from_micros(amount_micros),
    }
}

/// A freshly opened store commits a page that mixes new, changed and
/// identical records (on PostgreSQL it first tries a plain insert, which
/// conflicts, and redoes the page as an upsert): only new and changed rows
/// count, and every row ends up as last sent.
#[tokio::test]
async fn a_page_of_new_changed_and_identical_records_counts_only_what_changed() {
    let days = Days::new(
        LocalDay::from_ymd_opt(2026, 9, 1).unwrap(),
        LocalDay::from_ymd_opt(2026, 11, 1).unwrap(),
    )
    .unwrap();
    for db in common::backends().await {
        let first = Batch {
            orders: vec![order("1", 1_000_000), order("2", 2_000_000)],
            refunds: vec![refund("r1", 500_000)],
            ..Default::default()
        };
        assert_eq!(db.store.commit_batch("c", &first).await.unwrap(), 3);

        let reopened = Store::connect(&db.url).await.unwrap();
        let mixed = Batch {
            orders: vec![
                order("1", 1_000_000),
                order("2", 2_500_000),
                order("3", 3_000_000),
            ],
            refunds: vec![refund("r1", 500_000), refund("r2", 250_000)],
            ..Default::default()
        };
        assert_eq!(
            reopened.commit_batch("c", &mixed).await.unwrap(),
            3,
            "{}: order 2 changed, order 3 and refund r2 new",
            db.backend
        );
        assert_eq!(reopened.commit_batch("c", &mixed).await.unwrap(), 0);
        let totals = reopened.record_totals("s", days).await.unwrap();
        assert_eq!(
            (totals.orders, totals.gmv.micros(), totals.buyers),
            (3, 6_500_000, 3),
            "{}",
            db.backend
        );
        assert_eq!(
            (totals.refund_orders, totals.refund_amount.micros()),
            (1, 750_000)
        );

        // A page with daily values and a reject takes the transaction path.
        let day = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
        let daily = |v: Option<i64>| DailyValue {
            shop: "s".into(),
            day,
            input: "ad_spend".into(),
            dimension: String::new(),
            value_micros: v,
        };
        let with_daily = Batch {
            orders: vec![order("3", 3_000_000), order("4", 4_000_000)],
            daily: vec![daily(Some(7_000_000))],
            rejects: vec![Reject {
                source: "page 1".into(),
                locator: "order 5".into(),
                reason: "bad amount".into(),
                raw: "{}".into(),
            }],
            ..Default::default()
        };
        let again = Store::connect(&db.url).await.unwrap();
        assert_eq!(again.commit_batch("c", &with_daily).await.unwrap(), 2);
        assert_eq!(again.commit_batch("c", &with_daily).await.unwrap(), 0);
        let cleared = Batch {
            daily: vec![daily(None)],
            ..Default::default()
        };
        assert_eq!(again.commit_batch("c", &cleared).await.unwrap(), 1);
        assert!(again.daily_rows("s", days).await.unwrap().is_empty());
        assert_eq!(again.rejects("c").await.unwrap().len(), 1);
        assert_eq!(again.record_totals("s", days).await.unwrap().orders, 4);
        reopened.close().await;
        again.close().await;
        db.drop_db().await;
    }
}

/// Pages committed side by side (PostgreSQL commits four at once) that
/// share records in opposite orders: each commit writes its rows in key
/// order, so the two never wait on each other's locks in a cycle (a
/// deadlock, SQLSTATE 40P01), and both land. The later page's values win
/// in whichever order the two commits finish, so only the count of rows is
/// asserted along with the absence of errors.
#[tokio::test]
async fn pages_sharing_records_in_opposite_orders_commit_side_by_side() {
    for db in common::backends().await {
        let ids: Vec<String> = (0..200).map(|i| format!("{i:04}")).collect();
        let seed = Batch {
            orders: ids.iter().map(|id| order(id, 1_000_000)).collect(),
            ..Default::default()
        };
        // Rows exist, so later commits update (and lock) them.
        db.store.commit_batch("c", &seed).await.unwrap();
        for round in 0..10 {
            let up = Batch {
                orders: ids.iter().map(|id| order(id, 2_000_000 + round)).collect(),
                ..Default::default()
            };
            let down = Batch {
                orders: ids
                    .iter()
                    .rev()
                    .map(|id| order(id, 3_000_000 + round))
                    .collect(),
                ..Default::default()
            };
            let (a, b) = tokio::join!(
                db.store.commit_batch("c", &up),
                db.store.commit_batch("c", &down)
            );
            assert!(
                a.is_ok() && b.is_ok(),
                "{} round {round}: {a:?} {b:?}",
                db.backend
            );
        }
        let day = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
        let totals = db.store.record_totals("s", Days::one(day)).await.unwrap();
        assert_eq!(totals.orders, 200, "{}", db.backend);
        db.drop_db().await;
    }
}
