//! `kpid check`: validates the configuration and shows the effective one
//! (secrets hidden), the listener, the connector kinds, the next runs of
//! every job and warnings worth acting on. It creates no database.

use super::today_local;
use crate::period::Period;
use crate::schedule::CronSchedule;
use crate::scorecard;
use crate::settings::Settings;
use crate::setup;
use crate::store::Store;
use anyhow::bail;
use chrono::Utc;
use clap::Args;
use std::path::Path;

/// Validate the configuration and show what would run when.
#[derive(Debug, Args)]
pub struct Check {}

impl Check {
    pub async fn execute(self, config: &Path) -> anyhow::Result<()> {
        let s = match setup::load(config) {
            Ok(s) => s,
            Err(e) => {
                eprint!("{e}");
                bail!("{} is not valid", config.display());
            }
        };
        println!(
            "# {} is valid. Effective configuration (secrets hidden):\n",
            config.display()
        );
        println!(
            "{}",
            crate::connectors::registry::redacted_toml(&s.config, &s.definitions)
        );
        if !s.alerts.channels.is_empty() {
            // Channel tables hold secrets (robot URLs): names and kinds only.
            println!("# Alert channels (secrets hidden):");
            for c in &s.alerts.channels {
                println!("{:<28} {}", c.name, c.describe());
            }
            println!();
        }
        print_listener(&s);
        println!("# Connector kinds from definitions:");
        for d in s.definitions.iter() {
            println!("{:<28} {} [{}]", d.kind, d.description, d.source);
        }
        println!("\n# Next runs:");
        let now = Utc::now();
        for c in &s.config.connectors {
            match s.connector_schedules.get(&c.name).and_then(|x| x.as_ref()) {
                Some(sched) => {
                    println!("{:<28} {:<18} {}", c.name, sched.source(), runs(sched, now))
                }
                None => println!(
                    "{:<28} (no schedule: `kpid ingest` and `run --once` only)",
                    c.name
                ),
            }
        }
        for shop in &s.shops {
            let sched = CronSchedule::parse(&s.config.snapshot.schedule, shop.tz)?;
            println!(
                "{:<28} {:<18} {}",
                format!("snapshot:{}", shop.id),
                sched.source(),
                runs(&sched, now)
            );
        }
        for d in &s.alerts.digests {
            for shop in s.shops.iter().filter(|x| d.shops.contains(&x.id)) {
                if let Some(sched) = d.schedule_in(shop.tz) {
                    println!(
                        "{:<28} {:<18} {}",
                        format!("digest:{}:{}", d.name, shop.id),
                        sched.source(),
                        runs(&sched, now)
                    );
                }
            }
        }
        // Old kind names still work for one release; say so before they go.
        let notes: Vec<String> = s
            .config
            .connectors
            .iter()
            .filter_map(|c| crate::connectors::declarative::aliases::note(&c.name, &c.kind))
            .collect();
        if !notes.is_empty() {
            println!("\n# Notes:");
            for n in &notes {
                println!("note: {n}");
            }
        }
        let warnings = check_warnings(&s).await;
        if !warnings.is_empty() {
            println!("\n# Warnings:");
            for w in &warnings {
                println!("warning: {w}");
            }
        }
        Ok(())
    }
}

/// What `kpid check` says about the HTTP listener and its token (never the token).
fn print_listener(s: &Settings) {
    let server = &s.config.server;
    println!("# HTTP listener:");
    if server.listen.is_empty() {
        println!("off (server.listen is empty)\n");
        return;
    }
    let token = match (&s.server_token, &server.token_env, &server.token_file) {
        (None, _, _) => {
            "no token: the dashboard, API and /metrics are open to whoever reaches the address"
                .to_string()
        }
        (Some(_), Some(var), _) => format!("token set (from ${var}, hidden)"),
        (Some(_), _, Some(file)) => format!("token set (from {file}, hidden)"),
        (Some(_), _, _) => "token set (inline, hidden)".to_string(),
    };
    println!("listen       {}", server.listen);
    println!("dashboard    http://{}/", server.listen);
    println!("token        {token}");
    if s.server_token.is_some() {
        println!("protected    /metrics and /api/v1/ need `Authorization: Bearer <token>`; /healthz and /readyz do not");
    }
    if let Some(why) = crate::server::refuse_public_without_token(s) {
        println!("warning: `kpid run` will refuse to start: {why}");
    }
    println!();
}

fn runs(sched: &CronSchedule, now: chrono::DateTime<Utc>) -> String {
    sched
        .upcoming(now, 3)
        .iter()
        .map(|t| {
            t.with_timezone(&sched.timezone())
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
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
async fn check_warnings(s: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    // `check` must not create a database, nor wait long for one that is down.
    let open = Store::open_existing(s.storage_url());
    let store = match tokio::time::timeout(std::time::Duration::from_secs(3), open).await {
        Ok(Ok(Some(st))) if st.migrations_applied().await.unwrap_or(false) => Some(st),
        _ => None,
    };
    let imported = match &store {
        Some(st) => crate::targets::imported(st).await.unwrap_or_default(),
        None => Vec::new(),
    };
    out.extend(crate::settings::refund_sources::check_notes(s, store.as_ref()).await);
    let book = crate::targets::TargetBook::new(s.targets.clone(), imported);
    let this_month = Period::month_of(today_local(s));
    for p in &s.people {
        let Some(role) = s.role(&p.role) else {
            continue;
        };
        let scopes = p.target_scopes();
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
