//! A comparison for people and CI systems: the console table, Markdown that fits a
//! pull-request comment, JUnit XML (one test case per row and threshold) and a small
//! self-contained HTML page. All four show the same cells, built once by [`cells`].

use std::fmt::Write as _;

use crate::sinks::report::escape;
use crate::verdict::baseline::{format_ms, format_percent};
use crate::verdict::compare::{Change, Comparison, RowComparison};

/// One line of the comparison table.
struct Line {
    /// The row's label, on every line.
    row: String,
    /// Whether this is the row's first line (the full tables name the row only there).
    first: bool,
    metric: String,
    baseline: String,
    current: String,
    change: String,
    evidence: String,
    verdict: String,
}

const HEADINGS: [&str; 7] = [
    "Row",
    "Metric",
    "Baseline",
    "Current",
    "Change",
    "Interval / p",
    "Verdict",
];

/// The table's lines: each row's request counts, then one line per measure.
fn cells(c: &Comparison) -> Vec<Line> {
    let mut lines = Vec::new();
    for r in &c.rows {
        let count = |side: Option<(u64, u64)>| side.map_or("-".to_owned(), |(n, _)| n.to_string());
        let note = match (r.baseline, r.current) {
            (None, _) => "only in the current run",
            (_, None) => "only in the baseline",
            _ => "",
        };
        lines.push(Line {
            row: r.label.clone(),
            first: true,
            metric: "requests".into(),
            baseline: count(r.baseline),
            current: count(r.current),
            change: match (r.baseline, r.current) {
                (Some((b, _)), Some((n, _))) if b > 0 => {
                    signed_percent((n as f64 - b as f64) / b as f64)
                }
                _ => String::new(),
            },
            evidence: String::new(),
            verdict: note.into(),
        });
        for ch in &r.changes {
            lines.push(change_line(c, r, ch));
        }
        for u in &r.untested {
            lines.push(Line {
                row: r.label.clone(),
                first: false,
                metric: u.split(':').next().unwrap_or("").to_owned(),
                baseline: String::new(),
                current: String::new(),
                change: String::new(),
                evidence: String::new(),
                verdict: u.split_once(": ").map_or("", |(_, w)| w).to_owned(),
            });
        }
    }
    lines
}

fn change_line(c: &Comparison, r: &RowComparison, ch: &Change) -> Line {
    let time = ch.measure.is_time();
    let value = |v: f64| {
        if time {
            format!("{} ms", format_ms(v))
        } else {
            format_percent(v * 100.0)
        }
    };
    let change = if time {
        ch.relative().map_or_else(
            || format!("{:+.1} ms", ch.current - ch.baseline),
            signed_percent,
        )
    } else {
        format!("{:+.2}pp", (ch.current - ch.baseline) * 100.0)
    };
    let evidence = match (ch.interval, ch.p_value) {
        (Some((lo, hi)), _) if time => format!("{}..{} ms", signed_ms(lo), signed_ms(hi)),
        (_, Some(p)) => format!("p = {}", short_p(p)),
        _ => String::new(),
    };
    let breached: Vec<String> = c
        .breaches
        .iter()
        .filter(|b| b.row == r.label && b.change.measure == ch.measure)
        .map(|b| format!("`{}`", b.fail_if))
        .collect();
    let verdict = match (ch.significant, breached.is_empty()) {
        (true, false) => format!("REGRESSION {}", breached.join(" ")),
        (true, true) => "significant".into(),
        (false, _) => "-".into(),
    };
    Line {
        row: r.label.clone(),
        first: false,
        metric: ch.measure.to_string(),
        baseline: value(ch.baseline),
        current: value(ch.current),
        change,
        evidence,
        verdict,
    }
}

