//! The JSON report (`--json FILE`): everything the tables show, per row and aggregated,
//! with the exact (unrounded) figures, the errors, the per-second history, the run's
//! settings, and each row's HdrHistogram serialised (V2 format, base64) so that runs can
//! be merged exactly later with [`histogram_from_base64`] and `Histogram::add`.
//!
//! A run's report also carries its judgement ([`judgement_json`]: the verdict, every
//! row's baseline bands and the analysis) and, under `plan`, what its load plan reports
//! (stage marks: [`stages_json`], read back by [`stages_from_report`]).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use crate::plan::load::StageMark;
use crate::stats::{unix_seconds_f64, ErrorStats, RequestStats, Snapshot, PERCENTILES_TO_REPORT};
use crate::verdict::analysis::Analysis;
use crate::verdict::baseline::BaselineReport;
use crate::verdict::criteria::Verdict;

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
        }
    }
}

/// The report could not be built or written.
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
    /// A report's `plan.stages` entry is not a stage mark.
    #[error("plan.stages[{index}] in the JSON report: {message}")]
    Stage {
        /// The entry's index.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// The report as a JSON value.
pub fn to_json(snapshot: &Snapshot, settings: &RunSettings) -> Value {
    let now = snapshot.taken_at;
    let stats = snapshot
        .rows
        .iter()
        .map(|r| row_json(r, now))
        .collect::<Vec<_>>();
    let errors: Vec<Value> = snapshot.errors.iter().map(error_json).collect();
    let history: Vec<&crate::stats::HistoryRow> = snapshot.history.iter().collect();
    json!({
        "format": FORMAT,
        "settings": settings,
        "start_time": unix_seconds_f64(snapshot.start),
        "taken_at": unix_seconds_f64(snapshot.taken_at),
        "user_count": snapshot.user_count,
        "histogram_unit": "microseconds",
        "histogram_significant_digits": 3,
        "stats": stats,
        "aggregated": row_json(&snapshot.aggregated, now),
        "errors": errors,
        "history": history,
    })
}

/// The stage marks as the report's `plan.stages` holds them: the stage index, its start
/// in seconds from the test start, and its label.
pub fn stages_json(stages: &[StageMark]) -> Value {
    Value::Array(
        stages
            .iter()
            .map(|m| json!({ "stage": m.stage, "at": m.at.as_secs_f64(), "label": m.label }))
            .collect(),
    )
}

/// The stage marks of a JSON report (`plan.stages`), for a report written after the fact;
/// none when the report has no plan or no stages.
pub fn stages_from_report(doc: &Value) -> Result<Vec<StageMark>, JsonError> {
    let Some(entries) = doc.get("plan").and_then(|p| p.get("stages")) else {
        return Ok(Vec::new());
    };
    let entries = entries.as_array().ok_or_else(|| JsonError::Stage {
        index: 0,
        message: format!("expected a list of stages, found {entries}"),
    })?;
    entries
        .iter()
        .enumerate()
        .map(|(index, e)| {
            let fail = |message: String| JsonError::Stage { index, message };
            let stage = e["stage"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    fail(format!(
                        "stage must be a whole number, found {}",
                        e["stage"]
                    ))
                })?;
            let at = e["at"]
                .as_f64()
                .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| {
                    fail(format!(
                        "at must be seconds from the start (0 or more), found {}",
                        e["at"]
                    ))
                })?;
            let label = e["label"]
                .as_str()
                .ok_or_else(|| fail(format!("label must be text, found {}", e["label"])))?
                .to_owned();
            Ok(StageMark { stage, at, label })
        })
        .collect()
}

/// The run's judgement as the report's `verdict`, `bands` and `analysis` hold it: the
/// outcome (`PASSED`, `FAILED`, `ABORTED`, or `NO CRITERIA`) with each criterion's
/// result and any abort; per row (Aggregated last) each metric's exact value and band,
/// with the bounds used; and the analysis' sentences, symptoms and drift.
pub fn judgement_json(verdict: &Verdict, bands: &BaselineReport, analysis: &Analysis) -> Value {
    let outcome = match verdict.outcome() {
        crate::verdict::criteria::Outcome::NoCriteria => "NO CRITERIA",
        other => other.word(),
    };
    let criteria: Vec<Value> = verdict
        .results
        .iter()
        .map(|r| {
            json!({
                "row": r.row,
                "criterion": r.criterion.to_string(),
                "value": r.value,
                "passed": r.passed,
                "abort_on_fail": r.abort_on_fail,
                "breach": (!r.passed).then(|| r.breach()),
            })
        })
        .collect();
    let rows: Vec<Value> = bands
        .rows
        .iter()
        .map(|row| {
            let mut cells = Map::new();
            for c in &row.cells {
                cells.insert(
                    c.metric.field().to_owned(),
                    json!({ "value": c.value, "band": c.band.map(|b| b.name()) }),
                );
            }
            json!({ "method": row.method, "name": row.name, "metrics": cells })
        })
        .collect();
    let mut bounds = Map::new();
    for m in crate::verdict::baseline::Metric::ALL {
        let b = bands.baselines.bounds(m);
        bounds.insert(
            m.field().to_owned(),
            json!({ "target": b.target, "acceptable": b.acceptable, "poor": b.poor,
                    "higher_is_better": m.higher_is_better() }),
        );
    }
    json!({
        "verdict": {
            "outcome": outcome,
            "criteria": criteria,
            "aborted": verdict.aborted.as_ref().map(|a| a.describe()),
        },
        "bands": { "bounds": bounds, "rows": rows },
        "analysis": analysis,
    })
}

