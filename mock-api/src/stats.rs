//! Server-side statistics per route: counts, status counts, injected failures by kind and
//! an HdrHistogram of the actual server time (arrival to response written), readable
//! through the admin API and [`crate::server::RunningServer::stats`].
//!
//! Histograms record microseconds with 3 significant digits and saturate at an hour, so
//! a huge value is clamped, never a panic. A snapshot carries each histogram serialised
//! (V2, base64) so a harness can merge it with others exactly.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const HIGHEST_US: u64 = 3_600_000_000;

/// How one request ended, as statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The HTTP status sent, if any (a reset, close, garbage or hang sends none).
    pub status: Option<u16>,
    /// The injected failure's kind label, if one was enacted.
    pub failure: Option<&'static str>,
}

#[derive(Debug)]
struct RouteStats {
    requests: u64,
    statuses: BTreeMap<u16, u64>,
    failures: BTreeMap<&'static str, u64>,
    server_time_us: Histogram<u64>,
}

impl RouteStats {
    fn new() -> Self {
        Self {
            requests: 0,
            statuses: BTreeMap::new(),
            failures: BTreeMap::new(),
            server_time_us: new_histogram(),
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // Constant bounds that satisfy HdrHistogram's rules: this cannot fail.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("constant histogram bounds are valid")
}

/// Statistics of every route, each behind its own lock (held for a few counter updates).
#[derive(Debug)]
pub struct ServerStats {
    routes: BTreeMap<&'static str, Mutex<RouteStats>>,
    since: Mutex<String>,
}

impl ServerStats {
    /// Empty statistics for these route templates.
    pub fn new(routes: &[&'static str]) -> Self {
        Self {
            routes: routes
                .iter()
                .map(|r| (*r, Mutex::new(RouteStats::new())))
                .collect(),
            since: Mutex::new(crate::store::now_rfc3339()),
        }
    }

    /// Counts one request of `route` that took `server_time`.
    pub fn record(&self, route: &str, outcome: Outcome, server_time: Duration) {
        let Some(cell) = self.routes.get(route) else {
            return;
        };
        let us = u64::try_from(server_time.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, HIGHEST_US);
        let mut s = cell.lock().unwrap_or_else(PoisonError::into_inner);
        s.requests += 1;
        if let Some(code) = outcome.status {
            *s.statuses.entry(code).or_default() += 1;
        }
        if let Some(kind) = outcome.failure {
            *s.failures.entry(kind).or_default() += 1;
        }
        s.server_time_us.saturating_record(us);
    }

    /// Forgets everything counted so far.
    pub fn reset(&self) {
        for cell in self.routes.values() {
            *cell.lock().unwrap_or_else(PoisonError::into_inner) = RouteStats::new();
        }
        *self.since.lock().unwrap_or_else(PoisonError::into_inner) = crate::store::now_rfc3339();
    }

    /// A copy of the statistics as plain data.
    pub fn snapshot(&self) -> StatsSnapshot {
        let routes = self
            .routes
            .iter()
            .map(|(route, cell)| {
                let s = cell.lock().unwrap_or_else(PoisonError::into_inner);
                (route.to_string(), RouteSnapshot::of(&s))
            })
            .collect();
        StatsSnapshot {
            since: self
                .since
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            routes,
        }
    }
}

/// Server time percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServerTimeMs {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// One route's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RouteSnapshot {
    /// Requests counted (including ones that ended in a connection fault).
    pub requests: u64,
    /// Responses by HTTP status code.
    pub status_counts: BTreeMap<String, u64>,
    /// Injected failures by kind label.
    pub failures: BTreeMap<String, u64>,
    /// Server time (arrival to response written) percentiles, ms.
    pub server_time_ms: ServerTimeMs,
    /// The server-time histogram in microseconds, HdrHistogram V2 serialised, base64.
    pub histogram: String,
}

/// Why a snapshot's histogram could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum HistogramDecodeError {
    /// Not base64.
    #[error("histogram is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not a V2 histogram.
    #[error("histogram is not HdrHistogram V2: {0:?}")]
    Hdr(hdrhistogram::serialization::DeserializeError),
}

impl RouteSnapshot {
    fn of(s: &RouteStats) -> Self {
        let h = &s.server_time_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let server_time_ms = if h.is_empty() {
            ServerTimeMs::default()
        } else {
            ServerTimeMs {
                mean: (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p95: ms(h.value_at_quantile(0.95)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
            }
        };
        let mut bytes = Vec::new();
        // Serialising into a Vec only fails on an invalid histogram; report it empty then.
        if V2Serializer::new().serialize(h, &mut bytes).is_err() {
            bytes.clear();
        }
        Self {
            requests: s.requests,
            status_counts: s
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            failures: s
                .failures
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            server_time_ms,
            histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The server-time histogram (microseconds) decoded from [`Self::histogram`].
    pub fn decode_histogram(&self) -> Result<Histogram<u64>, HistogramDecodeError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.histogram)?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(HistogramDecodeError::Hdr)
    }
}

/// Every route's statistics since `since`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsSnapshot {
    /// RFC 3339 time of the start or the last reset.
    pub since: String,
    /// By route template (`GET /api/clients/{client_id}`).
    pub routes: BTreeMap<String, RouteSnapshot>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_counts_failures_and_a_mergeable_histogram() {
        let stats = ServerStats::new(&["GET /a", "GET /b"]);
        for ms in 1..=100 {
            stats.record(
                "GET /a",
                Outcome {
                    status: Some(200),
                    failure: None,
                },
                Duration::from_millis(ms),
            );
        }
        stats.record(
            "GET /a",
            Outcome {
                status: None,
                failure: Some("reset"),
            },
            Duration::from_millis(5),
        );
        stats.record(
            "GET /nowhere",
            Outcome {
                status: Some(200),
                failure: None,
            },
            Duration::from_millis(5),
        );
        let snap = stats.snapshot();
        let a = &snap.routes["GET /a"];
        assert_eq!(a.requests, 101);
        assert_eq!(a.status_counts["200"], 100);
        assert_eq!(a.failures["reset"], 1);
        assert!(
            (a.server_time_ms.p50 - 50.0).abs() < 0.1,
            "{:?}",
            a.server_time_ms
        );
        assert!((a.server_time_ms.max - 100.0).abs() < 0.1);
        let h = a.decode_histogram().unwrap();
        assert_eq!(h.len(), 101);
        assert_eq!(snap.routes["GET /b"].requests, 0);
        stats.reset();
        assert_eq!(stats.snapshot().routes["GET /a"].requests, 0);
    }
}
