//! Baselines: loadgen's own classification (its `baseline` module, the guide's table)
//! of each row's average, 95th and 99th percentile and error rate lands in a band that
//! the configured profile allows. The run is time-scaled, so the table's times are
//! scaled by the same factor before loadgen classifies its wall-time snapshot.
//!
//! The expected band is not one band but every band the metric can reach when the
//! system is correct: the percentiles' intervals are the latency checks' intervals,
//! the error rate's is the binomial region of the configured failure probability, and
//! the average's is the configured mean plus or minus z standard errors (the standard
//! deviation integrated from the profile's quantile function), plus the measured
//! overheads upward. A band outside that set is a misjudgement.
//! Requests/s depend on the users and their waits, not on the profile: not judged here.

use loadgen::baseline::{self, Band, Baselines, Metric};
use loadgen::stats::RequestStats;
use statrs::distribution::{ContinuousCDF, Normal};

use super::latency::{quantile_interval, server_histogram};
use super::{sci, Ctx};
use crate::check::Check;
use crate::stat::{binomial_acceptance, sum_lower};

/// Metrics judged per row (each a statistical test).
const METRICS: [Metric; 4] = [
    Metric::AvgMs,
    Metric::P95Ms,
    Metric::P99Ms,
    Metric::ErrorRatePercent,
];

/// Statistical tests this family makes.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.rows()
        .iter()
        .filter(|(r, route)| route.is_some() && r.num_requests() > 0)
        .count()
        * METRICS.len()
}

/// The guide's table with its times multiplied by `f` (and its rates divided by it).
pub(super) fn scaled_baselines(f: f64) -> Baselines {
    let mut b = Baselines::default();
    for bounds in [&mut b.avg_ms, &mut b.p95_ms, &mut b.p99_ms] {
        bounds.target *= f;
        bounds.acceptable *= f;
        bounds.poor *= f;
    }
    b.rps.target /= f;
    b.rps.acceptable /= f;
    b.rps.poor /= f;
    b
}

/// The band checks of every row.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let f = ctx.f();
    let table = scaled_baselines(f);
    let report = baseline::evaluate(&ctx.ev.outcome.snapshot, &table);
    let mut out = Vec::new();
    for ((row, route), bands) in ctx.rows().into_iter().zip(&report.rows) {
        let Some(route) = route else { continue };
        if row.num_requests() == 0 {
            continue;
        }
        for metric in METRICS {
            let name = format!("baseline {} {} {}", row.method, row.name, metric.short());
            let cell = bands.cell(metric);
            let (Some(value), Some(band)) = (cell.value, cell.band) else {
                out.push(Check::skip(name, "loadgen gave no value"));
                continue;
            };
            let Some((lo, hi, how)) = interval(ctx, row, route, metric) else {
                out.push(Check::skip(name, "no expectation for this metric"));
                continue;
            };
            let (best, worst) = (table.classify(metric, lo), table.classify(metric, hi));
            let unscale = |v: f64| match metric {
                Metric::ErrorRatePercent => v,
                _ => v / f,
            };
            out.push(Check::new(
                name,
                if best == worst {
                    best.name().to_owned()
                } else {
                    format!("{}..{}", best.name(), worst.name())
                },
                format!("{} ({})", band.name(), metric.format(unscale(value))),
                format!(
                    "{}..{}: {how}",
                    metric.format(unscale(lo)),
                    metric.format(unscale(hi))
                ),
                in_range(band, best, worst),
            ));
        }
    }
    out
}

fn in_range(band: Band, best: Band, worst: Band) -> bool {
    best <= band && band <= worst
}

