//! What the shop-API connectors (Taobao, Pinduoduo, JD, Douyin, Zendesk,
//! Google Ads) have in common, written once: the shop and zone their facts
//! belong to, the polling options, the rate-limited HTTP client, the app
//! credentials of the marketplaces, and the shape of a run — which local
//! days it covers, where a scheduled run resumes, how one slice's pages
//! reach the committer, and when the cursor moves. What differs per
//! platform (the calls, their windows and paging rules) stays in its module.

use super::declarative::blocks::paging::{page_count, reverse_pages};
use super::declarative::blocks::signing::{Signing, SigningKeys};
use super::options::{
    check_base_url, not_empty, Building, KindOptions, OptionProblem, Polling, PollingSpec,
};
use super::records::PageOf;
use super::{
    connector_http, connector_shop, http_error, resume_since, Connector, ConnectorError, Sink,
    Window,
};
use crate::config::ConnectorConfig;
use crate::facts::Batch;
use crate::http::{HttpClient, HttpError};
use crate::ids::ShopId;
use crate::period::{day_start, today, LocalDay};
use crate::settings::Settings;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The shop a connector reads for, its zone, polling and HTTP client.
#[derive(Debug)]
pub(crate) struct ShopApi {
    pub shop: ShopId,
    pub tz: Tz,
    pub polling: Polling,
    pub http: HttpClient,
}

impl ShopApi {
    /// A page of this shop's records from `source`, found at `place`.
    pub fn page(&self, source: impl Into<String>, place: String) -> PageOf {
        PageOf {
            shop: self.shop.clone(),
            tz: self.tz,
            source: source.into(),
            place,
        }
    }

    /// At the polling's `requests_per_second`.
    pub fn new(
        cfg: &ConnectorConfig,
        polling: Polling,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let rate = polling.requests_per_second;
        Self::at_rate(cfg, polling, rate, settings)
    }

    /// At `requests_per_second` (a kind that counts its rate otherwise).
    pub fn at_rate(
        cfg: &ConnectorConfig,
        polling: Polling,
        requests_per_second: f64,
        settings: &Settings,
    ) -> Result<Self, ConnectorError> {
        let (shop, tz) = connector_shop(cfg, settings)?;
        let shop = ShopId::from(shop);
        let http = connector_http(cfg, requests_per_second)?;
        Ok(ShopApi {
            shop,
            tz,
            polling,
            http,
        })
    }

    /// A backfill's local days ([`Window::backfill_days`]) in the shop's zone.
    pub fn backfill_days(&self, window: Window) -> (LocalDay, LocalDay) {
        window.backfill_days(today(self.tz))
    }

    /// Where a scheduled run of `stream` starting at `now` resumes: the
    /// cursor less the lookback, or the initial history on a first run.
    pub async fn resume(
        &self,
        sink: &Sink<'_>,
        stream: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ConnectorError> {
        Ok(resume_since(
            sink.cursor(stream).await?,
            now,
            self.polling.lookback_days,
            self.polling.initial_days,
        ))
    }

    /// The first and the last second of local day `day` (a day with a DST
    /// change is 23 or 25 hours long).
    pub fn day_bounds(&self, day: LocalDay) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = day_start(day, self.tz);
        let end = day_start(day + Duration::days(1), self.tz) - Duration::seconds(1);
        (start, end)
    }

    /// One request of `connector`, built by `build` on each attempt (a
    /// signed call needs a fresh timestamp), refused by `check` when its
    /// body carries an error, else read by `parse` on a blocking thread.
    pub async fn call<T, B, P, C, E>(
        &self,
        connector: &str,
        build: B,
        hint: &str,
        parse: P,
        check: C,
    ) -> Result<T, ConnectorError>
    where
        T: Send + 'static,
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        P: Fn(&[u8]) -> Result<T, E> + Send + Sync + 'static,
        E: std::fmt::Display + Send + 'static,
        C: Fn(&[u8]) -> Option<HttpError> + Send + Sync + 'static,
    {
        self.http
            .get_checked(build, hint, parse, check)
            .await
            .map(|p| p.body)
            .map_err(http_error(connector))
    }

