//! Capacity over real connections, judged from the server's own statistics: at most N
//! workers in service, the queue in arrival order, 503 for a full queue and for a queue
//! timeout, 429 with Retry-After from the rate limit, stalls and the degradation.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mock_api::capacity::{Capacity, Degradation, RateLimit, Stall};
use mock_api::server::{spawn, RunningServer, ServerConfig};
use mock_api::stats::StatsSnapshot;

use test_http::Reply;

use crate::support;

const HEALTH: &str = "GET /health";

/// `fast`, with GET /health served in exactly `ms` and the given capacity.
fn profile(ms: f64, capacity: Capacity) -> mock_api::profile::Profile {
    let mut p = support::fixed_latency(HEALTH, ms);
    p.name = "capacity-test".to_owned();
    p.capacity = Some(capacity);
    p.validate().expect("the test profile is valid");
    p
}

async fn start(profile: mock_api::profile::Profile) -> RunningServer {
    let mut config = ServerConfig::new(profile);
    config.shutdown_grace = Duration::from_secs(10);
    spawn(config).await.expect("the server starts")
}

/// One request on its own connection: (status, the whole reply, body as text).
async fn request(
    server: &RunningServer,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, Reply, String) {
    let reply = test_http::send(test_http::request(server.addr(), method, path, body))
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (reply.status, reply.clone(), reply.text())
}

