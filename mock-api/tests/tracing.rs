//! The request trace layer, alone in its own test binary: tracing caches each callsite's
//! interest for the whole process, and a test in a binary whose other tests emit events
//! from other threads can see a callsite cached as "never" while its own thread's
//! subscriber wants it (the test failed that way, rarely, among the integration tests).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use mock_api::profile::Profile;
use mock_api::state::{AppState, StateOptions};
use mock_api::store::{Store, StoreOptions};
use tower::ServiceExt;

/// The app on the `fast` profile over a fresh in-memory database.
async fn app() -> Router {
    let store = Store::connect("sqlite::memory:", &StoreOptions::default())
        .await
        .expect("in-memory store opens");
    let state = AppState::new(
        store,
        StateOptions {
            profile: Profile::builtin("fast").expect("the fast profile loads"),
            time_scale: 1.0,
            seed: 1,
            admin_token: None,
        },
    );
    mock_api::app::router(state)
}

/// The status of GET `uri` through the router.
async fn get(app: &Router, uri: &str) -> StatusCode {
    let req = Request::get(uri)
        .body(Body::empty())
        .expect("request builds");
    app.clone()
        .oneshot(req)
        .await
        .expect("the router is infallible")
        .status()
}

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
    let router = app().await;
    assert_eq!(get(&router, "/api/clients").await, StatusCode::OK);
    drop(guard);
    let wanted = text();
    assert!(
        wanted.contains("finished processing request") && wanted.contains("/api/clients"),
        "{wanted}"
    );

    log.lock().unwrap().clear();
    let guard = tracing::subscriber::set_default(traced("warn"));
    let router = app().await;
    assert_eq!(get(&router, "/api/clients").await, StatusCode::OK);
    drop(guard);
    assert_eq!(text(), "", "nothing is written at warn");
}
