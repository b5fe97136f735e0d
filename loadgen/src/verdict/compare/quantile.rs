//! Distribution-free confidence intervals for one run's percentile, from its
//! HdrHistogram or from Locust's rounded percentile columns.
//!
//! For n independent draws of a continuous distribution, the number of draws below the
//! true q-quantile is Binomial(n, q); so the order statistics X_(l) and X_(u) bracket
//! the quantile with probability P(l <= B < u), whatever the distribution. We pick the
//! widest-needed ranks from the binomial's tails (at most `alpha / 2` each) and read the
//! values at those ranks: from a histogram, the lowest value of the bucket at rank l and
//! the highest of the bucket at rank u (so the 0.1% bucketing only widens the interval);
//! from Locust's CSV, the nearest reported columns outside those ranks, each widened by
//! Locust's rounding of response times (1 ms below 100 ms, 10 ms below 1 s, 100 ms below
//! 10 s, 1 s above).

use hdrhistogram::Histogram;
use statrs::distribution::{Binomial, DiscreteCDF};

/// Where one run's latencies come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Latency {
    /// An HdrHistogram in microseconds (a loadgen JSON report), as its recorded buckets.
    Histogram(Buckets),
    /// Locust's reported percentile columns: (quantile, rounded ms), ascending, the last
    /// one the 100% column; and the rounded minimum.
    Locust {
        /// `(0.5, 28.0)`, ..., `(1.0, 61.0)`.
        columns: Vec<(f64, f64)>,
        /// Locust's (rounded) minimum response time.
        min_ms: f64,
    },
}

/// A histogram's recorded buckets, walked once: each bucket's (running count, lowest
/// and highest equivalent value in µs), so every rank is a binary search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Buckets {
    cumulative: Vec<(u64, u64, u64)>,
    /// Mean, ms (each value at its bucket's middle).
    pub mean_ms: f64,
    /// Standard deviation, ms.
    pub sd_ms: f64,
}

impl Buckets {
    /// The recorded buckets of `h`.
    pub fn new(h: &Histogram<u64>) -> Self {
        let mut cumulative = Vec::new();
        let (mut seen, mut sum, mut squares) = (0u64, 0.0, 0.0);
        for v in h.iter_recorded() {
            let x = v.value_iterated_to();
            let n = v.count_at_value();
            seen = seen.saturating_add(n);
            cumulative.push((seen, h.lowest_equivalent(x), h.highest_equivalent(x)));
            let mid = h.median_equivalent(x) as f64 / 1000.0;
            sum += mid * n as f64;
            squares += mid * mid * n as f64;
        }
        let count = seen.max(1) as f64;
        let mean_ms = sum / count;
        Self {
            cumulative,
            mean_ms,
            sd_ms: (squares / count - mean_ms * mean_ms).max(0.0).sqrt(),
        }
    }

    /// How many values were recorded.
    pub fn len(&self) -> u64 {
        self.cumulative.last().map_or(0, |c| c.0)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bucket (lowest, highest equivalent value, µs) holding the value at 1-based
    /// `rank` (the last bucket past the end).
    fn at_rank(&self, rank: u64) -> Option<(u64, u64)> {
        let i = self.cumulative.partition_point(|c| c.0 < rank);
        self.cumulative
            .get(i)
            .or(self.cumulative.last())
            .map(|&(_, lo, hi)| (lo, hi))
    }
}

/// A confidence interval for a quantile, in ms; `hi` is infinite when the ranks needed
/// run past the largest draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound, ms.
    pub lo: f64,
    /// Upper bound, ms.
    pub hi: f64,
}

/// Locust's rank for quantile `q` among `n` values: floor(n q) + 1, capped at n.
pub(crate) fn locust_rank(n: u64, q: f64) -> u64 {
    ((n as f64 * q.clamp(0.0, 1.0)) as u64 + 1).clamp(1, n.max(1))
}