/// Polls the statistics (bounded: 10 s) until `ready` holds.
async fn stats_until(server: &RunningServer, what: &str, ready: impl Fn(&StatsSnapshot) -> bool) {
    for _ in 0..2000 {
        if ready(&server.stats()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never: {what}; stats: {:?}", server.stats().capacity);
}

#[tokio::test]
async fn at_most_n_workers_serve_and_the_rest_wait_their_turn() {
    let service_ms = 1000.0;
    let server = start(profile(
        service_ms,
        Capacity {
            workers: Some(2),
            ..Capacity::default()
        },
    ))
    .await;
    let answers = join_all((0..6).map(|_| request(&server, "GET", "/health", None))).await;
    assert!(answers.iter().all(|(s, _, _)| *s == 200), "{answers:?}");

    let stats = server.stats();
    let c = &stats.capacity;
    assert_eq!(c.workers, 2);
    assert_eq!(
        c.max_busy_workers, 2,
        "never more (nor fewer) than 2 in service: {c:?}"
    );
    assert_eq!(c.served_from_queue, 4, "{c:?}");
    assert_eq!(c.fifo_violations, 0, "{c:?}");
    assert_eq!((c.busy_workers, c.queue_length), (0, 0), "{c:?}");
    // All six were inside at once (2 in service, 4 queued) before any service ended, so
    // the last two to start waited for two whole services minus less than one.
    assert_eq!(c.max_queue_length, 4, "{c:?}");
    let waits = &stats.routes[HEALTH].queue_wait_ms;
    assert_eq!(waits.count, 6);
    let histogram = stats.routes[HEALTH].decode_queue_wait_histogram().unwrap();
    assert_eq!(histogram.len(), 6);
    assert!(waits.max >= service_ms, "{waits:?}");
    // Each held its worker for at least its service time.
    let service = &stats.routes[HEALTH].service_time_ms;
    assert_eq!(service.count, 6);
    assert!(
        service.p50 >= service_ms && service.max >= service_ms,
        "{service:?}"
    );
    // Response time = wait + service: the slowest took about three services.
    assert!(stats.routes[HEALTH].server_time_ms.max >= 2.0 * service_ms);
    assert!(c.rejections.is_empty(), "{c:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_and_a_queue_timeout_answer_503() {
    let server = start(profile(
        1500.0,
        Capacity {
            workers: Some(1),
            queue: Some(1),
            queue_timeout_ms: Some(500.0),
            ..Capacity::default()
        },
    ))
    .await;
    let first = tokio::spawn(test_http::get(server.addr(), "/health"));
    stats_until(&server, "one worker busy", |s| s.capacity.busy_workers == 1).await;
    let second = tokio::spawn(test_http::get(server.addr(), "/health"));
    stats_until(&server, "one request queued", |s| {
        s.capacity.queue_length == 1
    })
    .await;

    // The queue is full: refused at once, while the first is still in service.
    let (status, _, body) = request(&server, "GET", "/health", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"queue_full\""), "{body}");
    let c = server.stats().capacity;
    assert_eq!((c.busy_workers, c.queue_length), (1, 1), "{c:?}");

    // The queued one gives up after its timeout, before the worker frees up.
    let second = second.await.unwrap().expect("an answer");
    assert_eq!(second.status, 503);
    assert!(second.text().contains("\"queue_timeout\""));
    assert_eq!(server.stats().capacity.busy_workers, 1);
    let first = first.await.unwrap().expect("an answer");
    assert_eq!(first.status, 200);

    let stats = server.stats();
    let route = &stats.routes[HEALTH];
    assert_eq!(route.requests, 3);
    assert_eq!(route.status_counts["503"], 2);
    assert_eq!(route.rejections["queue_full"], 1);
    assert_eq!(route.rejections["queue_timeout"], 1);
    assert_eq!(stats.capacity.rejections["queue_full"], 1);
    // Only the request that got a worker has a queue wait.
    assert_eq!(route.queue_wait_ms.count, 1);
    assert_eq!(stats.capacity.max_busy_workers, 1);

    let (_, _, metrics) = request(&server, "GET", "/metrics", None).await;
    for line in [
        "mock_capacity_workers 1",
        "mock_capacity_busy_workers 0",
        "mock_capacity_queue_length 0",
        r#"mock_capacity_rejections_total{reason="queue_full"} 1"#,
        r#"mock_capacity_rejections_total{reason="queue_timeout"} 1"#,
        r#"mock_capacity_rejections_total{reason="rate_limited"} 0"#,
        "mock_capacity_queue_wait_seconds_count 1",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    // Two tokens, then one every 100 s: the third request finds the bucket empty
    // however slowly this test runs.
    let server = start(profile(
        0.0,
        Capacity {
            rate_limit: Some(RateLimit {
                rps: 0.01,
                burst: 2,
            }),
            ..Capacity::default()
        },
    ))
    .await;
    for _ in 0..2 {
        assert_eq!(request(&server, "GET", "/health", None).await.0, 200);
    }
    let (status, reply, body) = request(&server, "GET", "/health", None).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("\"rate_limited\""), "{body}");
    let retry: u64 = reply
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {:?}", reply.headers));
    assert!((1..=100).contains(&retry), "Retry-After: {retry}");
    let stats = server.stats();
    assert_eq!(stats.routes[HEALTH].rejections["rate_limited"], 1);
    assert_eq!(stats.routes[HEALTH].status_counts["429"], 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_admin_stall_holds_responses_until_it_ends() {
    let server = start(support::fast()).await;
    let stall = Duration::from_millis(300);
    let before = Instant::now();
    let (status, _, body) = request(&server, "POST", "/admin/stall", Some(r#"{"ms": 300}"#)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"stalling\""), "{body}");
    let (status, _, _) = request(&server, "GET", "/health", None).await;
    assert_eq!(status, 200);
    // The stall began after `before` and the answer was held until its end.
    assert!(before.elapsed() >= stall, "{:?}", before.elapsed());
    let stats = server.stats();
    assert_eq!(stats.routes[HEALTH].stalled, 1);
    assert_eq!(stats.capacity.stalled, 1);
    assert!(!stats.capacity.stalling);
    // After the stall, nothing is held.
    assert_eq!(request(&server, "GET", "/health", None).await.0, 200);
    assert_eq!(server.stats().capacity.stalled, 1);

    for (bad, want) in [
        (r#"{"ms": -1}"#, 422),
        (r#"{"ms": 1e12}"#, 422),
        (r#"{"ms": 10, "nonsense": 1}"#, 422),
        ("{", 400),
    ] {
        let (status, _, body) = request(&server, "POST", "/admin/stall", Some(bad)).await;
        assert_eq!(status, want, "{bad}: {body}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn degradation_and_the_stall_schedule_follow_the_uptime() {
    // +100 % an hour: after 9 simulated hours a 10 ms service takes 100 ms; a stall is
    // scheduled 9 hours after the start.
    let server = start(profile(
        10.0,
        Capacity {
            degradation: Some(Degradation {
                latency_growth_per_hour: 1.0,
            }),
            stall: vec![Stall {
                at_ms: 9.0 * 3_600_000.0,
                ms: 1000.0,
            }],
            ..Capacity::default()
        },
    ))
    .await;
    assert_eq!(request(&server, "GET", "/health", None).await.0, 200);
    let fresh = server.stats();
    assert!((fresh.capacity.latency_multiplier - 1.0).abs() < 0.01);
    assert_eq!(fresh.capacity.stalled, 0);
    server.reset_stats();

    server.advance_uptime(Duration::from_secs(9 * 3600));
    let stats = server.stats();
    assert!(
        (stats.capacity.latency_multiplier - 10.0).abs() < 0.01,
        "{:?}",
        stats.capacity
    );
    assert!(stats.capacity.stalling, "{:?}", stats.capacity);
    assert_eq!(request(&server, "GET", "/health", None).await.0, 200);
    let stats = server.stats();
    let route = &stats.routes[HEALTH];
    assert!(
        route.server_time_ms.max >= 100.0,
        "{:?}",
        route.server_time_ms
    );
    assert_eq!(route.stalled, 1);

    let (_, _, metrics) = request(&server, "GET", "/metrics", None).await;
    let multiplier: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mock_capacity_latency_multiplier "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no multiplier in {metrics}"));
    assert!((multiplier - 10.0).abs() < 0.01, "{multiplier}");
    assert!(
        metrics.contains("mock_stalled_responses_total 1"),
        "{metrics}"
    );
    server.shutdown().await.unwrap();
}
