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

use bytes::Bytes;
use http::Uri;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::iterations::IterationLimit;
use crate::engine::session::Connector;
use crate::engine::session::{Exchange, Session};
use crate::plan::arrival::Correction;
use crate::plan::scenario::{RequestSpec, UserClass};
use crate::plan::target::request_name;
use crate::stats::{RequestKey, RequestLog, StatsHub};

/// Everything one user needs, handed over when it starts.
#[derive(Debug)]
pub(crate) struct UserContext {
    /// The user's index in start order (0-based); also picks its stats shard.
    pub index: usize,
    /// Index of its class in the scenario.
    pub class_index: usize,
    /// Its class.
    pub class: Arc<UserClass>,
    /// The run's seed; the user's RNG is seeded from it and the index.
    pub seed: u64,
    /// How requests reach the target (and any other host a URL names).
    pub connector: Arc<Connector>,
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
    /// The run's shared budget of task iterations (`-i`), if any.
    pub iterations: Option<Arc<IterationLimit>>,
}

/// One task a user ran, for the harness to check waits and the spawn timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskRun {
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
pub(crate) struct UserReport {
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
pub(crate) fn user_seed(seed: u64, index: usize) -> u64 {
    use seeding::mix64;
    mix64(seed ^ mix64(index as u64))
}

/// A user's state between tasks: its class, RNG, HTTP session and stats keys. The closed
/// loop below drives it; an open-model executor can drive the same state one task at
/// a time.
#[derive(Debug)]
pub(crate) struct VirtualUser {
    index: usize,
    class: Arc<UserClass>,
    rng: SmallRng,
    session: Session,
    recorder: Recorder,
    /// What each request of each task needs that does not change between sends, built
    /// once so that sending a fixed request allocates nothing of ours. The class's
    /// `on_start` requests come last, at index `tasks.len()`.
    prepared: Vec<Vec<Prepared>>,
    /// The stats key of an unnamed request with a drawn path, refilled in place.
    scratch_key: RequestKey,
    /// The rendered path of a request with a drawn path, reused.
    path: String,
    clock: WallClock,
}

/// The fixed parts of one request of the scenario.
#[derive(Debug)]
struct Prepared {
    /// The stats key, when it does not depend on the drawn values (a `name`, or a fixed
    /// path).
    key: Option<RequestKey>,
    /// The parsed request target of a fixed path.
    uri: Option<Uri>,
    /// The body of a fixed body template.
    body: Option<Bytes>,
}

impl Prepared {
    fn new(spec: &RequestSpec, session: &Session) -> Self {
        // A literal template draws nothing, so any RNG renders it.
        let mut no_draws = SmallRng::seed_from_u64(0);
        let fixed_path = spec
            .path
            .is_literal()
            .then(|| spec.path.render(&mut no_draws));
        let key = match (&spec.name, &fixed_path) {
            (Some(name), _) => Some(RequestKey::new(spec.method.as_str(), name.as_str())),
            // Locust names an unnamed request by its path and query.
            (None, Some(path)) => Some(RequestKey::new(spec.method.as_str(), request_name(path))),
            (None, None) => None,
        };
        let uri = fixed_path.and_then(|p| session.prepare_uri(&p));
        let body = spec
            .body
            .as_ref()
            .filter(|b| b.is_literal())
            .map(|b| Bytes::from(b.render(&mut no_draws)));
        Self { key, uri, body }
    }
}

/// Turns the monotonic end of an exchange into wall-clock time without reading the
/// system clock per request: a pair of readings taken together, renewed every few
/// seconds so the two clocks cannot drift apart noticeably.
#[derive(Debug, Clone, Copy)]
struct WallClock {
    instant: Instant,
    system: SystemTime,
}

/// How long one pair of clock readings is used before it is renewed.
const WALL_CLOCK_RENEWAL: Duration = Duration::from_secs(5);

impl WallClock {
    fn now() -> Self {
        Self {
            instant: Instant::now(),
            system: SystemTime::now(),
        }
    }

