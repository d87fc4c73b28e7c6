//! Shopify Admin REST: `orders.json?status=any`, Link-header (`page_info`)
//! pagination, `X-Shopify-Access-Token`, 429 with a decimal `Retry-After`,
//! money as decimal strings, timestamps with offsets.
//!
//! A backfill (`--from/--to`) fetches orders *created* in the range, one
//! local day per slice, several slices at once. A scheduled run fetches what
//! was *updated* since the stored cursor minus the lookback, so late refunds
//! are picked up. Each page is committed as it arrives.

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
use crate::http::{pagination::next_link, strip_query, HttpClient};
use crate::money::{parse_micros, Money};
use crate::period::{day_start, local_day, today};
use crate::settings::Settings;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use tokio::sync::mpsc;

const STREAM: &str = "orders";
const HINT: &str = "check the connector's access_token (an Admin API token, shpat_…) and that the app has the read_orders scope";

fn default_api_version() -> String {
    "2024-10".into()
}
fn default_lookback() -> i64 {
    2
}
fn default_concurrency() -> usize {
    4
}
fn default_rps() -> f64 {
    2.0
}
fn default_page_size() -> u32 {
    250
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyOptions {
    /// `https://{shop}.myshopify.com` (or a proxy / mock).
    pub base_url: String,
    #[serde(default = "default_api_version")]
    pub api_version: String,
    #[serde(default)]
    pub access_token: Option<SecretString>,
    #[serde(default)]
    pub access_token_env: Option<String>,
    #[serde(default)]
    pub access_token_file: Option<String>,
    /// Days re-fetched before the cursor on each scheduled run.
    #[serde(default = "default_lookback")]
    pub lookback_days: i64,
    /// History fetched by the first scheduled run.
    #[serde(default = "default_initial_days")]
    pub initial_days: i64,
    /// Day slices fetched at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Request rate (Shopify's REST bucket refills at 2/s on standard plans; 0 = unlimited).
    #[serde(default = "default_rps")]
    pub requests_per_second: f64,
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

impl KindOptions for ShopifyOptions {
    // Read by hand until this kind becomes a definition (issue 15).
    const POLLING: PollingSpec = PollingSpec::NONE;

    fn check(&self) -> Result<(), OptionProblem> {
        let o = self;
        check_base_url(&o.base_url)?;
        check_paging(o.page_size, 250, o.concurrency, o.lookback_days)?;
        Ok(())
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        ShopifyConnector::build(with.cfg, self, with.settings).map(|c| Connector::Shopify(c.into()))
    }
}

#[derive(Debug)]
pub struct ShopifyConnector {
    pub name: String,
    shop: String,
    tz: Tz,
    options: ShopifyOptions,
    token: SecretString,
    http: Arc<HttpClient>,
}

/// A page, each order kept raw so one bad record is set aside, not the page.
#[derive(Deserialize)]
struct OrdersPage {
    orders: Vec<Box<RawValue>>,
}

/// The same page read straight into orders: one pass, the common case.
#[derive(Deserialize)]
struct TypedPage {
    orders: Vec<ShopifyOrder>,
}

#[derive(Deserialize)]
struct ShopifyOrder {
    id: u64,
    created_at: DateTime<FixedOffset>,
    processed_at: Option<DateTime<FixedOffset>>,
    cancelled_at: Option<DateTime<FixedOffset>>,
    financial_status: Option<String>,
    total_price: String,
    customer: Option<Customer>,
    #[serde(default)]
    refunds: Vec<ShopifyRefund>,
}

#[derive(Deserialize)]
struct Customer {
    id: Option<u64>,
}

#[derive(Deserialize)]
struct ShopifyRefund {
    id: u64,
    created_at: DateTime<FixedOffset>,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

#[derive(Deserialize)]
struct Transaction {
    kind: String,
    status: Option<String>,
    amount: String,
}

/// One request plan: a time filter over a slice of the window.
#[derive(Debug, Clone)]
struct Slice {
    field: &'static str,
    min: DateTime<Utc>,
    max: DateTime<Utc>,
}

fn ts(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

impl ShopifyConnector {
    fn build(
        cfg: &ConnectorConfig,
        options: ShopifyOptions,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let token = secret_option(
            &cfg.name,
            "access_token",
            options.access_token.clone(),
            &options.access_token_env,
            &options.access_token_file,
        )?;
        let (shop, tz) = connector_shop(cfg, settings)?;
        let http = connector_http(cfg, options.requests_per_second)?;
        Ok(ShopifyConnector {
            name: cfg.name.clone(),
            shop,
            tz,
            options,
            token,
            http: Arc::new(http),
        })
    }

    fn orders_url(&self) -> String {
        format!(
            "{}/admin/api/{}/orders.json",
            self.options.base_url.trim_end_matches('/'),
            self.options.api_version
        )
    }

    /// Day slices of `[from, to]` (local days) on `field`.
    fn day_slices(&self, field: &'static str, from: NaiveDate, to: NaiveDate) -> Vec<Slice> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .map(|d| Slice {
                field,
                min: day_start(d, self.tz),
                max: day_start(d + Duration::days(1), self.tz) - Duration::seconds(1),
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
            self.day_slices("updated_at", local_day(since, self.tz), today(self.tz))
        } else {
            let to = window.to.unwrap_or_else(|| today(self.tz));
            let from = window.from.unwrap_or(to);
            self.day_slices("created_at", from, to)
        };
        let started = Utc::now();
        sink.fetch_and_commit(slices, self.options.concurrency, |slice, tx| {
            self.fetch_slice(slice, tx)
        })
        .await?;
        if incremental {
            // The window reached the end of today, so everything updated before
            // the run started is stored; the cursor moves only now that it is.
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
        let (min, max) = (ts(slice.min, self.tz), ts(slice.max, self.tz));
        let (min_key, max_key) = (
            format!("{}_min", slice.field),
            format!("{}_max", slice.field),
        );
        let limit = self.options.page_size.to_string();
        let first = reqwest::Url::parse_with_params(
            &self.orders_url(),
            [
                ("limit", limit.as_str()),
                ("status", "any"),
                (min_key.as_str(), min.as_str()),
                (max_key.as_str(), max.as_str()),
            ],
        )
        .map_err(|e| ConnectorError::Config {
            connector: self.name.clone(),
            message: format!("base_url: {e}"),
        })?
        .to_string();
        let mut next = Some(first);
        let mut page_no = 0;
        while let Some(url) = next.take() {
            page_no += 1;
            let mapper = Mapper {
                shop: self.shop.clone(),
                tz: self.tz,
                source: strip_query(&url),
                page_no,
            };
            let page = self
                .http
                .get_parsed(
                    |c| {
                        c.get(&url)
                            .header("X-Shopify-Access-Token", self.token.expose_secret())
                            .header("Accept", "application/json")
                    },
                    HINT,
                    move |bytes: &[u8]| mapper.page_facts(bytes),
                )
                .await
                .map_err(http_error(&self.name))?;
            next = next_link(&page.headers);
            let batch = page.body;
            if tx.send(batch).await.is_err() {
                // The committer stopped on an error; it reports it.
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Turns pages into facts on a blocking thread: owns what it needs.
struct Mapper {
    shop: String,
    tz: Tz,
    source: String,
    page_no: u32,
}

impl Mapper {
    /// One page into facts. Most pages parse in one typed pass; a page with a
    /// record that does not fit is re-read record by record so only that
    /// record is set aside, with its raw JSON.
    fn page_facts(&self, bytes: &[u8]) -> Result<Batch, String> {
        if let Ok(page) = serde_json::from_slice::<TypedPage>(bytes) {
            let mut batch = Batch::default();
            let all_fit = page.orders.iter().all(|o| match self.order_facts(o) {
                Ok((order, refunds)) => {
                    batch.orders.push(order);
                    batch.refunds.extend(refunds);
                    true
                }
                Err(_) => false,
            });
            if all_fit {
                return Ok(batch);
            }
        }
        let page: OrdersPage =
            serde_json::from_slice(bytes).map_err(|e| format!("not an orders page: {e}"))?;
        Ok(self.to_facts(&page.orders))
    }

    fn to_facts(&self, raws: &[Box<RawValue>]) -> Batch {
        let mut batch = Batch::default();
        for (i, raw) in raws.iter().enumerate() {
            let reject = |reason: String| Reject {
                source: self.source.clone(),
                locator: format!("page {} record {}", self.page_no, i + 1),
                reason,
                raw: raw.get().to_string(),
            };
            let o: ShopifyOrder = match serde_json::from_str(raw.get()) {
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

    fn order_facts(&self, o: &ShopifyOrder) -> Result<(Order, Vec<Refund>), String> {
        let amount_micros =
            parse_micros(&o.total_price).map_err(|e| format!("total_price: {e}"))?;
        let paid = matches!(
            o.financial_status.as_deref(),
            Some("paid" | "partially_refunded" | "refunded")
        );
        let status = if o.cancelled_at.is_some() {
            OrderStatus::Cancelled
        } else if paid {
            OrderStatus::Paid
        } else {
            OrderStatus::Unpaid
        };
        let paid_at = o.processed_at.unwrap_or(o.created_at).with_timezone(&Utc);
        let order_id = o.id.to_string();
        let mut refunds = Vec::with_capacity(o.refunds.len());
        for r in &o.refunds {
            let mut micros = 0i64;
            for t in &r.transactions {
                if t.kind == "refund" && t.status.as_deref().unwrap_or("success") == "success" {
                    micros += parse_micros(&t.amount)
                        .map_err(|e| format!("refund {} amount: {e}", r.id))?;
                }
            }
            let at = r.created_at.with_timezone(&Utc);
            refunds.push(Refund {
                shop: self.shop.as_str().into(),
                refund_id: r.id.to_string(),
                order_id: order_id.clone(),
                refunded_at: at,
                local_day: local_day(at, self.tz),
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
                buyer_id: o
                    .customer
                    .as_ref()
                    .and_then(|c| c.id)
                    .map(|id| id.to_string()),
                status,
            },
            refunds,
        ))
    }
}
