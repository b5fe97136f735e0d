//! Test fixture: a [`Snapshot`] whose figures equal those of the real Locust 2.47 run
//! whose files the repository keeps in `loadgen/tests/reference/locust-2.47/`
//! (`console-final.txt`), rebuilt by recording response times chosen to give the same
//! counts, failures, averages, extremes, medians and percentiles, per row and aggregated.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Aggregator, RequestKey, Shard, Snapshot, PERCENTILES_TO_REPORT};

/// The directory of the real Locust run's files, kept in the repository.
pub(crate) fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/locust-2.47")
}

/// A reference file's bytes as text; panics with the path when it is missing.
pub(crate) fn reference_file(name: &str) -> String {
    let path = reference_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One row of the reference run's final tables.
struct Row {
    method: &'static str,
    name: &'static str,
    requests: usize,
    failures: usize,
    avg: u32,
    min: u32,
    max: u32,
    median: u32,
    percentiles: [u32; 11],
    /// Order in which the row's error was first seen (the error report's order).
    error_order: usize,
}

const ROWS: [Row; 9] = [
    row(
        "GET",
        "/api/clients",
        27,
        2,
        [29, 23, 38, 29],
        [29, 31, 31, 31, 34, 37, 39, 39, 39, 39, 39],
        4,
    ),
    row(
        "GET",
        "/api/clients/[id]",
        19,
        0,
        [26, 22, 37, 26],
        [26, 28, 29, 30, 31, 37, 37, 37, 37, 37, 37],
        9,
    ),
    row(
        "GET",
        "/api/clients/[id]/portfolio",
        6,
        1,
        [28, 23, 38, 28],
        [28, 28, 29, 29, 38, 38, 38, 38, 38, 38, 38],
        5,
    ),
    row(
        "GET",
        "/api/ml/performance",
        11,
        1,
        [29, 25, 38, 29],
        [29, 31, 32, 32, 34, 39, 39, 39, 39, 39, 39],
        2,
    ),
    row(
        "GET",
        "/api/ml/predict",
        142,
        11,
        [28, 21, 43, 28],
        [28, 30, 30, 31, 32, 34, 40, 41, 43, 43, 43],
        0,
    ),
    row(
        "GET",
        "/api/portfolio/optimize/[id]",
        64,
        7,
        [28, 22, 37, 28],
        [28, 29, 31, 31, 32, 35, 36, 37, 37, 37, 37],
        1,
    ),
    row(
        "POST",
        "/api/trading/execute",
        235,
        27,
        [28, 22, 47, 28],
        [28, 29, 31, 31, 32, 32, 33, 40, 47, 47, 47],
        3,
    ),
    row(
        "GET",
        "/api/trading/history/[id]",
        12,
        0,
        [32, 24, 60, 31],
        [31, 32, 35, 35, 39, 61, 61, 61, 61, 61, 61],
        9,
    ),
    row("GET", "/health", 5, 0, [32, 31, 33, 33], [33; 11], 9),
];

const fn row(
    method: &'static str,
    name: &'static str,
    requests: usize,
    failures: usize,
    [avg, min, max, median]: [u32; 4],
    percentiles: [u32; 11],
    error_order: usize,
) -> Row {
    Row {
        method,
        name,
        requests,
        failures,
        avg,
        min,
        max,
        median,
        percentiles,
        error_order,
    }
}

/// Seconds from the start to the last request: 521 requests at 35.21/s.
const DURATION_S: f64 = 14.7985;

/// Unpinned values sit just below this many milliseconds unless their neighbours are both
/// above it: the aggregated 95th percentile (33) leaves room for only one more value
/// above 33.5 ms than the rows' own percentiles force.
const SPLIT_MS: f64 = 33.5;

const T0: u64 = 1_795_961_039;

fn at(seconds: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0) + Duration::from_secs_f64(seconds)
}

