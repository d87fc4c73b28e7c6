//! WooCommerce REST v3: `GET /wp-json/wc/v3/orders`, HTTP Basic auth with a
//! consumer key and secret, `page`/`per_page` pagination bounded by the
//! `X-WP-TotalPages` header, money as decimal strings, `*_gmt` timestamps
//! without an offset (they are UTC).
//!
//! A backfill (`--from/--to`) fetches orders *created* in the range (`after`
//! / `before`), one local day per slice, several slices at once. A scheduled
//! run fetches what was *modified* since the stored cursor minus the
//! lookback (`modified_after` / `modified_before`), so late refunds are
//! picked up. Every time filter is sent in UTC with `dates_are_gmt=true`.
//! Each page is committed as it arrives.

use super::options::KindOptions;
use super::options::{
    check_base_url, check_paging, default_initial_days, Building, OptionProblem, PollingSpec,
};
use super::{
    connector_http, connector_shop, http_error, resume_since, secret_option, Connector,
    ConnectorError, Sink, Window,
};
use crate::config::ConnectorConfig;
use crate::facts::{Batch, Order, OrderStatus, Refund, Reject};
use crate::http::{strip_query, HttpClient};
use crate::money::{parse_micros, Money};
use crate::period::{day_start, local_day, today};
use crate::settings::Settings;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use tokio::sync::mpsc;

const STREAM: &str = "orders";
const HINT: &str = "check the connector's consumer_key (ck_…) and consumer_secret (cs_…): a REST API key with Read access from WooCommerce → Settings → Advanced → REST API (if they are right, the web server may be stripping the Authorization header)";
const TOTAL_PAGES: &str = "x-wp-totalpages";

