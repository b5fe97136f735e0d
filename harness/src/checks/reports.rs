//! Reports: CSV, JSON, HTML and console agree. All four are generated from the run's
//! final snapshot through loadgen's own writers into a temporary directory, then read
//! back and compared figure by figure: request and failure counts per row, the
//! percentile columns (CSV and console round the JSON's exact values the same way), the
//! averages, and each JSON histogram against the figures it claims.

use std::collections::BTreeMap;

use loadgen::stats::{Snapshot, PERCENTILES_TO_REPORT};

use super::Ctx;
use crate::check::Check;

/// One row as a report shows it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Row {
    requests: u64,
    failures: u64,
    /// The percentile columns (ms), rounded as the report prints them.
    percentiles: Vec<i64>,
    /// The average in ms.
    avg: f64,
}

type Rows = BTreeMap<(String, String), Row>;

/// The report checks.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let snapshot = &ctx.ev.outcome.snapshot;
    match generate_and_read(
        snapshot,
        &ctx.ev.spec.scenario.source,
        &ctx.ev.outcome.stages,
    ) {
        Ok(reports) => compare(snapshot, &reports),
        Err(e) => vec![Check::new(
            "reports written and read back",
            "CSV, JSON and HTML files",
            e,
            "every file written and parsed",
            false,
        )],
    }
}

/// What was read back from each report.
#[derive(Debug)]
struct Reports {
    csv: Rows,
    json: Rows,
    console: Rows,
    /// (row, histogram length, values at Locust's ranks == JSON's percentiles)
    histograms_ok: Vec<String>,
    html_has_console: bool,
}

fn generate_and_read(
    snapshot: &Snapshot,
    scenario: &str,
    stages: &[loadgen::StageMark],
) -> Result<Reports, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let prefix = dir.path().join("run");
    let mut csv = loadgen::csv::CsvWriter::new(&prefix.to_string_lossy(), false)
        .map_err(|e| e.to_string())?;
    csv.finish(snapshot).map_err(|e| e.to_string())?;
    let json_path = dir.path().join("run.json");
    let settings = loadgen::json::RunSettings::from_snapshot(snapshot, scenario);
    loadgen::json::JsonReport::new(snapshot, &settings)
        .write(&json_path)
        .map_err(|e| e.to_string())?;
    let html_path = dir.path().join("run.html");
    std::fs::write(
        &html_path,
        loadgen::report::snapshot_html(snapshot, scenario, stages),
    )
    .map_err(|e| format!("{}: {e}", html_path.display()))?;

    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
    };
    let csv_text = read(&dir.path().join("run_stats.csv"))?;
    let json_text = read(&json_path)?;
    let html_text = read(&html_path)?;
    let console = loadgen::console::final_summary(snapshot);
    let request_table = loadgen::console::request_table(snapshot, loadgen::console::Rates::Total);
    let (json, histograms_ok) = parse_json(&json_text)?;
    Ok(Reports {
        csv: parse_csv(&csv_text)?,
        json,
        console: parse_console(&console)?,
        histograms_ok,
        html_has_console: unescape(&html_text).contains(&request_table),
    })
}

