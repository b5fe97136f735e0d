//! Prometheus metrics, every name in this one module: request counts and durations per
//! route template (never the raw path), requests in flight, injected failures, and the
//! capacity's workers, queue, refusals, queue wait and stalls.

use std::sync::{OnceLock, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `http_requests_total{method,route,status}` (the `_total` suffix is added on encoding).
pub const HTTP_REQUESTS: &str = "http_requests";
/// `http_request_duration_seconds{method,route}`.
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
/// `http_requests_in_flight`.
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_requests_in_flight";
/// `mock_injected_failures_total{route,kind}`.
pub const INJECTED_FAILURES: &str = "mock_injected_failures";

/// `mock_capacity_workers`: workers configured (0: unlimited).
pub const CAPACITY_WORKERS: &str = "mock_capacity_workers";
/// `mock_capacity_busy_workers`: workers serving a request now.
pub const CAPACITY_BUSY_WORKERS: &str = "mock_capacity_busy_workers";
/// `mock_capacity_queue_length`: requests waiting for a worker now.
pub const CAPACITY_QUEUE_LENGTH: &str = "mock_capacity_queue_length";
/// `mock_capacity_rejections_total{reason}`: `queue_full`, `queue_timeout`, `rate_limited`.
pub const CAPACITY_REJECTIONS: &str = "mock_capacity_rejections";
/// `mock_capacity_queue_wait_seconds`: time waited for a worker (requests that got one).
pub const CAPACITY_QUEUE_WAIT: &str = "mock_capacity_queue_wait_seconds";
/// `mock_capacity_latency_multiplier`: the degradation's multiplier now (1: none).
pub const CAPACITY_LATENCY_MULTIPLIER: &str = "mock_capacity_latency_multiplier";
/// `mock_stalled_responses_total`: responses held by a stall.
pub const STALLED_RESPONSES: &str = "mock_stalled_responses";

/// `mock_delay_error_seconds`: actual server time minus the sampled latency.
pub const DELAY_ERROR: &str = "mock_delay_error_seconds";

/// Delay-error bucket bounds in seconds: 10 us to 10 ms (the goal is under 100-200 us).
pub const DELAY_ERROR_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01,
];

/// Bucket bounds in seconds: fine around 5-10 ms, wide enough for 30 s.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    7.5, 10.0, 15.0, 20.0, 30.0,
];

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the request counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
    /// HTTP status code.
    pub status: u16,
}

/// Labels of the duration histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
}

/// Labels of the injected-failure counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// Route template.
    pub route: String,
    /// Failure kind label (`status_503`, `reset`, ...).
    pub kind: String,
}

/// Labels of the rejection counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectionLabels {
    /// `queue_full`, `queue_timeout` or `rate_limited`.
    pub reason: String,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS.iter().copied())
}

/// The registry and its metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    failures: Family<FailureLabels, Counter>,
    workers: Gauge,
    busy_workers: Gauge,
    queue_length: Gauge,
    rejections: Family<RejectionLabels, Counter>,
    queue_wait: Histogram,
    latency_multiplier: Gauge<f64, std::sync::atomic::AtomicU64>,
    stalled: Counter,
    delay_error: Histogram,
    routes: Vec<RouteHandles>,
}

/// One profile route's series, looked up once and then shared with the families (a
/// handle is the same counter or histogram the registry encodes). Every request counts
/// in these, and finding a family's series costs two label `String`s and a hash each
/// time; a route's series are still created on its first request only, so the
/// exposition lists the same series as without the handles.
#[derive(Debug)]
struct RouteHandles {
    /// The route key the behaviour layer found (`GET /health`).
    key: &'static str,
    method: &'static str,
    path: &'static str,
    duration: OnceLock<Histogram>,
    /// Counters by status, in the order statuses first occurred (a route sees few).
    requests: RwLock<Vec<(u16, Counter)>>,
}

impl RouteHandles {
    fn new(route: &'static str) -> Option<Self> {
        let (method, path) = route.split_once(' ')?;
        Some(Self {
            key: route,
            method,
            path,
            duration: OnceLock::new(),
            requests: RwLock::new(Vec::new()),
        })
    }