/// Writes the report to `path` atomically (temporary file, then rename).
pub fn write_json(
    path: &Path,
    snapshot: &Snapshot,
    settings: &RunSettings,
) -> Result<(), JsonError> {
    let value = to_json(snapshot, settings);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    crate::sinks::atomic_file::replace_file(path, text.as_bytes()).map_err(|source| {
        JsonError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// One row: Locust's figures (milliseconds, exact), rates and the histogram.
/// One failures-table entry as Locust's web API and the JSON report write it (times in
/// unix seconds).
pub fn error_json(e: &ErrorStats) -> Value {
    json!({
        "method": e.method,
        "name": e.name,
        "error": e.error,
        "occurrences": e.occurrences,
        "first_seen": unix_seconds_f64(e.first_seen),
        "last_seen": unix_seconds_f64(e.last_seen),
    })
}

fn row_json(r: &RequestStats, now: SystemTime) -> Value {
    let mut percentiles = Map::new();
    if let Some(values) = r.percentiles_ms(&PERCENTILES_TO_REPORT) {
        for (p, v) in PERCENTILES_TO_REPORT.iter().zip(values) {
            percentiles.insert(crate::sinks::csv::py_float(*p), json!(v));
        }
    }
    // Serialising into memory cannot fail for u64 counts; should it ever, the row keeps
    // its figures and says why its histogram is missing.
    let (histogram, histogram_error) = match histogram_to_base64(r.histogram()) {
        Ok(text) => (Value::String(text), None),
        Err(e) => (Value::Null, Some(e.to_string())),
    };
    let mut row = json!({
        "method": r.method,
        "name": r.name,
        "num_requests": r.num_requests(),
        "num_failures": r.num_failures(),
        "fail_ratio": r.fail_ratio(),
        "avg_response_time": r.avg_response_time_ms(),
        "min_response_time": r.min_response_time_ms(),
        "max_response_time": r.max_response_time_ms(),
        "median_response_time": r.median_response_time_ms(),
        "response_time_percentiles": percentiles,
        "avg_content_length": r.avg_content_length(),
        "total_content_length": r.total_content_length(),
        "total_rps": r.total_rps(),
        "total_fail_per_sec": r.total_fail_per_sec(),
        "current_rps": r.current_rps(now),
        "current_fail_per_sec": r.current_fail_per_sec(now),
        "first_request": r.first_request().map(unix_seconds_f64),
        "last_request": r.last_request().map(unix_seconds_f64),
        "histogram": histogram,
    });
    if let (Some(error), Some(object)) = (histogram_error, row.as_object_mut()) {
        object.insert("histogram_error".into(), Value::String(error));
    }
    row
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

    fn settings() -> RunSettings {
        RunSettings {
            scenario: "acis".into(),
            classes: vec!["ACISAPIUser".into(), "ACISStressTestUser".into()],
            users: 40,
            rate: 10.0,
            duration: Some(15.0),
            seed: 7,
            version: "0.1.0".into(),
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
    fn write_json_replaces_the_file_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        std::fs::write(&path, "old").unwrap();
        write_json(&path, &reference_snapshot(), &settings()).unwrap();
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back["aggregated"]["num_requests"], 521);
        let bad = dir.path().join("missing-dir").join("run.json");
        let err = write_json(&bad, &reference_snapshot(), &settings()).unwrap_err();
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
        let mut doc = to_json(&reference_snapshot(), &settings());
        assert!(stages_from_report(&doc).unwrap().is_empty());
        doc["plan"] = json!({ "stages": stages_json(&marks) });
        let text = serde_json::to_string(&doc).unwrap();
        let back = stages_from_report(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, marks);
        for bad in [
            json!([{"stage": 0, "at": -1.0, "label": "x"}]),
            json!([{"stage": 0, "at": 1.0}]),
            json!("x"),
        ] {
            doc["plan"]["stages"] = bad;
            let err = stages_from_report(&doc).unwrap_err();
            assert!(err.to_string().starts_with("plan.stages[0]"), "{err}");
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
        let doc = judgement_json(&verdict, &bands, &analysis);
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
        let none = judgement_json(
            &judge(&snapshot, &CriteriaSet::default()),
            &bands,
            &analysis,
        );
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
