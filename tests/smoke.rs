mod common;

use kpid::facts::{Batch, Order, OrderStatus};

#[tokio::test]
async fn same_batch_twice_changes_nothing_the_second_time() {
    for db in common::backends().await {
        let order = Order {
            shop: "s".into(),
            order_id: "1".into(),
            paid_at: None,
            local_day: Some(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()),
            amount_micros: 1_500_000,
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
