//! The run's statistics at one instant, as plain immutable data: what every sink
//! (console, CSV, JSON, HTML, web UI) and every verdict reads.

use std::time::SystemTime;

use super::aggregator::Aggregator;
use super::history::History;
use super::request_stats::RequestStats;

/// One kind of error of one row: Locust's failures table line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorStats {
    /// HTTP method.
    pub method: String,
    /// Stats name.
    pub name: String,
    /// The error string (names the failure kind).
    pub error: String,
    /// How many times it happened.
    pub occurrences: u64,
    /// First time seen.
    pub first_seen: SystemTime,
    /// Last time seen.
    pub last_seen: SystemTime,
}

/// Sorts errors in Locust's error report order: first seen, then name, method, error.
pub fn sort_errors(errors: &mut [ErrorStats]) {
    errors.sort_by(|a, b| {
        (a.first_seen, &a.name, &a.method, &a.error).cmp(&(
            b.first_seen,
            &b.name,
            &b.method,
            &b.error,
        ))
    });
}

/// The run's statistics at one instant: plain data shared by every sink
/// (`Arc<Snapshot>`), so that console, CSV, JSON and HTML always agree.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Start of the run (or of the last stats reset).
    pub start: SystemTime,
    /// When the snapshot was taken; current rates are computed against it.
    pub taken_at: SystemTime,
    /// Users running.
    pub user_count: u32,
    /// One row per (method, name), sorted by name, then method.
    pub rows: Vec<RequestStats>,
    /// Every request merged; method empty, name `Aggregated`.
    pub aggregated: RequestStats,
    /// Errors in the order they were first seen (Locust's error report order).
    pub errors: Vec<ErrorStats>,
    /// One aggregated history row per second, plus one per row with full history.
    pub history: History,
}

impl Snapshot {
    /// A snapshot with no requests, taken at `start`.
    pub fn empty(start: SystemTime) -> Self {
        Aggregator::new(start).snapshot(start, 0)
    }

    /// The row for `method` and `name`, if any request of it was recorded.
    pub fn row(&self, method: &str, name: &str) -> Option<&RequestStats> {
        self.rows
            .iter()
            .find(|r| r.method == method && r.name == name)
    }
}
