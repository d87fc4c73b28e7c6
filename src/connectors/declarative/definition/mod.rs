//! Checks a definition file into the plan the engine runs. Problems name
//! the key, e.g. `streams.orders.order.amount.scale`, and its line.
//!
//! By section: `checker` (fields, times, amounts and templates of one key),
//! `paging` (pagination and slices), `stream` (one stream: request, window,
//! records and mappings); this file checks the whole definition.

mod checker;
mod paging;
mod stream;
#[cfg(test)]
mod tests;

use super::file::*;
use super::plan::*;
use crate::config::{KeyProblem, Problem};
use checker::Checker;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use stream::stream_plan;

/// Options every declarative connector takes besides its credentials and
/// the definition's own options.
pub const COMMON_OPTIONS: &[&str] = &[
    "base_url",
    "lookback_days",
    "initial_days",
    "concurrency",
    "requests_per_second",
    "page_size",
    "slice_days",
    "streams",
];

pub(super) const WINDOW_VARS: &[&str] = &["from", "to"];
pub(super) const PAGE_VARS: &[&str] = &["page", "offset", "page_size", "cursor"];

/// The keys of the problems a definition's text has (none when it
/// compiles): what tests of definitions and of the blocks they pick assert.
#[cfg(test)]
pub(super) fn problem_keys(text: &str) -> Vec<String> {
    match compile(text, "test.toml") {
        Ok(_) => Vec::new(),
        Err(ps) => ps.into_iter().map(|p| p.key).collect(),
    }
}

/// Asserts each case `(from, to, keys)`: `base` with `from` replaced by `to`
/// has the problems of `keys`, in order. A failure names its case.
#[cfg(test)]
pub(super) fn assert_problems(base: &str, cases: &[(&str, &str, &[&str])]) {
    for (from, to, want) in cases {
        assert!(base.contains(from), "the definition has no `{from}`");
        assert_eq!(
            problem_keys(&base.replace(from, to)),
            *want,
            "`{from}` replaced by `{to}`"
        );
    }
}

/// Reads and checks one definition file's text (`source` is its file
/// name); each problem comes with the dotted key and, where it can be
/// found, the line.
pub fn compile(text: &str, source: &str) -> Result<Definition, Vec<Problem>> {
    let at = |key: String, line: Option<usize>, message: String| Problem {
        file: source.to_string(),
        key,
        line,
        message,
    };
    let tree = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            return Err(vec![at(
                "(file)".into(),
                line,
                format!("invalid TOML: {}", e.message()),
            )]);
        }
    };
    // Every typing problem of the file at once, each under its own key.
    let (raw, found) =
        crate::config::collect::deserialize_all::<RawDefinition>(tree, &BTreeMap::new());
    let raw = match raw {
        Some(raw) if found.is_empty() => raw,
        _ => {
            return Err(found
                .into_iter()
                .map(|f| {
                    let line = crate::config::line_of_key(text, &f.key);
                    at(f.key, line, f.message)
                })
                .collect())
        }
    };
    check(raw, source).map_err(|ps| {
        ps.into_iter()
            .map(|p| {
                let line = crate::config::line_of_key(text, &p.key);
                at(p.key, line, p.message)
            })
            .collect()
    })
}

