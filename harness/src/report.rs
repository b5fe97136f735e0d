//! What `harness` prints: Locust's request and percentile tables with every time
//! scaled back to the unscaled run (and a note that says so), the guide's own example
//! tables beside the measured figures, the guide's baselines with this run's band for
//! each metric, the platform locustfile's verdict, and the checks.

use std::fmt::Write as _;

use loadgen::baseline::{Baselines, Metric};
use loadgen::stats::{RequestStats, Snapshot, PERCENTILES_TO_REPORT, PERCENTILE_LABELS};

use crate::run::Evidence;

/// Width of Locust's name column in these tables.
const NAME: usize = 40;

/// One row of the guide's response-time table: method, name, reqs, then avg, min, max,
/// med, p95 and p99 in ms.
type GuideRow = (&'static str, &'static str, u64, [f64; 6]);

/// The guide's response-time table.
const GUIDE_TIMES: [GuideRow; 3] = [
    (
        "GET",
        "/api/clients",
        5000,
        [250.0, 50.0, 2000.0, 200.0, 500.0, 1000.0],
    ),
    (
        "GET",
        "/api/ml/predict",
        4000,
        [800.0, 200.0, 5000.0, 700.0, 2000.0, 3000.0],
    ),
    (
        "POST",
        "/api/trading/execute",
        1000,
        [1500.0, 500.0, 10000.0, 1200.0, 4000.0, 8000.0],
    ),
];

/// The guide's failure percentages per row.
const GUIDE_FAILURES: [f64; 3] = [0.0, 1.25, 10.0];

/// The guide's percentile table (50, 66, 75, 80, 90, 95, 98, 99, 100%).
const GUIDE_PERCENTILES: [(&str, [f64; 9]); 2] = [
    (
        "GET /api/clients",
        [
            200.0, 250.0, 300.0, 350.0, 450.0, 500.0, 800.0, 1000.0, 2000.0,
        ],
    ),
    (
        "GET /api/ml/predict",
        [
            700.0, 850.0, 950.0, 1050.0, 1500.0, 2000.0, 2800.0, 3000.0, 5000.0,
        ],
    ),
];

/// The percentiles of [`GUIDE_PERCENTILES`], as fractions.
const GUIDE_PS: [f64; 9] = [0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 1.0];

/// The run's header: what ran, how long it took, and the time scale note.
pub fn header(ev: &Evidence) -> String {
    let s = &ev.spec;
    let f = s.load.time_scale;
    format!(
        "harness {}: scenario `{}` ({}) against profile `{}`, {} users at {}/s for {} s, seed {}\n\
         Time scale x{f}: the run took {:.2} s of wall time. Every time below is scaled back \
         (divided by {f}) to the unscaled run; requests/s are per unscaled second.\n\n",
        s.mode.name(),
        s.scenario.source,
        s.scenario.class_names().join(", "),
        s.profile.name,
        s.load.users,
        s.load.spawn_rate,
        s.load.duration.as_secs_f64(),
        s.seed,
        ev.wall.as_secs_f64(),
    )
}

/// Locust's final request and percentile tables, times scaled back.
pub fn locust_tables(snapshot: &Snapshot, f: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<NAME$} {:>7} {:>12} |{:>7} {:>7} {:>7} {:>7} | {:>7} {:>11}",
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s"
    );
    let rule = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
        "-".repeat(8),
        "-".repeat(NAME + 1),
        "-".repeat(8),
        "-".repeat(13),
        "-".repeat(7),
        "-".repeat(8),
        "-".repeat(8),
        "-".repeat(8),
        "-".repeat(8),
        "-".repeat(12)
    );
    out.push_str(&rule);
    let row = |out: &mut String, r: &RequestStats| {
        let _ = writeln!(
            out,
            "{:<8} {:<NAME$} {:>7} {:>12} |{:>7.0} {:>7.0} {:>7.0} {:>7.0} | {:>7.2} {:>11.2}",
            r.method,
            r.name,
            r.num_requests(),
            format!("{}({:.2}%)", r.num_failures(), r.fail_ratio() * 100.0),
            (r.avg_response_time_ms() / f).trunc(),
            (r.min_response_time_ms() / f).trunc(),
            (r.max_response_time_ms() / f).trunc(),
            (r.median_response_time_ms() / f).round(),
            r.total_rps() * f,
            r.total_fail_per_sec() * f,
        );
    };
    for r in &snapshot.rows {
        row(&mut out, r);
    }
    out.push_str(&rule);
    row(&mut out, &snapshot.aggregated);
    out.push_str("\nResponse time percentiles (scaled back, ms)\n");
    let _ = write!(out, "{:<8} {:<NAME$}", "Type", "Name");
    for label in PERCENTILE_LABELS.iter().chain(["# reqs"].iter()) {
        let _ = write!(out, " {label:>7}");
    }
    out.push('\n');
    let pct_rule = format!("{}\n", "-".repeat(8 + 1 + NAME + 8 * 12));
    out.push_str(&pct_rule);
    let prow = |out: &mut String, r: &RequestStats| {
        if let Some(values) = r.percentiles_ms(&PERCENTILES_TO_REPORT) {
            let _ = write!(out, "{:<8} {:<NAME$}", r.method, r.name);
            for v in values {
                let _ = write!(out, " {:>7.0}", (v / f).round_ties_even());
            }
            let _ = writeln!(out, " {:>7}", r.num_requests());
        }
    };
    for r in &snapshot.rows {
        prow(&mut out, r);
    }
    out.push_str(&pct_rule);
    prow(&mut out, &snapshot.aggregated);
    out.push('\n');
    out
}

