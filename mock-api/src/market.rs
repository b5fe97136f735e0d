//! The ticker universe and a deterministic market: every price the imitation shows is a
//! pure function of (ticker, date), so two runs (and two servers) return the same bytes.
//!
//! A day's bar is seeded from an FNV-1a hash of the ticker and the date, not from a
//! random walk over the requested range, so the bar for 2024-03-05 is the same whether
//! the range starts in 2023 or on that very day.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;
use utoipa::ToSchema;

use seeding::{fnv1a, mix64};

/// One tradable instrument of the universe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TickerInfo {
    /// Exchange symbol, e.g. `AAPL`.
    pub symbol: &'static str,
    /// Company name.
    pub name: &'static str,
    /// GICS-like sector.
    pub sector: &'static str,
    /// Reference price in USD around which the synthetic series moves.
    pub reference_price: f64,
}

const fn t(symbol: &'static str, name: &'static str, sector: &'static str, p: f64) -> TickerInfo {
    TickerInfo {
        symbol,
        name,
        sector,
        reference_price: p,
    }
}

/// The universe seeded into every database: the eight tickers of the platform's load
/// profile first, then a handful more so portfolios look like portfolios.
pub(crate) const UNIVERSE: &[TickerInfo] = &[
    t("AAPL", "Apple Inc.", "Information Technology", 189.50),
    t(
        "GOOGL",
        "Alphabet Inc. Class A",
        "Communication Services",
        141.80,
    ),
    t(
        "MSFT",
        "Microsoft Corporation",
        "Information Technology",
        378.90,
    ),
    t("AMZN", "Amazon.com, Inc.", "Consumer Discretionary", 153.40),
    t("TSLA", "Tesla, Inc.", "Consumer Discretionary", 248.50),
    t(
        "NVDA",
        "NVIDIA Corporation",
        "Information Technology",
        495.20,
    ),
    t(
        "META",
        "Meta Platforms, Inc.",
        "Communication Services",
        353.60,
    ),
    t("NFLX", "Netflix, Inc.", "Communication Services", 486.90),
    t("JPM", "JPMorgan Chase & Co.", "Financials", 170.10),
    t("V", "Visa Inc.", "Financials", 260.30),
    t("JNJ", "Johnson & Johnson", "Health Care", 156.70),
    t("XOM", "Exxon Mobil Corporation", "Energy", 102.40),
    t("PG", "Procter & Gamble Company", "Consumer Staples", 151.20),
    t("KO", "The Coca-Cola Company", "Consumer Staples", 59.80),
    t(
        "DIS",
        "The Walt Disney Company",
        "Communication Services",
        90.50,
    ),
    t("SPY", "SPDR S&P 500 ETF Trust", "Index Fund", 475.30),
];

/// How many of [`UNIVERSE`]'s first entries the platform's load profile trades.
pub(crate) const LOAD_PROFILE_TICKERS: usize = 8;

/// The universe entry for `symbol` (exact, upper-case match), if any.
pub(crate) fn ticker(symbol: &str) -> Option<&'static TickerInfo> {
    UNIVERSE.iter().find(|t| t.symbol == symbol)
}

/// A day's open/high/low/close/volume.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub(crate) struct Bar {
    /// The trading day.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    /// Opening price.
    pub open: f64,
    /// Highest price of the day.
    pub high: f64,
    /// Lowest price of the day.
    pub low: f64,
    /// Closing price.
    pub close: f64,
    /// Shares traded.
    pub volume: u64,
}

/// Whether `date` is a trading day (the imitation ignores exchange holidays).
pub(crate) fn is_trading_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// A uniform number in [0, 1) from 53 bits of `bits`.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The bar of `info` on `date`: a slow trend and seasonal swing around the reference
/// price plus day noise, all from the hash of (ticker, date).
pub(crate) fn daily_bar(info: &TickerInfo, date: NaiveDate) -> Bar {
    let day = f64::from(date.num_days_from_ce());
    let phase = unit(fnv1a(&[info.symbol.as_bytes()])) * std::f64::consts::TAU;
    // Smooth components: about +-12 % over a year, +-4 % over a quarter.
    let level = 1.0
        + 0.12 * (day / 365.25 * std::f64::consts::TAU + phase).sin()
        + 0.04 * (day / 91.0 * std::f64::consts::TAU + 2.0 * phase).sin();
    let seed = fnv1a(&[info.symbol.as_bytes(), date.to_string().as_bytes()]);
    let r = |k: u64| unit(mix64(seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    let close = info.reference_price * level * (1.0 + 0.03 * (r(1) - 0.5));
    let open = close * (1.0 + 0.02 * (r(2) - 0.5));
    let high = open.max(close) * (1.0 + 0.015 * r(3));
    let low = open.min(close) * (1.0 - 0.015 * r(4));
    let volume = 5_000_000 + (r(5) * 45_000_000.0) as u64;
    Bar {
        date,
        open: round2(open),
        high: round2(high),
        low: round2(low),
        close: round2(close),
        volume,
    }
}

/// Rounds a price to cents.
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The trading-day bars of `info` from `start` to `end` inclusive.
pub(crate) fn bars(info: &TickerInfo, start: NaiveDate, end: NaiveDate) -> Vec<Bar> {
    start
        .iter_days()
        .take_while(|d| *d <= end)
        .filter(|d| is_trading_day(*d))
        .map(|d| daily_bar(info, d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_bar_depends_only_on_ticker_and_date() {
        let aapl = ticker("AAPL").unwrap();
        let whole = bars(aapl, date("2024-01-01"), date("2024-12-31"));
        let part = bars(aapl, date("2024-06-03"), date("2024-06-07"));
        let from_whole: Vec<_> = whole
            .iter()
            .filter(|b| part.iter().any(|p| p.date == b.date))
            .copied()
            .collect();
        assert_eq!(from_whole, part);
        assert_ne!(
            daily_bar(aapl, date("2024-06-03")),
            daily_bar(ticker("MSFT").unwrap(), date("2024-06-03"))
        );
    }

    #[test]
    fn a_year_has_about_252_trading_days_and_sane_bars() {
        let nvda = ticker("NVDA").unwrap();
        let year = bars(nvda, date("2024-01-01"), date("2024-12-31"));
        assert_eq!(year.len(), 262, "weekdays of 2024");
        for b in &year {
            assert!(is_trading_day(b.date));
            assert!(
                b.low <= b.open.min(b.close) && b.high >= b.open.max(b.close),
                "{b:?}"
            );
            assert!(b.low > 0.0 && b.volume > 0);
        }
    }

    #[test]
    fn the_load_profile_tickers_lead_the_universe() {
        let symbols: Vec<_> = UNIVERSE[..LOAD_PROFILE_TICKERS]
            .iter()
            .map(|t| t.symbol)
            .collect();
        assert_eq!(
            symbols,
            ["AAPL", "GOOGL", "MSFT", "AMZN", "TSLA", "NVDA", "META", "NFLX"]
        );
        assert!(ticker("aapl").is_none(), "symbols are matched exactly");
    }
}
