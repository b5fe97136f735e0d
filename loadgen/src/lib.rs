//! loadgen: a load generator that runs Locust-style user classes, speaks Locust's
//! formats (flags, console tables, CSV) and records exact HdrHistogram percentiles.
//!
//! The folders follow a run's flow: `plan` (what to run: scenario, templates, shapes,
//! target) -> `engine` (running it: runner, executor, arrival, pool, users, session) ->
//! `stats` (per-shard HdrHistograms merged into a Snapshot every second) -> `verdict`
//! (criteria, baselines, analysis: judging only) -> `sinks` (console, CSV, JSON, HTML,
//! JUnit, Markdown, Prometheus: the one place that writes), `web` (the web UI and
//! Locust's web API) and `worker` (a Locust worker: the engine driven by a Locust
//! master over ZeroMQ); `merge` adds the JSON reports of sharded runs exactly. `cli` turns Locust's flags into the typed configuration each part
//! takes; [`run`] is the in-process API.
//!
//! Everything inside is `pub(crate)`; the API is what this file re-exports: the run's
//! types at the root, and the parts' functions under the names below (`cli`, `stats`,
//! `timespan`, `web`, `worker` and `merge` are whole modules, their internals `pub(crate)`).

#![warn(missing_docs, unreachable_pub)]

pub mod cli;
mod engine;
mod locust_conf;
pub mod merge;
pub mod plan;
mod run;
mod sinks;
pub mod stats;
pub mod timespan;
mod verdict;
pub mod web;
pub mod worker;

pub use engine::arrival::ArrivalReport;
pub use engine::pool::Retarget;
pub use engine::runner::{RunConfig, RunError, RunOutcome, StopReason, TaskEvent};
pub use engine::selfmon::CpuReport;
pub use engine::session::Resolver;
pub use engine::sink::{ConsoleMode, OutputConfig, OutputError};
pub use locust_conf::ConfError;
pub use plan::arrival::{ArrivalPlan, Correction, RateStage};
pub use plan::load::{LoadPlan, SpawnStep, Stage, StageMark};
pub use plan::scenario::Scenario;
pub use plan::target::{Target, TlsOptions};
pub use run::run;
pub use verdict::breakpoint::{Breakpoint, BreakpointReport, RateStep, StepResult};

/// The scenario file and its user classes.
pub mod scenario {
    pub use crate::plan::scenario::{
        ClassRatio, RequestSpec, ScenarioError, Task, TaskRatio, UserClass, WaitTime,
        DEFAULT_SCENARIO,
    };
}

/// Built-in load shapes and `--stages`.
pub mod shape {
    pub use crate::plan::shape::{builtin, parse_stages, PlanError, StagesError, STEP_TIME};
}

/// The guide's analysis sentences, symptoms and latency drift.
pub mod analysis {
    pub use crate::verdict::analysis::{
        analyse, Analysis, Drift, RowAnalysis, Symptom, DRIFT_ALPHA, DRIFT_MATERIAL,
    };
}

/// The guide's baselines: bands per metric.
pub mod baseline {
    pub use crate::verdict::baseline::{
        evaluate, Band, BaselineReport, Baselines, Bounds, Cell, Metric, RowBands,
    };
}

/// The scenario's criteria (k6-like thresholds) and their verdict.
pub mod criteria {
    pub use crate::verdict::criteria::{
        evaluate, exit_code, Abort, CriteriaError, CriteriaSet, CriterionResult, Outcome, Verdict,
    };
}

/// Two runs compared with significance (`loadgen compare`).
pub mod compare {
    pub use crate::sinks::compare::{
        from_locust_csv, from_report, read_run, run_compare, CompareError, CompareJob,
        CompareOutcome, InputError,
    };
    pub use crate::sinks::report::ReportError;
    pub use crate::verdict::compare::{
        compare, Breach, Buckets, Change, ChangeUnit, Comparison, FailIf, Interval, Latency,
        Measure, RowComparison, RowFigures, RunFigures, FAMILY_ALPHA,
    };
}

/// Locust's console tables.
pub mod console {
    pub use crate::sinks::console::{
        error_report, final_summary, request_table, Rates, DEFAULT_NAME_WIDTH,
    };
}

/// Locust's CSV files.
pub mod csv {
    pub use crate::sinks::csv::{py_float, stats_csv, CsvWriter};
}

/// The JSON report.
pub mod json {
    pub use crate::sinks::json::{
        histogram_from_base64, histogram_to_base64, JsonAnalysis, JsonBandCell, JsonBandRow,
        JsonBands, JsonBounds, JsonCriterion, JsonError, JsonErrorRow, JsonOverhead, JsonPlan,
        JsonReport, JsonRow, JsonRowAnalysis, JsonRows, JsonSymptom, JsonVerdict, RunSettings,
        FORMAT,
    };
}

/// The HTML report.
pub mod report {
    pub use crate::sinks::report::snapshot_html;
}

/// loadgen's own figures for Prometheus (`--metrics-port`).
pub mod metrics {
    pub use crate::sinks::prometheus::{subscribe, MetricsConfig, MetricsError, MetricsServer};
}
