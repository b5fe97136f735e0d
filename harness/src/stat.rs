//! The statistics behind the tolerances: order-statistic confidence bounds, binomial
//! acceptance regions, the chi-square critical value, the Dvoretzky-Kiefer-Wolfowitz
//! bound for Kolmogorov-Smirnov tests, and rank lookups in HdrHistograms.
//!
//! Every statistical check is given a false-failure probability `alpha` from one run's
//! family-wise error rate (see [`FAMILY_WISE_ALPHA`]), split evenly across the run's
//! independent statistical claims (Bonferroni): the union bound then keeps the chance
//! that a correct system fails any check below the rate, whatever the dependence
//! between checks. Checks that repeat another's numbers are not made, so they take no
//! share; exact checks (counts, rank bounds that involve no probability) take none.

use hdrhistogram::Histogram;
use statrs::distribution::{Beta, Binomial, ChiSquared, ContinuousCDF, DiscreteCDF};

/// The chance, per run, that a correct system fails some statistical check: one run in a
/// thousand. A band's half-width grows with the normal quantile of alpha / (2 m) for m
/// claims, slowly (4.1 at 1e-3 over 20 claims against 4.6 at the former 1e-4 over 29),
/// so a rarer false alarm buys little; a test run with a fixed seed draws the same
/// latencies and failures for the same request counts, so a seeded test is no more
/// likely to flip than the run is to land on a band's edge.
pub const FAMILY_WISE_ALPHA: f64 = 1e-3;

/// Locust's rank for percentile `p` of `n` values: floor(n p) + 1, capped at n, at
/// least 1 (the rank loadgen reports).
pub fn locust_rank(n: u64, p: f64) -> u64 {
    ((n as f64 * p.clamp(0.0, 1.0)) as u64 + 1).clamp(1, n.max(1))
}

/// Where the r-th smallest of `n` independent draws falls, in probability: with
/// probability at least 1 - alpha, F(X_(r)) lies in the returned `[lo, hi]`, because
/// F(X_(r)) of a continuous F is Beta(r, n + 1 - r) distributed.
pub fn order_statistic_bounds(n: u64, r: u64, alpha: f64) -> (f64, f64) {
    let r = r.clamp(1, n.max(1));
    match Beta::new(r as f64, (n + 1 - r) as f64) {
        Ok(beta) => (
            beta.inverse_cdf(alpha / 2.0).clamp(0.0, 1.0),
            beta.inverse_cdf(1.0 - alpha / 2.0).clamp(0.0, 1.0),
        ),
        Err(_) => (0.0, 1.0),
    }
}

/// The counts a Binomial(n, p) variable takes with probability at least 1 - alpha: the
/// smallest `lo` with P(X < lo) <= alpha/2 ... the largest `hi` with P(X > hi) <= alpha/2.
pub fn binomial_acceptance(n: u64, p: f64, alpha: f64) -> (u64, u64) {
    if p <= 0.0 {
        return (0, 0);
    }
    if p >= 1.0 {
        return (n, n);
    }
    let Ok(b) = Binomial::new(p, n) else {
        return (0, n);
    };
    // lo: largest k with P(X <= k - 1) <= alpha / 2.
    let mut lo = 0;
    while lo < n && b.cdf(lo) <= alpha / 2.0 {
        lo += 1;
    }
    // hi: smallest k with P(X > k) <= alpha / 2.
    let mut hi = n;
    while hi > 0 && b.sf(hi - 1) <= alpha / 2.0 {
        hi -= 1;
    }
    (lo, hi.max(lo))
}

/// The Clopper-Pearson upper bound on a probability seen `x` times in `m` trials: with
/// probability at least 1 - alpha the true probability is no larger.
pub fn binomial_upper(x: u64, m: u64, alpha: f64) -> f64 {
    if x >= m {
        return 1.0;
    }
    match Beta::new(x as f64 + 1.0, (m - x) as f64) {
        Ok(b) => b.inverse_cdf(1.0 - alpha).clamp(0.0, 1.0),
        Err(_) => 1.0,
    }
}

