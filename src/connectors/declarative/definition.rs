//! Checks a definition file into the plan the engine runs. Problems name
//! the key, e.g. `streams.orders.order.amount.scale`, and its line.

use super::file::*;
use super::plan::*;
use super::projection::Projection;
use super::template::Template;
use crate::facts::OrderStatus;
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// Options every declarative connector takes besides its credentials and
/// the definition's own options.
pub const COMMON_OPTIONS: &[&str] = &[
    "base_url",
    "lookback_days",
    "initial_days",
    "concurrency",
    "requests_per_second",
    "page_size",
    "streams",
];

const WINDOW_VARS: &[&str] = &["from", "to"];
const PAGE_VARS: &[&str] = &["page", "offset", "page_size", "cursor"];

/// A problem in a definition: the dotted key and what is wrong.
pub type Problem = (String, String);

struct Checker {
    problems: Vec<Problem>,
    /// Names templates may use, and whether each is a secret.
    names: BTreeMap<String, bool>,
    /// Credentials and options some template uses.
    used: BTreeSet<String>,
}

impl Checker {
    fn report(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push((key.into(), message.into()));
    }

    /// Parses a template, checking its variables: `extra` are the run-time
    /// variables allowed here; `secrets` says whether credentials marked
    /// secret may appear (not in paths, which are logged).
    fn template(&mut self, key: &str, text: &str, extra: &[&str], secrets: bool) -> Template {
        let t = match Template::parse(text) {
            Ok(t) => t,
            Err(e) => {
                self.report(key, e);
                return Template::parse("").expect("empty template");
            }
        };
        for v in t.vars() {
            if self.names.contains_key(v) {
                self.used.insert(v.to_string());
            }
            match self.names.get(v) {
                Some(true) if !secrets => self.report(
                    key,
                    format!("`{{{v}}}` is a secret credential and would appear in logs here; send it in a header, Basic auth or `auth.query`"),
                ),
                Some(_) => {}
                None if extra.contains(&v) => {}
                None => {
                    let mut known: Vec<&str> = self.names.keys().map(String::as_str).collect();
                    known.extend(extra);
                    self.report(
                        key,
                        format!("unknown variable `{{{v}}}` (known here: {})", known.join(", ")),
                    )
                }
            }
        }
        t
    }