fn compare(snapshot: &Snapshot, r: &Reports) -> Vec<Check> {
    let mut truth: Rows = BTreeMap::new();
    for s in snapshot
        .rows
        .iter()
        .chain(std::iter::once(&snapshot.aggregated))
    {
        truth.insert(
            (s.method.clone(), s.name.clone()),
            Row {
                requests: s.num_requests(),
                failures: s.num_failures(),
                percentiles: Vec::new(),
                avg: s.avg_response_time_ms(),
            },
        );
    }
    let mut count_diffs = Vec::new();
    let mut pct_diffs = Vec::new();
    let mut avg_diffs = Vec::new();
    for (key, t) in &truth {
        let who = format!("{} {}", key.0, key.1).trim().to_owned();
        for (report, rows) in [("CSV", &r.csv), ("JSON", &r.json), ("console", &r.console)] {
            match rows.get(key) {
                Some(row) if row.requests == t.requests && row.failures == t.failures => {}
                Some(row) => count_diffs.push(format!(
                    "{report} {who}: {}/{} != {}/{}",
                    row.requests, row.failures, t.requests, t.failures
                )),
                None => count_diffs.push(format!("{report} lacks {who}")),
            }
        }
        let (Some(csv), Some(json), Some(console)) =
            (r.csv.get(key), r.json.get(key), r.console.get(key))
        else {
            continue;
        };
        if csv.percentiles != json.percentiles || console.percentiles != json.percentiles {
            pct_diffs.push(format!(
                "{who}: CSV {:?} console {:?} JSON {:?}",
                csv.percentiles, console.percentiles, json.percentiles
            ));
        }
        // CSV prints Python's repr of the float; the console truncates to whole ms.
        let close = (csv.avg - json.avg).abs() <= 1e-9 * json.avg.abs().max(1.0);
        if !close
            || console.avg != json.avg.trunc()
            || (json.avg - t.avg).abs() > 1e-9 * t.avg.max(1.0)
        {
            avg_diffs.push(format!(
                "{who}: CSV {} JSON {} console {}",
                csv.avg, json.avg, console.avg
            ));
        }
    }
    let rows = truth.len();
    vec![
        Check::new(
            "reports request counts agree",
            format!("{rows} rows: snapshot = CSV = JSON = console"),
            summary(&count_diffs, "all equal"),
            "exact",
            count_diffs.is_empty(),
        ),
        Check::new(
            "reports percentiles agree",
            "CSV = console = JSON rounded",
            summary(&pct_diffs, "all equal"),
            "exact (11 columns per row)",
            pct_diffs.is_empty(),
        ),
        Check::new(
            "reports averages agree",
            "CSV = JSON, console = JSON truncated",
            summary(&avg_diffs, "all equal"),
            "exact",
            avg_diffs.is_empty(),
        ),
        Check::new(
            "reports JSON histograms agree",
            "each histogram holds the row's requests and gives its percentiles",
            summary(&r.histograms_ok, "all consistent"),
            "exact",
            r.histograms_ok.is_empty(),
        ),
        Check::new(
            "reports HTML carries the console tables",
            "the final request table",
            if r.html_has_console {
                "present"
            } else {
                "missing"
            },
            "exact text",
            r.html_has_console,
        ),
    ]
}

fn summary(problems: &[String], ok: &str) -> String {
    match problems.len() {
        0 => ok.to_owned(),
        1..=3 => problems.join("; "),
        n => format!("{}; ... ({n} in all)", problems[..3].join("; ")),
    }
}

/// Splits one CSV line (Python's QUOTE_MINIMAL).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_csv(text: &str) -> Result<Rows, String> {
    let mut rows = Rows::new();
    for (i, line) in text.split("\r\n").enumerate().skip(1) {
        if line.is_empty() {
            continue;
        }
        let f = csv_fields(line);
        let bad = |what: &str| format!("_stats.csv line {}: {what}: {line}", i + 1);
        if f.len() != 11 + PERCENTILES_TO_REPORT.len() {
            return Err(bad("wrong number of fields"));
        }
        let num = |j: usize| f[j].parse::<u64>().map_err(|_| bad("not a count"));
        let percentiles = f[11..]
            .iter()
            .map(|v| if v == "N/A" { Ok(-1) } else { v.parse::<i64>() })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("percentile not an integer"))?;
        rows.insert(
            (f[0].clone(), f[1].clone()),
            Row {
                requests: num(2)?,
                failures: num(3)?,
                percentiles,
                avg: f[5].parse().map_err(|_| bad("average not a number"))?,
            },
        );
    }
    Ok(rows)
}

