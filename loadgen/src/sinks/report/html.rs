//! The HTML report: one self-contained page (its style inline, its charts inline SVG
//! drawn by plotters, nothing fetched from anywhere) that reads on a screen, a phone
//! (narrow layout, tables that scroll sideways) and paper (print styles).
//!
//! Sections come in the order a reader needs them, listed in a table of contents at the
//! top: the verdict, the run's settings, the request statistics, the failures, the
//! charts, each row's percentile spectrum, the baselines and the analysis.
//!
//! Every numeric table cell carries its exact value in `data-v` (as the JSON report has
//! it), beside the rounded figure people read.
//!
//! The page is a maud template: text is escaped where it is spliced in, and only the
//! style sheet and plotters' SVG go in as they are.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{
    charts, elapsed_seconds, errors_by_count, iso_time, report_percentiles, table_ms, Inputs,
};
use crate::sinks::console;
use crate::stats::{RequestStats, PERCENTILES_TO_REPORT, PERCENTILE_LABELS};
use crate::verdict::baseline::{format_percent, row_label, Metric};
use crate::verdict::criteria::Outcome;

/// The page's style: readable widths, tables that scroll on a phone, print rules.
const STYLE: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff;max-width:1280px;margin:0 auto;padding:16px;line-height:1.45}
nav#toc{background:var(--head);border:1px solid var(--line);border-radius:6px;padding:4px 16px;margin:.8em 0}
nav#toc ol{margin:.3em 0;padding-left:1.4em;columns:2 16em}
nav#toc a{color:#0a5bd3}
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
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}.pair figure.chart{margin:.5em 0}
table.wrap{width:100%}table.wrap td.text{white-space:normal;overflow-wrap:anywhere;min-width:12em}
table.ratio td.task{padding-left:2em}
figure.chart svg{width:100%;height:auto;display:block}
@media (max-width:900px){.pair{grid-template-columns:1fr}}
@media (max-width:640px){body{padding:8px;font-size:15px}h1{font-size:1.3em}th,td{padding:3px 5px}}
@media print{body{max-width:none;padding:0;font-size:10pt}.scroll{overflow:visible}table{font-size:8pt}
th,td{white-space:normal}figure.chart,table,.symptom{break-inside:avoid}h2,h3{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"#;

/// A numeric cell: the exact value in `data-v`, the rounded one shown.
fn num(exact: impl std::fmt::Display, shown: &str) -> Markup {
    html! { td.num data-v=(maud::display(exact)) { (shown) } }
}

/// An SVG chart in a figure, or a note when it could not be drawn.
fn figure(id: &str, chart: Result<String, String>) -> Markup {
    html! {
        figure.chart id=(id) {
            @match chart {
                // plotters writes an XML declaration-free <svg> element: inline it as is.
                Ok(svg) => (PreEscaped(svg)),
                Err(e) => p { "chart unavailable: " (e) },
            }
        }
    }
}

/// The sections, in the page's order: (anchor, title) for the table of contents.
pub(crate) const SECTIONS: [(&str, &str); 9] = [
    ("verdict", "Verdict"),
    ("settings", "Run settings"),
    ("requests", "Request statistics"),
    ("failures", "Failures"),
    ("charts", "Charts"),
    ("spectrum", "Percentiles per row"),
    ("baselines", "Baselines"),
    ("analysis", "Analysis"),
    ("console", "Console tables"),
];

/// The report page.
pub(crate) fn html(i: &Inputs<'_>) -> String {
    let s = i.snapshot;
    let title = format!("loadgen report: {}", i.settings.scenario);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (title) }
                p.meta {
                    (iso_time(s.start)) " to " (iso_time(s.taken_at))
                    " (" (format!("{:.0}", elapsed_seconds(s))) " s), "
                    (s.aggregated.num_requests()) " requests, "
                    (s.aggregated.num_failures()) " failures"
                    @if !i.settings.host.is_empty() { ", against " (i.settings.host) }
                }
                nav #toc aria-label="Contents" {
                    ol { @for (id, name) in SECTIONS { li { a href={ "#" (id) } { (name) } } } }
                }
                (verdict_section(i))
                (settings_section(i))
                (requests_section(i))
                (overhead_section(i))
                (failures_section(i))
                (charts_section(i))
                (spectrum_section(i))
                (baselines_section(i))
                (analysis_section(i))
                h2 #console { "Console tables" }
                // Locust's console tables, byte for byte, for people who compare runs by eye.
                details {
                    summary { "As Locust prints them (whole milliseconds, truncated as its console does)" }
                    div.scroll {
                        pre {
                            (console::request_table(s, console::Rates::Total))
                            (console::percentile_table(s))
                            (console::error_report(s))
                        }
                    }
                }
                p.meta { "loadgen " (i.settings.version) " · seed " (i.settings.seed) }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// Throughput and users over time, and the response times per interval beside those of
/// the whole run.
fn charts_section(i: &Inputs<'_>) -> Markup {
    let s = i.snapshot;
    html! {
        h2 #charts { "Charts" }
        (stages_list(i))
        (figure("chart-rps", charts::rps_chart(s, i.stages)))
        p.meta {
            "Response times: on the left each interval's, that is every second the p50 and p95 of the requests of the last 10 s (as Locust's report charts them), where a slow minute shows as it happened; on the right the whole run's so far."
        }
        div.pair {
            (figure("chart-interval-response-times", charts::interval_response_time_chart(s, i.stages)))
            (figure("chart-response-times", charts::response_time_chart(s, i.stages)))
        }
        (figure("chart-users", charts::users_chart(s, i.stages)))
    }
}

/// Each row's latency by percentile.
fn spectrum_section(i: &Inputs<'_>) -> Markup {
    html! {
        h2 #spectrum { "Percentiles per row" }
        p.meta {
            "Each row's response time at every percentile (HdrHistogram style: the x axis counts nines, 90%, 99%, 99.9%, as far as the row's request count resolves)."
        }
        @for (n, (row, _)) in rows_with_total(i).enumerate() {
            (figure(
                &format!("chart-spectrum-{n}"),
                charts::spectrum_chart(row, &row_label(&row.method, &row.name)),
            ))
        }
    }
}

/// The stages the charts mark, with their start times, above the charts.
fn stages_list(i: &Inputs<'_>) -> Markup {
    let marks = charts::stage_boundaries(i.stages);
    html! {
        @if !marks.is_empty() {
            p.meta { "Dashed lines mark where each stage started:" }
            ul #stages {
                @for (at, label) in &marks {
                    li data-at=(at) { (format_seconds(*at)) " s: " (label) }
                }
            }
        }
    }
}

