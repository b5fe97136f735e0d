//! Trading: `POST /api/trading/execute` (a committed trade, or a 4xx saying why not)
//! and `GET /api/trading/history/{client_id}`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Json, Path, Query};
use crate::routes::clients::require_client;
use crate::state::AppState;
use crate::store::{NewTrade, Side, Trade};

/// The largest order the platform accepts.
pub(crate) const MAX_QUANTITY: i64 = 1_000_000;

/// Order types the platform executes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OrderType {
    /// At today's price.
    #[default]
    Market,
}

/// Body of `POST /api/trading/execute`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TradeRequest {
    /// The trading client.
    pub client_id: i64,
    /// Ticker symbol.
    pub ticker: String,
    /// Shares, 1..=1000000.
    pub quantity: i64,
    /// `buy` or `sell`.
    pub side: Side,
    /// `market` (the default).
    // Deserialised so that any other order type is refused; nothing reads it after.
    #[allow(dead_code)]
    #[serde(default)]
    pub order_type: OrderType,
}

/// Executes a market order; the answer is a committed trade.
#[utoipa::path(post, path = "/api/trading/execute", tag = "trading", request_body = TradeRequest,
    responses((status = 200, body = Trade),
              (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
              (status = 404, description = "Unknown client", body = crate::error::ErrorBody),
              (status = 409, description = "Selling more than held", body = crate::error::ErrorBody),
              (status = 422, description = "Invalid field or unknown ticker", body = crate::error::ErrorBody)))]
pub(crate) async fn execute(
    State(state): State<AppState>,
    Json(req): Json<TradeRequest>,
) -> Result<Json<Trade>, ApiError> {
    if !(1..=MAX_QUANTITY).contains(&req.quantity) {
        return Err(ApiError::invalid(format!(
            "quantity: {} is out of range (expected 1..={MAX_QUANTITY})",
            req.quantity
        )));
    }
    let order = NewTrade {
        client_id: req.client_id,
        ticker: req.ticker.trim().to_ascii_uppercase(),
        quantity: req.quantity,
        side: req.side,
        order_type: "market".to_owned(),
    };
    Ok(Json(state.store.execute_trade(&order).await?))
}

/// Query of the trading history.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct HistoryQuery {
    /// At most this many trades, newest first (1..=1000, default 50).
    pub limit: Option<u32>,
}

/// A client's trades.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TradeHistory {
    /// The client.
    pub client_id: i64,
    /// Trades, newest first.
    pub trades: Vec<Trade>,
    /// How many are listed.
    pub count: usize,
}

/// A client's most recent trades.
#[utoipa::path(get, path = "/api/trading/history/{client_id}", tag = "trading",
    params(("client_id" = i64, Path, description = "Client id"), HistoryQuery),
    responses((status = 200, body = TradeHistory), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<TradeHistory>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: {limit} is out of range (expected 1..=1000)"
        )));
    }
    require_client(&state, client_id).await?;
    let trades = state.store.trades(client_id, limit).await?;
    Ok(Json(TradeHistory {
        client_id,
        count: trades.len(),
        trades,
    }))
}
