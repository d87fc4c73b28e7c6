//! Query parameters read by name, so a 400 names the parameter and what it expects.

use super::ApiError;
use crate::period::{LocalDay, Period};
use crate::report::Format;
use axum::http::StatusCode;
use std::collections::HashMap;

pub struct Params(HashMap<String, String>);

fn bad(msg: String) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg)
}

impl Params {
    /// Refuses parameters the endpoint does not take (a typo would otherwise
    /// be ignored silently).
    pub fn new(q: HashMap<String, String>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut unknown: Vec<&String> = q
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .collect();
        unknown.sort();
        if let Some(k) = unknown.first() {
            return Err(bad(if allowed.is_empty() {
                format!("unknown parameter `{k}`: this endpoint takes none")
            } else {
                format!(
                    "unknown parameter `{k}`: this endpoint takes {}",
                    allowed
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }));
        }
        Ok(Params(q))
    }

    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|v| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// An optional parameter that must parse when given; a 400 says what it
    /// `expects`.
    pub fn parsed<'a, T>(
        &'a self,
        name: &str,
        expects: &str,
        parse: impl FnOnce(&'a str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        self.optional(name)
            .map(|t| {
                parse(t).ok_or_else(|| bad(format!("parameter `{name}`: `{t}` is not {expects}")))
            })
            .transpose()
    }

    pub fn required(&self, name: &str, expects: &str) -> Result<&str, ApiError> {
        self.optional(name)
            .ok_or_else(|| bad(format!("missing parameter `{name}`: {expects}")))
    }

    pub fn period(&self, name: &str) -> Result<Period, ApiError> {
        let text = self.required(name, "a day YYYY-MM-DD, a month YYYY-MM or a year YYYY")?;
        Period::parse_any(text).map_err(|_| {
            bad(format!(
                "parameter `{name}`: `{text}` is not a day YYYY-MM-DD, a month YYYY-MM or a year YYYY"
            ))
        })
    }

    pub fn day(&self, name: &str) -> Result<LocalDay, ApiError> {
        let text = self.required(name, "a local day YYYY-MM-DD")?;
        LocalDay::parse_ymd(text).map_err(|_| {
            bad(format!(
                "parameter `{name}`: `{text}` is not a day YYYY-MM-DD"
            ))
        })
    }

    /// A whole number of at least 1, when given.
    pub fn positive(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.optional(name)
            .map(|t| {
                t.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    bad(format!(
                        "parameter `{name}`: `{t}` is not a whole number of at least 1"
                    ))
                })
            })
            .transpose()
    }

    /// `limit`: 1 to 1000, `default` when absent.
    pub fn limit(&self, default: i64) -> Result<i64, ApiError> {
        match self.optional("limit") {
            None => Ok(default),
            Some(t) => t
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    bad(format!(
                        "parameter `limit`: `{t}` is not a whole number from 1 to 1000"
                    ))
                }),
        }
    }

    /// `format`: json (default), csv or xlsx.
    pub fn format(&self) -> Result<Format, ApiError> {
        match self.optional("format") {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(t) => Err(bad(format!(
                "parameter `format`: `{t}` is not json, csv or xlsx"
            ))),
        }
    }
}

/// What a revisioned read (snapshots, scorecards) takes: `period`, the
/// optional `id` parameter naming whose document (`shop`, `person`; without
/// it, everyone's), `revision` (the latest without it) and `format`.
pub struct Revisioned {
    pub period: Period,
    pub id: Option<String>,
    pub revision: Option<i64>,
    pub format: Format,
}

impl Revisioned {
    /// Reads the query of an endpoint whose id parameter is named `id`.
    pub fn read(q: HashMap<String, String>, id: &str) -> Result<Self, ApiError> {
        let p = Params::new(q, &["period", id, "revision", "format"])?;
        Ok(Revisioned {
            period: p.period("period")?,
            revision: p.positive("revision")?,
            format: p.format()?,
            id: p.optional(id).map(str::to_owned),
        })
    }
}
