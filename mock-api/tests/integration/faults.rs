//! Each failure kind as a raw TCP client sees it, with profiles whose rule fires on
//! every request (`every = 1`), so nothing here depends on chance.

use std::io::ErrorKind;
use std::time::Duration;

use mock_api::fault::FailureKind;
use mock_api::server::{spawn, RunningServer, ServerConfig};

use crate::support::{self, raw, raw::Seen};

const WAIT: Duration = Duration::from_secs(10);

async fn serve(profile: mock_api::profile::Profile) -> RunningServer {
    spawn(ServerConfig::new(profile))
        .await
        .expect("server starts")
}

#[tokio::test]
async fn status_failures_are_json_errors_and_429_says_when_to_retry() {
    let server = serve(support::failing(
        "GET /api/ml/predict",
        FailureKind::Status {
            code: 503,
            retry_after_ms: None,
        },
    ))
    .await;
    let mut s = raw::send(server.addr(), "GET", "/api/ml/predict?ticker=AAPL", None).await;
    let Seen::Eof { bytes, .. } = raw::read_all(&mut s, WAIT).await else {
        panic!("expected a response")
    };
    let (status, head, body) = raw::parse(&bytes);
    assert_eq!(status, 503);
    assert!(head.contains("content-type: application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "injected_failure");
    assert!(
        json["detail"]
            .as_str()
            .unwrap()
            .starts_with("503 Service Unavailable"),
        "{json}"
    );
    let stats = server.stats();
    assert_eq!(
        stats.routes["GET /api/ml/predict"].failures["status_503"],
        1
    );
    assert_eq!(stats.routes["GET /api/ml/predict"].status_counts["503"], 1);
    server.shutdown().await.unwrap();

    let server = serve(support::failing(
        "GET /api/clients",
        FailureKind::Status {
            code: 429,
            retry_after_ms: Some(2500.0),
        },
    ))
    .await;
    let mut s = raw::send(server.addr(), "GET", "/api/clients", None).await;
    let Seen::Eof { bytes, .. } = raw::read_all(&mut s, WAIT).await else {
        panic!("expected a response")
    };
    let (status, head, _) = raw::parse(&bytes);
    assert_eq!(status, 429);
    assert!(head.contains("retry-after: 3"), "{head}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reset_is_a_connection_reset() {
    let server = serve(support::failing("GET /api/clients", FailureKind::Reset)).await;
    let mut s = raw::send(server.addr(), "GET", "/api/clients", None).await;
    match raw::read_all(&mut s, WAIT).await {
        Seen::Error { bytes, kind } => {
            assert_eq!(kind, ErrorKind::ConnectionReset);
            assert!(bytes.is_empty());
        }
        other => panic!("expected a reset, saw {other:?}"),
    }
    assert_eq!(
        server.stats().routes["GET /api/clients"].failures["reset"],
        1
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn close_is_eof_with_no_byte() {
    let server = serve(support::failing(
        "GET /api/clients/{client_id}",
        FailureKind::Close,
    ))
    .await;
    let mut s = raw::send(server.addr(), "GET", "/api/clients/1", None).await;
    match raw::read_all(&mut s, WAIT).await {
        Seen::Eof { bytes, .. } => assert!(bytes.is_empty(), "{bytes:?}"),
        other => panic!("expected EOF, saw {other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_is_non_http_bytes_then_eof() {
    let server = serve(support::failing(
        "GET /api/ml/performance",
        FailureKind::Garbage { bytes: 64 },
    ))
    .await;
    let mut s = raw::send(server.addr(), "GET", "/api/ml/performance", None).await;
    match raw::read_all(&mut s, WAIT).await {
        Seen::Eof { bytes, .. } => {
            assert_eq!(bytes.len(), 64);
            assert!(!bytes.starts_with(b"HTTP/"));
        }
        other => panic!("expected garbage then EOF, saw {other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn hang_sends_nothing_and_shutdown_ends_it() {
    let server = serve(support::failing(
        "GET /health",
        FailureKind::Hang { ms: None },
    ))
    .await;
    let mut s = raw::send(server.addr(), "GET", "/health", None).await;
    match raw::read_all(&mut s, Duration::from_millis(300)).await {
        Seen::Silent { bytes } => assert!(bytes.is_empty()),
        other => panic!("expected silence, saw {other:?}"),
    }
    // A hang "forever" ends at shutdown, and shutdown does not wait for the grace period.
    let report = tokio::time::timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown ends")
        .unwrap();
    assert_eq!(report.connections_abandoned, 0);
    assert!(
        matches!(raw::read_all(&mut s, WAIT).await, Seen::Eof { ref bytes, .. } if bytes.is_empty())
    );
}

#[tokio::test]
async fn dribble_is_a_valid_body_in_many_chunks_over_time() {
    let server = serve(support::failing(
        "GET /api/clients",
        FailureKind::Dribble {
            bytes_per_sec: 4000.0,
        },
    ))
    .await;
    let mut s = raw::send(server.addr(), "GET", "/api/clients", None).await;
    match raw::read_all(&mut s, WAIT).await {
        Seen::Eof {
            bytes,
            chunks,
            elapsed,
        } => {
            let (status, head, body) = raw::parse(&bytes);
            assert_eq!(status, 200);
            assert!(
                head.contains(&format!("content-length: {}", body.len())),
                "{head}"
            );
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["count"], 10);
            // 400 bytes per 100 ms tick: a ~1.7 kB body needs several ticks.
            let ticks = body.len().div_ceil(400);
            assert!(chunks >= 3, "{chunks} chunks");
            assert!(
                elapsed >= Duration::from_millis(100 * (ticks as u64 - 1)),
                "{elapsed:?} for {} bytes",
                body.len()
            );
        }
        other => panic!("expected a dribbled response, saw {other:?}"),
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_failed_trade_is_not_written() {
    for kind in [
        FailureKind::Status {
            code: 500,
            retry_after_ms: None,
        },
        FailureKind::Reset,
    ] {
        let server = serve(support::failing("POST /api/trading/execute", kind.clone())).await;
        let body =
            r#"{"client_id":1,"ticker":"AAPL","quantity":5,"side":"buy","order_type":"market"}"#;
        let mut s = raw::send(server.addr(), "POST", "/api/trading/execute", Some(body)).await;
        let seen = raw::read_all(&mut s, WAIT).await;
        assert!(!matches!(seen, Seen::Silent { .. }), "{kind:?}: {seen:?}");
        assert!(
            server.store().trades(1, 10).await.unwrap().is_empty(),
            "{kind:?} wrote a trade"
        );
        server.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn the_server_time_covers_the_sampled_latency() {
    let server = serve(support::fixed_latency("GET /api/clients", 30.0)).await;
    for _ in 0..3 {
        let mut s = raw::send(server.addr(), "GET", "/api/clients", None).await;
        assert!(matches!(
            raw::read_all(&mut s, WAIT).await,
            Seen::Eof { .. }
        ));
    }
    let route = &server.stats().routes["GET /api/clients"];
    assert_eq!(route.requests, 3);
    let h = route.decode_histogram().unwrap();
    assert_eq!(h.len(), 3);
    assert!(
        h.min() >= 30_000,
        "server time {} us is below the 30 ms latency",
        h.min()
    );
    server.shutdown().await.unwrap();
}
