//! The configuration as `kpid check` prints it: credentials hidden.

use super::{Config, ConnectorConfig};
use crate::secrets::redact_url;

/// The configuration as TOML with credentials hidden, for `kpid check`:
/// `is_secret(connector, key)` says which connector options are credentials.
pub fn redacted_toml(
    config: &Config,
    is_secret: impl Fn(&ConnectorConfig, &str) -> bool,
) -> String {
    let mut c = config.clone();
    c.storage.url = redact_url(&c.storage.url);
    let options: Vec<_> = c
        .connectors
        .iter_mut()
        .map(|conn| std::mem::take(&mut conn.options))
        .collect();
    // Connector options are JSON values whose exact numbers serde would print
    // as a private wrapper table, so they go through `toml::Value` instead.
    let mut doc = match toml::Value::try_from(&c) {
        Ok(v) => v,
        Err(e) => return format!("# cannot print the configuration: {e}\n"),
    };
    if let Some(list) = doc.get_mut("connectors").and_then(|v| v.as_array_mut()) {
        for ((table, opts), conn) in list.iter_mut().zip(options).zip(&config.connectors) {
            let redacted = ConnectorConfig {
                options: opts,
                ..conn.clone()
            }
            .redacted_options(|key| is_secret(conn, key));
            if let Some(t) = table.as_table_mut() {
                for (k, v) in redacted {
                    if let Some(v) = json_to_toml(&v) {
                        t.insert(k, v);
                    }
                }
            }
        }
    }
    toml::to_string_pretty(&doc)
        .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

pub(crate) fn json_to_toml(v: &serde_json::Value) -> Option<toml::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => toml::Value::Boolean(*b),
        J::Number(n) => {
            let text = n.to_string();
            match text.parse::<i64>() {
                Ok(i) => toml::Value::Integer(i),
                Err(_) => toml::Value::Float(text.parse().ok()?),
            }
        }
        J::String(s) => toml::Value::String(s.clone()),
        J::Array(a) => toml::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        J::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), json_to_toml(v)?)))
                .collect(),
        ),
    })
}
