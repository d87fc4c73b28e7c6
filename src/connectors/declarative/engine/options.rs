//! A declarative connector's `[[connectors]]` entry, read and checked
//! against its definition.

use super::super::plan::{Definition, Scheduled};
use crate::config::{ConnectorConfig, KeyProblem};
use crate::connectors::options::check_base_url;
use secrecy::SecretString;
use serde_json::Value;
use std::collections::BTreeMap;

/// A connector's settings as read from its `[[connectors]]` entry.
#[derive(Debug, Clone)]
pub struct Options {
    pub base_url: String,
    pub lookback_days: i64,
    pub initial_days: i64,
    pub concurrency: usize,
    pub requests_per_second: f64,
    pub page_size: u32,
    /// Days per request for streams sliced by days (the definition's by default).
    pub slice_days: Option<u32>,
    pub streams: Vec<String>,
    /// The definition's options, given or defaulted.
    pub values: BTreeMap<String, String>,
    /// Where each credential comes from: (inline, env, file).
    pub(super) credential_sources: BTreeMap<String, CredentialSource>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct CredentialSource {
    pub(super) inline: Option<SecretString>,
    pub(super) env: Option<String>,
    pub(super) file: Option<String>,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Options {
    /// Every problem of `cfg`'s options in one run, as the Rust kinds'
    /// typed options report them: each offending key is set aside and the
    /// rest checked again. A problem not tied to a key that can be set
    /// aside (a missing required option) ends the list.
    pub fn problems(def: &Definition, cfg: &ConnectorConfig) -> Vec<KeyProblem> {
        let mut cfg = cfg.clone();
        let mut out: Vec<KeyProblem> = Vec::new();
        while let Err(problem) = Self::from_config(def, &cfg) {
            if out.iter().any(|p| p.key == problem.key) {
                break;
            }
            let set_aside = cfg.options.remove(&problem.key).is_some();
            out.push(problem);
            if !set_aside {
                break;
            }
        }
        out
    }

    /// Reads a connector's options against its definition, naming the bad key.
    pub fn from_config(def: &Definition, cfg: &ConnectorConfig) -> Result<Self, KeyProblem> {
        let mut o = Options {
            base_url: def.base_url.clone().unwrap_or_default(),
            lookback_days: def.defaults.lookback_days,
            initial_days: def.defaults.initial_days,
            concurrency: def.defaults.concurrency,
            requests_per_second: def.defaults.requests_per_second,
            page_size: def.defaults.page_size,
            slice_days: None,
            streams: def.streams.iter().map(|s| s.name.clone()).collect(),
            values: BTreeMap::new(),
            credential_sources: BTreeMap::new(),
        };
        let bad = |k: &str, m: String| Err(KeyProblem::new(k, m));
        let int = |k: &str, v: &Value| -> Result<i64, KeyProblem> {
            text_of(v)
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| KeyProblem::new(k, format!("expected a whole number, found {v}")))
        };
        let string = |k: &str, v: &Value| -> Result<String, KeyProblem> {
            text_of(v)
                .filter(|_| !v.is_boolean())
                .ok_or_else(|| KeyProblem::new(k, format!("expected a string, found {v}")))
        };
        for (k, v) in &cfg.options {
            match k.as_str() {
                "base_url" => o.base_url = string(k, v)?,
                "lookback_days" => o.lookback_days = int(k, v)?,
                "initial_days" => o.initial_days = int(k, v)?,
                "concurrency" => {
                    o.concurrency = usize::try_from(int(k, v)?)
                        .map_err(|_| KeyProblem::new(k, "must not be negative"))?
                }
                "page_size" => {
                    o.page_size =
                        u32::try_from(int(k, v)?).map_err(|_| KeyProblem::new(k, "out of range"))?
                }
                "slice_days" => {
                    o.slice_days = Some(
                        u32::try_from(int(k, v)?)
                            .ok()
                            .filter(|d| (1..=366).contains(d))
                            .ok_or_else(|| KeyProblem::new(k, "must be between 1 and 366"))?,
                    )
                }
                "requests_per_second" => {
                    o.requests_per_second = text_of(v)
                        .and_then(|t| t.parse::<f64>().ok())
                        .filter(|r| r.is_finite() && *r >= 0.0)
                        .ok_or_else(|| {
                            KeyProblem::new(
                                k,
                                format!("expected 0 (unlimited) or a positive number, found {v}"),
                            )
                        })?
                }
                "streams" => {
                    let list = v
                        .as_array()
                        .ok_or_else(|| KeyProblem::new(k, "expected a list of stream names"))?;
                    o.streams = Vec::new();
                    for s in list {
                        let name = string(k, s)?;
                        if !def.streams.iter().any(|x| x.name == name) {
                            return bad(
                                k,
                                format!(
                                    "`{name}` is not a stream of `{}` (it has: {})",
                                    def.kind,
                                    stream_names(def)
                                ),
                            );
                        }
                        o.streams.push(name);
                    }
                }
                _ => {
                    let (base, suffix) = match k.rsplit_once('_') {
                        Some((b, s @ ("env" | "file"))) => (b, Some(s)),
                        _ => (k.as_str(), None),
                    };
                    if let Some(c) = def.credentials.iter().find(|c| c.name == base) {
                        let src = o.credential_sources.entry(c.name.clone()).or_default();
                        // A credential is text as written, and a wrong one is
                        // not echoed (it may be the secret itself).
                        let Value::String(t) = v else {
                            return bad(k, "expected a string (the value is not shown)".into());
                        };
                        let t = t.clone();
                        match suffix {
                            None => src.inline = Some(SecretString::from(t)),
                            Some("env") => src.env = Some(t),
                            Some(_) => src.file = Some(t),
                        }
                    } else if let Some(spec) = def.options.iter().find(|x| &x.name == k) {
                        o.values.insert(spec.name.clone(), string(k, v)?);
                    } else {
                        return bad(
                            k,
                            format!(
                                "unknown option `{k}` for kind `{}` (known: {})",
                                def.kind,
                                known_keys(def)
                            ),
                        );
                    }
                }
            }
        }
        for spec in &def.options {
            let name = &spec.name;
            let about = spec
                .description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let value = match (o.values.get(name), &spec.default) {
                (Some(v), _) => {
                    let v = v.trim();
                    spec.prefix
                        .as_deref()
                        .and_then(|p| v.strip_prefix(p))
                        .unwrap_or(v)
                        .to_string()
                }
                (None, Some(d)) => d.clone(),
                (None, None) => return bad(name, format!("`{}` needs `{name}`{about}", def.kind)),
            };
            if spec.digits && (value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())) {
                return bad(name, format!("`{value}` is not digits only{about}"));
            }
            o.values.insert(name.clone(), value);
        }
        if o.base_url.is_empty() {
            return bad(
                "base_url",
                format!("`{}` has no default base_url: set one", def.kind),
            );
        }
        check_base_url(&o.base_url)?;
        crate::connectors::options::check_paging(
            o.page_size,
            def.defaults.max_page_size,
            o.concurrency,
            o.lookback_days,
        )?;
        let lookback = def
            .streams
            .iter()
            .any(|s| o.streams.contains(&s.name) && s.window.scheduled == Scheduled::Lookback);
        if lookback && o.lookback_days < 1 {
            return bad(
                "lookback_days",
                "must be at least 1: a scheduled run fetches the last lookback_days days".into(),
            );
        }
        for c in &def.credentials {
            let given = o.given_keys(&c.name);
            // A service account's key and token: exactly one of the two.
            let alternative = def.service_account.as_ref().and_then(|sa| {
                let other = if sa.key == c.name {
                    &sa.token
                } else if sa.token == c.name {
                    &sa.key
                } else {
                    return None;
                };
                Some((sa, other))
            });
            match (given.len(), alternative) {
                (1, None) => {}
                (0, None) => {
                    return bad(
                        &c.name,
                        format!("set one of `{0}`, `{0}_env` or `{0}_file`", c.name),
                    )
                }
                (1, Some((sa, other))) => {
                    let others = o.given_keys(other);
                    if !others.is_empty() {
                        return bad(
                            &given[0],
                            format!(
                                "`{}` and `{}` are both set: give either `{}_file` (a service-account key) or `{}`, not both",
                                given[0], others[0], sa.key, sa.token
                            ),
                        );
                    }
                }
                (0, Some((sa, other))) => {
                    if o.given_keys(other).is_empty() {
                        return bad(
                            &sa.token,
                            format!(
                                "set `{0}` (or `{0}_env`, `{0}_file`), or `{1}_file`, a service-account JSON key",
                                sa.token, sa.key
                            ),
                        );
                    }
                }
                _ => {
                    return bad(
                        &c.name,
                        format!("set only one of `{0}`, `{0}_env` and `{0}_file`", c.name),
                    )
                }
            }
        }
        Ok(o)
    }

    /// How a credential was given: `name`, `name_env` and/or `name_file`.
    pub(super) fn given_keys(&self, name: &str) -> Vec<String> {
        let src = self
            .credential_sources
            .get(name)
            .cloned()
            .unwrap_or_default();
        [
            (src.inline.is_some(), name.to_string()),
            (src.env.is_some(), format!("{name}_env")),
            (src.file.is_some(), format!("{name}_file")),
        ]
        .into_iter()
        .filter_map(|(set, k)| set.then_some(k))
        .collect()
    }
}

fn stream_names(def: &Definition) -> String {
    def.streams
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn known_keys(def: &Definition) -> String {
    let mut keys: Vec<String> = super::super::definition::COMMON_OPTIONS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in &def.credentials {
        keys.push(format!("{0} (or {0}_env, {0}_file)", c.name));
    }
    keys.extend(def.options.iter().map(|o| o.name.clone()));
    keys.join(", ")
}
