//! CSV imports: idempotent re-imports, later files winning, bad rows kept
//! aside with their line, bad headers failing only their file.
mod common;
mod helpers;

use helpers::*;

#[tokio::test]
async fn reimporting_the_same_files_changes_nothing() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/orders/2026-10-01.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10.5,a,paid\n\
                 o2,sh,2026-10-01 11:00:00,20,b,paid\n"
            ),
        );
        db.write(
            "imports/orders/2026-10-02.csv",
            &format!("{ORDERS_HEADER}o3,sh,2026-10-02 10:00:00,30,a,paid\n"),
        );
        db.write(
            "imports/daily/2026-10.csv",
            "date,shop,pv,uv,visits\n2026-10-01,sh,100,40,50\n2026-10-02,sh,80,30,35\n",
        );
        let first = ingest_one(&db, &s, "orders").await;
        assert!(first.error.is_none(), "{b}: {:?}", first.error);
        assert_eq!(first.stats.records, 3, "{b}");
        assert_eq!(first.stats.changed, 3, "{b}");
        assert_eq!(first.stats.files_imported, 2, "{b}");
        let daily = ingest_one(&db, &s, "daily").await;
        assert_eq!(daily.stats.changed, 6, "{b}");
        let rev1 = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(rev1.revision, 1, "{b}");
        assert!(rev1.new_revision, "{b}");

        // Same files again: skipped, nothing changed, same snapshot revision.
        for run in ingest_ok(&db, &s).await {
            assert_eq!(run.stats.changed, 0, "{b}: {}", run.connector);
            assert_eq!(run.stats.files_imported, 0, "{b}: {}", run.connector);
        }
        let again = ingest_one(&db, &s, "orders").await;
        assert_eq!(again.stats.files_skipped, 2, "{b}");
        assert_eq!(again.stats.records, 0, "{b}");
        let rev = compute(&db, &s, "sh", "2026-10").await;
        assert_eq!(rev.revision, 1, "{b}");
        assert!(!rev.new_revision, "{b}");

        // The same rows under a new file name are read but change no row.
        db.write(
            "imports/orders/2026-10-03-copy.csv",
            &std::fs::read_to_string(db.path("imports/orders/2026-10-01.csv")).unwrap(),
        );
        let copy = ingest_one(&db, &s, "orders").await;
        assert!(copy.error.is_none(), "{b}: {:?}", copy.error);
        assert_eq!(copy.stats.files_imported, 1, "{b}");
        assert_eq!(copy.stats.records, 2, "{b}");
        assert_eq!(copy.stats.changed, 0, "{b}");
        assert!(!compute(&db, &s, "sh", "2026-10").await.new_revision, "{b}");
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("gmv"), Some(d("60.5")), "{b}");
        assert_eq!(v.get("pv"), Some(d("180")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn later_file_with_an_existing_order_id_replaces_the_earlier_row() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        // Written newest first: the lexical order of paths decides, not mtime.
        db.write(
            "imports/orders/2026-10-02.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-03 09:00:00,80,alice,paid\n"
            ),
        );
        db.write(
            "imports/orders/2026-10-01.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 09:00:00,100,alice,paid\n\
                 o2,sh,2026-10-01 10:00:00,5,bob,paid\n\
                 o2,sh,2026-10-01 10:00:00,6,bob,paid\n"
            ),
        );
        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(
            v.get("orders"),
            Some(d("2")),
            "{b}: replaced, not duplicated"
        );
        assert_eq!(
            v.get("gmv"),
            Some(d("86")),
            "{b}: 80 from the later file, 6 from the later row"
        );
        // The replacement moved the order to its new local day.
        assert_eq!(
            inputs(&db, "sh", "2026-10-01").await.get("gmv"),
            Some(d("6")),
            "{b}"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10-03").await.get("gmv"),
            Some(d("80")),
            "{b}"
        );

        // A later run with a cancellation replaces the row once more.
        db.write(
            "imports/orders/2026-10-05.csv",
            &format!("{ORDERS_HEADER}o1,sh,2026-10-03 09:00:00,80,alice,cancelled\n"),
        );
        let run = ingest_one(&db, &s, "orders").await;
        assert_eq!(run.stats.changed, 1, "{b}");
        assert_eq!(run.stats.files_skipped, 2, "{b}");
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("orders"), Some(d("1")), "{b}");
        assert_eq!(v.get("gmv"), Some(d("6")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn bad_rows_are_rejected_with_file_line_and_reason_while_good_rows_land() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        let path = db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o2,sh,2026-10-01 10:00:00,abc,a,paid\n\
                 o3,sh,31/10/2026,10,a,paid\n\
                 o4,nowhere,2026-10-01 10:00:00,10,a,paid\n\
                 ,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o6,sh,2026-10-02 10:00:00,2.25,b,paid\n\
                 o7,sh,2026-10-02 10:00:00,1.0000001,b,paid\n\
                 o8,sh,2026-10-02 10:00:00,-3,b,paid\n\
                 o9,sh,2026-10-02 10:00:00,3,b,refunded\n"
            ),
        );
        let path = path.display().to_string();
        let run = ingest_one(&db, &s, "orders").await;
        assert!(
            run.error.is_none(),
            "{b}: bad rows are not a failure: {:?}",
            run.error
        );
        assert_eq!(run.stats.rejects, 7, "{b}");
        assert_eq!(run.stats.records, 2, "{b}");
        assert_eq!(run.stats.files_imported, 1, "{b}");

        let expected = [
            ("line 3", "amount", "o2,"),
            ("line 4", "paid_at", "o3,"),
            ("line 5", "nowhere", "o4,"),
            ("line 6", "order_id: missing", ",sh,"),
            ("line 8", "amount", "o7,"),
            ("line 9", "negative", "o8,"),
            ("line 10", "status", "o9,"),
        ];
        let stored = db.store.rejects("orders").await.unwrap();
        assert_eq!(stored.len(), expected.len(), "{b}: {stored:#?}");
        for (locator, reason, raw) in expected {
            for (what, list) in [("run", &run.rejects), ("table", &stored)] {
                let r = list
                    .iter()
                    .find(|r| r.locator == locator)
                    .unwrap_or_else(|| panic!("{b}: {what}: no reject at {locator}: {list:#?}"));
                assert_eq!(r.source, path, "{b}");
                assert!(r.reason.contains(reason), "{b}: {locator}: {}", r.reason);
                assert!(r.raw.starts_with(raw), "{b}: {locator}: {}", r.raw);
            }
        }
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("orders"), Some(d("2")), "{b}");
        assert_eq!(v.get("gmv"), Some(d("12.25")), "{b}");

        // Rejects of the same place are not piled up when the file is fixed
        // and imported again.
        std::fs::write(
            &path,
            format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o2,sh,2026-10-01 10:00:00,abc2,a,paid\n"
            ),
        )
        .unwrap();
        let run = ingest_one(&db, &s, "orders").await;
        assert_eq!(run.stats.files_imported, 1, "{b}");
        let stored = db.store.rejects("orders").await.unwrap();
        let line3: Vec<_> = stored.iter().filter(|r| r.locator == "line 3").collect();
        assert_eq!(line3.len(), 1, "{b}: {stored:#?}");
        assert!(line3[0].raw.contains("abc2"), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn unknown_column_in_daily_header_fails_that_file_naming_the_column() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/daily/a.csv",
            "date,shop,pv,page_views\n2026-10-01,sh,10,10\n",
        );
        db.write(
            "imports/daily/b.csv",
            "date,shop,pv,uv\n2026-10-02,sh,100,40\n",
        );
        let run = ingest_one(&db, &s, "daily").await;
        let err = run
            .error
            .expect("an unknown column fails the run")
            .to_string();
        assert!(err.contains("`page_views`"), "{b}: {err}");
        assert!(err.contains("a.csv"), "{b}: {err}");
        // The other file still landed; the bad one landed nothing.
        assert_eq!(run.stats.files_imported, 1, "{b}");
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("pv"), Some(d("100")), "{b}");
        assert_eq!(v.get("uv"), Some(d("40")), "{b}");
        // The failed file is not marked imported: it is tried (and fails) again.
        let again = ingest_one(&db, &s, "daily").await;
        assert!(again.error.is_some(), "{b}");
        assert_eq!(again.stats.files_skipped, 1, "{b}");

        // Once fixed it imports.
        db.write(
            "imports/daily/a.csv",
            "date,shop,pv,visits\n2026-10-01,sh,10,4\n",
        );
        let fixed = ingest_one(&db, &s, "daily").await;
        assert!(fixed.error.is_none(), "{b}: {:?}", fixed.error);
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("pv"),
            Some(d("110")),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn daily_rows_use_the_connector_shop_and_an_empty_cell_clears_a_value() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/daily/a.csv",
            "date,pv,uv,keyword_rank\n2026-10-01,100,40,7\n2026-10-02,50,20,3\n",
        );
        assert!(ingest_one(&db, &s, "daily").await.error.is_none(), "{b}");
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("pv"), Some(d("150")), "{b}");
        assert_eq!(
            v.get("keyword_rank"),
            Some(d("3")),
            "{b}: latest, not summed"
        );
        // A corrected export with an empty uv cell removes that day's uv.
        db.write(
            "imports/daily/a.csv",
            "date,pv,uv,keyword_rank\n2026-10-01,100,40,7\n2026-10-02,50,,3\n",
        );
        let run = ingest_one(&db, &s, "daily").await;
        assert_eq!(run.stats.changed, 1, "{b}");
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("uv"), Some(d("40")), "{b}");
        assert_eq!(inputs(&db, "sh", "2026-10-02").await.get("uv"), None, "{b}");
        db.drop_db().await;
    }
}
