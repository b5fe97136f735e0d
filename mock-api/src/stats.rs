//! Server-side statistics per route: counts, status counts, injected failures by kind and
//! an HdrHistogram of the actual server time (arrival to response written), readable
//! through the admin API and [`crate::server::RunningServer::stats`].
//!
//! The delay error of each response whose time the profile alone decided (actual server
//! time minus the sampled latency, see [`DelayError`]) has its own histogram per route:
//! it is how precisely the mock keeps its delays, measured where they are enacted.
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

/// How far from the intended moment a response was written: the mock's own timing error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelayError {
    /// Written this long after the intended moment (the normal case).
    Late(Duration),
    /// Written this long before it (a bug if it ever happens: counted apart).
    Early(Duration),
}

impl DelayError {
    /// The error of a response written at `actual` that was meant for `intended`.
    pub fn between(intended: std::time::Instant, actual: std::time::Instant) -> Self {
        match actual.checked_duration_since(intended) {
            Some(late) => Self::Late(late),
            None => Self::Early(intended.saturating_duration_since(actual)),
        }
    }

    /// Signed seconds (negative: early).
    pub fn seconds(self) -> f64 {
        match self {
            Self::Late(d) => d.as_secs_f64(),
            Self::Early(d) => -d.as_secs_f64(),
        }
    }
}

#[derive(Debug)]
struct RouteStats {
    requests: u64,
    statuses: BTreeMap<u16, u64>,
    failures: BTreeMap<&'static str, u64>,
    server_time_us: Histogram<u64>,
    rejections: BTreeMap<&'static str, u64>,
    queue_wait_us: Histogram<u64>,
    service_us: Histogram<u64>,
    stalled: u64,
    delay_error_us: Histogram<u64>,
    delay_early: u64,
}

