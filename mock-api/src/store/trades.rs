//! Trades: a market order executed in one transaction (the trade row, the holding and
//! the cash change commit together or not at all), optionally under an idempotency key
//! kept in the same transaction, so a client that retries an order it saw fail gets the
//! first execution back instead of a second trade.

use sqlx::{Any, FromRow as _, Row, Transaction};

use super::{now_rfc3339, sql, Side, Store, StoreError, Trade};
use crate::market;

/// Longest idempotency key accepted (keys are client-made, usually a UUID).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Why a trade was refused (a client's mistake) or failed (the store's).
#[derive(Debug, thiserror::Error)]
pub enum TradeError {
    /// No client with that id.
    #[error("client {0} not found")]
    UnknownClient(i64),
    /// The ticker is not in the universe.
    #[error("ticker {0:?} is not traded (known: {known})", known = market::UNIVERSE.iter().map(|t| t.symbol).collect::<Vec<_>>().join(", "))]
    UnknownTicker(String),
    /// A sell of more shares than the client holds.
    #[error(
        "insufficient holdings: client {client_id} holds {held} {ticker}, cannot sell {requested}"
    )]
    InsufficientHoldings {
        /// The seller.
        client_id: i64,
        /// The ticker.
        ticker: String,
        /// Shares held.
        held: i64,
        /// Shares the order asked to sell.
        requested: i64,
    },
    /// The idempotency key was first used for a different order.
    #[error("Idempotency-Key {key:?} was first used for a different order (trade {trade_id}: {first}); send a new key for a new order")]
    KeyReused {
        /// The key.
        key: String,
        /// The trade the key executed.
        trade_id: i64,
        /// That trade's order, for a person.
        first: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A trade order as the store executes it (already validated for shape).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTrade {
    /// The trading client.
    pub client_id: i64,
    /// Ticker symbol.
    pub ticker: String,
    /// Shares, at least 1.
    pub quantity: i64,
    /// Buy or sell.
    pub side: Side,
    /// Order type as stored (`market`).
    pub order_type: String,
}

impl NewTrade {
    /// Whether `trade` is this order's execution (same client, ticker, side, quantity).
    fn matches(&self, trade: &Trade) -> bool {
        trade.client_id == self.client_id
            && trade.ticker == self.ticker
            && trade.side == self.side.as_str()
            && trade.quantity == self.quantity
    }
}

/// A trade as executed under an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The trade.
    pub trade: Trade,
    /// True when the key had executed it before and this is the first result again.
    pub replayed: bool,
}

const TRADE_COLUMNS: &str =
    "id, client_id, ticker, side, quantity, price, order_type, status, executed_at";

impl Store {
    /// Refuses what no write can fix (an unknown ticker or client) without writing.
    pub async fn check_order(&self, order: &NewTrade) -> Result<(), TradeError> {
        if market::ticker(&order.ticker).is_none() {
            return Err(TradeError::UnknownTicker(order.ticker.clone()));
        }
        if self.client(order.client_id).await?.is_none() {
            return Err(TradeError::UnknownClient(order.client_id));
        }
        Ok(())
    }

    /// Executes a market order at today's price: the trade row, the holding and the cash
    /// change commit together or not at all. A sell beyond the holding is refused.
    pub async fn execute_trade(&self, order: &NewTrade) -> Result<Trade, TradeError> {
        self.check_order(order).await?;
        let tx = self.pool.begin().await.map_err(sql("starting a trade"))?;
        let (tx, trade) = self.trade_or_rollback(tx, order).await?;
        self.commit_trade(tx).await?;
        Ok(trade)
    }

    /// Executes `order` once per `key`: the first call executes it and records the key
    /// in the same transaction; a later call with the same key (from any connection, or
    /// after a restart) returns that first trade, and with a different order is refused.
    pub async fn execute_trade_once(
        &self,
        order: &NewTrade,
        key: &str,
    ) -> Result<Executed, TradeError> {
        self.check_order(order).await?;
        let mut tx = self.pool.begin().await.map_err(sql("starting a trade"))?;
        // Claiming the key is the first statement and a write, so SQLite takes its write
        // lock at once; on PostgreSQL a concurrent claim of the same key waits here for
        // the first transaction's outcome.
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (key, trade_id, created_at) VALUES ($1, NULL, $2) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await
        .map_err(sql("claiming an idempotency key"))?
        .rows_affected()
            == 1;
        if !claimed {
            tx.rollback()
                .await
                .map_err(sql("rolling back a repeated order"))?;
            return self.replay(order, key).await;
        }
        let (mut tx, trade) = self.trade_or_rollback(tx, order).await?;
        sqlx::query("UPDATE idempotency_keys SET trade_id = $1 WHERE key = $2")
            .bind(trade.trade_id)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(sql("recording an idempotency key"))?;
        self.commit_trade(tx).await?;
        Ok(Executed {
            trade,
            replayed: false,
        })
    }

