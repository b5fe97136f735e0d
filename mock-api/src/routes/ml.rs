//! The model endpoints: `GET /api/ml/predict`, `GET /api/ml/performance`,
//! `POST /api/ml/train` (a background job).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::background::JobKind;
use crate::error::{ApiError, Json, Query};
use crate::market;
use crate::routes::jobs::JobAccepted;
use crate::state::AppState;
use crate::store::JobStatus;
use seeding::{fnv1a, mix64};

/// The model version every answer names.
pub(crate) const MODEL_VERSION: &str = "acis-ensemble-2.3.1";

/// The job training creates.
pub(crate) const TRAIN_JOB: JobKind = JobKind {
    name: ModelType::JOB_KIND,
    failure: "worker failed: training diverged",
    result: train_result,
};

/// What a completed training produced, from its parameters and a quality in [0, 1).
fn train_result(params: &serde_json::Value, q: f64) -> serde_json::Value {
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    serde_json::json!({
        "model_version": format!("{MODEL_VERSION}-{}", (q * 1e6) as u32),
        "validation_accuracy": r3(0.55 + q * 0.15),
        "validation_sharpe": r3(0.8 + q * 1.2),
        "params": params,
    })
}

/// Query of `GET /api/ml/predict`.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct PredictQuery {
    /// Ticker symbol, e.g. AAPL.
    pub ticker: String,
}

/// The model's call for one ticker.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Forecast {
    /// `up`, `down` or `flat`.
    pub direction: &'static str,
    /// Expected return over the horizon (fraction).
    pub expected_return: f64,
    /// Price expected at the horizon.
    pub target_price: f64,
    /// Confidence (0..1).
    pub confidence: f64,
    /// Horizon in trading days.
    pub horizon_days: u32,
}

/// The answer of `GET /api/ml/predict`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Prediction {
    /// Ticker symbol.
    pub ticker: String,
    /// Today's price.
    pub current_price: f64,
    /// The forecast.
    pub prediction: Forecast,
    /// Signals that drove it, by name.
    pub signals: std::collections::BTreeMap<&'static str, f64>,
    /// Model that produced it.
    pub model_version: &'static str,
    /// RFC 3339 time of the answer.
    pub generated_at: String,
}

fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A model prediction for a ticker (deterministic for a ticker and day).
#[utoipa::path(get, path = "/api/ml/predict", tag = "ml", params(PredictQuery),
    responses((status = 200, body = Prediction), (status = 404, description = "Unknown ticker", body = crate::error::ErrorBody),
              (status = 422, description = "Missing ticker", body = crate::error::ErrorBody)))]
pub(crate) async fn predict(Query(q): Query<PredictQuery>) -> Result<Json<Prediction>, ApiError> {
    let symbol = q.ticker.trim().to_ascii_uppercase();
    let info = market::ticker(&symbol)
        .ok_or_else(|| ApiError::not_found(format!("ticker {:?} not found", q.ticker)))?;
    let today = chrono::Utc::now().date_naive();
    let price = market::daily_bar(info, today).close;
    let seed = fnv1a(&[b"predict", symbol.as_bytes(), today.to_string().as_bytes()]);
    let r = |k: u64| unit(mix64(seed ^ k));
    let expected_return = ((r(1) - 0.45) * 0.08 * 10_000.0).round() / 10_000.0;
    let direction = match expected_return {
        x if x > 0.002 => "up",
        x if x < -0.002 => "down",
        _ => "flat",
    };
    let signals = [
        ("momentum", r(2) * 2.0 - 1.0),
        ("mean_reversion", r(3) * 2.0 - 1.0),
        ("sentiment", r(4) * 2.0 - 1.0),
        ("volatility", r(5) * 0.6),
    ]
    .into_iter()
    .map(|(k, v)| (k, (v * 1000.0).round() / 1000.0))
    .collect();
    Ok(Json(Prediction {
        ticker: symbol,
        current_price: price,
        prediction: Forecast {
            direction,
            expected_return,
            target_price: market::round2(price * (1.0 + expected_return)),
            confidence: ((0.55 + 0.4 * r(6)) * 1000.0).round() / 1000.0,
            horizon_days: 5,
        },
        signals,
        model_version: MODEL_VERSION,
        generated_at: crate::store::now_rfc3339(),
    }))
}

