//! What a user does: one worker loop for every load model. Each iteration picks a task
//! by weight and runs its requests in order, recording each into the user's stats shard.
//! What differs between models is handed to the loop as values:
//!
//! - [`Pace`]: when the next iteration starts. `Closed` is Locust's `HttpUser`: the
//!   class's wait time after each task, never before the first. `Open` takes each
//!   iteration from the arrival-rate scheduler, with the time it was meant to start.
//! - [`Correction`]: whether a response time counts from the iteration's intended start
//!   (coordinated omission corrected, as wrk2 does) or from the moment it was sent.
//! - [`Recorder`]: where the figures go (the run's hub, plus the uncorrected figures and
//!   the current step's figures when a run keeps them).
//!
//! A user stops when asked: at once while waiting, after its current task otherwise, or
//! at once when killed.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::scenario::UserClass;
use crate::session::{Exchange, Session};
use crate::stats::{RequestKey, StatsHub};
use crate::target::Target;

/// Everything one user needs, handed over when it starts.
#[derive(Debug)]
pub struct UserContext {
    /// The user's index in start order (0-based); also picks its stats shard.
    pub index: usize,
    /// Index of its class in the scenario.
    pub class_index: usize,
    /// Its class.
    pub class: Arc<UserClass>,
    /// The run's seed; the user's RNG is seeded from it and the index.
    pub seed: u64,
    /// Where requests go.
    pub target: Arc<Target>,
    /// Longest wait for a whole response.
    pub request_timeout: Duration,
    /// Where requests are recorded.
    pub recorder: Recorder,
    /// When iterations start.
    pub pace: Pace,
    /// Where response times count from.
    pub correction: Correction,
    /// Cancelled to stop after the current task (or at once while waiting).
    pub stop: CancellationToken,
    /// Cancelled to stop at once, even inside a task.
    pub kill: CancellationToken,
    /// The test's start, which trace times count from.
    pub test_start: Instant,
    /// Most task events this user keeps (0: no trace).
    pub trace_limit: usize,
}

/// One task a user ran, for the harness to check waits and the spawn timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRun {
    /// The user's index.
    pub user: usize,
    /// Index of the user's class.
    pub class_index: usize,
    /// Index of the task in its class.
    pub task_index: usize,
    /// When the task started, from the test start.
    pub start: Duration,
    /// When it ended.
    pub end: Duration,
}

/// What a user did, returned when it stops.
#[derive(Debug, Clone)]
pub struct UserReport {
    /// The user's index.
    pub index: usize,
    /// Index of its class.
    pub class_index: usize,
    /// Completed tasks, per task index.
    pub tasks_run: Vec<u64>,
    /// The first `trace_limit` tasks it ran.
    pub trace: Vec<TaskRun>,
}

/// A user's RNG seed: the run seed and the index, mixed so that neighbouring seeds and
/// indices give unrelated streams.
pub fn user_seed(seed: u64, index: usize) -> u64 {
    splitmix64(seed ^ splitmix64(index as u64))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A user's state between tasks: its class, RNG, HTTP session and stats keys. The closed
/// loop below drives it; an open-model executor can drive the same state one task at
/// a time.
#[derive(Debug)]
pub struct VirtualUser {
    index: usize,
    class: Arc<UserClass>,
    rng: SmallRng,
    session: Session,
    recorder: Recorder,
    /// Stats keys of requests with a fixed name, built once rather than per request.
    keys: Vec<Vec<Option<RequestKey>>>,
}

impl VirtualUser {
    /// A user of `class` with index `index`, its RNG seeded from `seed` and the index.
    pub fn new(
        index: usize,
        class: Arc<UserClass>,
        seed: u64,
        target: Arc<Target>,
        request_timeout: Duration,
        recorder: Recorder,
    ) -> Self {
        let keys = class
            .tasks
            .iter()
            .map(|t| {
                t.requests
                    .iter()
                    .map(|r| {
                        r.name
                            .as_ref()
                            .map(|n| RequestKey::new(r.method.as_str(), n.as_str()))
                    })
                    .collect()
            })
            .collect();
        // Default headers are set on start, as a locustfile's on_start sets them.
        let session = Session::new(target, class.headers.clone(), request_timeout);
        Self {
            index,
            rng: SmallRng::seed_from_u64(user_seed(seed, index)),
            class,
            session,
            recorder,
            keys,
        }
    }

    /// Picks the next task by weight.
    pub fn pick_task(&mut self) -> usize {
        self.class.pick_task(&mut self.rng)
    }

    /// The wait after a task that took `task_time`.
    pub fn next_wait(&mut self, task_time: Duration) -> Duration {
        self.class.wait.next(&mut self.rng, task_time)
    }

    /// Runs a task's requests in order, recording each one into the user's shard.
    /// `lag` (how late the iteration started against its schedule) is added to every
    /// response time of the corrected figures; the uncorrected ones, if kept, get the
    /// time from sending to the end of the body.
    pub async fn run_task(&mut self, task_index: usize, lag: Duration) {
        // Borrow the fields apart: the session is used mutably while keys are read.
        let Self {
            index,
            class,
            rng,
            session,
            recorder,
            keys,
        } = self;
        let (Some(task), Some(task_keys)) = (class.tasks.get(task_index), keys.get(task_index))
        else {
            return;
        };
        let mut path = String::new();
        for (spec, fixed_key) in task.requests.iter().zip(task_keys) {
            for _ in 0..spec.repeat {
                path.clear();
                spec.path.render_into(rng, &mut path);
                let body = spec.body.as_ref().map(|b| b.render(rng));
                let rendered_key;
                let key = match fixed_key {
                    Some(k) => k,
                    None => {
                        // Locust names an unnamed request by its path and query.
                        rendered_key = RequestKey::new(spec.method.as_str(), path.as_str());
                        &rendered_key
                    }
                };
                let exchange = session
                    .request(spec.method.clone(), &path, &key.name, body, &spec.headers)
                    .await;
                recorder.record(*index, key, &exchange, lag);
            }
        }
    }
}

/// Where a user's figures go: the run's hub (corrected response times when a correction
/// applies), and optionally the uncorrected figures and the current step's figures.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The run's statistics (what every table and file shows).
    pub hub: Arc<StatsHub>,
    /// Response times from the actual send, kept when the run corrects for coordinated
    /// omission.
    pub uncorrected: Option<Arc<StatsHub>>,
    /// The current step's statistics, kept while a breakpoint search runs.
    pub step: Option<Arc<StatsHub>>,
}

