//! Percentiles and average, per row, against the mock's server-side histogram of the
//! same requests. No bound here comes from the figures being judged.
//!
//! Each request the tool timed, c_i, is its server time s_i (the mock's record, from
//! arrival to the response written) plus the tool's overhead o_i >= 0. The tool's
//! requests are the mock's but for d = (mock's count - tool's) cut at stop, so its
//! r-th smallest time lies between the mock's r-th server time and its (r + k + d)-th
//! plus T, when at most k of the tool's requests have o_i > T.
//!
//! T and k come from the calibration, run before and apart from this run: its
//! (x+1)-th largest time against a mock that adds no delay is an overhead (plus the
//! mock's small handler time, which only widens it) at most T, Locust's bucket value
//! there plus half a bucket. If the run's overheads and the calibration's are drawn
//! alike (the calibration runs the same tool, file and users at no lower a request
//! rate), K, the run's count above the calibration's (x+1)-th largest, has an exact
//! law: K >= j exactly when the top x + j of both samples pooled hold at most x of the
//! calibration's, a hypergeometric event; k is the least j whose chance is below the
//! test's alpha. The timer probe's lateness beyond the calibration's is added to T: a
//! machine busier during the run than during the calibration delays the tool by that
//! much more.
//!
//! Locust reports each percentile as its bucket value (whole ms under 100, tens under
//! 1 000, hundreds under 10 000, thousands above), a monotone rounding: the reported
//! value lies between the bucket of the lower bound and the bucket of the upper.
//! loadgen reports the value itself (HdrHistogram, three digits, whole ms in its
//! tables); the accepted range takes in either rounding.
//!
//! The average is exact in Locust (a sum of unrounded times): it lies between the
//! mock's mean of the same requests and that plus the calibration's mean overhead with
//! a normal margin from both sample sizes and the calibration's spread.

use hdrhistogram::Histogram;

use super::Ctx;
use crate::check::Check;
use crate::checks::{ms, sci};
use crate::locust::output::{Row, PERCENTILES};
use crate::stat::{locust_rank, normal_upper, sum_lower, sum_upper, top_sum_upper, value_at_rank};

/// The percentiles checked.
pub(super) const CHECKED: [f64; 3] = [0.50, 0.95, 0.99];

/// Calibration percentiles tried as the overhead bound T.
const CANDIDATES: [f64; 5] = [0.90, 0.95, 0.99, 0.999, 1.0];

/// Statistical tests: per row with a route, each percentile and the average.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.rows().iter().filter(|(_, r)| r.is_some()).count() * (CHECKED.len() + 1) + 2
}

/// Half the width of Locust's response-time bucket at `v` ms: the most a time can
/// exceed the bucket value it is reported as.
pub(super) fn bucket_half_width(v: f64) -> f64 {
    if v < 100.0 {
        0.5
    } else if v < 1000.0 {
        5.0
    } else if v < 10_000.0 {
        50.0
    } else {
        500.0
    }
}

/// Locust's rounding of a response time (ms) into its bucket.
pub(super) fn bucket(v: f64) -> f64 {
    let step = bucket_half_width(v) * 2.0;
    if step <= 1.0 {
        v.round()
    } else {
        (v / step).round() * step
    }
}

