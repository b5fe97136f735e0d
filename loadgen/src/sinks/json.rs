//! The JSON report (`--json FILE`, and the web UI's `report.json`): one typed document,
//! [`JsonReport`], that the run writes, the web UI serves and readers (the harness, a
//! report written after the fact) parse back. It holds everything the tables show, per
//! row and aggregated, with the exact (unrounded) figures, the errors, the per-second
//! history, the run's settings, and each row's HdrHistogram serialised (V2 format,
//! base64) so that runs can be merged exactly later with [`histogram_from_base64`] and
//! `Histogram::add`.
//!
//! A run's report also carries its judgement (the verdict, every row's baseline bands
//! and the analysis) and, under `plan`, what its load plan reported (stage marks,
//! arrival counts, uncorrected rows, breakpoint steps, warnings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::engine::arrival::ArrivalReport;
use crate::plan::load::StageMark;
use crate::plan::scenario::ClassRatio;
use crate::sinks::csv::py_float;
use crate::stats::{
    unix_seconds_f64, ErrorStats, HistoryRow, RequestStats, Snapshot, PERCENTILES_TO_REPORT,
};
use crate::verdict::analysis::Drift;
use crate::verdict::breakpoint::BreakpointReport;
use crate::verdict::criteria::Outcome;
use crate::verdict::judge::Judgement;

/// Identifies the document's layout, for readers.
pub const FORMAT: &str = "loadgen-stats/1";

/// The run's settings, as the report records them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSettings {
    /// Scenario file or built-in scenario name.
    pub scenario: String,
    /// User classes that ran.
    pub classes: Vec<String>,
    /// Peak number of users.
    pub users: u64,
    /// Spawn rate (users per second).
    pub rate: f64,
    /// Run time in seconds, when limited.
    pub duration: Option<f64>,
    /// Seed of every random choice.
    pub seed: u64,
    /// loadgen's version.
    pub version: String,
    /// The target host (`http://127.0.0.1:8000`); empty when not recorded.
    #[serde(default)]
    pub host: String,
    /// Each class's share of the users and its tasks' shares (Locust's task ratio);
    /// empty when not recorded.
    #[serde(default)]
    pub task_ratio: Vec<ClassRatio>,
}

impl RunSettings {
    /// Settings known from a snapshot alone, for a report written after the fact (no
    /// classes, rate, run time or seed recorded).
    pub fn from_snapshot(snapshot: &Snapshot, scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            classes: Vec::new(),
            users: u64::from(snapshot.user_count),
            rate: 0.0,
            duration: None,
            seed: 0,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host: String::new(),
            task_ratio: Vec::new(),
        }
    }
}

/// The report could not be built, written or read.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Writing the file failed.
    #[error("cannot write JSON report {}: {source}", path.display())]
    Write {
        /// The report's path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A histogram could not be serialised.
    #[error("cannot serialise a histogram: {0}")]
    Serialize(String),
    /// A serialised histogram could not be read back.
    #[error("cannot read a serialised histogram: {0}")]
    Deserialize(String),
    /// A document is not a JSON report.
    #[error("{path} in the JSON report: {message}")]
    Read {
        /// Where in the document (`plan.stages[0].at`), `.` for the whole.
        path: String,
        /// What is wrong there.
        message: String,
    },
}

/// The JSON report: a run's figures, settings and history, with its judgement and what
/// its load plan reported when it has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    /// [`FORMAT`].
    pub format: String,
    /// How the run was set up.
    pub settings: RunSettings,
    /// The run's start, unix seconds.
    pub start_time: f64,
    /// When the figures were taken, unix seconds.
    pub taken_at: f64,
    /// Users running then.
    pub user_count: u32,
    /// The histograms' unit (`microseconds`).
    pub histogram_unit: String,
    /// The histograms' significant digits (3).
    pub histogram_significant_digits: u8,
    /// One row per request name, as the tables list them.
    pub stats: Vec<JsonRow>,
    /// The Aggregated row.
    pub aggregated: JsonRow,
    /// The failures table.
    pub errors: Vec<JsonErrorRow>,
    /// One line per row per second, as `_stats_history.csv` has them.
    pub history: Vec<HistoryRow>,
    /// The criteria's verdict, when the run was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<JsonVerdict>,
    /// Every row's baseline bands, when the run was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<JsonBands>,
    /// The analysis, when the run was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<JsonAnalysis>,
    /// What the load plan reported, when it reported anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<JsonPlan>,
}