fn default_lookback() -> i64 {
    2
}
fn default_concurrency() -> usize {
    4
}
fn default_rps() -> f64 {
    5.0
}
fn default_page_size() -> u32 {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WooCommerceOptions {
    /// The store's own site, e.g. `https://shop.example.com` (WooCommerce
    /// has no central API host, so there is no default).
    pub base_url: String,
    #[serde(default)]
    pub consumer_key: Option<SecretString>,
    #[serde(default)]
    pub consumer_key_env: Option<String>,
    #[serde(default)]
    pub consumer_key_file: Option<String>,
    #[serde(default)]
    pub consumer_secret: Option<SecretString>,
    #[serde(default)]
    pub consumer_secret_env: Option<String>,
    #[serde(default)]
    pub consumer_secret_file: Option<String>,
    /// Days re-fetched before the cursor on each scheduled run.
    #[serde(default = "default_lookback")]
    pub lookback_days: i64,
    /// History fetched by the first scheduled run.
    #[serde(default = "default_initial_days")]
    pub initial_days: i64,
    /// Day slices fetched at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Request rate (WooCommerce itself does not throttle, some hosts do; 0 = unlimited).
    #[serde(default = "default_rps")]
    pub requests_per_second: f64,
    /// `per_page` (WooCommerce allows at most 100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl KindOptions for WooCommerceOptions {
    // Read by hand until this kind becomes a definition (issue 15).
    const POLLING: PollingSpec = PollingSpec::NONE;

    fn check(&self) -> Result<(), OptionProblem> {
        let o = self;
        check_base_url(&o.base_url)?;
        check_paging(o.page_size, 100, o.concurrency, o.lookback_days)?;
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        WooCommerceConnector::build(with.cfg, self, with.settings)
            .map(|c| Connector::WooCommerce(c.into()))
    }
}

#[derive(Debug)]
pub struct WooCommerceConnector {
    pub name: String,
    shop: String,
    tz: Tz,
    options: WooCommerceOptions,
    consumer_key: SecretString,
    consumer_secret: SecretString,
    http: Arc<HttpClient>,
}

#[derive(Deserialize)]
struct WooOrder {
    id: u64,
    status: String,
    date_created_gmt: Option<NaiveDateTime>,
    date_modified_gmt: Option<NaiveDateTime>,
    date_paid_gmt: Option<NaiveDateTime>,
    total: String,
    #[serde(default)]
    customer_id: u64,
    #[serde(default)]
    refunds: Vec<WooRefund>,
}

/// The refund summary embedded in an order (`/orders/{id}/refunds` has more,
/// including the date; see [`WooCommerceConnector::order_facts`]).
#[derive(Deserialize)]
struct WooRefund {
    id: u64,
    /// Negative, e.g. `"-5.00"`.
    total: String,
}

/// One request plan: a time filter over a slice of the window.
#[derive(Debug, Clone)]
struct Slice {
    /// `("after", "before")` or `("modified_after", "modified_before")`.
    keys: (&'static str, &'static str),
    /// Exclusive bounds, in UTC.
    after: DateTime<Utc>,
    before: DateTime<Utc>,
}

/// UTC without an offset, as WooCommerce reads it with `dates_are_gmt=true`.
fn gmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

impl WooCommerceConnector {
    fn build(
        cfg: &ConnectorConfig,
        options: WooCommerceOptions,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let consumer_key = secret_option(
            &cfg.name,
            "consumer_key",
            options.consumer_key.clone(),
            &options.consumer_key_env,
            &options.consumer_key_file,
        )?;
        let consumer_secret = secret_option(
            &cfg.name,
            "consumer_secret",
            options.consumer_secret.clone(),
            &options.consumer_secret_env,
            &options.consumer_secret_file,
        )?;
        let (shop, tz) = connector_shop(cfg, settings)?;
        let http = connector_http(cfg, options.requests_per_second)?;
        Ok(WooCommerceConnector {
            name: cfg.name.clone(),
            shop,
            tz,
            options,
            consumer_key,
            consumer_secret,
            http: Arc::new(http),
        })
    }

    fn orders_url(&self) -> String {
        format!(
            "{}/wp-json/wc/v3/orders",
            self.options.base_url.trim_end_matches('/')
        )
    }

    /// Day slices of `[from, to]` (local days). WooCommerce's bounds are
    /// exclusive, so `after` is one second before the day starts.
    fn day_slices(
        &self,
        keys: (&'static str, &'static str),
        from: NaiveDate,
        to: NaiveDate,
    ) -> Vec<Slice> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .map(|d| Slice {
                keys,
                after: day_start(d, self.tz) - Duration::seconds(1),
                before: day_start(d + Duration::days(1), self.tz),
            })
            .collect()
    }

    pub async fn run(&self, window: Window, sink: &mut Sink<'_>) -> Result<(), ConnectorError> {
        let incremental = window.from.is_none() && window.to.is_none();
        let slices = if incremental {
            let since = resume_since(
                sink.cursor(STREAM).await?,
                Utc::now(),
                self.options.lookback_days,
                self.options.initial_days,
            );
            self.day_slices(
                ("modified_after", "modified_before"),
                local_day(since, self.tz),
                today(self.tz),
            )
        } else {
            let to = window.to.unwrap_or_else(|| today(self.tz));
            let from = window.from.unwrap_or(to);
            self.day_slices(("after", "before"), from, to)
        };
        let started = Utc::now();
        sink.fetch_and_commit(slices, self.options.concurrency, |slice, tx| {
            self.fetch_slice(slice, tx)
        })
        .await?;
        if incremental {
            // The window reached the end of today, so everything modified
            // before the run started is stored; the cursor moves only now.
            sink.set_cursor(STREAM, &started.to_rfc3339_opts(SecondsFormat::Secs, true))
                .await?;
        }
        Ok(())
    }

    async fn fetch_slice(
        &self,
        slice: Slice,
        tx: mpsc::Sender<Batch>,
    ) -> Result<(), ConnectorError> {
        let (after, before) = (gmt(slice.after), gmt(slice.before));
        let per_page = self.options.page_size.to_string();
        let mut page_no: u32 = 1;
        let mut total_pages: Option<u32> = None;
        loop {
            let page_param = page_no.to_string();
            let url = reqwest::Url::parse_with_params(
                &self.orders_url(),
                [
                    ("status", "any"),
                    (slice.keys.0, after.as_str()),
                    (slice.keys.1, before.as_str()),
                    ("dates_are_gmt", "true"),
                    // Ascending ids keep pages stable while new orders arrive.
                    ("orderby", "id"),
                    ("order", "asc"),
                    ("per_page", per_page.as_str()),
                    ("page", page_param.as_str()),
                ],
            )
            .map_err(|e| ConnectorError::Config {
                connector: self.name.clone(),
                message: format!("base_url: {e}"),
            })?
            .to_string();
            let page = self
                .http
                .get_json::<Vec<Box<RawValue>>, _>(
                    |c| {
                        c.get(&url)
                            .basic_auth(
                                self.consumer_key.expose_secret(),
                                Some(self.consumer_secret.expose_secret()),
                            )
                            .header("Accept", "application/json")
                    },
                    HINT,
                )
                .await
                .map_err(http_error(&self.name))?;
            if let Some(n) = page
                .headers
                .get(TOTAL_PAGES)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
            {
                total_pages = Some(n);
            }
            let served = page.body.len();
            let batch = self.to_facts(&page.body, &strip_query(&url), page_no);
            if tx.send(batch).await.is_err() {
                // The committer stopped on an error; it reports it.
                return Ok(());
            }
            // Without the header (a proxy may drop it), a short page is the last.
            let more = match total_pages {
                Some(n) => page_no < n,
                None => served >= self.options.page_size as usize,
            };
            if !more || served == 0 {
                return Ok(());
            }
            page_no += 1;
        }
    }

    fn to_facts(&self, raws: &[Box<RawValue>], source: &str, page_no: u32) -> Batch {
        let mut batch = Batch::default();
        for (i, raw) in raws.iter().enumerate() {
            let reject = |reason: String| Reject {
                source: source.to_string(),
                locator: format!("page {page_no} record {}", i + 1),
                reason,
                raw: raw.get().to_string(),
            };
            let o: WooOrder = match serde_json::from_str(raw.get()) {
                Ok(o) => o,
                Err(e) => {
                    batch.rejects.push(reject(format!("order: {e}")));
                    continue;
                }
            };
            match self.order_facts(&o) {
                Ok((order, refunds)) => {
                    batch.orders.push(order);
                    batch.refunds.extend(refunds);
                }
                Err(reason) => {
                    let mut r = reject(reason);
                    r.locator = format!("order {}", o.id);
                    batch.rejects.push(r);
                }
            }
        }
        batch
    }

    /// The order and its refunds.
    ///
    /// Status follows WooCommerce: `processing` and `completed` are paid, and
    /// so is `refunded` (paid, then refunded: the refunds are their own
    /// records); `cancelled` and `trash` are cancelled; `pending`, `on-hold`,
    /// `failed`, `checkout-draft` and statuses added by plugins are unpaid.
    /// The paid time is `date_paid_gmt`, or `date_created_gmt` when absent.
    ///
    /// The refund summaries embedded in an order carry no date, and fetching
    /// each refund would cost a request per order. A refund is therefore
    /// dated by the order's `date_modified_gmt` (creating a refund modifies
    /// the order). If the order is modified again later and re-fetched, the
    /// refund moves to that later day.
    fn order_facts(&self, o: &WooOrder) -> Result<(Order, Vec<Refund>), String> {
        let amount_micros = parse_micros(&o.total).map_err(|e| format!("total: {e}"))?;
        let status = match o.status.as_str() {
            "processing" | "completed" | "refunded" => OrderStatus::Paid,
            "cancelled" | "trash" => OrderStatus::Cancelled,
            _ => OrderStatus::Unpaid,
        };
        let created = o
            .date_created_gmt
            .ok_or_else(|| "date_created_gmt is missing".to_string())?
            .and_utc();
        let paid_at = o.date_paid_gmt.map(|t| t.and_utc()).unwrap_or(created);
        let modified = o.date_modified_gmt.map(|t| t.and_utc()).unwrap_or(created);
        let order_id = o.id.to_string();
        let mut refunds = Vec::with_capacity(o.refunds.len());
        for r in &o.refunds {
            let micros = parse_micros(&r.total)
                .map_err(|e| format!("refund {} total: {e}", r.id))?
                .checked_abs()
                .ok_or_else(|| format!("refund {} total is out of range", r.id))?;
            refunds.push(Refund {
                shop: self.shop.as_str().into(),
                refund_id: r.id.to_string(),
                order_id: order_id.clone(),
                refunded_at: modified,
                local_day: local_day(modified, self.tz),
                amount: Money::from_micros(micros),
            });
        }
        Ok((
            Order {
                shop: self.shop.as_str().into(),
                order_id,
                paid_at: Some(paid_at),
                local_day: Some(local_day(paid_at, self.tz)),
                amount: Money::from_micros(amount_micros),
                buyer_id: (o.customer_id != 0).then(|| o.customer_id.to_string()),
                status,
            },
            refunds,
        ))
    }
}
