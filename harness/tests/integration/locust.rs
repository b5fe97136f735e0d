//! `harness locust` end to end with real Locust: the project's locustfiles pass against
//! the mock, loadgen's binary passes through the same path, and each deliberate
//! breakage fails the check that exists to catch it; bad input stops the harness with
//! a clear message and exit code 2.
//!
//! Runs are real time (Locust's waits are the file's own and cannot be scaled) and
//! short: 60 users for 15 s, or 200 for 20 s where a criterion or a percentile must be
//! decided at the sample size, each after a calibration of about 10 s. The mock
//! is seeded and every tolerance comes from the sample sizes with a false-failure
//! budget of 1e-4 per run.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{assert_fails, assert_passes};
use harness::locust::run::{execute, LocustEvidence};
use harness::locust::{LocustExpectation, LocustSpec};
use harness::CheckTable;
use mock_api::profile::Profile;

const NEEDS_LOCUST: &str = "needs Locust: pip install locust==2.47.0 and put it on PATH";

/// A file of the repository.
fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A fixture of these tests.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/locust")
        .join(name)
}

/// The project's locustfile with `from` (which must occur exactly once) replaced by
/// `to`, written into `dir`: a breakage that follows the real file as it changes.
fn broken_copy(dir: &tempfile::TempDir, name: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("scenarios/locustfile.py")).expect("the locustfile");
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} in scenarios/locustfile.py"
    );
    let path = dir.path().join(name);
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write the broken copy");
    path
}

fn require_locust() {
    support::require_locust(NEEDS_LOCUST);
}

/// A spec of `file` against `profile` with `users` at 20/s for `secs` seconds.
fn spec(program: PathBuf, file: PathBuf, profile: &str, users: usize, secs: u64) -> LocustSpec {
    let profile = Profile::load(profile).unwrap_or_else(|e| panic!("profile: {e}"));
    let mut spec = LocustSpec::new(program, file, profile);
    spec.users = users;
    spec.spawn_rate = 20.0;
    spec.run_time = Duration::from_secs(secs);
    spec.seed = 7;
    spec
}

/// What the checks expect: the classes and weights of `file` as loadgen's importer
/// reads them, restricted to the spec's classes, and the spec's profile.
fn expect(spec: &LocustSpec, file: PathBuf) -> LocustExpectation {
    let spec = LocustSpec {
        locustfile: file,
        ..spec.clone()
    };
    LocustExpectation::of(&spec).unwrap_or_else(|e| panic!("expectation: {e}"))
}

async fn run(spec: &LocustSpec) -> LocustEvidence {
    execute(spec).await.unwrap_or_else(|e| panic!("run: {e}"))
}

/// Evaluates and prints what ran and the table (shown by the test runner on failure).
fn evaluate(ev: &LocustEvidence, exp: &LocustExpectation) -> CheckTable {
    let table = harness::locust::checks::evaluate(ev, exp);
    print!(
        "{}{}{}",
        harness::locust::report::header(ev, "locust"),
        harness::locust::report::rows(ev),
        table.render()
    );
    table
}

