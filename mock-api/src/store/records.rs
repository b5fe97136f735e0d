//! The rows the store hands out, decoded from `AnyRow` so one decoder serves SQLite and
//! PostgreSQL alike: sqlx's `FromRow` derive where columns map to fields, by hand for
//! the job (its JSON text columns and status need parsing).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;
use utoipa::ToSchema;

/// A client of the platform.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
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

/// One position of a client.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Holding {
    /// Ticker symbol.
    pub ticker: String,
    /// Shares held (never negative).
    pub quantity: i64,
    /// Average cost per share in USD.
    pub avg_cost: f64,
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Trade {
    /// Trade id.
    #[sqlx(rename = "id")]
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
    /// quantity * price (not stored: see [`Trade::with_total`]).
    #[sqlx(skip)]
    pub total: f64,
    /// Order type (`market`).
    pub order_type: String,
    /// `executed`.
    pub status: String,
    /// RFC 3339 execution time.
    pub executed_at: String,
}

impl Trade {
    /// The trade with its total, quantity * price rounded to cents.
    pub(crate) fn with_total(mut self) -> Self {
        self.total = crate::market::round2(self.quantity as f64 * self.price);
        self
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