/// One row: Locust's figures (milliseconds, exact), rates and the histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRow {
    /// Method; empty for Aggregated.
    pub method: String,
    /// Stats name, or `Aggregated`.
    pub name: String,
    /// Requests.
    pub num_requests: u64,
    /// Of which failed.
    pub num_failures: u64,
    /// Failures over requests.
    pub fail_ratio: f64,
    /// Mean response time, ms.
    pub avg_response_time: f64,
    /// Fastest, ms.
    pub min_response_time: f64,
    /// Slowest, ms.
    pub max_response_time: f64,
    /// Median, ms (Locust's rank).
    pub median_response_time: f64,
    /// Locust's reported percentiles, ms, keyed as Python prints them (`0.95`, `1.0`).
    pub response_time_percentiles: BTreeMap<String, f64>,
    /// Mean response size, bytes.
    pub avg_content_length: f64,
    /// All response bytes.
    pub total_content_length: u64,
    /// Requests per second over the run.
    pub total_rps: f64,
    /// Failures per second over the run.
    pub total_fail_per_sec: f64,
    /// Locust's current requests per second.
    pub current_rps: f64,
    /// Locust's current failures per second.
    pub current_fail_per_sec: f64,
    /// First request, unix seconds.
    pub first_request: Option<f64>,
    /// Last request, unix seconds.
    pub last_request: Option<f64>,
    /// The HdrHistogram (microseconds), V2 format, base64.
    pub histogram: Option<String>,
    /// Why the histogram is missing, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram_error: Option<String>,
    /// The client overhead (response time minus the server's Server-Timing time), when
    /// any response carried the server's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_overhead: Option<JsonOverhead>,
}

/// A row's client overhead: what the generator's machine added to the server's time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonOverhead {
    /// Requests whose response carried the server's time.
    pub timed: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
    /// Its HdrHistogram (microseconds), V2 format, base64.
    pub histogram: Option<String>,
}

/// One failures-table entry as Locust's web API and the JSON report write it (times in
/// unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonErrorRow {
    /// Method.
    pub method: String,
    /// Stats name.
    pub name: String,
    /// The error, as the failures table words it.
    pub error: String,
    /// How often it happened.
    pub occurrences: u64,
    /// First seen, unix seconds.
    pub first_seen: f64,
    /// Last seen, unix seconds.
    pub last_seen: f64,
}

/// The criteria's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonVerdict {
    /// `PASSED`, `FAILED`, `ABORTED`, or `NO CRITERIA`.
    pub outcome: String,
    /// Each criterion's result, in the order written.
    pub criteria: Vec<JsonCriterion>,
    /// What stopped the run early, if anything did.
    pub aborted: Option<String>,
    /// Why the run failed without reaching the target, if it did not.
    #[serde(default)]
    pub unreachable: Option<String>,
}

/// One criterion's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonCriterion {
    /// The row it was judged on.
    pub row: String,
    /// The criterion as written (`p(95) <= 5000`).
    pub criterion: String,
    /// The value it was judged on.
    pub value: Option<f64>,
    /// Whether it held.
    pub passed: bool,
    /// Whether it could stop the run.
    pub abort_on_fail: bool,
    /// The breach in words, when it failed.
    pub breach: Option<String>,
}

/// Every row's baseline bands, with the bounds used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonBands {
    /// Per metric: the target, acceptable and poor bounds.
    pub bounds: BTreeMap<String, JsonBounds>,
    /// Per row (Aggregated last): each metric's exact value and band.
    pub rows: Vec<JsonBandRow>,
}

/// One metric's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JsonBounds {
    /// Within this: on target.
    pub target: f64,
    /// Within this: acceptable.
    pub acceptable: f64,
    /// Beyond this: poor.
    pub poor: f64,
    /// Whether larger values are better (throughput).
    pub higher_is_better: bool,
}

/// One row's bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonBandRow {
    /// Method; empty for Aggregated.
    pub method: String,
    /// Stats name, or `Aggregated`.
    pub name: String,
    /// Per metric: its value and band.
    pub metrics: BTreeMap<String, JsonBandCell>,
}

/// One metric of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonBandCell {
    /// The exact value, when the row has one.
    pub value: Option<f64>,
    /// Its band's name, when it has a value.
    pub band: Option<String>,
}

/// The analysis: each row, then Aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonAnalysis {
    /// One entry per row with requests, then Aggregated.
    pub rows: Vec<JsonRowAnalysis>,
    /// Advice given once for the run.
    #[serde(default)]
    pub advice: Vec<String>,
}

