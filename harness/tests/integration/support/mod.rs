//! Shared helpers for the harness's end-to-end tests: one run per spec, evaluated, with
//! the check table printed on failure so a red test says which check broke and why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::config::{Expectation, Mode, RunSpec};
use harness::run::Evidence;
use harness::CheckTable;

/// The test load: a minute of unscaled time at x0.1 (6 s of wall time), enough samples
/// for every check, small enough for a debug build on two cores.
pub fn spec(mode: Mode, users: usize, seed: u64) -> RunSpec {
    RunSpec::new(
        mode,
        Some(users),
        Some(Duration::from_secs(60)),
        Some(0.1),
        seed,
    )
    .unwrap_or_else(|e| panic!("spec: {e}"))
}

/// Runs a spec to its evidence.
pub async fn run(spec: &RunSpec) -> Evidence {
    harness::run::execute(spec)
        .await
        .unwrap_or_else(|e| panic!("run: {e}"))
}

/// Evaluates and prints the table (shown by the test runner only on failure).
pub fn evaluate(ev: &Evidence, exp: &Expectation) -> CheckTable {
    let table = harness::checks::evaluate(ev, exp);
    println!("{}", table.render());
    table
}

/// Asserts that `name` is a check and failed.
pub fn assert_fails(table: &CheckTable, name: &str) {
    let check = table
        .get(name)
        .unwrap_or_else(|| panic!("no check named {name:?}\n{}", table.render_unpassed()));
    assert!(
        check.failed(),
        "{name} should fail:\n{}",
        table.render_unpassed()
    );
}

/// Asserts that `name` is a check and passed.
pub fn assert_passes(table: &CheckTable, name: &str) {
    let check = table
        .get(name)
        .unwrap_or_else(|| panic!("no check named {name:?}\n{}", table.render_unpassed()));
    assert_eq!(
        check.verdict,
        harness::Verdict::Pass,
        "{name} should pass:\n{}",
        table.render_unpassed()
    );
}

/// Fails with `reason` (which says how to install Locust) when `locust` is not on PATH.
pub fn require_locust(reason: &str) {
    let found = std::process::Command::new("locust")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{reason}: `locust --version` did not run");
}

/// loadgen's binary, built beside these tests by `cargo test --workspace`.
pub fn loadgen_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let dir = exe.parent().and_then(Path::parent).expect("target folder");
    let bin = dir.join(format!("loadgen{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "needs loadgen's binary at {}: cargo build -p loadgen (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// Runs the harness binary with `args`; returns (exit code, stdout, stderr).
pub fn harness_program(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("harness runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
