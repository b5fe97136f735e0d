//! The admin API over real connections: loopback without a token; with a token, only
//! the right bearer token. (Non-loopback peers are covered by the unit tests of
//! `AdminAccess::check`.)

use mock_api::server::{spawn, ServerConfig};
use test_http::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::support;

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
