//! Progress of a long ingest (a backfill over months): a bar on a terminal,
//! a log line every few seconds otherwise, or nothing (scheduled runs, which
//! log a summary when they end).
//!
//! A [`Progress`] is owned by the connector's sink:
//! committed batches advance the record count, and finished slices (days,
//! weeks, pages: whatever the connector announced as its total) advance the
//! bar. Everything goes to stderr, so stdout keeps the plain summary.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often log mode reports, at most.
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Redraws of the bar per second, at most (the bar redraws at most every 100 ms).
const BAR_HZ: u8 = 10;

/// Progress reporting for one connector run; cheap to clone (clones share it).
#[derive(Clone, Default)]
pub struct Progress {
    inner: Option<Arc<Shared>>,
}

struct Shared {
    connector: String,
    kind: Kind,
    finished: AtomicBool,
}

enum Kind {
    Bar {
        bar: ProgressBar,
        records: Arc<AtomicU64>,
    },
    Log(Mutex<LogMeter>),
}

impl Progress {
    /// No reporting at all.
    pub fn off() -> Self {
        Progress::default()
    }

    /// A bar when stderr is a terminal, log lines every [`LOG_INTERVAL`] otherwise.
    pub fn auto(connector: &str) -> Self {
        if std::io::stderr().is_terminal() {
            Progress::bar(connector)
        } else {
            Progress::log(connector, LOG_INTERVAL)
        }
    }

    /// A bar on stderr: connector, records, records/s, elapsed, and once a
    /// total is known, a bar over it.
    pub fn bar(connector: &str) -> Self {
        let records = Arc::new(AtomicU64::new(0));
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(BAR_HZ))
            .with_prefix(connector.to_string())
            .with_finish(ProgressFinish::AndClear);
        bar.set_style(style(&records, false));
        bar.enable_steady_tick(Duration::from_millis(1000 / BAR_HZ as u64));
        set_active(Some(&bar));
        Progress::from_kind(connector, Kind::Bar { bar, records })
    }

    /// A `tracing` info line at most every `interval` (and at the first
    /// commit), and one when the run ends.
    pub fn log(connector: &str, interval: Duration) -> Self {
        let meter = LogMeter::new(Instant::now(), interval);
        Progress::from_kind(connector, Kind::Log(Mutex::new(meter)))
    }

    fn from_kind(connector: &str, kind: Kind) -> Self {
        Progress {
            inner: Some(Arc::new(Shared {
                connector: connector.to_string(),
                kind,
                finished: AtomicBool::new(false),
            })),
        }
    }

    /// Announces `n` more slices of work (days, weeks, files...).
    pub fn add_total(&self, n: u64) {
        let Some(s) = &self.inner else { return };
        match &s.kind {
            Kind::Bar { bar, records } => {
                if bar.length().is_none() {
                    bar.set_length(n);
                    bar.set_style(style(records, true));
                } else {
                    bar.inc_length(n);
                }
            }
            Kind::Log(m) => lock(m).add_total(n),
        }
    }

    /// `n` slices are done.
    pub fn step(&self, n: u64) {
        let Some(s) = &self.inner else { return };
        match &s.kind {
            Kind::Bar { bar, .. } => bar.inc(n),
            Kind::Log(m) => {
                let due = lock(m).step(n, Instant::now());
                if let Some(f) = due {
                    f.log(&s.connector, false);
                }
            }
        }
    }

    /// `n` more records are committed.
    pub fn records(&self, n: u64) {
        let Some(s) = &self.inner else { return };
        match &s.kind {
            // The bar reads the count when it redraws (at most BAR_HZ times a second).
            Kind::Bar { records, .. } => {
                records.fetch_add(n, Ordering::Relaxed);
            }
            Kind::Log(m) => {
                let due = lock(m).records(n, Instant::now());
                if let Some(f) = due {
                    f.log(&s.connector, false);
                }
            }
        }
    }

    /// Ends the report: clears the bar, or logs the final figures. Only the
    /// first call does anything; dropping the last clone finishes too.
    pub fn finish(&self) {
        if let Some(s) = &self.inner {
            s.finish();
        }
    }
}

impl Shared {
    fn finish(&self) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        match &self.kind {
            Kind::Bar { bar, .. } => {
                bar.finish_and_clear();
                set_active(None);
            }
            Kind::Log(m) => {
                let f = lock(m).finish(Instant::now());
                f.log(&self.connector, true);
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.finish();
    }
}

fn lock(m: &Mutex<LogMeter>) -> std::sync::MutexGuard<'_, LogMeter> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bar's look, as wide as the terminal:
/// `shop-a [=====>     ] 12/90 · 48120 records · 9800/s · 00:00:05 · eta 30s`.
fn style(records: &Arc<AtomicU64>, with_total: bool) -> ProgressStyle {
    let template = if with_total {
        "{prefix:.bold} [{wide_bar}] {pos}/{len} · {records} records · {rate} · {elapsed_precise} · eta {eta}"
    } else {
        "{spinner} {prefix:.bold} · {records} records · {rate} · {elapsed_precise}"
    };
    let count = records.clone();
    let per_second = records.clone();
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key(
            "records",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", count.load(Ordering::Relaxed));
            },
        )
        .with_key(
            "rate",
            move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let rate = per_second_of(per_second.load(Ordering::Relaxed), s.elapsed());
                let _ = write!(w, "{rate}/s");
            },
        )
}

fn per_second_of(records: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs < 0.001 {
        0
    } else {
        (records as f64 / secs).round() as u64
    }
}

