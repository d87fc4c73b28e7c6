//! CSV files read as streams: text split across read buffers (a character
//! cut in two, a CRLF cut between its two bytes) reads as if whole, rejects
//! past the first buffer keep their exact line and raw text, and repeated
//! keys are counted past the row keys kept in memory.
mod common;
mod helpers;

use common::facts::stored_orders;
use common::TestDb;
use helpers::*;
use kpid::period::LocalDay;

/// The decoder reads the file this many bytes at a time (tabular/text.rs).
const READ_BUFFER: usize = 64 * 1024;

fn row(id: &str, amount: &str, buyer: &str) -> String {
    format!("{id},sh,2026-10-01 10:00:00,{amount},{buyer},paid\r\n")
}

/// Rows until the file reaches `len` bytes; each row's (line, bytes) kept.
fn fill(
    file: &mut Vec<u8>,
    lines: &mut Vec<(u64, String)>,
    len: usize,
    encode: impl Fn(&str) -> Vec<u8>,
) {
    while file.len() < len {
        // Ids from the line, unique across the file.
        let line = lines.last().map_or(0, |l| l.0) + 1;
        let text = row(&format!("r{line:06}"), "1", "张三");
        lines.push((line, text.clone()));
        file.extend(encode(&text));
    }
}

/// A connector's rejects as (locator, raw text), sorted.
async fn located_rejects(db: &TestDb, connector: &str) -> Vec<(String, String)> {
    let rejects = db.store.rejects(connector).await.unwrap();
    let mut got: Vec<_> = rejects.into_iter().map(|r| (r.locator, r.raw)).collect();
    got.sort();
    got
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

#[tokio::test]
async fn a_gbk_character_split_between_reads_is_decoded_whole_and_later_rejects_keep_their_lines() {
    for db in common::backends().await {
        let s = settings(
            &db,
            "[[connectors]]\nname = \"gbk\"\nkind = \"csv\"\nstream = \"orders\"\n\
             encoding = \"gb18030\"\nskip_rows = 1\npath = \"{dir}/imports/gbk/*.csv\"\n",
        );
        let b = db.backend;
        // A title line padded so that the first byte of a two-byte 张 or 三
        // is the last byte of the first read.
        let header = ORDERS_HEADER.trim_end();
        let mut pad = 0;
        let file = loop {
            let mut file = gbk(&format!("订单导出{}\r\n{header}\r\n", " ".repeat(pad)));
            let mut lines = vec![(2, String::new())];
            fill(&mut file, &mut lines, READ_BUFFER + 100, gbk);
            let split = file[READ_BUFFER - 1];
            if split == gbk("张")[0] || split == gbk("三")[0] {
                break file;
            }
            pad += 1;
        };
        let mut file = file;
        let rows_before = (file.len()
            - gbk(&format!("订单导出{}\r\n{header}\r\n", " ".repeat(pad))).len())
            / gbk(&row("r000000", "1", "张三")).len();
        // A bad row past the first read, then more rows, then another past the second.
        let first_bad = 2 + rows_before as u64 + 1;
        file.extend(gbk(&row("bad1", "abc", "李四")));
        let mut lines = vec![(first_bad, String::new())];
        fill(&mut file, &mut lines, 2 * READ_BUFFER + 100, gbk);
        let second_bad = lines.last().unwrap().0 + 1;
        file.extend(gbk(&row("bad2", "xyz", "王五")));
        let path = db.path("imports/gbk/a.csv");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file).unwrap();

        let run = ingest_one(&db, &s, "gbk").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        let got = located_rejects(&db, "gbk").await;
        assert_eq!(
            got,
            vec![
                (
                    format!("line {first_bad}"),
                    row("bad1", "abc", "李四").trim_end().to_string()
                ),
                (
                    format!("line {second_bad}"),
                    row("bad2", "xyz", "王五").trim_end().to_string()
                ),
            ],
            "{b}"
        );
        let orders = stored_orders(&db, "sh").await;
        assert_eq!(orders.len() as u64, run.stats.records, "{b}");
        assert!(orders.len() > 2000, "{b}: {}", orders.len());
        for o in &orders {
            assert_eq!(o.buyer_id.as_deref(), Some("张三"), "{b}: {}", o.order_id);
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_crlf_split_between_reads_ends_its_line_and_the_next_reject_keeps_its_line_and_text() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        let utf8 = |t: &str| t.as_bytes().to_vec();
        let mut file = ORDERS_HEADER.replace('\n', "\r\n").into_bytes();
        let mut lines = vec![(1, String::new())];
        // Rows up to just before the end of the first read, then one whose
        // `\r` is its last byte and whose `\n` starts the second read.
        fill(&mut file, &mut lines, READ_BUFFER - 200, utf8);
        let last = row("x", "1", "");
        let filler = READ_BUFFER - file.len() - last.len() + 1;
        let cut = row(&format!("c{}", "0".repeat(filler)), "1", "");
        file.extend(cut.as_bytes());
        assert_eq!(
            &file[READ_BUFFER - 1..READ_BUFFER + 1],
            b"\r\n",
            "{b}: the read ends inside the CRLF"
        );
        let cut_line = lines.last().unwrap().0 + 1;
        let bad = row("bad1", "abc", "a");
        file.extend(bad.as_bytes());
        // A reject two reads further, past the text kept behind the reader.
        let mut lines = vec![(cut_line + 1, String::new())];
        fill(&mut file, &mut lines, 3 * READ_BUFFER + 300, utf8);
        let far = lines.last().unwrap().0 + 1;
        let far_bad = row("bad2", "xyz", "b");
        file.extend(far_bad.as_bytes());
        db.write("imports/orders/a.csv", std::str::from_utf8(&file).unwrap());

        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        let got = located_rejects(&db, "orders").await;
        assert_eq!(
            got,
            vec![
                (format!("line {}", cut_line + 1), bad.trim_end().to_string()),
                (format!("line {far}"), far_bad.trim_end().to_string()),
            ],
            "{b}"
        );
        let orders = stored_orders(&db, "sh").await;
        let cut_id = format!("c{}", "0".repeat(filler));
        let cut_row = orders.iter().find(|o| o.order_id == cut_id);
        let cut_row = cut_row.unwrap_or_else(|| panic!("{b}: the row cut at its CRLF landed"));
        assert_eq!(
            (cut_row.buyer_id.as_deref(), cut_row.status.as_str()),
            (None, "paid"),
            "{b}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn repeated_keys_are_counted_past_the_keys_kept_in_memory_and_the_last_row_wins() {
    for db in common::backends().await {
        let s = settings(&db, "");
        let b = db.backend;
        // More rows than the key log keeps in memory (64k): repeats of a key
        // from the first rows, far down the file, are still found.
        let n = 70_000;
        let mut text = String::from(ORDERS_HEADER);
        for i in 0..n {
            let (id, amount) = match i {
                66_000 => ("o5".to_string(), "55"),
                69_999 => ("o65999".to_string(), "66"),
                _ => (format!("o{i}"), "1"),
            };
            text.push_str(&format!("{id},sh,2026-10-01 10:00:00,{amount},a,paid\n"));
        }
        db.write("imports/orders/a.csv", &text);
        let run = ingest_one(&db, &s, "orders").await;
        assert!(run.error.is_none(), "{b}: {:?}", run.error);
        assert_eq!(run.stats.records, n, "{b}");
        assert_eq!(run.stats.duplicates, 2, "{b}");
        let orders = stored_orders(&db, "sh").await;
        assert_eq!(orders.len(), n as usize - 2, "{b}");
        let amount = |id: &str| orders.iter().find(|o| o.order_id == id).unwrap().amount;
        assert_eq!(amount("o5"), d("55"), "{b}: the later row won");
        assert_eq!(amount("o65999"), d("66"), "{b}");
        db.drop_db().await;
    }
}

/// Orders `ids` of shop `sh`, each worth 1.
fn orders_batch(ids: &[&str]) -> kpid::facts::Batch {
    let orders = ids
        .iter()
        .map(|id| kpid::facts::Order {
            shop: "sh".into(),
            order_id: id.to_string(),
            paid_at: chrono::DateTime::from_timestamp(1_790_000_000, 0),
            local_day: LocalDay::from_ymd_opt(2026, 10, 1),
            amount: kpid::money::Money::from_micros(1_000_000),
            buyer_id: None,
            status: kpid::facts::OrderStatus::Paid,
        })
        .collect();
    kpid::facts::Batch {
        orders,
        ..Default::default()
    }
}

/// Orders another connection sees (committed ones only).
async fn committed_orders(db: &TestDb) -> i64 {
    let sql = "SELECT COUNT(*) FROM orders";
    match db.backend {
        "sqlite" => sqlx::query_scalar(sql)
            .fetch_one(common::sqlite_pool(&db.store))
            .await
            .unwrap(),
        _ => sqlx::query_scalar(sql)
            .fetch_one(common::pg_pool(&db.store))
            .await
            .unwrap(),
    }
}

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

/// A large file's batches share SQLite transactions (each commit rewrites
/// every index page it touched, issue 16): a batch waits for its group to
/// fill or for the file mark, then lands with it; a later batch's row still
/// replaces an earlier one's. PostgreSQL commits each batch on its own.
#[tokio::test]
async fn a_files_batches_commit_in_groups_on_sqlite_and_one_by_one_on_postgres() {
    for db in common::backends().await {
        let b = db.backend;
        let sqlite = b == "sqlite";
        let mut commits = kpid::store::ImportCommits::with_limits(&db.store, "c", 3, HOUR);
        assert_eq!(
            commits.write(&orders_batch(&["o1", "o2"])).await.unwrap(),
            2
        );
        assert_eq!(
            committed_orders(&db).await,
            if sqlite { 0 } else { 2 },
            "{b}"
        );
        // The group is full at 3 rows: all of it commits.
        let mut changed = orders_batch(&["o2", "o3"]);
        changed.orders[0].amount = kpid::money::Money::from_micros(7_000_000);
        assert_eq!(commits.write(&changed).await.unwrap(), 2, "{b}");
        assert_eq!(committed_orders(&db).await, 3, "{b}");
        // A batch with the file mark commits however small its group.
        let mut last = orders_batch(&["o4"]);
        last.file = Some(kpid::facts::FileMark {
            path: "a.csv".into(),
            sha256: "00".into(),
            rows: 5,
        });
        assert_eq!(commits.write(&last).await.unwrap(), 1, "{b}");
        assert_eq!(committed_orders(&db).await, 4, "{b}");
        assert!(
            db.store.file_imported("c", "a.csv", "00").await.unwrap(),
            "{b}"
        );
        let orders = stored_orders(&db, "sh").await;
        let o2 = orders.iter().find(|o| o.order_id == "o2").unwrap();
        assert_eq!(o2.amount, d("7"), "{b}: the later batch's row won");
        // Written but never committed (an import that failed on the store):
        // nothing of it lands on SQLite.
        let mut dropped = kpid::store::ImportCommits::with_limits(&db.store, "c", 10, HOUR);
        dropped.write(&orders_batch(&["o5"])).await.unwrap();
        drop(dropped);
        assert_eq!(
            committed_orders(&db).await,
            if sqlite { 4 } else { 5 },
            "{b}"
        );
        // A group that has held the one writer past its time commits
        // however few rows it has: others wait for that writer.
        let mut held = kpid::store::ImportCommits::with_limits(
            &db.store,
            "c",
            1_000,
            std::time::Duration::ZERO,
        );
        held.write(&orders_batch(&["o6"])).await.unwrap();
        assert_eq!(
            committed_orders(&db).await,
            if sqlite { 5 } else { 6 },
            "{b}: committed at once, though far from 1,000 rows"
        );
        drop(held);
        assert_eq!(
            committed_orders(&db).await,
            if sqlite { 5 } else { 6 },
            "{b}"
        );
        db.drop_db().await;
    }
}
