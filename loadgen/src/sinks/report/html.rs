//! The HTML report: one self-contained page (its style inline, its charts inline SVG
//! drawn by plotters, nothing fetched from anywhere) that reads on a screen, a phone
//! (narrow layout, tables that scroll sideways) and paper (print styles).
//!
//! Every numeric table cell carries its exact value in `data-v` (as the JSON report has
//! it), beside the rounded figure people read.

use std::fmt::Write as _;

use super::{charts, elapsed_seconds, escape, iso_time, Inputs};
use crate::sinks::console;
use crate::stats::{RequestStats, PERCENTILES_TO_REPORT, PERCENTILE_LABELS};
use crate::verdict::baseline::{format_ms, format_percent, row_label, Metric};
use crate::verdict::criteria::Outcome;

/// The page's style: readable widths, tables that scroll on a phone, print rules.
const STYLE: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff;max-width:1100px;margin:0 auto;padding:16px;line-height:1.45}
h1{font-size:1.6em;margin:.2em 0}
h2{font-size:1.25em;border-bottom:1px solid var(--line);padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.05em;margin:1.2em 0 .3em}
p.meta{color:var(--muted);margin:.2em 0 1em}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0;max-width:100%}
table{border-collapse:collapse;font-size:.9em}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;white-space:nowrap;vertical-align:top}
th{background:var(--head)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;background:var(--head)}
td.band-target{background:#d3f2dc}td.band-acceptable{background:#dcecfb}
td.band-degraded{background:#fff0bf}td.band-poor{background:#ffd7d5}
span.band{display:block;font-size:.8em;color:var(--muted)}
td.pass{color:#1a7f37;font-weight:600}td.fail{color:#cf222e;font-weight:600}
.verdict{display:inline-block;padding:4px 14px;border-radius:4px;font-weight:700;font-size:1.2em;margin:.3em 0}
.verdict.passed{background:#1a7f37;color:#fff}
.verdict.failed,.verdict.aborted{background:#cf222e;color:#fff}
.verdict.none{background:#eaeef2}
ul.breaches li{color:#cf222e}
.symptom{border-left:4px solid #cf222e;background:#fff6f6;padding:6px 12px;margin:.6em 0}
.symptom ul,.symptom ol{margin:.2em 0 .4em}
figure.chart{margin:1em 0}
figure.chart svg{width:100%;height:auto;display:block}
@media (max-width:640px){body{padding:8px;font-size:15px}h1{font-size:1.3em}th,td{padding:3px 5px}}
@media print{body{max-width:none;padding:0;font-size:10pt}.scroll{overflow:visible}table{font-size:8pt}
th,td{white-space:normal}figure.chart,table,.symptom{break-inside:avoid}h2,h3{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"#;

/// A numeric cell: the exact value in `data-v`, the rounded one shown.
fn num(out: &mut String, exact: impl std::fmt::Display, shown: &str) {
    let _ = write!(
        out,
        "<td class=\"num\" data-v=\"{exact}\">{}</td>",
        escape(shown)
    );
}

/// An SVG chart in a figure, or a note when it could not be drawn.
fn figure(out: &mut String, id: &str, chart: Result<String, String>) {
    let _ = write!(out, "<figure class=\"chart\" id=\"{}\">", escape(id));
    match chart {
        // plotters writes an XML declaration-free <svg> element: inline it as is.
        Ok(svg) => out.push_str(&svg),
        Err(e) => {
            let _ = write!(out, "<p>chart unavailable: {}</p>", escape(&e));
        }
    }
    out.push_str("</figure>\n");
}

/// The report page.
pub(crate) fn html(i: &Inputs<'_>) -> String {
    let s = i.snapshot;
    let title = format!("loadgen report: {}", i.settings.scenario);
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(&title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} to {} ({:.0} s), {} requests, {} failures</p>",
        iso_time(s.start),
        iso_time(s.taken_at),
        elapsed_seconds(s),
        s.aggregated.num_requests(),
        s.aggregated.num_failures()
    );
    verdict_section(&mut out, i);
    settings_section(&mut out, i);
    criteria_section(&mut out, i);
    baselines_section(&mut out, i);
    analysis_section(&mut out, i);

    out.push_str("<h2 id=\"charts\">Over time</h2>\n");
    stages_list(&mut out, i);
    figure(&mut out, "chart-rps", charts::rps_chart(s, i.stages));
    figure(
        &mut out,
        "chart-response-times",
        charts::response_time_chart(s, i.stages),
    );
    figure(&mut out, "chart-users", charts::users_chart(s, i.stages));

    requests_section(&mut out, i);
    percentiles_section(&mut out, i);
    // Locust's console tables, byte for byte, for people who compare runs by eye.
    out.push_str("<details id=\"console\"><summary>Console tables, as Locust prints them</summary><div class=\"scroll\"><pre>");
    out.push_str(&escape(&console::request_table(s, console::Rates::Total)));
    out.push_str(&escape(&console::percentile_table(s)));
    out.push_str(&escape(&console::error_report(s)));
    out.push_str("</pre></div></details>\n");

    out.push_str("<h2 id=\"spectrum\">Latency by percentile</h2>\n<p class=\"meta\">Each row's response time at every percentile (HdrHistogram style: the x axis counts nines, 90%, 99%, 99.9%, as far as the row's request count resolves).</p>\n");
    for (n, row) in s
        .rows
        .iter()
        .chain(std::iter::once(&s.aggregated))
        .enumerate()
    {
        let label = row_label(&row.method, &row.name);
        figure(
            &mut out,
            &format!("chart-spectrum-{n}"),
            charts::spectrum_chart(row, &label),
        );
    }

    failures_section(&mut out, i);
    let _ = writeln!(
        out,
        "<p class=\"meta\">loadgen {} &middot; seed {}</p>\n</body>\n</html>",
        escape(&i.settings.version),
        i.settings.seed
    );
    out
}

/// The stages the charts mark, with their start times, above the charts.
fn stages_list(out: &mut String, i: &Inputs<'_>) {
    let marks = charts::stage_boundaries(i.stages);
    if marks.is_empty() {
        return;
    }
    out.push_str(
        "<p class=\"meta\">Dashed lines mark where each stage started:</p>\n<ul id=\"stages\">\n",
    );
    for (at, label) in &marks {
        let _ = writeln!(
            out,
            "<li data-at=\"{at}\">{} s: {}</li>",
            format_seconds(*at),
            escape(label)
        );
    }
    out.push_str("</ul>\n");
}

/// Seconds from the start, to the tenth.
pub(crate) fn format_seconds(at: f64) -> String {
    format!("{at:.1}")
}

fn verdict_section(out: &mut String, i: &Inputs<'_>) {
    let outcome = i.verdict.outcome();
    let (class, word) = match outcome {
        Outcome::NoCriteria => ("none", "NO CRITERIA"),
        Outcome::Passed => ("passed", "PASSED"),
        Outcome::Failed => ("failed", "FAILED"),
        Outcome::Aborted => ("aborted", "ABORTED"),
    };
    out.push_str("<h2 id=\"verdict\">Verdict</h2>\n");
    let _ = writeln!(out, "<div class=\"verdict {class}\">{word}</div>");
    if outcome == Outcome::NoCriteria {
        out.push_str("<p>The scenario has no criteria: as in Locust, the exit code is non-zero when any request failed.</p>\n");
    }
    let mut lines: Vec<String> = Vec::new();
    if let Some(abort) = &i.verdict.aborted {
        lines.push(abort.describe());
    }
    lines.extend(i.verdict.breaches().map(|b| b.breach()));
    if !lines.is_empty() {
        out.push_str("<ul class=\"breaches\">\n");
        for l in lines {
            let _ = writeln!(out, "<li>{}</li>", escape(&l));
        }
        out.push_str("</ul>\n");
    }
}

fn settings_section(out: &mut String, i: &Inputs<'_>) {
    let st = i.settings;
    let s = i.snapshot;
    out.push_str("<h2 id=\"settings\">Run settings</h2>\n<div class=\"scroll\"><table id=\"settings-table\">\n");
    let rows: [(&str, String); 9] = [
        ("Scenario", st.scenario.clone()),
        ("User classes", st.classes.join(", ")),
        ("Users", st.users.to_string()),
        ("Spawn rate", format!("{}/s", st.rate)),
        (
            "Run time",
            st.duration
                .map_or("until stopped".into(), |d| format!("{d} s")),
        ),
        ("Users at the end", s.user_count.to_string()),
        ("Started", iso_time(s.start)),
        ("Seed", st.seed.to_string()),
        ("loadgen", st.version.clone()),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    out.push_str("</table></div>\n");
}

fn criteria_section(out: &mut String, i: &Inputs<'_>) {
    out.push_str("<h2 id=\"criteria\">Criteria</h2>\n");
    if i.verdict.results.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str("<div class=\"scroll\"><table id=\"criteria-table\">\n<tr><th>Row</th><th>Criterion</th><th>Measured</th><th>Result</th></tr>\n");
    for r in &i.verdict.results {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code>{}</td>",
            escape(&r.row),
            escape(&r.criterion.to_string()),
            if r.abort_on_fail {
                " (abort on fail)"
            } else {
                ""
            }
        );
        match r.value {
            Some(v) => num(out, v, &trim_measured(v)),
            None => out.push_str("<td>no requests</td>"),
        }
        if r.passed {
            out.push_str("<td class=\"pass\">pass</td></tr>\n");
        } else {
            let _ = writeln!(
                out,
                "<td class=\"fail\">fail: {}</td></tr>",
                escape(&r.breach())
            );
        }
    }
    out.push_str("</table></div>\n");
}

/// A measured value with four significant decimals at most.
fn trim_measured(v: f64) -> String {
    let text = format!("{v:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn baselines_section(out: &mut String, i: &Inputs<'_>) {
    out.push_str("<h2 id=\"baselines\">Baselines</h2>\n<div class=\"scroll\"><table id=\"baselines-table\">\n<tr><th>Name</th>");
    for m in Metric::ALL {
        let _ = write!(out, "<th>{}</th>", escape(m.short()));
    }
    out.push_str("</tr>\n");
    let last = i.baselines.rows.len().saturating_sub(1);
    for (n, row) in i.baselines.rows.iter().enumerate() {
        let class = if n == last { " class=\"total\"" } else { "" };
        let _ = write!(
            out,
            "<tr{class} data-row=\"{}\"><td>{}</td>",
            escape(&row.label()),
            escape(&row.label())
        );
        for cell in &row.cells {
            match (cell.value, cell.band) {
                (Some(v), Some(b)) => {
                    let _ = write!(
                        out,
                        "<td class=\"num band-{b}\" data-v=\"{v}\">{}<span class=\"band\">{b}</span></td>",
                        escape(&cell.metric.format(v))
                    );
                }
                // A request row's requests/s: shown, but the guide's throughput bands
                // judge the whole system.
                (Some(v), None) => {
                    let _ = write!(
                        out,
                        "<td class=\"num\" data-v=\"{v}\">{}</td>",
                        escape(&cell.metric.format(v))
                    );
                }
                _ => out.push_str("<td>n/a</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n<h3>Bounds</h3>\n<div class=\"scroll\"><table id=\"bounds-table\">\n<tr><th>Metric</th><th>target</th><th>acceptable</th><th>degraded</th><th>poor</th></tr>\n");
    for m in Metric::ALL {
        let b = i.baselines.baselines.bounds(m);
        let (better, worse) = if m.higher_is_better() {
            (">", "<")
        } else {
            ("<", ">")
        };
        let unit = match m {
            Metric::AvgMs | Metric::P95Ms | Metric::P99Ms => " ms",
            Metric::ErrorRatePercent => "%",
            Metric::Rps => " req/s",
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{better} {}{unit}</td><td>{better} {}{unit}</td><td>between</td><td>{worse} {}{unit}</td></tr>",
            escape(m.label()),
            b.target,
            b.acceptable,
            b.poor
        );
    }
    out.push_str("</table></div>\n<p class=\"meta\">A value equal to the target or acceptable bound falls in the worse band; one equal to the poor bound is degraded.</p>\n");
}

fn analysis_section(out: &mut String, i: &Inputs<'_>) {
    out.push_str("<h2 id=\"analysis\">Analysis</h2>\n");
    for advice in &i.analysis.advice {
        let _ = writeln!(out, "<p>{}</p>", escape(advice));
    }
    for row in &i.analysis.rows {
        let _ = writeln!(out, "<h3>{}</h3>\n<ul>", escape(&row.label));
        for s in &row.sentences {
            let _ = writeln!(out, "<li>{}</li>", escape(s));
        }
        out.push_str("</ul>\n");
        for s in &row.symptoms {
            let _ = writeln!(
                out,
                "<div class=\"symptom\"><strong>{}</strong>: {}<br>Possible causes:<ul>",
                escape(s.title),
                escape(&s.evidence)
            );
            for c in s.causes {
                let _ = writeln!(out, "<li>{}</li>", escape(c));
            }
            out.push_str("</ul>Solutions:<ol>\n");
            for c in s.solutions {
                let _ = writeln!(out, "<li>{}</li>", escape(c));
            }
            out.push_str("</ol></div>\n");
        }
    }
}

fn requests_section(out: &mut String, i: &Inputs<'_>) {
    let s = i.snapshot;
    out.push_str("<h2 id=\"requests\">Request statistics</h2>\n<div class=\"scroll\"><table id=\"requests-table\">\n<tr><th>Type</th><th>Name</th><th># reqs</th><th># fails</th><th>Avg (ms)</th><th>Min (ms)</th><th>Max (ms)</th><th>Med (ms)</th><th>req/s</th><th>failures/s</th><th>failure %</th></tr>\n");
    for (row, total) in s
        .rows
        .iter()
        .map(|r| (r, false))
        .chain(std::iter::once((&s.aggregated, true)))
    {
        row_start(out, row, total);
        num(out, row.num_requests(), &row.num_requests().to_string());
        num(out, row.num_failures(), &row.num_failures().to_string());
        for v in [
            row.avg_response_time_ms(),
            row.min_response_time_ms(),
            row.max_response_time_ms(),
            row.median_response_time_ms(),
        ] {
            num(out, v, &format_ms(v));
        }
        num(out, row.total_rps(), &format!("{:.2}", row.total_rps()));
        num(
            out,
            row.total_fail_per_sec(),
            &format!("{:.2}", row.total_fail_per_sec()),
        );
        num(
            out,
            row.fail_ratio(),
            &format_percent(row.fail_ratio() * 100.0),
        );
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
}

/// `<tr data-row="GET /api/clients"><td>GET</td><td>/api/clients</td>`.
fn row_start(out: &mut String, row: &RequestStats, total: bool) {
    let class = if total { " class=\"total\"" } else { "" };
    let _ = write!(
        out,
        "<tr{class} data-row=\"{}\"><td>{}</td><td>{}</td>",
        escape(&row_label(&row.method, &row.name)),
        escape(&row.method),
        escape(&row.name)
    );
}

fn percentiles_section(out: &mut String, i: &Inputs<'_>) {
    let s = i.snapshot;
    out.push_str("<h2 id=\"percentiles\">Response time percentiles (ms)</h2>\n<div class=\"scroll\"><table id=\"percentiles-table\">\n<tr><th>Type</th><th>Name</th>");
    for label in PERCENTILE_LABELS {
        let _ = write!(out, "<th>{label}</th>");
    }
    out.push_str("<th># reqs</th></tr>\n");
    for (row, total) in s
        .rows
        .iter()
        .map(|r| (r, false))
        .chain(std::iter::once((&s.aggregated, true)))
    {
        row_start(out, row, total);
        match row.percentiles_ms(&PERCENTILES_TO_REPORT) {
            Some(values) => {
                for v in values {
                    num(out, v, &format_ms(v));
                }
            }
            None => {
                for _ in PERCENTILES_TO_REPORT {
                    out.push_str("<td>N/A</td>");
                }
            }
        }
        num(out, row.num_requests(), &row.num_requests().to_string());
        out.push_str("</tr>\n");
    }
    out.push_str("</table></div>\n");
}

fn failures_section(out: &mut String, i: &Inputs<'_>) {
    out.push_str("<h2 id=\"failures\">Failures</h2>\n");
    if i.snapshot.errors.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str("<div class=\"scroll\"><table id=\"failures-table\">\n<tr><th># occurrences</th><th>Method</th><th>Name</th><th>Error</th><th>First seen</th><th>Last seen</th></tr>\n");
    for e in &i.snapshot.errors {
        out.push_str("<tr>");
        num(out, e.occurrences, &e.occurrences.to_string());
        let _ = writeln!(
            out,
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.method),
            escape(&e.name),
            escape(&e.error),
            iso_time(e.first_seen),
            iso_time(e.last_seen)
        );
    }
    out.push_str("</table></div>\n");
}
