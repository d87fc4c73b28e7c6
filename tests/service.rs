//! The daemon as a service, process by process: replicas sharing one
//! PostgreSQL database run each tick exactly once, a killed replica's tick is
//! taken over after its lease, SIGTERM commits the page in hand and releases
//! the lease, a second daemon on one SQLite file refuses to start, `/readyz`
//! follows the database, and `/metrics` is valid exposition text.
//!
//! Every test starts real `kpid --config FILE run` processes; a [`Daemon`]
//! kills its process when dropped, so a failing assertion leaves none behind.
mod common;

use common::TestDb;
use kpid::store::{JobRun, Store};
use sqlx::Row;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

/// Polls `$body` (an expression yielding `Option<T>`, which may `.await`)
/// every 100 ms until it is `Some`, panicking with the message after `$timeout`.
macro_rules! wait_for {
    ($timeout:expr, $body:expr, $($fail:tt)+) => {{
        let deadline = Instant::now() + $timeout;
        loop {
            if let Some(v) = $body {
                break v;
            }
            if Instant::now() >= deadline {
                panic!($($fail)+);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

/// A `kpid run` process; killed (SIGKILL) and reaped when dropped.
struct Daemon {
    name: String,
    child: Child,
    stderr: PathBuf,
}

impl Daemon {
    /// Starts `kpid --config <config> run` with `KPID_LOG=info`, its stderr
    /// in `<name>.stderr` beside the configuration.
    fn start(config: &Path, name: &str) -> Daemon {
        let stderr = config.with_file_name(format!("{name}.stderr"));
        let child = Command::new(env!("CARGO_BIN_EXE_kpid"))
            .arg("--config")
            .arg(config)
            .arg("run")
            .env_remove("KPID_CONFIG")
            .env_remove("KPID_STORAGE__URL")
            .env("KPID_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("the kpid binary starts");
        Daemon {
            name: name.to_string(),
            child,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True when `owner` (`host-pid-micros`, see the scheduler) is this process.
    fn owns(&self, owner: &str) -> bool {
        owner_pid(owner) == Some(self.pid())
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("the kill command runs")
            .success();
        assert!(ok, "kill -{sig} {} ({})", self.pid(), self.name);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The exit status if the process has ended.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Panics with the process's log when it has ended.
    fn assert_alive(&mut self) {
        if let Some(status) = self.exited() {
            panic!("{} exited early ({status}):\n{}", self.name, self.log());
        }
    }

    /// Waits for the process to end, at most `timeout`.
    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_for!(
            timeout,
            self.exited(),
            "{} (pid {}) still runs after {timeout:?}:\n{}",
            self.name,
            self.pid(),
            self.log()
        )
    }

    /// SIGTERM, then the process must exit 0 within `timeout`.
    async fn stop(&mut self, timeout: Duration) {
        self.signal("TERM");
        let started = Instant::now();
        let status = self.wait_exit(timeout).await;
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM:\n{}",
            self.name,
            self.log()
        );
        eprintln!("{} stopped in {:?}", self.name, started.elapsed());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Does nothing when the child was already reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The process id inside an owner name `host-pid-micros`.
fn owner_pid(owner: &str) -> Option<u32> {
    let mut parts = owner.rsplitn(3, '-');
    parts.next()?;
    parts.next()?.parse().ok()
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh PostgreSQL database, or `None` (with a notice) when
/// `KPID_TEST_POSTGRES_URL` is unset.
async fn postgres_db() -> Option<TestDb> {
    common::postgres_url()?;
    common::backends()
        .await
        .into_iter()
        .find(|db| db.backend == "postgres")
}

/// The configuration written beside the database: one shop, `extra` (its
/// connectors and sections) and a snapshot job that never comes due during
/// a test (29 February only), so only the connector under test runs.
fn write_config(db: &TestDb, url: &str, extra: &str) -> PathBuf {
    let text = format!(
        r#"
timezone = "Asia/Shanghai"

[storage]
url = "{url}"

[[shops]]
id = "sh"
timezone = "Asia/Shanghai"

[snapshot]
schedule = "0 0 29 2 *"
report_on_start = false
{extra}
"#
    )
    .replace("{dir}", &db.dir.path().display().to_string());
    let path = db.path("kpid.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A demo job long enough (several seconds in a debug build) to be caught
/// mid-run; its end date is fixed so every process generates the same days.
/// Start-up catch-up claims its latest hourly tick at once.
fn long_demo(db: &TestDb, lease_seconds: u64, grace_seconds: u64) -> String {
    // About 8 s each in a debug build: SQLite (bundled, unoptimised) commits
    // some 5,000 records a second, PostgreSQL some 35,000.
    let days = if db.backend == "sqlite" { 200 } else { 1200 };
    format!(
        r#"
[scheduler]
lease_seconds = {lease_seconds}
max_catchup_hours = 2
shutdown_grace_seconds = {grace_seconds}

[server]
listen = ""

[[connectors]]
name = "demo"
kind = "demo"
shop = "sh"
schedule = "0 * * * *"
days = {days}
orders_per_day = 120
end_date = "2026-01-31"
"#
    )
}

async fn runs(store: &Store, job: &str) -> Vec<JobRun> {
    store.recent_runs(Some(job), 1000).await.unwrap()
}

async fn orders(store: &Store) -> i64 {
    crate::fetch_rows!(store, "SELECT COUNT(*) FROM orders", [], |r| r
        .try_get::<i64, _>(0)
        .unwrap())[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_run_every_tick_exactly_once() {
    let Some(db) = postgres_db().await else {
        return;
    };
    std::fs::create_dir_all(db.path("imports/orders")).unwrap();
    let config = write_config(
        &db,
        &db.url,
        r#"
[scheduler]
lease_seconds = 5
shutdown_grace_seconds = 5

[server]
listen = ""

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
schedule = "*/2 * * * * *"
path = "{dir}/imports/orders/*.csv"
"#,
    );
    let started = Instant::now();
    let mut replicas: Vec<Daemon> = (0..3)
        .map(|i| Daemon::start(&config, &format!("replica{i}")))
        .collect();

    wait_for!(
        Duration::from_secs(55),
        {
            for r in &mut replicas {
                r.assert_alive();
            }
            let ticks = db.store.tick_attempts("orders").await.unwrap();
            (ticks.len() >= 20).then_some(())
        },
        "fewer than 20 ticks after 55 s: {:?}",
        db.store.tick_attempts("orders").await.unwrap()
    );
    eprintln!("20 ticks after {:?}", started.elapsed());
    for r in &replicas {
        r.signal("TERM");
    }
    for r in &mut replicas {
        let status = r.wait_exit(Duration::from_secs(15)).await;
        assert!(
            status.success(),
            "{} exited with {status}:\n{}",
            r.name,
            r.log()
        );
    }

    let ticks = db.store.tick_attempts("orders").await.unwrap();
    for (tick, attempts, status) in &ticks {
        assert_eq!(
            (*attempts, status.as_str()),
            (1, "ok"),
            "tick {tick} in {ticks:?}"
        );
    }
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1].0 - pair[0].0,
            2,
            "ticks not 2 s apart: {ticks:?}\n{:?}\n{}",
            runs(&db.store, "orders").await,
            replicas
                .iter()
                .map(|r| format!("{}:\n{}", r.name, r.log()))
                .collect::<String>()
        );
    }
    let history = runs(&db.store, "orders").await;
    assert_eq!(history.len(), ticks.len());
    let mut per_owner: BTreeMap<&str, usize> = BTreeMap::new();
    for run in &history {
        assert!(
            replicas.iter().any(|r| r.owns(&run.owner)),
            "owner {} is none of the replicas",
            run.owner
        );
        *per_owner.entry(&run.owner).or_default() += 1;
    }
    eprintln!("ticks per owner: {per_owner:?}");
    assert!(
        per_owner.len() > 1,
        "one replica ran every tick: {per_owner:?}"
    );
    drop(replicas);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_replica_has_its_tick_taken_over_after_the_lease() {
    let Some(db) = postgres_db().await else {
        return;
    };
    let config = write_config(&db, &db.url, &long_demo(&db, 3, 5));
    let mut a = Daemon::start(&config, "a");
    let claimed = wait_for!(
        Duration::from_secs(20),
        {
            a.assert_alive();
            runs(&db.store, "demo")
                .await
                .into_iter()
                .find(|r| r.status == "running")
        },
        "A never claimed the demo tick:\n{}",
        a.log()
    );
    assert!(
        a.owns(&claimed.owner),
        "{claimed:?} is not A (pid {})",
        a.pid()
    );
    a.signal("KILL");
    a.wait_exit(Duration::from_secs(5)).await;
    let killed_at = Instant::now();

    let mut b = Daemon::start(&config, "b");
    let done = wait_for!(
        Duration::from_secs(45),
        {
            b.assert_alive();
            runs(&db.store, "demo")
                .await
                .into_iter()
                .find(|r| r.tick == claimed.tick && r.status != "running")
        },
        "the tick was not finished after A was killed:\n{:?}\nB:\n{}",
        runs(&db.store, "demo").await,
        b.log()
    );
    eprintln!(
        "taken over and finished {:?} after the kill",
        killed_at.elapsed()
    );
    assert_eq!(done.status, "ok", "{done:?}\nB:\n{}", b.log());
    assert_eq!(done.attempts, 2, "{done:?}");
    assert!(b.owns(&done.owner), "{done:?} is not B (pid {})", b.pid());
    assert_ne!(done.owner, claimed.owner);
    assert!(done.records > 0, "{done:?}");
    assert!(b.log().contains("took over"), "B:\n{}", b.log());
    b.stop(Duration::from_secs(15)).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_ingest_commits_the_page_in_hand_and_holds_no_lease() {
    const GRACE: u64 = 5;
    for db in common::backends().await {
        let b = db.backend;
        let config = write_config(&db, &db.url, &long_demo(&db, 3, GRACE));
        let mut a = Daemon::start(&config, "a");
        let (run, seen) = wait_for!(
            Duration::from_secs(20),
            {
                a.assert_alive();
                let running = runs(&db.store, "demo")
                    .await
                    .into_iter()
                    .find(|r| r.status == "running");
                let n = orders(&db.store).await;
                running.filter(|_| n > 0).map(|r| (r, n))
            },
            "{b}: A never got mid-ingest:\n{}",
            a.log()
        );
        assert!(a.owns(&run.owner), "{b}: {run:?}");
        a.stop(Duration::from_secs(GRACE + 5)).await;

        let after = runs(&db.store, "demo").await;
        let row = after
            .iter()
            .find(|r| r.tick == run.tick)
            .unwrap_or_else(|| panic!("{b}: tick gone: {after:?}"));
        assert_eq!(row.status, "interrupted", "{b}: {row:?}\nA:\n{}", a.log());
        assert_eq!(row.owner, run.owner, "{b}");
        assert!(row.finished_at.is_some(), "{b}: {row:?}");
        let now = chrono::Utc::now().timestamp();
        assert_eq!(
            db.store.leases_held_by(&run.owner, now).await.unwrap(),
            0,
            "{b}"
        );
        let kept = orders(&db.store).await;
        assert!(
            kept >= seen,
            "{b}: {kept} orders after SIGTERM, {seen} seen before"
        );
        assert!(row.records > 0, "{b}: {row:?}");
        assert!(
            a.log().contains("stopped"),
            "{b}: A did not log its stop:\n{}",
            a.log()
        );

        // The next daemon takes the interrupted tick over and finishes it.
        let mut again = Daemon::start(&config, "again");
        let done = wait_for!(
            Duration::from_secs(45),
            {
                again.assert_alive();
                let row = runs(&db.store, "demo")
                    .await
                    .into_iter()
                    .find(|r| r.tick == run.tick);
                let row = row.unwrap_or_else(|| panic!("{b}: tick gone"));
                if row.status == "running" && row.owner != run.owner {
                    assert_eq!(
                        row.finished_at, None,
                        "{b}: a taken-over run shows an end: {row:?}"
                    );
                }
                Some(row).filter(|r| r.status != "running" && r.owner != run.owner)
            },
            "{b}: the interrupted tick was not taken over:\n{:?}\n{}",
            runs(&db.store, "demo").await,
            again.log()
        );
        assert_eq!(done.status, "ok", "{b}: {done:?}\n{}", again.log());
        assert_eq!(done.attempts, 2, "{b}: {done:?}");
        assert!(again.owns(&done.owner), "{b}: {done:?}");
        assert!(orders(&db.store).await >= kept, "{b}");
        again.stop(Duration::from_secs(GRACE + 5)).await;
        db.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn second_daemon_on_the_same_sqlite_file_refuses_to_start() {
    let db = common::backends().await.swap_remove(0);
    assert_eq!(db.backend, "sqlite");
    let port = free_port();
    let config = write_config(
        &db,
        &db.url,
        &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut first = Daemon::start(&config, "first");
    let http = http();
    wait_for!(
        Duration::from_secs(20),
        {
            first.assert_alive();
            status(&http, port, "/healthz").await.filter(|s| *s == 200)
        },
        "/healthz never answered:\n{}",
        first.log()
    );

    let mut second = Daemon::start(&config, "second");
    let refused = second.wait_exit(Duration::from_secs(15)).await;
    assert!(
        !refused.success(),
        "the second daemon ran:\n{}",
        second.log()
    );
    let log = second.log();
    assert!(
        log.contains("another kpid daemon") && log.contains(".lock"),
        "stderr does not name the lock:\n{log}"
    );
    // The first one is unaffected.
    first.assert_alive();
    assert_eq!(status(&http, port, "/healthz").await, Some(200));
    first.stop(Duration::from_secs(15)).await;
    db.drop_db().await;
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// The status of `GET http://127.0.0.1:port{path}`, `None` when nothing answers.
async fn status(http: &reqwest::Client, port: u16, path: &str) -> Option<u16> {
    let r = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .ok()?;
    Some(r.status().as_u16())
}

/// A TCP proxy to PostgreSQL that can be taken down (every connection cut)
/// and brought back on the same port.
struct Proxy {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|e| panic!("cannot bind the proxy on {}: {e}", self.port));
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(conn.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }

    /// Stops listening and cuts every connection.
    fn down(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
    }
}

/// `host:port` and the part after it of a `postgres://user[:pw]@host[:port]/db` URL.
fn pg_address(url: &str) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").expect("a postgres url");
    let (user, rest) = match rest.rsplit_once('@') {
        Some((u, r)) => (format!("{u}@"), r),
        None => (String::new(), rest),
    };
    let (hostport, path) = rest.split_once('/').expect("a database in the url");
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    (format!("{scheme}://{user}"), hostport, path.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_follows_the_database() {
    let Some(db) = postgres_db().await else {
        return;
    };
    let (prefix, hostport, path) = pg_address(&db.url);
    let target = tokio::net::lookup_host(&hostport)
        .await
        .unwrap()
        .next()
        .expect("the postgres host resolves");
    let proxy = Proxy {
        port: free_port(),
        target,
        tasks: Arc::default(),
    };
    proxy.up().await;
    let url = format!("{prefix}127.0.0.1:{}/{path}", proxy.port);
    let port = free_port();
    let config = write_config(
        &db,
        &url,
        &format!("[scheduler]\nlease_seconds = 5\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut d = Daemon::start(&config, "kpid");
    let http = http();

    let t = Instant::now();
    wait_for!(
        Duration::from_secs(20),
        {
            d.assert_alive();
            status(&http, port, "/readyz").await.filter(|s| *s == 200)
        },
        "/readyz never became 200:\n{}",
        d.log()
    );
    eprintln!("ready after {:?}", t.elapsed());

    proxy.down();
    let t = Instant::now();
    wait_for!(
        Duration::from_secs(10),
        {
            d.assert_alive();
            assert_eq!(
                status(&http, port, "/healthz").await,
                Some(200),
                "/healthz with the database down"
            );
            status(&http, port, "/readyz").await.filter(|s| *s == 503)
        },
        "/readyz stayed ready with the database unreachable:\n{}",
        d.log()
    );
    eprintln!("not ready {:?} after the database went away", t.elapsed());
    let body = http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("database"), "/readyz body: {body}");

    proxy.up().await;
    let t = Instant::now();
    wait_for!(
        Duration::from_secs(15),
        {
            d.assert_alive();
            assert_eq!(
                status(&http, port, "/healthz").await,
                Some(200),
                "/healthz after the database came back"
            );
            status(&http, port, "/readyz").await.filter(|s| *s == 200)
        },
        "/readyz did not recover after the database came back:\n{}",
        d.log()
    );
    eprintln!("ready again {:?} after the database came back", t.elapsed());
    d.stop(Duration::from_secs(15)).await;
    drop(proxy);
    db.drop_db().await;
}

/// One sample line of the text exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// `name{a="x",b="y"} value [timestamp]` or `name value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let err = |why: &str| format!("{why}: `{line}`");
    let name_end = line.find(['{', ' ']).ok_or_else(|| err("no value"))?;
    let name = &line[..name_end];
    if !is_name(name) {
        return Err(err("bad metric name"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut s) = rest.strip_prefix('{') {
        loop {
            if let Some(r) = s.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = s.find('=').ok_or_else(|| err("label without ="))?;
            let key = &s[..eq];
            if !is_name(key) || key.contains(':') {
                return Err(err("bad label name"));
            }
            s = s[eq + 1..]
                .strip_prefix('"')
                .ok_or_else(|| err("label value not quoted"))?;
            let mut value = String::new();
            let mut chars = s.char_indices();
            let end = loop {
                match chars
                    .next()
                    .ok_or_else(|| err("unterminated label value"))?
                {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or_else(|| err("dangling escape"))? {
                        (_, 'n') => value.push('\n'),
                        (_, c @ ('\\' | '"')) => value.push(c),
                        _ => return Err(err("bad escape")),
                    },
                    (_, c) => value.push(c),
                }
            };
            s = &s[end + 1..];
            if labels.insert(key.to_string(), value).is_some() {
                return Err(err("repeated label"));
            }
            match s.strip_prefix(',') {
                Some(r) => s = r,
                None if s.starts_with('}') => {}
                None => return Err(err("expected `,` or `}` after a label")),
            }
        }
    }
    let fields: Vec<&str> = rest
        .strip_prefix(' ')
        .ok_or_else(|| err("no space before the value"))?
        .split(' ')
        .collect();
    let value = match fields[..] {
        [v] | [v, _] => parse_value(v).ok_or_else(|| err("bad value"))?,
        _ => return Err(err("extra fields")),
    };
    if let [_, ts] = fields[..] {
        ts.parse::<f64>().map_err(|_| err("bad timestamp"))?;
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Checks the whole exposition (OpenMetrics text) and returns its samples.
fn parse_exposition(body: &str) -> Result<Vec<Sample>, String> {
    let lines: Vec<&str> = body.lines().collect();
    if lines.last() != Some(&"# EOF") || !body.ends_with('\n') {
        return Err("the body does not end with `# EOF`".into());
    }
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in &lines[..lines.len() - 1] {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let words: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match words[..] {
                ["TYPE", name, kind] => {
                    if families
                        .insert(name.to_string(), kind.to_string())
                        .is_some()
                    {
                        return Err(format!("second TYPE for {name}"));
                    }
                }
                ["HELP", ..] | ["UNIT", ..] => {}
                ["EOF"] => return Err("`# EOF` before the end".into()),
                _ => return Err(format!("unknown comment `{line}`")),
            }
            continue;
        }
        let s = parse_sample(line)?;
        let family = families.keys().find(|f| {
            s.name == **f
                || s.name.strip_prefix(f.as_str()).is_some_and(|suffix| {
                    ["_total", "_created", "_bucket", "_sum", "_count", "_info"].contains(&suffix)
                })
        });
        if family.is_none() {
            return Err(format!("sample `{line}` before its # TYPE line"));
        }
        samples.push(s);
    }
    Ok(samples)
}

fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

#[test]
fn the_exposition_parser_rejects_what_is_not_exposition_text() {
    let ok = "# HELP a_total A.\n# TYPE a counter\na_total{x=\"1\",y=\"q\\\"z\"} 3\nb 1\n# EOF\n";
    assert!(parse_exposition(ok).unwrap_err().contains("`b 1` before"));
    let ok = "# TYPE a counter\na_total{x=\"1\",y=\"q\\\"z\"} 3\n# TYPE b gauge\nb 1.5e3\n# EOF\n";
    let s = parse_exposition(ok).unwrap();
    assert_eq!(
        sample(&s, "a_total", &[("x", "1"), ("y", "q\"z")]),
        Some(3.0)
    );
    assert_eq!(sample(&s, "b", &[]), Some(1500.0));
    for bad in [
        "# TYPE a gauge\na 1\n",
        "# TYPE a gauge\na{x=1} 1\n# EOF\n",
        "# TYPE a gauge\na{x=\"1\" 1\n# EOF\n",
        "# TYPE a gauge\na one\n# EOF\n",
        "# TYPE a gauge\na\n# EOF\n",
        "# TYPE a gauge\n# EOF\na 1\n# EOF\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_as_prometheus_text_and_count_what_was_ingested() {
    let db = common::backends().await.swap_remove(0);
    assert_eq!(db.backend, "sqlite");
    db.write(
        "imports/orders/a.csv",
        "order_id,shop,paid_at,amount,buyer_id,status\n\
         o1,sh,2026-10-01 10:00:00,10,a,paid\n\
         o2,sh,2026-10-01 11:00:00,ten,a,paid\n\
         o3,sh,2026-10-02 10:00:00,5,b,paid\n\
         o4,sh,2026-10-03 10:00:00,7.5,c,paid\n",
    );
    let port = free_port();
    let config = write_config(
        &db,
        &db.url,
        &format!(
            r#"
[server]
listen = "127.0.0.1:{port}"

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
schedule = "*/2 * * * * *"
path = "{{dir}}/imports/orders/*.csv"
"#
        ),
    );
    let mut d = Daemon::start(&config, "kpid");
    let http = http();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let (content_type, body) = wait_for!(
        Duration::from_secs(20),
        {
            d.assert_alive();
            match http.get(&url).send().await {
                Ok(r) if r.status() == 200 => {
                    let ct = r
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let body = r.text().await.unwrap();
                    let samples = parse_exposition(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
                    sample(
                        &samples,
                        "kpid_connector_runs_total",
                        &[("connector", "orders")],
                    )
                    .filter(|n| *n >= 1.0)
                    .map(|_| (ct, body))
                }
                _ => None,
            }
        },
        "the orders connector never ran:\n{}",
        d.log()
    );
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let samples = parse_exposition(&body).unwrap();
    let orders = [("connector", "orders")];
    assert_eq!(
        sample(&samples, "kpid_connector_records_total", &orders),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        sample(&samples, "kpid_connector_rejects_total", &orders),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&samples, "kpid_connector_failures_total", &orders),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &samples,
            "kpid_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0),
        "{body}"
    );
    let runs = sample(&samples, "kpid_connector_runs_total", &orders).unwrap();
    assert_eq!(
        sample(
            &samples,
            "kpid_connector_run_duration_seconds_count",
            &orders
        ),
        Some(runs),
        "{body}"
    );
    assert!(
        sample(
            &samples,
            "kpid_connector_last_success_timestamp_seconds",
            &orders
        )
        .is_some_and(|t| t > 1.7e9),
        "{body}"
    );
    let names: HashSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    for n in ["kpid_job_takeovers_total", "kpid_snapshot_lag_seconds"] {
        assert!(names.contains(n), "no {n} in\n{body}");
    }
    d.stop(Duration::from_secs(15)).await;
    db.drop_db().await;
}

/// Replicas that start together on an empty PostgreSQL database migrate it
/// once between them (sqlx holds an advisory lock while migrating).
#[tokio::test]
async fn replicas_starting_together_migrate_an_empty_database_once() {
    let Some(admin_url) = common::postgres_url() else {
        return;
    };
    let name = format!("kpid_mig_{}", std::process::id());
    let admin = kpid::store::Store::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(common::pg_pool(&admin))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(common::pg_pool(&admin))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kpid.toml");
    std::fs::write(
        &config,
        format!("[storage]\nurl = \"{url}\"\n[[shops]]\nid = \"s\"\n"),
    )
    .unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_kpid"))
                .arg("--config")
                .arg(&config)
                .arg("migrate")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = kpid::store::Store::connect(&url).await.unwrap();
    assert!(store.migrations_applied().await.unwrap());
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(common::pg_pool(&store))
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count() as i64;
    assert_eq!(rows, files, "each migration applied exactly once");
    store.close().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(common::pg_pool(&admin))
        .await;
    admin.close().await;
}

/// A tick that falls while the database is unreachable for longer than the
/// pool's 10 s acquire timeout is claimed once it returns (within a lease
/// period), not lost. (Shorter outages are absorbed by the pool's acquire.)
#[tokio::test]
async fn a_tick_during_a_short_database_outage_still_runs() {
    let Some(db) = postgres_db().await else {
        return;
    };
    let (prefix, hostport, path) = pg_address(&db.url);
    let target = tokio::net::lookup_host(&hostport)
        .await
        .unwrap()
        .next()
        .expect("the postgres host resolves");
    let proxy = Proxy {
        port: free_port(),
        target,
        tasks: Arc::default(),
    };
    proxy.up().await;
    std::fs::create_dir_all(db.path("imports/orders")).unwrap();
    let url = format!("{prefix}127.0.0.1:{}/{path}", proxy.port);
    let config = write_config(
        &db,
        &url,
        r#"
[scheduler]
lease_seconds = 40

[server]
listen = ""

[[connectors]]
name = "orders"
kind = "csv"
stream = "orders"
schedule = "*/30 * * * * *"
path = "{dir}/imports/orders/*.csv"
"#,
    );
    let mut d = Daemon::start(&config, "kpid");
    wait_for!(
        Duration::from_secs(45),
        {
            d.assert_alive();
            (!db.store.tick_attempts("orders").await.unwrap().is_empty()).then_some(())
        },
        "no tick ran:\n{}",
        d.log()
    );
    // Take the database away from one second before the next tick to twelve
    // seconds after it.
    let now = chrono::Utc::now().timestamp_millis();
    let mut tick = (now / 30_000 + 1) * 30_000;
    if tick - now < 2_000 {
        tick += 30_000;
    }
    tokio::time::sleep(Duration::from_millis((tick - now - 1_000) as u64)).await;
    proxy.down();
    tokio::time::sleep(Duration::from_secs(13)).await;
    proxy.up().await;
    let outage_tick = tick / 1000;
    wait_for!(
        Duration::from_secs(30),
        {
            d.assert_alive();
            let ticks = db.store.tick_attempts("orders").await.unwrap();
            ticks
                .iter()
                .find(|(t, _, status)| *t == outage_tick && status == "ok")
                .map(|_| ())
        },
        "the tick at {outage_tick} (during the outage) never ran: {:?}\n{}",
        db.store.tick_attempts("orders").await.unwrap(),
        d.log()
    );
    assert!(
        d.log().contains("cannot claim the tick; retrying"),
        "the claim was retried:\n{}",
        d.log()
    );
    d.stop(Duration::from_secs(15)).await;
}
