//! The admin API over real connections: loopback without a token; with a token, only
//! the right bearer token. (Non-loopback peers are covered by the unit tests of
//! `AdminAccess::check`.)

use std::time::Duration;

use mock_api::server::{spawn, ServerConfig};
use test_http::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::support::{self, raw};

async fn status_of(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> u16 {
    let mut request = test_http::client().get(test_http::url(addr, path));
    if let Some(auth) = auth {
        request = request.header(AUTHORIZATION, auth);
    }
    test_http::send(request).await.expect("an answer").status
}

#[tokio::test]
async fn loopback_needs_no_token() {
    let server = spawn(ServerConfig::new(support::fast())).await.unwrap();
    assert_eq!(status_of(server.addr(), "/admin/stats", None).await, 200);
    assert_eq!(status_of(server.addr(), "/admin/profile", None).await, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_a_token_only_the_right_bearer_passes() {
    let mut config = ServerConfig::new(support::fast());
    config.admin_token = Some("letmein".to_owned());
    let server = spawn(config).await.unwrap();
    let addr = server.addr();
    assert_eq!(status_of(addr, "/admin/stats", None).await, 401);
    assert_eq!(
        status_of(addr, "/admin/stats", Some("Bearer nope")).await,
        401
    );
    assert_eq!(
        status_of(addr, "/admin/stats", Some("Bearer letmein")).await,
        200
    );
    // The platform routes never need it.
    assert_eq!(status_of(addr, "/api/clients", None).await, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_profile_is_replaced_at_run_time_and_stats_reset() {
    let server = spawn(ServerConfig::new(support::fast())).await.unwrap();
    let addr = server.addr();
    let mut guide = mock_api::profile::Profile::builtin("guide")
        .unwrap()
        .to_toml();
    guide = guide.replacen("name = \"guide\"", "name = \"guide-copy\"", 1);
    test_http::get(addr, "/api/clients")
        .await
        .expect("an answer");
    let put = test_http::client()
        .put(test_http::url(addr, "/admin/profile"))
        .header(CONTENT_TYPE, "application/toml")
        .body(guide);
    let reply = test_http::send(put).await.expect("an answer");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(server.profile().name, "guide-copy");
    assert_eq!(server.stats().routes["GET /api/clients"].requests, 1);
    let reset = test_http::client().post(test_http::url(addr, "/admin/stats/reset"));
    assert_eq!(test_http::send(reset).await.expect("an answer").status, 204);
    assert_eq!(server.stats().routes["GET /api/clients"].requests, 0);
    server.shutdown().await.unwrap();
}

/// Sends `head` (request line and headers, without the blank line) and `body` raw;
/// the status, head and body of the answer.
async fn exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut bytes = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes();
    bytes.extend_from_slice(body);
    tokio::io::AsyncWriteExt::write_all(&mut stream, &bytes)
        .await
        .unwrap();
    match raw::read_all(&mut stream, Duration::from_secs(10)).await {
        // A server that refuses a body it did not read may reset after its answer.
        raw::Seen::Eof { bytes, .. } | raw::Seen::Error { bytes, .. } if !bytes.is_empty() => {
            let (status, head, body) = raw::parse(&bytes);
            (status, head, String::from_utf8_lossy(&body).into_owned())
        }
        other => panic!("{head}: {other:?}"),
    }
}

#[tokio::test]
async fn every_error_is_json_and_a_declared_oversized_body_is_refused_at_once() {
    let server = spawn(ServerConfig::new(support::fast())).await.unwrap();
    let addr = server.addr();
    let json = |status: u16, head: &str, body: &str, code: &str| {
        assert!(
            head.contains("content-type: application/json"),
            "{status}: {head}"
        );
        let v: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(v["error"], code, "{status}: {body}");
    };
    // Not UTF-8.
    let (status, head, body) = exchange(
        addr,
        "PUT /admin/profile HTTP/1.1\r\nContent-Type: application/toml\r\nContent-Length: 2",
        &[0xff, 0xfe],
    )
    .await;
    assert_eq!(status, 400);
    json(status, &head, &body, "bad_request");
    // Over the admin's 1 MB, declared: refused before a byte of the body is sent.
    for path in ["/admin/profile", "/api/trading/execute"] {
        let method = if path.starts_with("/admin") {
            "PUT"
        } else {
            "POST"
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000"
        );
        let (status, head, body) = exchange(addr, &head, b"").await;
        assert_eq!(status, 413, "{path}");
        json(status, &head, &body, "body_too_large");
        assert!(body.contains("10000000000 bytes"), "{body}");
    }
    // Over the limit without a declared length (chunked): axum's own 413, as JSON.
    let chunk = vec![b'a'; 2 << 20];
    let mut chunked = format!("{:x}\r\n", chunk.len()).into_bytes();
    chunked.extend_from_slice(&chunk);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let (status, head, body) = exchange(
        addr,
        "PUT /admin/profile HTTP/1.1\r\nContent-Type: application/toml\r\nTransfer-Encoding: chunked",
        &chunked,
    )
    .await;
    assert_eq!(status, 413);
    json(status, &head, &body, "body_too_large");
    // Heads hyper refuses before the router sees them (its own answer is an empty 400):
    // a Content-Length that is no number, two that disagree, a bad header or version.
    for (head, why) in [
        (
            "POST /api/ml/train HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: abc",
            "content-length",
        ),
        (
            "POST /api/ml/train HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3",
            "content-length",
        ),
        ("GET /health HTTP/1.1\r\nBad Header: x", "header"),
        ("GET /health HTTP/9.9", "version"),
    ] {
        let (status, answer, body) = exchange(addr, head, b"{}").await;
        assert_eq!(status, 400, "{head:?}: {answer}");
        json(status, &answer, &body, "bad_request");
        assert!(
            body.contains("the request head could not be read") && body.contains(why),
            "{head:?}: {body}"
        );
        assert!(answer.contains("connection: close"), "{answer}");
    }
    // The server still answers afterwards.
    let (status, _, _) = exchange(addr, "GET /health HTTP/1.1", b"").await;
    assert_eq!(status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_response_is_named_and_timed_and_the_log_knows_a_connections_first_request() {
    let mut config = ServerConfig::new(support::fast());
    config.request_log = true;
    let server = spawn(config).await.unwrap();
    let addr = server.addr();
    // A client that keeps its connection alive between the three requests.
    let keep_alive = || {
        test_http::reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let client = keep_alive();
    let ours = test_http::send(client.get(test_http::url(addr, "/health")))
        .await
        .unwrap();
    let theirs = test_http::send(
        client
            .get(test_http::url(addr, "/health"))
            .header("x-request-id", "client-7"),
    )
    .await
    .unwrap();
    let made_up = ours
        .header("x-request-id")
        .expect("an id when none was sent");
    assert!(made_up.starts_with("mock-"), "{made_up}");
    assert_eq!(theirs.header("x-request-id"), Some("client-7"));
    let app_ms = |r: &test_http::Reply| -> f64 {
        let timing = r.header("server-timing").expect("a Server-Timing header");
        let app = timing.split(", ").next().expect("the app timing");
        app.strip_prefix("app;dur=")
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("{timing}"))
    };

    let log = test_http::send(client.get(test_http::url(addr, "/admin/requests")))
        .await
        .unwrap()
        .json();
    let records = log["requests"].as_array().expect("the records");
    assert_eq!(records.len(), 2, "{log}");
    for (record, (reply, id, first)) in records
        .iter()
        .zip([(&ours, made_up, true), (&theirs, "client-7", false)])
    {
        assert_eq!(record["id"], id);
        assert_eq!(record["route"], "GET /health");
        assert_eq!(record["status"], 200);
        assert_eq!(record["new_connection"], first, "{record}");
        let app_us = record["app_us"].as_u64().expect("app_us");
        assert_eq!(app_us as f64 / 1000.0, app_ms(reply), "{record}");
    }
    // A new connection's first request is marked again.
    let fresh = keep_alive();
    test_http::send(fresh.get(test_http::url(addr, "/health")))
        .await
        .unwrap();
    let log = test_http::send(fresh.get(test_http::url(addr, "/admin/requests")))
        .await
        .unwrap()
        .json();
    let firsts: Vec<bool> = log["requests"]
        .as_array()
        .expect("the records")
        .iter()
        .map(|r| r["new_connection"].as_bool().expect("a bool"))
        .collect();
    assert_eq!(firsts, [true, false, false, true], "{log}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_the_request_log_an_id_is_echoed_never_made_up() {
    let server = spawn(ServerConfig::new(support::fast())).await.unwrap();
    let addr = server.addr();
    let plain = test_http::get(addr, "/health").await.unwrap();
    assert!(
        plain.header("server-timing").is_some(),
        "{:?}",
        plain.headers
    );
    assert_eq!(plain.header("x-request-id"), None, "{:?}", plain.headers);
    let named = test_http::send(
        test_http::client()
            .get(test_http::url(addr, "/health"))
            .header("x-request-id", "client-8"),
    )
    .await
    .unwrap();
    assert_eq!(named.header("x-request-id"), Some("client-8"));
    server.shutdown().await.unwrap();
}
