//! XLSX imports and the `columns` / `skip_rows` options shared with CSV:
//! real workbooks written with rust_xlsxwriter, Chinese platform headers
//! mapped to kpid's columns, float and date cells read exactly, bad rows
//! kept aside with their sheet and row.
mod common;
mod helpers;

use chrono::NaiveDateTime;
use common::facts::stored_orders;
use helpers::*;
use kpid::connectors::xlsx::{SheetProblem, WorkbookError};
use kpid::connectors::{ConnectorError, FileError, HeaderError};
use kpid::money::from_micros;
use rust_decimal::Decimal;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use sqlx::Row;
use std::path::Path;

const EXTRA: &str = r#"
[[connectors]]
name = "traffic"
kind = "xlsx"
stream = "daily"
shop = "sh"
path = "{dir}/imports/traffic/*.xlsx"
sheet = "流量"
skip_rows = 2
columns = { date = "统计日期", pv = "浏览量", uv = "访客数", visits = "访问次数" }

[[connectors]]
name = "xorders"
kind = "xlsx"
stream = "orders"
shop = "la"
path = "{dir}/imports/xorders/*.xlsx"
columns = { order_id = "订单编号", paid_at = "付款时间", amount = "实付金额", buyer_id = "买家会员名" }

[[connectors]]
name = "tborders"
kind = "csv"
stream = "orders"
shop = "sh"
path = "{dir}/imports/taobao/*.csv"
skip_rows = 1
columns = { order_id = "订单编号", paid_at = "付款时间", amount = "实付金额", buyer_id = "买家会员名" }
"#;

/// A cell of a test sheet.
enum C {
    S(&'static str),
    N(f64),
    /// A date-time cell with a date number format, as Excel stores it.
    T(&'static str, &'static str),
    Blank,
}

fn workbook(path: &Path, sheets: &[(&str, Vec<Vec<C>>)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut book = Workbook::new();
    for (name, rows) in sheets {
        let ws = book.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    C::S(s) => {
                        ws.write_string(r, c, *s).unwrap();
                    }
                    C::N(n) => {
                        ws.write_number(r, c, *n).unwrap();
                    }
                    C::T(t, fmt) => {
                        let dt = ExcelDateTime::parse_from_str(t).unwrap();
                        let f = Format::new().set_num_format(*fmt);
                        ws.write_datetime_with_format(r, c, &dt, &f).unwrap();
                    }
                    C::Blank => {}
                }
            }
        }
    }
    book.save(path).unwrap();
}

async fn daily(db: &common::TestDb, shop: &str) -> Vec<(String, String, Decimal)> {
    crate::fetch_rows!(
        db.store,
        "SELECT day, input, value_micros FROM daily_values WHERE shop = $1 ORDER BY day, input",
        [shop],
        |r| (r.get(0), r.get(1), from_micros(r.get(2)))
    )
}

fn utc(s: &str) -> i64 {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp()
}