/// Metrics of one model type.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelMetrics {
    /// Model type.
    pub model_type: &'static str,
    /// Directional accuracy (0..1).
    pub accuracy: f64,
    /// Precision of `up` calls.
    pub precision: f64,
    /// Recall of `up` calls.
    pub recall: f64,
    /// Back-tested Sharpe ratio.
    pub sharpe_ratio: f64,
    /// Back-tested maximum drawdown (fraction).
    pub max_drawdown: f64,
}

/// The answer of `GET /api/ml/performance`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Performance {
    /// Model in production.
    pub model_version: &'static str,
    /// One entry per model type.
    pub models: Vec<ModelMetrics>,
    /// Training jobs completed so far.
    pub training_jobs_completed: i64,
    /// RFC 3339 time of evaluation.
    pub evaluated_at: String,
}

/// Model performance metrics.
#[utoipa::path(get, path = "/api/ml/performance", tag = "ml", responses((status = 200, body = Performance)))]
pub(crate) async fn performance(
    State(state): State<AppState>,
) -> Result<Json<Performance>, ApiError> {
    let completed = crate::timing::db(
        state
            .store
            .count_jobs(ModelType::JOB_KIND, JobStatus::Completed),
    )
    .await?;
    let models = ModelType::ALL
        .iter()
        .map(|m| {
            let seed = fnv1a(&[b"performance", m.as_str().as_bytes()]);
            let r = |k: u64| (unit(mix64(seed ^ k)) * 1000.0).round() / 1000.0;
            ModelMetrics {
                model_type: m.as_str(),
                accuracy: 0.55 + r(1) * 0.15,
                precision: 0.55 + r(2) * 0.2,
                recall: 0.5 + r(3) * 0.2,
                sharpe_ratio: 0.8 + r(4) * 1.2,
                max_drawdown: 0.08 + r(5) * 0.12,
            }
        })
        .map(|mut m| {
            for v in [
                &mut m.accuracy,
                &mut m.precision,
                &mut m.recall,
                &mut m.sharpe_ratio,
                &mut m.max_drawdown,
            ] {
                *v = (*v * 1000.0).round() / 1000.0;
            }
            m
        })
        .collect();
    Ok(Json(Performance {
        model_version: MODEL_VERSION,
        models,
        training_jobs_completed: completed,
        evaluated_at: crate::store::now_rfc3339(),
    }))
}

/// The strategies a model can be trained for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ModelType {
    /// Growth.
    Growth,
    /// Value.
    Value,
    /// Dividend.
    Dividend,
    /// Momentum.
    Momentum,
}

impl ModelType {
    /// Every model type.
    pub(crate) const ALL: [Self; 4] = [Self::Growth, Self::Value, Self::Dividend, Self::Momentum];
    /// The job kind training creates.
    pub(crate) const JOB_KIND: &'static str = "ml_train";

    /// The wire spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Growth => "growth",
            Self::Value => "value",
            Self::Dividend => "dividend",
            Self::Momentum => "momentum",
        }
    }
}

/// Body of `POST /api/ml/train`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TrainRequest {
    /// Strategy to train.
    pub model_type: ModelType,
    /// Days of history to learn from (the platform uses 30, 60, 90 or 180; 1..=3650 accepted).
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub lookback_days: u32,
}

/// Starts a training job; poll the status URL.
#[utoipa::path(post, path = "/api/ml/train", tag = "ml", request_body = TrainRequest,
    responses((status = 202, body = JobAccepted), (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
              (status = 422, description = "Invalid field", body = crate::error::ErrorBody)))]
pub(crate) async fn train(
    State(state): State<AppState>,
    Json(req): Json<TrainRequest>,
) -> Result<
    (
        StatusCode,
        [(axum::http::HeaderName, String); 1],
        Json<JobAccepted>,
    ),
    ApiError,
> {
    if !(1..=3650).contains(&req.lookback_days) {
        return Err(ApiError::invalid(format!(
            "lookback_days: {} is out of range (expected 1..=3650)",
            req.lookback_days
        )));
    }
    let params =
        serde_json::json!({"model_type": req.model_type, "lookback_days": req.lookback_days});
    let job = crate::timing::db(state.jobs.start(
        &state.store,
        &state.profile.current().effective.jobs,
        TRAIN_JOB,
        None,
        params,
    ))
    .await?;
    Ok(JobAccepted::response(&job))
}
