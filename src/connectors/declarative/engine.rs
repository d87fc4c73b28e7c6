//! Runs a definition: builds requests from its templates, slices the window,
//! follows its pagination and commits each page as it arrives, through the
//! shared HTTP runtime (rate limit, retries, `Retry-After`, credentials
//! refused at once).
//!
//! A backfill (`--from/--to`) sends the `backfill` window parameters for
//! each slice of the range. A scheduled run sends the `incremental` ones
//! from the stream's stored cursor minus the lookback to the end of today
//! (or yesterday, with `through`); the cursor moves to the run's start only
//! once every page is committed. With `scheduled = "lookback"` it covers
//! the last `lookback_days` days instead, and keeps no cursor.
//!
//! With `[auth.service_account]` and a key given, each page is requested
//! with a minted token in place of the token credential; a 401 renews it
//! once ([`ServiceAccountTokenSource::authorized`]).

use super::mapping::{classify, format_time, Mapper, PageInfo};
use super::plan::{Bounds, Definition, PageStyle, Scheduled, SliceLength, StreamPlan, Through};
use super::template::Template;
use crate::config::{ConnectorConfig, Settings};
use crate::connectors::options::check_base_url;
use crate::connectors::{connector_shop, secret_option, ConnectorError, Sink, Window};
use crate::facts::Batch;
use crate::http::oauth::ServiceAccountTokenSource;
use crate::http::pagination::{advance_cursor, next_link};
use crate::http::{strip_query, HttpClient, HttpError, Page, RetryPolicy};
use crate::period::{day_start, local_day, today};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Pages one slice may take before kpid assumes the platform is looping.
const MAX_PAGES: u32 = 100_000;

/// A connector's settings as read from its `[[connectors]]` entry.
#[derive(Debug, Clone)]
pub struct Options {
    pub base_url: String,
    pub lookback_days: i64,
    pub initial_days: i64,
    pub concurrency: usize,
    pub requests_per_second: f64,
    pub page_size: u32,
    pub streams: Vec<String>,
    /// The definition's options, given or defaulted.
    pub values: BTreeMap<String, String>,
    /// Where each credential comes from: (inline, env, file).
    credential_sources: BTreeMap<String, CredentialSource>,
}

#[derive(Debug, Clone, Default)]
struct CredentialSource {
    inline: Option<SecretString>,
    env: Option<String>,
    file: Option<String>,
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
    /// Reads a connector's options against its definition, naming the bad key.
    /// Every problem of `cfg`'s options in one run, as the Rust kinds'
    /// typed options report them: each offending key is set aside and the
    /// rest checked again.
    pub fn problems(def: &Definition, cfg: &ConnectorConfig) -> Vec<(String, String)> {
        let mut cfg = cfg.clone();
        let mut out: Vec<(String, String)> = Vec::new();
        while let Err((key, message)) = Self::from_config(def, &cfg) {
            if out.iter().any(|(k, _)| *k == key) {
                break;
            }
            let set_aside = cfg.options.remove(&key).is_some();
            out.push((key, message));
            if !set_aside {
                break;
            }
        }
        out
    }

