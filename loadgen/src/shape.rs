//! Load shapes: the built-in ones (`spike`, `soak`, `step`, after the guide's advanced
//! scenarios), `--stages` as written on the command line, and the scenario file's
//! `[[stages]]` and `[arrival]` tables, all turned into a validated [`LoadPlan`].
//!
//! A scenario file may say:
//!
//! ```toml
//! [[stages]]              # like k6 stages or a Locust LoadTestShape
//! duration = "30s"        # time span: 30s, 2m, 1h30m
//! users = 50
//! spawn_rate = 5          # optional: by default the change is spread over the stage
//!
//! [arrival]               # the open model (k6's constant- / ramping-arrival-rate)
//! rate = 20               # iterations per second (at the start, when stages follow)
//! duration = "1m"         # optional: stop after this (constant rate)
//! max_users = 50          # the pool's bound (k6's maxVUs)
//! max_delay = "0s"        # how late an iteration may start before it is dropped
//! stages = [{ duration = "30s", target = 100 }]   # optional: ramp the rate linearly
//! ```

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::arrival::{ArrivalPlan, RateStage};
use crate::executor::{LoadPlan, Stage};
use crate::timespan::parse_timespan;

/// The built-in shapes' names, for messages.
pub const SHAPES: &str = "spike, soak, step";

/// The step shape's default step length (the guide's 5 minutes).
pub const STEP_TIME: Duration = Duration::from_secs(300);

/// A built-in shape. `step_time` sets the step shape's step length.
pub fn builtin(name: &str, step_time: Duration) -> Option<Vec<Stage>> {
    let minutes = |m: u64| Duration::from_secs(60 * m);
    let stage = |duration, users, spawn_rate| Stage {
        duration,
        users,
        spawn_rate,
    };
    match name {
        // The guide's spike: 50 users for 5 min, 500 for 2 min, back to 50 for 5 min.
        "spike" => Some(vec![
            stage(minutes(5), 50, 5.0),
            stage(minutes(2), 500, 100.0),
            stage(minutes(5), 50, 5.0),
        ]),
        // The guide's soak: 100 users at 10/s for 24 h (or until --run-time).
        "soak" => Some(vec![stage(minutes(24 * 60), 100, 10.0)]),
        // The guide's stress steps: 100, 200, ... 3200 users at 50/s.
        "step" => Some(
            [100, 200, 400, 800, 1600, 3200]
                .into_iter()
                .map(|users| stage(step_time, users, 50.0))
                .collect(),
        ),
        _ => None,
    }
}

/// A `--stages` or `--arrival-stages` value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} column {column}: {message} in {text:?} (expected {expected},...)")]
pub struct StagesError {
    /// The flag.
    pub flag: &'static str,
    /// The whole value.
    pub text: String,
    /// 1-based column, in characters, where the bad part starts.
    pub column: usize,
    /// What was wrong.
    pub message: String,
    /// The format expected.
    pub expected: &'static str,
}

/// `--stages` as parsed (a newtype, so the flag holds one list rather than many values).
#[derive(Debug, Clone, PartialEq)]
pub struct StageList(pub Vec<Stage>);

/// [`parse_stages`] for clap.
pub fn parse_stage_list(text: &str) -> Result<StageList, StagesError> {
    parse_stages(text).map(StageList)
}

/// `--arrival-stages` as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RateStageList(pub Vec<RateStage>);

/// A comma-separated list of colon-separated fields, read with positions for errors.
struct FieldList<'a> {
    flag: &'static str,
    expected: &'static str,
    text: &'a str,
}

impl<'a> FieldList<'a> {
    fn fail(&self, offset: usize, message: String) -> StagesError {
        StagesError {
            flag: self.flag,
            text: self.text.to_owned(),
            column: self.text.get(..offset).map_or(1, |s| s.chars().count() + 1),
            message,
            expected: self.expected,
        }
    }

    /// Each part's fields with their byte offsets; every part must have `n` fields.
    fn parts(&self, n: usize) -> Result<Vec<Vec<(usize, &'a str)>>, StagesError> {
        let mut out = Vec::new();
        let mut offset = 0;
        for part in self.text.split(',') {
            let mut fields = Vec::new();
            let mut at = offset;
            for field in part.split(':') {
                fields.push((at, field.trim()));
                at += field.len() + 1;
            }
            if fields.len() != n {
                let message = format!("stage {part:?} has {} fields", fields.len());
                return Err(self.fail(offset, message));
            }
            out.push(fields);
            offset += part.len() + 1;
        }
        Ok(out)
    }

    fn duration(&self, (at, field): (usize, &str)) -> Result<Duration, StagesError> {
        // Seconds as a number (0.5) or a time span (2m), as --stop-timeout takes them.
        match crate::cli::parse_seconds(field) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(self.fail(at, "a stage lasts more than 0 s".to_owned())),
            Err(e) => Err(self.fail(at, format!("bad duration {field:?}: {e}"))),
        }
    }
}

