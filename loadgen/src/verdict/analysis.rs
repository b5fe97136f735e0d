//! The performance guide's "Interpreting Results", applied to a run: plain sentences per
//! row that follow from the numbers and the baselines alone (nothing is written per
//! endpoint), and the short findings a reader should look at.
//!
//! The rules, chosen so that the guide's example run reads as the guide reads it and so
//! that nothing is said the numbers do not show:
//!
//! - **Unreachable**: requests that could not connect never reached the target; their
//!   times are how long a refusal took. A row whose every request failed to connect gets
//!   one sentence ("all 120 requests failed to connect: is the target running?") and no
//!   speed, stability or tail judgement; a row with some gets a sentence saying how many.
//! - **How fast**, from the band of the average: target "is fast", acceptable "is
//!   acceptable", degraded "needs optimization", poor "is slow". "high max" is added when
//!   the slowest request is beyond the 95th percentile's poor bound (5000 ms in the
//!   guide's table): the guide says it of its 10 000 ms trade maximum, not of the
//!   5000 ms prediction maximum. Degraded and poor are findings.
//! - **How stable**, from the band of the error rate: target "is stable", acceptable or
//!   degraded "is mostly stable", poor "has issues ... - investigate". With the guide's
//!   table: 0% stable, 1.25% mostly stable, 10% has issues. Anything but target is a
//!   finding.
//! - **Long tail**: the 99th percentile is more than [`LONG_TAIL_FACTOR`] times the
//!   median, in a row of at least [`LONG_TAIL_MIN_REQUESTS`] requests. Latencies are
//!   roughly lognormal, and for a lognormal the ratio is `exp(2.326 sigma)`: the guide's
//!   own rows (5x, 4.3x, 6.7x; sigma 0.6 to 0.8) are ordinary service times, while 10x
//!   needs sigma near 1, a tail a reader should look at. The guide's advice ("consider
//!   caching or optimization") is given once, naming the rows.
//! - **Throughput** (Aggregated only: a row's own rate is set by its task weight) and
//!   Little's law: users in a closed model are either in a request or waiting, so the
//!   share of their time spent in requests is `rate x mean response time / users`. When
//!   that share is under [`CLIENT_BOUND_SHARE`], the users spent most of their time
//!   waiting between requests: the rate is what they offered, not what the target
//!   allowed, so the analysis says the load is client-bound and how much more load the
//!   guide's target rate needs, and never blames the server for low throughput.
//! - **Symptoms** ("Common Issues and Solutions"), each shown exactly when its metric is
//!   in the poor band: high response times (average), high error rate (error rate; not
//!   for requests that could not connect), low throughput (Aggregated, unless
//!   client-bound). The causes and solutions are printed once per symptom.
//! - **Latency drift** (a soak's leak): from the history's per-second lines (Aggregated,
//!   and every row with full history), each second's exact mean response time (the
//!   cumulative count and mean give each interval's sum), a least-squares line through
//!   them weighted by their request counts, its scale estimated from the residuals. It
//!   is reported when the slope exceeds Student's t critical value for the number of
//!   seconds at one-sided [`DRIFT_ALPHA`] (significant) and the line rises by at least
//!   [`DRIFT_MATERIAL`] of its starting value and 1 ms over the run (material).

use std::fmt::Write as _;

use crate::stats::{unix_seconds, HistoryRow, RequestStats, Snapshot, AGGREGATED_NAME};
use crate::verdict::baseline::{
    classify_row, format_ms, format_percent, row_label, Band, Baselines, Metric,
};

/// One-sided false-alarm probability of the drift test.
pub const DRIFT_ALPHA: f64 = 1e-3;
/// The least rise over the run, as a fraction of the starting latency, worth reporting.
pub const DRIFT_MATERIAL: f64 = 0.2;
/// Fewest one-second intervals with requests the drift is fitted on.
pub(crate) const DRIFT_MIN_INTERVALS: usize = 6;

/// A latency trend over the run, when significant and material.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Drift {
    /// Slope of the fitted line, ms per minute.
    pub ms_per_minute: f64,
    /// The line at the first interval (ms).
    pub from_ms: f64,
    /// The line at the last interval (ms).
    pub to_ms: f64,
    /// The slope over its standard error.
    pub t: f64,
    /// The critical value it exceeded.
    pub t_critical: f64,
    /// Intervals fitted.
    pub intervals: usize,
}

