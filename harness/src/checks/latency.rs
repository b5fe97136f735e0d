//! Percentiles, per loadgen row, at 50, 90, 95 and 99%:
//!
//! - **vs profile**: loadgen's value (Locust's rank r = floor(n p) + 1) against the
//!   profile's analytic quantile Q(p). The r-th smallest of n independent draws has
//!   F(X_(r)) ~ Beta(r, n + 1 - r), so with probability 1 - alpha the configured
//!   latencies' r-th value lies in [Q(b_lo), Q(b_hi)], b the Beta's alpha/2 quantiles.
//!   A measured time is the configured latency plus the mock's delay error (its own
//!   per-response record of actual minus intended time; at most a slack t but for the
//!   k responses later still, which move the rank the upper bound reads) plus the
//!   client-side overhead, bounded independently of loadgen (the calibration probe and
//!   the mock's lateness, see [`super::per_request::OverheadBound`]) at its
//!   quantile q (the tightest of [`TAIL_QUANTILES`]): the m = ceil(n (1 - q)) requests
//!   that may exceed it, and the requests that opened their connection (which it does
//!   not bound), move the rank the upper bound reads by m more. It is
//!   never below the configured latency (the mock answers at arrival + latency, never
//!   sooner). HdrHistogram's three digits add at most 1/1024 relative.
//! - **chosen vs profile**: the latencies the mock chose for a route's requests (each
//!   response's `Server-Timing` `delay`, kept in the mock's per-request log) at the
//!   same rank, against the same Beta band of the profile's quantiles, with no slack:
//!   no timer and no client stand between a draw and its record, so a profile the mock
//!   draws wrongly is caught at the band's own width, however late the machine is.
//! - **vs mock**: loadgen's value against the mock's server-side histogram of the same
//!   requests. Each request's client time is its server time plus an overhead o_i >= 0,
//!   at most B_q (the independent bound at its quantile q, see [`super::per_request`])
//!   for all but m = ceil(n_kept (1 - q)) plus the n_opened requests that opened their
//!   connection, so server_(r) <= client_(r) <= server_(r + m) + B_q, the tightest q of
//!   the median and [`TAIL_QUANTILES`]; where r + m passes n there is no upper bound.
//!   No bound comes from loadgen's own times: a loadgen that over-reports moves its
//!   value, never the bound.

use hdrhistogram::Histogram;
use loadgen::stats::RequestStats;

use super::per_request::OverheadBound;
use super::{ms, sci, Ctx};
use crate::check::Check;
use crate::stat::{binomial_acceptance, locust_rank, order_statistic_bounds, value_at_rank};

/// The percentiles checked.
pub(super) const PERCENTILES: [f64; 4] = [0.50, 0.90, 0.95, 0.99];

/// The overhead quantiles the latency bounds may allow for: requests above the chosen
/// one shift ranks, and the tightest choice is used (a busy machine's far tail is long,
/// so a lower quantile with a larger rank shift can give the tighter bound).
const TAIL_QUANTILES: [f64; 3] = [0.9, 0.99, 0.999];

/// Requests out of `n` whose overhead may pass the bound at quantile `q`.
fn over_bound(n: u64, q: f64) -> u64 {
    (n as f64 * (1.0 - q)).ceil() as u64
}

/// HdrHistogram's worst relative precision at three significant digits.
const HDR_RELATIVE: f64 = 1.0 / 1024.0;

/// Statistical tests this family makes: one per (row with a route, percentile), and
/// one per (route the mock logged draws of, percentile).
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    let rows = ctx
        .rows()
        .iter()
        .filter(|(r, route)| {
            route.is_some_and(|route| !timing_altered(ctx, route)) && r.num_requests() > 0
        })
        .count();
    (rows + chosen_routes(ctx).len()) * PERCENTILES.len()
}

/// The routes of loadgen's rows whose chosen latencies the mock logged and the profile
/// sets (no hang or dribble), each once, in row order.
fn chosen_routes(ctx: &Ctx<'_>) -> Vec<&'static str> {
    let mut routes: Vec<&'static str> = Vec::new();
    for (_, route) in ctx.rows() {
        if let Some(route) = route {
            if !routes.contains(&route)
                && !timing_altered(ctx, route)
                && ctx.ev.served.iter().any(|s| s.route == Some(route))
            {
                routes.push(route);
            }
        }
    }
    routes
}

/// The mock's server-time histogram of a route (µs), if it has one.
pub(super) fn server_histogram(ctx: &Ctx<'_>, route: &str) -> Option<Histogram<u64>> {
    ctx.ev
        .server
        .routes
        .get(route)
        .and_then(|r| r.decode_histogram().ok())
}

/// Both checks for every row and percentile, then the chosen latencies' of every route.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = checks_of_rows(ctx);
    for route in chosen_routes(ctx) {
        let mut chosen: Vec<u64> = ctx
            .ev
            .served
            .iter()
            .filter(|s| s.route == Some(route))
            .map(|s| s.delay_us)
            .collect();
        chosen.sort_unstable();
        for p in PERCENTILES {
            out.push(chosen_vs_profile(ctx, route, &chosen, p));
        }
    }
    out
}