fn signed_percent(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

fn signed_ms(x: f64) -> String {
    if x.is_infinite() {
        if x > 0.0 {
            "+inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{}{}", if x < 0.0 { "-" } else { "+" }, format_ms(x.abs()))
    }
}

fn short_p(p: f64) -> String {
    if p >= 0.1 {
        format!("{p:.2}")
    } else if p >= 0.001 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// The paragraph that says what was compared and at which error rate.
fn method_note(c: &Comparison) -> String {
    format!(
        "{} tests, each at alpha = {} (family-wise error rate {}, Bonferroni). Percentiles: order-statistic intervals of the difference (each run's quantile at alpha/2; Locust's CSV columns widened by its rounding); failure ratios: Fisher's exact test; averages: Welch's z-test. A change fails the comparison only when it is significant and crosses a --fail-if threshold.",
        c.tests,
        short_p(c.test_alpha()),
        format_percent(c.family_alpha * 100.0),
    )
}

/// The outcome in one line.
fn outcome(c: &Comparison) -> String {
    let significant = c.significant().count();
    match (c.breaches.len(), significant) {
        (0, 0) => "no significant change".to_owned(),
        (0, 1) => "1 significant change, no threshold crossed".to_owned(),
        (0, n) => format!("{n} significant changes, no threshold crossed"),
        (1, _) => "FAILED: a threshold crossed by a significant change".to_owned(),
        (n, _) => format!("FAILED: {n} thresholds crossed by significant changes"),
    }
}

/// The console table.
pub(crate) fn text(c: &Comparison) -> String {
    let lines = cells(c);
    let mut widths = HEADINGS.map(str::len);
    for l in &lines {
        for (w, cell) in widths.iter_mut().zip(fields(l, true)) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("Baseline {} against current {}\n\n", c.baseline, c.current);
    let mut push = |cells: [&str; 7]| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            if (2..5).contains(&i) {
                let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
            } else {
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push(HEADINGS);
    for l in &lines {
        push(fields(l, true));
    }
    let _ = write!(out, "\n{}\n", method_note(c));
    for b in &c.breaches {
        let _ = writeln!(out, "- {}", b.describe());
    }
    let _ = writeln!(out, "compare: {}", outcome(c));
    out
}

/// A line's cells; `grouped` leaves the row's label out after its first line.
fn fields(l: &Line, grouped: bool) -> [&str; 7] {
    let row = if grouped && !l.first {
        ""
    } else {
        l.row.as_str()
    };
    [
        row,
        &l.metric,
        &l.baseline,
        &l.current,
        &l.change,
        &l.evidence,
        &l.verdict,
    ]
}

/// Escapes text for a Markdown table cell.
fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// Markdown for a pull-request comment: the outcome first, then the table of rows with
/// a significant change (the full table folded below).
pub(crate) fn markdown(c: &Comparison) -> String {
    let mut out = format!(
        "### loadgen compare: {}\n\nBaseline `{}`, current `{}`.\n\n",
        outcome(c),
        md_cell(&c.baseline),
        md_cell(&c.current)
    );
    for b in &c.breaches {
        let _ = writeln!(out, "- **{}**", md_cell(&b.describe()));
    }
    let table = |lines: &[&Line], grouped: bool| {
        let mut t = format!(
            "| {} |\n|---|---|---:|---:|---:|---:|---|\n",
            HEADINGS.join(" | ")
        );
        for l in lines {
            let cells: Vec<String> = fields(l, grouped).iter().map(|f| md_cell(f)).collect();
            let _ = writeln!(t, "| {} |", cells.join(" | "));
        }
        t
    };
    let lines = cells(c);
    let significant: Vec<&Line> = lines
        .iter()
        .filter(|l| l.verdict == "significant" || l.verdict.starts_with("REGRESSION"))
        .collect();
    if !significant.is_empty() {
        let _ = write!(out, "\n{}", table(&significant, false));
    }
    let all: Vec<&Line> = lines.iter().collect();
    let _ = write!(
        out,
        "\n<details><summary>Every row and metric</summary>\n\n{}\n</details>\n\n{}\n",
        table(&all, true),
        method_note(c)
    );
    out
}

/// JUnit XML: one test case per row and threshold, failed when breached.
pub(crate) fn junit(c: &Comparison) -> String {
    let cases: Vec<(String, String, Option<String>)> = c
        .rows
        .iter()
        .filter(|r| !r.changes.is_empty())
        .flat_map(|r| {
            c.thresholds.iter().map(move |t| {
                let breach = c
                    .breaches
                    .iter()
                    .find(|b| b.row == r.label && b.fail_if == *t)
                    .map(|b| b.describe());
                (r.label.clone(), t.to_string(), breach)
            })
        })
        .collect();
    let failures = cases.iter().filter(|c| c.2.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"loadgen compare\" tests=\"{}\" failures=\"{failures}\" errors=\"0\">\n  <testsuite name=\"loadgen compare: {} against {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        cases.len(),
        escape(&c.current),
        escape(&c.baseline),
        cases.len()
    );
    for (row, threshold, breach) in &cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(row),
            escape(threshold)
        );
        match breach {
            None => out.push_str("/>\n"),
            Some(b) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure type=\"regression\" message=\"{}\"/>\n    </testcase>",
                    escape(b)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>\n  </testsuite>\n</testsuites>",
        escape(&text(c))
    );
    out
}

/// A self-contained HTML page with the whole table, significant lines highlighted.
pub(crate) fn html(c: &Comparison) -> String {
    let mut rows = String::new();
    for l in cells(c) {
        let class = if l.verdict.starts_with("REGRESSION") {
            " class=\"bad\""
        } else if l.verdict == "significant" {
            " class=\"sig\""
        } else {
            ""
        };
        let _ = write!(rows, "<tr{class}>");
        for f in fields(&l, true) {
            let _ = write!(rows, "<td>{}</td>", escape(f));
        }
        rows.push_str("</tr>\n");
    }
    let head: String = HEADINGS.iter().map(|h| format!("<th>{h}</th>")).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>loadgen compare</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}tr.sig{{background:#fff4d6}}tr.bad{{background:#ffd6d6}}</style></head>\n<body><h1>loadgen compare: {}</h1>\n<p>Baseline {}, current {}.</p>\n<table><tr>{head}</tr>\n{rows}</table>\n<p>{}</p></body></html>\n",
        escape(&outcome(c)),
        escape(&c.baseline),
        escape(&c.current),
        escape(&method_note(c))
    )
}