/// Fits the mean response time of each interval between `lines` (one row's cumulative
/// history lines, oldest first) against time; the drift when significant and material.
pub(crate) fn drift(lines: &[&HistoryRow], start: u64) -> Option<Drift> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    // (seconds from start, mean ms, requests) of each interval with requests.
    let mut points: Vec<(f64, f64, f64)> = Vec::new();
    let (mut n0, mut sum0) = (0u64, 0.0);
    for l in lines {
        let sum = l.avg_ms * l.num_requests as f64;
        if l.num_requests > n0 {
            let dn = (l.num_requests - n0) as f64;
            let t = l.timestamp.saturating_sub(start) as f64 - 0.5;
            points.push((t, (sum - sum0) / dn, dn));
        }
        n0 = l.num_requests;
        sum0 = sum;
    }
    let k = points.len();
    if k < DRIFT_MIN_INTERVALS {
        return None;
    }
    let w: f64 = points.iter().map(|p| p.2).sum();
    let t_bar = points.iter().map(|p| p.2 * p.0).sum::<f64>() / w;
    let m_bar = points.iter().map(|p| p.2 * p.1).sum::<f64>() / w;
    let sxx: f64 = points.iter().map(|p| p.2 * (p.0 - t_bar).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let slope = points
        .iter()
        .map(|p| p.2 * (p.0 - t_bar) * (p.1 - m_bar))
        .sum::<f64>()
        / sxx;
    let ssr: f64 = points
        .iter()
        .map(|p| p.2 * (p.1 - m_bar - slope * (p.0 - t_bar)).powi(2))
        .sum();
    let df = (k - 2) as f64;
    let se = (ssr / df / sxx).sqrt();
    let t_critical = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(1.0 - DRIFT_ALPHA);
    let t = slope / se.max(f64::MIN_POSITIVE);
    let at = |x: f64| m_bar + slope * (x - t_bar);
    let (from_ms, to_ms) = (at(points[0].0), at(points[k - 1].0));
    let rise = to_ms - from_ms;
    let material = rise >= 1.0 && rise >= DRIFT_MATERIAL * from_ms.max(0.0);
    (t > t_critical && material).then_some(Drift {
        ms_per_minute: slope * 60.0,
        from_ms,
        to_ms,
        t,
        t_critical,
        intervals: k,
    })
}

/// Each row's history lines (Aggregated's always, a request row's with full history).
fn history_of<'a>(snapshot: &'a Snapshot, row: &RequestStats) -> Vec<&'a HistoryRow> {
    snapshot
        .history
        .iter()
        .filter(|h| h.method == row.method && h.name == row.name)
        .collect()
}

/// A 99th percentile more than this many times the median is a long tail.
pub(crate) const LONG_TAIL_FACTOR: f64 = 10.0;
/// Fewest requests in a row before its tail is judged (under 100 the 99th percentile is
/// the maximum).
pub(crate) const LONG_TAIL_MIN_REQUESTS: u64 = 100;
/// Users in requests less than this share of the time were limited by their own waits.
pub(crate) const CLIENT_BOUND_SHARE: f64 = 0.5;

/// One of the guide's "Common Issues", with its causes and solutions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Symptom {
    /// The guide's title (`High Error Rate`).
    pub title: &'static str,
    /// What showed it, with the numbers.
    pub evidence: String,
    /// The guide's possible causes.
    pub causes: &'static [&'static str],
    /// The guide's first solutions, in its order.
    pub solutions: &'static [&'static str],
}

/// What the analysis says about one row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RowAnalysis {
    /// `GET /api/clients`, or `Aggregated`.
    pub label: String,
    /// Plain sentences, in the guide's order: speed, stability, tail.
    pub sentences: Vec<String>,
    /// What a reader should look at, short and without the label (`fails 10.95% of
    /// requests: investigate`); empty for a row with nothing to look at.
    pub findings: Vec<String>,
    /// The guide's symptoms this row shows.
    pub symptoms: Vec<Symptom>,
    /// The latency drift, when significant and material.
    pub drift: Option<Drift>,
    /// Every request of the row failed to connect: nothing about it was measured.
    pub unreachable: bool,
}

/// The analysis of a run: each row, then Aggregated.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Analysis {
    /// One entry per row with requests, then Aggregated.
    pub rows: Vec<RowAnalysis>,
    /// Advice given once for the run (the long tail's, naming its rows).
    pub advice: Vec<String>,
}

/// How the users spent their time, by Little's law (closed model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct UserTime {
    /// Users at the end of the run.
    pub users: u32,
    /// Share of the users' time spent in a request: `rate x mean response time / users`.
    pub in_requests: f64,
    /// Seconds of each user's cycle: `users / rate`.
    pub cycle_s: f64,
}

