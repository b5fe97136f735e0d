//! Who decides how many users run: the load plan (Locust's users and spawn rate, a list
//! of stages, or a fixed arrival rate) and the controller that starts and stops users to
//! follow it. What a user does lives in `user`; the arrival-rate scheduler in `arrival`;
//! the breakpoint search's per-step judgement in `breakpoint`; when the run ends is
//! decided in `runner`.
//!
//! Users are started in steps of max(1, floor(rate)) spaced so the average is the rate,
//! the first at once; ramping down stops the newest users first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::arrival::{ArrivalPlan, ArrivalReport};
use crate::breakpoint::{Breakpoint, BreakpointReport, StepJudge};
use crate::dispatch::{ramp_steps, ClassDispatcher};
use crate::scenario::Scenario;
use crate::target::Target;
use crate::user::{run_user, Correction, Pace, Recorder, UserContext, UserReport};

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
    fn stages(&self) -> Vec<(Option<Duration>, usize, f64)> {
        match self {
            Self::Users { users, spawn_rate } => vec![(None, *users, *spawn_rate)],
            Self::Stages(stages) => stages
                .iter()
                .map(|s| (Some(s.duration), s.users, s.spawn_rate))
                .collect(),
            Self::Arrival(_) => Vec::new(),
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
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StageMark {
    /// Stage index.
    pub stage: usize,
    /// When it started, from the test start (seconds in JSON).
    #[serde(serialize_with = "crate::breakpoint::seconds")]
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

/// What the controller hands back when the run stops.
#[derive(Debug)]
pub struct UserPool {
    /// Running users, in start order.
    running: Vec<RunningUser>,
    /// Users stopped by a ramp-down, still finishing.
    retired: Vec<JoinHandle<UserReport>>,
    /// Users started per class index.
    pub started_per_class: Vec<usize>,
    /// Every spawn and stop step.
    pub steps: Vec<SpawnStep>,
    /// Where each stage started.
    pub stage_marks: Vec<StageMark>,
    /// The breakpoint search's steps, when one ran.
    pub breakpoint: Option<BreakpointReport>,
    /// The arrival-rate scheduler's counts, when the plan was one.
    pub arrival: Option<ArrivalReport>,
    dispatcher: ClassDispatcher,
    /// Class of each slot handed out so far (slot n: the n-th running user).
    slot_classes: Vec<usize>,
    /// Index of the next user started (never reused: it seeds the user's RNG).
    next_index: usize,
}

#[derive(Debug)]
struct RunningUser {
    class_index: usize,
    stop: CancellationToken,
    kill: CancellationToken,
    handle: JoinHandle<UserReport>,
}

/// What users share, handed to the controller.
#[derive(Debug, Clone)]
pub struct UserEnv {
    /// The scenario (classes in name order).
    pub scenario: Arc<Scenario>,
    /// The target.
    pub target: Arc<Target>,
    /// Where users record.
    pub recorder: Recorder,
    /// The run's seed.
    pub seed: u64,
    /// Timeout for each request.
    pub request_timeout: Duration,
    /// Parent of every user's stop token (stop after the current task).
    pub stop_users: CancellationToken,
    /// Parent of every user's kill token (stop at once).
    pub kill_users: CancellationToken,
    /// The test's start.
    pub test_start: Instant,
    /// Task events kept per user.
    pub trace_limit: usize,
    /// Running users, read by the aggregator for its snapshots.
    pub user_count: Arc<AtomicUsize>,
    /// Whether stopped users may finish their task (a stop timeout was given).
    pub graceful: bool,
}

/// Signals from the controller to the run loop.
#[derive(Debug, Clone, Default)]
pub struct ControllerSignals {
    /// Cancelled when the first ramp-up completes (Locust resets stats then).
    pub ramped_up: CancellationToken,
    /// Cancelled when a staged plan has run its last stage.
    pub finished: CancellationToken,
}

/// A new target while running (a web UI's "edit"): ramp to `users` at `spawn_rate` and
/// hold there, leaving the plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retarget {
    /// Users to ramp to.
    pub users: usize,
    /// Users started (or stopped) per second.
    pub spawn_rate: f64,
}

/// Where new targets come from while running.
pub type RetargetReceiver = tokio::sync::watch::Receiver<Option<Retarget>>;

/// Follows the plan until `halt` is cancelled (or the stages end), then returns the pool.
/// A value sent on `retarget` replaces the rest of the plan. With `breakpoint`, each
/// stage is judged when it ends and the plan stops at the first that fails (the step
/// figures come from the recorder's `step` hub, which must then be set).
pub async fn control(
    plan: LoadPlan,
    env: UserEnv,
    halt: CancellationToken,
    signals: ControllerSignals,
    mut retarget: Option<RetargetReceiver>,
    breakpoint: Option<Breakpoint>,
) -> UserPool {
    let mut pool = UserPool {
        running: Vec::new(),
        retired: Vec::new(),
        started_per_class: vec![0; env.scenario.classes.len()],
        steps: Vec::new(),
        stage_marks: Vec::new(),
        breakpoint: None,
        arrival: None,
        dispatcher: ClassDispatcher::new(&env.scenario.classes),
        slot_classes: Vec::new(),
        next_index: 0,
    };
    if let LoadPlan::Arrival(arrival) = &plan {
        let report =
            crate::arrival::drive(arrival, &env, &mut pool, &halt, &signals, breakpoint).await;
        pool.arrival = Some(report);
        return pool;
    }
    let mut judge = match (breakpoint, &env.recorder.step) {
        (Some(rule), Some(hub)) => Some(StepJudge::new(rule, Arc::clone(hub))),
        _ => None,
    };
    let mut stages: VecDeque<(Option<Duration>, usize, f64)> = plan.stages().into();
    let mut stage_index = 0usize;
    'stages: while let Some((duration, users, rate)) = stages.pop_front() {
        let stage_start = Instant::now();
        let stage_end = duration.map(|d| stage_start + d);
        pool.stage_marks.push(StageMark {
            stage: stage_index,
            at: stage_start.duration_since(env.test_start),
            label: format!("{users} users at {rate}/s"),
        });
        if let Some(judge) = &mut judge {
            judge.begin_step();
        }
        let current = pool.running.len();
        let up = users >= current;
        let change = users.abs_diff(current);
        if change > 0 {
            tracing::info!("Ramping to {users} users at a rate of {rate:.2} per second");
        }
        for (step_index, step) in ramp_steps(change, rate).into_iter().enumerate() {
            let when = stage_start + step.at;
            if stage_end.is_some_and(|end| when >= end) {
                break;
            }
            tokio::select! {
                () = halt.cancelled() => return pool.with_judge(judge),
                Some(t) = next_retarget(&mut retarget) => {
                    stages = VecDeque::from([(None, t.users, t.spawn_rate)]);
                    stage_index += 1;
                    continue 'stages;
                }
                () = tokio::time::sleep_until(when.into()) => {}
            }
            let before = pool.running.len();
            for _ in 0..step.count {
                let changed = if up {
                    pool.grow(&env)
                } else {
                    pool.stop_newest(env.graceful)
                };
                if !changed {
                    break;
                }
            }
            let after = pool.running.len();
            env.user_count.store(after, Ordering::Relaxed);
            pool.steps.push(SpawnStep {
                stage: stage_index,
                step: step_index,
                at: Instant::now().duration_since(env.test_start),
                delta: after as i64 - before as i64,
                running: after,
            });
        }
        tracing::info!("All users spawned: {}", pool.describe(&env.scenario));
        signals.ramped_up.cancel();
        tokio::select! {
            () = halt.cancelled() => return pool.with_judge(judge),
            Some(t) = next_retarget(&mut retarget) => {
                stages = VecDeque::from([(None, t.users, t.spawn_rate)]);
            }
            () = sleep_until_opt(stage_end) => {
                let failed = judge.as_mut().is_some_and(|j| {
                    !j.end_step(stage_index, users, stage_start.elapsed(), pool.running.len())
                });
                if failed {
                    tracing::info!("Step {stage_index} ({users} users) failed: breaking point found");
                    break 'stages;
                }
            }
        }
        stage_index += 1;
    }
    signals.finished.cancel();
    pool.with_judge(judge)
}

/// The next target sent, or never (no receiver, or its sender is gone).
async fn next_retarget(retarget: &mut Option<RetargetReceiver>) -> Option<Retarget> {
    let Some(rx) = retarget else {
        return std::future::pending().await;
    };
    loop {
        if rx.changed().await.is_err() {
            *retarget = None;
            return std::future::pending().await;
        }
        if let Some(t) = *rx.borrow_and_update() {
            return Some(t);
        }
    }
}

/// Sleeps until the deadline, or forever without one.
pub(crate) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

impl UserPool {
    /// The pool with the breakpoint search's steps.
    fn with_judge(mut self, judge: Option<StepJudge>) -> Self {
        self.breakpoint = judge.map(StepJudge::into_report);
        self
    }

    /// Starts a user in the next slot: the class of the n-th running user is the n-th
    /// class the dispatcher hands out, so after a ramp-down (newest users first) a
    /// ramp-up refills the same slots and the split stays as Locust keeps it. False when
    /// only fixed-count classes exist and they are full.
    fn grow(&mut self, env: &UserEnv) -> bool {
        self.grow_with(env, || (Pace::Closed, Correction::None))
            .is_some()
    }

    /// Starts a user in the next slot with the pace and correction `pace` gives; returns
    /// the user's index, or `None` when only full fixed-count classes exist.
    pub(crate) fn grow_with(
        &mut self,
        env: &UserEnv,
        pace: impl FnOnce() -> (Pace, Correction),
    ) -> Option<usize> {
        let slot = self.running.len();
        while self.slot_classes.len() <= slot {
            match self.dispatcher.next_class() {
                Some(c) => self.slot_classes.push(c),
                None => return None,
            }
        }
        let class_index = self.slot_classes[slot];
        let index = self.next_index;
        self.next_index += 1;
        let (pace, correction) = pace();
        self.start(env, index, class_index, pace, correction);
        Some(index)
    }

    fn start(
        &mut self,
        env: &UserEnv,
        index: usize,
        class_index: usize,
        pace: Pace,
        correction: Correction,
    ) {
        let stop = env.stop_users.child_token();
        let kill = env.kill_users.child_token();
        let ctx = UserContext {
            index,
            class_index,
            class: Arc::clone(&env.scenario.classes[class_index]),
            seed: env.seed,
            target: Arc::clone(&env.target),
            request_timeout: env.request_timeout,
            recorder: env.recorder.clone(),
            pace,
            correction,
            stop: stop.clone(),
            kill: kill.clone(),
            test_start: env.test_start,
            trace_limit: env.trace_limit,
        };
        let handle = tokio::spawn(run_user(ctx));
        self.started_per_class[class_index] += 1;
        self.running.push(RunningUser {
            class_index,
            stop,
            kill,
            handle,
        });
    }

    /// Ramping down: the most recently started user goes first. False when none runs.
    fn stop_newest(&mut self, graceful: bool) -> bool {
        let Some(user) = self.running.pop() else {
            return false;
        };
        user.stop.cancel();
        if !graceful {
            user.kill.cancel();
        }
        self.retired.push(user.handle);
        true
    }

    /// Waits for every user (they must have been told to stop) and returns their reports.
    pub async fn join(self) -> Vec<UserReport> {
        let mut reports = Vec::new();
        let handles = self
            .running
            .into_iter()
            .map(|u| u.handle)
            .chain(self.retired);
        for handle in handles {
            // A user that panicked has no report; its requests are already recorded.
            if let Ok(report) = handle.await {
                reports.push(report);
            }
        }
        reports.sort_by_key(|r| r.index);
        reports
    }

    /// Users running now.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Running users per class, as Locust logs them: `{"A": 3, "B": 1} (4 total users)`.
    fn describe(&self, scenario: &Scenario) -> String {
        let mut counts = vec![0usize; scenario.classes.len()];
        for user in &self.running {
            counts[user.class_index] += 1;
        }
        let per_class: Vec<String> = scenario
            .classes
            .iter()
            .zip(counts)
            .map(|(c, n)| format!("\"{}\": {n}", c.name))
            .collect();
        format!(
            "{{{}}} ({} total users)",
            per_class.join(", "),
            self.running.len()
        )
    }
}