impl Recorder {
    /// Records into `hub` only.
    pub fn new(hub: Arc<StatsHub>) -> Self {
        Self {
            hub,
            uncorrected: None,
            step: None,
        }
    }

    /// Records one exchange of user `index`; `lag` is added to the corrected figures.
    pub fn record(&self, index: usize, key: &RequestKey, exchange: &Exchange, lag: Duration) {
        let now = SystemTime::now();
        let error = exchange.error.as_deref();
        let corrected = exchange.response_time.saturating_add(lag);
        let into = |hub: &StatsHub, time: Duration| {
            let mut shard = hub.shard(index).lock().unwrap_or_else(|e| e.into_inner());
            shard.record(key, time, exchange.content_length, error, now);
        };
        into(&self.hub, corrected);
        if let Some(hub) = &self.uncorrected {
            into(hub, exchange.response_time);
        }
        if let Some(hub) = &self.step {
            into(hub, corrected);
        }
    }
}

/// Where response times count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Correction {
    /// From sending the request, as Locust measures.
    #[default]
    None,
    /// From the iteration's intended start: a late start is charged to every response
    /// of the iteration (coordinated omission corrected, as wrk2 does).
    FromIntendedStart,
}

/// One iteration handed to an open-model user: when it was meant to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iteration {
    /// The scheduled start.
    pub intended: Instant,
}

/// When a user's iterations start.
#[derive(Debug)]
pub enum Pace {
    /// Locust's closed loop: the class's wait time after each task.
    Closed,
    /// The arrival-rate scheduler hands each iteration over; the user says when it is
    /// free again by sending its index on `idle`.
    Open {
        /// Iterations for this user.
        iterations: mpsc::Receiver<Iteration>,
        /// Where the user reports that it is free.
        idle: mpsc::UnboundedSender<usize>,
    },
}

impl Pace {
    /// Waits for the next iteration and returns its intended start, or `None` when the
    /// user must stop. `previous` is the last task's duration (none before the first).
    async fn next(
        &mut self,
        user: &mut VirtualUser,
        previous: Option<Duration>,
        stop: &CancellationToken,
    ) -> Option<Instant> {
        if stop.is_cancelled() {
            return None;
        }
        match self {
            Self::Closed => {
                let Some(task_time) = previous else {
                    return Some(Instant::now());
                };
                let wait = user.next_wait(task_time);
                if wait.is_zero() {
                    // Without a wait, let other users run between tasks.
                    tokio::task::yield_now().await;
                } else {
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                (!stop.is_cancelled()).then(Instant::now)
            }
            Self::Open { iterations, idle } => {
                if previous.is_some() && idle.send(user.index).is_err() {
                    return None;
                }
                tokio::select! {
                    () = stop.cancelled() => None,
                    next = iterations.recv() => next.map(|i| i.intended),
                }
            }
        }
    }
}

/// Runs a user until it is stopped or killed: the one worker loop of every load model.
pub async fn run_user(mut ctx: UserContext) -> UserReport {
    let mut user = VirtualUser::new(
        ctx.index,
        Arc::clone(&ctx.class),
        ctx.seed,
        Arc::clone(&ctx.target),
        ctx.request_timeout,
        ctx.recorder.clone(),
    );
    let mut report = UserReport {
        index: ctx.index,
        class_index: ctx.class_index,
        tasks_run: vec![0; ctx.class.tasks.len()],
        trace: Vec::new(),
    };
    let mut previous = None;
    while let Some(intended) = ctx.pace.next(&mut user, previous, &ctx.stop).await {
        let task_index = user.pick_task();
        let started = Instant::now();
        let lag = match ctx.correction {
            Correction::None => Duration::ZERO,
            Correction::FromIntendedStart => started.saturating_duration_since(intended),
        };
        let completed = tokio::select! {
            biased;
            () = ctx.kill.cancelled() => false,
            () = user.run_task(task_index, lag) => true,
        };
        let ended = Instant::now();
        if !completed {
            break;
        }
        if let Some(n) = report.tasks_run.get_mut(task_index) {
            *n += 1;
        }
        if report.trace.len() < ctx.trace_limit {
            report.trace.push(TaskRun {
                user: ctx.index,
                class_index: ctx.class_index,
                task_index,
                start: started.duration_since(ctx.test_start),
                end: ended.duration_since(ctx.test_start),
            });
        }
        previous = Some(ended - started);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_seeds_differ_and_repeat() {
        assert_eq!(user_seed(1, 2), user_seed(1, 2));
        let seeds: std::collections::HashSet<u64> = (0..4)
            .flat_map(|s| (0..100).map(move |i| user_seed(s, i)))
            .collect();
        assert_eq!(seeds.len(), 400);
    }
}
