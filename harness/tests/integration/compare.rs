//! `loadgen compare` on runs of the mock: the same profile with different seeds must
//! not be flagged beyond the stated 5% family-wise error rate; a route slowed by 10% or
//! failing 2% more must be flagged, and only that route.
//!
//! The many-seed counts build each run's rows in process from the mock's own
//! behaviours (its latency distributions and failure rules, sampled as it samples them
//! per request) so that a hundred comparisons take seconds; one pair of real loadgen
//! runs against the mock on loopback goes through JSON reports and the command's files.

use hdrhistogram::Histogram;
use loadgen::compare::{compare, FailIf, RowFigures, RunFigures, FAMILY_ALPHA};
use mock_api::fault::{FailureKind, FailureRule, Trigger};
use mock_api::profile::{Behaviour, Profile};
use rand::SeedableRng;

/// The guide's mix: the three routes with their share of the requests.
const MIX: [(&str, &str, f64); 3] = [
    ("GET", "/api/clients", 0.5),
    ("GET", "/api/ml/predict", 0.4),
    ("POST", "/api/trading/execute", 0.1),
];

/// One run of `requests` requests in the guide's mix, each route's latency and failure
/// drawn from `profile` as the mock draws them.
fn sampled_run(profile: &Profile, requests: u64, seed: u64) -> RunFigures {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut all = Histogram::<u64>::new(3).unwrap();
    let mut all_failures = 0;
    let mut rows = Vec::new();
    for (method, path, share) in MIX {
        let behaviour: &Behaviour = profile.behaviour(&format!("{method} {path}"));
        let mut h = Histogram::<u64>::new(3).unwrap();
        let mut failures = 0;
        for i in 0..(requests as f64 * share) as u64 {
            let d = behaviour.decide(&mut rng, i);
            h.record(d.latency.as_micros() as u64).unwrap();
            failures += u64::from(d.failure.is_some());
        }
        all.add(&h).unwrap();
        all_failures += failures;
        rows.push(RowFigures::from_histogram(method, path, &h, failures));
    }
    RunFigures {
        source: format!("seed {seed}"),
        rows,
        aggregated: RowFigures::from_histogram("", "Aggregated", &all, all_failures),
    }
}

/// The guide profile with one route's behaviour changed.
fn changed(route: &str, change: impl FnOnce(&mut Behaviour)) -> Profile {
    let mut p = Profile::builtin("guide").unwrap();
    let mut b = p.behaviour(route).clone();
    change(&mut b);
    p.routes.insert(route.to_owned(), b);
    p
}

/// The largest count of a Binomial(n, p) that is exceeded with probability below 1e-4.
fn binomial_ceiling(n: u64, p: f64) -> u64 {
    harness::stat::binomial_acceptance(n, p, 2e-4).1
}

/// Over `seeds` pairs of 20 000-request runs, the guide's profile then `changed`: in how
/// many `fail_if` was breached on `route`, and in how many another row (not Aggregated)
/// changed significantly.
fn detections(changed: &Profile, route: &str, fail_if: &str, seeds: u64) -> (u64, u64) {
    let guide = Profile::builtin("guide").unwrap();
    let threshold = [FailIf::parse(fail_if).unwrap()];
    let (mut found, mut others) = (0, 0);
    for seed in 0..seeds {
        let c = compare(
            &sampled_run(&guide, 20_000, seed),
            &sampled_run(changed, 20_000, 1_000 + seed),
            &threshold,
        );
        found += u64::from(c.breaches.iter().any(|b| b.row == route));
        others += u64::from(
            c.significant()
                .any(|(r, _)| r != route && r != "Aggregated"),
        );
    }
    (found, others)
}

