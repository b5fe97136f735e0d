//! The Markdown summary for a CI job page (`--summary-md`): verdict, criteria,
//! baselines with bands, the analysis, and the request, percentile and failure tables.

use std::fmt::Write as _;

use super::{elapsed_seconds, errors_by_count, report_percentiles, table_ms, Inputs};
use crate::stats::PERCENTILE_LABELS;
use crate::verdict::baseline::{format_percent, Metric};
use crate::verdict::criteria::Outcome;

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

/// The Markdown document.
pub(crate) fn markdown(i: &Inputs<'_>) -> String {
    let s = i.snapshot;
    let v = i.verdict;
    let mut out = String::new();
    let word = match v.outcome() {
        Outcome::NoCriteria => "no criteria",
        other => other.word(),
    };
    let _ = writeln!(out, "# loadgen: {} - {word}\n", cell(&i.settings.scenario));
    let _ = writeln!(
        out,
        "{} requests, {} failures ({}) in {:.0} s with {} users, seed {}.\n",
        s.aggregated.num_requests(),
        s.aggregated.num_failures(),
        format_percent(s.aggregated.fail_ratio() * 100.0),
        elapsed_seconds(s),
        i.settings.users,
        i.settings.seed
    );
    if let Some(abort) = &v.aborted {
        let _ = writeln!(out, "- {}", abort.describe());
    }
    for b in v.breaches() {
        let _ = writeln!(out, "- {}", b.breach());
    }

    if !v.results.is_empty() {
        out.push_str(
            "\n## Criteria\n\n| Row | Criterion | Measured | Result |\n|---|---|---:|---|\n",
        );
        for r in &v.results {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                cell(&r.row),
                r.criterion,
                r.measured(),
                if r.passed { "pass" } else { "**fail**" }
            );
        }
    }

    out.push_str("\n## Baselines\n\n| Name |");
    for m in Metric::ALL {
        let _ = write!(out, " {} |", m.short());
    }
    out.push_str("\n|---|");
    for _ in Metric::ALL {
        out.push_str("---:|");
    }
    out.push('\n');
    for row in &i.baselines.rows {
        let _ = write!(out, "| {} |", cell(&row.label()));
        for c in &row.cells {
            match (c.value, c.band) {
                (Some(v), Some(b)) => {
                    let _ = write!(out, " {} {b} |", c.metric.format(v));
                }
                (Some(v), None) => {
                    let _ = write!(out, " {} |", c.metric.format(v));
                }
                (None, _) => out.push_str(" n/a |"),
            }
        }
        out.push('\n');
    }

    let stages = super::stage_boundaries(i.stages);
    if !stages.is_empty() {
        out.push_str("\n## Stages\n\n| Start (s) | Stage |\n|---:|---|\n");
        for (at, label) in &stages {
            let _ = writeln!(
                out,
                "| {} | {} |",
                super::html::format_seconds(*at),
                cell(label)
            );
        }
    }

    out.push_str("\n## Analysis\n\n");
    out.push_str(&i.analysis.to_text(false));

    out.push_str("\n## Request statistics\n\n| Type | Name | # reqs | # fails | Avg (ms) | Min (ms) | Max (ms) | Med (ms) | req/s | failures/s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in s.rows.iter().chain(std::iter::once(&s.aggregated)) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            cell(&r.method),
            cell(&r.name),
            r.num_requests(),
            r.num_failures(),
            table_ms(r.avg_response_time_ms()),
            table_ms(r.min_response_time_ms()),
            table_ms(r.max_response_time_ms()),
            table_ms(r.median_response_time_ms()),
            r.total_rps(),
            r.total_fail_per_sec()
        );
    }

    out.push_str("\n## Response time percentiles (ms)\n\n| Type | Name |");
    for l in PERCENTILE_LABELS {
        let _ = write!(out, " {l} |");
    }
    out.push_str("\n|---|---|");
    for _ in PERCENTILE_LABELS {
        out.push_str("---:|");
    }
    out.push('\n');
    for r in s.rows.iter().chain(std::iter::once(&s.aggregated)) {
        let _ = write!(out, "| {} | {} |", cell(&r.method), cell(&r.name));
        match report_percentiles(r) {
            Some(values) => {
                for v in values {
                    let _ = write!(out, " {} |", table_ms(v));
                }
            }
            None => {
                for _ in PERCENTILE_LABELS {
                    out.push_str(" N/A |");
                }
            }
        }
        out.push('\n');
    }

    if !s.errors.is_empty() {
        out.push_str(
            "\n## Failures (most frequent first)\n\n| # occurrences | Method | Name | Error |\n|---:|---|---|---|\n",
        );
        for e in errors_by_count(s) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                e.occurrences,
                cell(&e.method),
                cell(&e.name),
                cell(&e.error)
            );
        }
    }
    out
}
