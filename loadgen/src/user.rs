//! What a user does: Locust's `HttpUser` loop. Pick a task by weight, run its requests
//! in order (recording each into the user's stats shard), then wait; the wait comes
//! after each task, never before the first. A user stops when asked: at once while
//! waiting, after its current task otherwise, or at once when killed.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

use crate::scenario::UserClass;
use crate::session::Session;
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
    pub hub: Arc<StatsHub>,
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
    hub: Arc<StatsHub>,
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
        hub: Arc<StatsHub>,
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
            hub,
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
    pub async fn run_task(&mut self, task_index: usize) {
        // Borrow the fields apart: the session is used mutably while keys are read.
        let Self {
            index,
            class,
            rng,
            session,
            hub,
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
                let mut shard = hub.shard(*index).lock().unwrap_or_else(|e| e.into_inner());
                shard.record(
                    key,
                    exchange.response_time,
                    exchange.content_length,
                    exchange.error.as_deref(),
                    SystemTime::now(),
                );
            }
        }
    }
}

/// Runs a user until it is stopped or killed: the closed loop of a Locust user.
pub async fn run_user(ctx: UserContext) -> UserReport {
    let mut user = VirtualUser::new(
        ctx.index,
        Arc::clone(&ctx.class),
        ctx.seed,
        Arc::clone(&ctx.target),
        ctx.request_timeout,
        Arc::clone(&ctx.hub),
    );
    let mut report = UserReport {
        index: ctx.index,
        class_index: ctx.class_index,
        tasks_run: vec![0; ctx.class.tasks.len()],
        trace: Vec::new(),
    };
    while !ctx.stop.is_cancelled() {
        let task_index = user.pick_task();
        let started = Instant::now();
        let completed = tokio::select! {
            biased;
            () = ctx.kill.cancelled() => false,
            () = user.run_task(task_index) => true,
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
        let wait = user.next_wait(ended - started);
        if wait.is_zero() {
            // Without a wait, let other users run between tasks.
            tokio::task::yield_now().await;
        } else {
            tokio::select! {
                () = ctx.stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
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
