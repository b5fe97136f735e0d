//! Comparisons of synthetic runs: lognormal response times drawn from seeds, so each
//! expectation holds for the statistics, not for one lucky draw.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

use super::*;

/// A row of `n` lognormal response times (median `median_ms`, sigma 0.5) of which
/// `failures` failed.
fn row(
    name: &str,
    n: u64,
    median_ms: f64,
    failures: u64,
    seed: u64,
) -> (RowFigures, Histogram<u64>) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let d = LogNormal::new(median_ms.ln(), 0.5).unwrap();
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        h.record((d.sample(&mut rng) * 1000.0) as u64).unwrap();
    }
    (RowFigures::from_histogram("GET", name, &h, failures), h)
}

/// A run of two rows and their Aggregated row.
fn run(rows: Vec<(RowFigures, Histogram<u64>)>) -> RunFigures {
    let mut all = Histogram::<u64>::new(3).unwrap();
    let mut failures = 0;
    for (r, h) in &rows {
        all.add(h).unwrap();
        failures += r.failures;
    }
    let rows = rows.into_iter().map(|(r, _)| r).collect();
    RunFigures {
        source: "run.json".into(),
        rows,
        aggregated: RowFigures::from_histogram("", AGGREGATED_NAME, &all, failures),
    }
}

fn fail_if(texts: &[&str]) -> Vec<FailIf> {
    texts.iter().map(|t| FailIf::parse(t).unwrap()).collect()
}

#[test]
fn the_family_counts_every_tested_measure_and_splits_alpha() {
    let a = run(vec![
        row("/a", 2000, 100.0, 20, 1),
        row("/b", 2000, 300.0, 0, 2),
    ]);
    let b = run(vec![
        row("/a", 2000, 100.0, 20, 3),
        row("/b", 2000, 300.0, 0, 4),
    ]);
    let c = compare(&a, &b, &fail_if(&["p(99.9) > +10%"]));
    // 3 rows (two and Aggregated) x (fail_ratio, avg, p50, p95, p99, p99.9).
    assert_eq!(c.tests, 18);
    assert!((c.test_alpha() - 0.05 / 18.0).abs() < 1e-15);
    assert_eq!(c.rows.last().unwrap().label, "Aggregated");
    assert_eq!(c.rows[0].changes.len(), 6);
}

#[test]
fn equal_systems_rarely_differ_and_a_slowed_or_failing_row_is_flagged_alone() {
    // Same system, 100 seed pairs: each comparison flags anything with probability at
    // most 5%, so more than 15 of 100 happens with probability below 1e-4.
    let mut alarms = 0;
    for seed in 0..100 {
        let a = run(vec![
            row("/a", 3000, 100.0, 30, seed),
            row("/b", 3000, 400.0, 0, seed + 1000),
        ]);
        let b = run(vec![
            row("/a", 3000, 100.0, 30, seed + 2000),
            row("/b", 3000, 400.0, 0, seed + 3000),
        ]);
        alarms += usize::from(compare(&a, &b, &[]).significant().next().is_some());
    }
    assert!(alarms <= 15, "{alarms} false alarms in 100");

    // /b 20% slower over 20 000 requests: its median moves about 12 of its interval's
    // half-widths, so the change is found on every seed; /a stays unflagged.
    let a = run(vec![
        row("/a", 20_000, 100.0, 200, 1),
        row("/b", 20_000, 400.0, 0, 2),
    ]);
    let b = run(vec![
        row("/a", 20_000, 100.0, 200, 3),
        row("/b", 20_000, 480.0, 400, 4),
    ]);
    let c = compare(&a, &b, &fail_if(&["p50 > +10%", "fail_ratio > +1pp"]));
    let flagged: Vec<(&str, String)> = c
        .significant()
        .map(|(r, ch)| (r, ch.measure.to_string()))
        .collect();
    assert!(flagged.iter().all(|(r, _)| *r != "GET /a"), "{flagged:?}");
    for m in ["p50", "p95", "fail_ratio", "avg"] {
        assert!(
            flagged.contains(&("GET /b", m.to_owned())),
            "{m}: {flagged:?}"
        );
    }
    let breached: Vec<String> = c
        .breaches
        .iter()
        .map(|b| format!("{} {}", b.row, b.fail_if))
        .collect();
    assert!(
        breached.contains(&"GET /b p50 > +10%".to_owned()),
        "{breached:?}"
    );
    assert!(
        breached.contains(&"GET /b fail_ratio > +1pp".to_owned()),
        "{breached:?}"
    );
    assert_eq!(c.exit_code(), 1);
}

