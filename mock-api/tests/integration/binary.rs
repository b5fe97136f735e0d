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