impl UserTime {
    /// The users' time on `row` (Aggregated) of a run with `users` users; `None` without
    /// users or requests.
    pub(crate) fn of(row: &RequestStats, users: u32) -> Option<Self> {
        let rate = row.total_rps();
        if users == 0 || rate <= 0.0 || row.num_requests() == 0 {
            return None;
        }
        let users_f = f64::from(users);
        Some(Self {
            users,
            in_requests: (rate * row.avg_response_time_ms() / 1000.0 / users_f).min(1.0),
            cycle_s: users_f / rate,
        })
    }

    /// True when the users spent most of their time waiting: the rate is theirs.
    pub(crate) fn client_bound(&self) -> bool {
        self.in_requests < CLIENT_BOUND_SHARE
    }
}

const HIGH_RESPONSE_TIMES: (&str, &[&str], &[&str]) = (
    "High Response Times",
    &[
        "Database queries not optimized",
        "Missing indexes",
        "N+1 query problems",
        "External API calls blocking",
    ],
    &[
        "Enable database query logging",
        "Add database indexes",
        "Implement caching (Redis)",
        "Use async operations for external calls",
    ],
);

const HIGH_ERROR_RATE: (&str, &[&str], &[&str]) = (
    "High Error Rate",
    &[
        "Database connection pool exhausted",
        "API rate limits exceeded",
        "Memory leaks",
        "Unhandled exceptions",
    ],
    &[
        "Increase connection pool size",
        "Implement request queuing",
        "Add circuit breakers",
        "Fix memory leaks",
    ],
);

const LOW_THROUGHPUT: (&str, &[&str], &[&str]) = (
    "Low Throughput",
    &[
        "CPU bottleneck",
        "Insufficient workers",
        "Blocking I/O operations",
        "Resource contention",
    ],
    &[
        "Scale horizontally (more instances)",
        "Increase Uvicorn workers",
        "Use async operations",
        "Optimize CPU-intensive code",
    ],
);

fn symptom(
    kind: (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ),
    evidence: String,
) -> Symptom {
    Symptom {
        title: kind.0,
        evidence,
        causes: kind.1,
        solutions: kind.2,
    }
}

/// Analyses every row with requests, then Aggregated.
pub fn analyse(snapshot: &Snapshot, baselines: &Baselines) -> Analysis {
    let judged: Vec<&RequestStats> = snapshot
        .rows
        .iter()
        .filter(|r| r.num_requests() > 0)
        .chain(std::iter::once(&snapshot.aggregated))
        .collect();
    let last = judged.len() - 1;
    let start = unix_seconds(snapshot.start);
    let rows: Vec<RowAnalysis> = judged
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let context = RowContext {
                connect_failures: snapshot.connect_failures(row),
                users: (i == last).then_some(snapshot.user_count),
            };
            let mut out = analyse_row(row, baselines, context);
            out.drift = drift(&history_of(snapshot, row), start);
            if let Some(d) = &out.drift {
                out.sentences.push(format!(
                    "{} latency drifts up {:.1} ms/min (from {} to {} ms over the run)",
                    out.label,
                    d.ms_per_minute,
                    format_ms(d.from_ms),
                    format_ms(d.to_ms)
                ));
                out.findings.push(format!(
                    "latency drifts up {:.1} ms/min ({} to {} ms)",
                    d.ms_per_minute,
                    format_ms(d.from_ms),
                    format_ms(d.to_ms)
                ));
            }
            out
        })
        .collect();
    // When nothing reached the target, Aggregated says so once for every row.
    let mut rows = rows;
    if snapshot.unreachable_warning(None).is_some() {
        for row in &mut rows[..last] {
            row.findings.clear();
        }
    }
    let tails: Vec<&str> = rows
        .iter()
        .filter(|r| r.sentences.iter().any(|s| s.contains(LONG_TAIL_WORDS)))
        .map(|r| r.label.as_str())
        .collect();
    let mut advice = Vec::new();
    if !tails.is_empty() {
        advice.push(format!(
            "Long tail ({}): consider caching or optimization of the slowest requests",
            tails.join(", ")
        ));
    }
    Analysis { rows, advice }
}

/// What a row's analysis needs beyond its own figures.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RowContext {
    /// Requests of the row that could not connect.
    pub connect_failures: u64,
    /// The run's users, given for Aggregated only: its throughput is judged.
    pub users: Option<u32>,
}

/// The words every long-tail sentence carries.
const LONG_TAIL_WORDS: &str = "has a long tail";