#[test]
fn a_large_change_on_few_requests_never_fails_and_a_tiny_real_one_neither() {
    // 30 requests against 30, the current twice as slow at p99: far too few to tell.
    let a = run(vec![row("/a", 30, 100.0, 0, 1)]);
    let b = run(vec![row("/a", 30, 200.0, 3, 2)]);
    let c = compare(&a, &b, &fail_if(&["p99 > +10%", "fail_ratio > +1pp"]));
    let p99 = c.rows[0]
        .changes
        .iter()
        .find(|c| c.measure == Measure::Percentile(0.99))
        .unwrap();
    assert!(!p99.significant);
    assert!(p99.current > p99.baseline * 1.1, "the change looks large");
    assert_eq!(c.exit_code(), 0, "{:?}", c.breaches);

    // 200 000 requests each, 3% slower: significant, but under the 10% threshold.
    let a = run(vec![row("/a", 200_000, 100.0, 0, 1)]);
    let b = run(vec![row("/a", 200_000, 103.0, 0, 2)]);
    let c = compare(&a, &b, &fail_if(&["p50 > +10%"]));
    let p50 = c.rows[0]
        .changes
        .iter()
        .find(|c| c.measure == Measure::Percentile(0.5))
        .unwrap();
    assert!(p50.significant, "{p50:?}");
    assert_eq!(c.exit_code(), 0);
    // The same change fails a 2% threshold.
    assert_eq!(compare(&a, &b, &fail_if(&["p50 > +2%"])).exit_code(), 1);
}

#[test]
fn rows_of_one_run_only_are_listed_untested() {
    let a = run(vec![
        row("/a", 100, 100.0, 0, 1),
        row("/old", 100, 100.0, 0, 2),
    ]);
    let b = run(vec![
        row("/a", 100, 100.0, 0, 3),
        row("/new", 100, 100.0, 0, 4),
    ]);
    let c = compare(&a, &b, &[]);
    let labels: Vec<&str> = c.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["GET /a", "GET /old", "GET /new", "Aggregated"]);
    assert!(c.rows[1].current.is_none() && c.rows[1].changes.is_empty());
    assert!(c.rows[2].baseline.is_none());
    assert_eq!(c.tests, 10);
}

#[test]
fn a_locust_side_tests_percentiles_and_failures_but_not_the_average() {
    let a = run(vec![row("/a", 5000, 100.0, 50, 1)]);
    let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
    let mut b = a.clone();
    // The same row as Locust would print it: rounded percentile columns.
    let (_, h) = row("/a", 5000, 100.0, 50, 1);
    let columns = crate::stats::PERCENTILES_TO_REPORT
        .iter()
        .map(|&q| {
            (
                q,
                (h.value_at_quantile(q) as f64 / 1000.0 + rng.random_range(-0.4..0.4)).round(),
            )
        })
        .collect();
    b.rows[0].latency = Latency::Locust {
        columns,
        min_ms: 20.0,
    };
    b.rows[0].sd_ms = None;
    let c = compare(&a, &b, &[]);
    let r = &c.rows[0];
    assert!(
        r.untested.iter().any(|u| u.starts_with("avg: untested")),
        "{:?}",
        r.untested
    );
    assert_eq!(r.changes.len(), 4);
    assert!(c.significant().next().is_none());
}