impl RouteStats {
    fn new() -> Self {
        Self {
            requests: 0,
            statuses: BTreeMap::new(),
            failures: BTreeMap::new(),
            server_time_us: new_histogram(),
            rejections: BTreeMap::new(),
            queue_wait_us: new_histogram(),
            service_us: new_histogram(),
            stalled: 0,
            delay_error_us: new_histogram(),
            delay_early: 0,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, HIGHEST_US)
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
        let us = micros(server_time);
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

    fn with_route(&self, route: &str, f: impl FnOnce(&mut RouteStats)) {
        if let Some(cell) = self.routes.get(route) {
            f(&mut cell.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// Counts a request of `route` refused before service (`queue_full`, ...).
    pub fn reject(&self, route: &str, reason: &'static str) {
        self.with_route(route, |s| *s.rejections.entry(reason).or_default() += 1);
    }

    /// Records how long a request of `route` waited for a worker (zero: it did not).
    pub fn queue_wait(&self, route: &str, wait: Duration) {
        // The histogram's floor is 1 us: a request served at once counts as 1 us.
        self.with_route(route, |s| s.queue_wait_us.saturating_record(micros(wait)));
    }

    /// Records how long a request of `route` held its worker (the actual service time).
    pub fn service_time(&self, route: &str, service: Duration) {
        self.with_route(route, |s| s.service_us.saturating_record(micros(service)));
    }

    /// Records how far from its intended moment a response of `route` was written.
    pub fn delay_error(&self, route: &str, error: DelayError) {
        self.with_route(route, |s| match error {
            // 0 us is a valid record here: a response on time to the microsecond.
            DelayError::Late(d) => {
                let us = u64::try_from(d.as_micros())
                    .unwrap_or(u64::MAX)
                    .min(HIGHEST_US);
                s.delay_error_us.saturating_record(us);
            }
            DelayError::Early(_) => {
                s.delay_early += 1;
                s.delay_error_us.saturating_record(0);
            }
        });
    }

    /// Counts a response of `route` held by a stall.
    pub fn stalled(&self, route: &str) {
        self.with_route(route, |s| s.stalled += 1);
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
        let mut all_waits = new_histogram();
        let mut all_service = new_histogram();
        let mut all_delay = new_histogram();
        let mut all_early = 0;
        let mut capacity = CapacitySnapshot::default();
        let routes = self
            .routes
            .iter()
            .map(|(route, cell)| {
                let s = cell.lock().unwrap_or_else(PoisonError::into_inner);
                // Same bounds, so adding cannot fail.
                let _ = all_waits.add(&s.queue_wait_us);
                let _ = all_service.add(&s.service_us);
                let _ = all_delay.add(&s.delay_error_us);
                all_early += s.delay_early;
                for (reason, n) in &s.rejections {
                    *capacity.rejections.entry((*reason).to_owned()).or_default() += n;
                }
                capacity.stalled += s.stalled;
                (route.to_string(), RouteSnapshot::of(&s))
            })
            .collect();
        capacity.queue_wait_ms = TimeStatsMs::of(&all_waits);
        capacity.service_time_ms = TimeStatsMs::of(&all_service);
        StatsSnapshot {
            since: self
                .since
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            routes,
            capacity,
            delay_error_us: DelayErrorUs::of(&all_delay, all_early),
        }
    }
}

/// The delay error (actual server time minus the sampled latency) in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DelayErrorUs {
    /// Responses measured (those whose time the profile's delay alone decided: not
    /// stalled, dribbled, hung or ended by a connection fault).
    pub count: u64,
    /// Responses written before their intended moment (counted as 0 in the figures).
    pub early: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

impl DelayErrorUs {
    fn of(h: &Histogram<u64>, early: u64) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let us = |q: f64| h.value_at_quantile(q) as f64;
        Self {
            count: h.len(),
            early,
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: us(0.50),
            p90: us(0.90),
            p99: us(0.99),
            p999: us(0.999),
            max: h.max() as f64,
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
    /// Requests refused before service, by reason (`queue_full`, `queue_timeout`,
    /// `rate_limited`); they are also in `requests` and `status_counts`.
    #[serde(default)]
    pub rejections: BTreeMap<String, u64>,
    /// Time spent waiting for a worker by the requests that got one, ms (all zero
    /// without `capacity.workers`; `count` says how many were measured).
    #[serde(default)]
    pub queue_wait_ms: TimeStatsMs,
    /// The queue-wait histogram in microseconds (HdrHistogram V2, base64), to merge or
    /// to read any percentile.
    #[serde(default)]
    pub queue_wait_histogram: String,
    /// Time a worker was actually held (the sampled service time plus the timer's
    /// overhead, tens of microseconds), ms; zero without `capacity.workers`.
    #[serde(default)]
    pub service_time_ms: TimeStatsMs,
    /// Responses held by a stall.
    #[serde(default)]
    pub stalled: u64,
    /// How precisely the delays were kept: actual server time minus the sampled latency.
    #[serde(default)]
    pub delay_error_us: DelayErrorUs,
    /// The delay-error histogram in microseconds (HdrHistogram V2, base64).
    #[serde(default)]
    pub delay_error_histogram: String,
}

/// A duration's statistics in milliseconds (queue wait: compare `mean` with Erlang C;
/// service time: the worker's actual holding time, timer overhead included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimeStatsMs {
    /// Requests measured.
    pub count: u64,
    /// Mean (the floor is 0.001 ms: a request served at once waited that).
    pub mean: f64,
    /// Standard deviation.
    pub std_dev: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl TimeStatsMs {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            mean: h.mean() / 1000.0,
            std_dev: h.stdev() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// The server's capacity now and since the last reset (all zero without `capacity`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CapacitySnapshot {
    /// Workers configured (0: unlimited).
    pub workers: u32,
    /// Workers busy now.
    pub busy_workers: u32,
    /// Requests waiting for a worker now.
    pub queue_length: u64,
    /// Most workers busy at once (never above `workers`).
    pub max_busy_workers: u32,
    /// Longest the queue has been.
    pub max_queue_length: u64,
    /// Requests that waited in the queue and then got a worker.
    pub served_from_queue: u64,
    /// Workers handed to a waiter that arrived after another still waiting (0: FIFO).
    pub fifo_violations: u64,
    /// Refusals over every route, by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Queue wait over every route, ms.
    pub queue_wait_ms: TimeStatsMs,
    /// Service time (worker held) over every route, ms: the mean service time to put in
    /// Erlang C or `workers / mean` alongside the configured one.
    pub service_time_ms: TimeStatsMs,
    /// Responses held by a stall, every route.
    pub stalled: u64,
    /// The latency multiplier of the degradation now (1: none).
    pub latency_multiplier: f64,
    /// Uptime as the degradation and stall schedule see it (with any advance), ms.
    pub uptime_ms: f64,
    /// Whether a stall is holding responses now.
    pub stalling: bool,
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
            histogram: encode(h),
            rejections: s
                .rejections
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            queue_wait_ms: TimeStatsMs::of(&s.queue_wait_us),
            queue_wait_histogram: encode(&s.queue_wait_us),
            service_time_ms: TimeStatsMs::of(&s.service_us),
            stalled: s.stalled,
            delay_error_us: DelayErrorUs::of(&s.delay_error_us, s.delay_early),
            delay_error_histogram: encode(&s.delay_error_us),
        }
    }

    /// The server-time histogram (microseconds) decoded from [`Self::histogram`].
    pub fn decode_histogram(&self) -> Result<Histogram<u64>, HistogramDecodeError> {
        decode(&self.histogram)
    }

    /// The queue-wait histogram (microseconds) decoded from
    /// [`Self::queue_wait_histogram`].
    pub fn decode_queue_wait_histogram(&self) -> Result<Histogram<u64>, HistogramDecodeError> {
        decode(&self.queue_wait_histogram)
    }
}

/// A histogram as HdrHistogram V2, base64 (empty text if it cannot be serialised, which
/// only an invalid histogram could cause).
fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    if V2Serializer::new().serialize(h, &mut bytes).is_err() {
        bytes.clear();
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str) -> Result<Histogram<u64>, HistogramDecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HistogramDecodeError::Hdr)
}

/// Every route's statistics since `since`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsSnapshot {
    /// RFC 3339 time of the start or the last reset.
    pub since: String,
    /// By route template (`GET /api/clients/{client_id}`).
    pub routes: BTreeMap<String, RouteSnapshot>,
    /// Workers, queue, refusals and stalls (see [`crate::capacity`]).
    #[serde(default)]
    pub capacity: CapacitySnapshot,
    /// The delay error over every route (see [`RouteSnapshot::delay_error_us`]).
    #[serde(default)]
    pub delay_error_us: DelayErrorUs,
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

