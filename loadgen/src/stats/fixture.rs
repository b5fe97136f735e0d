//! Test fixture: a [`Snapshot`] recorded with the performance guide's example numbers
//! (a one-minute run of the 50/40/10 mix): per row the request count, failures and
//! requests/s of its "Request Statistics", and the average, minimum, maximum, median,
//! 95th and 99th percentiles of its "Response Time Distribution" (plus the other
//! percentiles of its percentile table where it gives them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::stats::{Aggregator, RequestKey, Shard, Snapshot};

/// One row of the guide's tables.
struct GuideRow {
    method: &'static str,
    name: &'static str,
    requests: usize,
    failures: usize,
    avg: f64,
    /// (percentile, ms) pins, including 0 (min), 0.5 (median) and 1 (max).
    pins: &'static [(f64, f64)],
}

const ROWS: [GuideRow; 3] = [
    GuideRow {
        method: "GET",
        name: "/api/clients",
        requests: 5000,
        failures: 0,
        avg: 250.0,
        pins: &[
            (0.0, 50.0),
            (0.5, 200.0),
            (0.66, 250.0),
            (0.75, 300.0),
            (0.8, 350.0),
            (0.9, 450.0),
            (0.95, 500.0),
            (0.98, 800.0),
            (0.99, 1000.0),
            (1.0, 2000.0),
        ],
    },
    GuideRow {
        method: "GET",
        name: "/api/ml/predict",
        requests: 4000,
        failures: 50,
        avg: 800.0,
        pins: &[
            (0.0, 200.0),
            (0.5, 700.0),
            (0.66, 850.0),
            (0.75, 950.0),
            (0.8, 1050.0),
            (0.9, 1500.0),
            (0.95, 2000.0),
            (0.98, 2800.0),
            (0.99, 3000.0),
            (1.0, 5000.0),
        ],
    },
    GuideRow {
        method: "POST",
        name: "/api/trading/execute",
        requests: 1000,
        failures: 100,
        avg: 1500.0,
        pins: &[
            (0.0, 500.0),
            (0.5, 1200.0),
            (0.95, 4000.0),
            (0.99, 8000.0),
            (1.0, 10000.0),
        ],
    },
];

/// The run lasts one minute: 5000 requests at 83.3/s.
const DURATION_S: u64 = 60;

const T0: u64 = 1_795_000_000;

/// Locust's rank (1-based) of percentile `p` among `n` values; the median's for 0.5.
fn rank(n: usize, p: f64) -> usize {
    if p == 0.5 {
        (n - 1) / 2 + 1
    } else {
        ((n as f64 * p) as usize + 1).min(n)
    }
}

/// `n` ascending values (ms) that hit every pin at its rank and whose mean is `avg`:
/// straight lines between pins, then the unpinned values shifted by one amount
/// (clamped between their neighbouring pins) until the mean is right.
fn values_for(row: &GuideRow) -> Vec<f64> {
    let n = row.requests;
    let pins: Vec<(usize, f64)> = row.pins.iter().map(|&(p, v)| (rank(n, p), v)).collect();
    let mut base = vec![0.0; n];
    let mut bounds = vec![(0.0, 0.0); n];
    let mut pinned = vec![false; n];
    for w in pins.windows(2) {
        let ((ra, va), (rb, vb)) = (w[0], w[1]);
        for r in ra..=rb {
            base[r - 1] = va + (vb - va) * (r - ra) as f64 / (rb - ra).max(1) as f64;
            bounds[r - 1] = (va, vb);
        }
        pinned[ra - 1] = true;
        pinned[rb - 1] = true;
    }
    let place = |shift: f64| -> Vec<f64> {
        (0..n)
            .map(|i| {
                if pinned[i] {
                    base[i]
                } else {
                    (base[i] + shift).clamp(bounds[i].0, bounds[i].1)
                }
            })
            .collect()
    };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mut lo, mut hi) = (-20_000.0, 20_000.0);
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if mean(&place(mid)) < row.avg {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    place((lo + hi) / 2.0)
}

fn at(seconds: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0) + Duration::from_secs_f64(seconds)
}

/// The guide's example run, as loadgen would have recorded it, with one aggregated
/// history row per second and 50 users.
pub(crate) fn guide_snapshot() -> Snapshot {
    // Each second's shard: (row, response time µs, failed).
    let mut seconds: Vec<Shard> = (0..DURATION_S).map(|_| Shard::new()).collect();
    let mut last = Shard::new();
    for row in &ROWS {
        let key = RequestKey::new(row.method, row.name);
        let error = format!("HTTPError('500 Server Error for url: {}')", row.name);
        let n = row.requests;
        for (i, ms) in values_for(row).into_iter().enumerate() {
            // Spread values over the minute in a fixed scrambled order (7919 is prime, so
            // coprime with every count), failures evenly among them.
            let slot = (i * 7919) % n;
            let t = DURATION_S as f64 * (slot + 1) as f64 / n as f64;
            let failed = slot % (n / row.failures.max(1)) == 0 && row.failures > 0;
            let shard = if slot + 1 == n {
                &mut last
            } else {
                &mut seconds[(t as usize).min(DURATION_S as usize - 1)]
            };
            shard.record(
                &key,
                Duration::from_micros((ms * 1000.0).round() as u64),
                1024,
                failed.then_some(error.as_str()),
                at(t),
            );
        }
    }
    let mut agg = Aggregator::new(at(0.0));
    for (s, shard) in seconds.iter().enumerate() {
        agg.merge_shard(shard);
        let snapshot = agg.snapshot(at(s as f64 + 1.0), 50);
        agg.push_history(&snapshot);
    }
    agg.merge_shard(&last);
    agg.snapshot(at(DURATION_S as f64 + 0.5), 50)
}

#[test]
fn the_fixture_shows_the_guides_numbers() {
    let s = guide_snapshot();
    let cases = [
        ("/api/clients", 5000, 0, 250, 50, 2000, 200, 500, 1000, 83.3),
        (
            "/api/ml/predict",
            4000,
            50,
            800,
            200,
            5000,
            700,
            2000,
            3000,
            66.7,
        ),
        (
            "/api/trading/execute",
            1000,
            100,
            1500,
            500,
            10000,
            1200,
            4000,
            8000,
            16.7,
        ),
    ];
    for (name, reqs, fails, avg, min, max, med, p95, p99, rps) in cases {
        let r = s.rows.iter().find(|r| r.name == name).unwrap();
        assert_eq!(
            (r.num_requests(), r.num_failures()),
            (reqs, fails),
            "{name}"
        );
        assert_eq!(r.avg_response_time_ms().round(), f64::from(avg), "{name}");
        assert_eq!(r.min_response_time_ms().round(), f64::from(min), "{name}");
        assert_eq!(r.max_response_time_ms().round(), f64::from(max), "{name}");
        // Three significant digits: a bucket is at most 0.1% wide.
        let near = |v: f64, want: u32| (v - f64::from(want)).abs() <= f64::from(want) * 0.001 + 0.5;
        assert!(near(r.median_response_time_ms(), med), "{name}");
        assert!(near(r.percentile_ms(0.95).unwrap(), p95), "{name}");
        assert!(near(r.percentile_ms(0.99).unwrap(), p99), "{name}");
        assert_eq!(
            format!("{:.1}", r.total_rps()),
            format!("{rps:.1}"),
            "{name}"
        );
    }
    assert_eq!(s.aggregated.num_requests(), 10_000);
    assert_eq!(s.history.len(), DURATION_S as usize);
}
