//! Baselines and criteria end to end: four runs whose profiles put the guide's five
//! metrics in known bands (derived from the profile and the sample size before each run
//! starts, re-derived with the sample it got), loadgen's band for the Aggregated row,
//! the platform's criteria, the verdict and the exit code.
//!
//! Seeds are fixed and every interval carries a false-failure probability of at most
//! 5e-6 (twelve statistical statements in all), so these tests are not flaky by
//! construction.

use harness::checks::bands::{self, BandRun, RUNS};
use harness::CheckTable;
use loadgen::baseline::Band;

/// Runs one band run after checking that its bands follow from its profile.
async fn run_and_check(run: &BandRun, seed: u64) -> (harness::Evidence, CheckTable) {
    // Before running: the designed bands are what the profile and the planned sample
    // size give, not a hope.
    assert_eq!(
        bands::derive_before_run(run),
        Ok(run.designed),
        "{} is not derived to its designed bands",
        run.name
    );
    let spec = run
        .spec(seed)
        .unwrap_or_else(|e| panic!("{}: {e}", run.name));
    let ev = harness::run::execute(&spec)
        .await
        .unwrap_or_else(|e| panic!("{}: run: {e}", run.name));
    let mut table = CheckTable::default();
    table.extend(bands::checks(run, &ev));
    println!("{}", table.render());
    (ev, table)
}

fn assert_all_passed(run: &BandRun, table: &CheckTable) {
    assert!(
        table.all_passed(),
        "{}:\n{}",
        run.name,
        table.render_unpassed()
    );
    // Derivation, five bands, three criteria, verdict, two exit codes.
    assert_eq!(
        table.counts().0,
        12,
        "{}:\n{}",
        run.name,
        table.render_unpassed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_run_lands_in_target_with_acceptable_errors_and_passes() {
    let run = &RUNS[0];
    let (_, table) = run_and_check(run, 11).await;
    assert_all_passed(run, &table);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptable_run_lands_in_its_bands_and_a_wrong_expectation_is_caught() {
    let run = &RUNS[1];
    let (ev, table) = run_and_check(run, 12).await;
    assert_all_passed(run, &table);
    // The same evidence judged against a wrong design: average degraded, exit code 1.
    let mut wrong = *run;
    wrong.designed[0] = Band::Degraded;
    wrong.designed_exit = 1;
    let mut judged = CheckTable::default();
    judged.extend(bands::checks(&wrong, &ev));
    for name in [
        "bands acceptable derivation",
        "bands acceptable Aggregated avg",
        "bands acceptable exit code",
    ] {
        let check = judged
            .get(name)
            .unwrap_or_else(|| panic!("no check {name}:\n{}", judged.render_unpassed()));
        assert!(
            check.failed(),
            "{name} should fail:\n{}",
            judged.render_unpassed()
        );
    }
    assert_eq!(judged.failures().count(), 3, "{}", judged.render_unpassed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_run_lands_in_its_bands_and_still_passes_the_criteria() {
    let run = &RUNS[2];
    let (_, table) = run_and_check(run, 13).await;
    assert_all_passed(run, &table);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poor_run_lands_in_poor_and_fails_every_criterion_with_exit_code_1() {
    let run = &RUNS[3];
    let (_, table) = run_and_check(run, 14).await;
    assert_all_passed(run, &table);
    for metric in ["avg", "p(95)", "fail_ratio"] {
        let name = bands::PLATFORM_CRITERIA
            .iter()
            .find(|(m, _)| *m == metric)
            .map(|(m, t)| format!("bands poor criterion {m} < {t}"))
            .unwrap_or_default();
        let check = table.get(&name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(check.expected, "fail", "{name}");
    }
}
