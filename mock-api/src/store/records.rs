//! The rows the store hands out, decoded by hand from `AnyRow` so one decoder serves
//! SQLite and PostgreSQL alike.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

/// A client of the platform.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Client {
    /// Client id (1..=N).
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Contact e-mail.
    pub email: String,
    /// `conservative`, `moderate` or `aggressive`.
    pub risk_profile: String,
    /// Cash in USD; buys are not cash-limited (margin), so it may go negative.
    pub cash_balance: f64,
    /// RFC 3339 creation time.
    pub created_at: String,
}

impl Client {
    pub(crate) fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            risk_profile: row.try_get("risk_profile")?,
            cash_balance: row.try_get("cash_balance")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// One position of a client.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Holding {
    /// Ticker symbol.
    pub ticker: String,
    /// Shares held (never negative).
    pub quantity: i64,
    /// Average cost per share in USD.
    pub avg_cost: f64,
}

impl Holding {
    pub(crate) fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            ticker: row.try_get("ticker")?,
            quantity: row.try_get("quantity")?,
            avg_cost: row.try_get("avg_cost")?,
        })
    }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Buy shares.
    Buy,
    /// Sell shares the client holds.
    Sell,
}

impl Side {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// An executed trade.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Trade {
    /// Trade id.
    pub trade_id: i64,
    /// The client who traded.
    pub client_id: i64,
    /// Ticker symbol.
    pub ticker: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Shares traded.
    pub quantity: i64,
    /// Execution price per share in USD.
    pub price: f64,
    /// quantity * price.
    pub total: f64,
    /// Order type (`market`).
    pub order_type: String,
    /// `executed`.
    pub status: String,
    /// RFC 3339 execution time.
    pub executed_at: String,
}

impl Trade {
    pub(crate) fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        let quantity: i64 = row.try_get("quantity")?;
        let price: f64 = row.try_get("price")?;
        Ok(Self {
            trade_id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            ticker: row.try_get("ticker")?,
            side: row.try_get("side")?,
            quantity,
            price,
            total: crate::market::round2(quantity as f64 * price),
            order_type: row.try_get("order_type")?,
            status: row.try_get("status")?,
            executed_at: row.try_get("executed_at")?,
        })
    }
}

/// Lifecycle state of a background job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// In progress.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// The server stopped while it ran.
    Interrupted,
}

impl JobStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Completed,
            Self::Failed,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A background job (model training or portfolio rebalancing).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Job {
    /// Job id (UUID).
    pub job_id: String,
    /// `ml_train` or `portfolio_rebalance`.
    pub kind: String,
    /// The client a rebalance is for.
    pub client_id: Option<i64>,
    /// The request's parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Lifecycle state.
    pub status: JobStatus,
    /// Planned duration in ms.
    pub duration_ms: i64,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 start time.
    pub started_at: Option<String>,
    /// RFC 3339 end time.
    pub finished_at: Option<String>,
    /// What the job produced, once completed.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Why it failed or stopped.
    pub error: Option<String>,
}

impl Job {
    pub(crate) fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        let json = |col: &str| -> sqlx::Result<Option<serde_json::Value>> {
            let text: Option<String> = row.try_get(col)?;
            text.map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e))))
                .transpose()
        };
        let status: String = row.try_get("status")?;
        Ok(Self {
            job_id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            client_id: row.try_get("client_id")?,
            params: json("params")?.unwrap_or(serde_json::Value::Null),
            status: JobStatus::parse(&status).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown job status {status:?}").into())
            })?,
            duration_ms: row.try_get("duration_ms")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            result: json("result")?,
            error: row.try_get("error")?,
        })
    }
}
