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
