//! A real (if simple) mean-variance optimiser: random long-only portfolios over the
//! client's tickers, scored by Sharpe ratio on a year of the market's daily returns.
//! It runs for a CPU budget, so a profile's `cpu_ms` is real CPU work, not a sleep.

use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use utoipa::ToSchema;

use crate::market::{self, TickerInfo};

/// The fewest portfolios tried even with no budget, so every answer is meaningful.
pub(crate) const MIN_ITERATIONS: u64 = 256;
/// The most portfolios tried whatever the budget, so a huge budget still ends.
pub(crate) const MAX_ITERATIONS: u64 = 200_000_000;
const TRADING_DAYS: f64 = 252.0;
const RISK_FREE: f64 = 0.04;

/// The best portfolio found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Optimum {
    /// Weight per ticker (sum 1).
    pub weights: std::collections::BTreeMap<String, f64>,
    /// Annualised expected return.
    pub expected_return: f64,
    /// Annualised volatility.
    pub volatility: f64,
    /// (return - 4 %) / volatility.
    pub sharpe_ratio: f64,
    /// Portfolios evaluated.
    pub iterations: u64,
    /// CPU time spent, ms.
    pub compute_ms: f64,
}

/// Searches for `budget` (at least [`MIN_ITERATIONS`] portfolios). Blocking: call it from
/// `spawn_blocking`.
pub(crate) fn optimise(
    tickers: &[&'static TickerInfo],
    end: chrono::NaiveDate,
    budget: Duration,
    seed: u64,
) -> Optimum {
    let start_time = Instant::now();
    let start = end - chrono::Duration::days(365);
    let returns: Vec<Vec<f64>> = tickers
        .iter()
        .map(|t| {
            let closes: Vec<f64> = market::bars(t, start, end)
                .iter()
                .map(|b| b.close)
                .collect();
            closes.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
        })
        .collect();
    let n = tickers.len();
    let len = returns.iter().map(Vec::len).min().unwrap_or(0).max(1);
    let mean: Vec<f64> = returns
        .iter()
        .map(|r| r.iter().take(len).sum::<f64>() / len as f64)
        .collect();
    let mut cov = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let c = (0..len.min(returns[i].len()))
                .map(|k| (returns[i][k] - mean[i]) * (returns[j][k] - mean[j]))
                .sum::<f64>()
                / (len as f64 - 1.0).max(1.0);
            cov[i][j] = c;
            cov[j][i] = c;
        }
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut w = vec![0.0; n];
    let mut best = (f64::NEG_INFINITY, vec![1.0 / n.max(1) as f64; n], 0.0, 0.0);
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS
        && (iterations < MIN_ITERATIONS || (iterations % 64 != 0 || start_time.elapsed() < budget))
    {
        iterations += 1;
        // Exponential draws normalised: uniform over the simplex.
        let mut total = 0.0;
        for x in &mut w {
            *x = -(1.0 - rng.random::<f64>()).ln();
            total += *x;
        }
        w.iter_mut().for_each(|x| *x /= total);
        let ret = w.iter().zip(&mean).map(|(a, b)| a * b).sum::<f64>() * TRADING_DAYS;
        let mut var = 0.0;
        for i in 0..n {
            for j in 0..n {
                var += w[i] * w[j] * cov[i][j];
            }
        }
        let vol = (var * TRADING_DAYS).sqrt();
        let sharpe = if vol > 0.0 {
            (ret - RISK_FREE) / vol
        } else {
            0.0
        };
        if sharpe > best.0 {
            best = (sharpe, w.clone(), ret, vol);
        }
    }
    let r4 = |x: f64| {
        if x.is_finite() {
            (x * 10_000.0).round() / 10_000.0
        } else {
            0.0
        }
    };
    Optimum {
        weights: tickers
            .iter()
            .zip(&best.1)
            .map(|(t, w)| (t.symbol.to_owned(), r4(*w)))
            .collect(),
        expected_return: r4(best.2),
        volatility: r4(best.3),
        sharpe_ratio: r4(best.0),
        iterations,
        compute_ms: (start_time.elapsed().as_secs_f64() * 1e6).round() / 1e3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_a_budget_buys_more_iterations() {
        let tickers: Vec<_> = market::UNIVERSE[..4].iter().collect();
        let end = chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();
        let quick = optimise(&tickers, end, Duration::ZERO, 1);
        assert_eq!(quick.iterations, MIN_ITERATIONS);
        let sum: f64 = quick.weights.values().sum();
        assert!((sum - 1.0).abs() < 1e-3, "{sum}");
        let busy = optimise(&tickers, end, Duration::from_millis(30), 1);
        assert!(busy.iterations > MIN_ITERATIONS, "{busy:?}");
        assert!(busy.compute_ms >= 30.0, "{busy:?}");
        assert!(busy.sharpe_ratio >= quick.sharpe_ratio - 1e-9);
    }
}
