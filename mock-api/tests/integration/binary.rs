//! The `mock-api` program itself: started as a user starts it, with its log redirected.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child when dropped, so a failed assertion leaves no server running.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_redirected_log_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("mock-api.db").display());
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_mock-api"))
            .args(["--port", "0", "--profile", "fast", "--database", &db])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mock-api starts"),
    );
    let stderr = child.0.stderr.take().expect("piped stderr");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("a log line");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("listening") || Instant::now() > deadline {
            break;
        }
    }
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