/// The chi-square statistic's critical value for `df` degrees of freedom at level alpha.
pub fn chi_square_critical(df: u64, alpha: f64) -> f64 {
    match ChiSquared::new(df.max(1) as f64) {
        Ok(c) => c.inverse_cdf(1.0 - alpha),
        Err(_) => f64::INFINITY,
    }
}

/// Pearson's chi-square statistic of observed counts against expected proportions.
pub fn chi_square(observed: &[u64], proportions: &[f64]) -> f64 {
    let n: u64 = observed.iter().sum();
    let total: f64 = proportions.iter().sum();
    observed
        .iter()
        .zip(proportions)
        .map(|(&o, &p)| {
            let e = n as f64 * p / total;
            if e > 0.0 {
                (o as f64 - e).powi(2) / e
            } else if o > 0 {
                f64::INFINITY
            } else {
                0.0
            }
        })
        .sum()
}

/// The Dvoretzky-Kiefer-Wolfowitz bound (Massart's constant): an empirical CDF of `n`
/// draws is within epsilon of the true CDF everywhere with probability >= 1 - alpha.
/// Valid for every n, unlike the asymptotic Kolmogorov table.
pub fn dkw_epsilon(n: u64, alpha: f64) -> f64 {
    ((2.0 / alpha).ln() / (2.0 * n.max(1) as f64)).sqrt()
}

/// Kolmogorov-Smirnov distance of `samples` from Uniform[lo, hi] when each sample may
/// also carry a delay in [0, slack] (a timer that never fires early but may fire late):
/// the empirical CDF must lie between F(x - slack) and F(x); the result is how far it
/// strays outside that band (0 when inside).
pub fn ks_uniform_with_delay(samples: &[f64], lo: f64, hi: f64, slack: f64) -> f64 {
    let mut xs: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    let cdf = |x: f64| {
        if hi <= lo {
            f64::from(u8::from(x >= lo))
        } else {
            ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
        }
    };
    let mut d: f64 = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        let above = (i as f64 + 1.0) / n - cdf(x);
        let below = cdf(x - slack) - i as f64 / n;
        d = d.max(above).max(below);
    }
    d
}

/// The recorded value at 1-based `rank` of a histogram, as the range of values its
/// bucket covers: (lowest equivalent, highest equivalent). `None` when empty.
pub fn value_at_rank(h: &Histogram<u64>, rank: u64) -> Option<(u64, u64)> {
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen = seen.saturating_add(v.count_at_value());
        if seen >= rank {
            let x = v.value_iterated_to();
            return Some((h.lowest_equivalent(x), h.highest_equivalent(x)));
        }
    }
    let max = h.max();
    (!h.is_empty()).then(|| (h.lowest_equivalent(max), h.highest_equivalent(max)))
}

/// The sum of a histogram's values, as a lower bound (each bucket at its lowest value).
pub fn sum_lower(h: &Histogram<u64>) -> f64 {
    h.iter_recorded()
        .map(|v| h.lowest_equivalent(v.value_iterated_to()) as f64 * v.count_at_value() as f64)
        .sum()
}

/// The sum of a histogram's values, as an upper bound (each bucket at its highest value).
pub fn sum_upper(h: &Histogram<u64>) -> f64 {
    h.iter_recorded()
        .map(|v| h.highest_equivalent(v.value_iterated_to()) as f64 * v.count_at_value() as f64)
        .sum()
}

/// The sum of the `k` largest values of a histogram, as an upper bound.
pub fn top_sum_upper(h: &Histogram<u64>, k: u64) -> f64 {
    let mut left = k;
    let mut sum = 0.0;
    let values: Vec<_> = h.iter_recorded().collect();
    for v in values.iter().rev() {
        if left == 0 {
            break;
        }
        let take = left.min(v.count_at_value());
        sum += h.highest_equivalent(v.value_iterated_to()) as f64 * take as f64;
        left -= take;
    }
    sum
}

