//! The two p-values a comparison uses besides the quantile intervals: Fisher's exact
//! test for two failure ratios, and Welch's z-test for two means.

use statrs::distribution::{ContinuousCDF, DiscreteCDF, Hypergeometric, Normal};

/// Two-sided p-value of Fisher's exact test: are `x1` failures of `n1` requests and `x2`
/// of `n2` the same failure ratio? Conditional on the x1 + x2 failures, the current
/// run's share is hypergeometric; the p-value doubles the smaller tail (conservative).
/// Exact for any counts, where the normal two-proportion z-test misleads when failures
/// are few.
pub(crate) fn fisher_exact(x1: u64, n1: u64, x2: u64, n2: u64) -> f64 {
    let failures = x1 + x2;
    if failures == 0 || failures == n1 + n2 {
        return 1.0;
    }
    let Ok(h) = Hypergeometric::new(n1 + n2, failures, n2) else {
        return 1.0;
    };
    let at_most = h.cdf(x2);
    let at_least = if x2 == 0 { 1.0 } else { h.sf(x2 - 1) };
    (2.0 * at_most.min(at_least)).min(1.0)
}

/// Two-sided p-value of Welch's z-test for two means with their standard deviations
/// (the runs' thousands of requests make the normal limit exact enough).
pub(crate) fn welch(mean1: f64, sd1: f64, n1: u64, mean2: f64, sd2: f64, n2: u64) -> Option<f64> {
    if n1 < 2 || n2 < 2 {
        return None;
    }
    let se = (sd1 * sd1 / n1 as f64 + sd2 * sd2 / n2 as f64).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return Some(if mean1 == mean2 { 1.0 } else { 0.0 });
    }
    let z = ((mean2 - mean1) / se).abs();
    let normal = Normal::standard();
    Some((2.0 * normal.sf(z)).min(1.0))
}

/// The half-width of Welch's interval for the difference of two means at level alpha.
pub(crate) fn welch_half_width(sd1: f64, n1: u64, sd2: f64, n2: u64, alpha: f64) -> f64 {
    let se = (sd1 * sd1 / n1.max(1) as f64 + sd2 * sd2 / n2.max(1) as f64).sqrt();
    Normal::standard().inverse_cdf(1.0 - alpha / 2.0) * se
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fisher_matches_the_tea_tasting_table() {
        // Fisher's lady tasting tea: 3 of 4 against 1 of 4; two-sided p = 0.486.
        let p = fisher_exact(3, 4, 1, 4);
        assert!((p - 0.486).abs() < 0.001, "{p}");
        assert_eq!(fisher_exact(0, 100, 0, 100), 1.0);
        // 2% against 4% of 10 000 requests is far beyond chance...
        assert!(fisher_exact(200, 10_000, 400, 10_000) < 1e-10);
        // ...1.0% against 1.1% of 1000 is not.
        assert!(fisher_exact(10, 1000, 11, 1000) > 0.5);
    }

    #[test]
    fn welch_gives_the_normal_tail() {
        // A difference of 1.96 standard errors: p = 0.05.
        let p = welch(100.0, 10.0, 100, 102.772, 10.0, 100).unwrap();
        assert!((p - 0.05).abs() < 0.001, "{p}");
        assert!((welch_half_width(10.0, 100, 10.0, 100, 0.05) - 2.772).abs() < 0.01);
        assert_eq!(welch(1.0, 0.0, 1, 2.0, 0.0, 5), None);
    }
}
