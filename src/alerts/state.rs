//! The state machine of every (rule, scope, KPI), Prometheus-style:
//!
//! ```text
//! inactive ──breach──▶ pending ──`for` breaches──▶ firing ──no breach──▶ resolved
//!     ▲                   │ no breach                                   │ breach
//!     └───────────────────┘                           pending ◀─────────┘
//! ```
//!
//! With `for = 1` the first breach fires at once. An observation with
//! nothing to decide (no value, no target) changes nothing. Notifications:
//! a firing alert when it starts firing and again once `repeat_interval`
//! has passed since the last one; one resolved notice when it resolves
//! (with `send_resolved`); Alertmanager channels get every firing alert on
//! every evaluation, as Alertmanager expects to be re-posted to, and every
//! resolve whatever `send_resolved` says. A
//! silenced alert changes state but its notification is recorded as
//! `silenced` and never sent. The alerts of one scope that notify in one
//! evaluation go to each channel as one message.

use super::config::{Condition, Rules};
use super::evaluate::{observe, Observation, Scope};
use super::message::{AlertGroup, AlertNotice, AlertState, KpiLabel, Message, WatchPeriod};
use crate::settings::Settings;
// `decide_alerts` is a trait method only: its closure is beyond the delegation macro.
use crate::store::{AlertDecisions, AlertRow, Decisions, OutboxDraft, Silence, Store, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

pub fn parse_state(s: &str) -> AlertState {
    match s {
        "pending" => AlertState::Pending,
        "firing" => AlertState::Firing,
        "resolved" => AlertState::Resolved,
        _ => AlertState::Inactive,
    }
}

pub fn parse_period(s: &str) -> Option<WatchPeriod> {
    Some(match s {
        "today" => WatchPeriod::Today,
        "day" => WatchPeriod::Day,
        "month" => WatchPeriod::Month,
        _ => return None,
    })
}

/// One state change of one evaluation (what `kpid alerts evaluate` prints).
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub rule: String,
    pub kpi: String,
    pub scope: Scope,
    pub period: WatchPeriod,
    pub period_label: String,
    pub from: AlertState,
    pub to: AlertState,
    pub value: Option<Decimal>,
    pub threshold: Option<Decimal>,
}

/// The labels silences match on.
fn labels(row: &AlertRow, severity: &str) -> Vec<(&'static str, String)> {
    vec![
        ("rule", row.rule.clone()),
        ("kpi", row.kpi.to_string()),
        (
            if row.scope_kind == "person" {
                "person"
            } else {
                "shop"
            },
            row.scope_id.clone(),
        ),
        ("period", row.period.clone()),
        ("severity", severity.to_string()),
    ]
}

/// True when every matcher of the silence equals one of the labels.
pub fn silenced_by(silence: &Silence, labels: &[(&str, String)]) -> bool {
    !silence.matchers.is_empty()
        && silence
            .matchers
            .iter()
            .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
}

