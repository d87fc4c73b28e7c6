//! The definition file format: what a definition may say, read with
//! unknown keys refused. [`super::definition`] checks it into a plan.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefinition {
    pub(super) kind: String,
    pub(super) description: String,
    #[serde(default)]
    pub(super) connection: RawConnection,
    #[serde(default)]
    pub(super) credentials: BTreeMap<String, RawCredential>,
    #[serde(default)]
    pub(super) options: BTreeMap<String, RawOption>,
    #[serde(default)]
    pub(super) auth: RawAuth,
    #[serde(default)]
    pub(super) errors: Option<RawErrors>,
    pub(super) streams: BTreeMap<String, RawStream>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnection {
    pub(super) base_url: Option<String>,
    pub(super) requests_per_second: Option<f64>,
    pub(super) page_size: Option<u32>,
    pub(super) max_page_size: Option<u32>,
    pub(super) lookback_days: Option<i64>,
    pub(super) initial_days: Option<i64>,
    pub(super) concurrency: Option<usize>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCredential {
    #[serde(default = "yes")]
    pub(super) secret: bool,
    #[serde(default)]
    #[allow(dead_code)]
    pub(super) description: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOption {
    pub(super) default: Option<String>,
    /// The value must be digits only (a numeric account or property id).
    #[serde(default)]
    pub(super) digits: bool,
    /// A prefix the value may carry, removed before use (`act_` of a Meta
    /// ad account id).
    #[serde(default)]
    pub(super) prefix: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    pub(super) basic: Option<RawBasic>,
    #[serde(default)]
    pub(super) query: BTreeMap<String, String>,
    pub(super) hint: Option<String>,
    pub(super) service_account: Option<RawServiceAccount>,
    /// A named signing block (`blocks::signing`).
    pub(super) signing: Option<String>,
}

/// A Google service-account key as the alternative to a token credential.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServiceAccount {
    /// The credential holding the JSON key (given as `<key>_file`).
    pub(super) key: String,
    /// The credential the minted access token stands in for.
    pub(super) token: String,
    pub(super) scope: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBasic {
    pub(super) username: String,
    pub(super) password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawErrors {
    /// A named envelope (`blocks::envelope`) instead of the keys below.
    #[serde(default)]
    pub(super) envelope: Option<String>,
    #[serde(default)]
    pub(super) code: Option<String>,
    #[serde(default)]
    pub(super) message: Option<String>,
    #[serde(default)]
    pub(super) ok: Vec<String>,
    #[serde(default)]
    pub(super) throttled: Vec<String>,
    #[serde(default)]
    pub(super) auth: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStream {
    /// The API a signing block calls (`method`/`type` of the router).
    #[serde(default)]
    pub(super) api: Option<String>,
    #[serde(default = "get")]
    pub(super) method: String,
    pub(super) path: String,
    #[serde(default)]
    pub(super) records: String,
    /// The platform leaves the list out when it has no records (GA4 `rows`).
    #[serde(default)]
    pub(super) records_optional: bool,
    /// Pointer to the time zone the platform says its days are in (GA4
    /// `/metadata/timeZone`): one other than the shop's is logged.
    #[serde(default)]
    pub(super) reports_zone: Option<String>,
    /// Pointer to the page's list of columns (`{ name = … }` each), which
    /// `@name` tokens in field pointers index (GA4 `/metricHeaders`).
    #[serde(default)]
    pub(super) columns: Option<String>,
    #[serde(default)]
    pub(super) query: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) body: Option<toml::Table>,
    pub(super) window: RawWindow,
    #[serde(default)]
    pub(super) pagination: RawPagination,
    pub(super) order: Option<RawOrder>,
    pub(super) refunds: Option<RawRefunds>,
    pub(super) daily: Option<RawDaily>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) format: String,
    pub(super) zone: Option<String>,
    #[serde(default)]
    pub(super) bounds: Option<String>,
    #[serde(default)]
    pub(super) slice: Option<String>,
    #[serde(default)]
    pub(super) backfill: BTreeMap<String, String>,
    pub(super) incremental: Option<BTreeMap<String, String>>,
    pub(super) scheduled: Option<String>,
    pub(super) through: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPagination {
    pub(super) style: Option<String>,
    pub(super) first_page: Option<u64>,
    pub(super) total_pages_header: Option<String>,
    pub(super) total_pages: Option<String>,
    pub(super) has_next: Option<String>,
    pub(super) total: Option<String>,
    pub(super) total_header: Option<String>,
    pub(super) next_cursor: Option<String>,
    /// A named cursor block instead of `next_cursor` (`meta_graph`, …).
    pub(super) token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrder {
    pub(super) id: RawField,
    pub(super) paid_at: RawField,
    pub(super) amount: RawField,
    pub(super) buyer_id: Option<RawField>,
    pub(super) status: Option<RawField>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRefunds {
    pub(super) each: Option<String>,
    pub(super) id: RawField,
    pub(super) order_id: RawField,
    pub(super) refunded_at: RawField,
    pub(super) amount: RawField,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaily {
    pub(super) day: RawField,
    pub(super) dimension: Option<RawField>,
    /// What the dimension is (`campaign`): the dimension is then required,
    /// and rejects are located as `campaign X day D`.
    pub(super) label: Option<String>,
    /// The record's last day, when the platform gives one: a record over
    /// more than one day is rejected.
    pub(super) until: Option<RawField>,
    pub(super) inputs: BTreeMap<String, RawField>,
}

/// A record field: a JSON pointer, or a table with the pointer(s) and how
/// to read the value. The table form is the derived reader (`remote =
/// "Self"` makes it the inherent `RawField::deserialize`), which the
/// [`Deserialize`] impl below calls after the pointer shorthands.
#[derive(Debug, Default, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub(super) struct RawField {
    #[serde(deserialize_with = "one_or_many")]
    pub(super) pointer: Vec<String>,
    pub(super) format: Option<String>,
    pub(super) zone: Option<String>,
    pub(super) scale: Option<String>,
    #[serde(default)]
    pub(super) absolute: bool,
    #[serde(default)]
    pub(super) none_if: Vec<String>,
    #[serde(default)]
    pub(super) map: BTreeMap<String, String>,
    pub(super) default: Option<String>,
    pub(super) sum: Option<String>,
    #[serde(default, rename = "where")]
    pub(super) filter: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) if_present: BTreeMap<String, String>,
    /// A pointer whose amount is subtracted (`sessions − engagedSessions`).
    pub(super) minus: Option<String>,
    /// The smallest amount stored; less is raised to it.
    #[serde(default, deserialize_with = "text_or_number")]
    pub(super) at_least: Option<String>,
    /// A count: the amount must be a whole number.
    #[serde(default)]
    pub(super) whole: bool,
    /// With `sum`: take the one item whose `where` value comes first in
    /// its list instead of adding them (overlapping types).
    #[serde(default)]
    pub(super) first: bool,
}

/// `pointer = "/id"` or `pointer = ["/a", "/b"]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(p) => p,
    })
}

/// `at_least = 0` or `at_least = "0.5"`: kept as written.
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrNumber {
    Text(String),
    Integer(i64),
}

fn text_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(match TextOrNumber::deserialize(d)? {
        TextOrNumber::Text(t) => t,
        TextOrNumber::Integer(n) => n.to_string(),
    }))
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON pointer such as \"/id\" or a table with `pointer`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawField, E> {
                Ok(RawField {
                    pointer: vec![v.to_string()],
                    ..RawField::default()
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawField, A::Error> {
                let pointer =
                    Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(RawField {
                    pointer,
                    ..RawField::default()
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawField, A::Error> {
                RawField::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_any(V)
    }
}
