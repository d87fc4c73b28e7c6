//! One key of a definition: fields, times, amounts and templates.

use super::super::file::*;
use super::super::plan::*;
use super::super::template::Template;
use crate::config::KeyProblem;
use crate::facts::OrderStatus;
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

pub(super) struct Checker {
    pub(super) problems: Vec<KeyProblem>,
    /// Names templates may use, and whether each is a secret.
    pub(super) names: BTreeMap<String, bool>,
    /// Credentials and options some template uses.
    pub(super) used: BTreeSet<String>,
}

impl Checker {
    pub(super) fn report(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(KeyProblem::new(key, message));
    }

    /// Parses a template, checking its variables: `extra` are the run-time
    /// variables allowed here; `secrets` says whether credentials marked
    /// secret may appear (not in paths, which are logged).
    pub(super) fn template(
        &mut self,
        key: &str,
        text: &str,
        extra: &[&str],
        secrets: bool,
    ) -> Template {
        let t = match Template::parse(text) {
            Ok(t) => t,
            Err(e) => {
                self.report(key, e.to_string());
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

    pub(super) fn params(
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

    pub(super) fn pointer(&mut self, key: &str, p: &str, nested: bool) -> Option<Pointer> {
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
            path: path.into(),
        })
    }

    pub(super) fn field(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> FieldPlan {
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
    pub(super) fn only(&mut self, key: &str, name: &str, f: &RawField, allowed: &[&str]) {
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
            (f.whole, "whole"),
            (f.first, "first"),
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
    pub(super) fn plain(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> FieldPlan {
        self.only(key, name, f, &[]);
        self.field(key, name, f, nested)
    }

    pub(super) fn time(&mut self, key: &str, name: &str, f: &RawField, nested: bool) -> TimePlan {
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

    pub(super) fn format_and_zone(
        &mut self,
        key: &str,
        fmt: &str,
        zone: Option<&str>,
    ) -> (TimeFormat, Zone) {
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

    pub(super) fn amount(
        &mut self,
        key: &str,
        name: &str,
        f: &RawField,
        nested: bool,
    ) -> AmountPlan {
        self.only(
            key,
            name,
            f,
            &[
                "scale", "absolute", "sum", "where", "minus", "at_least", "default", "whole",
                "first",
            ],
        );
        let sum = match &f.sum {
            Some(each) => {
                self.pointer(&format!("{key}.sum"), each, false);
                for p in f.filter.keys() {
                    self.pointer(&format!("{key}.where"), p, false);
                }
                if f.first && f.filter.len() != 1 {
                    self.report(
                        format!("{key}.first"),
                        "takes the item whose one `where` value comes first in its list: give `where` exactly one pointer",
                    );
                }
                Some(SumPlan {
                    each: each.as_str().into(),
                    filters: f
                        .filter
                        .iter()
                        .map(|(k, v)| (k.as_str().into(), v.clone()))
                        .collect(),
                    first: f.first,
                })
            }
            None => {
                if f.first {
                    self.report(format!("{key}.first"), "applies to a `sum` only");
                }
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
        // An amount written in the definition, in the field's scale.
        let mut micros = |what: &str, v: Option<&str>| {
            let parsed = super::super::mapping::amount_micros(v?.trim(), scale);
            parsed
                .map_err(|e| self.report(format!("{key}.{what}"), e.to_string()))
                .ok()
        };
        let at_least = micros("at_least", f.at_least.as_deref());
        let default = micros("default", f.default.as_deref());
        AmountPlan {
            field,
            scale,
            absolute: f.absolute,
            sum,
            minus,
            at_least,
            default,
            whole: f.whole,
        }
    }

    pub(super) fn status(&mut self, key: &str, f: &RawField) -> StatusPlan {
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
                Some(st) => if_present.push((p.as_str().into(), st)),
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