/// The sentences, findings and symptoms of one row; `context.users` (Aggregated) adds
/// the throughput judgement.
pub(crate) fn analyse_row(
    row: &RequestStats,
    baselines: &Baselines,
    context: RowContext,
) -> RowAnalysis {
    let label = row_label(&row.method, &row.name);
    let mut out = RowAnalysis {
        label: label.clone(),
        sentences: Vec::new(),
        findings: Vec::new(),
        symptoms: Vec::new(),
        drift: None,
        unreachable: false,
    };
    let n = row.num_requests();
    if n == 0 {
        out.sentences
            .push(format!("{label}: no requests were recorded"));
        return out;
    }
    if context.connect_failures >= n {
        let what = if n == 1 {
            "its one request failed to connect: is the target running?".to_owned()
        } else {
            format!("all {n} requests failed to connect: is the target running?")
        };
        out.sentences.push(format!("{label}: {what}"));
        out.findings.push(what);
        out.unreachable = true;
        return out;
    }
    let bands = classify_row(row, baselines, context.users.is_some());
    let band = |m: Metric| bands.cell(m).band.unwrap_or(Band::Poor);
    let value = |m: Metric| bands.cell(m).value.unwrap_or(0.0);

    if context.connect_failures > 0 {
        let what = format!(
            "{} of {n} requests failed to connect; their times are in the figures but are not response times",
            context.connect_failures
        );
        out.sentences.push(format!("{label}: {what}"));
        out.findings.push(what);
    }

    // How fast.
    let avg = value(Metric::AvgMs);
    let speed = match band(Metric::AvgMs) {
        Band::Target => "is fast",
        Band::Acceptable => "is acceptable",
        Band::Degraded => "needs optimization",
        Band::Poor => "is slow",
    };
    let high_max = row.max_response_time_ms() > baselines.p95_ms.poor;
    let figures = format!(
        "{} ms avg{}",
        format_ms(avg),
        if high_max { ", high max" } else { "" }
    );
    out.sentences.push(format!("{label} {speed} ({figures})"));
    if band(Metric::AvgMs) >= Band::Degraded {
        out.findings.push(format!("{speed} ({figures})"));
    }

    // How stable.
    let errors = value(Metric::ErrorRatePercent);
    let shown = format_percent(errors);
    out.sentences.push(match band(Metric::ErrorRatePercent) {
        Band::Target => format!("{label} is stable ({shown} failures)"),
        Band::Acceptable | Band::Degraded => {
            format!("{label} is mostly stable ({shown} failures)")
        }
        Band::Poor => format!("{label} has issues ({shown} failures) - investigate"),
    });
    match band(Metric::ErrorRatePercent) {
        Band::Target => {}
        Band::Poor => out
            .findings
            .push(format!("fails {shown} of requests: investigate")),
        _ => out.findings.push(format!("fails {shown} of requests")),
    }

    // Long tail.
    let median = row.median_response_time_ms();
    let p99 = value(Metric::P99Ms);
    if n >= LONG_TAIL_MIN_REQUESTS && median > 0.0 && p99 > LONG_TAIL_FACTOR * median {
        let what = format!(
            "its 99th percentile ({} ms) is {:.1}x the median ({} ms)",
            format_ms(p99),
            p99 / median,
            format_ms(median)
        );
        out.sentences
            .push(format!("{label} {LONG_TAIL_WORDS}: {what}"));
        out.findings.push(format!("long tail: {what}"));
    }

    let mut client_bound = false;
    if let Some(users) = context.users {
        let rps = value(Metric::Rps);
        match UserTime::of(row, users).filter(UserTime::client_bound) {
            Some(time) => {
                client_bound = true;
                let what = client_bound_clause(rps, &time, baselines.rps.target);
                out.sentences.push(format!("Throughput {what}"));
                if band(Metric::Rps) >= Band::Degraded {
                    out.findings.push(format!("throughput {what}"));
                }
            }
            None => {
                out.sentences.push(format!(
                    "Throughput is {} ({rps:.1} requests/s)",
                    band(Metric::Rps)
                ));
                if band(Metric::Rps) >= Band::Degraded {
                    out.findings.push(format!(
                        "throughput is {} ({rps:.1} requests/s)",
                        band(Metric::Rps)
                    ));
                }
            }
        }
    }

    // The guide's symptoms, each exactly when its metric is poor.
    if band(Metric::AvgMs) == Band::Poor {
        out.symptoms.push(symptom(
            HIGH_RESPONSE_TIMES,
            format!(
                "average response time {} ms is over {} ms",
                format_ms(avg),
                baselines.avg_ms.poor
            ),
        ));
    }
    if band(Metric::ErrorRatePercent) == Band::Poor {
        out.symptoms.push(symptom(
            HIGH_ERROR_RATE,
            format!(
                "error rate {shown} is over {}%",
                baselines.error_rate_percent.poor
            ),
        ));
    }
    if context.users.is_some() && !client_bound && band(Metric::Rps) == Band::Poor {
        out.symptoms.push(symptom(
            LOW_THROUGHPUT,
            format!(
                "{:.1} requests/s is under {}",
                value(Metric::Rps),
                baselines.rps.poor
            ),
        ));
    }
    out
}

