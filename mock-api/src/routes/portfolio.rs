//! Portfolio management: `GET /api/portfolio/optimize/{client_id}` (CPU-heavy, as on the
//! platform) and `POST /api/portfolio/rebalance/{client_id}` (a background job).

use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::Extension;
use serde::Serialize;
use utoipa::ToSchema;

use crate::background::JobKind;
use crate::cpu::{CpuBudget, CpuSpent};
use crate::error::{ApiError, Json, Path};
use crate::market;
use crate::optimize::{self, Optimum};
use crate::routes::clients::require_client;
use crate::routes::jobs::JobAccepted;
use crate::state::AppState;

/// The job rebalancing creates.
pub(crate) const REBALANCE_JOB: JobKind = JobKind {
    name: "portfolio_rebalance",
    failure: "worker failed: order routing rejected the rebalance",
    result: rebalance_result,
};

/// What a completed rebalance proposes, from its parameters and a quality in [0, 1).
fn rebalance_result(params: &serde_json::Value, q: f64) -> serde_json::Value {
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    serde_json::json!({
        "trades_proposed": 3 + (q * 9.0) as u32,
        "turnover": r3(0.02 + q * 0.1),
        "tracking_error_before": r3(0.03 + q * 0.04),
        "tracking_error_after": r3(0.005 + q * 0.01),
        "params": params,
    })
}

/// The answer of the optimiser.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Optimization {
    /// The client.
    pub client_id: i64,
    /// `max_sharpe`.
    pub objective: &'static str,
    /// Weights the client holds now.
    pub current_weights: std::collections::BTreeMap<String, f64>,
    /// The best portfolio found.
    pub optimal: Optimum,
}

/// Mean-variance optimisation over the client's holdings (burns the profile's `cpu_ms`).
#[utoipa::path(get, path = "/api/portfolio/optimize/{client_id}", tag = "portfolio",
    params(("client_id" = i64, Path, description = "Client id")),
    responses((status = 200, body = Optimization), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn optimize(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    budget: Option<Extension<CpuBudget>>,
) -> Result<(Extension<CpuSpent>, Json<Optimization>), ApiError> {
    require_client(&state, client_id).await?;
    let holdings = crate::timing::db(state.store.holdings(client_id)).await?;
    let today = chrono::Utc::now().date_naive();
    let mut values = Vec::new();
    let mut tickers = Vec::new();
    for h in &holdings {
        if let Some(t) = market::ticker(&h.ticker) {
            tickers.push(t);
            values.push((
                h.ticker.clone(),
                h.quantity as f64 * market::daily_bar(t, today).close,
            ));
        }
    }
    if tickers.is_empty() {
        // A client with nothing invested is optimised over the load-profile tickers.
        tickers.extend(market::UNIVERSE[..market::LOAD_PROFILE_TICKERS].iter());
    }
    let total: f64 = values.iter().map(|v| v.1).sum();
    let current_weights = values
        .into_iter()
        .map(|(t, v)| {
            (
                t,
                if total > 0.0 {
                    (v / total * 10_000.0).round() / 10_000.0
                } else {
                    0.0
                },
            )
        })
        .collect();
    let budget = budget.map_or(std::time::Duration::ZERO, |Extension(b)| b.0);
    let seed = state.seed ^ client_id as u64;
    let optimal =
        tokio::task::spawn_blocking(move || optimize::optimise(&tickers, today, budget, seed))
            .await
            .map_err(|e| ApiError::internal(&e))?;
    let answer = Json(Optimization {
        client_id,
        objective: "max_sharpe",
        current_weights,
        optimal,
    });
    Ok((Extension(CpuSpent), answer))
}

/// Starts a rebalancing job for a client; poll the status URL.
#[utoipa::path(post, path = "/api/portfolio/rebalance/{client_id}", tag = "portfolio",
    params(("client_id" = i64, Path, description = "Client id")),
    responses((status = 202, body = JobAccepted), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn rebalance(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
) -> Result<(StatusCode, [(HeaderName, String); 1], Json<JobAccepted>), ApiError> {
    require_client(&state, client_id).await?;
    let params = serde_json::json!({"client_id": client_id, "strategy": "target_weights"});
    let job = crate::timing::db(state.jobs.start(
        &state.store,
        &state.profile.current().effective.jobs,
        REBALANCE_JOB,
        Some(client_id),
        params,
    ))
    .await?;
    Ok(JobAccepted::response(&job))
}
