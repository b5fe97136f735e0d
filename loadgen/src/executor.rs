//! Who decides how many users run: the load plan (Locust's users and spawn rate, or a
//! list of stages) and the controller that starts and stops users to follow it. What a
//! user does lives in `user`; when the run ends is decided in `runner`.
//!
//! Users are started in steps of max(1, floor(rate)) spaced so the average is the rate,
//! the first at once; ramping down stops the newest users first.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::dispatch::{ramp_steps, ClassDispatcher};
use crate::scenario::Scenario;
use crate::stats::StatsHub;
use crate::target::Target;
use crate::user::{run_user, UserContext, UserReport};

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
    /// The plan as stages; the last may last until the run is stopped (`None`).
    fn stages(&self) -> Vec<(Option<Duration>, usize, f64)> {
        match self {
            Self::Users { users, spawn_rate } => vec![(None, *users, *spawn_rate)],
            Self::Stages(stages) => stages
                .iter()
                .map(|s| (Some(s.duration), s.users, s.spawn_rate))
                .collect(),
        }
    }

    /// The most users the plan ever asks for.
    pub fn peak_users(&self) -> usize {
        self.stages().iter().map(|s| s.1).max().unwrap_or(0)
    }
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
    /// Stats shards.
    pub hub: Arc<StatsHub>,
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
/// A value sent on `retarget` replaces the rest of the plan.
pub async fn control(
    plan: LoadPlan,
    env: UserEnv,
    halt: CancellationToken,
    signals: ControllerSignals,
    mut retarget: Option<RetargetReceiver>,
) -> UserPool {
    let mut pool = UserPool {
        running: Vec::new(),
        retired: Vec::new(),
        started_per_class: vec![0; env.scenario.classes.len()],
        steps: Vec::new(),
        dispatcher: ClassDispatcher::new(&env.scenario.classes),
        slot_classes: Vec::new(),
        next_index: 0,
    };
    let mut stages: VecDeque<(Option<Duration>, usize, f64)> = plan.stages().into();
    let mut stage_index = 0usize;
    'stages: while let Some((duration, users, rate)) = stages.pop_front() {
        let stage_start = Instant::now();
        let stage_end = duration.map(|d| stage_start + d);
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
                () = halt.cancelled() => return pool,
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
            () = halt.cancelled() => return pool,
            Some(t) = next_retarget(&mut retarget) => {
                stages = VecDeque::from([(None, t.users, t.spawn_rate)]);
            }
            () = sleep_until_opt(stage_end) => {}
        }
        stage_index += 1;
    }
    signals.finished.cancel();
    pool
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
    /// Starts a user in the next slot: the class of the n-th running user is the n-th
    /// class the dispatcher hands out, so after a ramp-down (newest users first) a
    /// ramp-up refills the same slots and the split stays as Locust keeps it. False when
    /// only fixed-count classes exist and they are full.
    fn grow(&mut self, env: &UserEnv) -> bool {
        let slot = self.running.len();
        while self.slot_classes.len() <= slot {
            match self.dispatcher.next_class() {
                Some(c) => self.slot_classes.push(c),
                None => return false,
            }
        }
        let class_index = self.slot_classes[slot];
        let index = self.next_index;
        self.next_index += 1;
        self.start(env, index, class_index);
        true
    }

    fn start(&mut self, env: &UserEnv, index: usize, class_index: usize) {
        let stop = env.stop_users.child_token();
        let kill = env.kill_users.child_token();
        let ctx = UserContext {
            index,
            class_index,
            class: Arc::clone(&env.scenario.classes[class_index]),
            seed: env.seed,
            target: Arc::clone(&env.target),
            request_timeout: env.request_timeout,
            hub: Arc::clone(&env.hub),
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
