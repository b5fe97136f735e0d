//! The verdict: the platform's criteria (failure ratio over 5%, average over 2000 ms,
//! p95 over 5000 ms fail a run) computed from the mock's records, against what the
//! user's tooling decided: the verdict the locustfile printed and the tool's exit code.
//!
//! The mock's figures give each criterion a range for what the tool could have seen
//! (its overhead as the latency checks bound it, Locust's rounding); a criterion whose
//! range straddles its threshold leaves the verdict open, and the checks are then
//! skipped with the reason rather than guessed.

use hdrhistogram::Histogram;

use super::latency::{average_bounds, rank_bounds, reported_range};
use super::Ctx;
use crate::check::{Check, CheckTable, Verdict};

/// The platform's limits: failure ratio, average (ms), p95 (ms); a run over any fails.
pub(super) const CRITERIA: (f64, f64, f64) = (0.05, 2000.0, 5000.0);

/// Name of the exit-code check.
pub(super) const EXIT_CODE: &str = "verdict exit code";

/// Name of the printed-verdict check.
pub(super) const PRINTED: &str = "verdict printed";

/// A criterion's range on the tool's side: (name, low, high, limit, text).
type Range = (&'static str, f64, f64, f64, String);

/// The mock's every request in one histogram, with its request and failure totals.
fn totals(ctx: &Ctx<'_>) -> (Histogram<u64>, u64, u64) {
    let mut all = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    let (mut n, mut f) = (0, 0);
    for (route, snap) in &ctx.ev.server.routes {
        n += snap.requests;
        f += snap.failures.values().sum::<u64>();
        if let Some(h) = ctx.server_histogram(route) {
            // Both are 3-digit histograms of µs; adding cannot fail but saturates.
            let _ = all.add(&h);
        }
    }
    (all, n, f)
}

/// Each criterion's range of what the tool could have measured, from the mock (the
/// tool counts exactly the mock's requests; its times are the mock's plus overhead,
/// bounded as the latency checks bound them).
fn ranges(ctx: &Ctx<'_>) -> Vec<Range> {
    let (h, n, f) = totals(ctx);
    let (max_ratio, max_avg, max_p95) = CRITERIA;
    let ratio = f as f64 / n.max(1) as f64;
    let ratio = (ratio, ratio);
    let (lo, hi, _) = average_bounds(ctx, &h, n);
    let avg = (lo, hi);
    let (low, high, _) = rank_bounds(ctx, &h, n, 0.95);
    vec![
        (
            "failure ratio",
            ratio.0,
            ratio.1,
            max_ratio,
            format!(
                "{:.2}%..{:.2}% (limit 5%)",
                ratio.0 * 100.0,
                ratio.1 * 100.0
            ),
        ),
        (
            "average",
            avg.0,
            avg.1,
            max_avg,
            format!("{:.0}..{:.0} ms (limit 2000 ms)", avg.0, avg.1),
        ),
        (
            "p95",
            reported_range(low, high).0,
            reported_range(low, high).1,
            max_p95,
            format!(
                "{:.0}..{:.0} ms (limit 5000 ms)",
                reported_range(low, high).0,
                reported_range(low, high).1
            ),
        ),
    ]
}

/// The exit-code and printed-verdict checks.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let ranges = ranges(ctx);
    let basis: Vec<String> = ranges.iter().map(|(n, .., t)| format!("{n} {t}")).collect();
    let basis = format!("from the mock: {}", basis.join("; "));
    let breached: Vec<&str> = ranges.iter().filter(|r| r.1 > r.3).map(|r| r.0).collect();
    let open: Vec<&str> = ranges
        .iter()
        .filter(|r| r.1 <= r.3 && r.2 > r.3)
        .map(|r| r.0)
        .collect();
    let expected = if !breached.is_empty() {
        "FAILED"
    } else if open.is_empty() {
        "PASSED"
    } else {
        let why = format!(
            "the mock's figures leave the verdict open ({} near the limit): {basis}",
            open.join(", ")
        );
        return vec![
            Check::skip(PRINTED, why.clone()),
            Check::skip(EXIT_CODE, why),
        ];
    };
    let scaled = if ctx.ev.spec.time_scale < 1.0 {
        " (on scaled times: says nothing of the unscaled platform)"
    } else {
        ""
    };
    let printed = ctx.ev.reported.printed_verdict.as_deref();
    let printed_check = match printed {
        Some(p) => Check::new(
            PRINTED,
            format!("{expected}{scaled}"),
            p.to_owned(),
            basis.clone(),
            p == expected,
        ),
        None => Check::skip(PRINTED, "the locustfile printed no PASSED or FAILED line"),
    };
    let want = i32::from(expected == "FAILED");
    let code = ctx.ev.tool.exit_code;
    let measured = match code {
        Some(c) if c == want => c.to_string(),
        Some(c) => format!("{c}: {}", explain(expected, c, printed)),
        None => "killed by a signal".to_owned(),
    };
    vec![
        printed_check,
        Check::new(
            EXIT_CODE,
            format!("{want} ({expected})"),
            measured,
            basis,
            code == Some(want),
        ),
    ]
}

/// A sentence a user can act on when the exit code contradicts the criteria.
fn explain(expected: &str, code: i32, printed: Option<&str>) -> String {
    match (expected, printed) {
        ("PASSED", Some("PASSED")) => format!(
            "the run met the criteria and the locustfile printed PASSED, but the tool exited {code}: Locust exits 1 whenever any request failed unless the test sets environment.process_exit_code, so set it to 0 when the run passes, beside where the hook sets 1"
        ),
        ("PASSED", _) => format!(
            "the run met the criteria but the tool exited {code}: a CI job would fail a good run; make the locustfile set environment.process_exit_code from the criteria"
        ),
        _ => format!(
            "the run broke the criteria but the tool exited {code}: a CI job would pass a bad run; make the locustfile set environment.process_exit_code = 1 when the criteria fail"
        ),
    }
}

/// The explanations of the failed verdict checks.
pub(super) fn advice(table: &CheckTable) -> Vec<String> {
    table
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && (c.name == EXIT_CODE || c.name == PRINTED))
        .map(|c| format!("{}: expected {}, got {}", c.name, c.expected, c.measured))
        .collect()
}
