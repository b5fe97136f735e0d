//! Plan compilation: the scenario file's `[[stages]]` and `[arrival]` tables, and the
//! load-plan flags (`-u`/`-r`, `--stages`, `--shape`, `--arrival-rate`, `--breakpoint`),
//! validated into one [`LoadPlan`] and breakpoint rule.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{builtin, SHAPES, STEP_TIME};
use crate::plan::arrival::{ArrivalPlan, RateStage};
use crate::plan::load::{LoadPlan, Stage};
use crate::timespan::parse_timespan;

/// A `[[stages]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    duration: Spanned<String>,
    users: Spanned<i64>,
    spawn_rate: Option<Spanned<f64>>,
}

/// The `[arrival]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArrival {
    rate: Spanned<f64>,
    duration: Option<Spanned<String>>,
    max_users: Spanned<i64>,
    max_delay: Option<Spanned<String>>,
    stages: Option<Vec<Spanned<RawRateStage>>>,
}

/// One `[arrival]` rate stage as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRateStage {
    duration: Spanned<String>,
    target: Spanned<f64>,
}

/// A bad value in the scenario file: its byte range and what was expected.
pub(crate) type RawError = (Range<usize>, String);

fn span_time(value: &Spanned<String>, what: &str) -> Result<Duration, RawError> {
    parse_timespan(value.get_ref()).map_err(|e| {
        (
            value.span(),
            format!(
                "bad {what} {:?}: {e} (expected a time span like 30s, 5m, 1h30m)",
                value.get_ref()
            ),
        )
    })
}

fn span_rate(value: &Spanned<f64>, what: &str) -> Result<f64, RawError> {
    let v = *value.get_ref();
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err((
            value.span(),
            format!("bad {what} {v}: expected a number of at least 0 per second"),
        ))
    }
}

fn span_count(value: &Spanned<i64>, what: &str, min: i64) -> Result<usize, RawError> {
    let v = *value.get_ref();
    usize::try_from(v).ok().filter(|_| v >= min).ok_or_else(|| {
        (
            value.span(),
            format!("bad {what} {v}: expected a whole number of at least {min}"),
        )
    })
}

/// Validates `[[stages]]`.
pub(crate) fn compile_stages(raw: &[Spanned<RawStage>]) -> Result<LoadPlan, RawError> {
    let mut stages = Vec::new();
    let mut previous = 0usize;
    for entry in raw {
        let s = entry.get_ref();
        let duration = span_time(&s.duration, "stage duration")?;
        if duration.is_zero() {
            return Err((s.duration.span(), "a stage lasts more than 0 s".to_owned()));
        }
        let users = span_count(&s.users, "users", 0)?;
        let spawn_rate = match &s.spawn_rate {
            Some(r) => {
                let rate = span_rate(r, "spawn_rate")?;
                if rate == 0.0 {
                    return Err((
                        r.span(),
                        "bad spawn_rate 0: expected users per second above 0".to_owned(),
                    ));
                }
                rate
            }
            // Spread the change over the stage, as k6 ramps.
            None => (users.abs_diff(previous) as f64 / duration.as_secs_f64()).max(1e-3),
        };
        previous = users;
        stages.push(Stage {
            duration,
            users,
            spawn_rate,
        });
    }
    Ok(LoadPlan::Stages(stages))
}

/// Validates `[arrival]`.
pub(crate) fn compile_arrival(raw: &Spanned<RawArrival>) -> Result<LoadPlan, RawError> {
    let a = raw.get_ref();
    let rate = span_rate(&a.rate, "rate")?;
    let max_users = span_count(&a.max_users, "max_users", 1)?;
    let max_delay = match &a.max_delay {
        Some(d) => span_time(d, "max_delay")?,
        None => Duration::ZERO,
    };
    let mut stages = Vec::new();
    match (&a.duration, &a.stages) {
        (Some(d), Some(_)) => {
            return Err((
                d.span(),
                "give either duration (a constant rate) or stages (a ramping rate), not both"
                    .to_owned(),
            ))
        }
        (Some(d), None) => stages.push(RateStage {
            duration: span_time(d, "duration")?,
            target: rate,
        }),
        (None, Some(list)) => {
            for entry in list {
                let s = entry.get_ref();
                stages.push(RateStage {
                    duration: span_time(&s.duration, "stage duration")?,
                    target: span_rate(&s.target, "target")?,
                });
            }
        }
        (None, None) => {}
    }
    let mut plan = ArrivalPlan::constant(rate, max_users, max_delay);
    plan.stages = stages;
    Ok(LoadPlan::Arrival(plan))
}

