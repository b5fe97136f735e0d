//! `GET /api/data/historical?ticker=&start=&end=`: one OHLCV bar per trading day,
//! deterministic for (ticker, date), a year being about 260 rows.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Json, Query};
use crate::market::{self, Bar};

/// The longest range one request may ask for, in days.
pub(crate) const MAX_RANGE_DAYS: i64 = 3660;

/// Query of `GET /api/data/historical`.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct HistoricalQuery {
    /// Ticker symbol.
    pub ticker: String,
    /// First day, YYYY-MM-DD (default: a year before `end`).
    #[param(format = Date)]
    pub start: Option<String>,
    /// Last day, YYYY-MM-DD (default: today).
    #[param(format = Date)]
    pub end: Option<String>,
}

/// The answer: the bars of the range.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Historical {
    /// Ticker symbol.
    pub ticker: String,
    /// First day asked for.
    pub start: String,
    /// Last day asked for.
    pub end: String,
    /// Always `1d`.
    pub interval: &'static str,
    /// Number of bars.
    pub count: usize,
    /// One bar per trading day.
    pub data: Vec<Bar>,
}

/// The years the market data covers.
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 1970..=2100;

fn parse_date(field: &str, value: &str) -> Result<NaiveDate, ApiError> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|e| {
        ApiError::invalid(format!(
            "{field}: {value:?} is not a date ({e}; expected YYYY-MM-DD)"
        ))
    })?;
    if !YEARS.contains(&date.year()) {
        return Err(ApiError::invalid(format!(
            "{field}: {value:?} is outside the data's years {}..={}",
            YEARS.start(),
            YEARS.end()
        )));
    }
    Ok(date)
}

/// Daily OHLCV bars for a ticker over a date range.
#[utoipa::path(get, path = "/api/data/historical", tag = "data", params(HistoricalQuery),
    responses((status = 200, body = Historical), (status = 404, description = "Unknown ticker", body = crate::error::ErrorBody),
              (status = 422, description = "Bad date or range", body = crate::error::ErrorBody)))]
pub(crate) async fn historical(
    Query(q): Query<HistoricalQuery>,
) -> Result<Json<Historical>, ApiError> {
    let symbol = q.ticker.trim().to_ascii_uppercase();
    let info = market::ticker(&symbol)
        .ok_or_else(|| ApiError::not_found(format!("ticker {:?} not found", q.ticker)))?;
    let end = match &q.end {
        Some(s) => parse_date("end", s)?,
        None => chrono::Utc::now().date_naive(),
    };
    let start = match &q.start {
        Some(s) => parse_date("start", s)?,
        None => end - chrono::Duration::days(365),
    };
    if start > end {
        return Err(ApiError::invalid(format!(
            "start {start} is after end {end}"
        )));
    }
    let days = (end - start).num_days();
    if days > MAX_RANGE_DAYS {
        return Err(ApiError::invalid(format!(
            "range of {days} days is too long (at most {MAX_RANGE_DAYS})"
        )));
    }
    // Generating ~2600 bars is well under a millisecond; no need to leave the runtime.
    let data = market::bars(info, start, end);
    Ok(Json(Historical {
        ticker: symbol,
        start: start.to_string(),
        end: end.to_string(),
        interval: "1d",
        count: data.len(),
        data,
    }))
}
