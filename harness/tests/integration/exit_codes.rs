//! The `harness` program run as a user runs it: its exit code says what happened (0
//! every check passed, 1 a check failed or could not be made, 2 the run could not be
//! made), and a refused command line prints its reason and no report.

use std::path::Path;

use crate::support::harness_program as harness;

/// A short guide run (30 users for 20 s at x0.1: 2 s of wall time) passes every check,
/// says so last, prints what each distribution check could detect and exits 0.
#[test]
fn a_run_whose_checks_all_pass_exits_0() {
    let (code, stdout, stderr) = harness(&[
        "guide",
        "-u",
        "30",
        "-t",
        "20s",
        "--time-scale",
        "0.1",
        "--seed",
        "3",
    ]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout
            .trim_end()
            .ends_with("harness guide: every check passed"),
        "{stdout}"
    );
    assert!(stdout.contains("detects a shift beyond"), "{stdout}");
    assert!(
        stdout.contains("False-failure budget: family-wise error rate"),
        "{stdout}"
    );
}

/// A tool that reports 100 requests it never sent: the checks against the mock's
/// records fail, the last line names them, and the exit code is 1.
#[test]
fn a_run_with_a_failed_check_exits_1() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tool = root.join("tests/fixtures/locust/reports_unsent");
    let locustfile = root.join("../scenarios/locustfile.py");
    let (code, stdout, stderr) = harness(&[
        "locust",
        "--locust",
        tool.to_str().unwrap(),
        "-f",
        locustfile.to_str().unwrap(),
        "--profile",
        "fast",
        "-u",
        "2",
        "-t",
        "2s",
    ]);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAIL  counts GET /api/clients requests"),
        "{stdout}"
    );
    assert!(stdout.contains("harness locust: FAILED: "), "{stdout}");
}

/// Command lines that cannot be run: each exits 2 with its reason on stderr and prints
/// no report.
#[test]
fn a_refused_command_line_exits_2_with_its_reason() {
    let cases: [(&[&str], &str); 3] = [
        (&["no-such-command"], "no-such-command"),
        (&["guide", "--duration", "soon"], "soon"),
        (&["bands", "-u", "10"], "bands"),
    ];
    for (args, says) in cases {
        let (code, stdout, stderr) = harness(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?} should say {says:?}: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?} printed a report: {stdout}");
    }
}
