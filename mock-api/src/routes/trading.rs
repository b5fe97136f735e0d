//! Trading: `POST /api/trading/execute` (a committed trade, or a 4xx saying why not;
//! idempotent under an `Idempotency-Key`) and `GET /api/trading/history/{client_id}`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::behaviour::ResponseDue;
use crate::cpu::{self, CpuBudget, CpuSpent};
use crate::error::{ApiError, Json, Path, Query};
use crate::routes::clients::require_client;
use crate::state::AppState;
use crate::store::{Executed, NewTrade, Side, Trade, MAX_IDEMPOTENCY_KEY_LEN};

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
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub client_id: i64,
    /// Ticker symbol, one of the universe's (lower case and spaces around it are
    /// accepted too).
    #[schema(
        pattern = "^(AAPL|GOOGL|MSFT|AMZN|TSLA|NVDA|META|NFLX|JPM|V|JNJ|XOM|PG|KO|DIS|SPY)$",
        example = "AAPL"
    )]
    pub ticker: String,
    /// Shares, 1..=1000000.
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(deserialize_with = "super::whole::deserialize")]
    pub quantity: i64,
    /// `buy` or `sell`.
    pub side: Side,
    /// `market` (the default).
    // Deserialised so that any other order type is refused; nothing reads it after.
    #[allow(dead_code)]
    #[serde(default)]
    pub order_type: OrderType,
}

/// The header that makes a retried order safe: one key, one trade.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Executes a market order; the answer is a committed trade. The commit is the last thing
/// before the answer: a client that gave up during the profile's delay, or a shutdown
/// whose grace ran out, leaves no trade behind the failure it saw.
#[utoipa::path(post, path = "/api/trading/execute", tag = "trading", request_body = TradeRequest,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
        description = "A key of 1..=255 visible characters (e.g. a UUID) naming this order: a repeat with the same key and order returns the first trade (same trade_id, header Idempotent-Replayed: true) instead of trading again; the same key with another order is refused with 422. Keys are kept in the database, across connections and restarts.")),
    responses((status = 200, body = Trade,
                headers(("Idempotent-Replayed" = String, description = "`true` when the trade is the first result of a repeated Idempotency-Key"))),
              (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
              (status = 404, description = "Unknown client", body = crate::error::ErrorBody),
              (status = 409, description = "Selling more than held", body = crate::error::ErrorBody),
              (status = 422, description = "Invalid field, unknown ticker, bad Idempotency-Key, or a key first used for another order", body = crate::error::ErrorBody),
              (status = 503, description = "Shutting down: the order was not executed", body = crate::error::ErrorBody)))]
pub(crate) async fn execute(
    State(state): State<AppState>,
    due: Option<Extension<ResponseDue>>,
    budget: Option<Extension<CpuBudget>>,
    headers: HeaderMap,
    Json(req): Json<TradeRequest>,
) -> Result<Response, ApiError> {
    if !(1..=MAX_QUANTITY).contains(&req.quantity) {
        return Err(ApiError::invalid(format!(
            "quantity: {} is out of range (expected 1..={MAX_QUANTITY})",
            req.quantity
        )));
    }
    let key = idempotency_key(&headers)?;
    let order = NewTrade {
        client_id: req.client_id,
        ticker: req.ticker.trim().to_ascii_uppercase(),
        quantity: req.quantity,
        side: req.side,
        order_type: "market".to_owned(),
    };
    crate::timing::db(state.store.check_order(&order)).await?;
    // Everything the answer waits for comes before the commit: the CPU work, then the
    // profile's delay.
    let spent = match budget {
        Some(Extension(CpuBudget(cpu))) if !cpu.is_zero() => {
            cpu::burn(cpu).await;
            true
        }
        _ => false,
    };
    if let Some(Extension(ResponseDue(at))) = due {
        tokio::select! {
            () = state.timer.sleep_until(at) => {}
            () = state.grace_over.cancelled() => {}
        }
    }
    if state.grace_over.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down: the order was not executed",
        ));
    }
    // Not spawned: a client that leaves while the transaction runs cancels it, and an
    // uncommitted transaction rolls back, so only a client gone during the commit itself
    // can miss a trade it made (and its Idempotency-Key finds it again).
    let executed = match key {
        Some(key) => crate::timing::db(state.store.execute_trade_once(&order, &key)).await?,
        None => Executed {
            trade: crate::timing::db(state.store.execute_trade(&order)).await?,
            replayed: false,
        },
    };
    let mut response = Json(executed.trade).into_response();
    if executed.replayed {
        response.headers_mut().insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
    }
    if spent {
        response.extensions_mut().insert(CpuSpent);
    }
    Ok(response)
}

/// The order's `Idempotency-Key`, if it sent one: 1..=255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    let valid = (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_idempotency_key",
            format!(
                "Idempotency-Key: expected 1..={MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters (e.g. a UUID), got {} bytes",
                value.len()
            ),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Query of the trading history.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct HistoryQuery {
    /// At most this many trades, newest first (1..=1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
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
    let trades = crate::timing::db(state.store.trades(client_id, limit)).await?;
    Ok(Json(TradeHistory {
        client_id,
        count: trades.len(),
        trades,
    }))
}

#[cfg(test)]
mod tests {
    use crate::market::UNIVERSE;
    use utoipa::PartialSchema as _;

    #[test]
    fn the_documented_ticker_pattern_is_the_universe() {
        let schema = serde_json::to_value(super::TradeRequest::schema()).unwrap();
        let pattern = schema["properties"]["ticker"]["pattern"].as_str().unwrap();
        let symbols: Vec<&str> = UNIVERSE.iter().map(|t| t.symbol).collect();
        assert_eq!(pattern, format!("^({})$", symbols.join("|")));
    }
}