/// The standard normal quantile at `1 - alpha` (one-sided).
pub fn normal_upper(alpha: f64) -> f64 {
    use statrs::distribution::Normal;
    Normal::new(0.0, 1.0).map_or(f64::INFINITY, |n| n.inverse_cdf(1.0 - alpha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_locust() {
        assert_eq!(locust_rank(100, 0.5), 51);
        assert_eq!(locust_rank(100, 0.99), 100);
        assert_eq!(locust_rank(100, 1.0), 100);
        assert_eq!(locust_rank(0, 0.5), 1);
    }

    #[test]
    fn order_statistic_bounds_contain_the_quantile_and_shrink_with_n() {
        let (lo, hi) = order_statistic_bounds(1000, 501, 1e-6);
        assert!(lo < 0.5 && hi > 0.5, "{lo} {hi}");
        let (lo2, hi2) = order_statistic_bounds(100_000, 50_001, 1e-6);
        assert!(hi2 - lo2 < (hi - lo) / 5.0);
    }

    /// The exact region, and its defining tail probabilities checked one count either
    /// side: each tail outside holds at most alpha / 2, one count further in more.
    #[test]
    fn binomial_region_is_the_exact_one() {
        let alpha = 1e-6;
        assert_eq!(binomial_acceptance(1000, 0.1, alpha), (57, 149));
        let b = Binomial::new(0.1, 1000).unwrap();
        assert!(b.cdf(56) <= alpha / 2.0 && b.cdf(57) > alpha / 2.0);
        assert!(b.sf(149) <= alpha / 2.0 && b.sf(148) > alpha / 2.0);
        assert_eq!(binomial_acceptance(50, 0.0, alpha), (0, 0));
        assert_eq!(binomial_acceptance(50, 1.0, alpha), (50, 50));
    }

    #[test]
    fn clopper_pearson_bounds_the_rate_from_above() {
        let u = binomial_upper(6, 6000, 1e-6);
        assert!(u > 0.001 && u < 0.006, "{u}");
        assert_eq!(binomial_upper(5, 5, 1e-6), 1.0);
        assert!(binomial_upper(0, 1000, 1e-6) < 0.02);
    }

    #[test]
    fn chi_square_matches_tables() {
        // Tabled: 2 degrees of freedom, 5%: 5.991.
        assert!((chi_square_critical(2, 0.05) - 5.991).abs() < 0.01);
        assert_eq!(chi_square(&[50, 40, 10], &[5.0, 4.0, 1.0]), 0.0);
    }

    #[test]
    fn ks_band_tolerates_delays_up_to_the_slack_only() {
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
        assert!(ks_uniform_with_delay(&xs, 0.0, 1.0, 0.0) < 0.002);
        let late: Vec<f64> = xs.iter().map(|x| x + 0.01).collect();
        assert!(ks_uniform_with_delay(&late, 0.0, 1.0, 0.01) < 0.002);
        assert!(ks_uniform_with_delay(&late, 0.0, 1.0, 0.0) > 0.009);
        let squeezed: Vec<f64> = xs.iter().map(|x| x * x).collect();
        assert!(ks_uniform_with_delay(&squeezed, 0.0, 1.0, 0.01) > 0.2);
    }

    #[test]
    fn histogram_ranks_give_bucket_ranges() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let (lo, hi) = value_at_rank(&h, 500).unwrap();
        assert!(lo <= 5000 && 5000 <= hi, "{lo} {hi}");
        // Both bounds on both sides: below (above) the true sum, and no further from it
        // than three significant digits allow (a bucket spans at most 1/1024 of its value).
        let sum = 5_005_000.0;
        let (lower, upper) = (sum_lower(&h), sum_upper(&h));
        assert!(
            lower <= sum && lower >= sum * (1.0 - 1.0 / 1024.0),
            "{lower}"
        );
        assert!(
            upper >= sum && upper <= sum * (1.0 + 1.0 / 1024.0),
            "{upper}"
        );
        assert!(
            lower < upper,
            "values above 2048 fall in buckets wider than 1"
        );

        assert!(top_sum_upper(&h, 2) >= 19_990.0 && top_sum_upper(&h, 2) < 20_100.0);
        assert!((normal_upper(0.025) - 1.96).abs() < 0.01);
    }
}