fn instant(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// The notice an alert's row gives.
pub fn notice(settings: &Settings, rules: &Rules, row: &AlertRow, at: i64) -> Option<AlertNotice> {
    let spec = settings.catalogue.get(&row.kpi)?;
    let rule = rules.rule(&row.rule);
    let state = parse_state(&row.state);
    Some(AlertNotice {
        rule: row.rule.clone(),
        kpi: KpiLabel::of(spec),
        period: parse_period(&row.period)?,
        period_label: row.period_label.clone(),
        shop: (row.scope_kind == "shop").then(|| row.scope_id.clone()),
        person: (row.scope_kind == "person").then(|| row.scope_id.clone()),
        state,
        severity: rule
            .map(|r| r.severity.clone())
            .unwrap_or_else(|| "warning".into()),
        condition: rule
            .map(|r| r.condition.as_str())
            .unwrap_or(Condition::BelowTarget.as_str())
            .to_string(),
        reading: row.reading,
        starts_at: instant(row.started_at.unwrap_or(row.since)),
        ends_at: (state == AlertState::Resolved).then(|| instant(at)),
    })
}

/// Decides the transitions and notifications of one evaluation at `at`
/// (Unix seconds of the evaluated instant) from the stored alerts.
pub fn decide(
    settings: &Settings,
    rules: &Rules,
    observations: &[Observation],
    at: i64,
    stored: Vec<AlertRow>,
    silences: &[Silence],
) -> (Decisions, Vec<Transition>) {
    let alerts = rules;
    let mut stored: HashMap<(String, String, String, String), AlertRow> = stored
        .into_iter()
        .map(|r| {
            (
                (
                    r.rule.clone(),
                    r.scope_kind.clone(),
                    r.scope_id.clone(),
                    r.kpi.to_string(),
                ),
                r,
            )
        })
        .collect();
    let mut decisions = Decisions::default();
    let mut transitions = Vec::new();
    // (scope, channel) → alerts to notify there.
    let mut groups: BTreeMap<(Scope, String), Vec<usize>> = BTreeMap::new();
    let repeat = alerts.repeat_interval.num_seconds();

    for obs in observations {
        let (Some(breach), Some(rule)) = (obs.breach, alerts.rule(&obs.rule)) else {
            continue;
        };
        let key = (
            obs.rule.clone(),
            obs.scope.kind().to_string(),
            obs.scope.id().to_string(),
            obs.kpi.clone(),
        );
        let mut row = stored.remove(&key).unwrap_or_else(|| AlertRow {
            rule: key.0.clone(),
            scope_kind: key.1.clone(),
            scope_id: key.2.clone(),
            kpi: key.3.as_str().into(),
            state: AlertState::Inactive.as_str().into(),
            since: at,
            ..Default::default()
        });
        let from = parse_state(&row.state);
        row.period = obs.period.as_str().into();
        row.period_label = obs.period_label.clone();
        row.reading = obs.reading;
        row.evaluated_at = at;
        let (to, notify) = if breach {
            row.breaches += 1;
            match from {
                AlertState::Firing => {
                    let due = row.last_notified_at.is_none_or(|t| at - t >= repeat);
                    (AlertState::Firing, due)
                }
                _ if row.breaches >= i64::from(rule.for_evaluations) => (AlertState::Firing, true),
                _ => (AlertState::Pending, false),
            }
        } else {
            row.breaches = 0;
            match from {
                AlertState::Firing => (AlertState::Resolved, alerts.send_resolved),
                AlertState::Pending => (AlertState::Inactive, false),
                other => (other, false),
            }
        };
        row.state = to.as_str().into();
        let position = decisions.alerts.len();
        if to != from {
            row.since = at;
            if to == AlertState::Firing {
                row.started_at = Some(at);
            }
            decisions
                .history
                .push((position, from.as_str().into(), to.as_str().into()));
            transitions.push(Transition {
                rule: obs.rule.clone(),
                kpi: obs.kpi.clone(),
                scope: obs.scope.clone(),
                period: obs.period,
                period_label: obs.period_label.clone(),
                from,
                to,
                value: obs.reading.measure.value,
                threshold: obs.reading.threshold,
            });
        }
        if notify {
            row.last_notified_at = Some(at);
        }
        let is_alertmanager = |name: &String| {
            alerts
                .channel(name)
                .is_some_and(|c| c.kind == "alertmanager")
        };
        let resolved_now = from == AlertState::Firing && to == AlertState::Resolved;
        for channel in &rule.channels {
            // Alertmanager forgets an alert not re-posted within its
            // resolve timeout, so it hears of every firing one each time;
            // and it is always told of the resolve (its own routes decide
            // whether to pass it on).
            let for_alertmanager =
                is_alertmanager(channel) && (to == AlertState::Firing || resolved_now);
            if notify || for_alertmanager {
                groups
                    .entry((obs.scope.clone(), channel.clone()))
                    .or_default()
                    .push(position);
            }
        }
        decisions.alerts.push(row);
    }

    for ((scope, channel), positions) in groups {
        let mut loud = Vec::new();
        let mut quiet = Vec::new();
        for p in positions {
            let row = &decisions.alerts[p];
            let severity = alerts
                .rule(&row.rule)
                .map(|r| r.severity.as_str())
                .unwrap_or("warning");
            let labels = labels(row, severity);
            if silences.iter().any(|s| silenced_by(s, &labels)) {
                quiet.push(p);
            } else {
                loud.push(p);
            }
        }
        for (positions, status) in [(loud, "pending"), (quiet, "silenced")] {
            if positions.is_empty() {
                continue;
            }
            let notices: Vec<AlertNotice> = positions
                .iter()
                .filter_map(|p| notice(settings, rules, &decisions.alerts[*p], at))
                .collect();
            let message = Message::Alerts(AlertGroup {
                scope: scope.id().to_string(),
                alerts: notices,
            });
            decisions.outbox.push(OutboxDraft {
                channel: channel.clone(),
                kind: "alerts".into(),
                scope: format!("{}:{}", scope.kind(), scope.id()),
                alerts: positions,
                message: serde_json::to_string(&message).unwrap_or_default(),
                status: status.into(),
            });
        }
    }
    (decisions, transitions)
}

/// One evaluation as of `at`: observes, decides under the evaluation lock,
/// and writes the state and the notifications to send (see
/// [`super::deliver::deliver_due`]).
pub async fn evaluate(
    settings: &Settings,
    rules: &Rules,
    store: &Store,
    at: DateTime<Utc>,
    owner: &str,
) -> Result<Vec<Transition>, StoreError> {
    let observations = observe(settings, rules, store, at).await?;
    // Silences are the operator's wall-clock time, whatever instant is evaluated.
    let clock = Utc::now().timestamp();
    store
        .decide_alerts(at.timestamp(), clock, owner, |stored, silences| {
            decide(
                settings,
                rules,
                &observations,
                at.timestamp(),
                stored,
                &silences,
            )
        })
        .await
}
