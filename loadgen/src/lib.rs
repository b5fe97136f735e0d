//! loadgen: a load generator that runs Locust-style user classes, speaks Locust's
//! formats (flags, console tables, CSV) and records exact HdrHistogram percentiles.
//!
//! The parts: `scenario` and `template` (the TOML plan, compiled once), `executor` and
//! `dispatch` (how many users of which class run, and when), `user` and `session` (what a
//! user does, over its own keep-alive connection), `runner` (stop rules, the aggregator
//! and the in-process [`run`] API), `output` (console, CSV, JSON and HTML sinks) and
//! `cli` (Locust's flags).

pub mod analysis;
pub mod baseline;
pub mod console;
pub mod criteria;
pub mod csv;
pub mod json;
pub mod judge;
pub mod metrics;
pub mod report;
pub mod stats;
pub mod summary;

pub mod arrival;
pub mod breakpoint;
pub mod cli;
pub mod dispatch;
pub mod executor;
pub mod fdlimit;
pub mod html;
pub mod output;
pub mod plan;
pub mod runner;
pub mod scenario;
pub mod selfmon;
pub mod session;
pub mod shape;
pub mod target;
pub mod template;
pub mod timespan;
pub mod uncorrected;
pub mod user;
pub mod web;

pub use arrival::{ArrivalPlan, ArrivalReport, RateStage};
pub use breakpoint::{Breakpoint, BreakpointReport, StepResult};
pub use executor::{LoadPlan, Retarget, SpawnStep, Stage, StageMark};
pub use output::{ConsoleMode, OutputConfig};
pub use runner::{run, RunConfig, RunError, RunOutcome, StopReason, TaskEvent};
pub use scenario::Scenario;
pub use target::Target;