fn check(raw: RawDefinition, source: &str) -> Result<Definition, Vec<KeyProblem>> {
    let mut c = Checker {
        problems: Vec::new(),
        names: BTreeMap::new(),
        used: BTreeSet::new(),
    };
    let kind_ok = !raw.kind.is_empty()
        && raw
            .kind
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
    if !kind_ok {
        c.report(
            "kind",
            format!(
                "`{}` must be lower-case letters, digits, `_` or `-`",
                raw.kind
            ),
        );
    }
    let mut taken: BTreeSet<String> = COMMON_OPTIONS.iter().map(|s| s.to_string()).collect();
    // Whether `name` is still free (no option, credential or variable has
    // it), taking it if so.
    let mut take = |name: &str| {
        taken.insert(name.to_string()) && !WINDOW_VARS.contains(&name) && !PAGE_VARS.contains(&name)
    };
    // `<name>_env` and `<name>_file` are how a connector gives a credential.
    for name in raw.credentials.keys().chain(raw.options.keys()) {
        if name.ends_with("_env") || name.ends_with("_file") {
            c.report(
                format!("credentials.{name}"),
                "names ending in `_env` or `_file` are taken by the ways to give a credential",
            );
        }
    }
    for (name, cred) in &raw.credentials {
        if !take(name) {
            c.report(
                format!("credentials.{name}"),
                format!("`{name}` is already an option or variable name"),
            );
        }
        c.names.insert(name.clone(), cred.secret);
    }
    for (name, o) in &raw.options {
        if o.digits
            && o.default
                .as_deref()
                .is_some_and(|d| d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()))
        {
            c.report(
                format!("options.{name}.default"),
                "is not digits only, as `digits = true` requires",
            );
        }
        if !take(name) {
            c.report(
                format!("options.{name}"),
                format!("`{name}` is already a credential, option or variable name"),
            );
        }
        c.names.insert(name.clone(), false);
    }
    let conn = &raw.connection;
    let page_size = conn.page_size.unwrap_or(100);
    let max_page_size = conn.max_page_size.unwrap_or(page_size);
    if page_size == 0 || page_size > max_page_size {
        c.report(
            "connection.page_size",
            format!("must be between 1 and max_page_size ({max_page_size})"),
        );
    }
    if let Some(url) = &conn.base_url {
        if let Err(p) = super::super::options::check_base_url(url) {
            c.report("connection.base_url", p.message);
        }
    }
    let rps = conn.requests_per_second.unwrap_or(5.0);
    if !(rps.is_finite() && rps >= 0.0) {
        c.report(
            "connection.requests_per_second",
            "must be 0 (unlimited) or more",
        );
    }
    if conn.concurrency == Some(0) {
        c.report("connection.concurrency", "must be at least 1");
    }
    if conn.lookback_days.is_some_and(|d| d < 0) {
        c.report("connection.lookback_days", "must not be negative");
    }
    let mut headers = Vec::new();
    for (key, map) in [
        ("connection.headers", &conn.headers),
        ("auth.headers", &raw.auth.headers),
    ] {
        for h in map.keys() {
            if reqwest::header::HeaderName::from_str(h).is_err() {
                c.report(format!("{key}.{h}"), format!("`{h}` is not a header name"));
            }
        }
        headers.extend(c.params(key, map, &[]));
    }
    let basic = raw.auth.basic.as_ref().map(|b| {
        (
            c.template("auth.basic.username", &b.username, &[], true),
            c.template("auth.basic.password", &b.password, &[], true),
        )
    });
    let auth_query = c.params("auth.query", &raw.auth.query, &[]);
    let service_account = raw
        .auth
        .service_account
        .as_ref()
        .map(|sa| service_account_plan(&mut c, sa, &raw));
    let cred_names: Vec<&str> = raw.credentials.keys().map(String::as_str).collect();
    let hint = match &raw.auth.hint {
        Some(h) => h.clone(),
        None if cred_names.is_empty() => "check the connector's base_url".to_string(),
        None => format!("check the connector's {}", cred_names.join(" and ")),
    };
    let hint = if cred_names.iter().all(|n| hint.contains(n)) {
        hint
    } else {
        // A 401 must always name what to fix, whatever the hint says.
        format!("{hint} (credentials: {})", cred_names.join(", "))
    };
    let envelope = super::blocks::envelope_of(&raw, &mut c.problems);
    let signing = super::blocks::signing_of(&raw, &mut c.problems);
    let errors = raw
        .errors
        .as_ref()
        .filter(|e| e.envelope.is_none())
        .map(|e| {
            let code = e.code.clone().unwrap_or_else(|| {
                c.report(
                    "errors.code",
                    "needs `code` (a pointer) or a named `envelope`",
                );
                String::new()
            });
            c.pointer("errors.code", &code, false);
            if e.ok.is_empty() {
                c.report(
                    "errors.ok",
                    "list the codes that mean success (e.g. [\"0\"])",
                );
            }
            if let Some(m) = &e.message {
                c.pointer("errors.message", m, false);
            }
            BodyErrors {
                code,
                message: e.message.clone(),
                ok: e.ok.clone(),
                throttled: e.throttled.clone(),
                auth: e.auth.clone(),
            }
        });
    if raw.streams.is_empty() {
        c.report("streams", "a definition needs at least one stream");
    }
    let streams: Vec<StreamPlan> = raw
        .streams
        .iter()
        .map(|(name, s)| stream_plan(&mut c, name, s))
        .collect();
    if let Some(sa) = &service_account {
        if c.used.contains(&sa.key) {
            c.report(
                format!("credentials.{}", sa.key),
                format!(
                    "`{{{}}}` is the service-account key: kpid signs with it and sends only `{{{}}}`",
                    sa.key, sa.token
                ),
            );
        }
        if !c.used.contains(&sa.token) {
            c.report(
                "auth.service_account.token",
                format!(
                    "no template uses `{{{}}}`, so the minted token would never be sent (e.g. `headers = {{ Authorization = \"Bearer {{{}}}\" }}`)",
                    sa.token, sa.token
                ),
            );
        }
    }
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Definition {
        kind: raw.kind,
        description: raw.description,
        source: source.to_string(),
        base_url: conn.base_url.clone(),
        defaults: Defaults {
            requests_per_second: rps,
            page_size,
            max_page_size,
            lookback_days: conn.lookback_days.unwrap_or(2),
            initial_days: conn.initial_days.unwrap_or(30),
            concurrency: conn.concurrency.unwrap_or(4),
        },
        credentials: raw
            .credentials
            .iter()
            .map(|(n, cr)| Credential {
                name: n.clone(),
                secret: cr.secret,
            })
            .collect(),
        options: raw
            .options
            .iter()
            .map(|(n, o)| OptionSpec {
                name: n.clone(),
                default: o.default.clone(),
                digits: o.digits,
                prefix: o.prefix.clone(),
                description: o.description.clone(),
            })
            .collect(),
        headers,
        basic,
        auth_query,
        service_account,
        hint,
        errors,
        envelope,
        signing,
        streams,
    })
}

/// Checks `[auth.service_account]`: two distinct credentials, the key one
/// given as a file (its name + `_file`), and the token's scope.
fn service_account_plan(
    c: &mut Checker,
    sa: &RawServiceAccount,
    raw: &RawDefinition,
) -> ServiceAccountPlan {
    let k = "auth.service_account";
    for (what, name) in [("key", &sa.key), ("token", &sa.token)] {
        if !raw.credentials.contains_key(name) {
            c.report(
                format!("{k}.{what}"),
                format!("`{name}` is not one of the definition's [credentials]"),
            );
        }
    }
    if sa.key == sa.token {
        c.report(
            format!("{k}.token"),
            "the key and the token are two credentials (a connector gives one of them)",
        );
    }
    if !sa.scope.starts_with("https://") {
        c.report(
            format!("{k}.scope"),
            format!(
                "`{}` is not an OAuth scope URL (e.g. https://www.googleapis.com/auth/analytics.readonly)",
                sa.scope
            ),
        );
    }
    ServiceAccountPlan {
        key: sa.key.clone(),
        token: sa.token.clone(),
        scope: sa.scope.clone(),
    }
}