/// Seconds from the start, to the tenth.
pub(crate) fn format_seconds(at: f64) -> String {
    format!("{at:.1}")
}

fn verdict_section(i: &Inputs<'_>) -> Markup {
    let outcome = i.verdict.outcome();
    let (class, word) = match outcome {
        Outcome::NoCriteria => ("none", "NO CRITERIA"),
        Outcome::Passed => ("passed", "PASSED"),
        Outcome::Failed => ("failed", "FAILED"),
        Outcome::Aborted => ("aborted", "ABORTED"),
    };
    let mut lines: Vec<String> = Vec::new();
    if let Some(abort) = &i.verdict.aborted {
        lines.push(abort.describe());
    }
    lines.extend(i.verdict.breaches().map(|b| b.breach()));
    html! {
        h2 #verdict { "Verdict" }
        div.verdict.(class) { (word) }
        @if outcome == Outcome::NoCriteria {
            p { "The scenario has no criteria: as in Locust, the exit code is non-zero when any request failed." }
        }
        @if !lines.is_empty() {
            ul.breaches {
                @for l in &lines { li { (l) } }
            }
        }
        (criteria_table(i))
    }
}

fn settings_section(i: &Inputs<'_>) -> Markup {
    let st = i.settings;
    let s = i.snapshot;
    let host = if st.host.is_empty() {
        "not recorded".to_owned()
    } else {
        st.host.clone()
    };
    let rows: [(&str, String); 10] = [
        ("Host", host),
        ("Scenario", st.scenario.clone()),
        ("User classes", st.classes.join(", ")),
        ("Users", format!("{} users", st.users)),
        ("Spawn rate", format!("{} users/s", st.rate)),
        (
            "Run time",
            st.duration
                .map_or("until stopped".into(), |d| format!("{d} s")),
        ),
        ("Users at the end", format!("{} users", s.user_count)),
        ("Started", iso_time(s.start)),
        ("Seed", st.seed.to_string()),
        ("loadgen", st.version.clone()),
    ];
    html! {
        h2 #settings { "Run settings" }
        div.scroll {
            table #settings-table {
                @for (k, v) in &rows { tr { th { (k) } td { (v) } } }
            }
        }
        (task_ratio_section(i))
    }
}