#[test]
fn the_same_profile_with_other_seeds_is_flagged_within_the_error_rate() {
    let guide = Profile::builtin("guide").unwrap();
    let seeds = 100;
    let mut alarms = 0;
    for seed in 0..seeds {
        let c = compare(
            &sampled_run(&guide, 4000, seed),
            &sampled_run(&guide, 4000, 1_000 + seed),
            &[FailIf::parse("p95 > +10%").unwrap()],
        );
        alarms += u64::from(c.significant().next().is_some());
        assert_eq!(c.exit_code(), u8::from(!c.breaches.is_empty()));
    }
    println!("false alarms: {alarms} of {seeds} comparisons (each at most {FAMILY_ALPHA})");
    // At most 5% per comparison: more than the ceiling has probability below 1e-4.
    assert!(
        alarms <= binomial_ceiling(seeds, FAMILY_ALPHA),
        "{alarms} of {seeds}"
    );
}

#[test]
fn a_route_slowed_by_ten_percent_is_flagged_and_no_other() {
    // 20 000 requests: predictions get 8 000, enough to resolve a 10% (70 ms) shift of
    // their 700 ms median: each run's median interval spans about +-25 ms at the
    // comparison's per-test level (0.05 / 20).
    let slow = changed("GET /api/ml/predict", |b| b.latency = b.latency.scaled(1.1));
    let seeds = 10;
    let (found, others) = detections(&slow, "GET /api/ml/predict", "p50 > +5%", seeds);
    println!("10% slower predictions: flagged in {found} of {seeds}, another row in {others}");
    assert_eq!(found, seeds);
    assert!(
        others <= binomial_ceiling(seeds, FAMILY_ALPHA),
        "{others} of {seeds}"
    );
}

#[test]
fn a_route_failing_two_percent_more_is_flagged_and_no_other() {
    // Client lists never fail in the guide; 2% of their 10 000 requests is 200 failures
    // against none.
    let failing = changed("GET /api/clients", |b| {
        b.failures = vec![FailureRule {
            kind: FailureKind::Status {
                code: 500,
                retry_after_ms: None,
            },
            trigger: Trigger::Probability(0.02),
        }];
    });
    let seeds = 10;
    let (found, others) = detections(&failing, "GET /api/clients", "fail_ratio > +1pp", seeds);
    println!(
        "2% more failures on client lists: flagged in {found} of {seeds}, another row in {others}"
    );
    assert_eq!(found, seeds);
    assert!(
        others <= binomial_ceiling(seeds, FAMILY_ALPHA),
        "{others} of {seeds}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_real_runs_compare_through_their_json_reports() {
    use harness::config::{Mode, RunSpec};
    use loadgen::json::{JsonReport, RunSettings};
    use std::time::Duration;
    // Trades twice as slow in the second run: their median moves from about 120 to
    // 240 ms (x0.1), far beyond either run's interval from ~250 trades.
    // The guide's mix at 200 users for a minute at x0.1: 6 s of wall time per run.
    let spec = |seed| {
        RunSpec::new(
            Mode::Guide,
            Some(200),
            Some(Duration::from_secs(60)),
            Some(0.1),
            seed,
        )
        .unwrap()
    };
    let baseline = spec(1);
    let mut slowed = spec(2);
    slowed.profile = changed("POST /api/trading/execute", |b| {
        b.latency = b.latency.scaled(2.0);
    });
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, spec) in [("baseline.json", &baseline), ("current.json", &slowed)] {
        let ev = harness::run::execute(spec).await.unwrap();
        let snapshot = &ev.outcome.snapshot;
        let path = dir.path().join(name);
        JsonReport::new(snapshot, &RunSettings::from_snapshot(snapshot, "guide"))
            .write(&path)
            .unwrap();
        paths.push(path);
    }
    let job = loadgen::compare::CompareJob {
        baseline: paths[0].clone(),
        current: paths[1].clone(),
        fail_if: vec!["p50 > +50%".into()],
        summary_md: Some(dir.path().join("compare.md")),
        ..Default::default()
    };
    let out = loadgen::compare::run_compare(&job).unwrap();
    println!("{}", out.text);
    let breached: Vec<&str> = out
        .comparison
        .breaches
        .iter()
        .map(|b| b.row.as_str())
        .collect();
    assert_eq!(breached, ["POST /api/trading/execute"], "{}", out.text);
    assert_eq!(out.exit_code(), 1);
    let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
    assert!(md.contains("REGRESSION `p50 > +50%`"), "{md}");
}
