//! Judging only, never writing: the scenario's criteria (k6-like thresholds, with
//! `abort_on_fail`), the guide's baselines (bands per metric), the analysis sentences,
//! the breakpoint search's per-step judgement, and the judgement of a finished run that
//! ties them together. The sinks write what these decide.

pub(crate) mod analysis;
pub(crate) mod baseline;
pub(crate) mod breakpoint;
pub(crate) mod compare;
pub(crate) mod criteria;
pub(crate) mod judge;
