//! End to end: the mock and loadgen in one process, every check evaluated on real runs,
//! and deliberate breakages that must make the right named check fail.
//!
//! Runs are seeded, and every statistical tolerance comes from the sample size with a
//! false-failure budget of 1e-4 per run, so these tests are not flaky by construction.

use std::sync::Arc;

use crate::support::{assert_fails, assert_passes, evaluate, run, spec};
use harness::config::Mode;
use mock_api::fault::Trigger;
use mock_api::latency::LatencyDistribution;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_run_passes_every_check_and_catches_a_wrong_weight_or_a_shifted_histogram() {
    let spec = spec(Mode::Guide, 200, 7);
    let ev = run(&spec).await;
    let table = evaluate(&ev, &spec.expectation());
    assert!(table.all_passed(), "{}", table.render_unpassed());
    let (pass, _, _) = table.counts();
    assert!(pass > 40, "{}", table.render_unpassed());
    // The trade row fails about 10% of the time (its binomial check passed above).
    let trade = ev
        .outcome
        .snapshot
        .row("POST", "/api/trading/execute")
        .expect("trade row");
    assert!(trade.num_requests() > 200 && trade.num_failures() > 0);

    // A wrong task weight in the expected model: predict weighted 2 instead of 4.
    let mut wrong = spec.expectation();
    let mut class = (*wrong.scenario.classes[0]).clone();
    let predict = class
        .tasks
        .iter_mut()
        .find(|t| t.name == "predict")
        .expect("predict task");
    predict.weight = 2;
    wrong.scenario.classes[0] = Arc::new(class);
    let table = evaluate(&ev, &wrong);
    assert_fails(&table, "task mix GuideUser");
    assert_passes(&table, "latency GET /api/clients p50 vs mock");

    // The mock's histogram with shifted values: every server time of GET /api/clients
    // 20% longer than it was.
    let mut shifted = ev.clone();
    let route = shifted
        .server
        .routes
        .get_mut("GET /api/clients")
        .expect("clients route");
    let h = route.decode_histogram().expect("histogram");
    let mut moved = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    for v in h.iter_recorded() {
        moved
            .record_n(v.value_iterated_to() * 6 / 5, v.count_at_value())
            .expect("record");
    }
    route.histogram = loadgen::json::histogram_to_base64(&moved).expect("encode");
    let table = evaluate(&shifted, &spec.expectation());
    assert_fails(&table, "latency GET /api/clients p50 vs mock");
    assert_passes(&table, "latency GET /api/ml/predict p50 vs mock");
    assert_passes(&table, "task mix GuideUser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_given_another_latency_sampler_and_failure_probability_is_caught() {
    let mut spec = spec(Mode::Guide, 200, 11);
    let expectation = spec.expectation();
    // The mock gets a uniform sampler on 400..1200 ms for GET /api/clients (median 800 ms
    // instead of the guide's 200) and fails 30% of trades instead of 10%; the
    // expectation keeps the guide profile. The sampler is slower, not faster, on purpose:
    // a loaded machine only adds time, so it can hide a faster sampler behind late
    // timers but never a slower one (the upper bound's slack comes from the mock's own
    // delay errors of this very run).
    let clients = spec
        .profile
        .routes
        .get_mut("GET /api/clients")
        .expect("clients");
    clients.latency = LatencyDistribution::Uniform {
        low_ms: 400.0,
        high_ms: 1200.0,
        min_ms: None,
        max_ms: None,
    };
    let trade = spec
        .profile
        .routes
        .get_mut("POST /api/trading/execute")
        .expect("trade");
    trade.failures[0].trigger = Trigger::Probability(0.3);
    let ev = run(&spec).await;
    let table = evaluate(&ev, &expectation);
    assert_fails(&table, "latency GET /api/clients p50 vs profile");
    assert_fails(&table, "failures POST /api/trading/execute status_500 rate");
    // What did not break still passes: loadgen still agrees with the mock, every
    // injected failure is still seen as its kind and no failed trade is written.
    for p in [50, 90, 95, 99] {
        assert_passes(&table, &format!("latency GET /api/clients p{p} vs mock"));
    }
    assert_passes(&table, "latency GET /api/ml/predict p95 vs profile");
    assert_passes(
        &table,
        "failures POST /api/trading/execute status_500 seen as kind",
    );
    assert_passes(&table, "data trades written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_three_acis_classes_split_mix_wait_and_write_as_configured() {
    let spec = spec(Mode::All, 60, 3);
    let ev = run(&spec).await;
    let table = evaluate(&ev, &spec.expectation());
    assert!(table.all_passed(), "{}", table.render_unpassed());
    for class in ["ACISAPIUser", "ACISStressTestUser", "ACISBackgroundJobUser"] {
        assert_passes(&table, &format!("class split {class}"));
        assert_passes(&table, &format!("task mix {class}"));
        assert_passes(&table, &format!("waits {class} uniform"));
    }
    // Bulk trades: five requests per task, in the exact accounting.
    assert_passes(&table, "task mix requests per task");
    assert_passes(&table, "data trades written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_injected_failure_kind_is_seen_by_loadgen_as_that_kind() {
    // The flaky profile injects, at 1% each on every route but /health: 500, 503 and
    // 429 statuses, resets, closes, garbage, hangs and dribbles.
    let mut spec = spec(Mode::Guide, 100, 5);
    spec.profile = mock_api::profile::Profile::builtin("flaky").expect("flaky profile");
    let ev = run(&spec).await;
    let table = evaluate(&ev, &spec.expectation());
    assert!(table.all_passed(), "{}", table.render_unpassed());
    for kind in [
        "status_500",
        "status_503",
        "status_429",
        "reset",
        "close",
        "garbage",
        "hang",
    ] {
        assert_passes(
            &table,
            &format!("failures GET /api/clients {kind} seen as kind"),
        );
    }
    assert_passes(&table, "data trades written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stress_background_and_all_modes_pass_with_their_default_loads() {
    // The commands `harness stress`, `harness background` and `harness all`, as a user
    // runs them: each mode's own users, duration and time scale.
    for (mode, classes) in [
        (Mode::Stress, &["ACISStressTestUser"][..]),
        (Mode::Background, &["ACISBackgroundJobUser"][..]),
        (
            Mode::All,
            &["ACISAPIUser", "ACISStressTestUser", "ACISBackgroundJobUser"][..],
        ),
    ] {
        let spec = harness::config::RunSpec::new(mode, None, None, None, 7)
            .unwrap_or_else(|e| panic!("spec: {e}"));
        assert_eq!(spec.load, mode.defaults());
        let ev = run(&spec).await;
        let table = evaluate(&ev, &spec.expectation());
        assert!(
            table.all_passed(),
            "{}:\n{}",
            mode.name(),
            table.render_unpassed()
        );
        for class in classes {
            assert_passes(&table, &format!("class split {class}"));
            assert_passes(&table, &format!("task mix {class}"));
        }
        if mode != Mode::Background {
            // The background class sends no trade; the others write every successful one.
            assert_passes(&table, "data trades written");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mock_whose_trade_p99_is_20_percent_off_the_profile_is_caught() {
    // The guide's trade p99 is 8000 ms and its p100 10000 ms: the mock given a p99 point
    // of 9600 ms draws about 0.8% of trades, not 0.2%, above 9600. The mock's own draws
    // (its per-request log of the latency it chose) are judged against the profile with
    // no timer slack, so the p99 band's top is the Beta's alone: near 8,700 ms at
    // 16,000 trades, against a drawn p99 near 9,600. Trades only (the GuideUser's other
    // tasks removed), 200 users for six of the guide's minutes at x0.2.
    let mut spec = harness::config::RunSpec::new(
        Mode::Guide,
        Some(200),
        Some(std::time::Duration::from_secs(360)),
        Some(0.2),
        17,
    )
    .unwrap_or_else(|e| panic!("spec: {e}"));
    let mut class = (*spec.scenario.classes[0]).clone();
    class.tasks.retain(|t| t.name == "execute_trade");
    assert_eq!(class.tasks.len(), 1, "the guide has a trade task");
    spec.scenario.classes[0] = Arc::new(class);
    let expectation = spec.expectation();
    let trade = spec
        .profile
        .routes
        .get_mut("POST /api/trading/execute")
        .expect("trade");
    let LatencyDistribution::Quantiles { points, .. } = &mut trade.latency else {
        panic!("the guide's trade latency is a quantile table");
    };
    let p99 = points
        .iter_mut()
        .find(|p| p[0] == 99.0)
        .expect("a p99 point");
    p99[1] *= 1.2;
    let ev = run(&spec).await;
    let table = evaluate(&ev, &expectation);
    assert_fails(
        &table,
        "latency POST /api/trading/execute p99 chosen vs profile",
    );
    // Only the tail moved: the body of the distribution still matches, and loadgen still
    // agrees with the mock.
    assert_passes(
        &table,
        "latency POST /api/trading/execute p50 chosen vs profile",
    );
    assert_passes(&table, "latency POST /api/trading/execute p99 vs mock");
}