fn parse_json(text: &str) -> Result<(Rows, Vec<String>), String> {
    let doc = loadgen::json::JsonReport::from_text(text).map_err(|e| format!("JSON: {e}"))?;
    let mut rows = Rows::new();
    let mut problems = Vec::new();
    for v in doc.stats.iter().chain(std::iter::once(&doc.aggregated)) {
        let requests = v.num_requests;
        let exact: Vec<Option<f64>> = PERCENTILES_TO_REPORT
            .iter()
            .map(|p| {
                v.response_time_percentiles
                    .get(&loadgen::csv::py_float(*p))
                    .copied()
            })
            .collect();
        let percentiles = exact
            .iter()
            .map(|x| x.map_or(-1, |x| x.round_ties_even() as i64))
            .collect();
        let who = format!("{} {}", v.method, v.name).trim().to_owned();
        match v.histogram() {
            Ok(h) if h.len() == requests => {
                for (p, x) in PERCENTILES_TO_REPORT.iter().zip(&exact) {
                    let rank = crate::stat::locust_rank(requests, *p);
                    let at = crate::stat::value_at_rank(&h, rank);
                    if let (Some(x), Some((lo, hi))) = (x, at) {
                        let us = (x * 1000.0).round() as u64;
                        // The row clamps to its exact extremes, which lie in the same buckets.
                        if us + 1 < h.lowest_equivalent(lo).min(h.lowest_equivalent(h.min()))
                            || us > hi.max(h.highest_equivalent(h.max())) + 1
                        {
                            problems.push(format!("{who} p{p}: {x} ms vs bucket {lo}..{hi} us"));
                        }
                    }
                }
            }
            Ok(h) => problems.push(format!("{who}: histogram holds {} of {requests}", h.len())),
            Err(e) => problems.push(format!("{who}: {e}")),
        }
        rows.insert(
            (v.method.clone(), v.name.clone()),
            Row {
                requests,
                failures: v.num_failures,
                percentiles,
                avg: v.avg_response_time,
            },
        );
    }
    Ok((rows, problems))
}

/// Reads the console's request table (counts, failures, truncated average) and its
/// percentile table (rounded columns).
fn parse_console(text: &str) -> Result<Rows, String> {
    const TYPE: usize = 8;
    let name_req = loadgen::console::DEFAULT_NAME_WIDTH - TYPE + 4;
    let name_pct = loadgen::console::DEFAULT_NAME_WIDTH;
    let mut rows = Rows::new();
    let mut in_percentiles = false;
    for line in text.lines() {
        if line.starts_with("Response time percentiles") {
            in_percentiles = true;
            continue;
        }
        if line.starts_with("Error report") {
            break;
        }
        if line.starts_with("Type") || line.starts_with("---") || line.trim().is_empty() {
            continue;
        }
        let bad = |what: &str| format!("console: {what}: {line}");
        let width = if in_percentiles { name_pct } else { name_req };
        let method = line.get(..TYPE).unwrap_or_default().trim().to_owned();
        let name = line
            .get(TYPE + 1..TYPE + 1 + width)
            .ok_or_else(|| bad("short line"))?
            .trim()
            .to_owned();
        let rest: Vec<&str> = line
            .get(TYPE + 1 + width..)
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let entry = rows.entry((method, name)).or_default();
        if in_percentiles {
            entry.percentiles = rest[..rest.len().saturating_sub(1)]
                .iter()
                .map(|v| v.parse::<i64>().map_err(|_| bad("percentile")))
                .collect::<Result<_, _>>()?;
        } else {
            // "# reqs", "fails(ratio%)", "|", avg, ...
            entry.requests = rest
                .first()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("# reqs"))?;
            entry.failures = rest
                .get(1)
                .and_then(|v| v.split('(').next())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("# fails"))?;
            entry.avg = rest
                .get(2)
                .map(|v| v.trim_start_matches('|'))
                .and_then(|v| {
                    if v.is_empty() {
                        rest.get(3).copied()
                    } else {
                        Some(v)
                    }
                })
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad("average"))?;
        }
    }
    Ok(rows)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_follow_python() {
        assert_eq!(csv_fields("a,\"b,c\",\"d\"\"e\""), ["a", "b,c", "d\"e"]);
    }
}