/// The loadgen rows' checks: vs profile and vs mock, per percentile.
fn checks_of_rows(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    let bound = OverheadBound::of(ctx.ev);
    for (row, route) in ctx.rows() {
        let Some(route) = route else {
            out.push(Check::skip(
                format!("latency {} {}", row.method, row.name),
                "no mock route matches this row",
            ));
            continue;
        };
        // Hangs and dribbles set these times, not the profile, and go on after the head
        // that carried the mock's time (so loadgen's time exceeds the mock's by the
        // dribble, not by its overhead): no claim to make against either.
        if row.num_requests() == 0 || timing_altered(ctx, route) {
            continue;
        }
        let server = server_histogram(ctx, route).filter(|h| !h.is_empty());
        for p in PERCENTILES {
            out.push(vs_profile(ctx, row, route, server.as_ref(), p));
        }
        for p in PERCENTILES {
            out.push(match &server {
                Some(h) => vs_mock(row, route, h, p, ctx.f(), &bound),
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

/// Where the mock's own time at the p-th percentile's rank of a row may fall (wall ms)
/// when the system is correct: [`interval`] without a client's overhead.
pub(super) fn server_quantile_interval(
    ctx: &Ctx<'_>,
    row: &RequestStats,
    route: &str,
    p: f64,
) -> Option<(f64, f64, f64, String)> {
    interval(ctx, row, route, p, None)
}

/// Where a row's p-th percentile may fall, in wall milliseconds, when the system is
/// correct: (lower, upper, the configured quantile in unscaled ms, a text of how the
/// bounds were made), allowing for the client overhead `bound` when given (for a
/// client's value), or for none (for the mock's own time of the same requests). `None`
/// without requests.
fn interval(
    ctx: &Ctx<'_>,
    row: &RequestStats,
    route: &str,
    p: f64,
    bound: Option<&OverheadBound>,
) -> Option<(f64, f64, f64, String)> {
    if timing_altered(ctx, route) {
        return None;
    }
    let f = ctx.f();
    let n = row.num_requests();
    let r = locust_rank(n, p);
    row.percentile_ms(p)?;
    let dist = &ctx.exp.profile.behaviour(route).latency;
    let q = |x: f64| dist.quantile(x).as_secs_f64() * 1000.0;
    // Late responses: the mock's own delay errors (actual minus intended time, per
    // response) when it reports them, else the run's timer probe. Either way a choice of
    // slack t leaves some k responses later than t, each of which may push one value
    // above the r-th: the upper bound reads the configured (r + k)-th value, plus t.
    let late = late_responses(ctx, route, n);
    let a = ctx.alpha / (1 + late.len()) as f64;
    let (b_lo, _) = order_statistic_bounds(n, r, a);
    // In wall milliseconds: the run's configured latencies are the profile's times f.
    let lower = q(b_lo) * f;
    let mut best = (f64::INFINITY, f64::INFINITY, 0.0, 0, 0.0);
    for &(t_ms, k) in &late {
        // Without a client in between, no overhead: tail 1 shifts no rank.
        let tails: &[f64] = if bound.is_some() {
            &TAIL_QUANTILES
        } else {
            &[1.0]
        };
        for &tail in tails {
            // When r + k + m passes n, any of the top values may be a late one: no bound.
            let k = k + over_bound(n, tail) + bound.map_or(0, |b| b.opened(route));
            if r + k > n {
                continue;
            }
            let overhead = bound.map_or(0.0, |b| b.at(tail));
            let (_, b_hi) = order_statistic_bounds(n, r + k, a);
            let upper = (q(b_hi) * f + t_ms + overhead) * (1.0 + HDR_RELATIVE);
            if upper < best.0 {
                best = (upper, b_hi, t_ms, k, overhead);
            }
        }
    }
    let (upper, b_hi, slack, k, overhead) = best;
    let how = format!(
        "Q({b_lo:.4})..Q({b_hi:.4}) + {slack:.2} ms timer + {overhead:.2} ms overhead bound (rank +{k} late or over it; wall; alpha={})",
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

/// The mock's own time at the row's rank, when it recorded the route, is what is judged:
/// it needs no allowance for a client's overhead, and the per-request checks tie
/// loadgen's value to it exactly (each reported percentile is the mock's time plus the
/// overhead of the same requests). Without the mock's record, loadgen's value is judged
/// with the independent overhead bound.
fn vs_profile(
    ctx: &Ctx<'_>,
    row: &RequestStats,
    route: &str,
    server: Option<&Histogram<u64>>,
    p: f64,
) -> Check {
    let f = ctx.f();
    let name = format!("latency {} {} p{} vs profile", row.method, row.name, pct(p));
    let mock_value = server.and_then(|h| value_at_rank(h, locust_rank(h.len(), p)));
    let bound = OverheadBound::of(ctx.ev);
    let found = match mock_value {
        Some(_) => interval(ctx, row, route, p, None),
        None => interval(ctx, row, route, p, Some(&bound)),
    };
    let (Some(reported), Some((lower, upper, expected, how))) = (row.percentile_ms(p), found)
    else {
        return Check::skip(
            name,
            "no configured time to compare: no requests, or hangs or dribbles set the time",
        );
    };
    let (lo, hi, whose) = match mock_value {
        Some((lo, hi)) => (lo as f64 / 1000.0, hi as f64 / 1000.0, "mock"),
        None => (reported, reported, "loadgen"),
    };
    Check::new(
        name,
        ms(expected),
        format!(
            "{} {whose} (n={}; loadgen {})",
            ms(hi / f),
            row.num_requests(),
            ms(reported / f)
        ),
        format!(
            "{}..{} = {how}; {}",
            ms(lower / f),
            ms(upper / f),
            super::power::shift(expected * f, lower, upper, row.num_requests())
        ),
        hi >= lower && lo <= upper,
    )
}

/// The mock's chosen latency at Locust's rank among `chosen` (sorted, wall µs) against
/// the Beta band of the profile's quantiles. A chosen latency is the profile's quantile
/// of a uniform draw times the time scale, truncated to the µs: the band widens by 1 µs
/// each side, nothing else.
fn chosen_vs_profile(ctx: &Ctx<'_>, route: &str, chosen: &[u64], p: f64) -> Check {
    let f = ctx.f();
    let name = format!("latency {route} p{} chosen vs profile", pct(p));
    let n = chosen.len() as u64;
    let r = locust_rank(n, p);
    let Some(&value_us) = usize::try_from(r - 1).ok().and_then(|i| chosen.get(i)) else {
        return Check::skip(name, "the mock logged no request of this route");
    };
    let dist = &ctx.exp.profile.behaviour(route).latency;
    let q = |x: f64| dist.quantile(x).as_secs_f64() * 1000.0;
    let (b_lo, b_hi) = order_statistic_bounds(n, r, ctx.alpha);
    let (lower, upper) = (q(b_lo) * f - 0.001, q(b_hi) * f + 0.001);
    let value = value_us as f64 / 1000.0;
    Check::new(
        name,
        ms(q(p)),
        format!("{} (n={n}, the mock's draws)", ms(value / f)),
        format!(
            "{}..{} = Q({b_lo:.4})..Q({b_hi:.4}) (alpha={}); {}",
            ms(lower / f),
            ms(upper / f),
            sci(ctx.alpha),
            super::power::shift(q(p) * f, lower, upper, n)
        ),
        value >= lower && value <= upper,
    )
}

/// `bound`: the client overhead's bound, measured without loadgen.
fn vs_mock(
    row: &RequestStats,
    route: &str,
    server: &Histogram<u64>,
    p: f64,
    f: f64,
    bound: &OverheadBound,
) -> Check {
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
    // All but m requests have an overhead of at most the bound at quantile q (the
    // kept-alive ones over it, and those that opened their connection, which it does
    // not bound): each of those m may move the rank by one; only ranks the mock has
    // count. The tightest q of the median and [`TAIL_QUANTILES`] is used.
    let opened = bound.opened(route);
    let kept = n_c.saturating_sub(opened);
    let mut best: Option<(f64, u64, f64, f64)> = None;
    for q in std::iter::once(0.5).chain(TAIL_QUANTILES) {
        let m = over_bound(kept, q) + opened;
        let Some((_, hi)) = (r + d + m <= n_s).then(|| at(r + d + m)).flatten() else {
            continue;
        };
        let upper_us = hi as f64 + bound.at(q) * 1000.0;
        if best.is_none_or(|b| upper_us < b.0) {
            best = Some((upper_us, m, q, bound.at(q)));
        }
    }
    let lower = server_lo as f64 / 1000.0;
    let upper = best.map_or(f64::INFINITY, |b| b.0 * (1.0 + HDR_RELATIVE) / 1000.0);
    Check::new(
        name,
        format!(
            "{} (mock, same requests)",
            ms(server_at_r as f64 / 1000.0 / f)
        ),
        format!("{} (n={n_c}, mock n={n_s})", ms(measured / f)),
        match best {
            Some((_, m, q, bound_ms)) => format!(
                "{}..{} (rank +{m}: {opened} opened their connection, the rest over the overhead's q{q} bound {bound_ms:.3} ms wall, measured without loadgen)",
                ms(lower / f),
                ms(upper / f),
            ),
            None => format!(
                ">= {} (no upper bound at this rank: with the {opened} requests that opened their connection, the rank shift passes the mock's last)",
                ms(lower / f)
            ),
        },
        measured >= lower && measured <= upper,
    )
}