/// The load-plan flags as given on the command line, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanFlags {
    /// `-u`.
    pub users: usize,
    /// `-r`.
    pub spawn_rate: f64,
    /// `--stages`.
    pub stages: Option<Vec<Stage>>,
    /// `--shape`.
    pub shape: Option<String>,
    /// `--step-time`.
    pub step_time: Option<Duration>,
    /// `--arrival-rate`.
    pub arrival_rate: Option<f64>,
    /// `--arrival-stages`.
    pub arrival_stages: Option<Vec<RateStage>>,
    /// `--max-users`.
    pub max_users: Option<usize>,
    /// `--max-delay`.
    pub max_delay: Option<Duration>,
    /// `--breakpoint`.
    pub breakpoint: bool,
    /// `--breakpoint-fail-ratio`.
    pub breakpoint_fail_ratio: Option<f64>,
    /// `--breakpoint-p95-ms`.
    pub breakpoint_p95_ms: Option<f64>,
    /// `--rate-step` (an open-model breakpoint search; default x2).
    pub rate_step: Option<crate::verdict::breakpoint::RateStep>,
    /// `--rate-steps` (default 6, as the step shape).
    pub rate_steps: Option<usize>,
}

/// Load-plan flags that do not make a plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// `--shape` names no built-in shape.
    #[error("unknown --shape {0:?}: expected one of {SHAPES}")]
    UnknownShape(String),
    /// A bad `--arrival-rate`.
    #[error("bad --arrival-rate {0}: expected iterations per second above 0")]
    ArrivalRate(f64),
    /// A bad `--max-users`.
    #[error("bad --max-users 0: expected at least 1 user")]
    MaxUsers,
    /// A breakpoint search needs a staged closed-model plan.
    #[error("--breakpoint steps users, or with --arrival-rate the rate, up: it cannot be combined with the scenario's [arrival] or --arrival-stages")]
    BreakpointWithArrival,
    /// A bad breakpoint bound.
    #[error("bad breakpoint bound: {0}")]
    Bound(#[from] crate::verdict::criteria::CriteriaError),
    /// A bad `--breakpoint-fail-ratio`.
    #[error("bad --breakpoint-fail-ratio {0}: expected a ratio between 0 and 1")]
    FailRatio(f64),
}

/// The default failure-ratio bound of a breakpoint search without bounds.
pub(crate) const BREAKPOINT_FAIL_RATIO: f64 = 0.05;

/// The plan and breakpoint rule the flags ask for. Precedence: `--arrival-rate`, then
/// `--stages` or `--shape` (or the step shape for `--breakpoint`), then the scenario's
/// `[[stages]]` or `[arrival]`, then `-u`/`-r`.
pub(crate) fn plan_from_flags(
    flags: &PlanFlags,
    scenario: Option<&LoadPlan>,
) -> Result<(LoadPlan, Option<crate::verdict::breakpoint::Breakpoint>), PlanError> {
    let step_time = flags.step_time.unwrap_or(STEP_TIME);
    let shape = match &flags.shape {
        Some(name) => {
            Some(builtin(name, step_time).ok_or_else(|| PlanError::UnknownShape(name.clone()))?)
        }
        None => None,
    };
    let plan = if let Some(rate) = flags.arrival_rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(PlanError::ArrivalRate(rate));
        }
        let max_users = flags.max_users.unwrap_or(DEFAULT_MAX_USERS);
        if max_users == 0 {
            return Err(PlanError::MaxUsers);
        }
        let max_delay = flags.max_delay.unwrap_or(Duration::ZERO);
        if flags.breakpoint && flags.arrival_stages.is_none() {
            // The open-model search: the rate stepped up, each step held for the step time.
            let step = flags
                .rate_step
                .unwrap_or(crate::verdict::breakpoint::RateStep::Factor(2.0));
            let rates =
                crate::verdict::breakpoint::rate_steps(rate, step, flags.rate_steps.unwrap_or(6));
            LoadPlan::Arrival(ArrivalPlan::stepped(
                &rates, step_time, max_users, max_delay,
            ))
        } else {
            let mut plan = ArrivalPlan::constant(rate, max_users, max_delay);
            plan.stages = flags.arrival_stages.clone().unwrap_or_default();
            LoadPlan::Arrival(plan)
        }
    } else if let Some(stages) = flags.stages.clone().or(shape) {
        LoadPlan::Stages(stages)
    } else if flags.breakpoint && !matches!(scenario, Some(LoadPlan::Stages(_))) {
        LoadPlan::Stages(builtin("step", step_time).unwrap_or_default())
    } else if let Some(plan) = scenario {
        plan.clone()
    } else {
        LoadPlan::Users {
            users: flags.users,
            spawn_rate: flags.spawn_rate,
        }
    };
    if !flags.breakpoint {
        return Ok((plan, None));
    }
    if matches!(&plan, LoadPlan::Arrival(a) if !a.steps) {
        return Err(PlanError::BreakpointWithArrival);
    }
    if let Some(r) = flags.breakpoint_fail_ratio {
        if !(0.0..=1.0).contains(&r) {
            return Err(PlanError::FailRatio(r));
        }
    }
    let fail_ratio = match (flags.breakpoint_fail_ratio, flags.breakpoint_p95_ms) {
        (None, None) => Some(BREAKPOINT_FAIL_RATIO),
        (r, _) => r,
    };
    let rule = crate::verdict::breakpoint::Breakpoint::bounds(fail_ratio, flags.breakpoint_p95_ms)?;
    Ok((plan, Some(rule)))
}

/// The pool's bound when `--arrival-rate` is given without `--max-users`.
pub(crate) const DEFAULT_MAX_USERS: usize = 100;
