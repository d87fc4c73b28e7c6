//! The `kpid` binary end to end: ingest, compute, report, check.
mod common;
mod helpers;

use helpers::*;
use rust_decimal::Decimal;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::str::FromStr;

fn kpid(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("KPID_CONFIG")
        .env_remove("KPID_LOG")
        .env_remove("KPID_STORAGE__URL")
        .output()
        .expect("the kpid binary runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn dec(v: &Value) -> Option<Decimal> {
    match v {
        Value::Null => None,
        Value::Number(n) => Some(Decimal::from_str(&n.to_string()).unwrap()),
        other => panic!("not a number or null: {other}"),
    }
}

fn kpi<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["kpis"]
        .as_array()
        .expect("kpis is an array")
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("no KPI `{id}` in the report"))
}

#[tokio::test]
async fn ingest_exits_zero_with_rejected_rows_and_prints_their_lines() {
    for db in common::backends().await {
        let _ = settings(&db, "");
        let b = db.backend;
        let config = db.path("kpid.toml");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o2,sh,2026-10-01 10:00:00,ten,a,paid\n\
                 o3,sh,2026-10-01 10:00:00,5,b,paid\n\
                 o4,mars,2026-10-01 10:00:00,5,b,paid\n"
            ),
        );
        let out = kpid(&config, &["ingest"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");
        assert!(stdout.contains("2 rejected"), "{b}: {stdout}");
        for needle in ["a.csv line 3", "amount", "a.csv line 5", "mars"] {
            assert!(stdout.contains(needle), "{b}: `{needle}` in\n{stdout}");
        }
        // What the binary stored is visible to the library.
        assert_eq!(db.store.rejects("orders").await.unwrap().len(), 2, "{b}");
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("gmv"),
            Some(d("15")),
            "{b}"
        );

        // Running again skips the unchanged file.
        let out = kpid(&config, &["ingest", "--connector", "orders"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");
        assert!(stdout.contains("0 stored or changed"), "{b}: {stdout}");
        assert!(
            stdout.contains("1 unchanged files skipped"),
            "{b}: {stdout}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn ingest_prints_how_many_rows_repeated_a_key_of_their_file() {
    for db in common::backends().await {
        let _ = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,10,a,paid\n\
                 o1,sh,2026-10-01 10:00:00,11,a,paid\n\
                 o1,sh,2026-10-01 10:00:00,12,a,paid\n"
            ),
        );
        let out = kpid(&db.path("kpid.toml"), &["ingest", "--connector", "orders"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("2 row(s) repeated the key of an earlier row of their file"),
            "{b}: {stdout}"
        );
        assert_eq!(
            inputs(&db, "sh", "2026-10").await.get("gmv"),
            Some(d("12")),
            "{b}: the last row won"
        );
        db.drop_db().await;
    }
}

/// A command closes the database it opened, whether it succeeds or fails:
/// what it wrote is copied from SQLite's write-ahead log into the database
/// file and the log is emptied (or deleted), instead of left beside the
/// file for the next command (or the daemon) to replay.
#[tokio::test]
async fn a_command_closes_the_sqlite_database_it_opened_leaving_no_log() {
    let mut dbs = common::backends().await;
    let db = dbs.remove(0);
    for other in dbs {
        other.drop_db().await;
    }
    assert_eq!(db.backend, "sqlite");
    let _ = settings(&db, "");
    // kpid must be the only process with the file open for the log to go.
    db.store.close().await;
    let wal = db.path("kpid.db-wal");
    let logged = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    db.write(
        "imports/orders/a.csv",
        &format!("{ORDERS_HEADER}o1,sh,2026-10-01 10:00:00,10,a,paid\n"),
    );
    let out = kpid(&db.path("kpid.toml"), &["ingest", "--connector", "orders"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(logged(), 0, "ingest left its log in {}", wal.display());

    // A failing command too, after it wrote: the orders land, then the
    // daily file's unknown column fails the run.
    db.write(
        "imports/orders/b.csv",
        &format!("{ORDERS_HEADER}o2,sh,2026-10-02 10:00:00,5,b,paid\n"),
    );
    db.write(
        "imports/daily/a.csv",
        "date,shop,pv,page_views\n2026-10-01,sh,10,10\n",
    );
    let out = kpid(
        &db.path("kpid.toml"),
        &["ingest", "--connector", "orders", "--connector", "daily"],
    );
    assert!(!out.status.success(), "{:?}", text(&out));
    assert_eq!(
        logged(),
        0,
        "a failed ingest left its log in {}",
        wal.display()
    );

    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let (orders, micros): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), SUM(amount_micros) FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(
        (orders, micros),
        (2, 15_000_000),
        "what both ingests wrote is in the file"
    );
}

#[tokio::test]
async fn ingest_exits_non_zero_when_a_file_has_an_unknown_column() {
    for db in common::backends().await {
        let _ = settings(&db, "");
        let b = db.backend;
        db.write(
            "imports/daily/a.csv",
            "date,shop,pv,page_views\n2026-10-01,sh,10,10\n",
        );
        let out = kpid(&db.path("kpid.toml"), &["ingest", "--connector", "daily"]);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{b}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("page_views") || stderr.contains("page_views"),
            "{b}: {stdout}\n{stderr}"
        );
        assert!(stderr.contains("daily"), "{b}: {stderr}");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn compute_then_report_json_prints_one_object_with_exact_numbers_or_null() {
    for db in common::backends().await {
        let _ = settings(
            &db,
            r#"
[[targets]]
kpi = "gmv"
shop = "sh"
period = "2026-10"
value = "1"

[[targets]]
kpi = "refund_rate"
period = "*"
value = "0.5"
"#,
        );
        let b = db.backend;
        let config = db.path("kpid.toml");
        db.write(
            "imports/orders/a.csv",
            &format!(
                "{ORDERS_HEADER}\
                 o1,sh,2026-10-01 10:00:00,0.1,a,paid\n\
                 o2,sh,2026-10-02 10:00:00,0.2,b,paid\n\
                 o3,sh,2026-10-02 11:00:00,0.2,,paid\n"
            ),
        );
        let out = kpid(&config, &["ingest"]);
        assert!(out.status.success(), "{b}: {:?}", text(&out));
        let out = kpid(&config, &["compute", "--month", "2026-10"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("sh 2026-10: revision 1 (new)"),
            "{b}: {stdout}"
        );
        assert!(
            stdout.contains("la 2026-10: revision 1 (new)"),
            "{b}: {stdout}"
        );
        let out = kpid(&config, &["compute", "--month", "2026-10", "--shop", "sh"]);
        assert!(
            text(&out).0.contains("sh 2026-10: revision 1 (unchanged)"),
            "{b}: {:?}",
            text(&out)
        );

        let out = kpid(
            &config,
            &[
                "report", "--month", "2026-10", "--shop", "sh", "--format", "json",
            ],
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{b}: stdout is not one JSON value ({e}):\n{stdout}"));
        let obj = report.as_object().expect("one object, not an array");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["kpis", "period", "revision", "shop"], "{b}");
        assert_eq!(report["period"], "2026-10", "{b}");
        assert_eq!(report["shop"], "sh", "{b}");
        assert_eq!(report["revision"], 1, "{b}");
        let kpis = report["kpis"].as_array().unwrap();
        assert!(kpis.len() >= 34, "{b}: {} KPIs", kpis.len());
        for k in kpis {
            let mut keys: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                ["attainment", "id", "score", "target", "unit", "value"],
                "{b}"
            );
            for f in ["value", "target", "attainment", "score"] {
                assert!(k[f].is_number() || k[f].is_null(), "{b}: {k}");
            }
        }
        let gmv = kpi(&report, "gmv");
        assert_eq!(
            gmv["value"].to_string(),
            "0.5",
            "{b}: exact, no float noise"
        );
        assert_eq!(dec(&gmv["value"]), Some(d("0.5")), "{b}");
        assert_eq!(gmv["unit"], "money", "{b}");
        assert_eq!(dec(&gmv["target"]), Some(d("1")), "{b}");
        assert_eq!(dec(&gmv["attainment"]), Some(d("0.5")), "{b}");
        assert_eq!(dec(&gmv["score"]), Some(d("50")), "{b}");
        assert_eq!(dec(&kpi(&report, "buyers")["value"]), Some(d("3")), "{b}");
        assert_eq!(
            dec(&kpi(&report, "aov")["value"]),
            Some(d("0.166667")),
            "{b}"
        );
        // Down KPI with a zero actual: full attainment at the cap.
        let refund = kpi(&report, "refund_rate");
        assert_eq!(dec(&refund["value"]), Some(d("0")), "{b}");
        assert_eq!(dec(&refund["score"]), Some(d("120")), "{b}");
        // No traffic data: null, never 0.
        for id in ["bounce_rate", "conversion_rate", "pv"] {
            let k = kpi(&report, id);
            assert!(k["value"].is_null(), "{b}: {k}");
            assert!(k["score"].is_null(), "{b}: {k}");
        }
        assert!(kpi(&report, "buyers")["target"].is_null(), "{b}");

        // Without --shop: an array of every shop's snapshot.
        let out = kpid(
            &config,
            &["report", "--month", "2026-10", "--format", "json"],
        );
        let all: Value = serde_json::from_str(&text(&out).0).unwrap();
        let shops: Vec<&str> = all
            .as_array()
            .expect("an array without --shop")
            .iter()
            .map(|s| s["shop"].as_str().unwrap())
            .collect();
        assert_eq!(shops, ["la", "sh"], "{b}");
        assert!(
            kpi(&all[0], "gmv")["value"].is_null(),
            "{b}: la has no sales"
        );

        // A month never computed is an error, not an empty report.
        let out = kpid(
            &config,
            &[
                "report", "--month", "2026-09", "--shop", "sh", "--format", "json",
            ],
        );
        assert!(!out.status.success(), "{b}");
        assert!(
            text(&out).1.contains("kpid compute"),
            "{b}: {:?}",
            text(&out)
        );
        db.drop_db().await;
    }
}

/// People's scorecards are not per shop: `--shop` with `--scorecards` is
/// refused (exit 2, naming both flags), never silently ignored.
#[test]
fn report_scorecards_with_a_shop_is_an_error() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml");
    for args in [
        [
            "report",
            "--scorecards",
            "--shop",
            "tmall-main",
            "--month",
            "2026-10",
        ],
        [
            "report",
            "--shop",
            "tmall-main",
            "--scorecards",
            "--month",
            "2026-10",
        ],
    ] {
        let out = kpid(&config, &args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stdout.is_empty(), "{args:?}: nothing is reported: {stdout}");
        for flag in ["--scorecards", "--shop"] {
            assert!(stderr.contains(flag), "{args:?}: `{flag}` in\n{stderr}");
        }
    }
}

#[test]
fn check_fails_on_a_bad_config_naming_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"[storage]
url = "sqlite://x.db"

[[shops]]
id = "sh"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
path = "imports/*.csv"
schedule = "every minute"
"#,
    )
    .unwrap();
    let out = kpid(&path, &["check"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    let expected = format!("{}:12: `connectors[0].schedule`", path.display());
    assert!(stderr.contains(&expected), "`{expected}` in\n{stderr}");
    assert!(stderr.contains("every minute"), "{stderr}");

    // TOML syntax errors name the line too.
    std::fs::write(
        &path,
        "[storage]\nurl = \"sqlite://x.db\"\n\n[[shops]\nid = \"sh\"\n",
    )
    .unwrap();
    let out = kpid(&path, &["check"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:", path.display())),
        "{stderr}"
    );
}

#[test]
fn check_on_a_good_config_prints_next_runs_and_hides_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    std::fs::write(
        &path,
        r#"[storage]
url = "postgres://u:SuperSecret123@db.internal:5432/kpid"

[[shops]]
id = "sh"
timezone = "Asia/Shanghai"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
shop = "sh"
path = "imports/*.csv"
schedule = "*/15 * * * *"
"#,
    )
    .unwrap();
    let out = kpid(&path, &["check"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("SuperSecret123"), "{stdout}");
    assert!(!stderr.contains("SuperSecret123"), "{stderr}");
    assert!(stdout.contains("u:***@db.internal"), "{stdout}");
    assert!(stdout.contains("Next runs"), "{stdout}");
    let orders = stdout
        .lines()
        .find(|l| l.starts_with("orders "))
        .unwrap_or_else(|| panic!("no next runs of `orders` in\n{stdout}"));
    assert_eq!(orders.matches(", ").count(), 2, "three runs: {orders}");
    assert!(orders.contains("CST"), "runs in the shop's zone: {orders}");
    let snapshot = stdout
        .lines()
        .find(|l| l.starts_with("snapshot:sh"))
        .unwrap_or_else(|| panic!("no snapshot schedule in\n{stdout}"));
    assert!(snapshot.contains(" 00:30:00 CST"), "{snapshot}");

    // A password given through the environment is hidden as well.
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .env_remove("KPID_CONFIG")
        .env(
            "KPID_STORAGE__URL",
            "postgres://u:EnvSecret456@db.internal/kpid",
        )
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("EnvSecret456") && !stderr.contains("EnvSecret456"));
    assert!(stdout.contains("u:***@db.internal/kpid"), "{stdout}");
}

#[test]
fn check_creates_no_database_file_or_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    for url in [
        format!("sqlite://{}/data/kpid.db", dir.path().display()),
        format!("sqlite:{}/other/kpid.db?mode=rwc", dir.path().display()),
    ] {
        std::fs::write(
            &path,
            format!(
                "[storage]\nurl = \"{url}\"\n\n[[shops]]\nid = \"sh\"\ntimezone = \"Asia/Shanghai\"\n"
            ),
        )
        .unwrap();
        let out = kpid(&path, &["check"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{url}: {stdout}\n{stderr}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["kpid.toml"], "{url}: check created files");
    }
}

#[test]
fn check_refuses_schedules_that_are_not_crontab_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    for (schedule, says) in [
        ("0 0 ? * mon", "day-of-month field `?`"),
        ("0 0 31 2 *", "never runs"),
        ("61 * * * *", "minutes are 0–59"),
    ] {
        std::fs::write(
            &path,
            format!(
                "[[shops]]\nid = \"sh\"\ntimezone = \"Asia/Shanghai\"\n\n[snapshot]\nschedule = \"{schedule}\"\n"
            ),
        )
        .unwrap();
        let out = kpid(&path, &["check"]);
        let (stdout, stderr) = text(&out);
        assert!(!out.status.success(), "{schedule}: {stdout}");
        assert!(stderr.contains("snapshot.schedule"), "{stderr}");
        assert!(stderr.contains(says), "{schedule}: {stderr}");
    }
}

#[test]
fn a_password_in_the_storage_query_string_is_hidden_by_check_and_connection_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    // Port 1 on loopback is closed: opening the database fails at once.
    std::fs::write(
        &path,
        r#"[storage]
url = "postgres://kpid@127.0.0.1:1/kpid?application_name=kpid&password=QuerySecret789&auth_token=TokenSecret321"

[[shops]]
id = "sh"
"#,
    )
    .unwrap();
    let out = kpid(&path, &["check"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains("QuerySecret789"), "{stdout}");
    assert!(!stderr.contains("QuerySecret789"), "{stderr}");
    assert!(!stderr.contains("TokenSecret321"), "{stderr}");
    assert!(
        stdout.contains("127.0.0.1:1/kpid?application_name=kpid&password=***&auth_token=***"),
        "what is not secret stays readable: {stdout}"
    );

    let out = kpid(&path, &["migrate"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("cannot open the database at"), "{stderr}");
    assert!(!stderr.contains("TokenSecret321"), "not logged: {stderr}");
    assert!(!stdout.contains("QuerySecret789"), "{stdout}");
    assert!(!stderr.contains("QuerySecret789"), "{stderr}");
    assert!(stderr.contains("password=***"), "{stderr}");
}

#[test]
fn check_refuses_formulas_too_deep_or_too_long_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.toml");
    let deep = format!("{}gmv{}", "(".repeat(20_000), ")".repeat(20_000));
    let wide = vec!["gmv"; 50_000].join(" + ");
    std::fs::write(
        &path,
        format!(
            "[[shops]]\nid = \"sh\"\n\n\
             [[kpis]]\nid = \"deep\"\nformula = \"{deep}\"\nunit = \"money\"\ndirection = \"up\"\ncategory = \"sales\"\n\n\
             [[kpis]]\nid = \"wide\"\nformula = \"{wide}\"\nunit = \"money\"\ndirection = \"up\"\ncategory = \"sales\"\n"
        ),
    )
    .unwrap();
    let out = kpid(&path, &["check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error, not a crash: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:6: `kpis[0].formula`", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("`deep`"), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:13: `kpis[1].formula`", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("`wide`"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}
