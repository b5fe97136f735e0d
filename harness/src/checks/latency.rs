//! Percentiles, per loadgen row, at 50, 90, 95 and 99%:
//!
//! - **vs profile**: loadgen's value (Locust's rank r = floor(n p) + 1) against the
//!   profile's analytic quantile Q(p). The r-th smallest of n independent draws has
//!   F(X_(r)) ~ Beta(r, n + 1 - r), so with probability 1 - alpha the configured
//!   latencies' r-th value lies in [Q(b_lo), Q(b_hi)], b the Beta's alpha/2 quantiles.
//!   A measured time is the configured latency plus the mock's delay error (its own
//!   per-response record of actual minus intended time; at most a slack t but for the
//!   k responses later still, which move the rank the upper bound reads) plus the
//!   client-side overhead, measured per row and
//!   percentile as loadgen's value minus the mock's own value of the same rank. It is
//!   never below the configured latency (the mock answers at arrival + latency, never
//!   sooner). HdrHistogram's three digits add at most 1/1024 relative.
//! - **vs mock**: loadgen's value against the mock's server-side histogram of the same
//!   requests. Each request's client time is its server time plus an overhead o_i >= 0
//!   whose mean m is known exactly (loadgen's exact sum minus the server histogram's
//!   lower-bound sum). Fewer than n m / t requests have o_i > t (Markov, on the sample
//!   itself), so server_(r) <= client_(r) <= server_(r + k) + n m / k for every k >= 1
//!   with r + k <= n, and <= server_(r) + n m (k = 0): no probability involved, the
//!   tightest k is used.

use hdrhistogram::Histogram;
use loadgen::stats::RequestStats;

use super::{ms, sci, Ctx};
use crate::check::Check;
use crate::stat::{
    binomial_acceptance, locust_rank, order_statistic_bounds, sum_lower, value_at_rank,
};

/// The percentiles checked.
pub(super) const PERCENTILES: [f64; 4] = [0.50, 0.90, 0.95, 0.99];

/// HdrHistogram's worst relative precision at three significant digits.
const HDR_RELATIVE: f64 = 1.0 / 1024.0;

/// Statistical tests this family makes: one per (row with a route, percentile).
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.rows()
        .iter()
        .filter(|(r, route)| {
            route.is_some_and(|route| !timing_altered(ctx, route)) && r.num_requests() > 0
        })
        .count()
        * PERCENTILES.len()
}

/// The mock's server-time histogram of a route (µs), if it has one.
pub(super) fn server_histogram(ctx: &Ctx<'_>, route: &str) -> Option<Histogram<u64>> {
    ctx.ev
        .server
        .routes
        .get(route)
        .and_then(|r| r.decode_histogram().ok())
}

/// Both checks for every row and percentile.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    for (row, route) in ctx.rows() {
        let Some(route) = route else {
            out.push(Check::skip(
                format!("latency {} {}", row.method, row.name),
                "no mock route matches this row",
            ));
            continue;
        };
        if row.num_requests() == 0 {
            continue;
        }
        let server = server_histogram(ctx, route).filter(|h| !h.is_empty());
        // Hangs and dribbles set these times, not the profile: no claim to make.
        if !timing_altered(ctx, route) {
            for p in PERCENTILES {
                out.push(vs_profile(ctx, row, route, server.as_ref(), p));
            }
        }
        for p in PERCENTILES {
            out.push(match &server {
                Some(h) => vs_mock(row, h, p, ctx.f()),
                None => Check::skip(
                    format!("latency {} {} p{} vs mock", row.method, row.name, pct(p)),
                    "the mock recorded no request of this route",
                ),
            });
        }
    }
    out
}

fn pct(p: f64) -> String {
    format!("{}", (p * 100.0).round())
}

/// Whether a route's failures change how long its requests take (a hang holds the
/// connection past the latency, a dribble sends the body slowly): its times then follow
/// no configured distribution.
pub(super) fn timing_altered(ctx: &Ctx<'_>, route: &str) -> bool {
    use mock_api::fault::FailureKind;
    ctx.exp.profile.behaviour(route).failures.iter().any(|f| {
        matches!(
            f.kind,
            FailureKind::Hang { .. } | FailureKind::Dribble { .. }
        )
    })
}

/// Where loadgen's p-th percentile of a row may fall, in wall milliseconds, when the
/// system is correct: (lower, upper, the configured quantile in unscaled ms, a text of
/// how the bounds were made). `None` without requests.
pub(super) fn quantile_interval(
    ctx: &Ctx<'_>,
    row: &RequestStats,
    route: &str,
    server: Option<&Histogram<u64>>,
    p: f64,
) -> Option<(f64, f64, f64, String)> {
    if timing_altered(ctx, route) {
        return None;
    }
    let f = ctx.f();
    let n = row.num_requests();
    let r = locust_rank(n, p);
    let measured = row.percentile_ms(p)?;
    let dist = &ctx.exp.profile.behaviour(route).latency;
    let q = |x: f64| dist.quantile(x).as_secs_f64() * 1000.0;
    let overhead = server
        .and_then(|h| value_at_rank(h, r.min(h.len())))
        .map_or(0.0, |(lo, _)| (measured - lo as f64 / 1000.0).max(0.0));
    // Late responses: the mock's own delay errors (actual minus intended time, per
    // response) when it reports them, else the run's timer probe. Either way a choice of
    // slack t leaves some k responses later than t, each of which may push one value
    // above the r-th: the upper bound reads the configured (r + k)-th value, plus t.
    let late = late_responses(ctx, route, n);
    let a = ctx.alpha / (1 + late.len()) as f64;
    let (b_lo, _) = order_statistic_bounds(n, r, a);
    // In wall milliseconds: the run's configured latencies are the profile's times f.
    let lower = q(b_lo) * f;
    let mut best = (f64::INFINITY, f64::INFINITY, 0.0, 0);
    for &(t_ms, k) in &late {
        // When r + k passes n, any of the top values may be a late one: no bound.
        if r + k > n {
            continue;
        }
        let (_, b_hi) = order_statistic_bounds(n, r + k, a);
        let upper = (q(b_hi) * f + t_ms + overhead) * (1.0 + HDR_RELATIVE);
        if upper < best.0 {
            best = (upper, b_hi, t_ms, k);
        }
    }
    let (upper, b_hi, slack, k) = best;
    let how = format!(
        "Q({b_lo:.4})..Q({b_hi:.4}) + {slack:.2} ms timer (rank +{k} late) + {overhead:.2} ms overhead (wall; alpha={})",
        sci(ctx.alpha)
    );
    Some((lower, upper, q(p), how))
}