    pub fn from_config(def: &Definition, cfg: &ConnectorConfig) -> Result<Self, (String, String)> {
        let mut o = Options {
            base_url: def.base_url.clone().unwrap_or_default(),
            lookback_days: def.defaults.lookback_days,
            initial_days: def.defaults.initial_days,
            concurrency: def.defaults.concurrency,
            requests_per_second: def.defaults.requests_per_second,
            page_size: def.defaults.page_size,
            streams: def.streams.iter().map(|s| s.name.clone()).collect(),
            values: BTreeMap::new(),
            credential_sources: BTreeMap::new(),
        };
        let bad = |k: &str, m: String| Err((k.to_string(), m));
        let int = |k: &str, v: &Value| -> Result<i64, (String, String)> {
            text_of(v)
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| (k.to_string(), format!("expected a whole number, found {v}")))
        };
        let string = |k: &str, v: &Value| -> Result<String, (String, String)> {
            text_of(v)
                .filter(|_| !v.is_boolean())
                .ok_or_else(|| (k.to_string(), format!("expected a string, found {v}")))
        };
        for (k, v) in &cfg.options {
            match k.as_str() {
                "base_url" => o.base_url = string(k, v)?,
                "lookback_days" => o.lookback_days = int(k, v)?,
                "initial_days" => o.initial_days = int(k, v)?,
                "concurrency" => {
                    o.concurrency = usize::try_from(int(k, v)?)
                        .map_err(|_| (k.clone(), "must not be negative".to_string()))?
                }
                "page_size" => {
                    o.page_size = u32::try_from(int(k, v)?)
                        .map_err(|_| (k.clone(), "out of range".to_string()))?
                }
                "requests_per_second" => {
                    o.requests_per_second = text_of(v)
                        .and_then(|t| t.parse::<f64>().ok())
                        .filter(|r| r.is_finite() && *r >= 0.0)
                        .ok_or_else(|| {
                            (
                                k.clone(),
                                format!("expected 0 (unlimited) or a positive number, found {v}"),
                            )
                        })?
                }
                "streams" => {
                    let list = v.as_array().ok_or_else(|| {
                        (k.clone(), "expected a list of stream names".to_string())
                    })?;
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
                        let t = string(k, v)?;
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
                (Some(v), _) => v.clone(),
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
    fn given_keys(&self, name: &str) -> Vec<String> {
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
    let mut keys: Vec<String> = super::definition::COMMON_OPTIONS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in &def.credentials {
        keys.push(format!("{0} (or {0}_env, {0}_file)", c.name));
    }
    keys.extend(def.options.iter().map(|o| o.name.clone()));
    keys.join(", ")
}

/// A configured connector of a declarative kind.
#[derive(Debug)]
pub struct DeclarativeConnector {
    pub name: String,
    def: Arc<Definition>,
    shop: String,
    tz: Tz,
    options: Options,
    credentials: BTreeMap<String, SecretString>,
    /// With `[auth.service_account]` and a key given: mints the token.
    token_source: Option<ServiceAccountTokenSource>,
    http: Arc<HttpClient>,
}

/// One request plan: the slice `[start, end)` of a stream's window.
#[derive(Debug, Clone)]
struct Slice {
    incremental: bool,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Where the next page is.
#[derive(Debug, Clone, Default)]
struct Position {
    page: u64,
    offset: u64,
    cursor: Option<String>,
    next_url: Option<String>,
}

/// What a page's templates are filled from.
struct Vars<'a> {
    s: &'a StreamPlan,
    slice: &'a Slice,
    pos: &'a Position,
    /// A minted access token, standing in for its credential.
    token: Option<&'a SecretString>,
}

/// Page variables that are numbers: alone in a body string they are sent
/// as JSON numbers (`"limit": 100`), as typed APIs expect.
const NUMERIC_VARS: &[&str] = &["page", "offset", "page_size"];

impl DeclarativeConnector {
    pub fn build(
        def: Arc<Definition>,
        cfg: &ConnectorConfig,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let err = |message: String| ConnectorError::Config {
            connector: cfg.name.clone(),
            message,
        };
        if let Some(note) = super::aliases::note(&cfg.name, &cfg.kind) {
            tracing::warn!("{note}");
        }
        let options = Options::from_config(&def, cfg).map_err(|(k, m)| err(format!("{k}: {m}")))?;
        let mut credentials = BTreeMap::new();
        for c in &def.credentials {
            let src = options
                .credential_sources
                .get(&c.name)
                .cloned()
                .unwrap_or_default();
            if src.inline.is_none() && src.env.is_none() && src.file.is_none() {
                // The unused alternative of a service account (checked above).
                continue;
            }
            let secret = secret_option(&cfg.name, &c.name, src.inline, &src.env, &src.file)?;
            credentials.insert(c.name.clone(), secret);
        }
        let token_source = match &def.service_account {
            Some(sa) => match credentials.remove(&sa.key) {
                Some(key) => {
                    let given = options.given_keys(&sa.key).join(", ");
                    let src = options
                        .credential_sources
                        .get(&sa.key)
                        .and_then(|s| s.file.as_deref().map(|f| format!(" `{f}`")))
                        .unwrap_or_default();
                    let hint = format!(
                        "check the connector's {given}: a service-account JSON key that is still valid (not deleted or disabled), for a project with the API enabled"
                    );
                    Some(
                        ServiceAccountTokenSource::from_key_json(
                            key.expose_secret(),
                            &sa.scope,
                            &hint,
                        )
                        .map_err(|e| err(format!("{given}{src} {e}")))?,
                    )
                }
                None => None,
            },
            None => None,
        };
        let (shop, tz) = connector_shop(cfg, settings)?;
        let http = HttpClient::new(
            &cfg.name,
            options.requests_per_second,
            RetryPolicy::default(),
        )
        .map_err(|e| err(e.to_string()))?;
        Ok(DeclarativeConnector {
            name: cfg.name.clone(),
            def,
            shop,
            tz,
            options,
            credentials,
            token_source,
            http: Arc::new(http),
        })
    }

    fn slice_label(&self, s: &StreamPlan, slice: &Slice) -> String {
        let local = slice.start.with_timezone(&self.tz);
        match s.window.slice {
            SliceLength::Days(_) | SliceLength::All => local.format("%Y-%m-%d").to_string(),
            SliceLength::Seconds(_) => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    pub fn kind(&self) -> &str {
        &self.def.kind
    }

    /// A template variable's value: page position, window, options, credentials.
    fn var(&self, name: &str, v: &Vars) -> Option<String> {
        let (s, slice, pos) = (v.s, v.slice, v.pos);
        let (from, to) = match s.window.bounds {
            Bounds::HalfOpen => (slice.start, slice.end),
            Bounds::Exclusive => (slice.start - Duration::seconds(1), slice.end),
            Bounds::Inclusive => (slice.start, slice.end - Duration::seconds(1)),
        };
        let zone = s.window.zone.resolve(self.tz);
        match name {
            "from" => Some(format_time(from, &s.window.format, zone)),
            "to" => Some(format_time(to, &s.window.format, zone)),
            "page" => Some(pos.page.to_string()),
            "offset" => Some(pos.offset.to_string()),
            "page_size" => Some(self.options.page_size.to_string()),
            "cursor" => pos.cursor.clone(),
            _ => self.fixed_var(name, v.token),
        }
    }

    /// Credentials and options only (auth templates); a minted token
    /// stands in for the credential it replaces.
    fn fixed_var(&self, name: &str, token: Option<&SecretString>) -> Option<String> {
        if let (Some(sa), Some(t)) = (&self.def.service_account, token) {
            if sa.token == name {
                return Some(t.expose_secret().to_string());
            }
        }
        self.options.values.get(name).cloned().or_else(|| {
            self.credentials
                .get(name)
                .map(|c| c.expose_secret().to_string())
        })
    }

    /// Day slices of `[from, to]` (local days), grouped or split as the
    /// definition's `slice` says.
    fn slices(
        &self,
        s: &StreamPlan,
        incremental: bool,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<Slice> {
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
        let mut out = Vec::new();
        let group = |out: &mut Vec<Slice>, group: &[NaiveDate]| {
            if let (Some(first), Some(last)) = (group.first(), group.last()) {
                out.push(Slice {
                    incremental,
                    start: day_start(*first, self.tz),
                    end: day_start(*last + Duration::days(1), self.tz),
                });
            }
        };
        match s.window.slice {
            SliceLength::All => group(&mut out, &days),
            SliceLength::Days(n) => {
                for g in days.chunks(n as usize) {
                    group(&mut out, g);
                }
            }
            SliceLength::Seconds(secs) => {
                for d in days {
                    let (mut start, end) = (
                        day_start(d, self.tz),
                        day_start(d + Duration::days(1), self.tz),
                    );
                    while start < end {
                        let next = (start + Duration::seconds(secs as i64)).min(end);
                        out.push(Slice {
                            incremental,
                            start,
                            end: next,
                        });
                        start = next;
                    }
                }
            }
        }
        out
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        for s in self
            .def
            .streams
            .iter()
            .filter(|s| self.options.streams.contains(&s.name))
        {
            let plan = Arc::new(s.clone());
            let incremental = window.from.is_none() && window.to.is_none();
            let last = match s.window.through {
                Through::Today => today(self.tz),
                Through::Yesterday => today(self.tz) - Duration::days(1),
            };
            let slices = if incremental {
                let from = match s.window.scheduled {
                    Scheduled::Cursor => {
                        let since = match sink.cursor(&s.name).await? {
                            Some(c) => DateTime::parse_from_rfc3339(&c)
                                .map(|t| {
                                    t.with_timezone(&Utc)
                                        - Duration::days(self.options.lookback_days)
                                })
                                .unwrap_or_else(|_| {
                                    Utc::now() - Duration::days(self.options.initial_days)
                                }),
                            None => Utc::now() - Duration::days(self.options.initial_days),
                        };
                        local_day(since, self.tz)
                    }
                    Scheduled::Lookback => last - Duration::days(self.options.lookback_days - 1),
                };
                self.slices(s, true, from, last)
            } else {
                let to = window.to.unwrap_or_else(|| today(self.tz));
                let from = window.from.unwrap_or(to);
                self.slices(s, false, from, to)
            };
            let started = Utc::now();
            sink.fetch_and_commit(slices, self.options.concurrency, |slice, tx| {
                self.fetch_slice(plan.clone(), slice, tx)
            })
            .await?;
            if incremental && s.window.scheduled == Scheduled::Cursor {
                // Everything changed before the run started, up to the end
                // of the window, is stored; the cursor moves only now.
                let end = day_start(last + Duration::days(1), self.tz);
                sink.set_cursor(
                    &s.name,
                    &started.min(end).to_rfc3339_opts(SecondsFormat::Secs, true),
                )
                .await?;
            }
        }
        Ok(())
    }

    fn config_error(&self, message: String) -> ConnectorError {
        ConnectorError::Config {
            connector: self.name.clone(),
            message,
        }
    }

    /// The URL of a page built from the stream's templates.
    fn url(&self, v: &Vars) -> Result<String, ConnectorError> {
        let s = v.s;
        let var = |n: &str| self.var(n, v);
        let path = s.path.render(&var).ok_or_else(|| {
            self.config_error(format!(
                "stream `{}`: the path needs a value it has not got",
                s.name
            ))
        })?;
        let window_params = if v.slice.incremental {
            &s.window.incremental
        } else {
            &s.window.backfill
        };
        // A parameter whose variable has no value yet (`{cursor}` on the
        // first page) is left out.
        let params: Vec<(String, String)> = s
            .query
            .iter()
            .chain(window_params)
            .filter_map(|(k, t): &(String, Template)| t.render(&var).map(|v| (k.clone(), v)))
            .collect();
        let base = format!("{}{}", self.options.base_url.trim_end_matches('/'), path);
        let url = if params.is_empty() {
            reqwest::Url::parse(&base)
        } else {
            reqwest::Url::parse_with_params(&base, &params)
        };
        url.map(|u| u.to_string())
            .map_err(|e| self.config_error(format!("base_url: {e}")))
    }

    /// The JSON body: string values are templates; one that is a numeric
    /// page variable alone becomes a number; a member whose variable has no
    /// value (`{cursor}` on the first page) is left out.
    fn body(&self, value: &Value, v: &Vars) -> Option<Value> {
        match value {
            Value::String(t) => {
                let t = Template::parse(t).ok()?;
                let text = t.render(&|n| self.var(n, v))?;
                match t.only_var() {
                    Some(n) if NUMERIC_VARS.contains(&n) => {
                        serde_json::from_str::<serde_json::Number>(&text)
                            .ok()
                            .map(Value::Number)
                    }
                    _ => Some(Value::String(text)),
                }
            }
            Value::Array(a) => Some(Value::Array(
                a.iter()
                    .map(|x| self.body(x, v).unwrap_or(Value::Null))
                    .collect(),
            )),
            Value::Object(o) => Some(Value::Object(
                o.iter()
                    .filter_map(|(k, x)| self.body(x, v).map(|x| (k.clone(), x)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }

    fn request(
        &self,
        c: &reqwest::Client,
        s: &StreamPlan,
        url: &str,
        body: Option<&Value>,
        token: Option<&SecretString>,
    ) -> reqwest::RequestBuilder {
        let var = |n: &str| self.fixed_var(n, token);
        let mut req = c
            .request(s.method.clone(), url)
            .header("Accept", "application/json");
        let auth_query: Vec<(String, String)> = self
            .def
            .auth_query
            .iter()
            .filter_map(|(k, t)| t.render(&var).map(|v| (k.clone(), v)))
            .collect();
        if !auth_query.is_empty() {
            req = req.query(&auth_query);
        }
        for (name, t) in &self.def.headers {
            if let Some(v) = t.render(&var) {
                match reqwest::header::HeaderValue::from_str(&v) {
                    Ok(mut hv) => {
                        // Keeps credentials out of any Debug print of the request.
                        hv.set_sensitive(true);
                        req = req.header(name.as_str(), hv);
                    }
                    // The value is a credential: name the header, never the value.
                    Err(_) => {
                        tracing::warn!(connector = %self.name, header = %name, "header value has characters a header cannot carry (a newline in a credential file?); not sent")
                    }
                }
            }
        }
        if let Some((user, pass)) = &self.def.basic {
            req = req.basic_auth(user.render(&var).unwrap_or_default(), pass.render(&var));
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req
    }

    /// One page, with `token` when a service account mints them. The outer
    /// error is the HTTP failure (a 401 renews the token); the inner one a
    /// request the templates cannot build.
    async fn fetch_page(
        &self,
        s: &Arc<StreamPlan>,
        slice: &Slice,
        pos: &Position,
        page_no: u32,
        token: Option<SecretString>,
    ) -> Result<Result<(Page<(Batch, PageInfo)>, String), ConnectorError>, HttpError> {
        let v = Vars {
            s,
            slice,
            pos,
            token: token.as_ref(),
        };
        let url = match &pos.next_url {
            Some(u) => u.clone(),
            None => match self.url(&v) {
                Ok(u) => u,
                Err(e) => return Ok(Err(e)),
            },
        };
        let body = s.body.as_ref().and_then(|b| self.body(b, &v));
        let mapper = Mapper {
            stream: s.clone(),
            shop: self.shop.clone(),
            tz: self.tz,
            source: strip_query(&url),
            page_no,
            slice: self.slice_label(s, slice),
            errors: self.def.errors.clone(),
        };
        let errors = self.def.errors.clone();
        let hint = self.def.hint.clone();
        let page = self
            .http
            .get_checked(
                |c| self.request(c, s, &url, body.as_ref(), token.as_ref()),
                &self.def.hint,
                move |bytes: &[u8]| mapper.page(bytes),
                move |bytes: &[u8]| errors.as_ref().and_then(|e| classify(e, &hint, bytes)),
            )
            .await?;
        Ok(Ok((page, url)))
    }

    async fn fetch_slice(
        &self,
        s: Arc<StreamPlan>,
        slice: Slice,
        tx: mpsc::Sender<Batch>,
    ) -> Result<(), ConnectorError> {
        let first_page = match s.pagination.style {
            PageStyle::Page { first } => first,
            _ => 1,
        };
        let mut pos = Position {
            page: first_page,
            ..Position::default()
        };
        let mut page_no: u32 = 0;
        loop {
            page_no += 1;
            if page_no > MAX_PAGES {
                return Err(self.config_error(format!(
                    "stream `{}`: more than {MAX_PAGES} pages in one slice; the pagination settings may not match the platform",
                    s.name
                )));
            }
            let fetched = match &self.token_source {
                Some(source) => {
                    source
                        .authorized(&self.http, |t| {
                            self.fetch_page(&s, &slice, &pos, page_no, Some(t))
                        })
                        .await
                }
                None => self.fetch_page(&s, &slice, &pos, page_no, None).await,
            };
            let (page, url) = fetched.map_err(|e| ConnectorError::Http {
                connector: self.name.clone(),
                source: e,
            })??;
            let (batch, info) = page.body;
            if page_no == 1 {
                self.check_zone(&info);
            }
            if tx.send(batch).await.is_err() {
                // The committer stopped on an error; it reports it.
                return Ok(());
            }
            match self.advance(&s, &page.headers, &info, pos) {
                Ok(Some(next)) => pos = next,
                Ok(None) => return Ok(()),
                Err(message) => {
                    return Err(ConnectorError::Http {
                        connector: self.name.clone(),
                        source: HttpError::Malformed {
                            url: strip_query(&url),
                            message,
                            snippet: String::new(),
                        },
                    })
                }
            }
        }
    }

    /// Days in another zone than the shop's land on other local days than
    /// the shop's orders: worth a warning, not a failure (the platform's
    /// setting, which kpid cannot change).
    fn check_zone(&self, info: &PageInfo) {
        if let Some(zone) = info.zone.as_deref().filter(|z| *z != self.tz.name()) {
            tracing::warn!(
                connector = %self.name,
                platform_zone = zone,
                shop_zone = self.tz.name(),
                "the platform reports days in another time zone than the shop's; its days are stored as they come"
            );
        }
    }

    /// The position of the next page, or `None` after the last one.
    fn advance(
        &self,
        s: &StreamPlan,
        headers: &reqwest::header::HeaderMap,
        info: &PageInfo,
        pos: Position,
    ) -> Result<Option<Position>, String> {
        let p = &s.pagination;
        let header_number = |name: &Option<String>| {
            name.as_deref()
                .and_then(|h| headers.get(h))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let size = self.options.page_size as u64;
        let full = info.served as u64 >= size;
        match &p.style {
            PageStyle::None => Ok(None),
            PageStyle::Link => Ok(next_link(headers).map(|u| Position {
                next_url: Some(u),
                ..pos
            })),
            PageStyle::Page { first } => {
                let total_pages = info
                    .total_pages
                    .or_else(|| header_number(&p.total_pages_header));
                let total = info.total.or_else(|| header_number(&p.total_header));
                let done_pages = pos.page + 1 - first;
                // Without any total (a proxy may drop a header), a short page is the last.
                let more = match (info.has_next, total_pages, total) {
                    (Some(h), _, _) => h,
                    (None, Some(n), _) => done_pages < n,
                    (None, None, Some(t)) => done_pages * size < t,
                    (None, None, None) => full,
                };
                Ok((more && info.served > 0).then(|| Position {
                    page: pos.page + 1,
                    ..pos
                }))
            }
            PageStyle::Offset => {
                let offset = pos.offset + info.served as u64;
                let total = info.total.or_else(|| header_number(&p.total_header));
                let more = match (info.has_next, total) {
                    (Some(h), _) => h,
                    (None, Some(t)) => offset < t,
                    (None, None) => full,
                };
                Ok((more && info.served > 0).then_some(Position { offset, ..pos }))
            }
            PageStyle::Cursor { .. } => {
                if info.has_next == Some(false) {
                    return Ok(None);
                }
                let next = advance_cursor(pos.cursor.as_deref(), info.next_cursor.clone())?;
                Ok(next.map(|c| Position {
                    cursor: Some(c),
                    ..pos
                }))
            }
        }
    }
}
