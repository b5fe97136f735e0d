//! The run's reports for people and CI systems, all built from the same final
//! [`Snapshot`] as the console: the self-contained HTML report (`--html`), JUnit XML with
//! one test case per criterion (`--junit`) and a Markdown summary for a CI job page
//! (`--summary-md`).
//!
//! Each report is a pure function of [`Inputs`]; [`write_report`] writes any of them,
//! [`write_reports`] the ones a run asked for.

mod charts;
mod html;
mod junit;
mod markdown;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::engine::sink::OutputConfig;
use crate::plan::load::StageMark;
#[cfg(doc)]
use crate::sinks::json::JsonReport;
use crate::sinks::json::RunSettings;
use crate::stats::{ErrorStats, RequestStats, Snapshot, PERCENTILES_TO_REPORT};
use crate::verdict::analysis::Analysis;
use crate::verdict::baseline::{BaselineReport, Baselines};
use crate::verdict::criteria::{CriteriaSet, Verdict};
use crate::verdict::judge::Judgement;

pub(crate) use charts::{response_time_chart, rps_chart, stage_boundaries, users_chart};
pub(crate) use html::html;
pub(crate) use junit::junit;
pub(crate) use markdown::markdown;

/// Everything a report shows; every figure comes from `snapshot` (the verdict, bands and
/// analysis were computed from it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    /// The run's final statistics.
    pub snapshot: &'a Snapshot,
    /// The run's settings.
    pub settings: &'a RunSettings,
    /// The criteria's results.
    pub verdict: &'a Verdict,
    /// Every row's bands.
    pub baselines: &'a BaselineReport,
    /// The guide-style sentences.
    pub analysis: &'a Analysis,
    /// Where each stage started (the run's marks, or the JSON report's `plan.stages`);
    /// empty when the plan had none.
    pub stages: &'a [StageMark],
    /// The share of a row's p99 its client overhead's p99 may reach unwarned.
    pub overhead_share: f64,
}

/// Writes the reports `outputs` asks for (`--html`, `--junit`, `--summary-md`) from a
/// run's judgement, their time charts marking `stages`; returns what could not be
/// written.
pub(crate) fn write_reports(
    judgement: &Judgement,
    snapshot: &Snapshot,
    settings: &RunSettings,
    stages: &[StageMark],
    outputs: &OutputConfig,
) -> Vec<String> {
    let inputs = Inputs {
        snapshot,
        settings,
        verdict: &judgement.verdict,
        baselines: &judgement.bands,
        analysis: &judgement.analysis,
        stages,
        overhead_share: outputs
            .overhead_warn_share
            .unwrap_or(crate::sinks::overhead::DEFAULT_OVERHEAD_SHARE),
    };
    reports(outputs)
        .into_iter()
        .filter_map(|(what, path, render)| {
            let path = path.as_ref()?;
            write_report(what, path, &render(&inputs))
                .err()
                .map(|e| e.to_string())
        })
        .collect()
}

/// Renders one report.
pub(crate) type Render = fn(&Inputs<'_>) -> String;

/// Every report with the path `outputs` gives it: what it is called in messages, where
/// it goes, and how it is rendered. A new report is a module and a row here (and its
/// flag and `OutputConfig` field); the run checks and writes every row.
pub(crate) fn reports(outputs: &OutputConfig) -> [(&'static str, &Option<PathBuf>, Render); 3] {
    [
        ("HTML report", &outputs.html, html),
        ("JUnit report", &outputs.junit, junit),
        ("Markdown summary", &outputs.summary_md, markdown),
    ]
}

/// The HTML report for a caller that holds only a snapshot, a scenario name and the
/// stage marks (the run's, or [`JsonReport::stages`] of its JSON report): judged without
/// criteria against the guide's baselines. A run writes its report through
/// `write_reports` with the scenario's own.
pub fn snapshot_html(snapshot: &Snapshot, scenario: &str, stages: &[StageMark]) -> String {
    let settings = RunSettings::from_snapshot(snapshot, scenario);
    let judgement = Judgement::new(
        snapshot,
        &CriteriaSet::default(),
        &Baselines::default(),
        None,
    );
    html(&Inputs {
        snapshot,
        settings: &settings,
        verdict: &judgement.verdict,
        baselines: &judgement.bands,
        analysis: &judgement.analysis,
        stages,
        overhead_share: crate::sinks::overhead::DEFAULT_OVERHEAD_SHARE,
    })
}

/// A report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} {}: {source}", path.display())]
pub struct ReportError {
    /// Which report (`HTML report`).
    pub what: &'static str,
    /// Its path.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Writes a report atomically (temporary file, then rename).
pub(crate) fn write_report(what: &'static str, path: &Path, text: &str) -> Result<(), ReportError> {
    crate::sinks::atomic_file::replace_file(path, text.as_bytes()).map_err(|source| ReportError {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Text escaped for XML content and double-quoted attribute values (the JUnit report;
/// the HTML page escapes through its template).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // maud's escaper covers `&`, `<`, `>` and `"`, all that XML needs here.
    let _ = std::fmt::Write::write_str(&mut maud::Escaper::new(&mut out), text);
    out
}

/// The errors, most frequent first (ties in the order first seen): the order a reader
/// works through them.
pub(crate) fn errors_by_count(snapshot: &Snapshot) -> Vec<&ErrorStats> {
    let mut errors: Vec<&ErrorStats> = snapshot.errors.iter().collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.occurrences));
    errors
}

/// A row's reported percentiles (ms), with 50% and 100% taken from the same figures as
/// the request table's median and maximum, so that one report never shows two values
/// for either; `None` without requests.
pub(crate) fn report_percentiles(row: &RequestStats) -> Option<Vec<f64>> {
    let mut values = row.percentiles_ms(&PERCENTILES_TO_REPORT)?;
    for (p, v) in PERCENTILES_TO_REPORT.iter().zip(values.iter_mut()) {
        if *p == 0.5 {
            *v = row.median_response_time_ms();
        } else if *p == 1.0 {
            *v = row.max_response_time_ms();
        }
    }
    Some(values)
}

/// A response time in a report's tables: two decimals, as Locust's report rounds them.
pub(crate) fn table_ms(ms: f64) -> String {
    format!("{ms:.2}")
}

/// A time as ISO 8601 in UTC, to the second.
pub(crate) fn iso_time(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The run's length from its start to the snapshot, in whole seconds.
pub(crate) fn elapsed_seconds(snapshot: &Snapshot) -> f64 {
    snapshot
        .taken_at
        .duration_since(snapshot.start)
        .map_or(0.0, |d| d.as_secs_f64())
}
