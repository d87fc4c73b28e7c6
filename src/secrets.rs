//! Credentials given in configuration inline (`<key>`), by environment
//! variable (`<key>_env`) or by file (`<key>_file`): the one rule shared by
//! connectors and alert channels.

use secrecy::SecretString;

/// Why a credential could not be resolved. Names the key (and the variable
/// or file), never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("set one of `{key}`, `{key}_env` or `{key}_file`")]
    Missing { key: String },
    #[error("set only one of `{key}`, `{key}_env` and `{key}_file`")]
    Ambiguous { key: String },
    #[error("{key}_env names `{var}`, which is not set in the environment")]
    EnvUnset { key: String, var: String },
    // The I/O error is part of the message rather than a `source`: the
    // binary prints the chain, and it would say the cause twice.
    #[error("{key}_file `{path}` cannot be read: {cause}")]
    FileUnreadable {
        key: String,
        path: String,
        cause: std::io::Error,
    },
}

impl SecretError {
    /// The credential's key (`token`, `url`, `app_secret`, ...).
    pub fn key(&self) -> &str {
        match self {
            SecretError::Missing { key }
            | SecretError::Ambiguous { key }
            | SecretError::EnvUnset { key, .. }
            | SecretError::FileUnreadable { key, .. } => key,
        }
    }
}

/// Resolves one credential; exactly one of the three forms must be set.
pub fn resolve(
    key: &str,
    inline: Option<SecretString>,
    env: &Option<String>,
    file: &Option<String>,
) -> Result<SecretString, SecretError> {
    resolve_optional(key, inline, env, file)?.ok_or_else(|| SecretError::Missing {
        key: key.to_string(),
    })
}

/// As [`resolve`], for a credential that may be left out (none of the three set).
pub fn resolve_optional(
    key: &str,
    inline: Option<SecretString>,
    env: &Option<String>,
    file: &Option<String>,
) -> Result<Option<SecretString>, SecretError> {
    match (inline, env, file) {
        (Some(s), None, None) => Ok(Some(s)),
        (None, Some(var), None) => std::env::var(var)
            .map(|v| Some(SecretString::from(v.trim().to_string())))
            .map_err(|_| SecretError::EnvUnset {
                key: key.to_string(),
                var: var.clone(),
            }),
        (None, None, Some(path)) => std::fs::read_to_string(path)
            .map(|v| Some(SecretString::from(v.trim().to_string())))
            .map_err(|cause| SecretError::FileUnreadable {
                key: key.to_string(),
                path: path.clone(),
                cause,
            }),
        (None, None, None) => Ok(None),
        _ => Err(SecretError::Ambiguous {
            key: key.to_string(),
        }),
    }
}

/// Whether an option or URL parameter name looks like a credential's
/// (`password`, `*token*`, `*secret*`, …). Connector kinds declare their own
/// secret keys in the registry; this catches the rest (a database URL's
/// parameters, a misspelt key) so that hiding errs on the safe side.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !k.ends_with("_file")
        && !k.ends_with("_env")
        && (k.contains("secret")
            || k.contains("token")
            || k.contains("password")
            || k == "session"
            || k == "api_key"
            || k == "consumer_key"
            || k == "private_key")
}

/// Hides the credentials of a database URL for logs, errors and `kpid
/// check`: the password of `user:password@`, and the value of every query
/// parameter whose name looks secret (`password`, `*token*`, `*secret*`, …;
/// see [`looks_secret`]). The rest stays as
/// written so the URL can still be recognised.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.find("://") {
        Some(s) => {
            let rest = &base[s + 3..];
            let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
            match authority.rsplit_once('@') {
                Some((creds, host)) => {
                    let user = creds.split_once(':').map(|(u, _)| format!("{u}:***"));
                    format!(
                        "{}{}@{}{}",
                        &base[..s + 3],
                        user.as_deref().unwrap_or(creds),
                        host,
                        &rest[authority.len()..]
                    )
                }
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if looks_secret(k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys_are_recognised() {
        for k in [
            "access_token",
            "consumer_secret",
            "consumer_key",
            "private_key",
            "app_secret",
            "password",
            "session",
            "api_token",
        ] {
            assert!(looks_secret(k), "{k}");
        }
        for k in ["credentials_file", "access_token_env", "path", "app_key_id"] {
            assert!(!looks_secret(k), "{k}");
        }
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://kpid:s3cret@db:5432/kpid"),
            "postgres://kpid:***@db:5432/kpid"
        );
        assert_eq!(
            redact_url("postgres://kpid@db/kpid"),
            "postgres://kpid@db/kpid"
        );
        assert_eq!(redact_url("sqlite://data/kpid.db"), "sqlite://data/kpid.db");
    }

    #[test]
    fn redacts_secret_query_parameters() {
        assert_eq!(
            redact_url("postgres://db/kpid?user=kpid&password=s3cret&sslmode=require"),
            "postgres://db/kpid?user=kpid&password=***&sslmode=require"
        );
        // An `@` in the query is not the end of the credentials.
        assert_eq!(
            redact_url("postgres://u:pw@db/kpid?PASSWORD=a@b&api_token=t"),
            "postgres://u:***@db/kpid?PASSWORD=***&api_token=***"
        );
        assert_eq!(
            redact_url("sqlite://data/kpid.db?mode=rwc"),
            "sqlite://data/kpid.db?mode=rwc"
        );
    }
}
