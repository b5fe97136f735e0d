//! What Locust's stats history adds to a fit (`profile fit --history`): how the
//! response time and the throughput moved with the user count (the server's capacity),
//! and whether the run was stationary (one distribution per route describes it).
//!
//! The history's Aggregated lines carry the run's totals so far (requests and mean
//! response time), so each second's own request count and mean response time follow
//! exactly from two consecutive lines: `n = N2 - N1`, `mean = (N2 A2 - N1 A1) / n`.
//! This holds with or without `--csv-full-history` (whose percentile columns are of
//! the last ten seconds, without it of the whole run: neither is one second's).
//!
//! Seconds are grouped into load levels (same user count at both ends; ramp seconds are
//! left out). The lowest level's mean response time is the service time `S`. A level is
//! saturated when its mean rose above `S` by more than three standard errors (of the two
//! levels' per-second means) and by more than a fifth: a queue, not noise. At saturation
//! every worker is busy, so by Little's law the workers are the saturated throughput
//! times `S` (`capacity.workers`, rounded, at least 1). The queue is left unbounded:
//! a closed-model Locust run never has more requests waiting than it has users, so a
//! queue limit leaves no trace in its history.
//!
//! Stationarity: within the longest level, the first half's per-second means against
//! the second half's, by the same rule (three standard errors and a tenth); a drift
//! (a leak, a warm-up, a cache filling) is reported, since a single distribution fitted
//! to the whole run then describes neither end.

use locust_csv::HistoryRow;

/// Seconds a level needs to count (fewer is a ramp step's edge, not a load level).
const MIN_LEVEL_SECONDS: usize = 3;
/// Standard errors a rise must exceed to count as one.
const Z: f64 = 3.0;
/// Relative rise of the mean response time that means a queue formed.
const SATURATION_RISE: f64 = 0.2;
/// Relative change between a level's halves that counts as drift.
const DRIFT: f64 = 0.1;

/// One load level: the seconds the run spent at one user count.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Users running.
    pub users: u64,
    /// Whole seconds at this level (with requests).
    pub seconds: usize,
    /// Requests finished per second.
    pub rps: f64,
    /// Mean response time (ms).
    pub mean_ms: f64,
    /// Standard error of the mean, from the per-second means (ms).
    pub se_ms: f64,
    /// Mean response time of each second, in order (ms).
    per_second_ms: Vec<f64>,
}

/// What the history says about the server.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryFit {
    /// The load levels, by user count.
    pub levels: Vec<Level>,
    /// Mean response time at the lowest level: the service time (ms).
    pub service_ms: f64,
    /// Workers, when some level saturated.
    pub workers: Option<u32>,
    /// The saturated throughput (requests/s), when some level saturated.
    pub saturation_rps: Option<f64>,
    /// How the capacity was read, in words.
    pub how: String,
    /// Why one distribution per route may fit the run poorly.
    pub warnings: Vec<String>,
}

/// Reads the capacity and the stationarity from the history's Aggregated lines.
pub fn analyse(rows: &[HistoryRow]) -> Result<HistoryFit, String> {
    let levels = levels(rows);
    let Some(base) = levels.first() else {
        return Err(format!(
            "no load level of {MIN_LEVEL_SECONDS} seconds or more with requests in the \
             history's Aggregated lines: too short to read a capacity from"
        ));
    };
    let service_ms = base.mean_ms;
    let saturated: Vec<&Level> = levels
        .iter()
        .skip(1)
        .filter(|l| rose(base.mean_ms, base.se_ms, l, SATURATION_RISE))
        .collect();
    let table = levels
        .iter()
        .map(|l| format!("{} users: {:.1} req/s, {:.1} ms", l.users, l.rps, l.mean_ms))
        .collect::<Vec<_>>()
        .join("; ");
    let mut warnings = Vec::new();
    let (workers, saturation_rps, how) = match saturated
        .iter()
        .map(|l| l.rps)
        .max_by(f64::total_cmp)
    {
        Some(rps) => {
            let workers = (rps * service_ms / 1000.0).round().max(1.0);
            let first = saturated[0];
            warnings.push(format!(
                "the response time rose with the user count ({:.1} ms at {} users, {:.1} ms at {}): \
                 the stats CSV mixes queueing into every route's percentiles, so each route's \
                 latency was scaled to a mean of the service time (its shape stays the whole \
                 run's) and the capacity queues the rest",
                base.mean_ms, base.users, first.mean_ms, first.users
            ));
            (
                Some(workers as u32),
                Some(rps),
                format!(
                    "saturated from {} users at {rps:.1} req/s with a service time of {service_ms:.1} ms: \
                     {workers} workers ({rps:.1} x {:.4} s) [{table}]",
                    first.users,
                    service_ms / 1000.0
                ),
            )
        }
        None => (
            None,
            None,
            format!(
                "never saturated: the response time did not rise with the user count, so the \
                 capacity is left unlimited (the server kept up with {:.1} req/s) [{table}]",
                levels.iter().map(|l| l.rps).fold(0.0, f64::max)
            ),
        ),
    };
    if let Some(drift) = drift(&levels) {
        warnings.push(drift);
    }
    Ok(HistoryFit {
        levels,
        service_ms,
        workers,
        saturation_rps,
        how,
        warnings,
    })
}

