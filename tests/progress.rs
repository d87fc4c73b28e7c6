//! Progress of `kpid ingest` when stderr is not a terminal: log lines on
//! stderr, the plain summary on stdout; scheduled runs report none.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kpid(config: &Path, args: &[&str]) -> Output {
    // `output()` pipes stdout and stderr: neither is a terminal.
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

/// One shop and a demo connector over the 30 days ending 2026-01-31.
fn demo_config(db: &common::TestDb) -> PathBuf {
    let text = format!(
        r#"
timezone = "Asia/Shanghai"

[storage]
url = "{url}"

[[shops]]
id = "sh"
timezone = "Asia/Shanghai"

[server]
listen = ""

[[connectors]]
name = "demo-sh"
kind = "demo"
shop = "sh"
days = 30
end_date = "2026-01-31"
"#,
        url = db.url
    );
    let path = db.path("kpid.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn ingest_backfill_logs_progress_on_stderr_and_keeps_stdout_plain() {
    for db in common::backends().await {
        let b = db.backend;
        let config = demo_config(&db);
        let out = kpid(
            &config,
            &["ingest", "--from", "2026-01-02", "--to", "2026-01-31"],
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");

        // stdout: the one summary line, nothing else.
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{b}: {stdout}");
        let records: u64 = lines[0]
            .strip_prefix("demo-sh: ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{b}: no record count in {stdout}"));
        assert!(lines[0].contains("records read"), "{b}: {stdout}");
        assert!(
            records > 3000,
            "{b}: 30 demo days hold thousands of records"
        );

        // No bar drawing anywhere: not on a terminal.
        for (name, s) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(
                !s.contains('\r') && !s.contains('\u{1b}'),
                "{b}: control characters on {name}: {s:?}"
            );
        }

        // stderr: progress lines naming the connector, then the totals.
        let progress: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("ingest progress"))
            .collect();
        assert!(!progress.is_empty(), "{b}: no progress line in\n{stderr}");
        for l in &progress {
            assert!(l.contains("connector=demo-sh "), "{b}: {l}");
            assert!(l.contains("records_per_s="), "{b}: {l}");
            assert!(l.contains("slices=") && l.contains("/30"), "{b}: {l}");
        }
        let totals: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("ingest totals"))
            .collect();
        assert_eq!(totals.len(), 1, "{b}: one final line in\n{stderr}");
        let last = totals[0];
        assert!(last.contains("connector=demo-sh "), "{b}: {last}");
        assert!(
            last.contains(&format!("records={records} ")),
            "{b}: {last} vs {records}"
        );
        assert!(last.contains("slices=30/30"), "{b}: {last}");
        // The totals come after every progress line.
        let pos = |needle: &str| stderr.rfind(needle).unwrap();
        assert!(
            pos("ingest progress") < pos("ingest totals"),
            "{b}: {stderr}"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn scheduled_runs_report_no_progress() {
    for db in common::backends().await {
        let b = db.backend;
        let config = demo_config(&db);
        let out = kpid(&config, &["run", "--once"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{b}: {stdout}\n{stderr}");
        assert!(stderr.contains("connector run finished"), "{b}: {stderr}");
        assert!(
            !stderr.contains("ingest progress") && !stderr.contains("ingest totals"),
            "{b}: {stderr}"
        );
        db.drop_db().await;
    }
}