/// The least j such that the run's n overheads put j or more above the calibration's
/// (x+1)-th largest of m with probability at most `alpha` (exchangeable samples).
pub(super) fn exceedances(n: u64, m: u64, x: u64, alpha: f64) -> u64 {
    use statrs::distribution::{DiscreteCDF, Hypergeometric};
    // The pooled top x + j hold at most x of the calibration's values.
    let chance =
        |j: u64| Hypergeometric::new(n + m, m, (x + j).min(n + m)).map_or(1.0, |h| h.cdf(x));
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if chance(mid) <= alpha {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// HdrHistogram's worst relative precision at three significant digits.
const HDR_RELATIVE: f64 = 1.0 / 1024.0;

/// What a tool may report for a time in `lower..upper` (ms): Locust rounds it into its
/// bucket; loadgen reports it exactly, to HdrHistogram's three digits, as whole ms.
pub(super) fn reported_range(lower: f64, upper: f64) -> (f64, f64) {
    (
        bucket(lower).min(lower * (1.0 - HDR_RELATIVE) - 0.5),
        bucket(upper).max(upper * (1.0 + HDR_RELATIVE) + 0.5),
    )
}

/// The overhead bound T (ms) and the number k of the run's n requests that may exceed
/// it, for each calibration candidate.
pub(super) fn overhead_candidates(ctx: &Ctx<'_>, n: u64, alpha: f64) -> Vec<(f64, u64, String)> {
    let cal = &ctx.ev.calibration;
    let m = cal.aggregated.requests;
    let a = alpha / CANDIDATES.len() as f64;
    CANDIDATES
        .iter()
        .filter_map(|&q| {
            let v = cal.aggregated.percentile(q)?;
            let t = v + bucket_half_width(v) + lag_excess_ms(ctx);
            let x = m - locust_rank(m, q);
            let k = exceedances(n, m, x, a);
            Some((t, k, format!("calibration p{} {v:.0} ms", q * 100.0)))
        })
        .collect()
}

/// How much later the run's timers fired than the calibration's (ms, at least 0).
fn lag_excess_ms(ctx: &Ctx<'_>) -> f64 {
    let cal = &ctx.ev.calibration.lag;
    ctx.ev.lag.slack.saturating_sub(cal.slack).as_secs_f64() * 1000.0
}

/// The bounds (ms, before Locust's rounding) of the tool's value of percentile `p` over
/// its n requests of a route whose server times the mock recorded in `h`; the upper
/// bound is infinite when every candidate's shift passes the top rank.
pub(super) fn rank_bounds(ctx: &Ctx<'_>, h: &Histogram<u64>, n: u64, p: f64) -> (f64, f64, String) {
    let n_m = h.len();
    let d = n_m.saturating_sub(n);
    let r = locust_rank(n, p);
    let at = |rank: u64| value_at_rank(h, rank.clamp(1, n_m.max(1)));
    let lower = at(r).map_or(0.0, |(lo, _)| lo as f64 / 1000.0);
    let mut best = (f64::INFINITY, String::new());
    for (t, k, how) in overhead_candidates(ctx, n, ctx.alpha) {
        if r + k + d > n_m {
            continue;
        }
        if let Some((_, hi)) = at(r + k + d) {
            let upper = hi as f64 / 1000.0 + t;
            if upper < best.0 {
                best = (
                    upper,
                    format!(
                        "mock rank {r}..{} + {t:.1} ms ({how}, {k} above it)",
                        r + k + d
                    ),
                );
            }
        }
    }
    (lower, best.0, best.1)
}

/// The bounds (ms) of the tool's average over its n requests of a route: the mock's
/// mean of them, and that plus the calibration's mean overhead with a normal margin
/// from both sample sizes and the calibration's spread.
pub(super) fn average_bounds(ctx: &Ctx<'_>, h: &Histogram<u64>, n: u64) -> (f64, f64, String) {
    let n = n.max(1);
    let d = h.len().saturating_sub(n);
    let lower = (sum_lower(h) - top_sum_upper(h, d)) / n as f64 / 1000.0;
    let cal = &ctx.ev.calibration.aggregated;
    let m = cal.requests.max(1) as f64;
    let sd = second_moment_upper(cal).sqrt();
    let z = normal_upper(ctx.alpha);
    let overhead = cal.avg_ms + cal.avg_resolution_ms + lag_excess_ms(ctx);
    let margin = z * sd * (1.0 / n as f64 + 1.0 / m).sqrt();
    let upper = sum_upper(h) / n.min(h.len()).max(1) as f64 / 1000.0 + overhead + margin;
    let how = format!(
        "mock mean of the same requests + calibration mean overhead {overhead:.2} ms + {margin:.2} ms (z={z:.2}, alpha={})",
        sci(ctx.alpha)
    );
    (lower, upper, how)
}

/// Every row's percentile and average checks.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    for (row, route) in ctx.rows() {
        let Some(route) = route else { continue };
        let label = format!("{} {}", row.method, row.name);
        let shared = ctx.rows().iter().filter(|(_, r)| *r == Some(route)).count() > 1;
        let h = ctx.server_histogram(route).filter(|h| !h.is_empty());
        let Some(h) = h.filter(|_| !shared && row.requests > 0) else {
            out.push(Check::skip(
                format!("latency {label}"),
                "no requests, or the mock's route is shared by several rows",
            ));
            continue;
        };
        for p in CHECKED {
            out.push(percentile(ctx, row, &h, p));
        }
        out.push(average(ctx, row, &h));
    }
    out
}