    /// The wall-clock time of `t` (which is not long before the last renewal).
    fn at(&mut self, t: Instant) -> SystemTime {
        let since = t.saturating_duration_since(self.instant);
        if since >= WALL_CLOCK_RENEWAL {
            *self = Self {
                instant: t,
                system: SystemTime::now(),
            };
            return self.system;
        }
        let before = self.instant.saturating_duration_since(t);
        (self.system + since)
            .checked_sub(before)
            .unwrap_or(self.system)
    }
}

impl VirtualUser {
    /// A user of `class` with index `index`, its RNG seeded from `seed` and the index.
    pub(crate) fn new(
        index: usize,
        class: Arc<UserClass>,
        seed: u64,
        connector: Arc<Connector>,
        request_timeout: Duration,
        recorder: Recorder,
    ) -> Self {
        // Default headers are set on start, as a locustfile's on_start sets them.
        let mut session = Session::new(connector, class.headers.clone(), request_timeout);
        if let Some(log) = &recorder.log {
            session.send_request_ids(log.next_session());
        }
        let prepared = class
            .tasks
            .iter()
            .map(|t| t.requests.as_slice())
            .chain([class.on_start.as_slice()])
            .map(|requests| {
                requests
                    .iter()
                    .map(|r| Prepared::new(r, &session))
                    .collect()
            })
            .collect();
        Self {
            index,
            rng: SmallRng::seed_from_u64(user_seed(seed, index)),
            class,
            session,
            recorder,
            prepared,
            scratch_key: RequestKey::new(String::new(), String::new()),
            path: String::new(),
            clock: WallClock::now(),
        }
    }

    /// Picks the next task by weight.
    pub(crate) fn pick_task(&mut self) -> usize {
        self.class.pick_task(&mut self.rng)
    }

    /// The wait after a task that took `task_time`.
    pub(crate) fn next_wait(&mut self, task_time: Duration) -> Duration {
        self.class.wait.next(&mut self.rng, task_time)
    }

    /// Runs a task's requests in order, recording each one into the user's shard.
    /// `lag` (how late the iteration started against its schedule) is added to every
    /// response time of the corrected figures; the uncorrected ones, if kept, get the
    /// time from sending to the end of the body. The index one past the last task runs
    /// the class's `on_start` requests.
    pub(crate) async fn run_task(&mut self, task_index: usize, lag: Duration) {
        // Borrow the fields apart: the session is used mutably while keys are read.
        let Self {
            index,
            class,
            rng,
            session,
            recorder,
            prepared,
            scratch_key,
            path,
            clock,
        } = self;
        let requests = match class.tasks.get(task_index) {
            Some(task) => &task.requests,
            None if task_index == class.tasks.len() => &class.on_start,
            None => return,
        };
        let Some(task_prepared) = prepared.get(task_index) else {
            return;
        };
        for (spec, fixed) in requests.iter().zip(task_prepared) {
            let keep_body = crate::plan::scenario::check::needs_body(&spec.checks);
            session.keep_bodies(keep_body);
            for _ in 0..spec.repeat {
                // Values are drawn in the same order as ever (path, then body), so a seed
                // replays the same requests.
                if fixed.uri.is_none() {
                    path.clear();
                    spec.path.render_into(rng, path);
                }
                let body = match (&fixed.body, &spec.body) {
                    (Some(b), _) => Some(b.clone()),
                    (None, Some(template)) => Some(Bytes::from(template.render(rng))),
                    (None, None) => None,
                };
                let key = match &fixed.key {
                    Some(k) => k,
                    None => {
                        scratch_key.method.clear();
                        scratch_key.method.push_str(spec.method.as_str());
                        scratch_key.name.clear();
                        scratch_key.name.push_str(request_name(path));
                        &*scratch_key
                    }
                };
                let method = spec.method.clone();
                let exchange = match &fixed.uri {
                    Some(uri) => {
                        session
                            .request_prepared(method, uri, &key.name, body, &spec.headers)
                            .await
                    }
                    None => {
                        session
                            .request(method, path, &key.name, body, &spec.headers)
                            .await
                    }
                };
                let mut exchange = exchange;
                if !spec.checks.is_empty() {
                    exchange.error = crate::plan::scenario::check::judge(
                        &spec.checks,
                        exchange.status,
                        session.kept_body(),
                        exchange.error.take(),
                    );
                }
                let at = clock.at(exchange.finished);
                recorder.record_at(*index, key, &exchange, lag, at);
            }
        }
    }
}

/// Where a user's figures go: the run's hub (corrected response times when a correction
/// applies), and optionally the uncorrected figures and the current step's figures.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    /// The run's statistics (what every table and file shows).
    pub hub: Arc<StatsHub>,
    /// Response times from the actual send, kept when the run corrects for coordinated
    /// omission.
    pub uncorrected: Option<Arc<StatsHub>>,
    /// The current step's statistics, kept while a breakpoint search runs.
    pub step: Option<Arc<StatsHub>>,
    /// Each request's record, kept when the run logs requests (`--request-log`).
    pub log: Option<Arc<RequestLog>>,
}

