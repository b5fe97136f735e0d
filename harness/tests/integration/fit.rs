//! `mock-api profile fit` end to end: the guide's tables, typed into Locust's stats CSV,
//! fitted to a profile; loadgen run against the mock serving it must reproduce the
//! tables. The fitted routes pass through every figure of the CSV (checked exactly
//! here), and the run's percentiles and failure counts must lie in the harness's
//! order-statistic bands and binomial regions around those routes (its own checks, with
//! their 1e-4 false-failure budget per run).

use std::time::Duration;

use harness::config::{Mode, RunSpec};

const GUIDE_CSV: &str = include_str!("../../../mock-api/tests/fixtures/guide_stats.csv");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_against_the_profile_fitted_to_the_guides_tables_reproduces_them() {
    let fit = mock_api::profile::fit(GUIDE_CSV, "guide_stats.csv", "fitted").unwrap();
    assert_eq!(fit.fitted.len(), 3, "{:?}", fit.unmatched);
    for f in &fit.fitted {
        let latency = &fit.profile.behaviour(f.route).latency;
        for &(p, ms) in &f.points {
            let q = latency.quantile(p / 100.0).as_secs_f64() * 1000.0;
            assert!(
                (q - ms).abs() < 1e-6,
                "{} p{p}: {q} ms, the CSV says {ms}",
                f.route
            );
        }
    }
    // The guide's mix at 200 users for a minute at x0.1: 6 s of wall time.
    let mut spec = RunSpec::new(
        Mode::Guide,
        Some(200),
        Some(Duration::from_secs(60)),
        Some(0.1),
        7,
    )
    .unwrap();
    spec.profile = fit.profile.clone();
    let ev = harness::run::execute(&spec).await.unwrap();
    let table = harness::checks::evaluate(&ev, &spec.expectation());
    println!("{}", table.render());
    assert!(table.all_passed(), "{}", table.render_unpassed());
    for name in [
        "latency GET /api/clients p95 vs profile",
        "latency GET /api/ml/predict p99 vs profile",
        "latency POST /api/trading/execute p50 vs profile",
        "failures POST /api/trading/execute status_500 rate",
        "failures GET /api/ml/predict status_500 rate",
    ] {
        assert!(
            table.get(name).is_some(),
            "no check {name:?}:\n{}",
            table.render_unpassed()
        );
    }
}