/// Candidate (slack in wall ms, responses possibly later than it) pairs for a route.
/// From the mock's delay-error histogram when it has one: exact counts above its 50th,
/// 75th, 90th, 99th and 99.9th percentile and maximum, plus every response it did not
/// time (faults); on a loaded machine a small slack with a large rank shift can give
/// the tighter bound, on an idle one a large slack with none. Else
/// from the probe: its 99.9th percentile lateness, with a binomial bound on how many of
/// n responses exceed it.
fn late_responses(ctx: &Ctx<'_>, route: &str, n: u64) -> Vec<(f64, u64)> {
    let server = ctx.ev.server.routes.get(route);
    let delay = server
        .and_then(|s| loadgen::json::histogram_from_base64(&s.delay_error_histogram).ok())
        .filter(|h| !h.is_empty());
    match (server, delay) {
        (Some(s), Some(h)) => {
            let untimed = s.requests.max(n).saturating_sub(h.len());
            [0.5, 0.75, 0.9, 0.99, 0.999, 1.0]
                .iter()
                .map(|&q| {
                    let t = h.highest_equivalent(h.value_at_quantile(q));
                    let above: u64 = h
                        .iter_recorded()
                        .filter(|v| h.highest_equivalent(v.value_iterated_to()) > t)
                        .map(|v| v.count_at_value())
                        .sum();
                    (t as f64 / 1000.0, above + untimed)
                })
                .collect()
        }
        _ => {
            let a = ctx.alpha / 3.0;
            let (_, k) = binomial_acceptance(n, ctx.ev.timer.beyond(a), a);
            vec![(ctx.ev.timer.slack.as_secs_f64() * 1000.0, k)]
        }
    }
}

fn vs_profile(
    ctx: &Ctx<'_>,
    row: &RequestStats,
    route: &str,
    server: Option<&Histogram<u64>>,
    p: f64,
) -> Check {
    let f = ctx.f();
    let name = format!("latency {} {} p{} vs profile", row.method, row.name, pct(p));
    let (Some(measured), Some((lower, upper, expected, how))) = (
        row.percentile_ms(p),
        quantile_interval(ctx, row, route, server, p),
    ) else {
        return Check::skip(
            name,
            "no configured time to compare: no requests, or hangs or dribbles set the time",
        );
    };
    Check::new(
        name,
        ms(expected),
        format!("{} (n={})", ms(measured / f), row.num_requests()),
        format!(
            "{}..{} = {how}; {}",
            ms(lower / f),
            ms(upper / f),
            super::power::shift(expected * f, lower, upper, row.num_requests())
        ),
        measured >= lower && measured <= upper,
    )
}

fn vs_mock(row: &RequestStats, server: &Histogram<u64>, p: f64, f: f64) -> Check {
    let name = format!("latency {} {} p{} vs mock", row.method, row.name, pct(p));
    let n_c = row.num_requests();
    let n_s = server.len();
    let Some(measured) = row.percentile_ms(p) else {
        return Check::skip(name, "no requests");
    };
    let r = locust_rank(n_c, p);
    let d = n_c.abs_diff(n_s);
    let at = |rank: u64| value_at_rank(server, rank.clamp(1, n_s.max(1)));
    let Some((server_lo, _)) = at(r.saturating_sub(d)) else {
        return Check::skip(name, "the mock recorded no request");
    };
    let server_at_r = at(r).map_or(0, |v| v.1);
    // Mean overhead per request (µs), an upper bound: the server sum is a lower bound.
    let mean_overhead =
        ((row.total_response_time_us() as f64 - sum_lower(server)) / n_c.max(1) as f64).max(0.0);
    // k = 0: no o_i exceeds n m (they are non-negative and sum to n m). k >= 1: at
    // most k exceed n m / k, which moves the rank by k; only ranks the mock has count.
    let mut upper_us = f64::INFINITY;
    let mut k = 0u64;
    while r + d + k <= n_s {
        let t = n_c as f64 * mean_overhead / k.max(1) as f64;
        let t = if k == 0 {
            n_c as f64 * mean_overhead
        } else {
            t
        };
        if let Some((_, hi)) = at(r + d + k) {
            upper_us = upper_us.min(hi as f64 + t);
        }
        k = if k == 0 { 1 } else { k * 2 };
    }
    let lower = server_lo as f64 / 1000.0;
    let upper = upper_us * (1.0 + HDR_RELATIVE) / 1000.0;
    Check::new(
        name,
        format!(
            "{} (mock, same requests)",
            ms(server_at_r as f64 / 1000.0 / f)
        ),
        format!("{} (n={n_c}, mock n={n_s})", ms(measured / f)),
        format!(
            "{}..{} (mean overhead {:.3} ms wall, Markov bound)",
            ms(lower / f),
            ms(upper / f),
            mean_overhead / 1000.0
        ),
        measured >= lower && measured <= upper,
    )
}
