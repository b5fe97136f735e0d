//! The page, its style and its script: embedded text served as is, so the UI works
//! offline (nothing is fetched from another origin). Charts are SVGs drawn on the server.

use axum::http::header;
use axum::response::IntoResponse;

/// The page's markup.
const INDEX: &str = include_str!("page.html");
/// The page's style.
const CSS: &str = include_str!("page.css");
/// The page's script: polling, forms, tabs; no drawing.
const SCRIPT: &str = include_str!("page.js");

/// `GET /`.
pub(super) async fn index() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX)
}

/// `GET /static/page.css`.
pub(super) async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

/// `GET /static/page.js`.
pub(super) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}