    /// [`Self::fetch`] for slices paged forward from page `first`:
    /// `page(slice, n)` reads page `n` and says whether another follows.
    pub async fn fetch_paged<S, F, Fut>(
        &self,
        sink: &mut Sink<'_>,
        slices: Vec<S>,
        first: u64,
        page: F,
    ) -> Result<(), ConnectorError>
    where
        S: Copy,
        F: Fn(S, u64) -> Fut,
        Fut: Future<Output = Result<(Batch, bool), ConnectorError>>,
    {
        let page = &page;
        self.fetch(sink, slices, |slice, tx| async move {
            pages_forward(&tx, first, |n| page(slice, n)).await
        })
        .await
    }

    /// Fetches `slices`, `concurrency` at a time, committing pages as they
    /// come.
    pub async fn fetch<S, F, Fut>(
        &self,
        sink: &mut Sink<'_>,
        slices: Vec<S>,
        fetch: F,
    ) -> Result<(), ConnectorError>
    where
        F: Fn(S, mpsc::Sender<Batch>) -> Fut,
        Fut: Future<Output = Result<(), ConnectorError>>,
    {
        sink.fetch_and_commit(slices, self.polling.concurrency, fetch)
            .await
    }
}

/// The days `from..=to`.
pub(crate) fn days(from: LocalDay, to: LocalDay) -> impl Iterator<Item = LocalDay> {
    from.iter_days().take_while(move |d| *d <= to)
}

/// Moves `stream`'s cursor to `at`; called only once everything up to `at`
/// is committed.
pub(crate) async fn move_cursor(
    sink: &Sink<'_>,
    stream: &str,
    at: DateTime<Utc>,
) -> Result<(), ConnectorError> {
    sink.set_cursor(stream, &at.to_rfc3339_opts(SecondsFormat::Secs, true))
        .await
}

/// A marketplace app's two credentials: the app secret that signs each
/// call and the shop's authorization (access token or session) it carries.
#[derive(Debug)]
pub(crate) struct AppKeys {
    pub secret: SecretString,
    pub token: SecretString,
}

/// A marketplace connector (Taobao, Pinduoduo, JD, Douyin): its options
/// `O`, shop, polling and HTTP client, and the app credentials it signs
/// with. Each kind's calls are its own `impl MarketApp<ItsOptions>`.
#[derive(Debug)]
pub struct MarketApp<O> {
    pub name: String,
    pub(crate) api: ShopApi,
    pub(crate) options: O,
    pub(crate) keys: AppKeys,
}

/// What a marketplace kind declares; its [`KindOptions`] follow from it,
/// so the four marketplaces check and build the same way.
pub(crate) trait MarketOptions: DeserializeOwned + Sized {
    const APP_POLLING: PollingSpec;
    /// The names of its app secret and of its token, in that order.
    const APP_SECRETS: [&'static str; 2];
    /// What the platform calls the (public) app key option.
    const KEY_NAME: &'static str;
    /// The [`Connector`] variant holding it.
    const CONNECTOR: fn(Arc<MarketApp<Self>>) -> Connector;
    /// What to check when the platform refuses the credentials.
    const HINT: &'static str;
    /// Its error envelope: the error a body answered with HTTP 200 carries.
    const ENVELOPE: fn(&[u8]) -> Option<HttpError>;

    /// Its gateway URL, its app key, and how calls to it are signed.
    fn gateway(&self) -> (&str, &str, Signing);

    /// Where a call of `api` goes: the gateway, for a platform that routes
    /// by a parameter.
    fn url(&self, _api: &str) -> String {
        self.gateway().0.to_string()
    }

    /// Checks of its own options besides the gateway and app key.
    fn check_own(&self) -> Result<(), OptionProblem> {
        Ok(())
    }
}

impl<O: MarketOptions> KindOptions for O {
    const POLLING: PollingSpec = O::APP_POLLING;
    const SECRETS: &'static [&'static str] = &O::APP_SECRETS;

