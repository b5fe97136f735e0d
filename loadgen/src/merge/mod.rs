//! `loadgen merge`: the JSON reports of runs made in parallel (shards of one test, on one
//! or many machines) merged into one run's statistics.
//!
//! Rows are matched by (method, name) and added exactly: counts, failures, sums and
//! content lengths summed, minimum and maximum kept, and the HdrHistograms added
//! (`Histogram::add`), so every percentile of the merge is the one a single run over
//! the same requests would report. Errors are summed per (method, name, error). The
//! per-second history is aligned on wall time (`history`).

mod history;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::sinks::json::{JsonError, JsonReport, JsonRow, RunSettings, FORMAT};
use crate::stats::{
    sort_errors, ErrorStats, RequestKey, RequestStats, RowTotals, Snapshot, AGGREGATED_NAME,
};

/// A report could not be read or does not fit the others.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Fewer than one report.
    #[error("loadgen merge needs at least one JSON report")]
    NoReports,
    /// A file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The report's path.
        path: PathBuf,
        /// The I/O error (in the message, so not repeated as a source).
        error: std::io::Error,
    },
    /// A file is not a JSON report, or a histogram in it cannot be read.
    #[error("{}: {error}", path.display())]
    Report {
        /// The report's path.
        path: PathBuf,
        /// What is wrong.
        error: JsonError,
    },
    /// A report of another layout or histogram precision.
    #[error("{}: {what} is {found:?}, expected {expected:?}", path.display())]
    Incompatible {
        /// The report's path.
        path: PathBuf,
        /// The field.
        what: &'static str,
        /// Its value there.
        found: String,
        /// The value merging needs.
        expected: String,
    },
}

/// Reads the reports at `paths` and merges them; returns the merged statistics and
/// settings, and warnings about reports that do not look like shards of one test.
pub fn merge_files(paths: &[PathBuf]) -> Result<Merged, MergeError> {
    let mut reports = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|error| MergeError::Read {
            path: path.clone(),
            error,
        })?;
        let report = JsonReport::from_text(&text).map_err(|error| MergeError::Report {
            path: path.clone(),
            error,
        })?;
        reports.push((path.clone(), report));
    }
    merge_reports(&reports)
}

/// The merge of several runs.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The statistics, as one run's snapshot.
    pub snapshot: Snapshot,
    /// The first report's settings, with the users and rates summed and the longest run
    /// time.
    pub settings: RunSettings,
    /// Reports that differ in scenario or classes, said in words.
    pub warnings: Vec<String>,
}

/// Merges reports already read (each with the path it came from, for messages).
pub fn merge_reports(reports: &[(PathBuf, JsonReport)]) -> Result<Merged, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::NoReports);
    }
    for (path, report) in reports {
        check_compatible(path, report)?;
    }
    let mut rows: BTreeMap<RequestKey, RequestStats> = BTreeMap::new();
    let mut aggregated = RequestStats::new("", AGGREGATED_NAME);
    for (path, report) in reports {
        for row in &report.stats {
            let stats = rebuild(path, row)?;
            let key = RequestKey::new(row.method.clone(), row.name.clone());
            match rows.get_mut(&key) {
                Some(r) => r.merge(&stats),
                None => {
                    rows.insert(key, stats);
                }
            }
        }
        aggregated.merge(&rebuild(path, &report.aggregated)?);
    }
    let start = reports
        .iter()
        .map(|(_, r)| from_unix(r.start_time))
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let taken_at = reports
        .iter()
        .map(|(_, r)| from_unix(r.taken_at))
        .max()
        .unwrap_or(start);
    let last = aggregated.last_request();
    let mut rows: Vec<RequestStats> = rows.into_values().collect();
    for r in rows.iter_mut().chain(std::iter::once(&mut aggregated)) {
        r.set_run_context(start, last);
    }
    let mut snapshot = Snapshot::empty(start);
    snapshot.taken_at = taken_at;
    snapshot.user_count = reports.iter().map(|(_, r)| r.user_count).sum();
    snapshot.rows = rows;
    snapshot.aggregated = aggregated;
    snapshot.errors = merge_errors(reports);
    snapshot.history = history::align(reports.iter().map(|(_, r)| r.history.as_slice()));
    Ok(Merged {
        snapshot,
        settings: merged_settings(reports),
        warnings: warnings(reports),
    })
}

/// Where the merge is written; every file is written whole or not at all.
#[derive(Debug, Clone, Default)]
pub struct MergeOutputs {
    /// Locust's four CSV files with this prefix.
    pub csv_prefix: Option<PathBuf>,
    /// The HTML report.
    pub html: Option<PathBuf>,
    /// The merged JSON report (histograms included, so merges can be merged again).
    pub json: Option<PathBuf>,
}

/// Writes the merge where `outputs` says; returns what could not be written.
pub fn write_outputs(merged: &Merged, outputs: &MergeOutputs) -> Vec<String> {
    let mut errors = Vec::new();
    let snapshot = &merged.snapshot;
    if let Some(prefix) = &outputs.csv_prefix {
        let full_history = snapshot.history.iter().any(|r| !r.method.is_empty());
        let written = crate::sinks::csv::CsvWriter::new(&prefix.to_string_lossy(), full_history)
            .and_then(|mut w| w.finish(snapshot));
        if let Err(e) = written {
            errors.push(e.to_string());
        }
    }
    if let Some(path) = &outputs.html {
        let html = crate::sinks::report::snapshot_html(snapshot, &merged.settings.scenario, &[]);
        if let Err(e) = crate::sinks::atomic_file::replace_file(path, html.as_bytes()) {
            errors.push(format!("cannot write HTML report {}: {e}", path.display()));
        }
    }
    if let Some(path) = &outputs.json {
        if let Err(e) = JsonReport::new(snapshot, &merged.settings).write(path) {
            errors.push(e.to_string());
        }
    }
    errors
}

