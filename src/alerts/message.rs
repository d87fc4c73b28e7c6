//! What a notification says, independent of the channel that carries it.
//!
//! The evaluation side builds these from alert state and KPI values; every
//! channel renders them in its own format and the configured language.

use crate::ids::ShopId;
use crate::kpi::catalogue::{Direction, Unit};
use crate::kpi::KpiSpec;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use crate::config::Language;
// The notice carries the reading whole; it lives below storage, which keeps it.
pub use crate::measure::{Measure, Reading};

/// The state an alert is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }
}

/// The running period a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchPeriod {
    /// Today so far in the shop's zone.
    Today,
    /// Yesterday, complete.
    Day,
    /// Month to date through yesterday.
    Month,
}

impl WatchPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchPeriod::Today => "today",
            WatchPeriod::Day => "day",
            WatchPeriod::Month => "month",
        }
    }
}

/// A KPI as a message names it: alerts and digest lines both carry its id,
/// its names in both languages, and how to show and judge its values (the
/// keys sit in the message itself: `kpi`, `kpi_name_zh`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiLabel {
    #[serde(rename = "kpi")]
    pub id: String,
    #[serde(rename = "kpi_name_zh")]
    pub name_zh: String,
    #[serde(rename = "kpi_name_en")]
    pub name_en: String,
    pub unit: Unit,
    pub direction: Direction,
}

impl KpiLabel {
    /// The label of a catalogue KPI.
    pub fn of(spec: &KpiSpec) -> Self {
        KpiLabel {
            id: spec.id.to_string(),
            name_zh: spec.name_zh.clone(),
            name_en: spec.name_en.clone(),
            unit: spec.unit,
            direction: spec.direction,
        }
    }

    /// Both names, the message's language first: `GMV (成交额)`, `成交额（GMV）`.
    pub fn names(&self, language: Language) -> String {
        let (zh, en) = (&self.name_zh, &self.name_en);
        match language {
            Language::Zh => format!("{zh}（{en}）"),
            Language::En => format!("{en} ({zh})"),
        }
    }
}

/// One alert as it is delivered (a firing or a resolved notice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertNotice {
    /// The rule's name (`alertname` in Alertmanager).
    pub rule: String,
    #[serde(flatten)]
    pub kpi: KpiLabel,
    pub period: WatchPeriod,
    /// The days evaluated, for people: `2026-10-05`, `2026-10-01..2026-10-09`.
    pub period_label: String,
    /// The shop the value belongs to (for a person's alert: none).
    pub shop: Option<String>,
    /// The person, for scorecard KPIs.
    pub person: Option<String>,
    /// `Firing` or `Resolved`.
    pub state: AlertState,
    /// `warning`, `critical`, … as configured.
    pub severity: String,
    /// The rule's condition (`below_target`, `drop`, …).
    pub condition: String,
    /// Its keys sit in the notice itself (`value`, `target`, …).
    #[serde(flatten)]
    pub reading: Reading,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolved (resolved notices only).
    pub ends_at: Option<DateTime<Utc>>,
}

/// The alerts of one scope (a shop or a person) that changed in one
/// evaluation: one message per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertGroup {
    /// `shop` or `person` id the group is about.
    pub scope: String,
    pub alerts: Vec<AlertNotice>,
}

/// One KPI line of a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DigestLine {
    #[serde(flatten)]
    pub kpi: KpiLabel,
    /// Yesterday.
    pub day_value: Option<Decimal>,
    pub day_target: Option<Decimal>,
    pub day_attainment: Option<Decimal>,
    /// Change of yesterday against the day before, as a fraction.
    pub change_previous_day: Option<Decimal>,
    /// Change of yesterday against the same weekday a week earlier.
    pub change_same_day_last_week: Option<Decimal>,
    /// Month to date through yesterday.
    pub month_value: Option<Decimal>,
    /// The full month target.
    pub month_target: Option<Decimal>,
    /// Month to date against the target pro-rated by completed days.
    pub month_attainment: Option<Decimal>,
}

/// A digest for one shop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopDigest {
    pub shop: ShopId,
    pub currency: String,
    /// Yesterday, `YYYY-MM-DD`.
    pub day: String,
    /// `YYYY-MM`, and the days covered (`2026-10-01..2026-10-09`); none on the 1st.
    pub month: String,
    pub month_to_date: Option<String>,
    pub lines: Vec<DigestLine>,
    /// Alerts firing for the shop when the digest was made.
    pub firing: Vec<AlertNotice>,
}

/// A scheduled summary (`[[alerts.digests]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub name: String,
    pub shops: Vec<ShopDigest>,
}

/// Everything a channel may be asked to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Alerts(AlertGroup),
    Digest(Digest),
    /// `kpid alerts test --channel NAME`.
    Test {
        channel: String,
    },
}

/// What every rendering needs besides the message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RenderOptions {
    pub language: Language,
    /// `[alerts] dashboard_url`, linked from messages when set.
    pub dashboard_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Messages wait in the outbox as JSON and webhooks receive them as they
    // are: the KPI's label and the reading keep their keys, in their places.
    const ALERTS: &str = r#"{"type":"alerts","scope":"sh","alerts":[{"rule":"gmv-behind","kpi":"gmv","kpi_name_zh":"成交额","kpi_name_en":"GMV","unit":"money","direction":"up","period":"month","period_label":"2026-10-01..2026-10-09","shop":"sh","person":null,"state":"firing","severity":"critical","condition":"below_target","value":"8000","target":"31000","threshold":"9000","attainment":null,"starts_at":"2026-10-10T01:00:00Z","ends_at":null}]}"#;
    const DIGEST: &str = r#"{"type":"digest","name":"morning","shops":[{"shop":"sh","currency":"CNY","day":"2026-10-09","month":"2026-10","month_to_date":"2026-10-01..2026-10-09","lines":[{"kpi":"refund_rate","kpi_name_zh":"退款率","kpi_name_en":"Refund rate","unit":"percent","direction":"down","day_value":"0.081","day_target":"0.05","day_attainment":"0.6173","change_previous_day":null,"change_same_day_last_week":"-0.1","month_value":null,"month_target":"0.05","month_attainment":null}],"firing":[]}]}"#;

    #[test]
    fn an_alert_message_keeps_its_keys_in_order() {
        let m: Message = serde_json::from_str(ALERTS).unwrap();
        let Message::Alerts(group) = &m else {
            panic!("{m:?}")
        };
        let a = &group.alerts[0];
        assert_eq!((a.kpi.id.as_str(), a.kpi.name_en.as_str()), ("gmv", "GMV"));
        assert_eq!(a.reading.threshold, Some(Decimal::from(9000)));
        assert_eq!(a.reading.measure.attainment, None);
        assert_eq!(serde_json::to_string(&m).unwrap(), ALERTS);
    }

    #[test]
    fn a_digest_message_keeps_its_keys_in_order() {
        let m: Message = serde_json::from_str(DIGEST).unwrap();
        let Message::Digest(d) = &m else {
            panic!("{m:?}")
        };
        let line = &d.shops[0].lines[0];
        assert_eq!(line.kpi.direction, Direction::Down);
        assert_eq!(line.kpi.names(Language::En), "Refund rate (退款率)");
        assert_eq!(serde_json::to_string(&m).unwrap(), DIGEST);
    }
}
