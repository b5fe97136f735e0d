//! The page, its style and its scripts: embedded text served as is, so the UI works
//! offline (nothing is fetched from another origin). The page's charts are SVG drawn by
//! its own script from `/ui/history`.

use axum::http::header;
use axum::response::IntoResponse;

/// The page's markup.
const INDEX: &str = include_str!("page.html");
/// The page's style.
const CSS: &str = include_str!("page.css");
/// The page's script: polling, forms, tabs.
const SCRIPT: &str = include_str!("page.js");
/// The charts' script: drawing, hover values, zoom.
const CHARTS: &str = include_str!("charts.js");

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

/// `GET /static/charts.js`.
pub(super) async fn charts_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        CHARTS,
    )
}
