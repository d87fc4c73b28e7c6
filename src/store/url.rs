//! Storage URLs: which database they name, the form each driver opens, and
//! their redaction for logs, errors and `kpid check`.

use super::{Result, StoreError};
use crate::secrets::redact_url;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Query parameters the PostgreSQL driver reads; it ignores any other,
/// logging its value at WARN.
const POSTGRES_PARAMETERS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The URL without secret-looking query parameters the driver would ignore
/// anyway: it would log them, value and all.
pub(super) fn without_ignored_secrets(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or(pair);
            POSTGRES_PARAMETERS.contains(&key) || !crate::secrets::looks_secret(key)
        })
        .collect();
    if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

/// What went wrong when a TLS connection failed, with what to check: sqlx
/// reports a refused certificate only as "error communicating with database".
fn tls_failure(e: &sqlx::Error) -> Option<String> {
    use rustls::CertificateError as Cert;
    let tls = match e {
        sqlx::Error::Tls(other) => match other.downcast_ref::<rustls::Error>() {
            Some(tls) => tls,
            None => return Some(other.to_string()),
        },
        sqlx::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>()?,
        _ => return None,
    };
    let what = match tls {
        rustls::Error::InvalidCertificate(Cert::UnknownIssuer | Cert::BadSignature) => {
            "the server's certificate is not signed by the CA in `sslrootcert` (without one, by a public CA)"
        }
        rustls::Error::InvalidCertificate(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => {
            "the server's certificate does not name the URL's host (`verify-full` checks it)"
        }
        rustls::Error::InvalidCertificate(_) => "the server's certificate was refused",
        _ => "the TLS handshake failed",
    };
    Some(format!("{what}: {tls}"))
}

/// The file of an SQLite URL (`sqlite://PATH` or `sqlite:PATH`) and its query.
pub(super) fn sqlite_parts(url: &str) -> (&str, Option<&str>) {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    }
}

/// The URL sqlx opens: with `create`, the file and its directory are made
/// when missing (`mode=rwc` unless the URL sets a mode); without, the file
/// must exist (`mode=rw`, or the URL's `mode=ro`).
pub(super) fn prepare_sqlite_url(url: &str, create: bool) -> Result<String> {
    let (path, query) = sqlite_parts(url);
    if create && path != ":memory:" {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
    }
    let mut params: Vec<&str> = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .collect();
    if !create {
        params.retain(|p| *p != "mode=rwc");
    }
    if !params.iter().any(|p| p.starts_with("mode=")) {
        params.push(if create { "mode=rwc" } else { "mode=rw" });
    }
    Ok(format!("sqlite://{path}?{}", params.join("&")))
}

/// The error of a failed connection, naming the (redacted) URL and, for a
/// refused TLS handshake, what to check.
pub(super) fn connect_error(url: &str, source: sqlx::Error) -> StoreError {
    match tls_failure(&source) {
        Some(reason) => StoreError::Tls {
            url: redact_url(url),
            reason,
            source,
        },
        None => StoreError::Connect {
            url: redact_url(url),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/kpid.db");
        let url = format!("sqlite://{}", db.display());
        let existing = prepare_sqlite_url(&format!("{url}?mode=rwc"), false).unwrap();
        assert_eq!(existing, format!("sqlite://{}?mode=rw", db.display()));
        assert!(!dir.path().join("sub").exists());
        let read_only = prepare_sqlite_url(&format!("{url}?mode=ro"), false).unwrap();
        assert!(read_only.ends_with("?mode=ro"), "{read_only}");
        let created = prepare_sqlite_url(&format!("sqlite:{}", db.display()), true).unwrap();
        assert_eq!(created, format!("sqlite://{}?mode=rwc", db.display()));
        assert!(dir.path().join("sub").is_dir());
    }

    #[test]
    fn secret_parameters_the_driver_ignores_are_not_passed_to_it() {
        assert_eq!(
            without_ignored_secrets("postgres://db/k?password=p&auth_token=t&sslmode=disable"),
            "postgres://db/k?password=p&sslmode=disable"
        );
        assert_eq!(
            without_ignored_secrets("postgres://db/k?api_secret=s"),
            "postgres://db/k"
        );
    }
}
