//! What the engine asks of a run's outputs, and nothing of how they are written: which
//! outputs a run wants ([`OutputConfig`]), a sink fed every second ([`TickSink`]) and one
//! fed once at the end ([`EndSink`]). The `sinks` folder implements them; the engine
//! never names it, so imports point from the sinks down to the engine, never back.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::engine::runner::{PlanReport, RunConfig};
use crate::plan::scenario::Scenario;
use crate::stats::{RequestLogData, Snapshot};
use crate::verdict::judge::Judgement;

/// What the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleMode {
    /// Nothing (in-process runs, tests).
    #[default]
    Quiet,
    /// Only the final summary (`--only-summary`).
    Summary,
    /// The request table every 2 s, the progress line on a terminal, the final summary.
    Full,
}

/// Which outputs a run writes.
#[derive(Debug, Clone, Default)]
pub struct OutputConfig {
    /// Console output.
    pub console: ConsoleMode,
    /// `--csv PREFIX`.
    pub csv_prefix: Option<PathBuf>,
    /// `--csv-full-history`.
    pub csv_full_history: bool,
    /// `--json FILE`.
    pub json: Option<PathBuf>,
    /// `--html FILE`.
    pub html: Option<PathBuf>,
    /// `--junit FILE`: each criterion a test case.
    pub junit: Option<PathBuf>,
    /// `--summary-md FILE`: verdict, baselines and tables in Markdown.
    pub summary_md: Option<PathBuf>,
    /// `--verbose`: every row's analysis sentences at the end, not only the findings.
    pub verbose: bool,
    /// `--request-log FILE`: each request's id, row, start, measured and server time.
    pub request_log: Option<PathBuf>,
    /// `--overhead-warn-share`: the share of a row's p99 response time its client
    /// overhead's p99 may reach before a warning (`None`: the default, 10%).
    pub overhead_warn_share: Option<f64>,
}

/// An output that could not be opened before the run.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} {path}: {message}")]
pub struct OutputError {
    /// Which output.
    pub what: &'static str,
    /// Its path.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// Fed by the aggregator task every second during the run (CSV files, the console).
pub(crate) trait TickSink: Send + std::fmt::Debug {
    /// Called once a second with the new snapshot; `tick` counts from 1.
    fn on_tick(&mut self, snapshot: &Snapshot, tick: u64);
    /// Called once with the final snapshot; returns what could not be written.
    fn finish(&mut self, snapshot: &Snapshot) -> Vec<String>;
}

/// How a run ended, for the sinks that write its end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunEnd<'a> {
    /// The final statistics.
    pub snapshot: &'a Snapshot,
    /// The criteria's verdict, the bands and the analysis of `snapshot`.
    pub judgement: &'a Judgement,
    /// What the load plan reported (stage marks, arrival counts, breakpoint steps).
    pub plan: &'a PlanReport,
    /// Response times from the actual send, when `snapshot` holds corrected ones.
    pub uncorrected: Option<&'a Snapshot>,
    /// Each request's record, when the run kept them.
    pub request_log: Option<&'a RequestLogData>,
}

/// Fed once when the run ends (the final console text and the report files).
pub(crate) trait EndSink: Send + std::fmt::Debug {
    /// Writes what the run produced; returns what could not be written.
    fn finish(&mut self, end: &RunEnd<'_>) -> Vec<String>;
}

/// A run's sinks, opened before the first request.
#[derive(Debug)]
pub(crate) struct RunSinks {
    /// Fed every second.
    pub periodic: Box<dyn TickSink>,
    /// Fed at the end.
    pub end: Box<dyn EndSink>,
}

/// Opens a run's sinks from its configuration, so a bad path fails before any request.
pub(crate) type OpenSinks = fn(&RunConfig, &Scenario, SystemTime) -> Result<RunSinks, OutputError>;
