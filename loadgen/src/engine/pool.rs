//! The users running now and what they share: the pool the controllers grow and shrink
//! (closed model in `executor`, open model in `arrival`), the environment handed to each
//! user, and the signals between the controllers and the run loop.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::arrival::ArrivalReport;
use crate::engine::dispatch::ClassDispatcher;
use crate::engine::iterations::IterationLimit;
use crate::engine::session::Connector;
use crate::engine::user::{run_user, Pace, Recorder, UserContext, UserReport};
use crate::plan::arrival::Correction;
use crate::plan::load::{SpawnStep, StageMark};
use crate::plan::scenario::Scenario;
use crate::verdict::breakpoint::{BreakpointReport, StepJudge};

/// What the controller hands back when the run stops.
#[derive(Debug)]
pub(crate) struct UserPool {
    /// Running users, in start order.
    running: Vec<RunningUser>,
    /// Users stopped by a ramp-down, still finishing.
    retired: Vec<JoinHandle<UserReport>>,
    /// Reports of stopped users already waited for.
    finished: Vec<UserReport>,
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
pub(crate) struct UserEnv {
    /// The scenario (classes in name order).
    pub scenario: Arc<Scenario>,
    /// How users reach the target.
    pub connector: Arc<Connector>,
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
    /// The run's shared budget of task iterations (`-i`), if any.
    pub iterations: Option<Arc<IterationLimit>>,
}

/// Signals from the controller to the run loop.
#[derive(Debug, Clone, Default)]
pub(crate) struct ControllerSignals {
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
pub(crate) type RetargetReceiver = tokio::sync::watch::Receiver<Option<Retarget>>;

impl UserPool {
    /// An empty pool for the scenario's classes.
    pub(crate) fn new(scenario: &Scenario) -> Self {
        Self {
            running: Vec::new(),
            retired: Vec::new(),
            finished: Vec::new(),
            started_per_class: vec![0; scenario.classes.len()],
            steps: Vec::new(),
            stage_marks: Vec::new(),
            breakpoint: None,
            arrival: None,
            dispatcher: ClassDispatcher::new(&scenario.classes),
            slot_classes: Vec::new(),
            next_index: 0,
        }
    }
    /// The pool with the breakpoint search's steps.
    pub(crate) fn with_judge(mut self, judge: Option<StepJudge>) -> Self {
        self.breakpoint = judge.map(StepJudge::into_report);
        self
    }

    /// Starts a user in the next slot: the class of the n-th running user is the n-th
    /// class the dispatcher hands out, so after a ramp-down (newest users first) a
    /// ramp-up refills the same slots and the split stays as Locust keeps it. False when
    /// only fixed-count classes exist and they are full.
    pub(crate) fn grow(&mut self, env: &UserEnv) -> bool {
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
            connector: Arc::clone(&env.connector),
            request_timeout: env.request_timeout,
            recorder: env.recorder.clone(),
            pace,
            correction,
            stop: stop.clone(),
            kill: kill.clone(),
            test_start: env.test_start,
            trace_limit: env.trace_limit,
            iterations: env.iterations.clone(),
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
    pub(crate) fn stop_newest(&mut self, graceful: bool) -> bool {
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

    /// Starts one user of class `class_index`, outside the dispatcher's order (a Locust
    /// master decides a worker's classes).
    pub(crate) fn grow_class(&mut self, env: &UserEnv, class_index: usize) {
        let index = self.next_index;
        self.next_index += 1;
        self.start(env, index, class_index, Pace::Closed, Correction::None);
    }

    /// Stops the most recently started user of class `class_index`. False when none of
    /// that class runs.
    pub(crate) fn stop_newest_of(&mut self, class_index: usize, graceful: bool) -> bool {
        let Some(pos) = self
            .running
            .iter()
            .rposition(|u| u.class_index == class_index)
        else {
            return false;
        };
        let user = self.running.remove(pos);
        user.stop.cancel();
        if !graceful {
            user.kill.cancel();
        }
        self.retired.push(user.handle);
        true
    }

    /// Running users per class index.
    pub(crate) fn running_per_class(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0usize; classes];
        for user in &self.running {
            counts[user.class_index] += 1;
        }
        counts
    }

    /// Waits up to `within` for the stopped users to finish their task (a Locust worker
    /// told to quit sends its last report after them); those still busy are left.
    pub(crate) async fn wait_retired(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        let mut busy = Vec::new();
        for mut handle in std::mem::take(&mut self.retired) {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(report)) => self.finished.push(report),
                // A user that panicked has no report; its requests are already recorded.
                Ok(Err(_)) => {}
                Err(_) => busy.push(handle),
            }
        }
        self.retired = busy;
    }

    /// Waits for every user (they must have been told to stop) and returns their reports.
    pub(crate) async fn join(self) -> Vec<UserReport> {
        let mut reports = self.finished;
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
    pub(crate) fn running(&self) -> usize {
        self.running.len()
    }

    /// Running users per class, as Locust logs them: `{"A": 3, "B": 1} (4 total users)`.
    pub(crate) fn describe(&self, scenario: &Scenario) -> String {
        let counts = self.running_per_class(scenario.classes.len());
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
