//! The whole application router: platform routes behind the behaviour layer, plus the
//! admin API, metrics and the OpenAPI document, which are never delayed or failed.

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{admin, behaviour, error, metrics, openapi, routes, timing};

/// Largest request body the platform routes accept (a trade is ~100 bytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The application; serve it with [`crate::server`] or call it with `oneshot`.
pub fn router(state: AppState) -> Router {
    let platform = routes::platform()
        // route_layer: runs after routing, so MatchedPath names the template.
        .route_layer(behaviour::BehaviourLayer(state.clone()))
        // Outside the behaviour layer: an oversized body is refused before any delay.
        .route_layer(error::DeclaredLengthLimit(BODY_LIMIT));
    let router = Router::new()
        .merge(platform)
        .nest("/admin", admin::router(state.clone()))
        .route("/metrics", get(metrics::handler))
        .route("/openapi.json", get(openapi::handler))
        .fallback(error::not_found_fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(
            // Outermost first: every answer, errors included, carries its Server-Timing
            // and request id; then bodies are bounded before any extractor reads them.
            ServiceBuilder::new()
                .layer(timing::TimingLayer(state.clone()))
                .layer(error::JsonErrorsLayer)
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        );
    // Outermost: trace every request, but only when a subscriber wants tower-http's
    // events. Its span, clock reads and wrapped body cost every request even when the
    // log level drops them all, and a load test's log level is `warn`.
    let router = if request_tracing_enabled() {
        // Injected 5xx are the point of the mock: trace them at debug, not error.
        router.layer(
            TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
    } else {
        router
    };
    router.with_state(state)
}

/// Whether the current subscriber records any of tower-http's request events (all at
/// debug: the span, the request, the response, the failure).
fn request_tracing_enabled() -> bool {
    tracing::enabled!(target: "tower_http::trace::make_span", Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_request", Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_response", Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_failure", Level::DEBUG)
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
