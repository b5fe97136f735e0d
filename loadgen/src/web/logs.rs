//! What the Logs and Exceptions tabs show: loadgen's own log lines (warnings, a run's
//! start and stop, errors) in a bounded ring, and the errors raised outside any request
//! (a run that could not start or finish, a report that could not be written, an error
//! logged by the engine) counted per message, as Locust's exceptions table counts them
//! per traceback.
//!
//! The binary's logger feeds the ring through [`LogRing::layer`]; the web UI's state
//! writes its own lines straight in. Request failures are not here: they are the
//! Failures tab's.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

use crate::stats::unix_seconds_f64;

/// Lines the ring keeps; older ones are dropped first.
pub const LOG_CAPACITY: usize = 500;
/// Distinct exception messages kept; a new one past this is counted under the last.
const EXCEPTION_KINDS: usize = 100;

/// One log line.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogLine {
    /// Unix seconds.
    pub time: f64,
    /// `INFO`, `WARNING` or `ERROR` (Locust's level names).
    pub level: &'static str,
    /// The text.
    pub message: String,
}

/// One kind of exception, with how often it happened.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExceptionRow {
    /// How many times.
    pub count: u64,
    /// The message (Locust's `msg`).
    pub msg: String,
    /// Where it came from (Locust's `traceback`): the part of loadgen that raised it.
    pub traceback: String,
    /// Locust's worker list; always `local` here.
    pub nodes: String,
}

#[derive(Debug, Default)]
struct Inner {
    lines: VecDeque<LogLine>,
    /// Lines dropped from the front so far.
    dropped: u64,
    exceptions: Vec<ExceptionRow>,
}

/// The bounded log and the exceptions table, shared by the logger and the web UI.
#[derive(Debug, Clone, Default)]
pub struct LogRing {
    inner: Arc<Mutex<Inner>>,
}

impl LogRing {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a line, dropping the oldest past [`LOG_CAPACITY`]; an `ERROR` line is
    /// also counted as an exception raised by `source`.
    pub fn push(&self, level: Level, source: &str, message: impl Into<String>) {
        let message = message.into();
        let mut inner = self.lock();
        if level == Level::ERROR {
            count_exception(&mut inner.exceptions, source, &message);
        }
        if inner.lines.len() == LOG_CAPACITY {
            inner.lines.pop_front();
            inner.dropped += 1;
        }
        inner.lines.push_back(LogLine {
            time: unix_seconds_f64(SystemTime::now()),
            level: level_name(level),
            message,
        });
    }

    /// The lines held, oldest first, and how many were dropped before them.
    pub fn lines(&self) -> (Vec<LogLine>, u64) {
        let inner = self.lock();
        (inner.lines.iter().cloned().collect(), inner.dropped)
    }

    /// The exceptions, most frequent first.
    pub fn exceptions(&self) -> Vec<ExceptionRow> {
        let mut rows = self.lock().exceptions.clone();
        rows.sort_by_key(|r| std::cmp::Reverse(r.count));
        rows
    }

    /// A tracing layer that copies every event at INFO or above into the ring.
    pub fn layer(&self) -> LogLayer {
        LogLayer { ring: self.clone() }
    }
}

/// Counts `message` under its row, or starts one (the last row takes the rest once
/// [`EXCEPTION_KINDS`] are held, so a flood of distinct messages stays bounded).
fn count_exception(rows: &mut Vec<ExceptionRow>, source: &str, message: &str) {
    if let Some(row) = rows
        .iter_mut()
        .find(|r| r.msg == message && r.traceback == source)
    {
        row.count += 1;
        return;
    }
    if rows.len() == EXCEPTION_KINDS {
        if let Some(last) = rows.last_mut() {
            last.count += 1;
        }
        return;
    }
    rows.push(ExceptionRow {
        count: 1,
        msg: message.to_owned(),
        traceback: source.to_owned(),
        nodes: "local".to_owned(),
    });
}

/// Locust's (Python logging's) name for a level.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// The tracing layer behind [`LogRing::layer`].
#[derive(Debug, Clone)]
pub struct LogLayer {
    ring: LogRing,
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for LogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // Levels order from ERROR (most severe, the smallest) to TRACE.
        if *meta.level() > Level::INFO {
            return;
        }
        let mut text = Message::default();
        event.record(&mut text);
        self.ring.push(*meta.level(), meta.target(), text.0);
    }
}

/// An event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// Locust's exceptions CSV: `Count,Message,Traceback,Nodes`, in the order given.
pub(crate) fn exceptions_csv(rows: &[ExceptionRow]) -> String {
    crate::sinks::csv::exception_rows_csv(rows.iter().map(|r| {
        [
            r.count.to_string(),
            r.msg.clone(),
            r.traceback.clone(),
            r.nodes.clone(),
        ]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn the_ring_keeps_the_newest_lines_and_counts_what_it_dropped() {
        let ring = LogRing::default();
        for n in 0..LOG_CAPACITY + 7 {
            ring.push(Level::INFO, "test", format!("line {n}"));
        }
        let (lines, dropped) = ring.lines();
        assert_eq!(lines.len(), LOG_CAPACITY);
        assert_eq!(dropped, 7);
        assert_eq!(lines[0].message, "line 7");
        assert_eq!(
            lines.last().unwrap().message,
            format!("line {}", LOG_CAPACITY + 6)
        );
    }

    #[test]
    fn errors_are_counted_per_message_and_source_most_frequent_first() {
        let ring = LogRing::default();
        ring.push(Level::ERROR, "report", "cannot write HTML report r.html");
        ring.push(Level::WARN, "engine", "CPU usage above 90%");
        for _ in 0..3 {
            ring.push(Level::ERROR, "run", "the run failed");
        }
        let rows = ring.exceptions();
        let counts: Vec<(u64, &str)> = rows.iter().map(|r| (r.count, r.msg.as_str())).collect();
        assert_eq!(
            counts,
            [
                (3, "the run failed"),
                (1, "cannot write HTML report r.html")
            ]
        );
        // A warning is a log line, not an exception.
        assert_eq!(ring.lines().0.len(), 5);
        assert_eq!(ring.lines().0[1].level, "WARNING");
        assert_eq!(
            exceptions_csv(&rows),
            "Count,Message,Traceback,Nodes\r\n3,the run failed,run,local\r\n1,cannot write HTML report r.html,report,local\r\n"
        );
        // Distinct messages past the bound are counted, not kept.
        for n in 0..2 * EXCEPTION_KINDS {
            ring.push(Level::ERROR, "flood", format!("error {n}"));
        }
        let rows = ring.exceptions();
        assert_eq!(rows.len(), EXCEPTION_KINDS);
        let total: u64 = rows.iter().map(|r| r.count).sum();
        assert_eq!(total, 4 + 2 * EXCEPTION_KINDS as u64);
    }

    #[test]
    fn the_layer_copies_info_and_above_with_their_fields() {
        let ring = LogRing::default();
        let subscriber = tracing_subscriber::registry().with(ring.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("too fine to keep");
            tracing::info!("Ramping to {} users", 6);
            tracing::warn!(users = 3, "fewer users");
            tracing::error!("cannot bind");
        });
        let (lines, _) = ring.lines();
        let shown: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.level, l.message.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("INFO", "Ramping to 6 users"),
                ("WARNING", "fewer users users=3"),
                ("ERROR", "cannot bind"),
            ]
        );
        assert_eq!(ring.exceptions()[0].msg, "cannot bind");
    }
}
