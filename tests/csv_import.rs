//! CSV imports: idempotent re-imports, later files winning, bad rows kept
//! aside with their line, bad headers failing only their file.
mod common;
mod helpers;

use common::facts::{stored_orders, StoredOrder};
use helpers::*;
use kpid::connectors::csv::CsvFileError;
use kpid::connectors::{ConnectorError, FileError, HeaderError};

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
        let err = run.error.expect("an unknown column fails the run");
        match &err {
            ConnectorError::File { path, error, .. } => {
                assert!(path.ends_with("a.csv"), "{b}: {path}");
                assert!(
                    matches!(
                        &**error,
                        FileError::Csv(CsvFileError::Columns(HeaderError::UnknownInput { column }))
                            if column == "page_views"
                    ),
                    "{b}: {error:?}"
                );
            }
            other => panic!("{b}: not a file error: {other:?}"),
        }
        let shown = err.to_string();
        // The binary prints an error's chain: the file's error is said once.
        assert_eq!(format!("{:#}", anyhow::Error::new(err)), shown, "{b}");
        let err = shown;
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

fn unix(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp()
}

#[tokio::test]
async fn rows_with_too_many_or_too_few_fields_are_rejected_with_both_counts() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        // `1,234.50` unquoted: one field too many, not amount 1 and buyer "234.50".
        let path = db.write(
            "imports/orders/a.csv",
            "order_id,shop,paid_at,amount,buyer_id\n\
             A1,sh,2026-11-01 10:00:00,1,234.50,u1\n\
             A2,sh,2026-11-01 10:00:00,99.00,u2,extra,cells\n\
             A3,sh,2026-11-01 10:00:00,5\n\
             A4,sh,2026-11-01 11:00:00,7.50,u4\n",
        );
        let path = path.display().to_string();
        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.rejects, 3, "{b}: {:#?}", run.rejects);
        let stored = db.store.rejects("orders").await.unwrap();
        for (locator, found, raw) in [
            ("line 2", 6, "A1,sh,2026-11-01 10:00:00,1,234.50,u1"),
            (
                "line 3",
                7,
                "A2,sh,2026-11-01 10:00:00,99.00,u2,extra,cells",
            ),
            ("line 4", 4, "A3,sh,2026-11-01 10:00:00,5"),
        ] {
            let r = stored
                .iter()
                .find(|r| r.locator == locator)
                .unwrap_or_else(|| panic!("{b}: no reject at {locator}: {stored:#?}"));
            assert_eq!(r.source, path, "{b}");
            assert!(
                r.reason
                    .contains(&format!("expected 5 fields, found {found}")),
                "{b}: {locator}: {}",
                r.reason
            );
            assert_eq!(r.raw, raw, "{b}");
        }
        let v = inputs(&db, "sh", "2026-11").await;
        assert_eq!(v.get("orders"), Some(d("1")), "{b}");
        assert_eq!(v.get("gmv"), Some(d("7.5")), "{b}");
        db.drop_db().await;
    }
}

const TITLED: &str = r#"
[[connectors]]
name = "titled"
kind = "csv"
stream = "orders"
path = "{dir}/imports/titled/*.csv"
skip_rows = 2
"#;

#[tokio::test]
async fn crlf_files_reject_a_row_at_its_own_line_with_its_raw_text() {
    for db in common::backends().await {
        let s = settings(&db, TITLED);
        let b = db.backend;
        let header = ORDERS_HEADER.trim_end();
        // A quoted cell spanning two lines moves the rows below it down one.
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{header}\r\n\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\r\n\
                 o2,sh,2026-10-01 10:00:00,abc,a,paid\r\n\
                 o3,sh,2026-10-01 10:00:00,1,\"two\r\nlines\",paid\r\n\
                 o4,sh,2026-10-01 10:00:00,xyz,a,paid\r\n"
            ),
        );
        db.write(
            "imports/titled/a.csv",
            &format!(
                "Orders export 2026-10\r\n\r\n{header}\r\n\
                 t1,sh,2026-10-01 10:00:00,10,a,paid\r\n\
                 t2,sh,2026-10-01 10:00:00,abc,a,paid\r\n"
            ),
        );
        for (connector, expected) in [
            (
                "orders",
                vec![
                    ("line 3", "o2,sh,2026-10-01 10:00:00,abc,a,paid"),
                    ("line 6", "o4,sh,2026-10-01 10:00:00,xyz,a,paid"),
                ],
            ),
            (
                "titled",
                vec![("line 5", "t2,sh,2026-10-01 10:00:00,abc,a,paid")],
            ),
        ] {
            let run = ingest_one(&db, &s, connector).await;
            assert!(run.error.is_none(), "{b}: {:?}", run.error);
            let stored = db.store.rejects(connector).await.unwrap();
            let mut got: Vec<(&str, &str)> = stored
                .iter()
                .map(|r| (r.locator.as_str(), r.raw.as_str()))
                .collect();
            got.sort();
            assert_eq!(got, expected, "{b}: {connector}");
        }
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("orders"),
            Some(d("3")),
            "{b}: o1, o3 and t1"
        );
        db.drop_db().await;
    }
}