fn percentile(ctx: &Ctx<'_>, row: &Row, h: &Histogram<u64>, p: f64) -> Check {
    let name = format!("latency {} {} p{} vs mock", row.method, row.name, p * 100.0);
    let Some(v) = row.percentile(p) else {
        return Check::skip(name, "the tool reported N/A");
    };
    let (lower, upper, how) = rank_bounds(ctx, h, row.requests, p);
    if upper.is_infinite() {
        return Check::skip(
            name,
            format!(
                "no upper bound: with {} requests every calibration bound's rank shift passes the top rank",
                row.requests
            ),
        );
    }
    let (lo, hi) = reported_range(lower, upper);
    let mock = value_at_rank(h, locust_rank(h.len(), p)).map_or(0.0, |(lo, _)| lo as f64 / 1000.0);
    Check::new(
        name,
        format!("{} (mock, same rank)", ms(mock)),
        format!("{} (n={}, mock n={})", ms(v), row.requests, h.len()),
        format!(
            "{}..{} = {}..{} as rounded ({}; detects a shift of {:+.0}%/{:+.0}%)",
            ms(lo),
            ms(hi),
            ms(lower),
            ms(upper),
            how,
            100.0 * (lo / mock.max(1e-9) - 1.0),
            100.0 * (hi / mock.max(1e-9) - 1.0)
        ),
        v >= lo && v <= hi,
    )
}

/// An upper bound of the calibration's mean squared overhead (ms^2): each band between
/// two reported percentiles at the upper one's bucket top.
fn second_moment_upper(row: &Row) -> f64 {
    let mut prev = 0.0;
    let mut sum = 0.0;
    for (p, v) in PERCENTILES.iter().zip(&row.percentiles) {
        let Some(v) = v else { continue };
        let top = v + bucket_half_width(*v);
        sum += (p - prev) * top * top;
        prev = *p;
    }
    sum
}

fn average(ctx: &Ctx<'_>, row: &Row, h: &Histogram<u64>) -> Check {
    let name = format!("latency {} {} average vs mock", row.method, row.name);
    let (lower, upper, how) = average_bounds(ctx, h, row.requests);
    let v = row.avg_ms;
    Check::new(
        name,
        format!("{} (mock mean)", ms(h.mean() / 1000.0)),
        format!("{} (n={})", ms(v), row.requests),
        format!("{}..{} = {how}", ms(lower), ms(upper)),
        v + row.avg_resolution_ms >= lower && v <= upper,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_locust() {
        assert_eq!(bucket(57.4), 57.0);
        assert_eq!(bucket(147.0), 150.0);
        assert_eq!(bucket(3432.0), 3400.0);
        assert_eq!(bucket(58_760.0), 59_000.0);
        assert_eq!(bucket_half_width(999.0), 5.0);
    }

    #[test]
    fn exceedances_shrink_with_a_larger_calibration() {
        // Equal samples, x = 0: P(K >= j) = C(n, j) / C(2n, j), about 2^-j.
        let k = exceedances(1000, 1000, 0, 1e-6);
        assert!((19..=21).contains(&k), "{k}");
        assert!(exceedances(1000, 10_000, 0, 1e-6) < 8);
        assert!(exceedances(1000, 1000, 10, 1e-6) > k);
    }
}