/// The figures a progress line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Figures {
    pub records: u64,
    pub done: u64,
    pub total: Option<u64>,
    pub elapsed: Duration,
}

impl Figures {
    pub fn per_second(&self) -> u64 {
        per_second_of(self.records, self.elapsed)
    }

    fn log(&self, connector: &str, last: bool) {
        let message = if last {
            "ingest totals"
        } else {
            "ingest progress"
        };
        let elapsed = format!("{:.1}s", self.elapsed.as_secs_f64());
        match self.total {
            Some(total) => tracing::info!(
                connector = %connector,
                records = self.records,
                records_per_s = self.per_second(),
                slices = %format!("{}/{total}", self.done),
                elapsed = %elapsed,
                "{message}"
            ),
            None => tracing::info!(
                connector = %connector,
                records = self.records,
                records_per_s = self.per_second(),
                elapsed = %elapsed,
                "{message}"
            ),
        }
    }
}

/// Log mode's counters and throttle: the first update reports at once, the
/// next ones when `interval` has passed since the last report.
pub(crate) struct LogMeter {
    started: Instant,
    interval: Duration,
    last: Option<Instant>,
    records: u64,
    done: u64,
    total: Option<u64>,
}

impl LogMeter {
    pub fn new(started: Instant, interval: Duration) -> Self {
        LogMeter {
            started,
            interval,
            last: None,
            records: 0,
            done: 0,
            total: None,
        }
    }

    pub fn add_total(&mut self, n: u64) {
        self.total = Some(self.total.unwrap_or(0) + n);
    }

    /// Counts `n` slices done; the figures when a line is due.
    pub fn step(&mut self, n: u64, now: Instant) -> Option<Figures> {
        self.done += n;
        self.due(now)
    }

    /// Counts `n` records committed; the figures when a line is due.
    pub fn records(&mut self, n: u64, now: Instant) -> Option<Figures> {
        self.records += n;
        self.due(now)
    }

    fn due(&mut self, now: Instant) -> Option<Figures> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.interval)
        {
            return None;
        }
        self.last = Some(now);
        Some(self.figures(now))
    }

    /// The final figures, due whatever the throttle says.
    pub fn finish(&mut self, now: Instant) -> Figures {
        self.last = Some(now);
        self.figures(now)
    }

    fn figures(&self, now: Instant) -> Figures {
        Figures {
            records: self.records,
            done: self.done,
            total: self.total,
            elapsed: now.saturating_duration_since(self.started),
        }
    }
}

/// The bar on screen, if any, so log lines can be written above it.
static ACTIVE: Mutex<Option<indicatif::WeakProgressBar>> = Mutex::new(None);

fn set_active(bar: Option<&ProgressBar>) {
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = bar.map(ProgressBar::downgrade);
}

/// Stderr for the log subscriber: while a bar is drawn, each line is written
/// with the bar lifted, so log lines never run into it.
pub struct Stderr;

/// Makes a [`Stderr`]; pass to `tracing_subscriber`'s `with_writer`.
pub fn stderr() -> Stderr {
    Stderr
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = ACTIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(indicatif::WeakProgressBar::upgrade);
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn log_meter_reports_at_once_then_at_most_every_interval() {
        let t0 = Instant::now();
        let mut m = LogMeter::new(t0, Duration::from_secs(5));
        m.add_total(30);

        // The first commit reports, so a slow source shows life at once.
        let first = m.records(700, t0 + ms(200)).expect("first update reports");
        assert_eq!(
            first,
            Figures {
                records: 700,
                done: 0,
                total: Some(30),
                elapsed: ms(200)
            }
        );
        assert_eq!(first.per_second(), 3500);

        // Within five seconds of that line: quiet, but counted.
        assert_eq!(m.step(7, t0 + ms(300)), None);
        assert_eq!(m.records(800, t0 + ms(2_000)), None);
        assert_eq!(m.step(7, t0 + ms(5_199)), None);

        // Five seconds after the last line: the next one, with everything so far.
        let second = m.records(500, t0 + ms(5_200)).expect("due after 5 s");
        assert_eq!(second.records, 2000);
        assert_eq!(second.done, 14);
        assert_eq!(second.total, Some(30));
        assert_eq!(second.elapsed, ms(5_200));
        assert_eq!(second.per_second(), 385); // 2000 / 5.2 s

        // The interval runs from the last line, not from the start.
        assert_eq!(m.step(1, t0 + ms(10_100)), None);
        assert!(m.step(1, t0 + ms(10_200)).is_some());

        // The end always reports, throttle or not.
        let last = m.finish(t0 + ms(10_300));
        assert_eq!(last.records, 2000);
        assert_eq!(last.done, 16);
        assert_eq!(last.elapsed, ms(10_300));
    }

    #[test]
    fn totals_add_up_and_stay_unknown_until_announced() {
        let t0 = Instant::now();
        let mut m = LogMeter::new(t0, ms(0));
        assert_eq!(m.records(10, t0).unwrap().total, None);
        m.add_total(3);
        m.add_total(2);
        // A zero interval reports every update.
        assert_eq!(m.step(1, t0 + ms(1)).unwrap().total, Some(5));
        assert_eq!(m.finish(t0).per_second(), 0, "no time, no rate");
    }

    #[test]
    fn off_and_log_progress_accept_every_call() {
        for p in [Progress::off(), Progress::log("c", Duration::from_secs(60))] {
            p.add_total(2);
            p.records(5);
            p.step(1);
            p.clone().step(1);
            p.finish();
            p.finish();
        }
    }
}