/// Response times (µs), ascending, that reproduce one row's displayed figures.
///
/// Each rank gets an interval its value must fall in: the percentile ranks (Locust's
/// floor(n*p)+1) and the median rank must round to the shown value, the first and last
/// must truncate to Min and Max. Intervals are made monotonic before values are placed.
fn values_for(r: &Row) -> Vec<u64> {
    let n = r.requests;
    let mut lo = vec![f64::from(r.min); n];
    let mut hi = vec![f64::from(r.max) + 1.0; n];
    let mut pinned = vec![false; n];
    let mut pin = |rank: usize, low: f64, high: f64| {
        lo[rank - 1] = lo[rank - 1].max(low);
        hi[rank - 1] = hi[rank - 1].min(high);
        pinned[rank - 1] = true;
    };
    pin(1, f64::from(r.min), f64::from(r.min) + 1.0);
    pin(n, f64::from(r.max), f64::from(r.max) + 1.0);
    let median = (n - 1) / 2;
    pin(
        median + 1,
        f64::from(r.median) - 0.5,
        f64::from(r.median) + 0.5,
    );
    for (p, &shown) in PERCENTILES_TO_REPORT.iter().zip(&r.percentiles) {
        let rank = ((n as f64 * p) as usize + 1).min(n);
        pin(rank, f64::from(shown) - 0.5, f64::from(shown) + 0.5);
    }
    for i in 1..n {
        lo[i] = lo[i].max(lo[i - 1]);
    }
    for i in (0..n - 1).rev() {
        hi[i] = hi[i].min(hi[i + 1]);
    }
    // Pinned ranks sit mid-interval. Ranks between two pins take the upper pin's value
    // when it is below SPLIT_MS, the lower one's when the pins straddle it, and a straight
    // line when both are above it (so the aggregated 98th percentile finds one 39 ms value).
    // Then the unpinned values below the median shift by the same amount (inside their
    // intervals, clear of rounding edges) until the mean truncates to the shown average.
    let pins: Vec<usize> = (0..n).filter(|&i| pinned[i]).collect();
    let mut base: Vec<f64> = (0..n).map(|i| (lo[i] + hi[i]) / 2.0).collect();
    for w in pins.windows(2) {
        let (a, b) = (w[0], w[1]);
        for i in a + 1..b {
            base[i] = if base[a] >= SPLIT_MS {
                base[a] + (base[b] - base[a]) * (i - a) as f64 / (b - a) as f64
            } else if base[b] < SPLIT_MS {
                base[b]
            } else {
                base[a]
            };
        }
    }
    let place = |shift: f64| -> Vec<f64> {
        (0..n)
            .map(|i| {
                if pinned[i] || i >= median {
                    base[i]
                } else {
                    (base[i] + shift).clamp(lo[i] + 0.1, hi[i] - 0.1)
                }
            })
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mut a, mut b) = (-20.0, 20.0);
    for _ in 0..60 {
        let mid = (a + b) / 2.0;
        let m = mean(&place(mid));
        if m < f64::from(r.avg) + 0.05 {
            a = mid;
        } else if m > f64::from(r.avg) + 0.5 {
            b = mid;
        } else {
            (a, b) = (mid, mid);
        }
    }
    place((a + b) / 2.0)
        .into_iter()
        .map(|ms| (ms * 1000.0).round() as u64)
        .collect()
}

/// The reference run's final snapshot.
pub(crate) fn reference_snapshot() -> Snapshot {
    let mut shard = Shard::new();
    for r in &ROWS {
        let key = RequestKey::new(r.method, r.name);
        let error = format!(
            "HTTPError('503 Server Error: Service Unavailable for url: {}')",
            r.name
        );
        for (i, us) in values_for(r).into_iter().enumerate() {
            let failed = i < r.failures;
            let when = if failed {
                0.5 + 0.01 * r.error_order as f64 + 0.001 * i as f64
            } else {
                1.0
            };
            let when = if r.name == "/health" && i == r.requests - 1 {
                DURATION_S
            } else {
                when
            };
            shard.record(
                &key,
                Duration::from_micros(us),
                300,
                failed.then_some(error.as_str()),
                at(when),
            );
        }
    }
    let mut agg = Aggregator::new(at(0.0));
    agg.merge_shard(&shard);
    agg.snapshot(at(DURATION_S + 0.5), 40)
}