/// What the analysis says about one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRowAnalysis {
    /// `GET /api/clients`, or `Aggregated`.
    pub label: String,
    /// Plain sentences.
    pub sentences: Vec<String>,
    /// What a reader should look at, without the label.
    #[serde(default)]
    pub findings: Vec<String>,
    /// The guide's symptoms this row shows.
    pub symptoms: Vec<JsonSymptom>,
    /// The latency drift, when significant and material.
    pub drift: Option<Drift>,
}

/// One of the guide's "Common Issues" a row shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSymptom {
    /// The guide's title.
    pub title: String,
    /// What showed it, with the numbers.
    pub evidence: String,
    /// The guide's possible causes.
    pub causes: Vec<String>,
    /// The guide's first solutions.
    pub solutions: Vec<String>,
}

/// What the load plan reported.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JsonPlan {
    /// Where each stage started.
    #[serde(default)]
    pub stages: Vec<StageMark>,
    /// The arrival-rate scheduler's counts.
    #[serde(default)]
    pub arrival: Option<ArrivalReport>,
    /// The rows measured from the actual send, when the run corrected for coordinated
    /// omission.
    #[serde(default)]
    pub uncorrected: Option<JsonRows>,
    /// The breakpoint search's steps.
    #[serde(default)]
    pub breakpoint: Option<BreakpointReport>,
    /// Warnings about the figures' reliability.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A set of rows without the rest of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRows {
    /// One row per request name.
    pub stats: Vec<JsonRow>,
    /// The Aggregated row.
    pub aggregated: JsonRow,
}

impl JsonReport {
    /// The report of `snapshot`, without judgement or plan.
    pub fn new(snapshot: &Snapshot, settings: &RunSettings) -> Self {
        let JsonRows { stats, aggregated } = JsonRows::new(snapshot);
        Self {
            format: FORMAT.to_owned(),
            settings: settings.clone(),
            start_time: unix_seconds_f64(snapshot.start),
            taken_at: unix_seconds_f64(snapshot.taken_at),
            user_count: snapshot.user_count,
            histogram_unit: "microseconds".to_owned(),
            histogram_significant_digits: 3,
            stats,
            aggregated,
            errors: snapshot.errors.iter().map(JsonErrorRow::new).collect(),
            history: snapshot.history.iter().cloned().collect(),
            verdict: None,
            bands: None,
            analysis: None,
            plan: None,
        }
    }

    /// The report with the run's judgement.
    pub fn with_judgement(mut self, judgement: &Judgement) -> Self {
        self.verdict = Some(JsonVerdict::new(judgement));
        self.bands = Some(JsonBands::new(judgement));
        self.analysis = Some(JsonAnalysis::new(judgement));
        self
    }

