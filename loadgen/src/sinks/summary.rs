//! The end-of-run text printed after Locust's tables: the baselines table (bands
//! coloured on a terminal, plain otherwise), the analysis, and the platform's summary
//! lines with PASSED or FAILED and each breach on its own line, in the words of the
//! platform's locustfile.

use std::fmt::Write as _;

use crate::stats::Snapshot;
use crate::verdict::analysis::Analysis;
use crate::verdict::baseline::{Band, BaselineReport, Metric};
use crate::verdict::criteria::{Outcome, Verdict};

/// Width of each metric's column.
const CELL_WIDTH: usize = 24;

/// The ANSI colour of a band on a terminal.
fn colour_code(band: Band) -> &'static str {
    match band {
        Band::Target => "\x1b[32m",
        Band::Acceptable => "\x1b[36m",
        Band::Degraded => "\x1b[33m",
        Band::Poor => "\x1b[31m",
    }
}

/// True when stderr is a terminal and `NO_COLOR` is not set: the bands are coloured.
pub(crate) fn colour_on_stderr() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The baselines table: one line per row and Aggregated, one column per metric, each
/// cell the value and its band. `colour` adds ANSI colours to the band words.
pub(crate) fn baselines_table(report: &BaselineReport, colour: bool) -> String {
    let name_width = report
        .rows
        .iter()
        .map(|r| r.label().chars().count())
        .max()
        .unwrap_or(0)
        .max("Baselines".len())
        + 2;
    let mut out = String::new();
    let _ = write!(out, "{:<name_width$}", "Baselines");
    for m in Metric::ALL {
        let _ = write!(out, "{:<CELL_WIDTH$}", m.short());
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    let rule = "-".repeat(name_width + CELL_WIDTH * Metric::ALL.len() - 2);
    let _ = writeln!(out, "{rule}");
    let last = report.rows.len().saturating_sub(1);
    for (i, row) in report.rows.iter().enumerate() {
        if i == last && i > 0 {
            let _ = writeln!(out, "{rule}");
        }
        let _ = write!(out, "{:<name_width$}", row.label());
        for cell in &row.cells {
            let (value, band) = match (cell.value, cell.band) {
                (Some(v), band) => (cell.metric.format(v), band),
                (None, _) => ("n/a".to_owned(), None),
            };
            let plain_len = value.chars().count() + band.map_or(0, |b| b.name().len() + 1);
            out.push_str(&value);
            if let Some(b) = band {
                out.push(' ');
                if colour {
                    let _ = write!(out, "{}{}\x1b[0m", colour_code(b), b.name());
                } else {
                    out.push_str(b.name());
                }
            }
            out.push_str(&" ".repeat(CELL_WIDTH.saturating_sub(plain_len).max(1)));
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    }
    out
}

/// The platform's summary lines, then PASSED, FAILED or ABORTED and each criterion on its
/// own line with its measured value (a breach in the locustfile's words); a PASSED
/// beside a row whose failures or average are poor says so. Nothing follows the figures
/// when there are no criteria and the target answered.
pub(crate) fn platform_summary(
    snapshot: &Snapshot,
    verdict: &Verdict,
    bands: &BaselineReport,
) -> String {
    let total = &snapshot.aggregated;
    let mut out = String::new();
    if total.num_requests() == 0 {
        out.push_str("No requests were made.\n");
    } else {
        let p95 = total.percentile_ms(0.95).unwrap_or(0.0);
        let p99 = total.percentile_ms(0.99).unwrap_or(0.0);
        let _ = writeln!(out, "Total requests: {}", total.num_requests());
        let _ = writeln!(out, "Failed requests: {}", total.num_failures());
        let _ = writeln!(out, "Failure rate: {:.2}%", total.fail_ratio() * 100.0);
        let _ = writeln!(
            out,
            "Average response time: {:.2}ms",
            total.avg_response_time_ms()
        );
        let _ = writeln!(out, "95th percentile: {p95:.2}ms");
        let _ = writeln!(out, "99th percentile: {p99:.2}ms");
        let _ = writeln!(out, "Requests/s: {:.2}", total.total_rps());
    }
    let outcome = verdict.outcome();
    if outcome == Outcome::NoCriteria {
        return out;
    }
    let _ = writeln!(out, "{}", outcome.word());
    if let Some(abort) = &verdict.aborted {
        let _ = writeln!(out, "  - {}", abort.describe());
    }
    if let Some(unreachable) = &verdict.unreachable {
        let _ = writeln!(out, "  - {unreachable}");
    }
    for line in verdict.criteria_lines() {
        let _ = writeln!(out, "  {line}");
    }
    if outcome == Outcome::Passed {
        let poor = poor_rows_outside_criteria(verdict, bands);
        if !poor.is_empty() {
            let mut judged: Vec<&str> = verdict.results.iter().map(|r| r.row.as_str()).collect();
            judged.dedup();
            let _ = writeln!(
                out,
                "  PASSED on the criteria's rows ({}) only; {}: investigate",
                judged.join(", "),
                poor.join("; ")
            );
        }
    }
    out
}

/// `POST /api/trading/execute fails 10.95%` for each row no criterion judged whose error
/// rate or average is in the poor band.
fn poor_rows_outside_criteria(verdict: &Verdict, bands: &BaselineReport) -> Vec<String> {
    let last = bands.rows.len().saturating_sub(1);
    bands.rows[..last]
        .iter()
        .filter(|row| !verdict.results.iter().any(|r| r.row == row.label()))
        .filter_map(|row| {
            let poor = |m: Metric| {
                let cell = row.cell(m);
                (cell.band == Some(Band::Poor))
                    .then_some(cell.value)
                    .flatten()
            };
            let mut what = Vec::new();
            if let Some(v) = poor(Metric::ErrorRatePercent) {
                what.push(format!(
                    "fails {}",
                    crate::verdict::baseline::format_percent(v)
                ));
            }
            if let Some(v) = poor(Metric::AvgMs) {
                what.push(format!("averages {}", Metric::AvgMs.format(v)));
            }
            (!what.is_empty()).then(|| format!("{} {}", row.label(), what.join(" and ")))
        })
        .collect()
}

/// Everything printed after Locust's final tables: baselines, analysis, summary.
pub(crate) fn end_of_run(
    snapshot: &Snapshot,
    baselines: &BaselineReport,
    analysis: &Analysis,
    verdict: &Verdict,
    colour: bool,
    verbose: bool,
) -> String {
    let mut out = baselines_table(baselines, colour);
    out.push_str("\nAnalysis\n");
    out.push_str(&analysis.to_text(verbose));
    out.push('\n');
    out.push_str(&platform_summary(snapshot, verdict, baselines));
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::fixture::guide_snapshot;
    use crate::verdict::baseline::{evaluate, Baselines};
    use crate::verdict::criteria::{self, CriteriaSet};

    /// The acis scenario's platform criteria: fail when over 5%, 2000 ms, 5000 ms.
    fn platform() -> CriteriaSet {
        CriteriaSet::aggregated(&["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 5000"]).unwrap()
    }

    #[test]
    fn the_guide_run_passes_the_platform_criteria_with_its_summary_lines() {
        let s = guide_snapshot();
        let verdict = criteria::evaluate(&s, &platform());
        let text = platform_summary(&s, &verdict, &evaluate(&s, &Baselines::default()));
        let agg = &s.aggregated;
        let (avg, p95) = (agg.avg_response_time_ms(), agg.percentile_ms(0.95).unwrap());
        let want = format!(
            "Total requests: 10000\nFailed requests: 150\nFailure rate: 1.50%\nAverage response time: {avg:.2}ms\n95th percentile: {p95:.2}ms\n99th percentile: {:.2}ms\nRequests/s: 166.67\nPASSED\n  \
             ok  Aggregated: failure ratio 1.50% is at most 5%\n  \
             ok  Aggregated: average response time {avg:.0}ms is at most 2000ms\n  \
             ok  Aggregated: 95th percentile {p95:.0}ms is at most 5000ms\n  \
             PASSED on the criteria's rows (Aggregated) only; POST /api/trading/execute fails 10.00%: investigate\n",
            agg.percentile_ms(0.99).unwrap(),
        );
        assert_eq!(text, want);
    }

    #[test]
    fn breaches_are_listed_one_per_line_under_failed() {
        let s = guide_snapshot();
        let set = CriteriaSet {
            groups: vec![criteria::CriteriaGroup {
                row: criteria::RowSelector::parse("POST /api/trading/execute"),
                criteria: ["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 3000"]
                    .iter()
                    .map(|e| criteria::Criterion::parse(e).unwrap())
                    .collect(),
                abort_on_fail: false,
                delay: Duration::ZERO,
            }],
        };
        let verdict = criteria::evaluate(&s, &set);
        let text = platform_summary(&s, &verdict, &evaluate(&s, &Baselines::default()));
        let tail: Vec<&str> = text.lines().skip(7).collect();
        assert_eq!(
            tail,
            [
                "FAILED",
                "  - POST /api/trading/execute: failure ratio 10.00% is over 5%",
                "  ok  POST /api/trading/execute: average response time 1500ms is at most 2000ms",
                "  - POST /api/trading/execute: 95th percentile 4002ms is over 3000ms",
            ]
        );
    }

    #[test]
    fn no_criteria_prints_the_figures_only_and_an_empty_run_says_so() {
        let s = guide_snapshot();
        let bands = evaluate(&s, &Baselines::default());
        let text = platform_summary(&s, &Verdict::default(), &bands);
        assert_eq!(text.lines().count(), 7);
        assert!(text.ends_with("Requests/s: 166.67\n"), "{text}");
        let empty = Snapshot::empty(SystemTime::UNIX_EPOCH);
        let verdict = criteria::evaluate(&empty, &platform());
        assert_eq!(
            platform_summary(&empty, &verdict, &evaluate(&empty, &Baselines::default())),
            "No requests were made.\nFAILED\n  - fail_ratio <= 0.05 has no requests to judge\n  - avg <= 2000 has no requests to judge\n  - p(95) <= 5000 has no requests to judge\n"
        );
    }

    #[test]
    fn baselines_table_is_plain_off_a_terminal_and_coloured_on_one() {
        let s = guide_snapshot();
        let report = evaluate(&s, &Baselines::default());
        let plain = baselines_table(&report, false);
        assert!(!plain.contains('\x1b'));
        let lines: Vec<&str> = plain.lines().collect();
        assert_eq!(lines.len(), 2 + 3 + 1 + 1, "{plain}");
        assert!(lines[0].starts_with("Baselines") && lines[0].contains("error rate"));
        let trades = lines.iter().find(|l| l.starts_with("POST")).unwrap();
        for cell in ["1500 ms degraded", "10.00% poor"] {
            assert!(trades.contains(cell), "{trades}");
        }
        // A row's rate is its share of the mix: shown without the system's bands.
        assert!(trades.ends_with("16.7 req/s"), "{trades}");
        let clients = lines
            .iter()
            .find(|l| l.starts_with("GET /api/clients"))
            .unwrap();
        assert!(
            clients.contains("250 ms target") && clients.contains("0% target"),
            "{clients}"
        );
        assert!(lines[6].starts_with("Aggregated") && lines[6].contains("166.7 req/s target"));
        // Columns line up: every cell starts at the same offset on every line.
        let offset = lines[0].find("p95").unwrap();
        assert_eq!(trades.find("4002 ms").unwrap(), offset, "{plain}");
        let coloured = baselines_table(&report, true);
        assert!(coloured.contains("10.00% \x1b[31mpoor\x1b[0m"));
        assert!(coloured.contains("250 ms \x1b[32mtarget\x1b[0m"));
        // Without the colour codes it is the plain table.
        let stripped = coloured
            .replace("\x1b[0m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[33m", "")
            .replace("\x1b[36m", "");
        assert_eq!(stripped, plain);
    }
}
