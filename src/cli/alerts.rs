//! `kpid alerts evaluate | list | history | test | digest`.

use super::{rfc3339, Action};
use crate::alerts::deliver::{deliver_due, send_now, Delivered};
use crate::alerts::message::Message;
use crate::alerts::state::{evaluate, Transition};
use crate::format::display_value;
use crate::read;
use crate::settings::Settings;
use crate::setup::Setup;
use crate::store::Store;
use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use rust_decimal::Decimal;

/// Output of `alerts list` and `alerts history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// An RFC 3339 instant (`2026-10-10T09:00:00+08:00`).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{text}` is not an RFC 3339 instant such as 2026-10-10T09:00:00+08:00: {e}")
        })
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Evaluate every rule once, update alert states, send what was decided
    /// and print each transition.
    Evaluate {
        /// Evaluate as if now were this instant (RFC 3339); delivery and
        /// signing still use the real clock.
        #[arg(long, value_parser = parse_instant)]
        at: Option<DateTime<Utc>>,
    },
    /// The current alerts (pending, firing, resolved).
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Notifications per channel, newest first: sent, failed, silenced.
    History {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Send a test message through a channel and print its answer.
    Test {
        #[arg(long)]
        channel: String,
    },
    /// Send a digest now.
    Digest {
        #[arg(long)]
        name: String,
        /// Build it as of this instant (RFC 3339).
        #[arg(long, value_parser = parse_instant)]
        at: Option<DateTime<Utc>>,
    },
}

/// A value as the report tables show it: in the KPI's unit, rounded for
/// people (JSON keeps the exact numbers).
fn shown(s: &Settings, kpi: &str, d: Option<Decimal>) -> String {
    display_value(d, s.catalogue.get(kpi).map(|k| k.unit))
}

fn print_transition(s: &Settings, t: &Transition) {
    println!(
        "{:<6} {:<16} {:<24} {:<26} {:<5} {:<23} {:>8} → {:<8} value {} threshold {}",
        t.scope.kind(),
        t.scope.id(),
        t.rule,
        t.kpi,
        t.period.as_str(),
        t.period_label,
        t.from.as_str(),
        t.to.as_str(),
        shown(s, &t.kpi, t.value),
        shown(s, &t.kpi, t.threshold),
    );
}

fn print_delivered(d: &Delivered) {
    match &d.result {
        Ok(r) => println!("sent #{} to {}: {}", d.id, d.channel, r.detail),
        Err(e) => println!("FAILED #{} to {}: {}", d.id, d.channel, e.reason),
    }
}

/// Runs one evaluation and delivers; the transitions and deliveries printed.
pub async fn evaluate_once(
    s: &Setup,
    store: &Store,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let owner = crate::jobs::owner_id();
    let at = at.unwrap_or_else(Utc::now);
    let transitions = evaluate(s, &s.alerts, store, at, &owner).await?;
    if transitions.is_empty() {
        println!(
            "no alert changed state (evaluated as of {})",
            at.to_rfc3339()
        );
    }
    for t in &transitions {
        print_transition(s, t);
    }
    for d in deliver_due(&s.alerts, store, &owner, None).await? {
        print_delivered(&d);
    }
    Ok(())
}

impl Action for AlertsCommand {
    async fn run(self, s: &Setup, store: &Store) -> anyhow::Result<()> {
        match self {
            AlertsCommand::Evaluate { at } => evaluate_once(s, store, at).await,
            AlertsCommand::List { format } => {
                let alerts = read::listed_alerts(&s.alerts, store).await?;
                match format {
                    ListFormat::Json => {
                        let list: Vec<_> = alerts.iter().map(read::alert_json).collect();
                        println!("{}", serde_json::to_string_pretty(&list)?);
                    }
                    ListFormat::Table => {
                        println!(
                            "{:<9} {:<6} {:<16} {:<24} {:<26} {:<6} {:>16} {:>16}  {:<25} last sent",
                            "state",
                            "scope",
                            "id",
                            "rule",
                            "kpi",
                            "period",
                            "value",
                            "threshold",
                            "since"
                        );
                        for a in &alerts {
                            println!(
                                "{:<9} {:<6} {:<16} {:<24} {:<26} {:<6} {:>16} {:>16}  {:<25} {}",
                                a.state,
                                a.scope_kind,
                                a.scope_id,
                                a.rule,
                                a.kpi,
                                a.period,
                                shown(s, &a.kpi, a.reading.measure.value),
                                shown(s, &a.kpi, a.reading.threshold),
                                rfc3339(a.since),
                                a.last_sent_at.map(rfc3339).unwrap_or_else(|| "-".into()),
                            );
                        }
                    }
                }
                Ok(())
            }
            AlertsCommand::History { limit, format } => {
                let rows = store.notifications(limit).await?;
                match format {
                    ListFormat::Json => {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&read::alert_history_json(&rows))?
                        );
                    }
                    ListFormat::Table => {
                        println!(
                            "{:>6} {:<25} {:<20} {:<7} {:<24} {:<9}  detail",
                            "id", "created", "channel", "kind", "scope", "status"
                        );
                        for r in &rows {
                            println!(
                                "{:>6} {:<25} {:<20} {:<7} {:<24} {:<9}  {}",
                                r.id,
                                rfc3339(r.created_at),
                                r.channel,
                                r.kind,
                                r.scope,
                                r.status,
                                r.error.as_deref().or(r.detail.as_deref()).unwrap_or(""),
                            );
                        }
                    }
                }
                Ok(())
            }
            AlertsCommand::Test { channel } => {
                if s.alerts.channel(&channel).is_none() {
                    bail!(
                        "no channel `{channel}` in [[alerts.channels]] of {}",
                        s.file.display()
                    );
                }
                let message = Message::Test {
                    channel: channel.clone(),
                };
                match send_now(&s.alerts, &channel, &message).await {
                    Ok(receipt) => {
                        println!("{channel}: {}", receipt.detail);
                        Ok(())
                    }
                    Err(e) => bail!("{e}"),
                }
            }
            AlertsCommand::Digest { name, at } => {
                let spec = s
                    .alerts
                    .digest(&name)
                    .with_context(|| format!("no digest `{name}` in [[alerts.digests]]"))?;
                let at = at.unwrap_or_else(Utc::now);
                let digest =
                    crate::alerts::digest::build(s, &s.alerts, store, spec, &spec.shops, at)
                        .await?;
                crate::alerts::digest::enqueue(store, spec, &digest).await?;
                for shop in &digest.shops {
                    println!(
                        "{}: day {}, month {} ({} KPIs, {} firing)",
                        shop.shop,
                        shop.day,
                        shop.month_to_date.as_deref().unwrap_or("no month to date"),
                        shop.lines.len(),
                        shop.firing.len()
                    );
                }
                let owner = crate::jobs::owner_id();
                for d in deliver_due(&s.alerts, store, &owner, None).await? {
                    print_delivered(&d);
                }
                Ok(())
            }
        }
    }
}
