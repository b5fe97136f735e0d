//! `loadgen compare BASELINE CURRENT`: reads two runs (JSON reports or Locust stats
//! CSVs), has the verdict's comparison judge them, prints the table and writes the
//! reports asked for (`--summary-md`, `--junit`, `--html`), each atomically.

mod input;
mod render;

use std::path::PathBuf;

use crate::sinks::report::{write_report, ReportError};
use crate::verdict::compare::{compare, Comparison, FailIf};
use crate::verdict::criteria::CriteriaError;

pub use input::{from_locust_csv, from_report, read_run, InputError};

/// What `loadgen compare` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct CompareJob {
    /// The baseline run.
    pub baseline: PathBuf,
    /// The current run.
    pub current: PathBuf,
    /// `--fail-if` thresholds, as written.
    pub fail_if: Vec<String>,
    /// Markdown for a pull-request comment.
    pub summary_md: Option<PathBuf>,
    /// JUnit XML.
    pub junit: Option<PathBuf>,
    /// An HTML page.
    pub html: Option<PathBuf>,
}

/// A comparison that could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A run could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A `--fail-if` threshold is malformed.
    #[error("bad --fail-if {text:?}: {source}")]
    FailIf {
        /// The threshold as written.
        text: String,
        /// Where and why.
        #[source]
        source: CriteriaError,
    },
    /// A report could not be written.
    #[error(transparent)]
    Write(#[from] ReportError),
}

/// The comparison's results, as text and as data.
#[derive(Debug, Clone)]
pub struct CompareOutcome {
    /// The console table.
    pub text: String,
    /// The comparison.
    pub comparison: Comparison,
}

impl CompareOutcome {
    /// 0 when no threshold was breached, 1 when one was.
    pub fn exit_code(&self) -> u8 {
        self.comparison.exit_code()
    }
}

/// Reads both runs, compares them and writes the reports asked for.
pub fn run_compare(job: &CompareJob) -> Result<CompareOutcome, CompareError> {
    let thresholds = job
        .fail_if
        .iter()
        .map(|t| {
            FailIf::parse(t).map_err(|source| CompareError::FailIf {
                text: t.clone(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let baseline = read_run(&job.baseline)?;
    let current = read_run(&job.current)?;
    let comparison = compare(&baseline, &current, &thresholds);
    type Render = fn(&Comparison) -> String;
    let jobs: [(&'static str, &Option<PathBuf>, Render); 3] = [
        ("Markdown summary", &job.summary_md, render::markdown),
        ("JUnit report", &job.junit, render::junit),
        ("HTML report", &job.html, render::html),
    ];
    for (what, path, render) in jobs {
        if let Some(path) = path {
            write_report(what, path, &render(&comparison))?;
        }
    }
    Ok(CompareOutcome {
        text: render::text(&comparison),
        comparison,
    })
}

#[cfg(test)]
mod tests;
