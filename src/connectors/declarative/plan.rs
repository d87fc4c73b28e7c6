//! The checked plan of a definition that the engine runs: every template,
//! pointer, time format, zone and status table validated once.

use super::pointer::JsonPointer;
use super::projection::Projection;
use super::template::Template;
use crate::facts::OrderStatus;
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::fmt;

/// A checked definition, ready to run.
#[derive(Debug, Clone)]
pub struct Definition {
    pub kind: String,
    pub description: String,
    /// Where it came from: `connectors/woocommerce.toml (built in)` or a path.
    pub source: String,
    pub base_url: Option<String>,
    pub defaults: Defaults,
    pub credentials: Vec<Credential>,
    /// The definition's own options.
    pub options: Vec<OptionSpec>,
    pub headers: Vec<(String, Template)>,
    pub basic: Option<(Template, Template)>,
    pub auth_query: Vec<(String, Template)>,
    pub service_account: Option<ServiceAccountPlan>,
    pub hint: String,
    pub errors: Option<BodyErrors>,
    /// `[errors] envelope`: a platform's named error envelope.
    pub envelope: Option<super::blocks::envelope::Envelope>,
    /// `[auth] signing`: every request is the platform's signed POST.
    pub signing: Option<super::blocks::signing::Signing>,
    pub streams: Vec<StreamPlan>,
}