/// Locust's task ratio: each class's share of the users with its tasks' shares, per
/// class and of the whole run (as `--show-task-ratio` and Locust's report show them).
fn task_ratio_section(i: &Inputs<'_>) -> Markup {
    let ratios = &i.settings.task_ratio;
    let percent = |r: f64| format!("{:.1}%", r * 100.0);
    html! {
        @if !ratios.is_empty() {
            h3 #task-ratio { "Task ratio" }
            div.scroll {
                table.ratio #task-ratio-table {
                    tr { th { "Class / task" } th { "Ratio per user class" } th { "Total ratio" } }
                    @for c in ratios {
                        tr.class data-class=(c.class) {
                            td { strong { (c.class) } }
                            (num(c.ratio, &percent(c.ratio)))
                            (num(c.ratio, &percent(c.ratio)))
                        }
                        @for t in &c.tasks {
                            tr data-task=(t.task) {
                                td.task { (t.task) }
                                (num(t.ratio, &percent(t.ratio)))
                                (num(t.ratio * c.ratio, &percent(t.ratio * c.ratio)))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn criteria_table(i: &Inputs<'_>) -> Markup {
    html! {
        h3 #criteria { "Criteria" }
        @if i.verdict.results.is_empty() {
            p { "None." }
        } @else {
            div.scroll {
                table #criteria-table {
                    tr { th { "Row" } th { "Criterion" } th { "Measured" } th { "Result" } }
                    @for r in &i.verdict.results {
                        tr {
                            td { (r.row) }
                            td {
                                code { (r.criterion.to_string()) }
                                @if r.abort_on_fail { " (abort on fail)" }
                            }
                            @match r.value {
                                Some(v) => (num(v, &r.measured())),
                                None => td { (r.measured()) },
                            }
                            @if r.passed {
                                td.pass { "pass" }
                            } @else {
                                td.fail { "fail: " (r.breach()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn baselines_section(i: &Inputs<'_>) -> Markup {
    let last = i.baselines.rows.len().saturating_sub(1);
    html! {
        h2 #baselines { "Baselines" }
        div.scroll {
            table #baselines-table {
                tr {
                    th { "Name" }
                    @for m in Metric::ALL { th { (m.short()) } }
                }
                @for (n, row) in i.baselines.rows.iter().enumerate() {
                    tr class=[(n == last).then_some("total")] data-row=(row.label()) {
                        td { (row.label()) }
                        @for cell in &row.cells {
                            @match (cell.value, cell.band) {
                                (Some(v), Some(b)) => td class={ "num band-" (maud::display(b)) } data-v=(v) {
                                    (cell.metric.format(v))
                                    span.band { (maud::display(b)) }
                                },
                                // A request row's requests/s: shown, but the guide's
                                // throughput bands judge the whole system.
                                (Some(v), None) => td.num data-v=(v) { (cell.metric.format(v)) },
                                (None, _) => td { "n/a" },
                            }
                        }
                    }
                }
            }
        }
        h3 { "Bounds" }
        div.scroll {
            table #bounds-table {
                tr { th { "Metric" } th { "target" } th { "acceptable" } th { "degraded" } th { "poor" } }
                @for m in Metric::ALL {
                    (bounds_row(i, m))
                }
            }
        }
        p.meta { "A value equal to the target or acceptable bound falls in the worse band; one equal to the poor bound is degraded." }
    }
}

/// One metric's band bounds, with the comparison and unit each bound means.
fn bounds_row(i: &Inputs<'_>, m: Metric) -> Markup {
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
    html! {
        tr {
            td { (m.label()) }
            td { (better) " " (b.target) (unit) }
            td { (better) " " (b.acceptable) (unit) }
            td { "between" }
            td { (worse) " " (b.poor) (unit) }
        }
    }
}

fn analysis_section(i: &Inputs<'_>) -> Markup {
    html! {
        h2 #analysis { "Analysis" }
        @for advice in &i.analysis.advice { p { (advice) } }
        @for row in &i.analysis.rows {
            h3 { (row.label) }
            ul { @for s in &row.sentences { li { (s) } } }
            @for s in &row.symptoms {
                div.symptom {
                    strong { (s.title) } ": " (s.evidence) br;
                    "Possible causes:"
                    ul { @for c in s.causes { li { (c) } } }
                    "Solutions:"
                    ol { @for c in s.solutions { li { (c) } } }
                }
            }
        }
    }
}

/// The statistics rows, then Aggregated (marked as the total).
fn rows_with_total<'a>(i: &Inputs<'a>) -> impl Iterator<Item = (&'a RequestStats, bool)> {
    let s = i.snapshot;
    s.rows
        .iter()
        .map(|r| (r, false))
        .chain(std::iter::once((&s.aggregated, true)))
}

fn requests_section(i: &Inputs<'_>) -> Markup {
    html! {
        h2 #requests { "Request statistics" }
        div.scroll {
            table #requests-table {
                tr {
                    @for h in ["Type", "Name", "# reqs", "# fails", "Avg (ms)", "Min (ms)", "Max (ms)", "Med (ms)", "req/s", "failures/s", "failure %"] {
                        th { (h) }
                    }
                }
                @for (row, total) in rows_with_total(i) {
                    tr class=[total.then_some("total")] data-row=(row_label(&row.method, &row.name)) {
                        td { (row.method) }
                        td { (row.name) }
                        (num(row.num_requests(), &row.num_requests().to_string()))
                        (num(row.num_failures(), &row.num_failures().to_string()))
                        @for v in [
                            row.avg_response_time_ms(),
                            row.min_response_time_ms(),
                            row.max_response_time_ms(),
                            row.median_response_time_ms(),
                        ] {
                            (num(v, &table_ms(v)))
                        }
                        (num(row.total_rps(), &format!("{:.2}", row.total_rps())))
                        (num(row.total_fail_per_sec(), &format!("{:.2}", row.total_fail_per_sec())))
                        (num(row.fail_ratio(), &format_percent(row.fail_ratio() * 100.0)))
                    }
                }
            }
        }
        (percentiles_table(i))
    }
}

fn percentiles_table(i: &Inputs<'_>) -> Markup {
    html! {
        h3 #percentiles { "Response time percentiles (ms)" }
        p.meta { "Exact to three significant digits (HdrHistogram); 50% is the median and 100% the maximum of the table above." }
        div.scroll {
            table #percentiles-table {
                tr {
                    th { "Type" } th { "Name" }
                    @for label in PERCENTILE_LABELS { th { (label) } }
                    th { "# reqs" }
                }
                @for (row, total) in rows_with_total(i) {
                    tr class=[total.then_some("total")] data-row=(row_label(&row.method, &row.name)) {
                        td { (row.method) }
                        td { (row.name) }
                        @match report_percentiles(row) {
                            Some(values) => {
                                @for v in values { (num(v, &table_ms(v))) }
                            },
                            None => {
                                @for _ in PERCENTILES_TO_REPORT { td { "N/A" } }
                            },
                        }
                        (num(row.num_requests(), &row.num_requests().to_string()))
                    }
                }
            }
        }
    }
}

/// Each row's client overhead (measured minus the server's Server-Timing time), when
/// the target sent one, with the warning when the generator shaped a tail.
fn overhead_section(i: &Inputs<'_>) -> Markup {
    use crate::sinks::overhead::{warning, Overhead};
    let rows: Vec<(&RequestStats, bool, Overhead)> = rows_with_total(i)
        .filter_map(|(r, total)| Overhead::of(r).map(|o| (r, total, o)))
        .collect();
    html! {
        @if !rows.is_empty() {
            // A part of the request statistics, so no entry of its own in the contents.
            h3 #overhead { "Client overhead (ms)" }
            p.meta {
                "Each response time minus the server's own time for it (its Server-Timing app duration): what the generator's machine added. "
                "Aggregated " (rows.last().map_or(String::new(), |(_, _, o)| o.summary())) "."
            }
            @if let Some(w) = warning(i.snapshot, i.overhead_share) {
                p.warning #overhead-warning { "Warning: " (w) }
            }
            div.scroll {
                table #overhead-table {
                    tr {
                        th { "Type" } th { "Name" } th { "# timed" } th { "p50" } th { "p99" } th { "max" }
                    }
                    @for (row, total, o) in &rows {
                        tr class=[total.then_some("total")] {
                            td { (row.method) }
                            td { (row.name) }
                            (num(o.timed, &o.timed.to_string()))
                            (num(o.p50_ms, &table_ms(o.p50_ms)))
                            (num(o.p99_ms, &table_ms(o.p99_ms)))
                            (num(o.max_ms, &table_ms(o.max_ms)))
                        }
                    }
                }
            }
        }
    }
}

fn failures_section(i: &Inputs<'_>) -> Markup {
    html! {
        h2 #failures { "Failures" }
        @if i.snapshot.errors.is_empty() {
            p { "None." }
        } @else {
            p.meta { "Most frequent first." }
            // No sideways scroll: long names and messages wrap inside the page's width.
            table.wrap #failures-table {
                tr {
                    th { "# occurrences" } th { "Method" } th { "Name" } th { "Error" }
                    th { "First seen" } th { "Last seen" }
                }
                @for e in errors_by_count(i.snapshot) {
                    tr {
                        (num(e.occurrences, &e.occurrences.to_string()))
                        td { (e.method) }
                        td.text { (e.name) }
                        td.text { (e.error) }
                        td { (iso_time(e.first_seen)) }
                        td { (iso_time(e.last_seen)) }
                    }
                }
            }
        }
    }
}
