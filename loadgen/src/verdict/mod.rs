//! Judging only, never writing: the scenario's criteria (k6-like thresholds, with
//! `abort_on_fail`), the guide's baselines (bands per metric), the analysis sentences,
//! the breakpoint search's per-step judgement, and the judgement of a finished run that
//! ties them together. The sinks write what these decide.

pub mod analysis;
pub mod baseline;
pub mod breakpoint;
pub mod criteria;
pub mod judge;
