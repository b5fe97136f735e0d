//! What `harness locust` prints: what ran and how time was treated, the calibration,
//! each row's figures from the tool beside the mock's, then the checks.

use std::fmt::Write as _;

use super::run::LocustEvidence;
use crate::check::CheckTable;
use crate::stat::{locust_rank, value_at_rank};

/// The run's header: tool, file, classes, profile, load, time, sources.
pub fn header(ev: &LocustEvidence, title: &str) -> String {
    let s = &ev.spec;
    let classes = if s.classes.is_empty() {
        "all classes".to_owned()
    } else {
        s.classes.join(", ")
    };
    let time = if s.time_scale < 1.0 {
        format!(
            "Time scale x{}: the mock's delays are scaled, the locustfile's waits are not (it is the user's file). \
             Every figure below is wall time on both sides, compared as measured; the verdict judges scaled times.",
            s.time_scale
        )
    } else {
        "Time scale x1: nothing is scaled (the locustfile's waits are the user's own and its verdict judges \
         wall-clock figures), so the run is short instead. Every figure below is wall time."
            .to_owned()
    };
    format!(
        "harness {title}: {} -f {} ({classes}) against profile `{}`, {} users at {}/s for {} s, mock seed {}\n\
         {time}\n\
         Calibration: {} requests in {:.1} s against profile `fast` (no delay, no failure): the tool's overhead \
         p50 {} / p99 {} / max {} ms, mean {:.2} ms; timer lateness {:.2} ms (run: {:.2} ms).\n\
         Wall time: {:.1} s in all (calibration {:.1} s, run {:.1} s). Tool exit code: {}.\n\
         Statistics from the {}; failures from the {}.\n\n",
        s.program.display(),
        s.locustfile.display(),
        s.profile.name,
        s.users,
        s.spawn_rate,
        s.run_time.as_secs_f64(),
        s.seed,
        ev.calibration.aggregated.requests,
        ev.calibration.wall.as_secs_f64(),
        fmt_opt(ev.calibration.aggregated.percentile(0.5)),
        fmt_opt(ev.calibration.aggregated.percentile(0.99)),
        fmt_opt(ev.calibration.aggregated.percentile(1.0)),
        ev.calibration.aggregated.avg_ms,
        ev.calibration.lag.slack.as_secs_f64() * 1000.0,
        ev.lag.slack.as_secs_f64() * 1000.0,
        ev.wall.as_secs_f64(),
        ev.calibration.wall.as_secs_f64(),
        ev.tool.wall.as_secs_f64(),
        ev.tool
            .exit_code
            .map_or("killed by a signal".to_owned(), |c| c.to_string()),
        ev.reported.stats_source,
        ev.reported.failures_source,
    )
}

/// What loadgen's importer skipped in the locustfile outside any class, if anything.
pub fn notes(exp: &super::LocustExpectation) -> String {
    if exp.notes.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "Read from the locustfile without (the tool still runs them):
",
    );
    for note in &exp.notes {
        let _ = writeln!(out, "  {note}");
    }
    out.push('\n');
    out
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("N/A".to_owned(), |v| format!("{v:.0}"))
}

/// Each row: the tool's requests, failures, p50/p95/p99 and average beside the
/// mock's figures of its route (ms; the mock's at the same rank, before Locust's
/// rounding).
pub fn rows(ev: &LocustEvidence) -> String {
    let mut out = format!(
        "{:<8} {:<32} {:>15} {:>11} {:>13} {:>13} {:>13} {:>15}\n",
        "Type", "Name", "reqs tool/mock", "fails", "p50", "p95", "p99", "avg"
    );
    for row in &ev.reported.stats.rows {
        let route = crate::checks::route_of(&row.method, &row.name);
        let snap = route.and_then(|r| ev.server.routes.get(r));
        let h = snap.and_then(|s| s.decode_histogram().ok());
        let mock_p = |p: f64| {
            h.as_ref()
                .and_then(|h| value_at_rank(h, locust_rank(h.len(), p)))
                .map_or("-".to_owned(), |v| format!("{:.0}", v.0 as f64 / 1000.0))
        };
        let pair = |p: f64| format!("{}/{}", fmt_opt(row.percentile(p)), mock_p(p));
        let _ = writeln!(
            out,
            "{:<8} {:<32} {:>15} {:>11} {:>13} {:>13} {:>13} {:>15}",
            row.method,
            row.name,
            format!("{}/{}", row.requests, snap.map_or(0, |s| s.requests)),
            format!(
                "{}/{}",
                row.failures,
                snap.map_or(0, |s| s.failures.values().sum::<u64>())
            ),
            pair(0.5),
            pair(0.95),
            pair(0.99),
            format!(
                "{:.1}/{}",
                row.avg_ms,
                h.as_ref()
                    .map_or("-".to_owned(), |h| format!("{:.1}", h.mean() / 1000.0))
            ),
        );
    }
    out.push('\n');
    out
}

/// The checks, the explanations of failed verdicts and the last line.
pub fn checks(table: &CheckTable, title: &str) -> String {
    let mut out = String::from("Checks\n");
    out.push_str(&table.render());
    for line in super::checks::advice(table) {
        let _ = writeln!(out, "\n{line}");
    }
    let _ = writeln!(out, "{}", table.verdict_line(title));
    out
}