fn check_compatible(path: &Path, report: &JsonReport) -> Result<(), MergeError> {
    let incompatible = |what, found: String, expected: String| MergeError::Incompatible {
        path: path.to_path_buf(),
        what,
        found,
        expected,
    };
    if report.format != FORMAT {
        return Err(incompatible("format", report.format.clone(), FORMAT.into()));
    }
    if report.histogram_unit != "microseconds" {
        return Err(incompatible(
            "histogram_unit",
            report.histogram_unit.clone(),
            "microseconds".into(),
        ));
    }
    if report.histogram_significant_digits != 3 {
        return Err(incompatible(
            "histogram_significant_digits",
            report.histogram_significant_digits.to_string(),
            "3".into(),
        ));
    }
    Ok(())
}

/// A report's row as statistics: exact totals and the histogram read back.
fn rebuild(path: &Path, row: &JsonRow) -> Result<RequestStats, MergeError> {
    // A histogram read back has fixed bounds; copied into a growing one, adding a
    // shard with slower requests later cannot clamp them.
    let mut histogram = crate::stats::new_histogram();
    if row.num_requests > 0 {
        let read = row.histogram().map_err(|error| MergeError::Report {
            path: path.to_path_buf(),
            error,
        })?;
        crate::stats::add_histogram(&mut histogram, &read);
    }
    let us = |ms: f64| (ms * 1000.0).round().max(0.0) as u64;
    let n = row.num_requests;
    let totals = RowTotals {
        num_requests: n,
        num_failures: row.num_failures,
        // The report keeps the exact mean; times the count it gives the exact sum back.
        total_response_time_us: (row.avg_response_time * n as f64 * 1000.0).round() as u64,
        min_response_time_us: (n > 0).then(|| us(row.min_response_time)),
        max_response_time_us: us(row.max_response_time),
        total_content_length: row.total_content_length,
        first_request: row.first_request.map(from_unix),
        last_request: row.last_request.map(from_unix),
    };
    let mut stats =
        RequestStats::from_totals(row.method.clone(), row.name.clone(), &totals, histogram);
    // The client overhead merges as the response times do, when the report has it.
    if let Some(text) = row
        .client_overhead
        .as_ref()
        .and_then(|o| o.histogram.as_deref())
    {
        let read = crate::sinks::json::histogram_from_base64(text).map_err(|error| {
            MergeError::Report {
                path: path.to_path_buf(),
                error,
            }
        })?;
        let mut overhead = crate::stats::new_histogram();
        crate::stats::add_histogram(&mut overhead, &read);
        stats.set_overhead(overhead);
    }
    Ok(stats)
}

/// Errors summed per (method, name, error), in order of first sight.
fn merge_errors(reports: &[(PathBuf, JsonReport)]) -> Vec<ErrorStats> {
    let mut merged: BTreeMap<(String, String, String), ErrorStats> = BTreeMap::new();
    for (_, report) in reports {
        for e in &report.errors {
            let key = (e.method.clone(), e.name.clone(), e.error.clone());
            let (first, last) = (from_unix(e.first_seen), from_unix(e.last_seen));
            let entry = merged.entry(key).or_insert_with(|| ErrorStats {
                method: e.method.clone(),
                name: e.name.clone(),
                error: e.error.clone(),
                occurrences: 0,
                first_seen: first,
                last_seen: last,
            });
            entry.occurrences += e.occurrences;
            entry.first_seen = entry.first_seen.min(first);
            entry.last_seen = entry.last_seen.max(last);
        }
    }
    let mut errors: Vec<ErrorStats> = merged.into_values().collect();
    sort_errors(&mut errors);
    errors
}

fn merged_settings(reports: &[(PathBuf, JsonReport)]) -> RunSettings {
    let mut settings = reports[0].1.settings.clone();
    let mut classes: Vec<String> = Vec::new();
    for (_, r) in reports {
        for c in &r.settings.classes {
            if !classes.contains(c) {
                classes.push(c.clone());
            }
        }
    }
    settings.classes = classes;
    settings.users = reports.iter().map(|(_, r)| r.settings.users).sum();
    settings.rate = reports.iter().map(|(_, r)| r.settings.rate).sum();
    settings.duration = reports
        .iter()
        .filter_map(|(_, r)| r.settings.duration)
        .reduce(f64::max);
    settings
}

fn warnings(reports: &[(PathBuf, JsonReport)]) -> Vec<String> {
    let (first_path, first) = &reports[0];
    reports[1..]
        .iter()
        .filter(|(_, r)| r.settings.scenario != first.settings.scenario)
        .map(|(path, r)| {
            format!(
                "{} ran scenario {:?}, {} ran {:?}: merging them as one test",
                path.display(),
                r.settings.scenario,
                first_path.display(),
                first.settings.scenario
            )
        })
        .collect()
}

/// Unix seconds as a time (the epoch for negative or non-finite values).
fn from_unix(seconds: f64) -> SystemTime {
    if seconds.is_finite() && seconds > 0.0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs_f64(seconds)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

#[cfg(test)]
mod tests;