    fn labels(&self) -> RouteLabels {
        RouteLabels {
            method: self.method.to_owned(),
            route: self.path.to_owned(),
        }
    }

    fn counter(&self, status: u16, family: &Family<RequestLabels, Counter>) -> Counter {
        let found = |list: &[(u16, Counter)]| {
            list.iter()
                .find(|(s, _)| *s == status)
                .map(|(_, c)| c.clone())
        };
        if let Some(c) = found(&self.requests.read().unwrap_or_else(PoisonError::into_inner)) {
            return c;
        }
        let mut list = self
            .requests
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = found(&list) {
            return c;
        }
        let c = family
            .get_or_create(&RequestLabels {
                method: self.method.to_owned(),
                route: self.path.to_owned(),
                status,
            })
            .clone();
        list.push((status, c.clone()));
        c
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            duration_histogram,
        );
        let in_flight = Gauge::default();
        let failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            HTTP_REQUESTS,
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        registry.register(
            HTTP_REQUEST_DURATION,
            "Server time from arrival to response written, seconds",
            duration.clone(),
        );
        registry.register(
            HTTP_REQUESTS_IN_FLIGHT,
            "Requests being handled or delayed",
            in_flight.clone(),
        );
        registry.register(
            INJECTED_FAILURES,
            "Failures injected by the live profile, by route and kind",
            failures.clone(),
        );
        let workers = Gauge::default();
        let busy_workers = Gauge::default();
        let queue_length = Gauge::default();
        let rejections = Family::<RejectionLabels, Counter>::default();
        let queue_wait = duration_histogram();
        let latency_multiplier = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        latency_multiplier.set(1.0);
        let stalled = Counter::default();
        registry.register(
            CAPACITY_WORKERS,
            "Workers the live profile allows (0: unlimited)",
            workers.clone(),
        );
        registry.register(
            CAPACITY_BUSY_WORKERS,
            "Workers serving a request",
            busy_workers.clone(),
        );
        registry.register(
            CAPACITY_QUEUE_LENGTH,
            "Requests waiting for a worker",
            queue_length.clone(),
        );
        registry.register(
            CAPACITY_REJECTIONS,
            "Requests refused before service, by reason",
            rejections.clone(),
        );
        for reason in crate::capacity::gate::Rejection::ALL {
            // Present at zero from the start, so rate() works from the first scrape.
            let _ = rejections.get_or_create(&RejectionLabels {
                reason: reason.label().to_owned(),
            });
        }
        registry.register(
            CAPACITY_QUEUE_WAIT,
            "Time requests waited for a worker, seconds",
            queue_wait.clone(),
        );
        registry.register(
            CAPACITY_LATENCY_MULTIPLIER,
            "Latency multiplier of the simulated degradation (1: none)",
            latency_multiplier.clone(),
        );
        registry.register(
            STALLED_RESPONSES,
            "Responses held by a stall",
            stalled.clone(),
        );
        let delay_error = Histogram::new(DELAY_ERROR_BUCKETS.iter().copied());
        registry.register(
            DELAY_ERROR,
            "Actual server time minus the sampled latency (the mock's timing error), seconds",
            delay_error.clone(),
        );
        Self {
            registry,
            delay_error,
            requests,
            duration,
            in_flight,
            failures,
            workers,
            busy_workers,
            queue_length,
            rejections,
            queue_wait,
            latency_multiplier,
            stalled,
            routes: crate::profile::ROUTES
                .iter()
                .filter_map(|r| RouteHandles::new(r))
                .collect(),
        }
    }

    /// Counts a request refused before service.
    pub fn rejected(&self, reason: &str) {
        self.rejections
            .get_or_create(&RejectionLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Observes the time a request waited for a worker.
    pub fn queue_wait(&self, seconds: f64) {
        self.queue_wait.observe(seconds);
    }

    /// Observes a response's delay error (an early one, never expected, counts as 0).
    pub fn delay_error(&self, seconds: f64) {
        self.delay_error.observe(seconds.max(0.0));
    }

    /// Counts a response held by a stall.
    pub fn stalled(&self) {
        self.stalled.inc();
    }

    /// Sets the capacity gauges (read from the live pool when scraped).
    pub fn set_capacity(&self, workers: u32, busy: u32, queued: u64, multiplier: f64) {
        self.workers.set(i64::from(workers));
        self.busy_workers.set(i64::from(busy));
        self.queue_length
            .set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.latency_multiplier.set(multiplier);
    }

    /// Counts an answered request and its duration, by its route key (`GET /health`).
    pub fn observe(&self, route_key: &str, status: Option<u16>, seconds: f64) {
        if let Some(h) = self.routes.iter().find(|h| h.key == route_key) {
            if let Some(status) = status {
                h.counter(status, &self.requests).inc();
            }
            h.duration
                .get_or_init(|| self.duration.get_or_create(&h.labels()).clone())
                .observe(seconds);
            return;
        }
        let (method, route) = route_key.split_once(' ').unwrap_or(("", route_key));
        if let Some(status) = status {
            self.requests
                .get_or_create(&RequestLabels {
                    method: method.to_owned(),
                    route: route.to_owned(),
                    status,
                })
                .inc();
        }
        self.duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts an injected failure.
    pub fn injected(&self, route: &str, kind: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                route: route.to_owned(),
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The in-flight gauge.
    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// The exposition in OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// `GET /metrics`.
pub async fn handler(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> impl axum::response::IntoResponse {
    let pair = state.profile.current();
    let (workers, busy, queued) = pair.pool.as_ref().map_or((0, 0, 0), |p| {
        let (busy, queued) = p.load();
        (p.workers(), busy, queued as u64)
    });
    let multiplier = state.latency_multiplier(&pair.effective, std::time::Instant::now());
    state
        .metrics
        .set_capacity(workers, busy, queued, multiplier);
    (
        [(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_and_labels() {
        let m = Metrics::new();
        m.observe("GET /api/clients/{client_id}", Some(200), 0.006);
        m.injected("/api/clients/{client_id}", "reset");
        m.in_flight().inc();
        let text = m.encode();
        assert!(text.contains(r#"http_requests_total{method="GET",route="/api/clients/{client_id}",status="200"} 1"#), "{text}");
        // 6 ms falls in the 7.5 ms bucket, not the 5 ms one.
        assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/clients/{client_id}"} 0"#), "{text}");
        assert!(text.contains(r#"http_request_duration_seconds_bucket{le="0.0075",method="GET",route="/api/clients/{client_id}"} 1"#), "{text}");
        assert!(text.contains(r#"http_request_duration_seconds_bucket{le="30.0",method="GET",route="/api/clients/{client_id}"} 1"#), "{text}");
        assert!(
            text.contains(
                r#"mock_injected_failures_total{route="/api/clients/{client_id}",kind="reset"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("http_requests_in_flight 1"), "{text}");
    }

    #[test]
    fn route_handles_count_into_the_registry_series() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.observe("GET /health", Some(200), 0.0002);
        }
        m.observe("GET /health", Some(503), 0.02);
        m.observe("GET /health", None, 0.0002);
        // Not a profile route (no handles): counted through the family as before.
        m.observe("GET /nowhere", Some(404), 0.0001);
        let text = m.encode();
        for line in [
            r#"http_requests_total{method="GET",route="/health",status="200"} 3"#,
            r#"http_requests_total{method="GET",route="/health",status="503"} 1"#,
            r#"http_request_duration_seconds_count{method="GET",route="/health"} 5"#,
            r#"http_request_duration_seconds_bucket{le="0.001",method="GET",route="/health"} 4"#,
            r#"http_requests_total{method="GET",route="/nowhere",status="404"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
        // Series appear with their first request only, as without the handles.
        assert!(!text.contains(r#"route="/api/clients""#), "{text}");
        assert_eq!(
            text.matches(r#"_total{method="GET",route="/health""#)
                .count(),
            2
        );
    }
}