    /// The report with what the load plan reported.
    pub fn with_plan(mut self, plan: JsonPlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// The report as pretty-printed JSON, ending in a newline.
    pub fn to_text(&self) -> String {
        // Plain data with string keys: serialising it cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the report to `path` atomically (temporary file, then rename).
    pub fn write(&self, path: &Path) -> Result<(), JsonError> {
        crate::sinks::atomic_file::replace_file(path, self.to_text().as_bytes()).map_err(|source| {
            JsonError::Write {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// Reads a report back; the error names where in the document it went wrong.
    pub fn from_text(text: &str) -> Result<Self, JsonError> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| JsonError::Read {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }

    /// Where each stage started, as the report's plan recorded it (none without a plan).
    pub fn stages(&self) -> &[StageMark] {
        self.plan.as_ref().map_or(&[], |p| p.stages.as_slice())
    }
}

impl JsonRows {
    /// The rows of `snapshot`.
    pub fn new(snapshot: &Snapshot) -> Self {
        let now = snapshot.taken_at;
        Self {
            stats: snapshot.rows.iter().map(|r| JsonRow::new(r, now)).collect(),
            aggregated: JsonRow::new(&snapshot.aggregated, now),
        }
    }
}

impl JsonRow {
    /// One row's figures at `now`.
    pub fn new(r: &RequestStats, now: SystemTime) -> Self {
        let response_time_percentiles = r
            .percentiles_ms(&PERCENTILES_TO_REPORT)
            .map(|values| {
                PERCENTILES_TO_REPORT
                    .iter()
                    .zip(values)
                    .map(|(p, v)| (py_float(*p), v))
                    .collect()
            })
            .unwrap_or_default();
        // Serialising into memory cannot fail for u64 counts; should it ever, the row keeps
        // its figures and says why its histogram is missing.
        let (histogram, histogram_error) = match histogram_to_base64(r.histogram()) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Self {
            method: r.method.clone(),
            name: r.name.clone(),
            num_requests: r.num_requests(),
            num_failures: r.num_failures(),
            fail_ratio: r.fail_ratio(),
            avg_response_time: r.avg_response_time_ms(),
            min_response_time: r.min_response_time_ms(),
            max_response_time: r.max_response_time_ms(),
            median_response_time: r.median_response_time_ms(),
            response_time_percentiles,
            avg_content_length: r.avg_content_length(),
            total_content_length: r.total_content_length(),
            total_rps: r.total_rps(),
            total_fail_per_sec: r.total_fail_per_sec(),
            current_rps: r.current_rps(now),
            current_fail_per_sec: r.current_fail_per_sec(now),
            first_request: r.first_request().map(unix_seconds_f64),
            last_request: r.last_request().map(unix_seconds_f64),
            histogram,
            histogram_error,
            client_overhead: crate::sinks::overhead::Overhead::of(r).map(|o| JsonOverhead {
                timed: o.timed,
                p50_ms: o.p50_ms,
                p99_ms: o.p99_ms,
                max_ms: o.max_ms,
                histogram: histogram_to_base64(r.overhead()).ok(),
            }),
        }
    }

    /// The row's histogram, read back.
    pub fn histogram(&self) -> Result<Histogram<u64>, JsonError> {
        histogram_from_base64(self.histogram.as_deref().unwrap_or_default())
    }
}

impl JsonErrorRow {
    /// One failures-table entry.
    pub fn new(e: &ErrorStats) -> Self {
        Self {
            method: e.method.clone(),
            name: e.name.clone(),
            error: e.error.clone(),
            occurrences: e.occurrences,
            first_seen: unix_seconds_f64(e.first_seen),
            last_seen: unix_seconds_f64(e.last_seen),
        }
    }
}

impl JsonVerdict {
    fn new(judgement: &Judgement) -> Self {
        let verdict = &judgement.verdict;
        let outcome = match verdict.outcome() {
            Outcome::NoCriteria => "NO CRITERIA",
            other => other.word(),
        };
        Self {
            outcome: outcome.to_owned(),
            criteria: verdict
                .results
                .iter()
                .map(|r| JsonCriterion {
                    row: r.row.clone(),
                    criterion: r.criterion.to_string(),
                    value: r.value,
                    passed: r.passed,
                    abort_on_fail: r.abort_on_fail,
                    breach: (!r.passed).then(|| r.breach()),
                })
                .collect(),
            aborted: verdict.aborted.as_ref().map(|a| a.describe()),
            unreachable: verdict.unreachable.clone(),
        }
    }
}

impl JsonBands {
    fn new(judgement: &Judgement) -> Self {
        let bands = &judgement.bands;
        let bounds = crate::verdict::baseline::Metric::ALL
            .into_iter()
            .map(|m| {
                let b = bands.baselines.bounds(m);
                let bounds = JsonBounds {
                    target: b.target,
                    acceptable: b.acceptable,
                    poor: b.poor,
                    higher_is_better: m.higher_is_better(),
                };
                (m.field().to_owned(), bounds)
            })
            .collect();
        let rows = bands
            .rows
            .iter()
            .map(|row| JsonBandRow {
                method: row.method.clone(),
                name: row.name.clone(),
                metrics: row
                    .cells
                    .iter()
                    .map(|c| {
                        let cell = JsonBandCell {
                            value: c.value,
                            band: c.band.map(|b| b.name().to_owned()),
                        };
                        (c.metric.field().to_owned(), cell)
                    })
                    .collect(),
            })
            .collect();
        Self { bounds, rows }
    }
}

impl JsonAnalysis {
    fn new(judgement: &Judgement) -> Self {
        let rows = judgement
            .analysis
            .rows
            .iter()
            .map(|r| JsonRowAnalysis {
                label: r.label.clone(),
                sentences: r.sentences.clone(),
                findings: r.findings.clone(),
                symptoms: r
                    .symptoms
                    .iter()
                    .map(|s| JsonSymptom {
                        title: s.title.to_owned(),
                        evidence: s.evidence.clone(),
                        causes: s.causes.iter().map(|&c| c.to_owned()).collect(),
                        solutions: s.solutions.iter().map(|&c| c.to_owned()).collect(),
                    })
                    .collect(),
                drift: r.drift.clone(),
            })
            .collect();
        Self {
            rows,
            advice: judgement.analysis.advice.clone(),
        }
    }
}

/// A histogram in HdrHistogram's V2 serial format (uncompressed), base64-encoded.
pub fn histogram_to_base64(histogram: &Histogram<u64>) -> Result<String, JsonError> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|e| JsonError::Serialize(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Reads back a histogram written by [`histogram_to_base64`]; it grows as needed when
/// other histograms are added to it.
pub fn histogram_from_base64(text: &str) -> Result<Histogram<u64>, JsonError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| JsonError::Deserialize(format!("not base64: {e}")))?;
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| JsonError::Deserialize(format!("not a V2 histogram: {e:?}")))?;
    histogram.auto(true);
    Ok(histogram)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference_fixture::reference_snapshot;
    use serde_json::{json, Value};

    /// The report as the JSON a reader sees.
    fn to_json(snapshot: &Snapshot, settings: &RunSettings) -> Value {
        serde_json::to_value(JsonReport::new(snapshot, settings)).unwrap()
    }

    fn settings() -> RunSettings {
        RunSettings {
            scenario: "acis".into(),
            classes: vec!["ACISAPIUser".into(), "ACISStressTestUser".into()],
            users: 40,
            rate: 10.0,
            duration: Some(15.0),
            seed: 7,
            version: "0.1.0".into(),
            host: "http://127.0.0.1:8000".into(),
            task_ratio: Vec::new(),
        }
    }

    #[test]
    fn histograms_round_trip_with_equal_counts_and_percentiles() {
        let snapshot = reference_snapshot();
        let doc = to_json(&snapshot, &settings());
        let rows = doc["stats"].as_array().unwrap();
        assert_eq!(rows.len(), snapshot.rows.len());
        for (json_row, row) in rows
            .iter()
            .chain([&doc["aggregated"]])
            .zip(snapshot.rows.iter().chain([&snapshot.aggregated]))
        {
            let back = histogram_from_base64(json_row["histogram"].as_str().unwrap()).unwrap();
            let original = row.histogram();
            assert_eq!(back.len(), original.len(), "{}", row.name);
            assert_eq!(back.min(), original.min());
            assert_eq!(back.max(), original.max());
            for q in PERCENTILES_TO_REPORT {
                assert_eq!(
                    back.value_at_quantile(q),
                    original.value_at_quantile(q),
                    "{} {q}",
                    row.name
                );
            }
            assert!(back
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .eq(original
                    .iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))));
        }
    }

    #[test]
    fn merged_histograms_from_two_reports_equal_the_aggregated_one() {
        let snapshot = reference_snapshot();
        let doc = to_json(&snapshot, &settings());
        let mut merged =
            histogram_from_base64(doc["stats"][0]["histogram"].as_str().unwrap()).unwrap();
        for row in doc["stats"].as_array().unwrap().iter().skip(1) {
            merged
                .add(histogram_from_base64(row["histogram"].as_str().unwrap()).unwrap())
                .unwrap();
        }
        assert_eq!(&merged, snapshot.aggregated.histogram());
    }

    #[test]
    fn report_holds_what_the_tables_show_and_the_settings() {
        let snapshot = reference_snapshot();
        let doc = to_json(&snapshot, &settings());
        assert_eq!(doc["format"], FORMAT);
        assert_eq!(doc["settings"]["classes"][1], "ACISStressTestUser");
        assert_eq!(doc["settings"]["seed"], 7);
        let agg = &doc["aggregated"];
        assert_eq!(agg["name"], "Aggregated");
        assert_eq!(agg["num_requests"], 521);
        assert_eq!(agg["num_failures"], 49);
        assert_eq!(
            agg["avg_response_time"],
            snapshot.aggregated.avg_response_time_ms()
        );
        assert_eq!(
            agg["response_time_percentiles"]["0.95"],
            snapshot.aggregated.percentile_ms(0.95).unwrap()
        );
        let keys: Vec<&String> = agg["response_time_percentiles"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert!(
            keys.iter().any(|k| k.as_str() == "1.0") && keys.iter().any(|k| k.as_str() == "0.9999")
        );
        assert_eq!(
            agg["response_time_percentiles"].as_object().unwrap().len(),
            11
        );
        assert_eq!(doc["errors"].as_array().unwrap().len(), 6);
        assert_eq!(doc["errors"][0]["name"], "/api/ml/predict");
        assert_eq!(doc["errors"][0]["occurrences"], 11);
        let row = &doc["stats"][0];
        assert_eq!(
            (row["method"].as_str(), row["name"].as_str()),
            (Some("GET"), Some("/api/clients"))
        );
    }

    #[test]
    fn the_report_replaces_the_file_and_reads_back_equal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, "old").unwrap();
        let report = JsonReport::new(&reference_snapshot(), &settings());
        report.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["aggregated"]["num_requests"], 521);
        assert_eq!(JsonReport::from_text(&text).unwrap(), report);
        let bad = dir.path().join("missing-dir").join("run.json");
        let err = report.write(&bad).unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }

