//! The two runs `loadgen compare` reads: a loadgen JSON report (each row's HdrHistogram)
//! or Locust's `*_stats.csv` (rounded percentile columns), told apart by their first
//! character. Every refusal names the file, the line or field, and what was expected.

use std::path::{Path, PathBuf};

use crate::sinks::json::{JsonReport, JsonRow};
use crate::stats::{AGGREGATED_NAME, PERCENTILES_TO_REPORT};
use crate::verdict::compare::{Latency, RowFigures, RunFigures};

/// A run that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is neither a JSON report nor a Locust stats CSV, or has a bad value.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Where and what was wrong, and what was expected.
        message: String,
    },
}

/// Reads a run from a loadgen JSON report or a Locust stats CSV.
pub fn read_run(path: &Path) -> Result<RunFigures, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = |message: String| InputError::Format {
        path: path.to_path_buf(),
        message,
    };
    let source = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if text.trim_start().starts_with('{') {
        let report = JsonReport::from_text(&text).map_err(|e| format(e.to_string()))?;
        from_report(&report, source).map_err(format)
    } else {
        from_locust_csv(&text, source).map_err(format)
    }
}

/// A JSON report's rows, each with its histogram.
pub fn from_report(report: &JsonReport, source: String) -> Result<RunFigures, String> {
    let row = |r: &JsonRow| -> Result<RowFigures, String> {
        let h = r.histogram().map_err(|e| {
            let why = r.histogram_error.as_deref().unwrap_or("");
            format!("row {:?} {:?}: {e} {why}", r.method, r.name)
        })?;
        let mut figures =
            RowFigures::from_histogram(r.method.clone(), r.name.clone(), &h, r.num_failures);
        // The report's count and mean are exact; the histogram's mean is bucketed.
        figures.requests = r.num_requests;
        figures.avg_ms = r.avg_response_time;
        Ok(figures)
    };
    Ok(RunFigures {
        source,
        rows: report.stats.iter().map(row).collect::<Result<_, _>>()?,
        aggregated: row(&report.aggregated)?,
    })
}

/// Locust's stats CSV: `Type,Name,Request Count,Failure Count,...,50%,...,100%`; the
/// percentile columns loadgen reports are kept, any others ignored.
pub fn from_locust_csv(text: &str, source: String) -> Result<RunFigures, String> {
    let rows = locust_csv::read_stats(text).map_err(|e| match e {
        locust_csv::CsvError::MissingColumn { .. } => format!("{e}, or a loadgen JSON report"),
        e => e.to_string(),
    })?;
    let mut figures = Vec::new();
    let mut aggregated = None;
    for row in rows {
        let columns: Vec<(f64, f64)> = PERCENTILES_TO_REPORT
            .iter()
            .filter_map(|&q| Some((q, row.percentile(q)?)))
            .collect();
        if row.requests > 0 && columns.is_empty() {
            return Err(format!(
                "line {}: no percentile columns (50%, ..., 100%)",
                row.line
            ));
        }
        let f = RowFigures {
            requests: row.requests,
            failures: row.failures,
            avg_ms: row.avg_ms,
            sd_ms: None,
            latency: Latency::Locust {
                columns,
                min_ms: row.min_ms,
            },
            method: row.method,
            name: row.name,
        };
        if f.name == AGGREGATED_NAME && f.method.is_empty() {
            aggregated = Some(f);
        } else {
            figures.push(f);
        }
    }
    let aggregated = aggregated.ok_or("no Aggregated row (Locust writes it last)")?;
    Ok(RunFigures {
        source,
        rows: figures,
        aggregated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../../../tests/reference/locust-2.47/run_stats.csv");

    #[test]
    fn locusts_own_csv_reads_with_its_columns() {
        let run = from_locust_csv(REFERENCE, "run_stats.csv".into()).unwrap();
        assert_eq!(run.rows.len(), 9);
        assert_eq!(run.aggregated.requests, 486);
        assert_eq!(run.aggregated.failures, 46);
        let trade = &run.rows[6];
        assert_eq!(trade.label(), "POST /api/trading/execute");
        assert_eq!(trade.latency.point(212, 0.95), Some(32.0));
        assert_eq!(trade.latency.point(212, 1.0), Some(35.0));
    }

    #[test]
    fn bad_files_are_refused_with_where_and_what() {
        let bad_number = REFERENCE.replacen(",27,2,", ",lots,2,", 1);
        let e = from_locust_csv(&bad_number, "x".into()).unwrap_err();
        assert!(
            e.starts_with("line 2, column \"Request Count\": \"lots\""),
            "{e}"
        );
        let no_agg: String = REFERENCE
            .lines()
            .filter(|l| !l.contains("Aggregated"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(from_locust_csv(&no_agg, "x".into())
            .unwrap_err()
            .contains("no Aggregated row"));
        let e = from_locust_csv("a,b\n1,2\n", "x".into()).unwrap_err();
        assert!(
            e.contains("no column \"Type\"") && e.ends_with("or a loadgen JSON report"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "{\"format\": 3}").unwrap();
        let e = read_run(&path).unwrap_err().to_string();
        assert!(e.contains("r.json") && e.contains("format"), "{e}");
        let e = read_run(&dir.path().join("missing.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot read"), "{e}");
    }
}
