//! Log capture for the secret checks: a test installs a debug-level
//! subscriber writing here, runs a connector, and searches the text for the
//! credentials it configured.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Everything the tracing subscriber writes.
#[derive(Clone, Default)]
pub struct Logs(pub Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Fails the test when any of `secrets` was logged.
    pub fn assert_free_of(&self, secrets: &[&str]) {
        let text = self.text();
        for secret in secrets {
            assert!(!text.contains(secret), "`{secret}` leaked into the logs");
        }
    }

    /// A debug-level subscriber writing here, for `set_default`.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let sink = self.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_writer(move || sink.clone())
            .finish()
    }
}