    #[test]
    fn stages_round_trip_through_the_report_and_bad_ones_are_refused() {
        let marks = vec![
            StageMark {
                stage: 0,
                at: std::time::Duration::ZERO,
                label: "50 users at 5/s".into(),
            },
            StageMark {
                stage: 1,
                at: std::time::Duration::from_millis(1500),
                label: "500 users at 100/s".into(),
            },
        ];
        let report = JsonReport::new(&reference_snapshot(), &settings());
        assert!(JsonReport::from_text(&report.to_text())
            .unwrap()
            .stages()
            .is_empty());
        let report = report.with_plan(JsonPlan {
            stages: marks.clone(),
            ..JsonPlan::default()
        });
        let back = JsonReport::from_text(&report.to_text()).unwrap();
        assert_eq!(back.stages(), marks);
        let mut doc = serde_json::to_value(&report).unwrap();
        for (bad, at) in [
            (
                json!([{"stage": 0, "at": -1.0, "label": "x"}]),
                "plan.stages[0].at",
            ),
            (json!([{"stage": 0, "at": 1.0}]), "plan.stages[0]"),
            (json!("x"), "plan.stages"),
        ] {
            doc["plan"]["stages"] = bad;
            let err = JsonReport::from_text(&doc.to_string()).unwrap_err();
            assert!(err.to_string().starts_with(at), "{err}");
        }
    }

