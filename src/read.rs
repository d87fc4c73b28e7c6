//! The read side's documents, built once for the command line and the HTTP
//! API: `kpid report`, `kpid report --scorecards`, `kpid kpis` and `kpid runs`
//! print the same JSON that `/api/v1/…` answers.

use crate::alerts::config::Rules;
use crate::format::json_number;
use crate::ids::ShopId;
use crate::kpi::Catalogue;
use crate::period::{today, Days, LocalDay, Period};
use crate::scorecard::export;
use crate::settings::Settings;
use crate::store::{JobRun, Store, StoreError, StoredScorecard, StoredSnapshot};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The most days one series request may cover.
pub const MAX_SERIES_DAYS: i64 = 400;

/// Why a document cannot be read: the caller's mistake, nothing there, or
/// the database.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A parameter is missing or malformed (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// An unknown shop or person, or a period without data (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The catalogue as `kpid kpis --format json` prints it.
pub fn kpis_json(cat: &Catalogue) -> Value {
    cat.iter()
        .map(|k| {
            json!({
                "id": k.id, "name_zh": k.name_zh, "name_en": k.name_en, "formula": k.formula,
                "unit": k.unit.as_str(), "direction": k.direction, "category": k.category,
                "builtin": k.builtin, "sums_over_days": k.sums_over_days,
            })
        })
        .collect()
}

fn unknown_shop(s: &Settings, id: &str) -> ReadError {
    ReadError::NotFound(format!("no shop `{id}` in {}", s.file.display()))
}

/// The snapshots of `kpid report`: one shop's, or every shop's that has one.
pub async fn snapshots(
    s: &Settings,
    store: &Store,
    period: Period,
    shop: Option<&str>,
    revision: Option<i64>,
) -> Result<Vec<StoredSnapshot>, ReadError> {
    let shops: Vec<ShopId> = match shop {
        Some(id) => vec![s.shop(id).ok_or_else(|| unknown_shop(s, id))?.id.clone()],
        None => store.snapshot_shops(period).await?,
    };
    let (kind, rev) = (period.kind().as_str(), revision_words(revision));
    every_one(
        &shops,
        |id| store.snapshot(id, period, revision),
        |id| format!("no snapshot of {id} for {period}{rev}; run `kpid compute --{kind} {period} --shop {id}`"),
        || format!("no snapshots for {period}; run `kpid compute --{kind} {period}`"),
    )
    .await
}

/// ` revision 3` when a revision was asked for, else nothing.
fn revision_words(revision: Option<i64>) -> String {
    revision
        .map(|r| format!(" revision {r}"))
        .unwrap_or_default()
}

/// The document `read` finds for each of `ids`, in order: one missing is
/// not found (`missing` says so), and so is having no ids at all (`none`).
async fn every_one<'a, T, F>(
    ids: &'a [impl AsRef<str>],
    read: impl Fn(&'a str) -> F,
    missing: impl Fn(&str) -> String,
    none: impl FnOnce() -> String,
) -> Result<Vec<T>, ReadError>
where
    F: std::future::Future<Output = Result<Option<T>, StoreError>>,
{
    if ids.is_empty() {
        return Err(ReadError::NotFound(none()));
    }
    let mut found = Vec::with_capacity(ids.len());
    for id in ids.iter().map(AsRef::as_ref) {
        match read(id).await? {
            Some(doc) => found.push(doc),
            None => return Err(ReadError::NotFound(missing(id))),
        }
    }
    Ok(found)
}

/// `kpid report --format json`: one object for one shop asked by name, else an array.
pub fn snapshots_json(snaps: &[StoredSnapshot], cat: &Catalogue, one_shop: bool) -> Value {
    one_or_array(
        snaps
            .iter()
            .map(|x| crate::report::snapshot_json(x, cat))
            .collect(),
        one_shop,
    )
}

/// The one document of a read that asked for one by name, else the array
/// of them all (an array also for every shop or person that has one).
fn one_or_array(mut docs: Vec<Value>, asked_for_one: bool) -> Value {
    if asked_for_one && docs.len() == 1 {
        docs.remove(0)
    } else {
        Value::Array(docs)
    }
}