impl Recorder {
    /// Records into `hub` only.
    #[cfg(test)]
    pub(crate) fn new(hub: Arc<StatsHub>) -> Self {
        Self {
            hub,
            uncorrected: None,
            step: None,
            log: None,
        }
    }

    /// Records one exchange of user `index` that ended at wall-clock time `now`; `lag`
    /// is added to the corrected figures.
    pub(crate) fn record_at(
        &self,
        index: usize,
        key: &RequestKey,
        exchange: &Exchange,
        lag: Duration,
        now: SystemTime,
    ) {
        let error = exchange.error.as_deref();
        let corrected = exchange.response_time.saturating_add(lag);
        // The client's overhead: what its own machine added to the server's time.
        let overhead = exchange
            .server_time
            .map(|s| exchange.response_time.saturating_sub(s));
        let into = |hub: &StatsHub, time: Duration| {
            let mut shard = hub.shard(index).lock().unwrap_or_else(|e| e.into_inner());
            shard.record(key, time, exchange.content_length, error, now);
            if let Some(o) = overhead {
                shard.record_overhead(key, o);
            }
        };
        into(&self.hub, corrected);
        if let Some(hub) = &self.uncorrected {
            into(hub, exchange.response_time);
        }
        if let Some(hub) = &self.step {
            into(hub, corrected);
        }
        if let (Some(log), Some(id)) = (&self.log, exchange.request_id) {
            log.record(
                index,
                key,
                id,
                exchange
                    .finished
                    .checked_sub(exchange.response_time)
                    .unwrap_or(exchange.finished),
                exchange.response_time,
                exchange.server_time,
            );
        }
    }
}

/// One iteration handed to an open-model user: when it was meant to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Iteration {
    /// The scheduled start.
    pub intended: Instant,
}

