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

/// The failure text of a request whose connection the target refused.
pub(crate) const CONNECTION_REFUSED: &str = "ConnectionRefusedError: connection refused";
/// The start of the failure text of any other request that could not connect.
pub(crate) const CANNOT_CONNECT: &str = "ConnectionError: cannot connect";

impl ErrorStats {
    /// True when the requests never reached the target: no connection could be made.
    /// Their times are how long the refusal took, not response times.
    pub fn is_connect_failure(&self) -> bool {
        self.error == CONNECTION_REFUSED || self.error.starts_with(CANNOT_CONNECT)
    }
}

impl Snapshot {
    /// How many of `row`'s requests (every request, for Aggregated) never reached the
    /// target because no connection could be made.
    pub fn connect_failures(&self, row: &RequestStats) -> u64 {
        let every_row = row.method.is_empty() && row.name == super::AGGREGATED_NAME;
        self.errors
            .iter()
            .filter(|e| e.is_connect_failure())
            .filter(|e| every_row || (e.method == row.method && e.name == row.name))
            .map(|e| e.occurrences)
            .sum()
    }

    /// `all 1234 requests were refused by 127.0.0.1:18999: is the target running?` while every
    /// request so far failed to connect; `host` names the target when known.
    pub fn unreachable_warning(&self, host: Option<&str>) -> Option<String> {
        let total = self.aggregated.num_requests();
        if total == 0 || self.connect_failures(&self.aggregated) < total {
            return None;
        }
        let refused = self
            .errors
            .iter()
            .all(|e| !e.is_connect_failure() || e.error == CONNECTION_REFUSED);
        let requests = if total == 1 {
            "the one request".to_owned()
        } else {
            format!("all {total} requests")
        };
        let what = match (refused, total == 1) {
            (true, true) => "was refused by",
            (true, false) => "were refused by",
            (false, _) => "could not connect to",
        };
        let target = host.map_or_else(|| "the target".to_owned(), host_and_port);
        Some(format!(
            "{requests} {what} {target}: is the target running?"
        ))
    }
}

/// `127.0.0.1:18999` from `http://127.0.0.1:18999/base`: the URL's authority.
fn host_and_port(host: &str) -> String {
    let rest = host.split_once("://").map_or(host, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}
