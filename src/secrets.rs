//! Credentials given in configuration inline (`<key>`), by environment
//! variable (`<key>_env`) or by file (`<key>_file`): the one rule shared by
//! connectors and alert channels.

use secrecy::SecretString;

/// Resolves one credential; exactly one of the three forms must be set. The
/// error names the key (and the variable or file), never the value.
pub fn resolve(
    key: &str,
    inline: Option<SecretString>,
    env: &Option<String>,
    file: &Option<String>,
) -> Result<SecretString, String> {
    match resolve_optional(key, inline, env, file)? {
        Some(s) => Ok(s),
        None => Err(format!("set one of `{key}`, `{key}_env` or `{key}_file`")),
    }
}

/// As [`resolve`], for a credential that may be left out (none of the three set).
pub fn resolve_optional(
    key: &str,
    inline: Option<SecretString>,
    env: &Option<String>,
    file: &Option<String>,
) -> Result<Option<SecretString>, String> {
    match (inline, env, file) {
        (Some(s), None, None) => Ok(Some(s)),
        (None, Some(var), None) => std::env::var(var)
            .map(|v| Some(SecretString::from(v.trim().to_string())))
            .map_err(|_| format!("{key}_env names `{var}`, which is not set in the environment")),
        (None, None, Some(path)) => std::fs::read_to_string(path)
            .map(|v| Some(SecretString::from(v.trim().to_string())))
            .map_err(|e| format!("{key}_file `{path}` cannot be read: {e}")),
        (None, None, None) => Ok(None),
        _ => Err(format!(
            "set only one of `{key}`, `{key}_env` and `{key}_file`"
        )),
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