/// Reads `30s:50:5,2m:500:100,30s:50:5`: each stage's duration, users and spawn rate.
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, StagesError> {
    let list = FieldList {
        flag: "--stages",
        expected: "DURATION:USERS:RATE",
        text,
    };
    let mut stages = Vec::new();
    for f in list.parts(3)? {
        let duration = list.duration(f[0])?;
        let users = f[1].1.parse::<usize>().map_err(|_| {
            list.fail(
                f[1].0,
                format!("bad users {:?}: expected a whole number", f[1].1),
            )
        })?;
        let spawn_rate = f[2]
            .1
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0);
        let Some(spawn_rate) = spawn_rate else {
            let message = format!(
                "bad spawn rate {:?}: expected users per second above 0",
                f[2].1
            );
            return Err(list.fail(f[2].0, message));
        };
        stages.push(Stage {
            duration,
            users,
            spawn_rate,
        });
    }
    Ok(stages)
}

/// Reads `30s:50,1m:200`: each arrival-rate stage's duration and target rate.
pub fn parse_rate_stages(text: &str) -> Result<RateStageList, StagesError> {
    let list = FieldList {
        flag: "--arrival-stages",
        expected: "DURATION:RATE",
        text,
    };
    let mut stages = Vec::new();
    for f in list.parts(2)? {
        let duration = list.duration(f[0])?;
        let target = f[1]
            .1
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0);
        let Some(target) = target else {
            let message = format!(
                "bad rate {:?}: expected iterations per second of at least 0",
                f[1].1
            );
            return Err(list.fail(f[1].0, message));
        };
        stages.push(RateStage { duration, target });
    }
    Ok(RateStageList(stages))
}

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
    pub rate_step: Option<crate::breakpoint::RateStep>,
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
    Bound(#[from] crate::criteria::CriteriaError),
    /// A bad `--breakpoint-fail-ratio`.
    #[error("bad --breakpoint-fail-ratio {0}: expected a ratio between 0 and 1")]
    FailRatio(f64),
}

/// The default failure-ratio bound of a breakpoint search without bounds.
pub const BREAKPOINT_FAIL_RATIO: f64 = 0.05;

/// The plan and breakpoint rule the flags ask for. Precedence: `--arrival-rate`, then
/// `--stages` or `--shape` (or the step shape for `--breakpoint`), then the scenario's
/// `[[stages]]` or `[arrival]`, then `-u`/`-r`.
pub fn plan_from_flags(
    flags: &PlanFlags,
    scenario: Option<&LoadPlan>,
) -> Result<(LoadPlan, Option<crate::breakpoint::Breakpoint>), PlanError> {
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
                .unwrap_or(crate::breakpoint::RateStep::Factor(2.0));
            let rates = crate::breakpoint::rate_steps(rate, step, flags.rate_steps.unwrap_or(6));
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
    let rule = crate::breakpoint::Breakpoint::bounds(fail_ratio, flags.breakpoint_p95_ms)?;
    Ok((plan, Some(rule)))
}

/// The pool's bound when `--arrival-rate` is given without `--max-users`.
pub const DEFAULT_MAX_USERS: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_with_positions() {
        let s = parse_stages("30s:50:5,2m:500:100,30s:50:5").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[1],
            Stage {
                duration: Duration::from_secs(120),
                users: 500,
                spawn_rate: 100.0
            }
        );
        let e = parse_stages("30s:50:5,2m:many:100").unwrap_err();
        assert_eq!(e.column, 13);
        assert!(e.message.contains("\"many\""), "{e}");
        let e = parse_stages("30s:50:5,2m:500:0").unwrap_err();
        assert_eq!(e.column, 17);
        assert_eq!(parse_stages("1x:1:1").unwrap_err().column, 1);
        assert!(parse_stages("30s:50").is_err());
        assert!(parse_stages("0s:5:1").is_err());
    }

    #[test]
    fn builtin_shapes_are_the_guides() {
        let spike = builtin("spike", STEP_TIME).unwrap();
        assert_eq!(
            spike
                .iter()
                .map(|s| (s.duration.as_secs(), s.users, s.spawn_rate))
                .collect::<Vec<_>>(),
            [(300, 50, 5.0), (120, 500, 100.0), (300, 50, 5.0)]
        );
        let soak = builtin("soak", STEP_TIME).unwrap();
        assert_eq!((soak[0].duration.as_secs(), soak[0].users), (86_400, 100));
        let step = builtin("step", Duration::from_secs(60)).unwrap();
        assert_eq!(
            step.iter().map(|s| s.users).collect::<Vec<_>>(),
            [100, 200, 400, 800, 1600, 3200]
        );
        assert!(step
            .iter()
            .all(|s| s.duration.as_secs() == 60 && s.spawn_rate == 50.0));
        assert!(builtin("wave", STEP_TIME).is_none());
    }
}
