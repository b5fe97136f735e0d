//! The command on real files: Locust's reference run against itself and against a
//! copy with one row made slower and failing more, through every output.

use super::*;

const REFERENCE: &str = include_str!("../../../tests/reference/locust-2.47/run_stats.csv");

/// The reference CSV with `POST /api/trading/execute` (212 requests) given `failures`
/// failures and every percentile column multiplied by `factor`.
fn altered(failures: u64, factor: f64) -> String {
    REFERENCE
        .split("\r\n")
        .map(|line| {
            if !line.starts_with("POST,/api/trading/execute,") {
                return line.to_owned();
            }
            let mut f: Vec<String> = line.split(',').map(str::to_owned).collect();
            f[3] = failures.to_string();
            for v in &mut f[11..] {
                *v = ((v.parse::<f64>().unwrap() * factor).round() as u64).to_string();
            }
            f.join(",")
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn job(dir: &std::path::Path, current: &str, fail_if: &[&str]) -> CompareJob {
    let baseline = dir.join("base_stats.csv");
    std::fs::write(&baseline, REFERENCE).unwrap();
    let path = dir.join("current_stats.csv");
    std::fs::write(&path, current).unwrap();
    CompareJob {
        baseline,
        current: path,
        fail_if: fail_if.iter().map(|s| (*s).to_owned()).collect(),
        summary_md: Some(dir.join("compare.md")),
        junit: Some(dir.join("compare.xml")),
        html: Some(dir.join("compare.html")),
    }
}

#[test]
fn a_run_against_itself_changes_nothing_and_passes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_compare(&job(dir.path(), REFERENCE, &["p95 > +10%"])).unwrap();
    assert_eq!(out.exit_code(), 0);
    assert_eq!(out.comparison.significant().count(), 0);
    assert!(
        out.text.contains("compare: no significant change"),
        "{}",
        out.text
    );
    // 10 rows x (fail_ratio, p50, p95, p99); no average tested from CSVs.
    assert_eq!(out.comparison.tests, 40);
    let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
    assert!(
        md.starts_with("### loadgen compare: no significant change"),
        "{md}"
    );
    let xml = std::fs::read_to_string(dir.path().join("compare.xml")).unwrap();
    assert!(xml.contains("tests=\"10\" failures=\"0\""), "{xml}");
}

#[test]
fn a_slower_failing_row_is_the_only_regression_and_fails_its_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    // 24 -> 90 failures of 212 and every percentile doubled on one row.
    let out = run_compare(&job(
        dir.path(),
        &altered(90, 2.0),
        &["p95 > +10%", "fail_ratio > +1pp"],
    ))
    .unwrap();
    assert_eq!(out.exit_code(), 1, "{}", out.text);
    let rows: Vec<&str> = out
        .comparison
        .breaches
        .iter()
        .map(|b| b.row.as_str())
        .collect();
    assert!(
        rows.iter()
            .all(|r| *r == "POST /api/trading/execute" || *r == "Aggregated"),
        "{rows:?}"
    );
    assert!(rows.contains(&"POST /api/trading/execute"));
    let md = std::fs::read_to_string(dir.path().join("compare.md")).unwrap();
    assert!(
        md.contains("| POST /api/trading/execute | p95 | 32.0 ms | 64.0 ms |"),
        "{md}"
    );
    assert!(md.contains("REGRESSION `p95 > +10%`"), "{md}");
    // The median doubled too, but 212 requests and Locust's columns (nothing reported
    // below the 50% column but the minimum) cannot tell it from chance.
    assert!(!md.contains("REGRESSION `p50"), "{md}");
    let xml = std::fs::read_to_string(dir.path().join("compare.xml")).unwrap();
    assert!(xml.contains("<failure type=\"regression\""), "{xml}");
    let html = std::fs::read_to_string(dir.path().join("compare.html")).unwrap();
    assert!(html.contains("<tr class=\"bad\">"), "{html}");
}

#[test]
fn bad_thresholds_and_unwritable_reports_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = run_compare(&job(dir.path(), REFERENCE, &["p95 > 10"])).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("bad --fail-if \"p95 > 10\": column 9: expected a unit"),
        "{e}"
    );
    let mut j = job(dir.path(), REFERENCE, &[]);
    j.html = Some(dir.path().join("missing").join("c.html"));
    let e = run_compare(&j).unwrap_err();
    assert!(e.to_string().contains("cannot write HTML report"), "{e}");
}