/// Ranks (l, u), 1-based, with P(X_(l) <= quantile q <= X_(u)) >= 1 - alpha for n
/// draws; l is 0 when no draw is low enough (the bound is then the lowest possible
/// value) and u is n + 1 when none is high enough (no upper bound).
pub(crate) fn rank_bounds(n: u64, q: f64, alpha: f64) -> (u64, u64) {
    let Ok(b) = Binomial::new(q.clamp(0.0, 1.0), n) else {
        return (0, n + 1);
    };
    // l: the largest rank with P(B <= l - 1) <= alpha / 2 (monotone: binary search).
    let (mut lo, mut hi) = (0u64, n);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if b.cdf(mid - 1) <= alpha / 2.0 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let l = lo;
    // u: the smallest rank with P(B >= u) <= alpha / 2, that is P(B > u - 1) <= alpha / 2.
    let (mut lo, mut hi) = (1u64, n + 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if b.sf(mid - 1) <= alpha / 2.0 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    (l, lo)
}

impl Latency {
    /// The run's reported q-quantile in ms (Locust's rank; for a histogram the top of
    /// the bucket at that rank, as loadgen's tables print it).
    pub fn point(&self, n: u64, q: f64) -> Option<f64> {
        match self {
            Self::Histogram(h) => h
                .at_rank(locust_rank(n, q))
                .map(|(_, top)| top as f64 / 1000.0),
            Self::Locust { columns, .. } => columns
                .iter()
                .find(|(c, _)| (c - q).abs() < 1e-9)
                .map(|&(_, v)| v),
        }
    }

    /// An interval holding the true q-quantile with probability >= 1 - alpha, for a run
    /// of n requests.
    pub fn interval(&self, n: u64, q: f64, alpha: f64) -> Option<Interval> {
        if n == 0 {
            return None;
        }
        let (l, u) = rank_bounds(n, q, alpha);
        match self {
            Self::Histogram(h) => {
                let lo = match l {
                    0 => 0.0,
                    l => h.at_rank(l)?.0 as f64 / 1000.0,
                };
                let hi = if u > n {
                    f64::INFINITY
                } else {
                    h.at_rank(u)?.1 as f64 / 1000.0
                };
                Some(Interval { lo, hi })
            }
            Self::Locust { columns, min_ms } => {
                // The highest column at or below rank l, the lowest at or above rank u.
                let lo = columns
                    .iter()
                    .rev()
                    .find(|(c, _)| l >= 1 && locust_rank(n, *c) <= l)
                    .map_or((min_ms - 0.5).max(0.0), |&(_, v)| v - rounding_below(v));
                let hi = if u > n {
                    f64::INFINITY
                } else {
                    columns
                        .iter()
                        .find(|(c, _)| locust_rank(n, *c) >= u)
                        .map_or(f64::INFINITY, |&(_, v)| v + rounding_above(v))
                };
                Some(Interval { lo, hi })
            }
        }
    }
}

/// The width of Locust's response-time bucket holding `ms` (`bucket_response_time`).
fn locust_bucket_width(ms: f64) -> f64 {
    match ms {
        x if x < 100.0 => 1.0,
        x if x < 1000.0 => 10.0,
        x if x < 10_000.0 => 100.0,
        _ => 1000.0,
    }
}

/// How far below a Locust-rounded value `v` the true value may lie: half the width of
/// the bucket just below v (99.6 ms is reported as 100).
pub(crate) fn rounding_below(v: f64) -> f64 {
    locust_bucket_width(v - 0.5) / 2.0
}

/// How far above a Locust-rounded value `v` the true value may lie.
pub(crate) fn rounding_above(v: f64) -> f64 {
    locust_bucket_width(v) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn rank_bounds_hold_their_coverage_and_shrink_with_n() {
        let (l, u) = rank_bounds(1000, 0.5, 0.05);
        // Tabled: 1000 draws, 95%: ranks 470 and 532 (normal approximation 469..531).
        assert!(
            (468..=471).contains(&l) && (530..=533).contains(&u),
            "{l} {u}"
        );
        let b = Binomial::new(0.5, 1000).unwrap();
        assert!(b.cdf(l - 1) <= 0.025 && b.cdf(l) > 0.025);
        assert!(b.sf(u - 1) <= 0.025 && b.sf(u - 2) > 0.025);
        let (l2, u2) = rank_bounds(100_000, 0.5, 0.05);
        assert!((u2 - l2) as f64 / 100_000.0 < (u - l) as f64 / 1000.0 / 5.0);
        // Too few draws for a 99.9% bound on p99: no upper bound.
        assert_eq!(rank_bounds(50, 0.99, 0.001).1, 51);
        assert_eq!(rank_bounds(50, 0.01, 0.001).0, 0);
    }

    #[test]
    fn histogram_intervals_cover_the_true_quantile_as_often_as_promised() {
        // Uniform 0..1000 ms: the true median is 500 ms. At alpha = 0.1, over 400
        // seeds, misses are Binomial(400, <= 0.1): more than 62 happens with
        // probability below 1e-4.
        let mut misses = 0;
        for seed in 0..400 {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut h = Histogram::<u64>::new(3).unwrap();
            for _ in 0..500 {
                h.record(rng.random_range(0..1_000_000)).unwrap();
            }
            let i = Latency::Histogram(Buckets::new(&h))
                .interval(500, 0.5, 0.1)
                .unwrap();
            misses += usize::from(!(i.lo <= 500.0 && 500.0 <= i.hi));
        }
        assert!(misses <= 62, "{misses} misses of 400");
        assert!(
            misses >= 5,
            "{misses} misses of 400: the interval is far too wide"
        );
    }

    #[test]
    fn locust_columns_bracket_with_their_rounding() {
        let columns = vec![
            (0.5, 28.0),
            (0.66, 30.0),
            (0.75, 31.0),
            (0.8, 31.0),
            (0.9, 32.0),
            (0.95, 33.0),
            (0.98, 37.0),
            (0.99, 39.0),
            (1.0, 61.0),
        ];
        let l = Latency::Locust {
            columns,
            min_ms: 22.0,
        };
        assert_eq!(l.point(486, 0.95), Some(33.0));
        let i = l.interval(486, 0.95, 0.05).unwrap();
        // Ranks for p95 of 486 at 95%: about 453..471, between the 90% (438) and 98%
        // (477) columns.
        assert_eq!((i.lo, i.hi), (31.5, 37.5));
        let m = l.interval(486, 0.5, 0.05).unwrap();
        assert_eq!(
            m.lo, 21.5,
            "below the 50% column only the minimum bounds it"
        );
        assert_eq!((rounding_below(100.0), rounding_above(100.0)), (0.5, 5.0));
        assert_eq!(
            (rounding_below(1000.0), rounding_above(1000.0)),
            (5.0, 50.0)
        );
    }

    #[test]
    fn points_follow_locusts_rank() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in 1..=100u64 {
            h.record(v * 1000).unwrap();
        }
        let l = Latency::Histogram(Buckets::new(&h));
        // The top of each value's bucket: within HdrHistogram's 0.1%.
        for (q, want) in [(0.5, 51.0), (0.95, 96.0), (1.0, 100.0)] {
            let got = l.point(100, q).unwrap();
            assert!(got >= want && got < want * 1.001, "{q}: {got}");
        }
    }
}
