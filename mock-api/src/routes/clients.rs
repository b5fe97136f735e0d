//! Clients and their portfolios: `GET /api/clients`, `GET /api/clients/{client_id}`,
//! `GET /api/clients/{client_id}/portfolio`.

use std::sync::{Arc, PoisonError};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Json, Path};
use crate::market;
use crate::state::AppState;
use crate::store::Client;

/// The client list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClientList {
    /// Every client, by id.
    pub clients: Vec<Client>,
    /// How many.
    pub count: usize,
}

/// One valued position.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Position {
    /// Ticker symbol.
    pub ticker: String,
    /// Shares held.
    pub quantity: i64,
    /// Average cost per share.
    pub avg_cost: f64,
    /// Today's price.
    pub price: f64,
    /// quantity * price.
    pub market_value: f64,
    /// market_value - quantity * avg_cost.
    pub unrealized_pnl: f64,
    /// Share of the invested value (0..1).
    pub weight: f64,
}

/// A client's holdings, valued at today's prices.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Portfolio {
    /// The client.
    pub client_id: i64,
    /// Cash in USD.
    pub cash_balance: f64,
    /// Positions by ticker.
    pub holdings: Vec<Position>,
    /// Sum of market values.
    pub invested_value: f64,
    /// invested_value + cash_balance.
    pub total_value: f64,
    /// The pricing date.
    pub as_of: String,
}

/// The client or a 404 naming the id.
pub(crate) async fn require_client(state: &AppState, client_id: i64) -> Result<Client, ApiError> {
    crate::timing::db(state.store.client(client_id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("client {client_id} not found")))
}

/// [`ClientList`] borrowing the store's list (same fields, same order, same JSON).
#[derive(Serialize)]
struct ClientListRef<'a> {
    clients: &'a [Client],
    count: usize,
}

/// The JSON of a client list, kept with the list it encodes: the store hands out the
/// same `Arc` until a write to the clients table drops it, so an identical `Arc` means
/// identical bytes.
#[derive(Debug, Default)]
pub struct EncodedClients(std::sync::Mutex<Option<(Arc<Vec<Client>>, Bytes)>>);

impl EncodedClients {
    /// The JSON of `list`, encoded once per list the store hands out.
    pub fn of(&self, list: &Arc<Vec<Client>>) -> Result<Bytes, serde_json::Error> {
        if let Some((cached, body)) = &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            if Arc::ptr_eq(cached, list) {
                return Ok(body.clone());
            }
        }
        let body = Bytes::from(serde_json::to_vec(&ClientListRef {
            clients: list,
            count: list.len(),
        })?);
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((list.clone(), body.clone()));
        Ok(body)
    }
}

/// Lists every client.
#[utoipa::path(get, path = "/api/clients", tag = "clients",
    responses((status = 200, description = "All clients", body = ClientList)))]
pub(crate) async fn list_clients(State(state): State<AppState>) -> Result<Response, ApiError> {
    let clients = crate::timing::db(state.store.clients()).await?;
    let body = state
        .clients_json
        .of(&clients)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One client.
#[utoipa::path(get, path = "/api/clients/{client_id}", tag = "clients",
    params(("client_id" = i64, Path, description = "Client id")),
    responses((status = 200, body = Client), (status = 404, body = crate::error::ErrorBody),
              (status = 422, description = "client_id is not an integer", body = crate::error::ErrorBody)))]
pub(crate) async fn get_client(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
) -> Result<Json<Client>, ApiError> {
    Ok(Json(require_client(&state, client_id).await?))
}

/// A client's holdings valued at today's prices.
#[utoipa::path(get, path = "/api/clients/{client_id}/portfolio", tag = "clients",
    params(("client_id" = i64, Path, description = "Client id")),
    responses((status = 200, body = Portfolio), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_portfolio(
    State(state): State<AppState>,
    Path(client_id): Path<i64>,
) -> Result<Json<Portfolio>, ApiError> {
    let client = require_client(&state, client_id).await?;
    let holdings = crate::timing::db(state.store.holdings(client_id)).await?;
    let today = chrono::Utc::now().date_naive();
    let mut positions: Vec<Position> = holdings
        .into_iter()
        .map(|h| {
            let price =
                market::ticker(&h.ticker).map_or(h.avg_cost, |t| market::daily_bar(t, today).close);
            let market_value = market::round2(h.quantity as f64 * price);
            Position {
                unrealized_pnl: market::round2(market_value - h.quantity as f64 * h.avg_cost),
                ticker: h.ticker,
                quantity: h.quantity,
                avg_cost: market::round2(h.avg_cost),
                price,
                market_value,
                weight: 0.0,
            }
        })
        .collect();
    let invested: f64 = positions.iter().map(|p| p.market_value).sum();
    for p in &mut positions {
        p.weight = if invested > 0.0 {
            (p.market_value / invested * 10_000.0).round() / 10_000.0
        } else {
            0.0
        };
    }
    Ok(Json(Portfolio {
        client_id,
        cash_balance: market::round2(client.cash_balance),
        holdings: positions,
        invested_value: market::round2(invested),
        total_value: market::round2(invested + client.cash_balance),
        as_of: today.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewTrade, Side, Store, StoreOptions};

    #[tokio::test]
    async fn the_encoded_list_is_the_list_and_follows_a_write() {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let encoded = EncodedClients::default();
        let list = store.clients().await.unwrap();
        let expected = serde_json::to_vec(&ClientList {
            clients: list.as_ref().clone(),
            count: list.len(),
        })
        .unwrap();
        assert_eq!(encoded.of(&list).unwrap(), expected);
        let order = NewTrade {
            client_id: 1,
            ticker: "AAPL".to_owned(),
            quantity: 1,
            side: Side::Sell,
            order_type: "market".to_owned(),
        };
        store.execute_trade(&order).await.unwrap();
        let after = store.clients().await.unwrap();
        let body = encoded.of(&after).unwrap();
        assert_ne!(body, expected, "the sale's proceeds show");
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["clients"][0]["cash_balance"], after[0].cash_balance);
        assert_eq!(parsed["count"], 10);
    }
}