    #[test]
    fn delay_errors_per_route_and_overall_with_early_ones_apart() {
        let stats = ServerStats::new(&["GET /a", "GET /b"]);
        let t = std::time::Instant::now();
        for us in 0..100_u64 {
            let actual = t + Duration::from_micros(us);
            stats.delay_error("GET /a", DelayError::between(t, actual));
        }
        stats.delay_error(
            "GET /b",
            DelayError::between(t + Duration::from_micros(30), t),
        );
        stats.delay_error("GET /b", DelayError::Late(Duration::from_millis(2)));
        let snap = stats.snapshot();
        let a = &snap.routes["GET /a"].delay_error_us;
        assert_eq!((a.count, a.early), (100, 0));
        assert_eq!((a.p50, a.p99, a.max), (49.0, 98.0, 99.0));
        let b = &snap.routes["GET /b"].delay_error_us;
        assert_eq!((b.count, b.early, b.p50), (2, 1, 0.0));
        assert!((b.max - 2000.0).abs() <= 2.0, "{b:?}");
        let all = &snap.delay_error_us;
        assert_eq!((all.count, all.early), (102, 1));
        assert_eq!(
            DelayError::between(t + Duration::from_micros(30), t).seconds(),
            -30e-6
        );
        assert_eq!(
            decode(&snap.routes["GET /a"].delay_error_histogram)
                .unwrap()
                .len(),
            100
        );
    }
}
