//! Criteria, aborts and the reports end to end: in-process runs against the axum test
//! app decide their exit code by the scenario's criteria, `abort_on_fail` stops a run on
//! the aggregator's 2 s check, and the binary writes the HTML, JUnit and Markdown reports.

use std::process::Command;

use loadgen::criteria::Outcome;
use loadgen::{run, Scenario, StopReason};

use crate::support::{app, config};

/// One class GETting `path` with a short constant wait, and `criteria` appended.
fn scenario(path: &str, criteria: &str) -> Scenario {
    Scenario::from_toml(
        "verdicts.toml",
        &format!(
            "[classes.U]\nwait = {{ constant = 0.05 }}\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [{{ method = \"GET\", path = \"{path}\" }}]\n{criteria}"
        ),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn criteria_decide_the_exit_code() {
    let addr = app().await;
    let lenient = "[[criteria]]\nthresholds = [\"fail_ratio <= 1\", \"count > 0\"]\n";
    let strict = "[[criteria]]\nrow = \"GET /status/503\"\nthresholds = [\"fail_ratio < 0.5\"]\n";
    // (path, criteria, --exit-code-on-error, outcome, exit code)
    let cases = [
        ("/status/503", lenient, 3, Outcome::Passed, 0),
        ("/status/503", strict, 3, Outcome::Failed, 1),
        ("/", strict, 3, Outcome::Failed, 1),
        ("/status/503", "", 3, Outcome::NoCriteria, 3),
    ];
    for (path, criteria, on_error, outcome, code) in cases {
        let mut cfg = config(addr, 1, 10.0, 0.4);
        cfg.exit_code_on_error = on_error;
        let out = run(cfg, scenario(path, criteria)).await.unwrap();
        assert_eq!(out.verdict.outcome(), outcome, "{path} {criteria}");
        assert_eq!(out.exit_code, code, "{path} {criteria}");
        assert_eq!(out.stop_reason, StopReason::RunTime);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_on_fail_stops_the_run_at_a_two_second_check() {
    let addr = app().await;
    let criteria = "[[criteria]]\nthresholds = [\"fail_ratio < 0.5\"]\nabort_on_fail = true\n";
    // The run time is far beyond the first check: only the abort can end it this early.
    let out = run(
        config(addr, 1, 10.0, 60.0),
        scenario("/status/503", criteria),
    )
    .await
    .unwrap();
    assert_eq!(out.stop_reason, StopReason::Aborted);
    assert_eq!(out.verdict.outcome(), Outcome::Aborted);
    assert_eq!(out.exit_code, 1);
    let abort = out.verdict.aborted.as_ref().unwrap();
    assert_eq!(abort.value, 1.0);
    // Checked on every second tick: the first check is at 2 s after the start.
    assert!(abort.elapsed.as_secs() >= 2, "{abort:?}");
    assert!(out.elapsed.as_secs() < 60);
}

#[test]
fn the_binary_writes_the_three_reports_and_prints_the_verdict() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime.block_on(app());
    let dir = tempfile::tempdir().unwrap();
    let (html, xml, md) = (
        dir.path().join("r.html"),
        dir.path().join("r.xml"),
        dir.path().join("r.md"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "-f",
            "acis",
            "--headless",
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "1s",
        ])
        .args(["--seed", "3", "--only-summary", "ACISAPIUser"])
        .args(["-H", &format!("http://{addr}")])
        .arg("--html")
        .arg(&html)
        .arg("--junit")
        .arg(&xml)
        .arg("--summary-md")
        .arg(&md)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The test app answers every path quickly and with 200: the platform's criteria pass.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for needle in [
        "Baselines",
        "\nAnalysis\n",
        "Total requests: ",
        "Failure rate: 0.00%",
        "\nPASSED\n",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<div class=\"verdict passed\">PASSED</div>"));
    let xml = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert!(xml.contains("tests=\"3\" failures=\"0\""), "{xml}");
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .starts_with("# loadgen: acis - PASSED"));
}

/// Against a port nobody listens on, the first 2-second table is followed by the warning
/// that names the target, the end says the requests failed to connect rather than that
/// the target is fast, the latency bands are empty, and the run fails even though its
/// only criterion is a latency one.
#[test]
fn a_closed_port_is_said_at_once_and_fails_the_run() {
    // A port that was free a moment ago: bound, then released.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "[classes.U]\nwait = { constant = 0.05 }\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [{ method = \"GET\", path = \"/api/clients\" }]\n[[criteria]]\nthresholds = [\"avg <= 2000\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("-f")
        .arg(&scenario)
        .args(["--headless", "-u", "2", "-r", "10", "-t", "3s"])
        .args(["-H", &format!("http://{addr}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let warning = format!("refused by {addr}: is the target running?");
    let first_table = stderr.find("Aggregated").expect("a periodic table");
    let first_warning = stderr
        .find(&warning)
        .unwrap_or_else(|| panic!("{warning} missing from:\n{stderr}"));
    let second_table = stderr[first_table + 1..]
        .find("Aggregated")
        .map(|i| i + first_table + 1);
    assert!(
        second_table.is_none_or(|t| first_warning < t),
        "the warning follows the first table:\n{stderr}"
    );
    for needle in [
        "\nAnalysis\n- Aggregated: ",
        "failed to connect: is the target running?",
        "FAILED\n  - ",
        " refused by the target: is the target running?\n",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
    // Each 2-second table is headed by where the run stands.
    let header = stderr.find("elapsed 0:00:0").expect("a progress header");
    assert!(header < first_table, "{stderr}");
    let line = stderr[header..].lines().next().unwrap_or_default();
    assert!(
        line.contains(" | remaining 0:00:0") && line.contains(" | users 2 | "),
        "{line}"
    );
    assert!(!stderr.contains("is fast"), "{stderr}");
    assert!(!stderr.contains("Database connection pool"), "{stderr}");
}