const TMALL_COLUMNS: &str = r#"columns = { order_id = "订单编号", paid_at = "订单付款时间", amount = "买家实际支付金额", buyer_id = "买家会员名" }"#;

/// A Tmall order export as Excel saves it on a Chinese Windows: GBK with
/// CRLF line ends, written by iconv (`tests/fixtures/csv`).
const GBK_EXPORT: &[u8] = include_bytes!("fixtures/csv/tmall-orders-gbk.csv");

#[tokio::test]
async fn a_gbk_export_imports_through_the_encoding_option_and_a_column_mapping() {
    for db in common::backends().await {
        let s = settings(
            &db,
            &format!(
                "[[connectors]]\nname = \"tmall\"\nkind = \"csv\"\nstream = \"orders\"\nshop = \"sh\"\n\
                 path = \"{{dir}}/imports/tmall/*.csv\"\nencoding = \"gbk\"\n{TMALL_COLUMNS}\n"
            ),
        );
        let b = db.backend;
        let path = db.path("imports/tmall/orders.csv");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, GBK_EXPORT).unwrap();
        let run = ingest_one(&db, &s, "tmall").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.records, 2, "{b}");
        let order = |id: &str, paid: &str, amount: &str, buyer: Option<&str>| StoredOrder {
            order_id: id.into(),
            paid_at: unix(paid),
            local_day: "2026-11-01".into(),
            amount: d(amount),
            buyer_id: buyer.map(String::from),
            status: "paid".into(),
        };
        assert_eq!(
            stored_orders(&db, "sh").await,
            vec![
                order("T1001", "2026-11-01T00:30:00+08:00", "129.9", Some("张三")),
                order("T1002", "2026-11-01T10:00:00+08:00", "59.9", None),
            ],
            "{b}"
        );
        // The bad row is kept as readable text, at its line.
        let rejects = db.store.rejects("tmall").await.unwrap();
        assert_eq!(rejects.len(), 1, "{b}: {rejects:#?}");
        assert_eq!(rejects[0].locator, "line 4", "{b}");
        assert!(
            rejects[0].reason.contains("五十"),
            "{b}: {}",
            rejects[0].reason
        );
        assert_eq!(
            rejects[0].raw, "T1003,2026-11-01 11:00:00,五十,王五,茶叶",
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_file_that_is_not_utf8_fails_suggesting_the_encoding_option() {
    for db in common::backends().await {
        let s = settings(
            &db,
            &format!(
                "[[connectors]]\nname = \"tmall\"\nkind = \"csv\"\nstream = \"orders\"\nshop = \"sh\"\n\
                 path = \"{{dir}}/imports/tmall/*.csv\"\n{TMALL_COLUMNS}\n"
            ),
        );
        let b = db.backend;
        let path = db.path("imports/tmall/a-gbk.csv");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, GBK_EXPORT).unwrap();
        // An ASCII header over GBK cells (张三): the rows are what cannot be read.
        let mut ascii_header = format!("{ORDERS_HEADER}o1,sh,2026-11-01 10:00:00,10,").into_bytes();
        ascii_header.extend_from_slice(b"\xd5\xc5\xc8\xfd,paid\n");
        std::fs::create_dir_all(db.path("imports/orders")).unwrap();
        std::fs::write(db.path("imports/orders/b-gbk.csv"), &ascii_header).unwrap();
        db.write(
            "imports/tmall/b-utf8.csv",
            "订单编号,订单付款时间,买家实际支付金额,买家会员名\nU1,2026-11-02 10:00:00,8,李四\n",
        );
        for (connector, file) in [("tmall", "a-gbk.csv"), ("orders", "b-gbk.csv")] {
            let run = ingest_one(&db, &s, connector).await;
            let err = run
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("{b}: {connector}: a GBK file fails"))
                .to_string();
            assert!(err.contains(file), "{b}: {err}");
            assert!(err.contains("UTF-8"), "{b}: {err}");
            assert!(err.contains("encoding = \"gb18030\""), "{b}: {err}");
            assert_eq!(run.stats.rejects, 0, "{b}: the file fails, not its rows");
        }
        // The UTF-8 file beside it landed.
        let v = inputs(&db, "sh", "2026-11").await;
        assert_eq!(v.get("orders"), Some(d("1")), "{b}");
        assert_eq!(v.get("gmv"), Some(d("8")), "{b}");
        db.drop_db().await;
    }
}

