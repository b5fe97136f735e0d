//! The load plan: how many users run over time (Locust's users and spawn rate, a list of
//! stages, or an arrival rate), and the marks a run leaves of it (stage starts, spawn
//! steps). Plain data: the engine follows it, the sinks chart it.

use std::time::Duration;

use crate::plan::arrival::ArrivalPlan;

/// How many users run over time.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadPlan {
    /// Locust's closed model: ramp up to `users` at `spawn_rate` per second, then hold
    /// until the run ends.
    Users {
        /// Target number of users.
        users: usize,
        /// Users started per second.
        spawn_rate: f64,
    },
    /// Stages in order (like a Locust LoadTestShape or k6 stages): each ramps to its
    /// user count at its rate and lasts `duration` from its start; the run ends after
    /// the last one.
    Stages(Vec<Stage>),
    /// The open model: iterations start on a schedule (k6's constant-arrival-rate and
    /// ramping-arrival-rate) on a bounded pool of users.
    Arrival(ArrivalPlan),
}

/// One stage of a staged plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts, ramp included.
    pub duration: Duration,
    /// Users at the end of the ramp.
    pub users: usize,
    /// Users started (or stopped) per second.
    pub spawn_rate: f64,
}

impl LoadPlan {
    /// The plan as closed-model stages; the last may last until the run is stopped
    /// (`None`). An arrival-rate plan has none (its scheduler drives the users).
    pub(crate) fn stages(&self) -> Vec<(Option<Duration>, usize, f64)> {
        match self {
            Self::Users { users, spawn_rate } => vec![(None, *users, *spawn_rate)],
            Self::Stages(stages) => stages
                .iter()
                .map(|s| (Some(s.duration), s.users, s.spawn_rate))
                .collect(),
            Self::Arrival(_) => Vec::new(),
        }
    }

    /// A staged plan's stages as a progress display names them: when each starts from
    /// the run's start (as planned), and what it asks for (`100 users`, `200 it/s`).
    /// Empty for a plan of fewer than two stages (there is no stage to tell apart).
    pub(crate) fn stage_labels(&self) -> Vec<(Duration, String)> {
        let labels: Vec<String> = match self {
            Self::Users { .. } => Vec::new(),
            Self::Stages(stages) => stages
                .iter()
                .map(|s| match s.users {
                    1 => "1 user".to_owned(),
                    n => format!("{n} users"),
                })
                .collect(),
            Self::Arrival(a) => a
                .stages
                .iter()
                .map(|s| format!("{} it/s", s.target))
                .collect(),
        };
        if labels.len() < 2 {
            return Vec::new();
        }
        self.stage_starts().into_iter().zip(labels).collect()
    }

    /// How long a staged plan runs (its stages' durations summed); `None` for a plan that
    /// runs until stopped.
    pub(crate) fn planned_length(&self) -> Option<Duration> {
        match self {
            Self::Stages(stages) if !stages.is_empty() => {
                Some(stages.iter().map(|s| s.duration).sum())
            }
            _ => None,
        }
    }

    /// The most users the plan ever asks for (an arrival-rate plan: its pool's bound).
    pub fn peak_users(&self) -> usize {
        match self {
            Self::Arrival(a) => a.max_users,
            _ => self.stages().iter().map(|s| s.1).max().unwrap_or(0),
        }
    }

    /// The plan with its clock scaled by `factor` (0.01: a 5-minute stage lasts 3 s):
    /// durations are multiplied by it and rates divided by it, so every stage still
    /// reaches the same users (or iterations) as unscaled. The same knob as
    /// `Scenario::scaled`, for running long shapes in seconds.
    pub fn scaled(&self, factor: f64) -> Self {
        match self {
            Self::Users { users, spawn_rate } => Self::Users {
                users: *users,
                spawn_rate: spawn_rate / factor,
            },
            Self::Stages(stages) => Self::Stages(
                stages
                    .iter()
                    .map(|s| Stage {
                        duration: s.duration.mul_f64(factor),
                        users: s.users,
                        spawn_rate: s.spawn_rate / factor,
                    })
                    .collect(),
            ),
            Self::Arrival(a) => Self::Arrival(a.scaled(factor)),
        }
    }

    /// When each stage starts, from the test start, as planned (empty for a plain
    /// users/rate plan). The run's actual marks are in `RunOutcome::stages`.
    pub fn stage_starts(&self) -> Vec<Duration> {
        match self {
            Self::Users { .. } => Vec::new(),
            Self::Stages(stages) => starts(stages.iter().map(|s| s.duration)),
            Self::Arrival(a) => starts(a.stages.iter().map(|s| s.duration)),
        }
    }
}

/// Running sums of durations, from zero.
fn starts(durations: impl Iterator<Item = Duration>) -> Vec<Duration> {
    let mut at = Duration::ZERO;
    durations
        .map(|d| {
            let start = at;
            at += d;
            start
        })
        .collect()
}

/// Where a stage started, for the reports' time charts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageMark {
    /// Stage index.
    pub stage: usize,
    /// When it started, from the test start (seconds in JSON).
    #[serde(
        serialize_with = "crate::timespan::serialize_seconds",
        deserialize_with = "crate::timespan::deserialize_seconds"
    )]
    pub at: Duration,
    /// What it asks for (`500 users at 100/s`, `200 it/s`).
    pub label: String,
}

/// One spawn or stop step, for the harness's spawn-timeline check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnStep {
    /// Stage index (0 for a plain users/rate plan).
    pub stage: usize,
    /// Step index within the stage's ramp.
    pub step: usize,
    /// When the step happened, from the test start.
    pub at: Duration,
    /// Users started (positive) or stopped (negative).
    pub delta: i64,
    /// Users running after the step.
    pub running: usize,
}
