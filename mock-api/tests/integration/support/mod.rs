//! Shared helpers: profiles built in code, in-process apps, requests through
//! `oneshot`, raw HTTP over TCP (for the tests that watch the wire), and databases per
//! backend. Requests over real connections otherwise go through the shared `test_http`.

pub mod db;
pub mod program;
pub mod raw;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use mock_api::fault::{FailureKind, FailureRule, Trigger};
use mock_api::latency::LatencyDistribution;
use mock_api::profile::Profile;
use mock_api::state::{AppState, StateOptions};
use mock_api::store::{Store, StoreOptions};
use tower::ServiceExt;

/// The built-in `fast` profile: no delay, no failure.
pub fn fast() -> Profile {
    Profile::builtin("fast").expect("the fast profile loads")
}

/// `fast`, except that `route` always fails with `kind` (`every = 1`).
pub fn failing(route: &str, kind: FailureKind) -> Profile {
    let mut p = fast();
    p.name = "failing".to_owned();
    let b = p
        .routes
        .get_mut(route)
        .expect("the route is in the profile");
    b.failures = vec![FailureRule {
        kind,
        trigger: Trigger::Every(1),
    }];
    p.validate().expect("the test profile is valid");
    p
}

/// `fast`, except that `route` takes exactly `ms`.
pub fn fixed_latency(route: &str, ms: f64) -> Profile {
    let mut p = fast();
    let b = p
        .routes
        .get_mut(route)
        .expect("the route is in the profile");
    b.latency = LatencyDistribution::Fixed {
        ms,
        min_ms: None,
        max_ms: None,
    };
    p
}

/// An app over a fresh in-memory database.
pub async fn app(profile: Profile) -> (Router, AppState) {
    let store = Store::connect("sqlite::memory:", &StoreOptions::default())
        .await
        .expect("in-memory store opens");
    let state = AppState::new(
        store,
        StateOptions {
            profile,
            time_scale: 1.0,
            seed: 1,
            admin_token: None,
        },
    );
    (mock_api::app::router(state.clone()), state)
}

/// An answer read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: serde_json::Value,
}

impl Answer {
    /// The `detail` of an error body.
    pub fn detail(&self) -> &str {
        self.json["detail"].as_str().unwrap_or_default()
    }
}

/// Sends one request through the router; `body` is sent as JSON when given.
pub async fn call(app: &Router, method: Method, uri: &str, body: Option<&str>) -> Answer {
    call_with(app, method, uri, body, &[]).await
}

/// [`call`] with extra request headers.
pub async fn call_with(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .expect("request builds");
    let response = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes();
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{uri}: body is not JSON ({e}): {bytes:?}"))
    };
    Answer {
        status,
        headers,
        json,
    }
}

/// GET through the router.
pub async fn get(app: &Router, uri: &str) -> Answer {
    call(app, Method::GET, uri, None).await
}

/// POST JSON through the router.
pub async fn post(app: &Router, uri: &str, body: &str) -> Answer {
    call(app, Method::POST, uri, Some(body)).await
}

/// Waits (bounded: 10 s) until the server has `n` requests in flight.
pub async fn wait_in_flight(server: &mock_api::RunningServer, n: i64) {
    for _ in 0..2000 {
        if server.state().metrics.in_flight().get() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("{n} requests never were in flight together");
}
