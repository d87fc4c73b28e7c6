//! `kpid silence add | list | expire`.

use super::{rfc3339, Action};
use crate::setup::Setup;
use crate::store::{Silence, Store};
use anyhow::{bail, Context};
use chrono::Utc;
use clap::Subcommand;

/// Labels a matcher may name (those of every alert).
const LABELS: &[&str] = &["rule", "kpi", "shop", "person", "period", "severity"];

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// Silence the alerts whose labels match every matcher; prints its id.
    Add {
        /// `label=value`, label one of rule, kpi, shop, person, period, severity (repeatable).
        #[arg(long = "matcher", required = true)]
        matchers: Vec<String>,
        /// How long, e.g. 2h, 30m, 1d.
        #[arg(long)]
        duration: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Silences still in force.
    List,
    /// End a silence now.
    Expire { id: i64 },
}

fn parse_matcher(text: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = text
        .split_once('=')
        .with_context(|| format!("matcher `{text}` is not label=value"))?;
    let (k, v) = (k.trim(), v.trim());
    if !LABELS.contains(&k) {
        bail!(
            "matcher `{text}`: label `{k}` is not one of {}",
            LABELS.join(", ")
        );
    }
    if v.is_empty() {
        bail!("matcher `{text}` has no value");
    }
    Ok((k.to_string(), v.to_string()))
}

impl Action for SilenceCommand {
    async fn run(self, _: &Setup, store: &Store) -> anyhow::Result<()> {
        let now = Utc::now().timestamp();
        match self {
            SilenceCommand::Add {
                matchers,
                duration,
                comment,
            } => {
                let matchers = matchers
                    .iter()
                    .map(|m| parse_matcher(m))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let length = humantime::parse_duration(duration.trim())
                    .ok()
                    .filter(|d| !d.is_zero())
                    .with_context(|| {
                        format!("--duration `{duration}` is not a duration such as 2h or 30m")
                    })?;
                let id = store
                    .add_silence(&Silence {
                        id: 0,
                        matchers,
                        starts_at: now,
                        ends_at: now + length.as_secs() as i64,
                        comment,
                        created_by: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
                    })
                    .await?;
                println!("{id}");
                Ok(())
            }
            SilenceCommand::List => {
                println!(
                    "{:>5} {:<25} {:<25} {:<40} comment",
                    "id", "starts", "ends", "matchers"
                );
                for s in store.silences(now).await? {
                    let matchers: Vec<String> =
                        s.matchers.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    println!(
                        "{:>5} {:<25} {:<25} {:<40} {}",
                        s.id,
                        rfc3339(s.starts_at),
                        rfc3339(s.ends_at),
                        matchers.join(","),
                        s.comment
                    );
                }
                Ok(())
            }
            SilenceCommand::Expire { id } => {
                if !store.expire_silence(id, now).await? {
                    bail!("no silence {id} in force");
                }
                println!("silence {id} expired");
                Ok(())
            }
        }
    }
}