/// When a user's iterations start.
#[derive(Debug)]
pub(crate) enum Pace {
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
pub(crate) async fn run_user(mut ctx: UserContext) -> UserReport {
    let mut user = VirtualUser::new(
        ctx.index,
        Arc::clone(&ctx.class),
        ctx.seed,
        Arc::clone(&ctx.connector),
        ctx.request_timeout,
        ctx.recorder.clone(),
    );
    let mut report = UserReport {
        index: ctx.index,
        class_index: ctx.class_index,
        tasks_run: vec![0; ctx.class.tasks.len()],
        trace: Vec::new(),
    };
    // Locust's on_start: once, before the first task (the first wait comes after it
    // and the first task, as in Locust).
    if !ctx.class.on_start.is_empty() {
        let on_start = ctx.class.tasks.len();
        tokio::select! {
            biased;
            () = ctx.kill.cancelled() => return report,
            () = user.run_task(on_start, Duration::ZERO) => {}
        }
    }
    let mut previous = None;
    while let Some(intended) = ctx.pace.next(&mut user, previous, &ctx.stop).await {
        if ctx.iterations.as_ref().is_some_and(|limit| !limit.take()) {
            break;
        }
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
        if let Some(limit) = &ctx.iterations {
            limit.finish();
        }
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

    #[test]
    fn wall_clock_follows_the_monotonic_clock_between_renewals() {
        let t0 = Instant::now();
        let s0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut clock = WallClock {
            instant: t0,
            system: s0,
        };
        let later = t0 + Duration::from_millis(1_500);
        assert_eq!(clock.at(later), s0 + Duration::from_millis(1_500));
        // An exchange that ended just before the readings maps to just before them.
        clock.instant = t0 + Duration::from_millis(10);
        assert_eq!(clock.at(t0), s0 - Duration::from_millis(10));
        // Past the renewal period the pair is read again (the real clock, not s0).
        let renewed = clock.at(t0 + Duration::from_secs(6));
        assert!(renewed > s0 + Duration::from_secs(3600), "{renewed:?}");
        assert_eq!(clock.instant, t0 + Duration::from_secs(6));
    }

    /// A keep-alive HTTP/1.1 server on 127.0.0.1:0 that answers every request with a
    /// two-byte body, for as long as the test's runtime lives.
    async fn ok_server() -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // Answer each complete request (head plus its body) in the buffer.
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let body = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() < end + 4 + body {
                                break;
                            }
                            buf.drain(..end + 4 + body);
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        addr
    }

    /// The keys and counts the recording must show: every request's key computed the
    /// plain way (render the path, then the body, with the user's RNG; a request without
    /// a name is named by its rendered path), as before the fast path existed.
    fn expected_counts(
        class: &UserClass,
        seed: u64,
        index: usize,
        tasks: &[usize],
    ) -> std::collections::BTreeMap<(String, String), u64> {
        let mut rng = SmallRng::seed_from_u64(user_seed(seed, index));
        let mut out = std::collections::BTreeMap::new();
        for &t in tasks {
            for spec in &class.tasks[t].requests {
                for _ in 0..spec.repeat {
                    let path = spec.path.render(&mut rng);
                    let _body = spec.body.as_ref().map(|b| b.render(&mut rng));
                    let name = spec.name.clone().unwrap_or(path);
                    *out.entry((spec.method.as_str().to_owned(), name))
                        .or_default() += 1;
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn the_fast_path_records_the_same_rows_as_plain_rendering() {
        let text = r#"
[classes.Mixed]

[[classes.Mixed.tasks]]
name = "fixed"
weight = 1
requests = [{ method = "GET", path = "/health" }]

[[classes.Mixed.tasks]]
name = "drawn"
weight = 1
requests = [
  { method = "GET", path = "/api/clients/{1..3}" },
  { method = "GET", path = "/api/ml/predict?ticker={AAPL|MSFT}", name = "/api/ml/predict" },
  { method = "POST", path = "/api/trading/execute", body = { client_id = "{1..5}", side = "{buy|sell}" }, repeat = 2 },
  { method = "POST", path = "/api/ml/train", body = { model = "lstm" } },
]
"#;
        let scenario = crate::plan::scenario::Scenario::from_toml("mixed.toml", text).unwrap();
        let class = Arc::new(scenario.classes[0].clone());
        let addr = ok_server().await;
        let target = crate::engine::session::tests::connector(&format!("http://{addr}"));
        let hub = Arc::new(StatsHub::new(1));
        let (seed, index) = (7, 3);
        let mut user = VirtualUser::new(
            index,
            Arc::clone(&class),
            seed,
            target,
            Duration::from_secs(10),
            Recorder::new(Arc::clone(&hub)),
        );
        // Tasks are chosen here, not drawn, so the RNG only serves the templates.
        let tasks = [0, 1, 1, 0, 1, 1, 1, 0, 1, 1];
        for &t in &tasks {
            user.run_task(t, Duration::ZERO).await;
        }
        let shard = hub.shard(index).lock().unwrap();
        let recorded: std::collections::BTreeMap<(String, String), u64> = shard
            .entries
            .iter()
            .filter(|(_, e)| e.num_requests() > 0)
            .map(|(k, e)| ((k.method.clone(), k.name.clone()), e.num_requests()))
            .collect();
        assert_eq!(recorded, expected_counts(&class, seed, index, &tasks));
        assert!(shard.errors.is_empty(), "{:?}", shard.errors);
        let bytes: u64 = shard
            .entries
            .values()
            .map(|e| e.total_content_length())
            .sum();
        assert_eq!(bytes, 2 * recorded.values().sum::<u64>());
    }
}