    fn params(
        &mut self,
        key: &str,
        map: &BTreeMap<String, String>,
        extra: &[&str],
    ) -> Vec<(String, Template)> {
        map.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    self.template(&format!("{key}.{k}"), v, extra, true),
                )
            })
            .collect()
    }

    fn pointer(&mut self, key: &str, p: &str, nested: bool) -> Option<Pointer> {
        let (parent, path) = match p.strip_prefix("..") {
            Some(rest) if nested => (true, rest),
            Some(_) => {
                self.report(
                    key,
                    format!("`{p}`: `..` (the enclosing record) is only meaningful in nested refunds (`each`)"),
                );
                return None;
            }
            None => (false, p),
        };
        if !path.is_empty() && !path.starts_with('/') {
            self.report(
                key,
                format!(
                    "`{p}` is not a JSON pointer (it starts with `/`, e.g. `/id` or `/buyer/id`)"
                ),
            );
            return None;
        }
        Some(Pointer {
            parent,
            path: path.to_string(),
        })
    }

    fn field(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> FieldPlan {
        if f.pointer.is_empty() {
            self.report(format!("{key}.pointer"), "needs at least one JSON pointer");
        }
        let pointers = f
            .pointer
            .iter()
            .filter_map(|p| self.pointer(key, p, nested))
            .collect();
        FieldPlan {
            name: name.to_string(),
            pointers,
            none_if: f.none_if.clone(),
        }
    }

    /// Reports the settings a field has that its use does not take.
    fn only(&mut self, key: &str, name: &str, f: &RawField, allowed: &[&str]) {
        for (set, what) in [
            (f.format.is_some(), "format"),
            (f.zone.is_some(), "zone"),
            (f.scale.is_some(), "scale"),
            (f.absolute, "absolute"),
            (!f.map.is_empty(), "map"),
            (f.default.is_some(), "default"),
            (f.sum.is_some(), "sum"),
            (!f.filter.is_empty(), "where"),
            (!f.if_present.is_empty(), "if_present"),
            (f.minus.is_some(), "minus"),
            (f.at_least.is_some(), "at_least"),
        ] {
            if set && !allowed.contains(&what) {
                self.report(
                    format!("{key}.{what}"),
                    format!("does not apply to `{name}`"),
                );
            }
        }
    }

    /// A plain field: none of the time, amount or status settings apply.
    fn plain(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> FieldPlan {
        self.only(key, name, f, &[]);
        self.field(key, name, f, nested)
    }

    fn time(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> TimePlan {
        self.only(key, name, f, &["format", "zone"]);
        let field = self.field(key, name, f, nested);
        let (format, zone) = match &f.format {
            Some(fmt) => self.format_and_zone(key, fmt, f.zone.as_deref()),
            None => {
                self.report(
                    format!("{key}.format"),
                    "a time needs `format`: rfc3339, unix, unix_ms, or a pattern such as \"%Y-%m-%d %H:%M:%S\" with `zone`",
                );
                (TimeFormat::Rfc3339, Zone::Named(chrono_tz::UTC))
            }
        };
        TimePlan {
            field,
            format,
            zone,
        }
    }

    fn format_and_zone(&mut self, key: &str, fmt: &str, zone: Option<&str>) -> (TimeFormat, Zone) {
        let format = match fmt {
            "rfc3339" => TimeFormat::Rfc3339,
            "unix" => TimeFormat::UnixSeconds,
            "unix_ms" => TimeFormat::UnixMillis,
            p => {
                if p.contains("%z") || p.contains("%:z") || p.contains("%#z") {
                    self.report(
                        format!("{key}.format"),
                        "a pattern with an offset is read as `rfc3339` or needs no `%z`: kpid reads patterns in `zone`",
                    );
                }
                if !p.contains('%') {
                    self.report(
                        format!("{key}.format"),
                        format!("`{p}` is not rfc3339, unix, unix_ms or a strftime pattern"),
                    );
                }
                TimeFormat::Pattern(p.to_string())
            }
        };
        let zone = match zone {
            Some("shop") => Zone::Shop,
            Some(z) => match Tz::from_str(z) {
                Ok(tz) => Zone::Named(tz),
                Err(_) => {
                    self.report(
                        format!("{key}.zone"),
                        format!("`{z}` is not an IANA zone (e.g. UTC, Asia/Shanghai) or `shop`"),
                    );
                    Zone::Named(chrono_tz::UTC)
                }
            },
            None if matches!(format, TimeFormat::Pattern(_)) => {
                self.report(
                    format!("{key}.zone"),
                    "a pattern has no offset: name the zone its times are in (an IANA zone, or `shop`)",
                );
                Zone::Named(chrono_tz::UTC)
            }
            None => Zone::Named(chrono_tz::UTC),
        };
        (format, zone)
    }

    fn amount(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> AmountPlan {
        self.only(
            key,
            name,
            f,
            &["scale", "absolute", "sum", "where", "minus", "at_least"],
        );
        let sum = match &f.sum {
            Some(each) => {
                self.pointer(&format!("{key}.sum"), each, false);
                for p in f.filter.keys() {
                    self.pointer(&format!("{key}.where"), p, false);
                }
                Some(SumPlan {
                    each: each.clone(),
                    filters: f
                        .filter
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                })
            }
            None => {
                if !f.filter.is_empty() {
                    self.report(
                        format!("{key}.where"),
                        "filters the items of `sum`, which is not set",
                    );
                }
                None
            }
        };
        let field = self.field(key, name, f, nested);
        let scale = match f.scale.as_deref().unwrap_or("decimal") {
            "decimal" | "yuan" => Scale::Decimal,
            "fen" | "cents" => Scale::Hundredths,
            "micros" => Scale::Micros,
            other => {
                self.report(
                    format!("{key}.scale"),
                    format!(
                        "`{other}` is not one of decimal (alias yuan), fen (alias cents), micros"
                    ),
                );
                Scale::Decimal
            }
        };
        let minus = f.minus.as_ref().and_then(|p| {
            if sum.is_some() {
                self.report(format!("{key}.minus"), "does not apply to a `sum`");
            }
            self.pointer(&format!("{key}.minus"), p, nested)
                .map(|pointer| FieldPlan {
                    name: format!("{name} minus"),
                    pointers: vec![pointer],
                    none_if: Vec::new(),
                })
        });
        let at_least = f.at_least.as_deref().and_then(|v| {
            match super::mapping::amount_micros(v.trim(), scale) {
                Ok(m) => Some(m),
                Err(e) => {
                    self.report(format!("{key}.at_least"), e);
                    None
                }
            }
        });
        AmountPlan {
            field,
            scale,
            absolute: f.absolute,
            sum,
            minus,
            at_least,
        }
    }

    fn status(&mut self, key: &str, f: &RawField) -> StatusPlan {
        self.only(
            key,
            "status",
            f,
            &["map", "default", "if_present", "none_if"],
        );
        let field = self.field(key, "status", f, false);
        let parse = |s: &str| match s {
            "paid" => Some(OrderStatus::Paid),
            "unpaid" => Some(OrderStatus::Unpaid),
            "cancelled" => Some(OrderStatus::Cancelled),
            "closed" => Some(OrderStatus::Closed),
            _ => None,
        };
        let mut map = BTreeMap::new();
        for (k, v) in &f.map {
            match parse(v) {
                Some(s) => {
                    map.insert(k.clone(), s);
                }
                None => self.report(
                    format!("{key}.map.{k}"),
                    format!("`{v}` is not one of paid, unpaid, cancelled, closed"),
                ),
            }
        }
        if map.is_empty() && f.map.is_empty() {
            self.report(
                format!("{key}.map"),
                "a status needs a `map` from the platform's values to paid, unpaid, cancelled or closed",
            );
        }
        let default = f.default.as_deref().and_then(|d| {
            let s = parse(d);
            if s.is_none() {
                self.report(
                    format!("{key}.default"),
                    format!("`{d}` is not one of paid, unpaid, cancelled, closed"),
                );
            }
            s
        });
        let mut if_present = Vec::new();
        for (p, v) in &f.if_present {
            self.pointer(&format!("{key}.if_present"), p, false);
            match parse(v) {
                Some(st) => if_present.push((p.clone(), st)),
                None => self.report(
                    format!("{key}.if_present"),
                    format!("`{v}` is not one of paid, unpaid, cancelled, closed"),
                ),
            }
        }
        StatusPlan {
            field,
            map,
            default,
            if_present,
        }
    }
}

fn page_plan(c: &mut Checker, key: &str, p: &RawPagination) -> PagePlan {
    let style = match p.style.as_deref().unwrap_or("none") {
        "none" => PageStyle::None,
        "link" => PageStyle::Link,
        "page" => PageStyle::Page {
            first: p.first_page.unwrap_or(1),
        },
        "offset" => PageStyle::Offset,
        "cursor" => match &p.next_cursor {
            Some(n) => {
                if c.pointer(&format!("{key}.next_cursor"), n, false).is_none() {
                    PageStyle::None
                } else {
                    PageStyle::Cursor { next: n.clone() }
                }
            }
            None => {
                c.report(
                    format!("{key}.next_cursor"),
                    "cursor pagination needs `next_cursor`, the JSON pointer of the next page's token",
                );
                PageStyle::None
            }
        },
        other => {
            c.report(
                format!("{key}.style"),
                format!("`{other}` is not one of none, link, page, offset, cursor"),
            );
            PageStyle::None
        }
    };
    let allowed: &[&str] = match style {
        PageStyle::None | PageStyle::Link => &[],
        PageStyle::Page { .. } => &[
            "first_page",
            "total_pages_header",
            "total_pages",
            "has_next",
            "total",
            "total_header",
        ],
        PageStyle::Offset => &["has_next", "total", "total_header"],
        PageStyle::Cursor { .. } => &["next_cursor", "has_next"],
    };
    for (set, what) in [
        (p.first_page.is_some(), "first_page"),
        (p.total_pages_header.is_some(), "total_pages_header"),
        (p.total_pages.is_some(), "total_pages"),
        (p.has_next.is_some(), "has_next"),
        (p.total.is_some(), "total"),
        (p.total_header.is_some(), "total_header"),
        (p.next_cursor.is_some(), "next_cursor"),
    ] {
        if set && !allowed.contains(&what) {
            c.report(
                format!("{key}.{what}"),
                format!(
                    "does not apply to `{}` pagination",
                    p.style.as_deref().unwrap_or("none")
                ),
            );
        }
    }
    for (ptr, what) in [
        (&p.total_pages, "total_pages"),
        (&p.has_next, "has_next"),
        (&p.total, "total"),
    ] {
        if let Some(x) = ptr {
            c.pointer(&format!("{key}.{what}"), x, false);
        }
    }
    PagePlan {
        style,
        total_pages_header: p
            .total_pages_header
            .as_ref()
            .map(|h| h.to_ascii_lowercase()),
        total_pages: p.total_pages.clone(),
        has_next: p.has_next.clone(),
        total: p.total.clone(),
        total_header: p.total_header.as_ref().map(|h| h.to_ascii_lowercase()),
    }
}

fn slice_length(c: &mut Checker, key: &str, s: Option<&str>) -> SliceLength {
    let s = s.unwrap_or("1d");
    if s == "all" {
        return SliceLength::All;
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: Option<u32> = n.parse().ok().filter(|n| *n > 0);
    match (n, unit) {
        (Some(n), "d") => SliceLength::Days(n),
        (Some(n), "h") if n <= 24 => SliceLength::Seconds(n * 3600),
        (Some(n), "m") if n <= 1440 => SliceLength::Seconds(n * 60),
        _ => {
            c.report(
                key,
                format!("`{s}` is not a slice length such as 1d, 7d, 6h or 15m (at most a day in hours or minutes), or `all`"),
            );
            SliceLength::Days(1)
        }
    }
}

/// Reads and checks one definition file's text; problems come with the
/// dotted key and, where it can be found, the line.
pub fn compile(
    text: &str,
    source: &str,
) -> Result<Definition, Vec<(String, Option<usize>, String)>> {
    let tree = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            return Err(vec![(
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
                    (f.key, line, f.message)
                })
                .collect())
        }
    };
    check(raw, source).map_err(|ps| {
        ps.into_iter()
            .map(|(k, m)| {
                let line = crate::config::line_of_key(text, &k);
                (k, line, m)
            })
            .collect()
    })
}

fn check(raw: RawDefinition, source: &str) -> Result<Definition, Vec<Problem>> {
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
        if !taken.insert(name.clone())
            || WINDOW_VARS.contains(&name.as_str())
            || PAGE_VARS.contains(&name.as_str())
        {
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
        if !taken.insert(name.clone())
            || WINDOW_VARS.contains(&name.as_str())
            || PAGE_VARS.contains(&name.as_str())
        {
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
        if let Err((_, m)) = super::super::options::check_base_url(url) {
            c.report("connection.base_url", m);
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
    let errors = raw.errors.as_ref().map(|e| {
        c.pointer("errors.code", &e.code, false);
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
            code: e.code.clone(),
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
                description: o.description.clone(),
            })
            .collect(),
        headers,
        basic,
        auth_query,
        service_account,
        hint,
        errors,
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

/// Checks one stream: its request, window, pagination and mapping.
fn stream_plan(c: &mut Checker, name: &str, s: &RawStream) -> StreamPlan {
    let all_vars: Vec<&str> = WINDOW_VARS.iter().chain(PAGE_VARS).copied().collect();
    let key = format!("streams.{name}");
    let method = match s.method.to_ascii_uppercase().as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        other => {
            c.report(
                format!("{key}.method"),
                format!("`{other}` is not GET or POST"),
            );
            reqwest::Method::GET
        }
    };
    if !s.path.starts_with('/') {
        c.report(
            format!("{key}.path"),
            "starts with `/` (it is appended to base_url)",
        );
    }
    let path = c.template(&format!("{key}.path"), &s.path, &all_vars, false);
    if !s.records.is_empty() && !s.records.starts_with('/') {
        c.report(
            format!("{key}.records"),
            format!(
                "`{}` is not a JSON pointer (`/data/items`, or \"\" for the whole body)",
                s.records
            ),
        );
    }
    let query = c.params(&format!("{key}.query"), &s.query, &all_vars);
    let body = s.body.as_ref().map(|b| {
        let v = serde_json::to_value(b).unwrap_or(serde_json::Value::Null);
        check_body(c, &format!("{key}.body"), &v, &all_vars);
        v
    });
    if body.is_some() && method == reqwest::Method::GET {
        c.report(
            format!("{key}.body"),
            "a GET request has no body; set `method = \"POST\"`",
        );
    }
    let wk = format!("{key}.window");
    let (format, zone) = c.format_and_zone(&wk, &s.window.format, s.window.zone.as_deref());
    let bounds = match s.window.bounds.as_deref().unwrap_or("half_open") {
        "half_open" => Bounds::HalfOpen,
        "exclusive" => Bounds::Exclusive,
        "inclusive" => Bounds::Inclusive,
        other => {
            c.report(
                format!("{wk}.bounds"),
                format!("`{other}` is not half_open, exclusive or inclusive"),
            );
            Bounds::HalfOpen
        }
    };
    let slice = slice_length(c, &format!("{wk}.slice"), s.window.slice.as_deref());
    let scheduled = match s.window.scheduled.as_deref().unwrap_or("cursor") {
        "cursor" => Scheduled::Cursor,
        "lookback" => Scheduled::Lookback,
        other => {
            c.report(
                format!("{wk}.scheduled"),
                format!("`{other}` is not cursor or lookback"),
            );
            Scheduled::Cursor
        }
    };
    let through = match s.window.through.as_deref().unwrap_or("today") {
        "today" => Through::Today,
        "yesterday" => Through::Yesterday,
        other => {
            c.report(
                format!("{wk}.through"),
                format!("`{other}` is not today or yesterday"),
            );
            Through::Today
        }
    };
    let backfill = c.params(&format!("{wk}.backfill"), &s.window.backfill, &all_vars);
    let incremental = match &s.window.incremental {
        Some(m) => c.params(&format!("{wk}.incremental"), m, &all_vars),
        None => backfill.clone(),
    };
    let body_vars = body.as_ref().map(body_vars).unwrap_or_default();
    let windowed =
        |ps: &[(String, Template)]| ps.iter().any(|(_, t)| t.uses("from") || t.uses("to"));
    if !windowed(&query)
        && !windowed(&backfill)
        && !path.uses("from")
        && !body_vars.iter().any(|v| v == "from" || v == "to")
    {
        c.report(
            format!("{wk}.backfill"),
            "no parameter uses {from} or {to}: every request would fetch everything",
        );
    }
    let pagination = page_plan(c, &format!("{key}.pagination"), &s.pagination);
    let page_var = match &pagination.style {
        PageStyle::Page { .. } => Some("page"),
        PageStyle::Offset => Some("offset"),
        PageStyle::Cursor { .. } => Some("cursor"),
        PageStyle::None | PageStyle::Link => None,
    };
    if let Some(v) = page_var {
        let used = query.iter().any(|(_, t)| t.uses(v))
            || path.uses(v)
            || body_vars.iter().any(|b| b == v);
        if !used {
            c.report(
                format!("{key}.query"),
                format!(
                    "`{}` pagination needs a parameter using {{{v}}}",
                    s.pagination.style.as_deref().unwrap_or("none")
                ),
            );
        }
    }
    let order = s.order.as_ref().map(|o| {
        let k = format!("{key}.order");
        OrderPlan {
            id: c.plain(&format!("{k}.id"), "id", &o.id, false),
            paid_at: c.time(&format!("{k}.paid_at"), "paid_at", &o.paid_at, false),
            amount: c.amount(&format!("{k}.amount"), "amount", &o.amount, false),
            buyer_id: o
                .buyer_id
                .as_ref()
                .map(|f| c.plain(&format!("{k}.buyer_id"), "buyer_id", f, false)),
            status: o
                .status
                .as_ref()
                .map(|f| c.status(&format!("{k}.status"), f)),
        }
    });
    let refunds = s.refunds.as_ref().map(|r| {
        let k = format!("{key}.refunds");
        let nested = r.each.is_some();
        if let Some(e) = &r.each {
            c.pointer(&format!("{k}.each"), e, false);
        } else if order.is_some() {
            c.report(
                format!("{k}.each"),
                "refunds beside an `order` are nested in it: name the array with `each`",
            );
        }
        RefundPlan {
            each: r.each.clone(),
            id: c.plain(&format!("{k}.id"), "refund id", &r.id, nested),
            order_id: c.plain(&format!("{k}.order_id"), "order_id", &r.order_id, nested),
            refunded_at: c.time(
                &format!("{k}.refunded_at"),
                "refunded_at",
                &r.refunded_at,
                nested,
            ),
            amount: c.amount(&format!("{k}.amount"), "refund amount", &r.amount, nested),
        }
    });
    let daily = s.daily.as_ref().map(|d| {
        let k = format!("{key}.daily");
        let day = match &d.day.format {
            Some(p) if is_date_pattern(p) => {
                if d.day.zone.is_some() {
                    c.report(
                        format!("{k}.day.zone"),
                        "a calendar date has no zone: it is the shop's day as written",
                    );
                }
                DayPlan::Date {
                    field: c.field(&format!("{k}.day"), "day", &d.day, false),
                    pattern: p.clone(),
                }
            }
            _ => DayPlan::Instant(c.time(&format!("{k}.day"), "day", &d.day, false)),
        };
        let known: Vec<&str> = crate::kpi::catalogue::INPUTS.iter().map(|i| i.id).collect();
        let mut inputs = Vec::new();
        for (input, f) in &d.inputs {
            if !known.contains(&input.as_str()) {
                c.report(
                    format!("{k}.inputs.{input}"),
                    format!("`{input}` is not an input (see `kpid kpis --inputs`)"),
                );
            }
            inputs.push((
                input.clone(),
                c.amount(
                    &format!("{k}.inputs.{input}"),
                    &format!("inputs.{input}"),
                    f,
                    false,
                ),
            ));
        }
        if inputs.is_empty() {
            c.report(format!("{k}.inputs"), "map at least one input to a pointer");
        }
        DailyPlan {
            day,
            dimension: d
                .dimension
                .as_ref()
                .map(|f| c.plain(&format!("{k}.dimension"), "dimension", f, false)),
            inputs,
        }
    });
    match (&order, &refunds, &daily) {
        (None, None, None) => c.report(
            key.clone(),
            "a stream maps its records with `order`, `refunds` or `daily`",
        ),
        (_, _, Some(_)) if order.is_some() || refunds.is_some() => c.report(
            format!("{key}.daily"),
            "a daily stream maps no orders or refunds: make it its own stream",
        ),
        _ => {}
    }
    if let Some(z) = &s.reports_zone {
        c.pointer(&format!("{key}.reports_zone"), z, false);
    }
    if let Some(z) = &s.columns {
        c.pointer(&format!("{key}.columns"), z, false);
    }
    let mut plan = StreamPlan {
        name: name.to_string(),
        method,
        path,
        records: s.records.clone(),
        records_optional: s.records_optional,
        reports_zone: s.reports_zone.clone(),
        columns: s.columns.clone(),
        query,
        body,
        window: WindowPlan {
            format,
            zone,
            bounds,
            slice,
            backfill,
            incremental,
            scheduled,
            through,
        },
        pagination,
        order,
        refunds,
        daily,
        projection: Projection::default(),
    };
    plan.projection = Projection::of(&plan);
    plan
}

/// A pattern with no time of day reads as a calendar date.
fn is_date_pattern(p: &str) -> bool {
    ![
        "%H", "%I", "%M", "%S", "%T", "%R", "%s", "%+", "%c", "%X", "%r",
    ]
    .iter()
    .any(|t| p.contains(t))
        && !matches!(p, "rfc3339" | "unix" | "unix_ms")
}

/// The variables the string values of a body use (checked templates).
fn body_vars(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => Template::parse(s)
            .map(|t| t.vars().map(str::to_string).collect())
            .unwrap_or_default(),
        serde_json::Value::Array(a) => a.iter().flat_map(body_vars).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(body_vars).collect(),
        _ => Vec::new(),
    }
}

fn check_body(c: &mut Checker, key: &str, v: &serde_json::Value, vars: &[&str]) {
    match v {
        serde_json::Value::String(s) => {
            c.template(key, s, vars, true);
        }
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| check_body(c, &format!("{key}[{i}]"), x, vars)),
        serde_json::Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| check_body(c, &format!("{key}.{k}"), x, vars)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
kind = "t"
description = "test"
[credentials]
token = {}
[streams.orders]
path = "/orders"
records = "/items"
query = { from = "{from}", page = "{page}" }
[streams.orders.window]
format = "rfc3339"
[streams.orders.pagination]
style = "page"
[streams.orders.order]
id = "/id"
paid_at = { pointer = "/at", format = "rfc3339" }
amount = "/total"
"#;

    fn keys(text: &str) -> Vec<String> {
        match compile(text, "t.toml") {
            Ok(_) => Vec::new(),
            Err(ps) => ps.into_iter().map(|(k, _, _)| k).collect(),
        }
    }

    #[test]
    fn a_sound_definition_compiles() {
        let d = compile(BASE, "t.toml").unwrap();
        assert_eq!(d.kind, "t");
        assert_eq!(d.streams[0].pagination.style, PageStyle::Page { first: 1 });
        assert!(d.hint.contains("token"), "{}", d.hint);
    }

    #[test]
    fn each_problem_names_its_key() {
        let with = |from: &str, to: &str| {
            assert!(BASE.contains(from), "{from}");
            BASE.replace(from, to)
        };
        assert_eq!(
            keys(&with(
                "style = \"page\"",
                "style = \"page\"\nnext_cursor = \"/n\""
            )),
            ["streams.orders.pagination.next_cursor"]
        );
        assert_eq!(
            keys(&with(
                "amount = \"/total\"",
                "amount = { pointer = \"/total\", format = \"unix\" }"
            )),
            ["streams.orders.order.amount.format"]
        );
        assert_eq!(
            keys(&with(
                "format = \"rfc3339\"\n[streams.orders.pagination]",
                "format = \"%Y-%m-%d\"\n[streams.orders.pagination]"
            )),
            ["streams.orders.window.zone"]
        );
        assert_eq!(
            keys(&with("id = \"/id\"", "id = \"../id\"")),
            ["streams.orders.order.id"]
        );
        assert_eq!(
            keys(&with(
                "id = \"/id\"",
                "id = \"/id\"\nstatus = { pointer = \"/s\", map = { A = \"shipped\" } }"
            )),
            ["streams.orders.order.status.map.A"]
        );
        assert_eq!(
            keys(&with("page = \"{page}\"", "p = \"1\"")),
            ["streams.orders.query"]
        );
        assert_eq!(
            keys(&with("path = \"/orders\"", "path = \"/o/{token}\"")),
            ["streams.orders.path"]
        );
        assert_eq!(keys(&with("kind = \"t\"", "kind = \"T x\"")), ["kind"]);
        assert_eq!(
            keys(&with("token = {}", "token = {}\npage = {}")),
            ["credentials.page"]
        );
        assert_eq!(
            keys(&with(
                "id = \"/id\"",
                "id = { pointer = \"/id\", minus = \"/x\" }"
            )),
            ["streams.orders.order.id.minus"]
        );
        assert_eq!(
            keys(&with(
                "amount = \"/total\"",
                "amount = { pointer = \"/total\", at_least = \"zero\" }"
            )),
            ["streams.orders.order.amount.at_least"]
        );
        assert_eq!(
            keys(&with(
                "format = \"rfc3339\"\n[streams.orders.pagination]",
                "format = \"rfc3339\"\nscheduled = \"always\"\nslice = \"all\"\n[streams.orders.pagination]"
            )),
            ["streams.orders.window.scheduled"]
        );
    }

    /// A POST stream paged by offset in its body, with a service account as
    /// the alternative to a token (the shape of connectors/ga4.toml).
    const POSTED: &str = r#"
kind = "p"
description = "test"
[credentials]
access_token = {}
key = {}
[options]
account = { digits = true }
[auth]
headers = { Authorization = "Bearer {access_token}" }
[auth.service_account]
key = "key"
token = "access_token"
scope = "https://example.com/auth/read"
[streams.daily]
method = "POST"
path = "/report/{account}"
records = "/rows"
records_optional = true
body = { range = { start = "{from}", end = "{to}" }, limit = "{page_size}", offset = "{offset}" }
[streams.daily.window]
format = "%Y-%m-%d"
zone = "shop"
slice = "all"
scheduled = "lookback"
through = "yesterday"
[streams.daily.pagination]
style = "offset"
total = "/rowCount"
[streams.daily.daily]
day = { pointer = "/day", format = "%Y%m%d" }
inputs = { bounces = { pointer = "/m/0", minus = "/m/1", at_least = 0 } }
"#;

    #[test]
    fn post_bodies_and_service_accounts_are_checked() {
        let d = compile(POSTED, "p.toml").unwrap();
        let s = &d.streams[0];
        assert_eq!(s.method, reqwest::Method::POST);
        assert_eq!(s.window.slice, SliceLength::All);
        assert_eq!(s.window.scheduled, Scheduled::Lookback);
        assert_eq!(s.window.through, Through::Yesterday);
        assert!(s.records_optional);
        let bounces = &s.daily.as_ref().unwrap().inputs[0].1;
        assert_eq!(bounces.at_least, Some(0));
        assert!(bounces.minus.is_some());
        assert_eq!(d.service_account.as_ref().unwrap().token, "access_token");
        assert!(d.options[0].digits);

        let with = |from: &str, to: &str| {
            assert!(POSTED.contains(from), "{from}");
            keys(&POSTED.replace(from, to))
        };
        // The offset must reach the request.
        assert_eq!(
            with(", offset = \"{offset}\" }", " }"),
            ["streams.daily.query"]
        );
        assert_eq!(
            with("key = \"key\"", "key = \"keys\""),
            ["auth.service_account.key"]
        );
        assert_eq!(
            with(
                "scope = \"https://example.com/auth/read\"",
                "scope = \"read\""
            ),
            ["auth.service_account.scope"]
        );
        // The key is only signed with; the minted token must be sent.
        assert_eq!(
            with(
                "path = \"/report/{account}\"",
                "path = \"/report/{account}\"\nquery = { k = \"{key}\" }"
            ),
            ["credentials.key"]
        );
        assert_eq!(
            with("Bearer {access_token}", "Bearer"),
            ["auth.service_account.token"]
        );
        assert_eq!(
            with(
                "account = { digits = true }",
                "account = { digits = true, default = \"G-1\" }"
            ),
            ["options.account.default"]
        );
        assert_eq!(
            with("method = \"POST\"", "method = \"GET\""),
            ["streams.daily.body"]
        );
    }
}
