//! The request trace layer, in a test binary of its own, away from the tests that serve
//! requests: tracing caches each callsite's interest for the whole process, and a test
//! in a binary whose other tests emit events from other threads can see a callsite
//! cached as "never" while its own thread's subscriber wants it (the test failed that
//! way, rarely, among the integration tests).

use axum::http::StatusCode;

// The integration tests' helpers; this binary uses two of them.
#[allow(dead_code)]
#[path = "integration/support/mod.rs"]
mod support;

use support::{app, get};

/// The request trace layer is left out unless a subscriber wants its events (it costs
/// every request otherwise); when one does, each request is traced.
#[tokio::test]
async fn requests_are_traced_when_a_subscriber_wants_tower_https_events() {
    /// Appends what the subscriber writes to a shared buffer.
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let traced = |filter: &str| {
        let log = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(move || Shared(log.clone()))
            .with_ansi(false)
            .finish()
    };
    let text = || String::from_utf8_lossy(&log.lock().unwrap()).into_owned();

    let guard = tracing::subscriber::set_default(traced("tower_http=debug"));
    let (router, _) = app(support::fast()).await;
    assert_eq!(get(&router, "/api/clients").await.status, StatusCode::OK);
    drop(guard);
    let wanted = text();
    assert!(
        wanted.contains("finished processing request") && wanted.contains("/api/clients"),
        "{wanted}"
    );

    log.lock().unwrap().clear();
    let guard = tracing::subscriber::set_default(traced("warn"));
    let (router, _) = app(support::fast()).await;
    assert_eq!(get(&router, "/api/clients").await.status, StatusCode::OK);
    drop(guard);
    assert_eq!(text(), "", "nothing is written at warn");
}
