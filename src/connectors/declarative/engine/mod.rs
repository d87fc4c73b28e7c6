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

mod options;
mod request;

pub use options::Options;

use super::blocks::paging::reverse_next;
use super::mapping::{classify, format_time, Mapper, PageInfo};
use super::plan::{Bounds, Definition, PageStyle, Scheduled, SliceLength, StreamPlan, Through};
use super::reasons::PagingError;
use crate::config::ConnectorConfig;
use crate::connectors::options::config_error;
use crate::connectors::{connector_shop, secret_option, ConnectorError, Sink, Window};
use crate::facts::Batch;
use crate::http::oauth::ServiceAccountTokenSource;
use crate::http::pagination::{advance_cursor, next_link};
use crate::http::{strip_query, HttpClient, HttpError, Page, RetryPolicy};
use crate::period::{day_start, local_day, today, LocalDay};
use crate::settings::Settings;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Pages one slice may take before kpid assumes the platform is looping.
const MAX_PAGES: u32 = 100_000;

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
    /// Reverse paging: past page 1, walking from the last page down.
    descending: bool,
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
        let options = Options::from_config(&def, cfg).map_err(config_error(cfg))?;
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
        let http = match def.envelope.and_then(|e| e.header_wait()) {
            Some(read) => http.with_header_wait(read),
            None => http,
        };
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
        from: LocalDay,
        to: LocalDay,
    ) -> Vec<Slice> {
        let days: Vec<LocalDay> = from.iter_days().take_while(|d| *d <= to).collect();
        let mut out = Vec::new();
        let group = |out: &mut Vec<Slice>, group: &[LocalDay]| {
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
                let n = self.options.slice_days.unwrap_or(n);
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
                    Scheduled::Reached => {
                        let reached = sink
                            .cursor(&s.name)
                            .await?
                            .and_then(|c| LocalDay::parse_ymd(&c).ok())
                            .unwrap_or(last)
                            .min(last);
                        reached - Duration::days(self.options.lookback_days)
                    }
                };
                self.slices(s, true, from, last)
            } else {
                let (from, to) = window.backfill_days(today(self.tz));
                self.slices(s, false, from, to)
            };
            let started = Utc::now();
            sink.fetch_and_commit(slices, self.options.concurrency, |slice, tx| {
                self.fetch_slice(plan.clone(), slice, tx)
            })
            .await?;
            if incremental && s.window.scheduled == Scheduled::Reached {
                // The last day reached, once every slice is committed.
                sink.set_cursor(&s.name, &last.to_string()).await?;
            }
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
        let body = match self.def.signing {
            Some(_) => self.business(&v),
            None => s.body.as_ref().and_then(|b| self.body(b, &v)),
        };
        let mapper = Mapper {
            stream: s.clone(),
            shop: self.shop.as_str().into(),
            tz: self.tz,
            source: strip_query(&url),
            page_no,
            slice: self.slice_label(s, slice),
            errors: self.def.errors.clone(),
        };
        let errors = self.def.errors.clone();
        let envelope = self.def.envelope;
        let hint = self.def.hint.clone();
        let page = self
            .http
            .get_checked(
                |c| self.request(c, s, &url, body.as_ref(), token.as_ref()),
                &self.def.hint,
                move |bytes: &[u8]| mapper.page(bytes),
                move |bytes: &[u8]| match envelope {
                    Some(named) => named.classify(bytes),
                    None => errors.as_ref().and_then(|e| classify(e, &hint, bytes)),
                },
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
            let reread_last = s.pagination.style == PageStyle::Reverse && !pos.descending;
            let next = self.advance(&s, &page.headers, &info, pos);
            // Reverse paging reads page 1 again last when there are more
            // pages: the first answer only gave the count.
            let send = !(reread_last && matches!(next, Ok(Some(_))));
            if send && tx.send(batch).await.is_err() {
                // The committer stopped on an error; it reports it.
                return Ok(());
            }
            match next {
                Ok(Some(next)) => pos = next,
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(ConnectorError::Http {
                        connector: self.name.clone(),
                        source: HttpError::Malformed {
                            url: strip_query(&url),
                            message: e.to_string(),
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
    ) -> Result<Option<Position>, PagingError> {
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
            PageStyle::Reverse => {
                let total = match (info.total, pos.descending) {
                    (Some(t), _) => t,
                    (None, true) => 0,
                    (None, false) => {
                        return Err(PagingError::NoTotal {
                            pointer: p.total.clone().unwrap_or_default(),
                        })
                    }
                };
                Ok(
                    reverse_next(pos.page, pos.descending, total, size).map(|page| Position {
                        page,
                        descending: true,
                        ..pos
                    }),
                )
            }
            PageStyle::Cursor { .. } | PageStyle::Token(_) => {
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