/// `13.2 requests/s was set by the users, not the target: ...`, with the load the
/// guide's target rate needs when the rate is under it.
fn client_bound_clause(rps: f64, time: &UserTime, target_rps: f64) -> String {
    let in_request_s = time.in_requests * time.cycle_s;
    let mut out = format!(
        "{rps:.1} requests/s was set by the users, not the target: by Little's law each of the {} users spent {} of its {:.2} s cycle in a request ({:.0}%) and waited the rest (client-bound)",
        time.users,
        if in_request_s >= 1.0 {
            format!("{in_request_s:.2} s")
        } else {
            format!("{} ms", format_ms(in_request_s * 1000.0))
        },
        time.cycle_s,
        time.in_requests * 100.0
    );
    if rps < target_rps {
        let factor = target_rps / rps;
        out.push_str(&format!(
            "; {target_rps} requests/s needs about {factor:.1}x the load (about {:.0} users with these waits, or shorter waits)",
            (f64::from(time.users) * factor).ceil()
        ));
    }
    out
}

impl Analysis {
    /// Plain text for the console and the Markdown summary. Short by default: one line
    /// per row with findings, the other rows counted, each symptom's causes and solutions
    /// once, then the advice. `verbose` writes every row's sentences instead.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = String::new();
        let mut quiet_rows = 0;
        for row in &self.rows {
            if verbose {
                for s in &row.sentences {
                    let _ = writeln!(out, "- {s}");
                }
            } else if row.findings.is_empty() {
                // A refused row was measured not to be quiet but not at all; Aggregated
                // says so once for all of them.
                quiet_rows += usize::from(row.label != AGGREGATED_NAME && !row.unreachable);
            } else {
                let _ = writeln!(out, "- {}: {}", row.label, row.findings.join("; "));
            }
        }
        if quiet_rows > 0 {
            let _ = writeln!(
                out,
                "- {} other row{}: nothing to look at (fast or acceptable, and stable)",
                quiet_rows,
                if quiet_rows == 1 { "" } else { "s" },
            );
        }
        for (title, rows) in self.symptoms_by_title() {
            let first = rows[0].1;
            let evidence: Vec<String> = rows
                .iter()
                .map(|(label, s)| format!("{label}: {}", s.evidence))
                .collect();
            let _ = writeln!(out, "{title}: {}", evidence.join("; "));
            let _ = writeln!(out, "  Possible causes: {}", first.causes.join("; "));
            let solutions: Vec<String> = first
                .solutions
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{}. {t}", i + 1))
                .collect();
            let _ = writeln!(out, "  Solutions: {}", solutions.join(" "));
        }
        for a in &self.advice {
            let _ = writeln!(out, "{a}");
        }
        out
    }

    /// Each symptom title once, in the order first seen, with the rows showing it.
    fn symptoms_by_title(&self) -> Vec<(&'static str, Vec<(&str, &Symptom)>)> {
        let mut out: Vec<(&'static str, Vec<(&str, &Symptom)>)> = Vec::new();
        for row in &self.rows {
            for s in &row.symptoms {
                match out.iter_mut().find(|(t, _)| *t == s.title) {
                    Some((_, rows)) => rows.push((row.label.as_str(), s)),
                    None => out.push((s.title, vec![(row.label.as_str(), s)])),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::fixture::guide_snapshot;
    use crate::stats::HistoryRow;

    fn sentences(analysis: &Analysis, label: &str) -> Vec<String> {
        analysis
            .rows
            .iter()
            .find(|r| r.label == label)
            .map(|r| r.sentences.clone())
            .unwrap_or_default()
    }

    /// The guide's example run reads as the guide reads it. (Its 8000 ms trade p99 reads
    /// 8004 ms: the top of the HdrHistogram bucket holding it, as every table shows it.)
    /// Its tails (5.0x, 4.3x and 6.7x the median) are ordinary lognormal spreads, not
    /// long tails.
    #[test]
    fn the_guides_three_rows_read_like_the_guide() {
        let analysis = analyse(&guide_snapshot(), &Baselines::default());
        let cases: [(&str, &[&str], &[&str]); 3] = [
            (
                "GET /api/clients",
                &[
                    "GET /api/clients is fast (250 ms avg)",
                    "GET /api/clients is stable (0% failures)",
                ],
                &[],
            ),
            (
                "GET /api/ml/predict",
                &[
                    "GET /api/ml/predict is acceptable (800 ms avg)",
                    "GET /api/ml/predict is mostly stable (1.25% failures)",
                ],
                &["fails 1.25% of requests"],
            ),
            (
                "POST /api/trading/execute",
                &[
                    "POST /api/trading/execute needs optimization (1500 ms avg, high max)",
                    "POST /api/trading/execute has issues (10.00% failures) - investigate",
                ],
                &[
                    "needs optimization (1500 ms avg, high max)",
                    "fails 10.00% of requests: investigate",
                ],
            ),
        ];
        for (label, want, findings) in cases {
            let row = analysis.rows.iter().find(|r| r.label == label).unwrap();
            assert_eq!(row.sentences, want, "{label}");
            assert_eq!(row.findings, findings, "{label}");
        }
        assert!(analysis.advice.is_empty(), "{:?}", analysis.advice);
        let symptoms: Vec<(&str, &str)> = analysis
            .rows
            .iter()
            .flat_map(|r| r.symptoms.iter().map(move |s| (r.label.as_str(), s.title)))
            .collect();
        // Only the trades show a symptom: their 10% error rate. 16.7 requests/s is the
        // trades' share of the mix, not low throughput; Aggregated runs at 166.7/s.
        assert_eq!(symptoms, [("POST /api/trading/execute", "High Error Rate")]);
        let agg = sentences(&analysis, "Aggregated");
        assert!(
            agg.contains(&"Throughput is target (166.7 requests/s)".to_owned()),
            "{agg:?}"
        );
        // Short by default: the two rows with findings, Aggregated's failures, the quiet
        // row counted, the symptom's causes and solutions once.
        assert_eq!(
            analysis.to_text(false),
            "- GET /api/ml/predict: fails 1.25% of requests\n\
             - POST /api/trading/execute: needs optimization (1500 ms avg, high max); fails 10.00% of requests: investigate\n\
             - Aggregated: fails 1.50% of requests\n\
             - 1 other row: nothing to look at (fast or acceptable, and stable)\n\
             High Error Rate: POST /api/trading/execute: error rate 10.00% is over 5%\n  \
             Possible causes: Database connection pool exhausted; API rate limits exceeded; Memory leaks; Unhandled exceptions\n  \
             Solutions: 1. Increase connection pool size 2. Implement request queuing 3. Add circuit breakers 4. Fix memory leaks\n"
        );
        let verbose = analysis.to_text(true);
        assert!(verbose.starts_with("- GET /api/clients is fast (250 ms avg)\n"));
        assert_eq!(verbose.matches("Possible causes").count(), 1);
    }

    /// A test row: method, name, and each request as (ms, error).
    type TestRow<'a> = (&'a str, &'a str, Vec<(u64, Option<&'a str>)>);

    /// A run of `users` users over `seconds` seconds, each row's requests spread evenly
    /// over the run.
    fn run_of(rows: &[TestRow<'_>], seconds: u64, users: u32) -> Snapshot {
        use crate::stats::{Aggregator, RequestKey, Shard};
        use std::time::{Duration, UNIX_EPOCH};
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut shard = Shard::new();
        for (method, name, requests) in rows {
            let key = RequestKey::new(*method, *name);
            let n = requests.len() as u64;
            for (i, (ms, error)) in requests.iter().enumerate() {
                let at =
                    t0 + Duration::from_secs_f64(seconds as f64 * (i as u64 + 1) as f64 / n as f64);
                shard.record(&key, Duration::from_millis(*ms), 10, *error, at);
            }
        }
        let mut agg = Aggregator::new(t0);
        agg.merge_shard(&shard);
        agg.snapshot(t0 + Duration::from_secs(seconds), users)
    }

    /// Against a closed port every request "takes" a fraction of a millisecond: that is
    /// not a fast target. The row says the target is unreachable, its latency cells are
    /// empty, no guide symptom blames a connection pool, and the verdict fails.
    #[test]
    fn a_target_that_refuses_every_connection_is_unreachable_not_fast() {
        let refused = crate::stats::CONNECTION_REFUSED;
        let s = run_of(
            &[("GET", "/api/clients", vec![(0, Some(refused)); 500])],
            10,
            5,
        );
        let analysis = analyse(&s, &Baselines::default());
        assert_eq!(
            sentences(&analysis, "GET /api/clients"),
            ["GET /api/clients: all 500 requests failed to connect: is the target running?"]
        );
        assert!(analysis.rows.iter().all(|r| r.symptoms.is_empty()));
        assert!(!analysis.to_text(true).contains("is fast"));
        assert_eq!(
            s.unreachable_warning(Some("http://127.0.0.1:18999"))
                .as_deref(),
            Some("all 500 requests were refused by 127.0.0.1:18999: is the target running?")
        );
        let bands = crate::verdict::baseline::evaluate(&s, &Baselines::default());
        for row in &bands.rows {
            for m in [Metric::AvgMs, Metric::P95Ms, Metric::P99Ms] {
                assert_eq!(row.cell(m).band, None, "{} {m}", row.label());
            }
        }
        let platform =
            crate::verdict::criteria::CriteriaSet::aggregated(&["avg <= 2000", "p(95) <= 5000"])
                .unwrap();
        let j = crate::verdict::judge::Judgement::new(&s, &platform, &Baselines::default(), None);
        assert_eq!(
            j.verdict.outcome(),
            crate::verdict::criteria::Outcome::Failed
        );
        assert_eq!(j.exit_code(&s, 0), 1);
        // Latency thresholds "held" on refused connections say nothing: n/a, never ok.
        let lines = j.verdict.criteria_lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.starts_with("n/a Aggregated: ")
                && l.ends_with("no response was received to judge")),
            "{lines:?}"
        );
        // And a refused row is not counted among the quiet ones.
        assert!(
            !analysis.to_text(false).contains("nothing to look at"),
            "{}",
            analysis.to_text(false)
        );

        // One answered request among them: a partial outage, said with its count.
        let mut requests = vec![(0, Some(refused)); 499];
        requests.push((20, None));
        let s = run_of(&[("GET", "/api/clients", requests)], 10, 5);
        assert_eq!(s.unreachable_warning(None), None);
        let analysis = analyse(&s, &Baselines::default());
        assert!(sentences(&analysis, "GET /api/clients")[0]
            .starts_with("GET /api/clients: 499 of 500 requests failed to connect"));
    }

    /// 50 users waiting 1-5 s between requests of 250 ms offer about 15 requests/s
    /// whatever the target does: by Little's law they were in a request 7% of the time,
    /// so the analysis says the load is client-bound, how much more the guide's target
    /// rate needs, and gives no "scale horizontally" advice. The same rate with 3 s
    /// responses kept the users in requests: then the server is the limit.
    #[test]
    fn low_throughput_is_blamed_on_the_server_only_when_the_users_were_waiting_on_it() {
        let client_bound = run_of(&[("GET", "/api/clients", vec![(250, None); 1320])], 100, 50);
        let agg = analyse_row(
            &client_bound.aggregated,
            &Baselines::default(),
            RowContext {
                connect_failures: 0,
                users: Some(50),
            },
        );
        assert!(agg.symptoms.is_empty(), "{:?}", agg.symptoms);
        let line = agg.sentences.last().unwrap();
        assert_eq!(
            line,
            "Throughput 13.2 requests/s was set by the users, not the target: by Little's law each of the 50 users spent 250 ms of its 3.79 s cycle in a request (7%) and waited the rest (client-bound); 100 requests/s needs about 7.6x the load (about 379 users with these waits, or shorter waits)"
        );

        let server_bound = run_of(
            &[("GET", "/api/clients", vec![(3000, None); 1320])],
            100,
            50,
        );
        let agg = analyse_row(
            &server_bound.aggregated,
            &Baselines::default(),
            RowContext {
                connect_failures: 0,
                users: Some(50),
            },
        );
        let titles: Vec<&str> = agg.symptoms.iter().map(|s| s.title).collect();
        assert_eq!(titles, ["High Response Times", "Low Throughput"]);
        assert!(agg
            .sentences
            .contains(&"Throughput is poor (13.2 requests/s)".to_owned()));
    }

    /// A p99 ten times the median (and more) is a long tail; four to six times is not.
    /// The advice comes once, naming every row that has one.
    #[test]
    fn only_tails_over_ten_times_the_median_are_reported_and_advised_once() {
        // 1000 requests: 985 at 20 ms, 15 at `slow` ms, so p50 = 20 and p99 = slow.
        let row = |slow: u64| {
            let mut r = vec![(20, None); 985];
            r.extend(vec![(slow, None); 15]);
            r
        };
        let s = run_of(
            &[
                ("GET", "/a", row(120)),
                ("GET", "/b", row(250)),
                ("GET", "/c", row(300)),
            ],
            10,
            10,
        );
        let analysis = analyse(&s, &Baselines::default());
        let tails: Vec<&str> = analysis
            .rows
            .iter()
            .filter(|r| r.findings.iter().any(|f| f.starts_with("long tail")))
            .map(|r| r.label.as_str())
            .collect();
        assert_eq!(tails, ["GET /b", "GET /c", "Aggregated"]);
        assert_eq!(
            analysis.advice,
            ["Long tail (GET /b, GET /c, Aggregated): consider caching or optimization of the slowest requests"]
        );
        assert_eq!(
            analysis.to_text(false).matches("consider caching").count(),
            1
        );
        // Under 100 requests the 99th percentile is the maximum: not judged.
        let few = run_of(&[("GET", "/a", row(300)[..99].to_vec())], 10, 10);
        assert!(analyse(&few, &Baselines::default()).advice.is_empty());
    }

    /// Rows built to show each symptom, and one that shows none.
    #[test]
    fn each_symptom_shows_exactly_when_its_metric_is_poor() {
        let t0 = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        // (avg ms, failures per 100, requests, seconds) -> symptom titles
        let cases: [(u64, u64, u64, u64, &[&str]); 5] = [
            (100, 0, 1000, 10, &[]),
            (2500, 0, 1000, 10, &["High Response Times"]),
            (2000, 5, 1000, 10, &[]),
            (100, 6, 1000, 10, &["High Error Rate"]),
            (
                3000,
                50,
                100,
                10,
                &["High Response Times", "High Error Rate", "Low Throughput"],
            ),
        ];
        for (avg_ms, fail_pct, n, secs, want) in cases {
            let mut row = RequestStats::new("", "Aggregated");
            for i in 0..n {
                let at = t0 + std::time::Duration::from_secs(secs * (i + 1) / n);
                row.record_us(avg_ms * 1000, 0, i % 100 < fail_pct, at);
            }
            row.set_run_context(t0, row.last_request());
            let got = analyse_row(
                &row,
                &Baselines::default(),
                // One user busy all the time: the rate is the server's, not the users'.
                RowContext {
                    connect_failures: 0,
                    users: Some(1),
                },
            );
            let titles: Vec<&str> = got.symptoms.iter().map(|s| s.title).collect();
            assert_eq!(titles, want, "avg {avg_ms} fail {fail_pct}% n {n}");
            for s in &got.symptoms {
                assert_eq!((s.causes.len(), s.solutions.len()), (4, 4));
            }
        }
    }

    /// Cumulative history lines of a 60-second run at 20 requests/s whose per-request
    /// latency is `base + rise * t / 60` ms plus a deterministic spread of +-40%.
    fn lines(base: f64, rise: f64) -> Vec<HistoryRow> {
        let mut state = 12345u64;
        let (mut n, mut sum) = (0u64, 0.0);
        (1..=60u64)
            .map(|second| {
                for _ in 0..20 {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                    let level = base + rise * (second as f64 - 0.5) / 60.0;
                    sum += level * (0.6 + 0.8 * u);
                    n += 1;
                }
                HistoryRow {
                    timestamp: 1000 + second,
                    user_count: 10,
                    method: String::new(),
                    name: "Aggregated".into(),
                    current_rps: 20.0,
                    current_fail_per_sec: 0.0,
                    percentiles_ms: None,
                    current_p50_ms: None,
                    current_p95_ms: None,
                    num_requests: n,
                    num_failures: 0,
                    median_ms: 0.0,
                    avg_ms: sum / n as f64,
                    min_ms: 0.0,
                    max_ms: 0.0,
                    avg_content_length: 0.0,
                }
            })
            .collect()
    }

    #[test]
    fn drift_is_reported_when_significant_and_material_only() {
        let drifting = lines(40.0, 80.0);
        let refs: Vec<&HistoryRow> = drifting.iter().collect();
        let d = drift(&refs, 1000).expect("a rise from 40 to 120 ms is a drift");
        // 80 ms over the minute; the spread moves the fitted line a little.
        assert!((d.ms_per_minute - 80.0).abs() < 8.0, "{d:?}");
        assert!(
            (d.from_ms - 40.0).abs() < 5.0 && (d.to_ms - 120.0).abs() < 5.0,
            "{d:?}"
        );
        assert_eq!(d.intervals, 60);
        for (base, rise, why) in [
            (40.0, 0.0, "flat"),
            (400.0, 40.0, "a 10% rise is not material"),
            (40.0, -30.0, "falling"),
        ] {
            let l = lines(base, rise);
            let refs: Vec<&HistoryRow> = l.iter().collect();
            assert_eq!(drift(&refs, 1000), None, "{why}");
        }
        // Too few seconds to fit.
        assert_eq!(drift(&refs[..5], 1000), None);
    }

    #[test]
    fn a_row_without_requests_says_so() {
        let row = RequestStats::new("GET", "/x");
        let got = analyse_row(&row, &Baselines::default(), RowContext::default());
        assert_eq!(got.sentences, ["GET /x: no requests were recorded"]);
        assert!(got.symptoms.is_empty());
    }
}
