//! `GET /health`: liveness plus the database's state, as the platform reports it.
//!
//! The database part is the latest answer of the background probe
//! ([`crate::store::probe`]), which pings the database every second, with its age: a
//! health check polled thousands of times a second does not reach the database each
//! time. A router used without a running server (no probe yet) pings on the spot.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Json;
use crate::state::AppState;
use crate::store::probe::ProbeResult;
use crate::store::Backend;

/// The database part of the health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DatabaseHealth {
    /// `connected` or `unavailable`.
    pub status: &'static str,
    /// The engine.
    pub backend: Backend,
    /// Round-trip of the probe's `SELECT 1` in ms, when connected.
    pub latency_ms: Option<f64>,
    /// How long ago the probe answered, ms (it runs every second).
    pub checked_ms_ago: f64,
}

/// The health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `healthy`, or `degraded` when the database does not answer.
    pub status: &'static str,
    /// The database's state.
    pub database: DatabaseHealth,
    /// Name of the live profile.
    pub profile: String,
    /// Seconds since start.
    pub uptime_seconds: f64,
    /// Server version.
    pub version: &'static str,
    /// RFC 3339 time of the answer.
    pub timestamp: String,
}

/// Liveness and database status (503 when the database did not answer its last probe).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "Database unavailable", body = Health)))]
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let probe = match state.db_probe.latest() {
        Some(p) => p,
        None => state.db_probe.refresh(&state.store).await,
    };
    let ProbeResult { at, outcome } = probe;
    let (code, status, db_status) = if outcome.is_ok() {
        (StatusCode::OK, "healthy", "connected")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded", "unavailable")
    };
    let body = Health {
        status,
        database: DatabaseHealth {
            status: db_status,
            backend: state.store.backend(),
            latency_ms: outcome.ok().map(|d| (d.as_secs_f64() * 1e6).round() / 1e3),
            checked_ms_ago: (at.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        },
        profile: state.profile.current().configured.name.clone(),
        uptime_seconds: (state.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        version: env!("CARGO_PKG_VERSION"),
        timestamp: crate::store::now_rfc3339(),
    };
    (code, Json(body))
}
