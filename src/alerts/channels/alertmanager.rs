//! Prometheus Alertmanager: `POST {url}/api/v2/alerts` with each alert's
//! labels (`alertname` = rule, `kpi`, `shop` and/or `person`, `period`,
//! `severity`), annotations (summary, description, value, target,
//! threshold, attainment), `startsAt`, and `endsAt` on resolve.
//!
//! Alertmanager resolves an alert that is not re-posted within its
//! `resolve_timeout`; posting the same firing notice again is idempotent
//! (same labels, same `startsAt`), so the engine re-sends while firing.
//! A digest is not an alert: it is not posted (the receipt says so). A test
//! message posts `alertname="KpidTest"` that ends by itself after five minutes.

use super::http::{Answer, Endpoint, Failure, Poster};
use super::render;
use super::Receipt;
use crate::alerts::message::{AlertNotice, AlertState, Message, RenderOptions};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct Alertmanager {
    url: Endpoint,
    poster: Poster,
}

/// The labels that identify an alert in Alertmanager (and in webhook bodies).
pub fn labels(alert: &AlertNotice) -> BTreeMap<&'static str, String> {
    let mut labels = BTreeMap::from([
        ("alertname", alert.rule.clone()),
        ("kpi", alert.kpi.id.clone()),
        ("period", alert.period.as_str().to_string()),
        ("severity", alert.severity.clone()),
    ]);
    if let Some(shop) = &alert.shop {
        labels.insert("shop", shop.clone());
    }
    if let Some(person) = &alert.person {
        labels.insert("person", person.clone());
    }
    labels
}

impl Alertmanager {
    pub fn new(url: Endpoint, poster: Poster) -> Self {
        Alertmanager { url, poster }
    }

    pub async fn send(
        &self,
        channel: &str,
        message: &Message,
        options: &RenderOptions,
    ) -> Result<Receipt, Failure> {
        let alerts = match message {
            Message::Alerts(group) => group.alerts.iter().map(|a| alert(a, options)).collect(),
            Message::Test { channel } => vec![test_alert(channel, options)],
            Message::Digest(d) => {
                return Ok(Receipt {
                    detail: format!(
                        "digest {} not posted: Alertmanager takes alerts, not reports",
                        d.name
                    ),
                })
            }
        };
        let body = Value::Array(alerts);
        self.poster
            .post(
                channel,
                None,
                |client| {
                    let mut url = self.url.url()?;
                    let path = format!("{}/api/v2/alerts", url.path().trim_end_matches('/'));
                    url.set_path(&path);
                    Ok(client.post(url).json(&body))
                },
                |answer: &Answer<'_>| {
                    answer.by_status(|a| {
                        format!("HTTP {} {}", a.status.as_u16(), a.snippet())
                            .trim_end()
                            .to_string()
                    })
                },
            )
            .await
    }
}

fn alert(a: &AlertNotice, options: &RenderOptions) -> Value {
    let language = options.language;
    let mut annotations = BTreeMap::from([
        ("summary", render::summary(a, language)),
        (
            "description",
            format!(
                "{} · {} · {} ({})",
                a.kpi.names(language),
                a.condition,
                a.period.as_str(),
                a.period_label
            ),
        ),
        (
            "value",
            super::format::value(a.reading.measure.value, a.kpi.unit),
        ),
        (
            "target",
            super::format::value(a.reading.measure.target, a.kpi.unit),
        ),
        (
            "threshold",
            super::format::value(a.reading.threshold, a.kpi.unit),
        ),
        (
            "attainment",
            super::format::opt_percent(a.reading.measure.attainment),
        ),
    ]);
    if let Some(url) = dashboard(options) {
        annotations.insert("dashboard", url.to_string());
    }
    let mut v = json!({
        "labels": labels(a),
        "annotations": annotations,
        "startsAt": a.starts_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if a.state == AlertState::Resolved {
        let ends = a.ends_at.unwrap_or_else(chrono::Utc::now);
        v["endsAt"] = Value::String(ends.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    if let Some(url) = dashboard(options) {
        v["generatorURL"] = Value::String(url.to_string());
    }
    v
}

fn test_alert(channel: &str, options: &RenderOptions) -> Value {
    let now = chrono::Utc::now();
    let doc = render::doc(
        &Message::Test {
            channel: channel.to_string(),
        },
        options,
    );
    json!({
        "labels": { "alertname": "KpidTest", "channel": channel, "severity": "info" },
        "annotations": { "summary": doc.title, "description": render::plain(&doc) },
        "startsAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "endsAt": (now + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

fn dashboard(options: &RenderOptions) -> Option<&str> {
    options
        .dashboard_url
        .as_deref()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
}
