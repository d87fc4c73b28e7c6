//! Prometheus metrics, exposed on `/metrics` in the text format. Counters
//! follow the `*_total` convention; connector series are labelled by connector, snapshot series by shop.

use crate::ids::ShopId;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabel {
    pub connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShopLabel {
    pub shop: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabel {
    version: String,
}

type Seconds = Gauge<f64, AtomicU64>;

/// Every metric kpid exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub runs: Family<ConnectorLabel, Counter>,
    pub failures: Family<ConnectorLabel, Counter>,
    pub records: Family<ConnectorLabel, Counter>,
    pub rejects: Family<ConnectorLabel, Counter>,
    pub duration: Family<ConnectorLabel, Histogram, fn() -> Histogram>,
    pub last_success: Family<ConnectorLabel, Seconds>,
    pub snapshot_last_success: Family<ShopLabel, Seconds>,
    pub snapshot_lag: Family<ShopLabel, Seconds>,
    pub takeovers: Counter,
    /// Scheduled snapshot passes, and the shops they computed: the shops
    /// due at one instant share one pass.
    pub snapshot_passes: Counter,
    pub snapshot_pass_shops: Counter,
    pub alerts_sent: Family<ChannelLabel, Counter>,
    pub alert_delivery_failures: Family<ChannelLabel, Counter>,
    /// Alerts by state (pending, firing, resolved) after the last evaluation.
    pub alerts: Family<StateLabel, Gauge>,
    /// Shops whose snapshot lag is reported, and when the process started
    /// (the lag before a shop's first success).
    shops: Vec<ShopLabel>,
    started: f64,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

impl Metrics {
    pub fn new(shops: &[ShopId], started: f64) -> Self {
        let mut r = Registry::default();
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            runs: Family::default(),
            failures: Family::default(),
            records: Family::default(),
            rejects: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            last_success: Family::default(),
            snapshot_last_success: Family::default(),
            snapshot_lag: Family::default(),
            takeovers: Counter::default(),
            snapshot_passes: Counter::default(),
            snapshot_pass_shops: Counter::default(),
            alerts_sent: Family::default(),
            alert_delivery_failures: Family::default(),
            alerts: Family::default(),
            shops: shops
                .iter()
                .map(|s| ShopLabel {
                    shop: s.to_string(),
                })
                .collect(),
            started,
        };
        r.register(
            "kpid_connector_runs",
            "Connector runs finished",
            m.runs.clone(),
        );
        r.register(
            "kpid_connector_failures",
            "Connector runs that failed",
            m.failures.clone(),
        );
        r.register(
            "kpid_connector_records",
            "Records read by connectors",
            m.records.clone(),
        );
        r.register(
            "kpid_connector_rejects",
            "Records rejected by connectors",
            m.rejects.clone(),
        );
        r.register(
            "kpid_connector_run_duration_seconds",
            "Duration of connector runs",
            m.duration.clone(),
        );
        r.register(
            "kpid_connector_last_success_timestamp_seconds",
            "Unix time of each connector's last successful run",
            m.last_success.clone(),
        );
        r.register(
            "kpid_snapshot_last_success_timestamp_seconds",
            "Unix time of each shop's last successful snapshot job",
            m.snapshot_last_success.clone(),
        );
        r.register(
            "kpid_snapshot_lag_seconds",
            "Seconds since each shop's last successful snapshot job",
            m.snapshot_lag.clone(),
        );
        r.register(
            "kpid_job_takeovers",
            "Ticks taken over after another replica's lease expired",
            m.takeovers.clone(),
        );
        r.register(
            "kpid_snapshot_passes",
            "Scheduled snapshot passes; the shops due at one instant share one",
            m.snapshot_passes.clone(),
        );
        r.register(
            "kpid_snapshot_pass_shops",
            "Shops computed by the scheduled snapshot passes",
            m.snapshot_pass_shops.clone(),
        );
        r.register(
            "kpid_alerts_sent",
            "Notifications delivered, by channel",
            m.alerts_sent.clone(),
        );
        r.register(
            "kpid_alert_delivery_failures",
            "Notifications a channel failed to deliver after its retries",
            m.alert_delivery_failures.clone(),
        );
        r.register(
            "kpid_alerts",
            "Alerts by state after the latest evaluation",
            m.alerts.clone(),
        );
        let build = Family::<BuildLabel, Gauge>::default();
        build
            .get_or_create(&BuildLabel {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        r.register("kpid_build_info", "kpid version", build);
        *m.registry.lock().expect("fresh mutex") = r;
        m
    }

    pub fn connector(name: &str) -> ConnectorLabel {
        ConnectorLabel {
            connector: name.to_string(),
        }
    }

    /// The text exposition, with lag gauges brought up to date.
    pub fn render(&self, now: f64) -> String {
        // Lag is derived at scrape time so it keeps growing while nothing succeeds.
        for shop in &self.shops {
            let last = self.snapshot_last_success.get_or_create(shop).get();
            let since = if last > 0.0 { last } else { self.started };
            self.snapshot_lag
                .get_or_create(shop)
                .set((now - since).max(0.0));
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    fn channel(name: &str) -> ChannelLabel {
        ChannelLabel {
            channel: name.to_string(),
        }
    }

    /// A notification delivered through `channel`.
    pub fn alert_sent(&self, channel: &str) {
        let label = Self::channel(channel);
        self.alerts_sent.get_or_create(&label).inc();
        // Exported at 0 beside it, so `increase()` sees the first failure.
        self.alert_delivery_failures.get_or_create(&label).inc_by(0);
    }

    /// A notification `channel` failed to deliver.
    pub fn alert_failed(&self, channel: &str) {
        let label = Self::channel(channel);
        self.alert_delivery_failures.get_or_create(&label).inc();
        self.alerts_sent.get_or_create(&label).inc_by(0);
    }

    /// Sets the gauge of alerts by state.
    pub fn alert_states(&self, counts: &[(&str, i64)]) {
        for (state, n) in counts {
            self.alerts
                .get_or_create(&StateLabel {
                    state: state.to_string(),
                })
                .set(*n);
        }
    }

    /// Records a scheduled snapshot pass over `shops` shops.
    pub fn snapshot_pass(&self, shops: usize) {
        self.snapshot_passes.inc();
        self.snapshot_pass_shops.inc_by(shops as u64);
    }

    /// Records a successful snapshot job of a shop.
    pub fn snapshot_done(&self, shop: &str, at: f64) {
        let label = ShopLabel {
            shop: shop.to_string(),
        };
        self.snapshot_last_success.get_or_create(&label).set(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_series_are_labelled_by_channel_and_state() {
        let m = Metrics::new(&[], 0.0);
        m.alert_sent("ops");
        m.alert_failed("pager");
        m.alert_states(&[("firing", 2), ("pending", 0)]);
        let text = m.render(1.0);
        for line in [
            "kpid_alerts_sent_total{channel=\"ops\"} 1",
            "kpid_alerts_sent_total{channel=\"pager\"} 0",
            "kpid_alert_delivery_failures_total{channel=\"pager\"} 1",
            "kpid_alert_delivery_failures_total{channel=\"ops\"} 0",
            "kpid_alerts{state=\"firing\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
        }
    }
}