/// Each second's (users, requests, mean ms) from consecutive Aggregated lines, grouped
/// into levels of one user count, by user count.
fn levels(rows: &[HistoryRow]) -> Vec<Level> {
    let mut agg: Vec<&HistoryRow> = rows.iter().filter(|r| r.is_aggregated()).collect();
    agg.sort_by_key(|r| r.timestamp);
    let mut by_users: std::collections::BTreeMap<u64, Vec<(f64, u64, f64)>> =
        std::collections::BTreeMap::new();
    for w in agg.windows(2) {
        let (a, b) = (w[0], w[1]);
        let n = b.total_requests.saturating_sub(a.total_requests);
        let dt = b.timestamp.saturating_sub(a.timestamp);
        if n == 0 || dt == 0 || a.user_count != b.user_count || b.user_count == 0 {
            continue;
        }
        let sum =
            b.total_avg_ms * b.total_requests as f64 - a.total_avg_ms * a.total_requests as f64;
        let mean = (sum / n as f64).max(0.0);
        by_users
            .entry(b.user_count)
            .or_default()
            .push((dt as f64, n, mean));
    }
    by_users
        .into_iter()
        .filter(|(_, s)| s.len() >= MIN_LEVEL_SECONDS)
        .map(|(users, seconds)| {
            let time: f64 = seconds.iter().map(|s| s.0).sum();
            let requests: u64 = seconds.iter().map(|s| s.1).sum();
            let mean_ms = seconds.iter().map(|s| s.1 as f64 * s.2).sum::<f64>() / requests as f64;
            let per_second_ms: Vec<f64> = seconds.iter().map(|s| s.2).collect();
            Level {
                users,
                seconds: seconds.len(),
                rps: requests as f64 / time,
                mean_ms,
                se_ms: standard_error(&per_second_ms),
                per_second_ms,
            }
        })
        .collect()
}

/// True when `level`'s mean is above `mean` (standard error `se`) by more than [`Z`]
/// standard errors and by more than the fraction `rise`.
fn rose(mean: f64, se: f64, level: &Level, rise: f64) -> bool {
    let diff = level.mean_ms - mean;
    diff > Z * (se * se + level.se_ms * level.se_ms).sqrt() && diff > rise * mean
}