#[tokio::test]
async fn shengyi_canmou_traffic_sheet_maps_chinese_headers_below_title_rows() {
    for db in common::backends().await {
        let s = settings(&db, EXTRA);
        let b = db.backend;
        let path = db.path("imports/traffic/2026-10.xlsx");
        let data = vec![
            vec![C::S("生意参谋 - 流量 - 店铺概况")],
            vec![C::S("统计时间：2026-10-01 ~ 2026-10-03")],
            vec![],
            vec![
                C::S("统计日期"),
                C::S("访客数"),
                C::S("浏览量"),
                C::S("跳失率"),
                C::S("访问次数"),
                C::S("人均浏览量"),
            ],
            vec![
                C::S("2026-10-01"),
                C::N(40.0),
                C::N(100.0),
                C::N(0.35),
                C::N(50.0),
                C::N(2.5),
            ],
            vec![
                C::T("2026-10-02", "yyyy-mm-dd"),
                C::N(30.0),
                C::N(80.0),
                C::S("40.00%"),
                C::N(35.0),
                C::N(2.6666666666666665),
            ],
            vec![
                C::S("2026-10-03"),
                C::S("abc"),
                C::N(10.0),
                C::Blank,
                C::N(5.0),
            ],
        ];
        // A first sheet that is not the one configured.
        let notes = vec![vec![C::S("说明")], vec![C::S("本表由生意参谋导出")]];
        workbook(&path, &[("说明", notes), ("流量", data)]);
        let run = ingest_one(&db, &s, "traffic").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.files_imported, 1, "{b}");
        assert_eq!(run.stats.records, 6, "{b}: two good days of three inputs");
        assert_eq!(run.stats.rejects, 1, "{b}");

        let want = [
            ("2026-10-01", "pv", "100"),
            ("2026-10-01", "uv", "40"),
            ("2026-10-01", "visits", "50"),
            ("2026-10-02", "pv", "80"),
            ("2026-10-02", "uv", "30"),
            ("2026-10-02", "visits", "35"),
        ];
        let got = daily(&db, "sh").await;
        assert_eq!(
            got,
            want.iter()
                .map(|(day, input, v)| (day.to_string(), input.to_string(), d(v)))
                .collect::<Vec<_>>(),
            "{b}"
        );
        let v = inputs(&db, "sh", "2026-10").await;
        assert_eq!(v.get("pv"), Some(d("180")), "{b}");
        assert_eq!(v.get("uv"), Some(d("70")), "{b}");

        // Row 7 as Excel numbers it: three title rows (one blank), the header, two days.
        let rejects = db.store.rejects("traffic").await.unwrap();
        assert_eq!(rejects.len(), 1, "{b}: {rejects:#?}");
        let r = &rejects[0];
        assert_eq!(r.source, path.display().to_string(), "{b}");
        assert_eq!(r.locator, "sheet 流量 row 7", "{b}");
        assert!(r.reason.contains("uv"), "{b}: {}", r.reason);
        assert_eq!(r.raw, "2026-10-03 | abc | 10 |  | 5", "{b}");

        // Unchanged: skipped, nothing changes.
        let again = ingest_one(&db, &s, "traffic").await;
        assert!(again.error.is_none(), "{b}: {:?}", again.error);
        assert_eq!(again.stats.files_skipped, 1, "{b}");
        assert_eq!(again.stats.files_imported, 0, "{b}");
        assert_eq!(again.stats.changed, 0, "{b}");
        assert_eq!(daily(&db, "sh").await, got, "{b}");
        assert_eq!(db.store.rejects("traffic").await.unwrap().len(), 1, "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn xlsx_orders_read_float_amounts_and_date_cells_exactly_in_the_shop_zone() {
    for db in common::backends().await {
        let s = settings(&db, EXTRA);
        let b = db.backend;
        let header = || {
            vec![
                C::S("订单编号"),
                C::S("买家会员名"),
                C::S("宝贝标题"),
                C::S("付款时间"),
                C::S("实付金额"),
                C::S("订单状态"),
            ]
        };
        let path = db.path("imports/xorders/2026-10-01.xlsx");
        let rows = vec![
            header(),
            // A date-time cell: 20:30 in Los Angeles is 03:30 UTC the next day.
            vec![
                C::S("T1001"),
                C::S("alice"),
                C::S("马克杯"),
                C::T("2026-10-01 20:30:00", "yyyy-mm-dd hh:mm:ss"),
                C::N(19.99),
                C::S("交易成功"),
            ],
            // A numeric id, a text time, float noise in the amount.
            vec![
                C::N(1002.0),
                C::S("bob"),
                C::S("碗"),
                C::S("2026-10-02 09:15:00"),
                C::N(19.989999999),
                C::S("交易成功"),
            ],
            vec![
                C::S("T1003"),
                C::S("carol"),
                C::S("盘子"),
                C::T("2026-10-02 10:00:00", "yyyy-mm-dd hh:mm"),
                C::S("abc"),
                C::S("交易成功"),
            ],
            vec![],
            vec![
                C::S("T1005"),
                C::S("dave"),
                C::S("勺子"),
                C::T("2026-10-03 08:00:00", "yyyy-mm-dd hh:mm"),
                C::N(0.1 + 0.2),
                C::S("交易成功"),
            ],
            vec![
                C::S("T1006"),
                C::Blank,
                C::S("筷子"),
                C::T("2026-10-03 08:00:00", "yyyy-mm-dd hh:mm"),
                C::N(-5.0),
            ],
        ];
        workbook(&path, &[("订单", rows)]);
        let run = ingest_one(&db, &s, "xorders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.records, 3, "{b}");
        assert_eq!(run.stats.rejects, 2, "{b}");
        assert_eq!(run.stats.files_imported, 1, "{b}");

        let got = stored_orders(&db, "la").await;
        let ids: Vec<&str> = got.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids, ["1002", "T1001", "T1005"], "{b}");
        let (o1002, t1001, t1005) = (&got[0], &got[1], &got[2]);
        assert_eq!(t1001.amount, d("19.99"), "{b}");
        assert_eq!(t1001.paid_at, utc("2026-10-02 03:30:00"), "{b}");
        assert_eq!(t1001.local_day, "2026-10-01", "{b}: the Los Angeles day");
        assert_eq!(t1001.buyer_id.as_deref(), Some("alice"), "{b}");
        assert_eq!(t1001.status, "paid", "{b}");
        assert_eq!(o1002.amount, d("19.99"), "{b}: float noise rounded away");
        assert_eq!(o1002.paid_at, utc("2026-10-02 16:15:00"), "{b}");
        assert_eq!(o1002.local_day, "2026-10-02", "{b}");
        assert_eq!(t1005.amount, d("0.3"), "{b}");
        assert_eq!(t1005.local_day, "2026-10-03", "{b}");
        assert_eq!(
            inputs(&db, "la", "2026-10").await.get("gmv"),
            Some(d("40.28")),
            "{b}"
        );
        assert_eq!(
            inputs(&db, "la", "2026-10-01").await.get("gmv"),
            Some(d("19.99")),
            "{b}"
        );

        let rejects = db.store.rejects("xorders").await.unwrap();
        let at = |loc: &str| {
            rejects
                .iter()
                .find(|r| r.locator == loc)
                .unwrap_or_else(|| panic!("{b}: no reject at {loc}: {rejects:#?}"))
        };
        let r = at("sheet 订单 row 4");
        assert_eq!(r.source, path.display().to_string(), "{b}");
        assert!(r.reason.contains("amount"), "{b}: {}", r.reason);
        assert_eq!(
            r.raw, "T1003 | carol | 盘子 | 2026-10-02 10:00:00 | abc | 交易成功",
            "{b}"
        );
        let r = at("sheet 订单 row 7");
        assert!(r.reason.contains("negative"), "{b}: {}", r.reason);
        assert!(r.raw.starts_with("T1006 |  | 筷子"), "{b}: {}", r.raw);
        assert_eq!(rejects.len(), 2, "{b}");

        // Re-import changes nothing.
        let again = ingest_one(&db, &s, "xorders").await;
        assert!(again.error.is_none(), "{b}: {:?}", again.error);
        assert_eq!(again.stats.files_skipped, 1, "{b}");
        assert_eq!(again.stats.records, 0, "{b}");
        assert_eq!(again.stats.changed, 0, "{b}");

        // A later workbook replaces an order; one lacking a mapped header fails
        // alone, naming the column and the header.
        workbook(
            &db.path("imports/xorders/2026-10-02.xlsx"),
            &[(
                "Sheet1",
                vec![
                    header(),
                    vec![
                        C::S("T1001"),
                        C::S("alice"),
                        C::S("马克杯"),
                        C::T("2026-10-01 20:30:00", "yyyy-mm-dd hh:mm:ss"),
                        C::N(25.5),
                    ],
                ],
            )],
        );
        workbook(
            &db.path("imports/xorders/2026-10-03.xlsx"),
            &[(
                "Sheet1",
                vec![
                    vec![
                        C::S("订单编号"),
                        C::S("买家会员名"),
                        C::S("付款时间"),
                        C::S("金额"),
                    ],
                    vec![
                        C::S("T9"),
                        C::S("x"),
                        C::S("2026-10-03 08:00:00"),
                        C::N(1.0),
                    ],
                ],
            )],
        );
        let later = ingest_one(&db, &s, "xorders").await;
        let err = later.error.expect("a missing header fails its file");
        // The error says where: the file, the sheet, the header row, the column.
        match &err {
            ConnectorError::File { path, error, .. } => {
                assert!(path.ends_with("2026-10-03.xlsx"), "{b}: {path}");
                assert!(
                    matches!(
                        &**error,
                        FileError::Xlsx(WorkbookError::Sheet {
                            sheet,
                            problem: SheetProblem::Header {
                                row: 1,
                                error: HeaderError::MappedHeaderMissing { column, header },
                            },
                        }) if sheet == "Sheet1" && column == "amount" && header == "实付金额"
                    ),
                    "{b}: {error:?}"
                );
            }
            other => panic!("{b}: not a file error: {other:?}"),
        }
        let err = err.to_string();
        assert!(err.contains("2026-10-03.xlsx"), "{b}: {err}");
        assert!(
            err.contains("`amount`") && err.contains("`实付金额`"),
            "{b}: {err}"
        );
        assert_eq!(later.stats.files_imported, 1, "{b}");
        assert_eq!(later.stats.changed, 1, "{b}");
        let got = stored_orders(&db, "la").await;
        assert_eq!(got.len(), 3, "{b}");
        assert_eq!(got[1].order_id, "T1001", "{b}");
        assert_eq!(got[1].amount, d("25.5"), "{b}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn csv_with_a_column_mapping_ignores_extra_columns_and_skips_title_lines() {
    for db in common::backends().await {
        let s = settings(&db, EXTRA);
        let b = db.backend;
        let path = db.write(
            "imports/taobao/ExportOrderList202610.csv",
            "\u{feff}淘宝卖家中心 订单导出\n\
             订单编号,买家会员名,买家应付货款,实付金额,订单状态,付款时间,宝贝标题\n\
             T1,tom,20.00,19.90,交易成功,2026-10-01 23:30:00,马克杯\n\
             T2,ann,5,5.10,交易成功,2026-10-02 00:10:00,\"碗, 大号\"\n\
             T3,ann,1,x,交易成功,2026-10-02 00:10:00,碗\n",
        );
        let run = ingest_one(&db, &s, "tborders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.records, 2, "{b}");
        assert_eq!(run.stats.rejects, 1, "{b}");
        let got = stored_orders(&db, "sh").await;
        assert_eq!(got.len(), 2, "{b}");
        assert_eq!(
            (
                got[0].order_id.as_str(),
                got[0].amount,
                got[0].local_day.as_str()
            ),
            ("T1", d("19.9"), "2026-10-01"),
            "{b}"
        );
        assert_eq!(got[0].paid_at, utc("2026-10-01 15:30:00"), "{b}");
        assert_eq!(got[0].buyer_id.as_deref(), Some("tom"), "{b}");
        assert_eq!(
            (
                got[1].order_id.as_str(),
                got[1].amount,
                got[1].local_day.as_str()
            ),
            ("T2", d("5.1"), "2026-10-02"),
            "{b}: 00:10 in Shanghai is the 2nd"
        );
        assert_eq!(
            got[1].status, "paid",
            "{b}: the unmapped status column is ignored"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("gmv"),
            Some(d("25")),
            "{b}"
        );
        // Lines count from the top of the file, title line included.
        let rejects = db.store.rejects("tborders").await.unwrap();
        assert_eq!(rejects.len(), 1, "{b}: {rejects:#?}");
        assert_eq!(rejects[0].locator, "line 5", "{b}");
        assert_eq!(rejects[0].source, path.display().to_string(), "{b}");
        assert!(rejects[0].reason.contains("amount"), "{b}");
        assert!(
            rejects[0].raw.starts_with("T3,ann,1,x,"),
            "{b}: {}",
            rejects[0].raw
        );

        let again = ingest_one(&db, &s, "tborders").await;
        assert_eq!(again.stats.files_skipped, 1, "{b}");
        assert_eq!(again.stats.changed, 0, "{b}");

        // A mapped header the file lacks fails that file, naming both.
        db.write(
            "imports/taobao/ExportOrderList202611.csv",
            "标题\n订单编号,买家会员名,付款时间,金额\nT9,x,2026-11-01 10:00:00,1\n",
        );
        let err = ingest_one(&db, &s, "tborders")
            .await
            .error
            .expect("missing mapped header")
            .to_string();
        assert!(err.contains("ExportOrderList202611.csv"), "{b}: {err}");
        assert!(
            err.contains("`amount`") && err.contains("`实付金额`"),
            "{b}: {err}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn text_cells_are_checked_like_csv_cells() {
    let long_id: &'static str = Box::leak("x".repeat(257).into_boxed_str());
    for db in common::backends().await {
        let s = settings(&db, EXTRA);
        let b = db.backend;
        let order = |id: &'static str, amount: &'static str| {
            vec![
                C::S(id),
                C::S("alice"),
                C::S("碗"),
                C::S("2026-10-02 09:15:00"),
                C::S(amount),
            ]
        };
        let header = vec![
            C::S("订单编号"),
            C::S("买家会员名"),
            C::S("宝贝标题"),
            C::S("付款时间"),
            C::S("实付金额"),
        ];
        let rows = vec![
            header,
            order("T1", "1_000"),
            order(long_id, "5"),
            order("T3", "7.50"),
        ];
        workbook(&db.path("imports/xorders/a.xlsx"), &[("订单", rows)]);
        let run = ingest_one(&db, &s, "xorders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        let rejects = db.store.rejects("xorders").await.unwrap();
        assert_eq!(rejects.len(), 2, "{b}: {rejects:#?}");
        let at = |loc: &str| {
            rejects
                .iter()
                .find(|r| r.locator == loc)
                .unwrap_or_else(|| panic!("{b}: no reject at {loc}: {rejects:#?}"))
        };
        assert!(
            at("sheet 订单 row 2")
                .reason
                .contains("`1_000` is not a decimal"),
            "{b}: {}",
            at("sheet 订单 row 2").reason
        );
        assert!(
            at("sheet 订单 row 3").reason.contains("257 bytes"),
            "{b}: {}",
            at("sheet 订单 row 3").reason
        );
        let ids: Vec<String> = stored_orders(&db, "la")
            .await
            .into_iter()
            .map(|o| o.order_id)
            .collect();
        assert_eq!(ids, ["T3"], "{b}");
        db.drop_db().await;
    }
}
