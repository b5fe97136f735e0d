//! loadgen: a load generator that runs Locust-style user classes, speaks Locust's
//! formats (flags, console tables, CSV) and records exact HdrHistogram percentiles.
//!
//! The folders follow a run's flow: `plan` (what to run: scenario, templates, shapes,
//! target) -> `engine` (running it: runner, executor, arrival, pool, users, session) ->
//! `stats` (per-shard HdrHistograms merged into a Snapshot every second) -> `verdict`
//! (criteria, baselines, analysis: judging only) -> `sinks` (console, CSV, JSON, HTML,
//! JUnit, Markdown, Prometheus: the one place that writes) and `web` (the web UI and
//! Locust's web API). `cli` turns Locust's flags into the typed configuration each part
//! takes; [`run`] is the in-process API.

pub mod cli;
pub mod engine;
pub mod plan;
pub(crate) mod run;
pub mod sinks;
pub mod stats;
pub mod timespan;
pub mod verdict;
pub mod web;

// The library's modules at the paths its users know.
pub use engine::{runner, selfmon};
pub use plan::{arrival, scenario, shape, target, template};
pub use sinks::{console, csv, json, prometheus as metrics, report, summary};
pub use verdict::{analysis, baseline, breakpoint, criteria, judge};

pub use engine::arrival::ArrivalReport;
pub use engine::pool::Retarget;
pub use engine::runner::{RunConfig, RunError, RunOutcome, StopReason, TaskEvent};
pub use engine::sink::{ConsoleMode, OutputConfig};
pub use plan::arrival::{ArrivalPlan, RateStage};
pub use plan::load::{LoadPlan, SpawnStep, Stage, StageMark};
pub use plan::scenario::Scenario;
pub use plan::target::Target;
pub use run::run;
pub use verdict::breakpoint::{Breakpoint, BreakpointReport, StepResult};