/// The scorecards of `kpid report --scorecards`: one person's or everyone's.
pub async fn scorecards(
    store: &Store,
    period: Period,
    person: Option<&str>,
    revision: Option<i64>,
) -> Result<Vec<StoredScorecard>, ReadError> {
    let people: Vec<String> = match person {
        Some(p) => vec![p.to_string()],
        None => store.scorecard_people(period).await?,
    };
    let (kind, rev) = (period.kind().as_str(), revision_words(revision));
    every_one(
        &people,
        |p| store.scorecard(p, period, revision),
        |p| format!("no scorecard of {p} for {period}{rev}; run `kpid compute --{kind} {period}`"),
        || format!("no scorecards for {period}; configure [[people]] and run `kpid compute --{kind} {period}`"),
    )
    .await
}

/// `kpid report --scorecards --format json`: one object for one person, else an array.
/// A person's money over shops of different currencies carries a `money`
/// note (the rates used, or why there is no value).
pub fn scorecards_json(
    settings: &Settings,
    cards: &[StoredScorecard],
    person: Option<&str>,
) -> Value {
    let objs = cards
        .iter()
        .map(|card| {
            let mut obj = export::card_json(card);
            if let Some(note) = export::money_note(settings, &export::CardView::new(settings, card))
            {
                obj["money"] = Value::String(note);
            }
            obj
        })
        .collect();
    one_or_array(objs, person.is_some())
}