/// No check failed, and every check not made is one these short runs cannot make: the
/// p95 and p99 upper bounds of rows with too few requests for any calibrated rank shift,
/// and the task mix of a class whose rows cannot tell its tasks apart. A skip is not a
/// pass (the table has not "all passed"), so each is named here rather than ignored.
fn assert_nothing_failed(table: &CheckTable) {
    assert_eq!(table.failures().count(), 0, "{}", table.render_unpassed());
    for skipped in table.skipped() {
        let why = &skipped.measured;
        assert!(
            why.starts_with("no upper bound: with ")
                || why.starts_with("fewer than two of its tasks"),
            "{} was not made: {why}\n{}",
            skipped.name,
            table.render_unpassed()
        );
    }
    let (pass, _, _) = table.counts();
    assert!(
        pass > 30,
        "too few checks passed:\n{}",
        table.render_unpassed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn the_project_locustfile_passes_on_healthy() {
    require_locust();
    let spec = spec(
        "locust".into(),
        repo("scenarios/locustfile.py"),
        "healthy",
        60,
        15,
    );
    let ev = run(&spec).await;
    let table = evaluate(&ev, &expect(&spec, repo("scenarios/locustfile.py")));
    assert_nothing_failed(&table);
    assert_passes(&table, "task mix ACISAPIUser");
    assert_passes(&table, "class split ACISStressTestUser");
    assert_passes(&table, "verdict exit code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn on_guide_the_fixed_hook_passes_and_the_unfixed_one_and_another_trade_probability_fail() {
    require_locust();
    // 200 users of every class for 20 s: about 1 000 requests, enough for the p95
    // criterion's range to fall on one side of 5 000 ms. Whether the run meets the
    // criteria is the mock's draw (trades fail 10% and make up a third of the requests,
    // so the whole run fails near 5%): the checks compare the file's verdict with the
    // mock's either way.
    let project = repo("scenarios/locustfile.py");
    let fixed = spec("locust".into(), project.clone(), "guide", 200, 20);
    // ACISAPIUser alone trades less: about 0.5% of its requests fail, a run that passes
    // with failed requests, the case the unfixed hook gets wrong. 300 users make about
    // 1 250 requests and 6-9 failures in six runs: the mock draws each route's failures
    // from its seed and the request's place in that route's sequence, so with seed 8
    // the first 206 predictions hold 3 failures and the first 39 trades 3: only a run
    // far shorter than this one could have none.
    // The hook as it was: no process_exit_code = 0 on a passing run.
    let dir = tempfile::tempdir().expect("a folder");
    let unfixed_hook = broken_copy(
        &dir,
        "unfixed_hook.py",
        "\n        environment.process_exit_code = 0\n",
        "\n",
    );
    let mut unfixed = LocustSpec {
        locustfile: unfixed_hook,
        users: 300,
        seed: 8,
        ..fixed.clone()
    };
    unfixed.classes = vec!["ACISAPIUser".to_owned()];
    let (ev, unfixed_ev) = tokio::join!(run(&fixed), run(&unfixed));

    let table = evaluate(&ev, &expect(&fixed, project.clone()));
    assert_nothing_failed(&table);
    assert_passes(
        &table,
        "failures POST /api/trading/execute status_500 ratio",
    );
    assert_passes(&table, "verdict exit code");

    // The same run judged against a profile whose trades fail 40% of the time.
    let mut other = expect(&fixed, project.clone());
    other.profile = Profile::load(&fixture("trade_failures.toml").to_string_lossy())
        .unwrap_or_else(|e| panic!("fixture profile: {e}"));
    let table = evaluate(&ev, &other);
    assert_fails(
        &table,
        "failures POST /api/trading/execute status_500 ratio",
    );
    assert_passes(&table, "counts POST /api/trading/execute requests");

    // The unfixed hook prints PASSED and Locust exits 1 all the same.
    let table = evaluate(&unfixed_ev, &expect(&unfixed, project));
    assert!(unfixed_ev
        .server
        .routes
        .values()
        .any(|r| !r.failures.is_empty()));
    assert_fails(&table, "verdict exit code");
    assert_passes(&table, "verdict printed");
    let check = table.get("verdict exit code").expect("exit code check");
    assert!(
        check.measured.contains("process_exit_code"),
        "the failure says what to do: {}",
        check.measured
    );
    assert_eq!(table.failures().count(), 1, "{}", table.render_unpassed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_changed_task_weight_fails_the_task_mix() {
    require_locust();
    let dir = tempfile::tempdir().expect("a folder");
    let changed = broken_copy(
        &dir,
        "changed_weight.py",
        "    @task(5)\n    def get_clients",
        "    @task(15)\n    def get_clients",
    );
    let mut spec = spec("locust".into(), changed, "healthy", 60, 15);
    spec.classes = vec!["ACISAPIUser".to_owned()];
    let ev = run(&spec).await;
    // Expected: the project's weights (get_clients 5), not the file's 15.
    let table = evaluate(&ev, &expect(&spec, repo("scenarios/locustfile.py")));
    assert_fails(&table, "task mix ACISAPIUser");
    assert_passes(&table, "counts GET /api/clients requests");
    assert_passes(&table, "class split ACISAPIUser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_tool_reporting_shifted_counts_and_percentiles_fails_those_checks() {
    require_locust();
    let spec = spec(
        fixture("fake_locust"),
        repo("scenarios/guide_locustfile.py"),
        "guide",
        200,
        20,
    );
    let ev = run(&spec).await;
    let table = evaluate(&ev, &expect(&spec, repo("scenarios/guide_locustfile.py")));
    assert_fails(&table, "counts GET /api/clients requests");
    assert_passes(&table, "counts GET /api/ml/predict requests");
    assert_passes(&table, "counts POST /api/trading/execute requests");
    assert_fails(&table, "latency GET /api/ml/predict p50 vs mock");
    assert_fails(&table, "latency GET /api/ml/predict p95 vs mock");
    assert_passes(&table, "latency POST /api/trading/execute p50 vs mock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs loadgen's binary: cargo build -p loadgen (cargo test --workspace builds it)"]
async fn loadgens_binary_passes_through_the_same_path() {
    let spec = spec(
        support::loadgen_binary(),
        repo("scenarios/acis.toml"),
        "healthy",
        60,
        15,
    );
    let exp = LocustExpectation::of(&spec).unwrap_or_else(|e| panic!("expectation: {e}"));
    let ev = run(&spec).await;
    let table = evaluate(&ev, &exp);
    assert_nothing_failed(&table);
    assert_passes(&table, "task mix ACISAPIUser");
}

#[test]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
fn bad_input_stops_with_a_clear_message_and_exit_code_2() {
    require_locust();
    let syntax = fixture("syntax_error.py");
    let early = fixture("exits_early");
    let project = repo("scenarios/locustfile.py");
    let cases: [(Vec<&str>, &str); 4] = [
        (vec!["-f", syntax.to_str().unwrap()], "syntax error"),
        (
            vec!["-f", project.to_str().unwrap(), "NoSuchUser"],
            "NoSuchUser",
        ),
        (
            vec![
                "-f",
                project.to_str().unwrap(),
                "--locust",
                early.to_str().unwrap(),
            ],
            "exit code 3",
        ),
        (vec!["-f", "no/such/locustfile.py"], "no such file"),
    ];
    for (args, says) in cases {
        let mut all = vec!["locust", "-t", "3s", "-u", "2", "--profile", "fast"];
        all.extend(args.iter().copied());
        let (code, stdout, stderr) = support::harness_program(&all);
        assert_eq!(code, Some(2), "{all:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{all:?} should say {says:?}: {stderr}"
        );
        assert!(
            stdout.is_empty(),
            "{all:?} printed a partial report: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_that_hangs_is_killed_at_its_bound() {
    let mut spec = spec(
        fixture("hangs"),
        repo("scenarios/locustfile.py"),
        "fast",
        1,
        1,
    );
    spec.allowance = Duration::from_secs(1);
    spec.time_scale = 0.01; // the stop timeout shrinks with it: 0.6 s
    let started = std::time::Instant::now();
    let e = execute(&spec).await.expect_err("a hung tool is an error");
    assert!(started.elapsed() < Duration::from_secs(20));
    let text = e.to_string();
    assert!(text.contains("killed") && text.contains("hangs"), "{text}");
}
