//! The admin API over real connections: loopback without a token; with a token, only
//! the right bearer token. (Non-loopback peers are covered by the unit tests of
//! `AdminAccess::check`.)

use std::time::Duration;

use mock_api::server::{spawn, ServerConfig};

use crate::support::{self, raw};

async fn status_of(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, req.as_bytes())
        .await
        .unwrap();
    match raw::read_all(&mut stream, Duration::from_secs(10)).await {
        raw::Seen::Eof { bytes, .. } => raw::parse(&bytes).0,
        other => panic!("{other:?}"),
    }
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
    let mut s = raw::send(addr, "GET", "/api/clients", None).await;
    assert!(matches!(
        raw::read_all(&mut s, Duration::from_secs(10)).await,
        raw::Seen::Eof { .. }
    ));
    let req = format!(
        "PUT /admin/profile HTTP/1.1\r\nHost: x\r\nContent-Type: application/toml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{guide}",
        guide.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, req.as_bytes())
        .await
        .unwrap();
    let raw::Seen::Eof { bytes, .. } = raw::read_all(&mut stream, Duration::from_secs(10)).await
    else {
        panic!()
    };
    let (status, _, body) = raw::parse(&bytes);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(server.profile().name, "guide-copy");
    assert_eq!(server.stats().routes["GET /api/clients"].requests, 1);
    let mut stream = raw::send(addr, "POST", "/admin/stats/reset", Some("")).await;
    let raw::Seen::Eof { bytes, .. } = raw::read_all(&mut stream, Duration::from_secs(10)).await
    else {
        panic!()
    };
    assert_eq!(raw::parse(&bytes).0, 204);
    assert_eq!(server.stats().routes["GET /api/clients"].requests, 0);
    server.shutdown().await.unwrap();
}
