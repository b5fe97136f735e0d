//! What a statistical check could detect at its sample size, in the words its tolerance
//! prints ("detects a shift beyond -9%/+14% at n=2,600").
//!
//! A two-sided acceptance region [lo, hi] around the expected value e fails a system
//! whose true value moved past either end at least half the time (the measured value is
//! then as likely above the end as below it): the region's ends, relative to e, are the
//! shifts the check detects with 50% power. A band that does not reach its end on one
//! side (an unbounded upper end) says so instead of a number.

/// `n` with thousands separators (2,600).
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The relative shifts (negative, positive) at which the region [lo, hi] around
/// `expected` ends; `None` for an end that is not finite or an expected value of zero.
pub(crate) fn relative_ends(expected: f64, lo: f64, hi: f64) -> (Option<f64>, Option<f64>) {
    if !(expected.is_finite() && expected > 0.0) {
        return (None, None);
    }
    let rel = |v: f64| v.is_finite().then(|| v / expected - 1.0);
    (rel(lo), rel(hi))
}

/// "detects a shift beyond -9%/+14% at n=2,600": the smallest relative change of the
/// checked figure (a quantile, a rate, a mean) that the region [lo, hi] around
/// `expected` fails at least half the time.
pub(crate) fn shift(expected: f64, lo: f64, hi: f64, n: u64) -> String {
    let pct = |v: Option<f64>, sign: char| match v {
        Some(v) => format!("{sign}{:.0}%", (v * 100.0).abs()),
        None => format!("{sign}unbounded"),
    };
    let (down, up) = relative_ends(expected, lo, hi);
    // A region whose lower end is at zero cannot see a fall, whatever its size.
    let down = down.filter(|d| *d > -1.0);
    format!(
        "detects a shift beyond {}/{} at n={}",
        pct(down, '-'),
        pct(up, '+'),
        count(n)
    )
}

/// "detects a share moved by 2.1 points between A and B at n=...": a chi-square test of
/// shares `weights` (any scale) with critical value `critical` notices, at 50% power,
/// a move of d of the probability from the lightest of the two heaviest categories to
/// the heaviest, where n d^2 (1/p1 + 1/p2) reaches the critical value (the statistic's
/// centre, less its degrees of freedom, under the move).
pub(crate) fn share_shift(weights: &[f64], critical: f64, df: u64, n: u64) -> Option<f64> {
    let total: f64 = weights.iter().sum();
    let mut shares: Vec<f64> = weights.iter().map(|w| w / total).collect();
    shares.sort_by(|a, b| b.total_cmp(a));
    let (p1, p2) = (*shares.first()?, *shares.get(1)?);
    if n == 0 || p2 <= 0.0 {
        return None;
    }
    let lambda = (critical - df as f64).max(0.0);
    Some((lambda / (n as f64 * (1.0 / p1 + 1.0 / p2))).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(7), "7");
        assert_eq!(count(2600), "2,600");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn a_band_prints_its_relative_ends() {
        assert_eq!(
            shift(4000.0, 2406.0, 7604.0, 300),
            "detects a shift beyond -40%/+90% at n=300"
        );
        assert_eq!(
            shift(100.0, 0.0, f64::INFINITY, 10),
            "detects a shift beyond -unbounded/+unbounded at n=10"
        );
        assert_eq!(relative_ends(0.0, 1.0, 2.0), (None, None));
    }

    /// The share a chi-square test detects falls as 1/sqrt(n), and a move of that size
    /// between the two heaviest categories brings the statistic to its critical value.
    #[test]
    fn the_detectable_share_is_where_the_statistic_reaches_its_critical_value() {
        let w = [5.0, 4.0, 1.0];
        let d1 = share_shift(&w, 20.0, 2, 1000).unwrap();
        let d4 = share_shift(&w, 20.0, 2, 4000).unwrap();
        assert!((d1 / d4 - 2.0).abs() < 1e-9, "{d1} {d4}");
        let n = 1000.0;
        let observed = [n * (0.5 + d1), n * (0.4 - d1), n * 0.1];
        let stat: f64 = observed
            .iter()
            .zip([0.5, 0.4, 0.1])
            .map(|(o, p)| (o - n * p).powi(2) / (n * p))
            .sum();
        assert!((stat - 18.0).abs() < 1e-6, "{stat}");
        assert_eq!(share_shift(&[1.0], 20.0, 0, 100), None);
    }
}
