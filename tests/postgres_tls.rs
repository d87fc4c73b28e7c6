//! PostgreSQL over TLS: a real server started by the test with `ssl=on`, a
//! CA and a server certificate the test makes, and kpid connecting with each
//! `sslmode`. The server accepts TCP connections only over TLS (`hostssl`),
//! so a connection that works was encrypted.
use kpid::measure::Measure;
use kpid::period::LocalDay;
use kpid::store::{Store, StoredKpi};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder holding `initdb`, `pg_ctl` and `postgres` (Debian keeps one
/// per major version).
fn postgres_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("the PostgreSQL server package is installed (/usr/lib/postgresql)")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("initdb in /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs a server program; as root, as the `postgres` user (initdb refuses
/// to run as root).
fn run(program: &Path, args: &[&str]) {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// A server started for one test, stopped (and its files removed) on drop.
struct Server {
    dir: tempfile::TempDir,
    data: PathBuf,
    port: u16,
    bin: PathBuf,
}

impl Server {
    /// Starts a server whose certificate, for `localhost` only, is signed by `ca`.
    fn start(ca: &Ca) -> Server {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = cert.signed_by(&key, &ca.issuer).unwrap();
        std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        if is_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(owned.success());
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let data = dir.path().join("data");
        let d = data.to_str().unwrap();
        run(
            &bin.join("initdb"),
            &["-D", d, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        );
        // TCP only over TLS: an unencrypted connection is refused.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl all all ::1/128 trust\n",
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = format!(
            "-p {port} -c listen_addresses=localhost -c unix_socket_directories={} \
             -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            dir.path().display(),
            dir.path().join("server.crt").display(),
            dir.path().join("server.key").display(),
        );
        let log = dir.path().join("server.log");
        run(
            &bin.join("pg_ctl"),
            &[
                "-D",
                d,
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        Server {
            dir,
            data,
            port,
            bin,
        }
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // No assertion here: a drop while a failed test unwinds must not panic.
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data.to_str().unwrap();
        let stop = ["-D", data, "-m", "fast", "-w", "stop"];
        let status = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args(stop)
                .status()
        } else {
            Command::new(&pg_ctl).args(stop).status()
        };
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("could not stop the test server in {data}");
        }
    }
}

async fn open(url: &str) -> Result<Store, String> {
    let store = Store::connect(url).await.map_err(|e| e.to_string())?;
    store.ping().await.map_err(|e| e.to_string())?;
    Ok(store)
}

#[tokio::test]
async fn connects_over_tls_with_each_sslmode_and_refuses_a_wrong_ca() {
    let ca_right = ca("kpid test CA");
    let server = Server::start(&ca_right);
    let root = server.write("root.crt", &ca_right.pem);
    let wrong = server.write("wrong.crt", &ca("another CA").pem);

    // verify-full: the chain and the host name checked; kpid works on it.
    let url = server.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    );
    let store = open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    store.migrate().await.unwrap();
    let kpis = [StoredKpi {
        kpi: "gmv".into(),
        measure: Measure {
            value: Some(rust_decimal::Decimal::new(12345, 2)),
            ..Measure::default()
        },
        score: None,
    }];
    let period = kpid::period::Period::parse_any("2026-10").unwrap();
    let (revision, new) = store.write_snapshot("sh", period, &kpis).await.unwrap();
    assert_eq!((revision, new), (1, true));
    // Facts go through the native driver's own pool: TLS there too.
    let day = LocalDay::from_ymd_opt(2026, 10, 1).unwrap();
    let batch = kpid::facts::Batch {
        daily: vec![kpid::facts::DailyValue {
            shop: "sh".into(),
            day,
            input: "visitors".into(),
            dimension: String::new(),
            value_micros: Some(42_000_000),
        }],
        ..Default::default()
    };
    store.commit_batch("traffic", &batch).await.unwrap();
    let stored = store
        .daily_aggregates("sh", kpid::period::Days::one(day))
        .await
        .unwrap();
    assert!(!stored.is_empty(), "the committed value reads back");
    store.close().await;

    // verify-full checks the host name: 127.0.0.1 is not in the certificate.
    let url = server.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={root}"),
    );
    let err = open(&url)
        .await
        .expect_err("verify-full checks the host name");
    assert!(
        err.contains("127.0.0.1") && err.contains("localhost"),
        "{err}"
    );
    // verify-ca checks the chain. (With sqlx 0.8 and rustls ≥ 0.23.24 it
    // checks the name too, launchbadge/sqlx#3793: see README "Storage".)
    let url = server.url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={root}"),
    );
    open(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .close()
        .await;
    let url = server.url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={wrong}"),
    );
    assert!(open(&url).await.is_err(), "verify-ca refuses another CA");

    // A certificate from another CA: a clear error naming TLS and the cause.
    let url = server.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={wrong}"),
    );
    let err = open(&url).await.expect_err("a wrong CA is refused");
    assert!(
        err.contains("over TLS") && err.contains("not signed by the CA in `sslrootcert`"),
        "{err}"
    );
    assert!(err.contains(&format!("localhost:{}", server.port)), "{err}");

    // require and prefer encrypt without checking the chain; disable does
    // not encrypt, which this server refuses.
    for mode in ["require", "prefer"] {
        let url = server.url("localhost", &format!("sslmode={mode}"));
        open(&url)
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"))
            .close()
            .await;
    }
    let url = server.url("localhost", "sslmode=disable");
    let err = open(&url).await.expect_err("the server takes TLS only");
    assert!(err.contains("no encryption"), "{err}");
}