#[derive(Debug, Clone)]
pub struct Defaults {
    pub requests_per_second: f64,
    pub page_size: u32,
    pub max_page_size: u32,
    pub lookback_days: i64,
    pub initial_days: i64,
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct Credential {
    pub name: String,
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct OptionSpec {
    pub name: String,
    /// `None`: a connector must set it.
    pub default: Option<String>,
    /// Digits only (a numeric id).
    pub digits: bool,
    /// Removed from the front of the value when present (`act_`).
    pub prefix: Option<String>,
    pub description: Option<String>,
}

/// A Google service-account key (credential `key`, given as `<key>_file`)
/// as the alternative to the credential `token`: a connector gives exactly
/// one of the two, and with the key `{token}` is a minted access token.
#[derive(Debug, Clone)]
pub struct ServiceAccountPlan {
    pub key: String,
    pub token: String,
    pub scope: String,
}

/// Error envelopes inside successful responses.
#[derive(Debug, Clone)]
pub struct BodyErrors {
    pub code: String,
    pub message: Option<String>,
    pub ok: Vec<String>,
    pub throttled: Vec<String>,
    pub auth: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StreamPlan {
    pub name: String,
    /// The API a signing block calls.
    pub api: Option<String>,
    pub method: reqwest::Method,
    pub path: Template,
    pub records: String,
    /// A missing record list is an empty page, not a malformed one.
    pub records_optional: bool,
    /// Where a page says which time zone its days are in.
    pub reports_zone: Option<String>,
    /// Where a page lists its columns by name, for `@name` tokens.
    pub columns: Option<String>,
    pub query: Vec<(String, Template)>,
    pub body: Option<serde_json::Value>,
    pub window: WindowPlan,
    pub pagination: PagePlan,
    pub order: Option<OrderPlan>,
    pub refunds: Option<RefundPlan>,
    pub daily: Option<DailyPlan>,
    /// What the mapping reads of a page, built from the fields above.
    pub projection: Projection,
}

#[derive(Debug, Clone)]
pub struct WindowPlan {
    pub format: TimeFormat,
    pub zone: Zone,
    pub bounds: Bounds,
    pub slice: SliceLength,
    pub backfill: Vec<(String, Template)>,
    pub incremental: Vec<(String, Template)>,
    pub scheduled: Scheduled,
    /// The last local day a scheduled run covers.
    pub through: Through,
}

/// Where a scheduled run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduled {
    /// The stored cursor less `lookback_days` (`initial_days` back at first).
    Cursor,
    /// The last `lookback_days` days, whatever ran before (platforms that
    /// revise recent days, such as GA4's 48-hour processing).
    Lookback,
    /// From the last day a run reached (stored as the cursor, today at
    /// first) less `lookback_days`: report APIs that keep revising recent
    /// days (ad platforms' late conversions).
    Reached,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Through {
    Today,
    /// Today is not over (or not processed): stop at yesterday.
    Yesterday,
}

/// How `{from}` and `{to}` relate to the slice `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// `from = start`, `to = end`.
    HalfOpen,
    /// Both exclusive: `from = start − 1 s`, `to = end` (WooCommerce).
    Exclusive,
    /// Both inclusive: `from = start`, `to = end − 1 s` (Shopify, TOP).
    Inclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceLength {
    /// Whole local days, this many per request.
    Days(u32),
    /// The whole window in one request series.
    All,
    /// Parts of a local day, this many seconds each.
    Seconds(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    Rfc3339,
    UnixSeconds,
    UnixMillis,
    /// A chrono `strftime` pattern without an offset, read in a zone.
    Pattern(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Named(Tz),
    /// The zone of the connector's shop.
    Shop,
}

impl Zone {
    pub fn resolve(self, shop: Tz) -> Tz {
        match self {
            Zone::Named(tz) => tz,
            Zone::Shop => shop,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStyle {
    None,
    Link,
    Page {
        first: u64,
    },
    Offset,
    Cursor {
        next: String,
    },
    /// A cursor read by a named block.
    Token(super::blocks::cursor::CursorToken),
    /// Page 1 for the `total`, then the last page to the first
    /// (`blocks::paging`).
    Reverse,
}

#[derive(Debug, Clone)]
pub struct PagePlan {
    pub style: PageStyle,
    pub total_pages_header: Option<String>,
    pub total_pages: Option<String>,
    pub has_next: Option<String>,
    pub total: Option<String>,
    pub total_header: Option<String>,
}

/// Where a value is: pointers tried in order, `../` ones in the enclosing record.
#[derive(Debug, Clone)]
pub struct FieldPlan {
    /// The definition key, for reject reasons (`amount`, `inputs.ad_spend`).
    pub name: String,
    pub pointers: Vec<Pointer>,
    pub none_if: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Pointer {
    pub parent: bool,
    pub path: JsonPointer,
}

impl fmt::Display for FieldPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ps: Vec<String> = self
            .pointers
            .iter()
            .map(|p| {
                if p.parent {
                    format!("..{}", p.path)
                } else {
                    p.path.to_string()
                }
            })
            .collect();
        write!(f, "{} ({})", self.name, ps.join(", "))
    }
}

#[derive(Debug, Clone)]
pub struct TimePlan {
    pub field: FieldPlan,
    pub format: TimeFormat,
    pub zone: Zone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A decimal in the currency's main unit (`"129.90"`, `129.9`).
    Decimal,
    /// Integer hundredths (fen, cents).
    Hundredths,
    /// Integer millionths (Google Ads' `costMicros`).
    Micros,
}

#[derive(Debug, Clone)]
pub struct AmountPlan {
    pub field: FieldPlan,
    pub scale: Scale,
    pub absolute: bool,
    /// Summed over a list in the record, its items filtered.
    pub sum: Option<SumPlan>,
    /// An amount subtracted (read with the same scale).
    pub minus: Option<FieldPlan>,
    /// The floor, in micros: a smaller result is raised to it.
    pub at_least: Option<i64>,
    /// The amount, in micros, when the field is absent.
    pub default: Option<i64>,
    /// A count: whole numbers only.
    pub whole: bool,
}

/// `sum = "/transactions"` with `where = { "/kind" = ["refund"] }`: the
/// field's pointers are read in each item whose filtered values (missing
/// reads as "") are among those listed.
#[derive(Debug, Clone)]
pub struct SumPlan {
    pub each: JsonPointer,
    pub filters: Vec<(JsonPointer, Vec<String>)>,
    /// Take the item whose (single) filter value is earliest in its list.
    pub first: bool,
}

#[derive(Debug, Clone)]
pub struct StatusPlan {
    pub field: FieldPlan,
    pub map: BTreeMap<String, OrderStatus>,
    pub default: Option<OrderStatus>,
    /// Pointers that decide the status when they hold a value
    /// (`"/cancelled_at" = "cancelled"`), checked before the map.
    pub if_present: Vec<(JsonPointer, OrderStatus)>,
}

#[derive(Debug, Clone)]
pub struct OrderPlan {
    pub id: FieldPlan,
    pub paid_at: TimePlan,
    pub amount: AmountPlan,
    pub buyer_id: Option<FieldPlan>,
    pub status: Option<StatusPlan>,
}

#[derive(Debug, Clone)]
pub struct RefundPlan {
    pub each: Option<JsonPointer>,
    pub id: FieldPlan,
    pub order_id: FieldPlan,
    pub refunded_at: TimePlan,
    pub amount: AmountPlan,
}

#[derive(Debug, Clone)]
pub enum DayPlan {
    /// A calendar date as written (`%Y-%m-%d`).
    Date { field: FieldPlan, pattern: String },
    /// An instant, filed under the shop's local day.
    Instant(TimePlan),
}

#[derive(Debug, Clone)]
pub struct DailyPlan {
    pub day: DayPlan,
    pub dimension: Option<FieldPlan>,
    /// Names the dimension in reject locators; the dimension is required.
    pub label: Option<String>,
    /// The record's last day: it must be the record's day.
    pub until: Option<FieldPlan>,
    pub inputs: Vec<(String, AmountPlan)>,
}