    /// The trade `key` executed, if it was for `order`.
    async fn replay(&self, order: &NewTrade, key: &str) -> Result<Executed, TradeError> {
        let row = sqlx::query(&format!(
            "SELECT {TRADE_COLUMNS} FROM trades WHERE id = (SELECT trade_id FROM idempotency_keys WHERE key = $1)"
        ))
        .bind(key)
        .fetch_one(&self.pool)
        .await
        .map_err(sql("reading an idempotent trade"))?;
        let trade = Trade::from_row(&row)
            .map(Trade::with_total)
            .map_err(sql("decoding a trade"))?;
        if !order.matches(&trade) {
            return Err(TradeError::KeyReused {
                key: key.to_owned(),
                trade_id: trade.trade_id,
                first: format!(
                    "client {} {} {} {}",
                    trade.client_id, trade.side, trade.quantity, trade.ticker
                ),
            });
        }
        Ok(Executed {
            trade,
            replayed: true,
        })
    }

    /// Commits a trade's transaction; the cached client list is dropped either way,
    /// since the cash balance changed (or may have, if the commit's outcome is unknown).
    async fn commit_trade(&self, tx: Transaction<'static, Any>) -> Result<(), StoreError> {
        let committed = tx.commit().await.map_err(sql("committing a trade"));
        self.clients_cache.invalidate();
        committed
    }

    /// [`Store::trade_in`], rolling `tx` back when the trade is refused or fails.
    async fn trade_or_rollback(
        &self,
        mut tx: Transaction<'static, Any>,
        order: &NewTrade,
    ) -> Result<(Transaction<'static, Any>, Trade), TradeError> {
        match self.trade_in(&mut tx, order).await {
            Ok(trade) => Ok((tx, trade)),
            Err(e) => {
                tx.rollback()
                    .await
                    .map_err(sql("rolling back a refused trade"))?;
                Err(e)
            }
        }
    }

    /// The trade's writes inside `tx`: holding, cash, trade row; a sell beyond the
    /// holding is refused, saying what is held.
    async fn trade_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        order: &NewTrade,
    ) -> Result<Trade, TradeError> {
        let info = market::ticker(&order.ticker)
            .ok_or_else(|| TradeError::UnknownTicker(order.ticker.clone()))?;
        let price = market::daily_bar(info, chrono::Utc::now().date_naive()).close;
        let notional = order.quantity as f64 * price;
        // The first write of a plain trade takes SQLite's write lock at once (waiting on
        // busy_timeout) instead of failing a read-to-write upgrade later.
        let (holding_change, cash_delta) = match order.side {
            Side::Buy => (
                sqlx::query(
                    "INSERT INTO holdings (client_id, ticker, quantity, avg_cost) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (client_id, ticker) DO UPDATE SET \
                     avg_cost = (holdings.avg_cost * holdings.quantity + excluded.avg_cost * excluded.quantity) \
                                / (holdings.quantity + excluded.quantity), \
                     quantity = holdings.quantity + excluded.quantity",
                )
                .bind(order.client_id)
                .bind(info.symbol)
                .bind(order.quantity)
                .bind(price),
                -notional,
            ),
            Side::Sell => (
                sqlx::query(
                    "UPDATE holdings SET quantity = quantity - $3 WHERE client_id = $1 AND ticker = $2 AND quantity >= $3",
                )
                .bind(order.client_id)
                .bind(info.symbol)
                .bind(order.quantity),
                notional,
            ),
        };
        let changed = holding_change
            .execute(&mut **tx)
            .await
            .map_err(sql("updating a holding"))?
            .rows_affected();
        if changed == 0 {
            let held: Option<i64> =
                sqlx::query("SELECT quantity FROM holdings WHERE client_id = $1 AND ticker = $2")
                    .bind(order.client_id)
                    .bind(info.symbol)
                    .fetch_optional(&mut **tx)
                    .await
                    .and_then(|row| row.map(|r| r.try_get("quantity")).transpose())
                    .map_err(sql("reading a holding"))?;
            return Err(TradeError::InsufficientHoldings {
                client_id: order.client_id,
                ticker: info.symbol.to_owned(),
                held: held.unwrap_or(0),
                requested: order.quantity,
            });
        }
        sqlx::query("UPDATE clients SET cash_balance = cash_balance + $1 WHERE id = $2")
            .bind(cash_delta)
            .bind(order.client_id)
            .execute(&mut **tx)
            .await
            .map_err(sql("updating cash"))?;
        let row = sqlx::query(&format!(
            "INSERT INTO trades (client_id, ticker, side, quantity, price, order_type, status, executed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'executed', $7) RETURNING {TRADE_COLUMNS}"
        ))
        .bind(order.client_id)
        .bind(info.symbol)
        .bind(order.side.as_str())
        .bind(order.quantity)
        .bind(price)
        .bind(&order.order_type)
        .bind(now_rfc3339())
        .fetch_one(&mut **tx)
        .await
        .map_err(sql("recording a trade"))?;
        Trade::from_row(&row)
            .map(Trade::with_total)
            .map_err(|e| sql("decoding a trade")(e).into())
    }

    /// A client's most recent trades, newest first.
    pub async fn trades(&self, client_id: i64, limit: u32) -> Result<Vec<Trade>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TRADE_COLUMNS} FROM trades WHERE client_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(client_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(sql("reading trades"))?;
        rows.iter()
            .map(|row| Trade::from_row(row).map(Trade::with_total))
            .collect::<Result<_, _>>()
            .map_err(sql("decoding trades"))
    }

    /// How many trades the database holds (all clients).
    pub async fn trade_count(&self) -> Result<i64, StoreError> {
        sqlx::query("SELECT COUNT(*) AS n FROM trades")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(sql("counting trades"))
    }
}