#[test]
fn the_encoding_option_is_checked_at_load() {
    let load = |encoding: &str| {
        common::facts::load_config(&format!(
            r#"
timezone = "Asia/Shanghai"
[storage]
url = "sqlite://{{dir}}/kpid.db"
[[shops]]
id = "sh"
[[connectors]]
name = "tmall"
kind = "csv"
stream = "orders"
shop = "sh"
path = "imports/*.csv"
{encoding}
"#
        ))
    };
    assert!(load("").is_ok());
    for ok in ["utf-8", "UTF-8", "gbk", "gb18030", "GB18030"] {
        assert!(load(&format!("encoding = \"{ok}\"")).is_ok(), "{ok}");
    }
    let e = load("encoding = \"gb2313\"").unwrap_err();
    assert!(e.contains("encoding") && e.contains("gb2313"), "{e}");
    assert!(e.contains("gb18030"), "the message names what works: {e}");
}

#[tokio::test]
async fn duplicate_keys_inside_one_file_are_counted_and_the_last_row_wins() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o2,sh,2026-10-01 10:00:00,20,b,paid\n\
                 o1,sh,2026-10-01 10:00:00,11,a,paid\n\
                 o1,sh,2026-10-01 10:00:00,12,a,paid\n"
            ),
        );
        // The same id in another file is a replacement, not a duplicate.
        db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}o2,sh,2026-10-01 10:00:00,21,b,paid\n"),
        );
        db.write(
            "imports/daily/a.csv",
            "date,dimension,pv\n2026-10-01,,5\n2026-10-01,ads,3\n2026-10-01,,7\n",
        );
        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.duplicates, 2, "{b}");
        assert_eq!(run.stats.records, 5, "{b}");
        let daily = ingest_one(&db, &s, "daily").await;
        assert_eq!(daily.stats.duplicates, 1, "{b}");
        let v = inputs(&db, "sh", "2026-10-01").await;
        assert_eq!(v.get("orders"), Some(d("2")), "{b}");
        assert_eq!(v.get("gmv"), Some(d("33")), "{b}: 12 and 21, the last rows");
        assert_eq!(v.get("pv"), Some(d("10")), "{b}: 7 and 3");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn long_ids_underscored_numbers_and_long_values_are_rejected_and_cut() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        let long_id = "x".repeat(257);
        let long_buyer = "b".repeat(300);
        let long_status = "z".repeat(5000);
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,1_000,a,paid\n\
                 {long_id},sh,2026-10-01 10:00:00,1,a,paid\n\
                 o3,sh,2026-10-01 10:00:00,1,{long_buyer},paid\n\
                 o4,sh,2026-10-01 10:00:00,1,a,{long_status}\n\
                 {},sh,2026-10-01 10:00:00,2,a,paid\n",
                "y".repeat(256)
            ),
        );
        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        let stored = db.store.rejects("orders").await.unwrap();
        assert_eq!(stored.len(), 4, "{b}: {stored:#?}");
        let at = |line: &str| {
            stored
                .iter()
                .find(|r| r.locator == line)
                .unwrap_or_else(|| panic!("{b}: no reject at {line}: {stored:#?}"))
        };
        assert!(at("line 2").reason.contains("amount"), "{b}");
        assert!(at("line 2").reason.contains("1_000"), "{b}");
        let id = &at("line 3").reason;
        assert!(
            id.contains("order_id") && id.contains("256 bytes"),
            "{b}: {id}"
        );
        let buyer = &at("line 4").reason;
        assert!(
            buyer.contains("buyer_id") && buyer.contains("256 bytes"),
            "{b}: {buyer}"
        );
        // The bad value is echoed cut to 200 characters; the raw row is whole.
        let status = at("line 5");
        assert!(status.reason.contains(&"z".repeat(200)), "{b}");
        assert!(!status.reason.contains(&"z".repeat(201)), "{b}");
        assert!(status.reason.len() < 400, "{b}: {}", status.reason.len());
        assert!(status.raw.ends_with(&long_status), "{b}");
        for r in &stored {
            assert!(r.reason.chars().count() < 400, "{b}: {}", r.reason);
        }
        // A 256-byte id is still an id.
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("orders"), Some(d("1")), "{b}");
        assert_eq!(v.get("gmv"), Some(d("2")), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_fixed_file_clears_its_old_rejects() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        let bad = |id: &str| format!("{id},sh,2026-10-01 10:00:00,abc,a,paid\n");
        let a = db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}o1,sh,2026-10-01 10:00:00,10,a,paid\n{}{}",
                bad("o2"),
                bad("o3")
            ),
        );
        let other = db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}{}", bad("p1")),
        );
        ingest_one(&db, &s, "orders").await;
        assert_eq!(db.store.rejects("orders").await.unwrap().len(), 3, "{b}");

        std::fs::write(
            &a,
            format!(
                "{ORDERS_HEADER}o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o2,sh,2026-10-01 10:00:00,2,a,paid\n\
                 o3,sh,2026-10-01 10:00:00,3,a,paid\n"
            ),
        )
        .unwrap();
        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.files_imported, 1, "{b}");
        let left = db.store.rejects("orders").await.unwrap();
        assert_eq!(left.len(), 1, "{b}: {left:#?}");
        assert_eq!(
            left[0].source,
            other.display().to_string(),
            "{b}: another file's rejects stay"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("gmv"),
            Some(d("15")),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn an_empty_file_is_skipped_with_a_warning_not_a_failure() {
    let logs = common::logs::Logs::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    for db in common::backends().await {
        let s = settings(
            &db,
            "[[connectors]]\nname = \"xl\"\nkind = \"xlsx\"\nstream = \"orders\"\n\
             path = \"{dir}/imports/xl/*.xlsx\"\n",
        );
        let b = db.backend;
        db.write("imports/orders/a-empty.csv", "");
        db.write(
            "imports/orders/b.csv",
            &format!("{ORDERS_HEADER}o1,sh,2026-10-01 10:00:00,10,a,paid\n"),
        );
        db.write("imports/xl/empty.xlsx", "");
        for _ in 0..2 {
            for name in ["orders", "xl"] {
                let run = ingest_one(&db, &s, name).await;
                assert!(run.error.is_none(), "{b}: {name}: {:?}", run.error);
            }
        }
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("gmv"),
            Some(d("10")),
            "{b}"
        );
        db.drop_db().await;
    }
    let text = logs.text();
    assert!(
        text.contains("a-empty.csv") && text.contains("empty file"),
        "the empty file is named in a warning"
    );
    assert!(text.contains("empty.xlsx"), "the empty workbook too");
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlink_loop_under_double_star_imports_each_file_once() {
    for db in common::backends().await {
        let s = settings(
            &db,
            "[[connectors]]\nname = \"tree\"\nkind = \"csv\"\nstream = \"orders\"\n\
             path = \"{dir}/imports/tree/**/*.csv\"\n",
        );
        let b = db.backend;
        db.write(
            "imports/tree/a.csv",
            &format!("{ORDERS_HEADER}o1,sh,2026-10-01 10:00:00,10,a,paid\n"),
        );
        db.write(
            "imports/tree/2026/10/b.csv",
            &format!("{ORDERS_HEADER}o2,sh,2026-10-01 10:00:00,5,a,paid\n"),
        );
        // A link back up the tree: `2026/10/up/2026/10/up/…` never ends.
        std::os::unix::fs::symlink(db.path("imports/tree"), db.path("imports/tree/2026/10/up"))
            .unwrap();
        let run = ingest_one(&db, &s, "tree").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.files_imported, 2, "{b}");
        assert_eq!(run.stats.records, 2, "{b}");
        let again = ingest_one(&db, &s, "tree").await;
        assert_eq!(again.stats.files_skipped, 2, "{b}");
        assert_eq!(again.stats.files_imported, 0, "{b}");
        db.drop_db().await;
    }
}
