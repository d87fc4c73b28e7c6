//! `kpid check` reports every problem of the configuration in one run, each
//! under its own key and on the line of that key (or naming the environment
//! variable it came from).

use kpid::config::Problem;
use kpid::setup::load;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("kpid.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn problems(text: &str) -> (tempfile::TempDir, PathBuf, Vec<Problem>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    let errs = match load(&path) {
        Ok(_) => panic!("the configuration must be refused:\n{text}"),
        Err(e) => e.0,
    };
    (dir, path, errs)
}

fn at<'a>(problems: &'a [Problem], key: &str) -> &'a Problem {
    problems.iter().find(|p| p.key == key).unwrap_or_else(|| {
        let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        panic!("no problem under `{key}` in:\n{}", all.join("\n"))
    })
}

fn check(config: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kpid"));
    cmd.arg("--config").arg(config).arg("check");
    for (k, _) in std::env::vars() {
        if k.starts_with("KPID_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("the kpid binary runs")
}

#[test]
fn every_unknown_key_is_reported_in_one_run_on_its_line() {
    let (_dir, path, ps) = problems(
        r#"colour = "blue"

[storage]
url = "sqlite://x.db"
uri = "sqlite://y.db"

[[shops]]
id = "sh"
zone = "UTC"

[server]
listen = "127.0.0.1:9187"
port = 9187

[[targets]]
kpi = "gmv"
period = "2026-10"
value = "1"
note = "stretch"
"#,
    );
    for (key, line) in [
        ("colour", 1),
        ("storage.uri", 5),
        ("shops[0].zone", 9),
        ("server.port", 13),
        ("targets[0].note", 19),
    ] {
        let p = at(&ps, key);
        assert_eq!(p.line, Some(line), "{p}");
        assert_eq!(p.file, path.display().to_string(), "{p}");
        assert!(p.message.contains("unknown"), "{p}");
    }
    assert_eq!(ps.len(), 5, "nothing else is blamed: {ps:#?}");
}

#[test]
fn the_removed_snapshot_score_cap_is_an_error_that_says_to_set_scoring_cap() {
    let (_dir, path, ps) = problems(
        r#"[[shops]]
id = "sh"

[snapshot]
schedule = "30 0 * * *"
score_cap = "1.5"
"#,
    );
    let p = at(&ps, "snapshot.score_cap");
    assert_eq!(p.line, Some(6), "{p}");
    assert_eq!(p.file, path.display().to_string(), "{p}");
    assert!(p.message.contains("removed: set scoring.cap"), "{p}");
    let shown = p.to_string();
    assert!(
        shown.contains(&path.display().to_string()) && shown.contains("snapshot.score_cap"),
        "{shown}"
    );
    assert_eq!(ps.len(), 1, "nothing else is blamed: {ps:#?}");
    // `scoring.cap` alone is taken.
    let dir = tempfile::tempdir().unwrap();
    let ok = write(
        dir.path(),
        "[[shops]]\nid = \"sh\"\n\n[scoring]\ncap = \"1.5\"\n",
    );
    let s = load(&ok).unwrap_or_else(|e| panic!("{:?}", e.0));
    assert_eq!(s.scoring.cap, rust_decimal::Decimal::new(15, 1));
}

#[test]
fn wrong_types_and_missing_fields_are_all_reported_under_their_key_and_line() {
    let (_dir, _path, ps) = problems(
        r#"[scheduler]
lease_seconds = "sixty"

[[shops]]
timezone = "UTC"

[[shops]]
id = "la"
currency = 840

[[targets]]
kpi = "gmv"
period = "2026-10"
value = "abc"

[[scoring.grades]]
id = "top"
name_zh = 5
name_en = "Top"
min = 0
bonus = 1
"#,
    );
    let p = at(&ps, "scheduler.lease_seconds");
    assert_eq!(p.line, Some(2), "{p}");
    assert!(p.message.contains("sixty"), "{p}");
    // A missing key has no line of its own: its table's header is given.
    let p = at(&ps, "shops[0].id");
    assert_eq!(p.line, Some(4), "{p}");
    assert!(p.message.contains("missing"), "{p}");
    let p = at(&ps, "shops[1].currency");
    assert_eq!(p.line, Some(9), "{p}");
    let p = at(&ps, "targets[0].value");
    assert_eq!(p.line, Some(14), "{p}");
    assert!(p.message.contains("abc"), "{p}");
    let p = at(&ps, "scoring.grades[0].name_zh");
    assert_eq!(p.line, Some(18), "{p}");
    assert_eq!(ps.len(), 5, "one problem per mistake: {ps:#?}");
}

#[test]
fn connector_option_problems_are_named_under_their_own_key() {
    let (_dir, _path, ps) = problems(
        r#"[[shops]]
id = "sh"

[[connectors]]
name = "demo"
kind = "demo"
shop = "sh"
end_date = "2026-02-30"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
path = "imports/*.csv"
skip_rows = -1
sheet_name = "x"

[[connectors]]
name = "shopify"
kind = "shopify"
shop = "sh"
store = "demo"
access_token = 123456789
"#,
    );
    let p = at(&ps, "connectors[0].end_date");
    assert_eq!(p.line, Some(8), "{p}");
    assert!(p.message.contains("2026-02-30"), "{p}");
    let p = at(&ps, "connectors[1].skip_rows");
    assert_eq!(p.line, Some(15), "{p}");
    assert!(p.message.contains("-1"), "{p}");
    // Every problem of one connector in the same run.
    let p = at(&ps, "connectors[1].sheet_name");
    assert_eq!(p.line, Some(16), "{p}");
    let p = at(&ps, "connectors[2].access_token");
    assert_eq!(p.line, Some(23), "{p}");
    assert!(
        !p.message.contains("123456789"),
        "a credential is not echoed: {p}"
    );
    assert!(!ps.iter().any(|p| p.key.ends_with(".kind")), "{ps:#?}");
}

#[test]
fn check_prints_every_problem_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "typo_one = 1\ntypo_two = 2\n\n[[shops]]\nid = \"sh\"\ntypo_three = 3\n\n[log]\ntypo_four = 4\n",
    );
    let out = check(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for (line, key) in [
        (1, "typo_one"),
        (2, "typo_two"),
        (6, "shops[0].typo_three"),
        (9, "log.typo_four"),
    ] {
        let expected = format!("{}:{line}: `{key}`", path.display());
        assert!(stderr.contains(&expected), "`{expected}` in\n{stderr}");
    }
    assert!(stderr.contains("4 problem(s)"), "{stderr}");
}

#[test]
fn problems_from_environment_overrides_name_the_variable_not_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[[shops]]\nid = \"sh\"\n\n[server]\nlisten = \"127.0.0.1:9187\"\n\n[scheduler]\nlease_seconds = 60\n",
    );
    let out = check(
        &path,
        &[
            ("KPID_SERVER__LISTEN", "not-an-address"),
            ("KPID_SCHEDULER__LEASE_SECONDS", "soon"),
            ("KPID_SCHEDULER__JITTER_SECONDS", "5"),
            ("KPID_NO_SUCH_KEY", "1"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for (var, key, what) in [
        ("KPID_SERVER__LISTEN", "server.listen", "not-an-address"),
        (
            "KPID_SCHEDULER__LEASE_SECONDS",
            "scheduler.lease_seconds",
            "soon",
        ),
        ("KPID_NO_SUCH_KEY", "no_such_key", "unknown"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("`{key}`")))
            .unwrap_or_else(|| panic!("no problem for `{key}` in\n{stderr}"));
        assert!(line.contains(var), "names {var}: {line}");
        assert!(line.contains(what), "{line}");
        assert!(
            !line.contains(&format!("{}:", path.display())),
            "not a line of the file: {line}"
        );
    }
    assert!(
        stderr.contains("3 problem(s)"),
        "a number is taken: {stderr}"
    );

    // A number where a string is expected is taken as its text.
    let out = check(&path, &[("KPID_TIMEZONE", "1")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`1` is not an IANA time zone") && stderr.contains("KPID_TIMEZONE"),
        "{stderr}"
    );
}