    #[test]
    fn judgement_holds_the_verdict_and_every_rows_bands() {
        use crate::verdict::baseline::{evaluate, Baselines};
        use crate::verdict::criteria::{evaluate as judge, CriteriaSet};
        let snapshot = reference_snapshot();
        let set = CriteriaSet::aggregated(&["fail_ratio <= 0.05", "avg <= 1"]).unwrap();
        let verdict = judge(&snapshot, &set);
        let bands = evaluate(&snapshot, &Baselines::default());
        let analysis = crate::verdict::analysis::analyse(&snapshot, &Baselines::default());
        let judgement = Judgement {
            verdict,
            bands: bands.clone(),
            analysis: analysis.clone(),
        };
        let doc = serde_json::to_value(
            JsonReport::new(&snapshot, &settings()).with_judgement(&judgement),
        )
        .unwrap();
        // 49 failures in 521 requests is 9.4%: both criteria fail.
        assert_eq!(doc["verdict"]["outcome"], "FAILED");
        assert_eq!(doc["verdict"]["criteria"][0]["passed"], false);
        assert_eq!(
            doc["verdict"]["criteria"][0]["value"],
            snapshot.aggregated.fail_ratio()
        );
        assert!(doc["verdict"]["criteria"][1]["breach"].is_string());
        let rows = doc["bands"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), bands.rows.len());
        let agg = rows.last().unwrap();
        assert_eq!(agg["name"], "Aggregated");
        let avg = &agg["metrics"]["avg_ms"];
        assert_eq!(avg["value"], snapshot.aggregated.avg_response_time_ms());
        let want = bands
            .aggregated()
            .unwrap()
            .cell(crate::verdict::baseline::Metric::AvgMs)
            .band;
        assert_eq!(avg["band"], want.unwrap().name());
        assert_eq!(
            doc["bands"]["bounds"]["avg_ms"]["poor"],
            Baselines::default().avg_ms.poor
        );
        let judgement = Judgement {
            verdict: judge(&snapshot, &CriteriaSet::default()),
            bands,
            analysis: analysis.clone(),
        };
        let none = serde_json::to_value(
            JsonReport::new(&snapshot, &settings()).with_judgement(&judgement),
        )
        .unwrap();
        assert_eq!(none["verdict"]["outcome"], "NO CRITERIA");
        assert_eq!(
            none["analysis"]["rows"].as_array().unwrap().len(),
            analysis.rows.len()
        );
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        assert!(histogram_from_base64("not base64!").is_err());
        assert!(histogram_from_base64("AAAA").is_err());
    }
}