/// `kpid appeal list --format json`, newest first.
pub fn appeals_json(appeals: &[crate::store::Appeal]) -> Value {
    appeals
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "person": a.person, "month": a.period.to_string(),
                "reason": a.reason, "opened_on": a.opened_on.to_string(),
                "status": a.status, "revision_before": a.revision_before,
                "revision_after": a.revision_after, "resolved_by": a.resolved_by,
                "note": a.note,
                "adjustments": a.adjustments.iter().map(|(k, old, new)| json!({
                    "kpi": k,
                    "old": json_number(*old),
                    "new": json_number(Some(*new)),
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// A stored Unix time as RFC 3339 (empty when out of range).
pub(crate) fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

/// `kpid runs --format json`.
pub fn runs_json(runs: &[JobRun]) -> Value {
    runs.iter()
        .map(|r| {
            json!({
                "job": r.job, "tick": rfc3339(r.tick), "owner": r.owner, "status": r.status,
                "attempts": r.attempts, "started_at": rfc3339(r.started_at),
                "finished_at": r.finished_at.map(rfc3339), "records": r.records,
                "changed": r.changed, "rejects": r.rejects, "detail": r.detail, "error": r.error,
            })
        })
        .collect()
}

/// The cursor that continues a page of runs after its last one.
pub fn runs_cursor(last: &JobRun) -> String {
    format!("{}~{}", last.started_at, last.job)
}

/// Reads a cursor made by [`runs_cursor`].
pub fn parse_runs_cursor(text: &str) -> Option<(i64, &str)> {
    let (t, job) = text.split_once('~')?;
    Some((t.parse().ok()?, job))
}

/// Shops with their zone, currency and newest snapshot of each period kind.
pub async fn shops_json(s: &Settings, store: &Store) -> Result<Value, ReadError> {
    let mut out = Vec::new();
    for shop in &s.shops {
        let mut latest = serde_json::Map::new();
        for (kind, period, revision, computed_at) in store.latest_snapshots(&shop.id).await? {
            latest.insert(
                kind,
                json!({"period": period, "revision": revision, "computed_at": rfc3339(computed_at)}),
            );
        }
        out.push(json!({
            "id": shop.id,
            "timezone": shop.tz.name(),
            "currency": shop.currency,
            "today": today(shop.tz).to_string(),
            "latest": latest,
        }));
    }
    Ok(Value::Array(out))
}

/// A KPI per local day of `from..=to` with its target: the latest day
/// snapshot's value, and
/// for a day without a snapshot the value computed from the facts as the
/// nightly job would (nothing is written); null where the KPI has no value.
pub async fn series(
    s: &Settings,
    store: &Store,
    shop: &str,
    kpi: &str,
    from: LocalDay,
    to: LocalDay,
) -> Result<Value, ReadError> {
    let shop = s.shop(shop).ok_or_else(|| unknown_shop(s, shop))?;
    if s.catalogue.get(kpi).is_none() {
        return Err(ReadError::NotFound(format!(
            "no KPI `{kpi}` in the catalogue (see /api/v1/kpis)"
        )));
    }
    let days = Days::new(from, to)
        .map_err(|_| ReadError::BadRequest(format!("`from` {from} is after `to` {to}")))?;
    let count = days.count();
    if count > MAX_SERIES_DAYS {
        return Err(ReadError::BadRequest(format!(
            "`from`..`to` covers {count} days; at most {MAX_SERIES_DAYS} per request"
        )));
    }
    let stored: std::collections::HashMap<String, (Option<Decimal>, Option<Decimal>)> = store
        .day_values(&shop.id, kpi, days)
        .await?
        .into_iter()
        .map(|(day, value, target)| (day, (value, target)))
        .collect();
    let mut out = Vec::with_capacity(count as usize);
    for day in from.iter_days().take(count as usize) {
        let label = day.to_string();
        let (value, target) = match stored.get(&label) {
            Some(v) => *v,
            None => live_line(s, store, shop, Period::Day(day), kpi).await?,
        };
        out.push(json!({"day": label, "value": json_number(value), "target": json_number(target)}));
    }
    Ok(Value::Array(out))
}

/// A KPI's value and target for a period, computed now (nothing written).
async fn live_line(
    s: &Settings,
    store: &Store,
    shop: &crate::settings::Shop,
    period: Period,
    kpi: &str,
) -> Result<(Option<Decimal>, Option<Decimal>), StoreError> {
    Ok(crate::snapshot::values(s, store, shop, period)
        .await?
        .into_iter()
        .find(|k| k.kpi == kpi)
        .map(|k| (k.measure.value, k.measure.target))
        .unwrap_or_default())
}

/// A shop's running periods (today so far and month to date) computed now
/// from the facts, shaped as `kpid report` snapshots with `revision` null
/// (nothing is written).
pub async fn live_json(s: &Settings, store: &Store, shop: &str) -> Result<Value, ReadError> {
    let shop = s.shop(shop).ok_or_else(|| unknown_shop(s, shop))?;
    let day = today(shop.tz);
    let mut out = serde_json::Map::new();
    for (name, period) in [
        ("today", Period::Day(day)),
        ("month", Period::month_of(day)),
    ] {
        let kpis = crate::snapshot::values(s, store, shop, period).await?;
        let snap = StoredSnapshot {
            shop: shop.id.clone(),
            period,
            revision: 0,
            computed_at: chrono::Utc::now().timestamp(),
            kpis,
        };
        let mut doc = crate::report::snapshot_json(&snap, &s.catalogue);
        doc["revision"] = Value::Null;
        out.insert(name.into(), doc);
    }
    Ok(Value::Object(out))
}

/// Why a snapshot table could not be built as a file (the API answers 500).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the snapshot CSV could not be written: {0}")]
    Csv(#[from] csv::Error),
    #[error("the snapshot workbook could not be written: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

/// The snapshots as `kpid report --format csv` prints them.
pub fn snapshots_csv(snaps: &[StoredSnapshot], cat: &Catalogue) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(crate::report::CSV_HEADER)?;
    for snap in snaps {
        crate::report::snapshot_csv(snap, cat, &mut w)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The same table as [`snapshots_csv`] as a workbook, numbers as numbers.
pub fn snapshots_xlsx(snaps: &[StoredSnapshot], cat: &Catalogue) -> Result<Vec<u8>, ExportError> {
    let text = snapshots_csv(snaps, cat)?;
    let mut rows = csv::Reader::from_reader(text.as_slice());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("snapshots")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in crate::report::CSV_HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, rec) in rows.records().enumerate() {
        for (c, field) in rec?.iter().enumerate() {
            let (row, col) = (r as u32 + 1, c as u16);
            // Revision and the value columns are numbers; ids and names stay text.
            match field.parse::<f64>() {
                Ok(n) if c == 2 || c >= 7 => sheet.write_number(row, col, n)?,
                _ => sheet.write_string(row, col, field)?,
            };
        }
    }
    sheet.autofit();
    Ok(book.save_to_buffer()?)
}

/// Silences in force, oldest first.
pub async fn silences_json(store: &Store) -> Result<Value, ReadError> {
    let now = chrono::Utc::now().timestamp();
    Ok(store
        .silences(now)
        .await?
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "matchers": s.matchers.iter().map(|(k, v)| json!({"label": k, "value": v})).collect::<Vec<_>>(),
                "starts_at": rfc3339(s.starts_at), "ends_at": rfc3339(s.ends_at),
                "comment": s.comment, "created_by": s.created_by,
            })
        })
        .collect())
}

/// How many recent runs of a job the connectors page looks at.
const RECENT_RUNS: i64 = 50;

/// Each scheduled job (connectors, then each shop's snapshot job): its
/// schedule, last run, last success, failures among its recent runs,
/// rejects of the last run and next run.
pub async fn connectors_json(s: &Settings, store: &Store) -> Result<Value, ReadError> {
    let now = chrono::Utc::now();
    let mut jobs: Vec<(String, String, Option<crate::schedule::CronSchedule>)> = s
        .config
        .connectors
        .iter()
        .map(|c| {
            let sched = s.connector_schedules.get(&c.name).cloned().flatten();
            (c.name.clone(), c.kind.clone(), sched)
        })
        .collect();
    for shop in &s.shops {
        let sched = crate::schedule::CronSchedule::parse(&s.config.snapshot.schedule, shop.tz).ok();
        jobs.push((format!("snapshot:{}", shop.id), "snapshot".into(), sched));
    }
    let mut out = Vec::new();
    for (job, kind, sched) in jobs {
        let runs = store.recent_runs(Some(&job), RECENT_RUNS).await?;
        let last = runs.first();
        let last_ok = runs.iter().find(|r| r.status == "ok");
        out.push(json!({
            "job": job,
            "kind": kind,
            "schedule": sched.as_ref().map(|x| x.source().to_string()),
            "last_run": last.map(|r| json!({
                "started_at": rfc3339(r.started_at),
                "finished_at": r.finished_at.map(rfc3339),
                "status": r.status, "records": r.records, "changed": r.changed,
                "rejects": r.rejects, "error": r.error,
            })),
            "last_success": last_ok.and_then(|r| r.finished_at).map(rfc3339),
            "failures": runs.iter().filter(|r| r.status == "failed").count(),
            "recent_runs": runs.len(),
            "next_run": sched.as_ref().and_then(|x| x.next_after(now)).map(|t| t.to_rfc3339()),
        }));
    }
    Ok(Value::Array(out))
}

/// One alert as `alerts list --format json` and `/api/v1/alerts` show it.
pub fn alert_json(a: &crate::store::AlertRow) -> Value {
    let person = (a.scope_kind == "person").then(|| a.scope_id.clone());
    let shop = (a.scope_kind == "shop").then(|| a.scope_id.clone());
    json!({
        "rule": a.rule,
        "kpi": a.kpi,
        "period": a.period,
        "period_label": a.period_label,
        "shop": shop,
        "person": person,
        "state": a.state,
        "value": json_number(a.reading.measure.value),
        "target": json_number(a.reading.measure.target),
        "threshold": json_number(a.reading.threshold),
        "attainment": json_number(a.reading.measure.attainment),
        "since": rfc3339(a.since),
        "last_sent": a.last_sent_at.map(rfc3339),
    })
}

/// The alerts `alerts list` shows: every one not inactive.
pub async fn listed_alerts(
    rules: &Rules,
    store: &Store,
) -> Result<Vec<crate::store::AlertRow>, StoreError> {
    Ok(store
        .alerts()
        .await?
        .into_iter()
        // Alerts of rules since removed from the configuration are kept
        // in the database (history) but are no longer current.
        .filter(|a| a.state != "inactive" && rules.rule(&a.rule).is_some())
        .collect())
}

/// `kpid alerts list --format json` (also `/api/v1/alerts`).
pub async fn alerts_json(rules: &Rules, store: &Store) -> Result<Value, StoreError> {
    Ok(listed_alerts(rules, store)
        .await?
        .iter()
        .map(alert_json)
        .collect())
}

/// `kpid alerts history --format json` (also `/api/v1/alerts/history`).
pub fn alert_history_json(rows: &[crate::store::OutboxRow]) -> Value {
    rows.iter()
        .map(|r| {
            json!({
                "id": r.id, "created_at": rfc3339(r.created_at), "channel": r.channel,
                "kind": r.kind, "scope": r.scope, "status": r.status,
                "attempts": r.attempts, "sent_at": r.sent_at.map(rfc3339),
                "detail": r.detail, "error": r.error,
                "message": serde_json::from_str::<Value>(&r.message).ok(),
            })
        })
        .collect()
}
