//! The `mock-api` program itself: started as a user starts it, with its log redirected.

use std::process::Command;
use std::time::Duration;

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

/// Exit codes as the program documents them: 2 for a command line it cannot parse
/// (clap's usage error), 1 for one it parses but cannot run, each with the reason on
/// stderr and no server started.
#[test]
fn a_usage_error_exits_2_and_a_profile_that_does_not_load_exits_1() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mock-api"))
            .args(args)
            .output()
            .expect("mock-api runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--no-such-flag"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    let (code, stderr) = run(&["--port", "0", "--profile", "no-such-profile"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("mock-api: error: loading the profile")
            && stderr.contains("no-such-profile"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

/// SIGTERM with requests in flight and a grace long enough for them: every one is
/// answered 200, nothing is abandoned, and the exit code is 0. (The grace running out
/// is the durability tests' case: exit 1 and the abandoned count.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_requests_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = crate::support::fixed_latency("GET /api/clients", 800.0);
    profile.name = "drain".to_owned();
    let path = dir.path().join("drain.toml");
    std::fs::write(&path, profile.to_toml()).unwrap();
    let db = format!("sqlite://{}", dir.path().join("mock-api.db").display());
    let mut program = Program::start(&[
        "--profile",
        path.to_str().unwrap(),
        "--database",
        &db,
        "--shutdown-grace-secs",
        "10",
    ]);
    let addr = program.addr;
    let in_flight: Vec<_> = (0..5)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = crate::support::raw::send(addr, "GET", "/api/clients", None).await;
                crate::support::raw::read_all(&mut s, Duration::from_secs(20)).await
            })
        })
        .collect();
    // The requests are read and waiting out their 800 ms when the signal comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    program.terminate();
    for request in in_flight {
        let seen = request.await.unwrap();
        let bytes = match &seen {
            crate::support::raw::Seen::Eof { bytes, .. } => bytes.clone(),
            other => panic!("no whole answer: {other:?}\n{}", program.log()),
        };
        assert!(
            bytes.starts_with(b"HTTP/1.1 200"),
            "{}\n{}",
            String::from_utf8_lossy(&bytes),
            program.log()
        );
    }
    let status = program.wait(Duration::from_secs(30));
    let log = program.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("mock-api: shutting down"), "{log}");
    assert!(!log.contains("abandoned"), "{log}");
}