    fn check(&self) -> Result<(), OptionProblem> {
        let (base_url, key, _) = self.gateway();
        check_base_url(base_url)?;
        not_empty(O::KEY_NAME, key)?;
        self.check_own()
    }

    fn build(self, with: Building<'_>) -> Result<Connector, ConnectorError> {
        let [secret, token] = O::APP_SECRETS;
        let keys = AppKeys {
            secret: with.secret(secret)?,
            token: with.secret(token)?,
        };
        Ok(O::CONNECTOR(Arc::new(MarketApp {
            name: with.name(),
            api: ShopApi::new(with.cfg, with.polling, with.settings)?,
            options: self,
            keys,
        })))
    }
}

/// One call of `api` by `app` (at [`MarketOptions::url`]), signed with its keys afresh on
/// every attempt (the platforms check the timestamp, and a retry after a
/// ban needs a new one), refused by the platform's [`MarketOptions::ENVELOPE`]
/// when its body carries an error, else read by `parse` with `mapper` (which
/// owns what it needs: the page is read on a blocking thread).
pub(crate) async fn signed_call<O, M, T, P, E>(
    app: &MarketApp<O>,
    api: &str,
    business: &serde_json::Value,
    mapper: M,
    parse: P,
) -> Result<T, ConnectorError>
where
    O: MarketOptions,
    M: Send + Sync + 'static,
    T: Send + 'static,
    P: Fn(&M, &[u8]) -> Result<T, E> + Send + Sync + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let (_, key, signing) = app.options.gateway();
    let url = app.options.url(api);
    let keys = SigningKeys {
        app: key,
        secret: &app.keys.secret,
        token: Some(&app.keys.token),
    };
    app.api
        .call(
            &app.name,
            |c| signing.post(c, &url, api, &keys, business, Utc::now()),
            O::HINT,
            move |bytes: &[u8]| parse(&mapper, bytes),
            O::ENVELOPE,
        )
        .await
}

/// Sends one slice's pages to the committer in turn: `page(n)` for
/// `n = first, first + 1, …` until it answers that no page follows.
pub(crate) async fn pages_forward<F, Fut>(
    tx: &mpsc::Sender<Batch>,
    first: u64,
    mut page: F,
) -> Result<(), ConnectorError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<(Batch, bool), ConnectorError>>,
{
    let mut page_no = first;
    loop {
        let (batch, more) = page(page_no).await?;
        if tx.send(batch).await.is_err() {
            // The committer stopped on an error; it reports it.
            return Ok(());
        }
        if !more {
            return Ok(());
        }
        page_no += 1;
    }
}

/// Sends the pages `numbers` of one slice to the committer, in that order.
pub(crate) async fn pages_in_order<F, Fut>(
    tx: &mpsc::Sender<Batch>,
    numbers: impl IntoIterator<Item = u64>,
    mut page: F,
) -> Result<(), ConnectorError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Batch, ConnectorError>>,
{
    for page_no in numbers {
        let batch = page(page_no).await?;
        if tx.send(batch).await.is_err() {
            // The committer stopped on an error; it reports it.
            return Ok(());
        }
    }
    Ok(())
}

/// Reads a slice last page first, as the marketplaces ask of their
/// increment APIs (a record updated while paging moves onto a page already
/// read instead of being skipped). `first` is page 1, read for the `total`
/// count: alone it is sent; otherwise page 1 is read again last, after the
/// pages an update could have pushed records onto.
pub(crate) async fn pages_backward<F, Fut>(
    tx: &mpsc::Sender<Batch>,
    first: Batch,
    total: u64,
    page_size: u64,
    page: F,
) -> Result<(), ConnectorError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Batch, ConnectorError>>,
{
    if page_count(total, page_size) <= 1 {
        let _ = tx.send(first).await;
        return Ok(());
    }
    pages_in_order(tx, reverse_pages(total, page_size), page).await
}
