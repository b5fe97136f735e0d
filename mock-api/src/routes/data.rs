//! `GET /api/data/historical?ticker=&start=&end=`: one OHLCV bar per trading day,
//! deterministic for (ticker, date), a year being about 260 rows.
//!
//! Every range the document allows is answered, so no rule depends on today's date or
//! on the two dates together: a start after the end is an empty range (no bars), and a
//! range longer than [`MAX_RANGE_DAYS`] is answered in pages (its first days, with the
//! day to ask from next). Dates outside the data's years are refused, and the document
//! states those years in the dates' pattern.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Json, Query};
use crate::market::{self, Bar};

/// The most days one answer covers; a longer range is answered in pages.
pub(crate) const MAX_RANGE_DAYS: i64 = 3660;

/// Query of `GET /api/data/historical`.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct HistoricalQuery {
    /// Ticker symbol.
    pub ticker: String,
    /// First day, YYYY-MM-DD, 1970..=2100 (default: a year before `end`).
    #[param(format = Date, pattern = r"^(19[7-9][0-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub start: Option<String>,
    /// Last day, YYYY-MM-DD, 1970..=2100 (default: today). A start after it is an empty range.
    #[param(format = Date, pattern = r"^(19[7-9][0-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub end: Option<String>,
}

/// The answer: the bars of the range.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Historical {
    /// Ticker symbol.
    pub ticker: String,
    /// First day asked for.
    pub start: String,
    /// Last day answered: the end asked for, or the page's last day.
    pub end: String,
    /// The day to ask from for the rest of a range longer than 3660 days; absent when the
    /// range was answered whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start: Option<String>,
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
              (status = 422, description = "A date that is not one, or outside 1970..=2100", body = crate::error::ErrorBody)))]
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
    // A page ends MAX_RANGE_DAYS after its start (both days included).
    let page_end = start + chrono::Duration::days(MAX_RANGE_DAYS - 1);
    let (end, next_start) = if end > page_end {
        (
            page_end,
            Some((page_end + chrono::Duration::days(1)).to_string()),
        )
    } else {
        (end, None)
    };
    // Generating ~2600 bars is well under a millisecond; no need to leave the runtime.
    let data = if start > end {
        Vec::new()
    } else {
        market::bars(info, start, end)
    };
    Ok(Json(Historical {
        ticker: symbol,
        start: start.to_string(),
        end: end.to_string(),
        next_start,
        interval: "1d",
        count: data.len(),
        data,
    }))
}
