//! The platform's routes, one module per area, and the router that serves them.
//!
//! Every template here is one of [`crate::profile::ROUTES`] (a test checks the two lists
//! agree), so each route has a behaviour in every profile.

pub mod clients;
pub mod data;
pub mod health;
pub mod jobs;
pub mod ml;
pub mod portfolio;
pub mod trading;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// (method, path template) of every platform route this module serves.
pub const SERVED: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/api/clients"),
    ("GET", "/api/clients/{client_id}"),
    ("GET", "/api/clients/{client_id}/portfolio"),
    ("GET", "/api/ml/predict"),
    ("GET", "/api/ml/performance"),
    ("POST", "/api/ml/train"),
    ("GET", "/api/portfolio/optimize/{client_id}"),
    ("POST", "/api/portfolio/rebalance/{client_id}"),
    ("POST", "/api/trading/execute"),
    ("GET", "/api/trading/history/{client_id}"),
    ("GET", "/api/data/historical"),
    ("GET", "/api/jobs/{job_id}"),
];

/// The platform's routes (without the behaviour layer).
pub fn platform() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/api/clients", get(clients::list_clients))
        .route("/api/clients/{client_id}", get(clients::get_client))
        .route(
            "/api/clients/{client_id}/portfolio",
            get(clients::get_portfolio),
        )
        .route("/api/ml/predict", get(ml::predict))
        .route("/api/ml/performance", get(ml::performance))
        .route("/api/ml/train", post(ml::train))
        .route(
            "/api/portfolio/optimize/{client_id}",
            get(portfolio::optimize),
        )
        .route(
            "/api/portfolio/rebalance/{client_id}",
            post(portfolio::rebalance),
        )
        .route("/api/trading/execute", post(trading::execute))
        .route("/api/trading/history/{client_id}", get(trading::history))
        .route("/api/data/historical", get(data::historical))
        .route("/api/jobs/{job_id}", get(jobs::get_job))
}

#[cfg(test)]
mod tests {
    #[test]
    fn served_routes_are_exactly_the_profile_routes() {
        let served: Vec<String> = super::SERVED
            .iter()
            .map(|(m, p)| format!("{m} {p}"))
            .collect();
        assert_eq!(served, crate::profile::ROUTES);
    }
}
