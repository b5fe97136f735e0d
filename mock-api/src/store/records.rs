//! The rows the store hands out, decoded from `AnyRow` so one decoder serves SQLite and
//! PostgreSQL alike: the job's JSON columns are text in both databases, read through
//! `JsonText`, and its status through `TryFrom<String>`.
//!
//! `FromRow` is implemented by hand, a column per line, rather than derived: sqlx's
//! derive lives in its proc-macro crate, which compiles a second copy of sqlx-core and of
//! both database drivers (SQLite's C source included) for the compiler's host; dropping
//! it takes that whole second copy out of a fresh clone's build.

use serde::Serialize;
use sqlx::any::{Any, AnyRow, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::{Decode, FromRow, Row as _, Type, ValueRef as _};
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
    /// quantity * price (not stored: computed when the trade is read).
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
}

/// A stored job status that is none of the four.
#[derive(Debug, thiserror::Error)]
#[error("unknown job status {0:?}")]
pub struct UnknownJobStatus(String);

impl TryFrom<String> for JobStatus {
    type Error = UnknownJobStatus;

    fn try_from(stored: String) -> Result<Self, Self::Error> {
        [
            Self::Running,
            Self::Completed,
            Self::Failed,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|v| v.as_str() == stored)
        .ok_or(UnknownJobStatus(stored))
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

impl FromRow<'_, AnyRow> for Client {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
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

impl FromRow<'_, AnyRow> for Holding {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            ticker: row.try_get("ticker")?,
            quantity: row.try_get("quantity")?,
            avg_cost: row.try_get("avg_cost")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Trade {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            trade_id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            ticker: row.try_get("ticker")?,
            side: row.try_get("side")?,
            quantity: row.try_get("quantity")?,
            price: row.try_get("price")?,
            total: 0.0,
            order_type: row.try_get("order_type")?,
            status: row.try_get("status")?,
            executed_at: row.try_get("executed_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Job {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            job_id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            client_id: row.try_get("client_id")?,
            params: row.try_get::<JsonText, _>("params")?.into(),
            status: decode_status(row)?,
            duration_ms: row.try_get("duration_ms")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
            result: row.try_get::<JsonText, _>("result")?.into(),
            error: row.try_get("error")?,
        })
    }
}

/// The job's `status` column, an unknown spelling reported as that column's decode error.
fn decode_status(row: &AnyRow) -> sqlx::Result<JobStatus> {
    JobStatus::try_from(row.try_get::<String, _>("status")?).map_err(|e| {
        sqlx::Error::ColumnDecode {
            index: "status".to_owned(),
            source: Box::new(e),
        }
    })
}

/// A JSON document in a text column (SQL `NULL` reads as none), decoded for either
/// database behind `Any`.
#[derive(Debug)]
pub struct JsonText(Option<serde_json::Value>);

impl Type<Any> for JsonText {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        <String as Type<Any>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Any> for JsonText {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(Self(None));
        }
        let text = <String as Decode<'r, Any>>::decode(value)?;
        Ok(Self(Some(serde_json::from_str(&text)?)))
    }
}

impl From<JsonText> for serde_json::Value {
    fn from(json: JsonText) -> Self {
        json.0.unwrap_or(serde_json::Value::Null)
    }
}

impl From<JsonText> for Option<serde_json::Value> {
    fn from(json: JsonText) -> Self {
        json.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_status_reads_back_and_an_unknown_one_is_named() {
        for status in [
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Interrupted,
        ] {
            assert_eq!(
                JobStatus::try_from(status.as_str().to_owned()).unwrap(),
                status
            );
        }
        let e = JobStatus::try_from("done".to_owned()).unwrap_err();
        assert_eq!(e.to_string(), "unknown job status \"done\"");
    }
}
