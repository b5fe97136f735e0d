//! The `mock-api` program itself: started as a user starts it, with its log redirected.

use std::process::Command;

use crate::support::program::Program;

#[test]
fn a_redirected_log_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("mock-api.db").display());
    let program = Program::start(&["--profile", "fast", "--database", &db]);
    let seen = program.log();
    assert!(seen.contains("listening"), "no start line in:\n{seen}");
    assert!(
        !seen.contains('\u{1b}'),
        "colour codes in a redirected log:\n{seen:?}"
    );
}

#[test]
fn profile_fit_writes_a_profile_that_loads_and_reports_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stats.csv");
    let fixture = include_str!("../fixtures/guide_stats.csv");
    std::fs::write(
        &csv,
        format!("{fixture}GET,/nowhere,10,0,5,5,1,9,0,1,0,5,,,,,,,,,,9\n"),
    )
    .unwrap();
    let out = dir.path().join("fitted.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_mock-api"))
        .args(["profile", "fit"])
        .arg(&csv)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("mock-api runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("not fitted: GET /nowhere (line 5)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Wrote") && stderr.contains("(3 routes fitted, 1 rows not fitted)"),
        "{stderr}"
    );
    let profile = mock_api::profile::Profile::load(out.to_str().unwrap()).unwrap();
    assert_eq!(profile.name, "fitted");
    assert_eq!(profile.routes.len(), 3);

    // A file that is not a stats CSV: an error naming it, and no profile written.
    std::fs::write(&csv, "not,a,stats,file\n").unwrap();
    let out = dir.path().join("none.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_mock-api"))
        .args(["profile", "fit"])
        .arg(&csv)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("mock-api runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("stats.csv: line 1: no column \"Type\""),
        "{stderr}"
    );
    assert!(!out.exists());
}
