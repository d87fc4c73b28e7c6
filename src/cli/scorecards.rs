//! The scorecard commands: `report --scorecards`, `close`, `appeal`,
//! `input` and `targets`.

use crate::facts::{Batch, Reject};
use crate::period::{today, Period};
use crate::report::Format;
use crate::scorecard::export::{self, CardView};
use crate::scorecard::imports::{self, check_manual};
use crate::scorecard::{self, target_book};
use crate::settings::Settings;
use crate::store::{ManualChange, Store};
use anyhow::{bail, Context};
use clap::Subcommand;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum AppealCommand {
    /// Appeal a closed month's scorecard (within the configured working days).
    Open {
        #[arg(long)]
        person: String,
        #[arg(long)]
        month: String,
        #[arg(long)]
        reason: String,
    },
    /// Accept (writing a new scorecard revision) or reject an appeal.
    Resolve {
        id: i64,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        accept: bool,
        #[arg(long)]
        reject: bool,
        /// A KPI value the appeal corrects, `KPI=VALUE` (repeatable, with --accept).
        #[arg(long = "set", requires = "accept")]
        sets: Vec<String>,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: String,
    },
    /// List appeals, newest first.
    List {
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        month: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
pub enum InputCommand {
    /// Set a manual input of a person for a month or year (audited).
    Set {
        #[arg(long)]
        person: String,
        #[arg(long)]
        input: String,
        /// YYYY-MM or YYYY.
        #[arg(long)]
        period: String,
        #[arg(long)]
        value: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Import manual inputs from CSV/XLSX: person, input, period, value[, note].
    Import {
        file: PathBuf,
        #[arg(long)]
        by: String,
    },
    /// The manual inputs in force, or with --history every change.
    List {
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        history: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TargetsCommand {
    /// Import targets from CSV/XLSX: kpi, period, value[, shop | person | role].
    Import { file: PathBuf },
    /// Every target in force (configured and imported).
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

fn month(text: &str) -> anyhow::Result<Period> {
    Ok(Period::parse_month(text)?)
}

fn today_local(s: &Settings) -> chrono::NaiveDate {
    today(s.default_tz)
}

/// `kpid report --scorecards`.
pub async fn report(
    s: &Settings,
    store: &Store,
    period: Period,
    person: Option<&str>,
    revision: Option<i64>,
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let cards = crate::read::scorecards(store, period, person, revision).await?;
    let views: Vec<CardView> = cards.iter().map(|c| CardView::new(s, c)).collect();
    let text = match format {
        Format::Table => views
            .iter()
            .map(|v| export::card_table(s, v))
            .collect::<Vec<_>>()
            .join("\n"),
        Format::Json => {
            serde_json::to_string_pretty(&crate::read::scorecards_json(s, &cards, person))? + "\n"
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(export::CSV_HEADER)?;
            for v in &views {
                export::card_csv(v, &mut w)?;
            }
            String::from_utf8(w.into_inner()?)?
        }
        Format::Xlsx => {
            let out = output.context("--format xlsx needs --output FILE.xlsx")?;
            let bytes = export::workbook(s, &views)?;
            std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "{} scorecard(s) of {period} written to {}",
                cards.len(),
                out.display()
            );
            return Ok(());
        }
    };
    match output {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Prints what `kpid compute` did to scorecards.
pub async fn compute(
    s: &Settings,
    store: &Store,
    period: Period,
    shop: Option<&str>,
) -> anyhow::Result<()> {
    if matches!(period, Period::Day(_)) || s.people.is_empty() {
        return Ok(());
    }
    for r in scorecard::refresh_all(s, store, period, shop).await? {
        let state = if r.frozen {
            "closed, unchanged"
        } else if r.new_revision {
            "new"
        } else {
            "unchanged"
        };
        println!(
            "scorecard {} {}: revision {} ({state}), total {}, grade {}",
            r.card.person,
            r.card.period,
            r.card.revision,
            r.card
                .total
                .map(|t| crate::report::fixed(t, 2))
                .unwrap_or_else(|| "n/a".into()),
            r.card.grade.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// `kpid close --month`.
pub async fn close(s: &Settings, store: &Store, month_text: &str, by: &str) -> anyhow::Result<()> {
    let m = month(month_text)?;
    let today = today_local(s);
    let cards = scorecard::close_month(s, store, m, by, today).await?;
    let due = scorecard::workdays::close_due(m, s.scoring.close_working_days, &s.scoring.holidays);
    println!(
        "{m} closed by {by} on {today}: {} scorecard(s) frozen",
        cards.len()
    );
    if today > due {
        println!("note: the scheme's deadline for closing {m} was {due}");
    }
    let deadline = scorecard::workdays::add_working_days(
        today,
        s.scoring.appeal_working_days,
        &s.scoring.holidays,
    );
    println!("appeals are taken until {deadline}");
    Ok(())
}

fn parse_set(text: &str) -> anyhow::Result<(String, Decimal)> {
    let (k, v) = text
        .split_once('=')
        .with_context(|| format!("--set `{text}`: use KPI=VALUE"))?;
    let v = crate::money::parse_decimal(v.trim())
        .map_err(|_| anyhow::anyhow!("--set `{text}`: `{v}` is not a decimal number"))?;
    Ok((k.trim().to_string(), v))
}

pub async fn appeal(s: &Settings, store: &Store, cmd: AppealCommand) -> anyhow::Result<()> {
    match cmd {
        AppealCommand::Open {
            person,
            month: m,
            reason,
        } => {
            let m = month(&m)?;
            let id = scorecard::open_appeal(s, store, &person, m, &reason, today_local(s)).await?;
            println!("appeal #{id} opened for {person} {m}");
        }
        AppealCommand::Resolve {
            id,
            accept,
            reject: _,
            sets,
            by,
            note,
        } => {
            let sets = sets
                .iter()
                .map(|t| parse_set(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let r = scorecard::resolve_appeal(s, store, id, accept, &sets, &by, &note).await?;
            match r.card {
                Some(card) => println!(
                    "appeal #{id} accepted: {} {} revision {} (total {}, grade {})",
                    card.person,
                    card.period,
                    card.revision,
                    card.total
                        .map(|t| crate::report::fixed(t, 2))
                        .unwrap_or_else(|| "n/a".into()),
                    card.grade.as_deref().unwrap_or("-")
                ),
                None => println!("appeal #{id} rejected"),
            }
        }
        AppealCommand::List {
            person,
            month: m,
            format,
        } => {
            let m = m.as_deref().map(month).transpose()?;
            let appeals = store.appeals(person.as_deref(), m).await?;
            match format {
                Format::Json => {
                    let list = crate::read::appeals_json(&appeals);
                    println!("{}", serde_json::to_string_pretty(&list)?);
                }
                _ => {
                    println!(
                        "{:>4}  {:<14} {:<8} {:<10} {:<9} {:>4} {:>4}  reason / decision",
                        "id", "person", "month", "opened", "status", "rev", "new"
                    );
                    for a in appeals {
                        println!(
                            "{:>4}  {:<14} {:<8} {:<10} {:<9} {:>4} {:>4}  {}{}",
                            a.id,
                            a.person,
                            a.period.to_string(),
                            a.opened_on.to_string(),
                            a.status,
                            a.revision_before,
                            a.revision_after
                                .map(|r| r.to_string())
                                .unwrap_or_else(|| "-".into()),
                            a.reason,
                            match (&a.resolved_by, &a.note) {
                                (Some(by), Some(n)) => format!(" / {by}: {n}"),
                                _ => String::new(),
                            }
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// Keeps bad rows of an import of `file` in `rejects` under a
/// pseudo-connector, in place of those an earlier import of it left.
async fn keep_rejects(
    store: &Store,
    kind: &str,
    file: &str,
    rejects: Vec<Reject>,
) -> anyhow::Result<()> {
    let batch = Batch {
        rejects,
        replaces_rejects_of: Some(file.to_string()),
        ..Default::default()
    };
    store.commit_batch(kind, &batch).await?;
    Ok(())
}

fn reject(file: &str, row: &imports::Row, reason: String) -> Reject {
    println!("  rejected {file} line {}: {reason}", row.line);
    Reject {
        source: file.to_string(),
        locator: format!("line {}", row.line),
        reason,
        raw: row.raw.clone(),
    }
}

pub async fn input(s: &Settings, store: &Store, cmd: InputCommand) -> anyhow::Result<()> {
    match cmd {
        InputCommand::Set {
            person,
            input,
            period,
            value,
            by,
            note,
        } => {
            let value = crate::money::parse_decimal(value.trim())
                .map_err(|_| anyhow::anyhow!("--value `{value}` is not a decimal number"))?;
            let period =
                check_manual(s, &person, &input, &period, value).map_err(anyhow::Error::msg)?;
            let change = ManualChange {
                person,
                input,
                period,
                old_value: None,
                new_value: value,
                changed_by: by,
                changed_at: 0,
                note,
                source: "cli".into(),
            };
            match store.set_manual_input(&change).await? {
                Some(c) => println!(
                    "{} {} {}: {} → {} (by {})",
                    c.person,
                    c.input,
                    c.period,
                    c.old_value
                        .map(|v| v.normalize().to_string())
                        .unwrap_or_else(|| "(none)".into()),
                    c.new_value.normalize(),
                    c.changed_by
                ),
                None => println!(
                    "{} {} {} is already {}: nothing changed",
                    change.person,
                    change.input,
                    change.period,
                    value.normalize()
                ),
            }
        }
        InputCommand::Import { file, by } => {
            let name = file.display().to_string();
            let rows = imports::read_rows(&file).map_err(anyhow::Error::msg)?;
            let (mut changed, mut rejects) = (0, Vec::new());
            for row in &rows {
                match imports::manual_row(s, row) {
                    Ok(e) => {
                        let change = ManualChange {
                            person: e.person,
                            input: e.input,
                            period: e.period,
                            old_value: None,
                            new_value: e.value,
                            changed_by: by.clone(),
                            changed_at: 0,
                            note: e.note,
                            source: name.clone(),
                        };
                        if store.set_manual_input(&change).await?.is_some() {
                            changed += 1;
                        }
                    }
                    Err(reason) => rejects.push(reject(&name, row, reason)),
                }
            }
            println!(
                "{name}: {} rows, {changed} changed, {} rejected",
                rows.len(),
                rejects.len()
            );
            let bad = rejects.len();
            keep_rejects(store, "input-import", &name, rejects).await?;
            if bad > 0 {
                bail!("{bad} row(s) of {name} were rejected (kept in table `rejects`); the others were imported");
            }
        }
        InputCommand::List { person, history } => {
            if history {
                println!(
                    "{:<20} {:<14} {:<24} {:<8} {:>10} {:>10} {:<12} source / note",
                    "when", "person", "input", "period", "old", "new", "by"
                );
                for c in store.manual_history(person.as_deref()).await? {
                    println!(
                        "{:<20} {:<14} {:<24} {:<8} {:>10} {:>10} {:<12} {}{}",
                        time(c.changed_at),
                        c.person,
                        c.input,
                        c.period,
                        c.old_value
                            .map(|v| v.normalize().to_string())
                            .unwrap_or_else(|| "-".into()),
                        c.new_value.normalize().to_string(),
                        c.changed_by,
                        c.source,
                        c.note.map(|n| format!(" / {n}")).unwrap_or_default()
                    );
                }
            } else {
                println!(
                    "{:<14} {:<24} {:<8} {:>10} {:<12} {:<20} note",
                    "person", "input", "period", "value", "by", "updated"
                );
                for m in store.manual_inputs(person.as_deref()).await? {
                    println!(
                        "{:<14} {:<24} {:<8} {:>10} {:<12} {:<20} {}",
                        m.person,
                        m.input,
                        m.period,
                        m.value.normalize().to_string(),
                        m.updated_by,
                        time(m.updated_at),
                        m.note.unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(())
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub async fn targets(s: &Settings, store: &Store, cmd: TargetsCommand) -> anyhow::Result<()> {
    match cmd {
        TargetsCommand::Import { file } => {
            let name = file.display().to_string();
            let rows = imports::read_rows(&file).map_err(anyhow::Error::msg)?;
            let mut book = target_book(s, store).await?;
            let (mut good, mut rejects) = (Vec::new(), Vec::new());
            for row in &rows {
                match imports::target_row(s, row, &name) {
                    Ok(t) => match book.clash_with(&t) {
                        Some(other) => rejects.push(reject(
                            &name,
                            row,
                            format!(
                                "the months {} overlap {} of {} for `{}` ({})",
                                t.period, other.period, other.source, t.kpi, t.scope
                            ),
                        )),
                        None => {
                            book.insert(t.clone());
                            good.push(t);
                        }
                    },
                    Err(reason) => rejects.push(reject(&name, row, reason)),
                }
            }
            let changed = store.import_targets(&good, &name).await?;
            println!(
                "{name}: {} rows, {} targets taken ({changed} new or changed), {} rejected",
                rows.len(),
                good.len(),
                rejects.len()
            );
            let bad = rejects.len();
            keep_rejects(store, "targets-import", &name, rejects).await?;
            if bad > 0 {
                bail!("{bad} row(s) of {name} were rejected (kept in table `rejects`); the others were imported");
            }
        }
        TargetsCommand::List { format } => {
            let book = target_book(s, store).await?;
            let mut list: Vec<_> = book.iter().collect();
            list.sort_by(|a, b| {
                (&a.kpi, &a.scope, a.period.to_string()).cmp(&(
                    &b.kpi,
                    &b.scope,
                    b.period.to_string(),
                ))
            });
            match format {
                Format::Json => {
                    let v: Vec<_> = list
                        .iter()
                        .map(|t| {
                            serde_json::json!({
                                "kpi": t.kpi, "scope": t.scope.kind(), "scope_id": t.scope.id(),
                                "period": t.period.to_string(),
                                "value": crate::report::json_number(Some(t.value)),
                                "source": t.source.to_string(),
                            })
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                Format::Csv => {
                    let mut w = csv::Writer::from_writer(Vec::new());
                    w.write_record(["kpi", "scope", "scope_id", "period", "value", "source"])?;
                    for t in list {
                        w.write_record([
                            t.kpi.clone(),
                            t.scope.kind().to_string(),
                            t.scope.id().to_string(),
                            t.period.to_string(),
                            t.value.normalize().to_string(),
                            t.source.to_string(),
                        ])?;
                    }
                    print!("{}", String::from_utf8(w.into_inner()?)?);
                }
                _ => {
                    println!(
                        "{:<26} {:<24} {:<18} {:>14}  source",
                        "kpi", "scope", "period", "value"
                    );
                    for t in list {
                        println!(
                            "{:<26} {:<24} {:<18} {:>14}  {}",
                            t.kpi,
                            t.scope.to_string(),
                            t.period.to_string(),
                            t.value.normalize().to_string(),
                            t.source
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// People whose shops have different currencies and whose money cannot be
/// converted for this month or the one before (no base, or a missing rate).
fn currency_warnings(s: &Settings, this_month: Period) -> Vec<String> {
    let mut out = Vec::new();
    for p in &s.people {
        let mut seen = Vec::new();
        for month in [this_month.previous(), this_month] {
            if let crate::currency::MoneyPlan::NoValue(why) =
                scorecard::scope::money_plan(s, p, month)
            {
                let text = why.to_string();
                if !seen.contains(&text) {
                    out.push(format!(
                        "person `{}`: money KPIs have no value for {month}: {text}",
                        p.id
                    ));
                    seen.push(text);
                }
            }
        }
    }
    out
}

/// Warnings for `kpid check`: role KPIs without a target this month, and
/// months past their closing deadline (when the database can be reached).
pub async fn check_warnings(s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    // `check` must not create a database, nor wait long for one that is down.
    let open = Store::open_existing(s.storage_url());
    let store = match tokio::time::timeout(std::time::Duration::from_secs(3), open).await {
        Ok(Ok(Some(st))) if st.migrations_applied().await.unwrap_or(false) => Some(st),
        _ => None,
    };
    let imported = match &store {
        Some(st) => st.imported_targets().await.unwrap_or_default(),
        None => Vec::new(),
    };
    out.extend(crate::kpi::refund_sources::check_notes(s, store.as_ref()).await);
    let book = crate::targets::TargetBook::new(s.targets.clone(), imported);
    let this_month = Period::month_of(today_local(s));
    for p in &s.people {
        let Some(role) = s.role(&p.role) else {
            continue;
        };
        let scopes = scorecard::target_scopes(p);
        let missing: Vec<&str> = role
            .kpis
            .iter()
            .filter(|k| !book.has_month_target(&k.kpi, this_month, &scopes))
            .map(|k| k.kpi.as_str())
            .collect();
        if !missing.is_empty() {
            out.push(format!(
                "person `{}` ({}): no target for {this_month} of {}",
                p.id,
                role.id,
                missing.join(", ")
            ));
        }
    }
    out.extend(currency_warnings(s, this_month));
    if let Some(st) = &store {
        if let Ok(months) = scorecard::overdue_months(s, st, today_local(s)).await {
            for (m, due) in months {
                out.push(format!(
                    "{m} is not closed and was due by {due} ({} working days after month end): run `kpid close --month {m}`",
                    s.scoring.close_working_days
                ));
            }
        }
        st.close().await;
    }
    out
}