/// A warning when the longest level's second half differs from its first half.
fn drift(levels: &[Level]) -> Option<String> {
    let longest = levels.iter().max_by_key(|l| l.seconds)?;
    let half = longest.per_second_ms.len() / 2;
    let (first, second) = longest.per_second_ms.split_at(half);
    if first.len() < MIN_LEVEL_SECONDS {
        return None;
    }
    let (m1, m2) = (mean(first), mean(second));
    let (se1, se2) = (standard_error(first), standard_error(second));
    let diff = (m2 - m1).abs();
    (diff > Z * (se1 * se1 + se2 * se2).sqrt() && diff > DRIFT * m1.min(m2)).then(|| {
        format!(
            "the run was not stationary: at {} users the mean response time moved from {m1:.1} ms \
             (first {} s) to {m2:.1} ms (last {} s), more than {Z} standard errors and {:.0}%; \
             one distribution per route describes neither end",
            longest.users,
            first.len(),
            second.len(),
            DRIFT * 100.0
        )
    })
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Standard error of the mean of `xs` (0 for fewer than two values).
fn standard_error(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64;
    (var / xs.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aggregated lines for `seconds` of (users, requests that second, their mean ms).
    fn history(seconds: &[(u64, u64, f64)]) -> Vec<HistoryRow> {
        let (mut total, mut sum) = (0u64, 0.0f64);
        let mut rows = Vec::new();
        for (i, &(users, n, ms)) in std::iter::once(&(seconds[0].0, 0, 0.0))
            .chain(seconds)
            .enumerate()
        {
            total += n;
            sum += n as f64 * ms;
            rows.push(HistoryRow {
                line: i as u64 + 2,
                timestamp: 1_000 + i as u64,
                user_count: users,
                method: String::new(),
                name: "Aggregated".into(),
                current_rps: 0.0,
                current_fail_per_sec: 0.0,
                percentiles: Vec::new(),
                total_requests: total,
                total_failures: 0,
                total_avg_ms: if total == 0 { 0.0 } else { sum / total as f64 },
            });
        }
        rows
    }

    /// `count` seconds at `users` with a mean wobbling by 2% around `ms`.
    fn level(users: u64, rps: u64, ms: f64, count: usize) -> Vec<(u64, u64, f64)> {
        (0..count)
            .map(|i| {
                (
                    users,
                    rps,
                    ms * (1.0 + 0.02 * if i % 2 == 0 { 1.0 } else { -1.0 }),
                )
            })
            .collect()
    }

    #[test]
    fn per_second_means_follow_exactly_from_the_running_totals() {
        let rows = history(&[(5, 100, 10.0), (5, 300, 30.0), (5, 100, 10.0)]);
        let l = &levels(&rows)[0];
        assert_eq!((l.users, l.seconds), (5, 3));
        for (got, want) in l.per_second_ms.iter().zip([10.0, 30.0, 10.0]) {
            assert!((got - want).abs() < 1e-9, "{got} against {want}");
        }
        assert!((l.mean_ms - 22.0).abs() < 1e-9);
        assert!((l.rps - 500.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_queue_past_the_knee_gives_the_workers_by_littles_law() {
        // 4 workers of 20 ms: 200 req/s at most. 2 users are served at once; 8 and 16
        // users queue (40 and 80 ms) at the same 200 req/s.
        let mut s = level(2, 100, 20.0, 8);
        s.extend(level(4, 190, 21.0, 8));
        s.extend(level(8, 200, 40.0, 8));
        s.extend(level(16, 200, 80.0, 8));
        let fit = analyse(&history(&s)).unwrap();
        assert_eq!(fit.workers, Some(4), "{}", fit.how);
        assert_eq!(fit.saturation_rps, Some(200.0));
        assert!(fit.how.starts_with("saturated from 8 users"), "{}", fit.how);
        assert!(
            fit.warnings[0].contains("rose with the user count"),
            "{:?}",
            fit.warnings
        );
    }

    #[test]
    fn a_flat_response_time_leaves_the_capacity_unlimited_and_no_warning() {
        let mut s = level(10, 100, 20.0, 10);
        s.extend(level(20, 200, 20.5, 10));
        let fit = analyse(&history(&s)).unwrap();
        assert_eq!(fit.workers, None);
        assert!(fit.how.starts_with("never saturated"), "{}", fit.how);
        assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
    }

    #[test]
    fn a_drift_at_one_user_count_is_reported_as_not_stationary() {
        // A leak: the mean grows from 20 ms to 40 ms over 40 s at 10 users.
        let s: Vec<_> = (0..40)
            .map(|i| (10, 100, 20.0 + 0.5 * f64::from(i)))
            .collect();
        let fit = analyse(&history(&s)).unwrap();
        assert!(
            fit.warnings
                .iter()
                .any(|w| w.starts_with("the run was not stationary")),
            "{:?}",
            fit.warnings
        );
        // The same seconds shuffled into no trend: no warning.
        let flat = level(10, 100, 30.0, 40);
        assert!(analyse(&history(&flat)).unwrap().warnings.is_empty());
    }

    #[test]
    fn a_history_without_a_level_is_refused_with_why() {
        let e = analyse(&history(&[(1, 10, 5.0), (2, 10, 5.0)])).unwrap_err();
        assert!(e.contains("too short"), "{e}");
    }
}
