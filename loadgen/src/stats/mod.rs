//! Request statistics, recorded the way Locust counts them and merged the way
//! HdrHistogram merges.
//!
//! The flow (DESIGN.md, "Recorder"):
//!
//! ```text
//! user task --record--> Shard (one stripe of a StatsHub, locked only by its own users)
//!   Aggregator::collect: swap each stripe with an empty shard, merge outside the lock
//!   Aggregator::snapshot / tick --> Snapshot (plain, immutable data every sink reads)
//! ```
//!
//! Response times are stored in microseconds: exactly for the count, sum, minimum and
//! maximum, and in an [`hdrhistogram::Histogram`] with three significant digits for the
//! percentiles. Tables print milliseconds, as Locust does.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use loadgen::stats::{Aggregator, RequestKey, StatsHub};
//!
//! let start = SystemTime::now();
//! let hub = StatsHub::new(4);
//! let key = RequestKey::new("GET", "/api/clients/[id]");
//! // A user records into its own stripe...
//! let mut shard = hub.shard(7).lock().unwrap_or_else(|e| e.into_inner());
//! shard.record(&key, Duration::from_millis(28), 312, None, start);
//! shard.record(&key, Duration::from_millis(31), 0, Some("HTTPError('503')"), start);
//! drop(shard);
//! // ...and the aggregator turns the stripes into a snapshot once a second.
//! let mut aggregator = Aggregator::new(start);
//! let snapshot = aggregator.tick(&hub, start + Duration::from_secs(1), 1);
//! assert_eq!(snapshot.aggregated.num_requests(), 2);
//! assert_eq!(snapshot.rows[0].num_failures(), 1);
//! assert_eq!(snapshot.errors[0].occurrences, 1);
//! assert_eq!(snapshot.aggregated.percentile_ms(1.0), Some(31.0));
//! ```

mod aggregator;
mod history;
mod per_second;
mod request_log;
mod request_stats;
mod server_timing;
mod shard;
mod snapshot;

pub use aggregator::Aggregator;
pub use history::{History, HistoryRow};
pub use request_log::{LoggedRequest, RequestId, RequestLog, RequestLogData, REQUEST_LOG_HEADER};
pub(crate) use request_stats::add_histogram;
pub use request_stats::{new_histogram, RequestStats, RowTotals, MAX_RECORDED_US};
pub use server_timing::server_timing_app_us;
pub use shard::{Shard, StatsHub};
pub use snapshot::{sort_errors, ErrorStats, Snapshot};
pub(crate) use snapshot::{CANNOT_CONNECT, CONNECTION_REFUSED};

/// The percentiles Locust reports, in its column order.
pub const PERCENTILES_TO_REPORT: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Locust's column titles for [`PERCENTILES_TO_REPORT`].
pub const PERCENTILE_LABELS: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
];

/// The name of the row that merges every other row, as Locust calls it.
pub const AGGREGATED_NAME: &str = "Aggregated";

/// A statistics row's identity: the request method and its stats name
/// (`/api/clients/[id]`).
///
/// Ordered by name, then method: Locust's row order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestKey {
    /// HTTP method, upper case (`GET`); empty for the Aggregated row.
    pub method: String,
    /// The stats name the scenario gives the request.
    pub name: String,
}

impl RequestKey {
    /// Builds a key from a method and a stats name.
    pub fn new(method: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            name: name.into(),
        }
    }
}

impl Ord for RequestKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.name, &self.method).cmp(&(&other.name, &other.method))
    }
}

impl PartialOrd for RequestKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Whole seconds since the Unix epoch (0 for times before it).
pub fn unix_seconds(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Seconds since the Unix epoch as a float (negative before it).
pub fn unix_seconds_f64(t: std::time::SystemTime) -> f64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
pub(crate) mod reference_fixture;