/// Where a correct system puts the metric (wall units for times, percent for errors).
fn interval(
    ctx: &Ctx<'_>,
    row: &RequestStats,
    route: &str,
    metric: Metric,
) -> Option<(f64, f64, String)> {
    let server = server_histogram(ctx, route).filter(|h| !h.is_empty());
    let n = row.num_requests();
    match metric {
        Metric::P95Ms | Metric::P99Ms => {
            let p = if metric == Metric::P95Ms { 0.95 } else { 0.99 };
            quantile_interval(ctx, row, route, p).map(|(lo, hi, _, how)| (lo, hi, how))
        }
        Metric::ErrorRatePercent => {
            let rules = &ctx.exp.profile.behaviour(route).failures;
            let mut p = 0.0;
            for rule in rules {
                match rule.trigger {
                    mock_api::fault::Trigger::Probability(q) => p += q,
                    mock_api::fault::Trigger::Every(_) => return None,
                }
            }
            let (lo, hi) = binomial_acceptance(n, p.min(1.0), ctx.alpha);
            Some((
                lo as f64 * 100.0 / n as f64,
                hi as f64 * 100.0 / n as f64,
                format!(
                    "binomial region of {:.2}% (alpha={})",
                    p * 100.0,
                    sci(ctx.alpha)
                ),
            ))
        }
        Metric::AvgMs => {
            if super::latency::timing_altered(ctx, route) {
                return None;
            }
            let f = ctx.f();
            let dist = &ctx.exp.profile.behaviour(route).latency;
            let (mean, sd) = mean_and_sd(|u| dist.quantile(u).as_secs_f64() * 1000.0);
            let z = Normal::new(0.0, 1.0)
                .map(|d| d.inverse_cdf(1.0 - ctx.alpha / 2.0))
                .unwrap_or(f64::INFINITY);
            let half = z * sd / (n as f64).sqrt();
            // Upward: the mean client-over-server overhead (exact sums) and the mean
            // lateness of the mock's responses, which the mock measures itself (each
            // response's actual minus intended time); without its record, the timer
            // probe's (at most the slack, plus the late share at the largest).
            let overhead = server.as_ref().map_or(0.0, |h| {
                ((row.total_response_time_us() as f64 - sum_lower(h)) / n as f64 / 1000.0).max(0.0)
            });
            let (late, source) = match mean_delay_error_ms(ctx, route, n) {
                Some(ms) => (ms, "late (the mock's own delay errors)"),
                None => (
                    ctx.ev.timer.slack.as_secs_f64() * 1000.0
                        + ctx.ev.timer.max.as_secs_f64() * 1000.0 * ctx.ev.timer.beyond(ctx.alpha),
                    "timer",
                ),
            };
            Some((
                ((mean - half) * f).max(0.0),
                (mean + half) * f + late + overhead,
                format!(
                    "mean {mean:.0} ms +- {half:.0} ms (z={z:.2}, sd {sd:.0} ms) + {late:.2} ms {source} + {overhead:.2} ms overhead (wall)"
                ),
            ))
        }
        Metric::Rps => None,
    }
}

/// The mean lateness the mock measured on a route's responses, in wall ms: an upper
/// bound (each bucket at its highest value), shared over no more requests than both
/// sides counted. `None` when the mock timed none.
fn mean_delay_error_ms(ctx: &Ctx<'_>, route: &str, n: u64) -> Option<f64> {
    let server = ctx.ev.server.routes.get(route)?;
    let h = loadgen::json::histogram_from_base64(&server.delay_error_histogram).ok()?;
    if h.is_empty() {
        return None;
    }
    let sum_upper: f64 = h
        .iter_recorded()
        .map(|v| h.highest_equivalent(v.value_iterated_to()) as f64 * v.count_at_value() as f64)
        .sum();
    Some(sum_upper / h.len().min(n.max(1)) as f64 / 1000.0)
}

/// Mean and standard deviation of a distribution from its quantile function, by the
/// midpoint rule on 20 000 equal slices of probability (the tails beyond the outermost
/// midpoints hold 1/40 000 each).
fn mean_and_sd(quantile: impl Fn(f64) -> f64) -> (f64, f64) {
    const SLICES: usize = 20_000;
    let values: Vec<f64> = (0..SLICES)
        .map(|i| quantile((i as f64 + 0.5) / SLICES as f64))
        .collect();
    let mean = values.iter().sum::<f64>() / SLICES as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / SLICES as f64;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_a_uniform_come_out_of_its_quantiles() {
        let (m, sd) = mean_and_sd(|u| 10.0 + 20.0 * u);
        assert!((m - 20.0).abs() < 1e-9);
        assert!((sd - 20.0 / 12f64.sqrt()).abs() < 1e-3);
    }

    #[test]
    fn the_guides_table_scales_with_time() {
        let b = scaled_baselines(0.1);
        assert_eq!(b.classify(Metric::AvgMs, 49.0), Band::Target);
        assert_eq!(b.classify(Metric::AvgMs, 150.0), Band::Degraded);
        assert_eq!(b.classify(Metric::Rps, 1001.0), Band::Target);
        assert!(in_range(Band::Acceptable, Band::Target, Band::Degraded));
        assert!(!in_range(Band::Poor, Band::Target, Band::Degraded));
    }
}