/// The guide's example tables beside this run's figures (`guide / run`).
pub fn guide_comparison(snapshot: &Snapshot, f: f64) -> String {
    let mut out = String::from(
        "The guide's example run beside this one (guide / measured, ms scaled back)\n",
    );
    let _ = writeln!(
        out,
        "{:<30} {:>13} {:>15} {:>13} {:>15} {:>13} {:>13} {:>13} {:>13}",
        "name", "reqs", "failure %", "avg", "min", "max", "med", "95%", "99%"
    );
    for ((method, name, reqs, [avg, min, max, med, p95, p99]), fail) in
        GUIDE_TIMES.iter().zip(GUIDE_FAILURES)
    {
        let Some(r) = snapshot.row(method, name) else {
            let _ = writeln!(out, "{method} {name}: not in this run");
            continue;
        };
        let pair = |g: f64, m: f64| format!("{g:.0} / {m:.0}");
        let p = |x: f64| r.percentile_ms(x).unwrap_or(0.0) / f;
        let _ = writeln!(
            out,
            "{:<30} {:>13} {:>15} {:>13} {:>15} {:>13} {:>13} {:>13} {:>13}",
            format!("{method} {name}"),
            format!("{reqs} / {}", r.num_requests()),
            format!("{fail:.2} / {:.2}", r.fail_ratio() * 100.0),
            pair(*avg, r.avg_response_time_ms() / f),
            pair(*min, r.min_response_time_ms() / f),
            pair(*max, r.max_response_time_ms() / f),
            pair(*med, r.median_response_time_ms() / f),
            pair(*p95, p(0.95)),
            pair(*p99, p(0.99)),
        );
    }
    let _ = write!(out, "\n{:<30}", "percentiles");
    for p in GUIDE_PS {
        let _ = write!(out, " {:>11}", format!("{:.0}%", p * 100.0));
    }
    out.push('\n');
    for (label, guide) in GUIDE_PERCENTILES {
        let Some((method, name)) = label.split_once(' ') else {
            continue;
        };
        let Some(r) = snapshot.row(method, name) else {
            continue;
        };
        let _ = write!(out, "{label:<30}");
        for (p, g) in GUIDE_PS.iter().zip(guide) {
            let m = r.percentile_ms(*p).unwrap_or(0.0) / f;
            let _ = write!(out, " {:>11}", format!("{g:.0} / {m:.0}"));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The guide's baselines with this run's band per metric (loadgen's own
/// classification of the scaled-back figures), and the platform locustfile's verdict.
pub fn baselines(snapshot: &Snapshot, f: f64) -> String {
    let a = &snapshot.aggregated;
    let avg = a.avg_response_time_ms() / f;
    let p95 = a.percentile_ms(0.95).unwrap_or(0.0) / f;
    let p99 = a.percentile_ms(0.99).unwrap_or(0.0) / f;
    let err = a.num_failures() as f64 * 100.0 / a.num_requests().max(1) as f64;
    let rps = a.total_rps() * f;
    let table = Baselines::default();
    let rows = [
        (Metric::AvgMs, avg, "< 500 / < 1000 / > 2000 ms"),
        (Metric::P95Ms, p95, "< 1000 / < 2000 / > 5000 ms"),
        (Metric::P99Ms, p99, "< 2000 / < 5000 / > 10000 ms"),
        (Metric::ErrorRatePercent, err, "< 0.1 / < 1 / > 5 %"),
        (Metric::Rps, rps, "> 100 / > 50 / < 20"),
    ];
    let mut out = String::from("Baselines (the guide's table: target / acceptable / poor)\n");
    for (metric, value, bounds) in rows {
        let _ = writeln!(
            out,
            "  {:<22} {:>12}   {bounds:<30} {}",
            metric.label(),
            metric.format(value),
            table.classify(metric, value).name()
        );
    }
    // The platform locustfile's judgement at test stop.
    let mut reasons = Vec::new();
    if err > 5.0 {
        reasons.push(format!("failure ratio {err:.2}% > 5%"));
    }
    if avg > 2000.0 {
        reasons.push(format!("average {avg:.0} ms > 2000 ms"));
    }
    if p95 > 5000.0 {
        reasons.push(format!("p95 {p95:.0} ms > 5000 ms"));
    }
    if reasons.is_empty() {
        out.push_str("Locustfile verdict: PASSED\n\n");
    } else {
        let _ = writeln!(out, "Locustfile verdict: FAILED ({})\n", reasons.join("; "));
    }
    out
}
