//! The worker's users: the engine's user pool, grown and shrunk per class to the
//! absolute counts the master's `spawn` messages give, and the statistics they record
//! into (the worker's whole-run totals, and the totals since its last report).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::engine::pool::{UserEnv, UserPool};
use crate::engine::session::{Connector, Resolver};
use crate::engine::user::Recorder;
use crate::plan::scenario::Scenario;
use crate::plan::target::{Target, TlsOptions};
use crate::stats::{Aggregator, Snapshot, StatsHub};

/// What a worker runs its users with.
#[derive(Debug, Clone)]
pub(crate) struct CrewConfig {
    /// The target when the master names no host.
    pub target: Target,
    /// How TLS connections are verified.
    pub tls: TlsOptions,
    /// How host names are resolved.
    pub resolver: Resolver,
    /// Seed of every user's RNG.
    pub seed: u64,
    /// Longest wait for a whole response.
    pub request_timeout: Duration,
    /// Stats stripes.
    pub shards: usize,
}

/// The users running on this worker and their statistics.
#[derive(Debug)]
pub(crate) struct Crew {
    scenario: Arc<Scenario>,
    env: UserEnv,
    pool: UserPool,
    hub: Arc<StatsHub>,
    /// Every request since the test started, for the worker's own report.
    totals: Aggregator,
    /// Requests since the last report to the master.
    interval: Aggregator,
    /// Most users running at once.
    pub peak_users: usize,
}

/// A class the master asks for that the scenario lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingClass {
    /// The master's class name.
    pub name: String,
    /// Users the master asked for.
    pub count: u64,
}

impl Crew {
    /// A crew with no users yet.
    pub(crate) fn new(scenario: Scenario, config: &CrewConfig) -> Self {
        let scenario = Arc::new(scenario);
        let hub = Arc::new(StatsHub::new(config.shards.max(1)));
        let now = SystemTime::now();
        let env = UserEnv {
            scenario: Arc::clone(&scenario),
            connector: Arc::new(Connector::new(
                config.target.clone(),
                config.tls.clone(),
                config.resolver.clone(),
            )),
            recorder: Recorder {
                hub: Arc::clone(&hub),
                uncorrected: None,
                step: None,
                log: None,
            },
            seed: config.seed,
            request_timeout: config.request_timeout,
            stop_users: CancellationToken::new(),
            kill_users: CancellationToken::new(),
            test_start: Instant::now(),
            trace_limit: 0,
            user_count: Arc::new(AtomicUsize::new(0)),
            graceful: false,
            iterations: None,
        };
        Self {
            pool: UserPool::new(&scenario),
            scenario,
            env,
            hub,
            totals: Aggregator::new(now),
            interval: Aggregator::new(now),
            peak_users: 0,
        }
    }

    /// A new test: statistics start from zero (Locust's worker clears them on the first
    /// `spawn` after being ready).
    pub(crate) fn start_test(&mut self) {
        let now = SystemTime::now();
        self.collect();
        self.totals.reset(now);
        self.interval = Aggregator::new(now);
        self.env.test_start = Instant::now();
    }

    /// Users started from now on go to `target`, with the same TLS and resolver.
    pub(crate) fn set_target(&mut self, target: Target) {
        self.env.connector = Arc::new(self.env.connector.retargeted(target));
    }

    /// Stopped users may finish their task when `graceful` (a stop timeout was given).
    pub(crate) fn set_graceful(&mut self, graceful: bool) {
        self.env.graceful = graceful;
    }

    /// Starts and stops users until each class runs the count asked for; returns the
    /// classes asked for that the scenario does not have.
    pub(crate) fn apply(&mut self, counts: &BTreeMap<String, u64>) -> Vec<MissingClass> {
        let mut missing = Vec::new();
        for (name, &want) in counts {
            let Some(class) = self.scenario.classes.iter().position(|c| &c.name == name) else {
                if want > 0 {
                    missing.push(MissingClass {
                        name: name.clone(),
                        count: want,
                    });
                }
                continue;
            };
            let want = usize::try_from(want).unwrap_or(usize::MAX);
            let running = self.pool.running_per_class(self.scenario.classes.len())[class];
            for _ in running..want {
                self.pool.grow_class(&self.env, class);
            }
            for _ in want..running {
                self.pool.stop_newest_of(class, self.env.graceful);
            }
        }
        let running = self.pool.running();
        self.peak_users = self.peak_users.max(running);
        self.env.user_count.store(running, Ordering::Relaxed);
        missing
    }

    /// Stops every user (at once, or after their task when graceful).
    pub(crate) fn stop_all(&mut self) {
        let zero: BTreeMap<String, u64> = self
            .scenario
            .classes
            .iter()
            .map(|c| (c.name.clone(), 0))
            .collect();
        self.apply(&zero);
    }

    /// Waits up to `within` for stopped users to finish their current task.
    pub(crate) async fn settle(&mut self, within: Duration) {
        self.pool.wait_retired(within).await;
    }

    /// Users running per class: every class of the scenario, and the names in `asked`
    /// (zero for those it lacks), as the master expects them.
    pub(crate) fn class_counts(&self, asked: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        let running = self.pool.running_per_class(self.scenario.classes.len());
        let mut out: BTreeMap<String, u64> = asked.keys().map(|k| (k.clone(), 0)).collect();
        for (class, n) in self.scenario.classes.iter().zip(running) {
            out.insert(class.name.clone(), n as u64);
        }
        out
    }

    /// Names of the scenario's classes.
    pub(crate) fn class_names(&self) -> Vec<String> {
        self.scenario
            .classes
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    /// Drains what users recorded into the totals and the interval, and adds a history
    /// row for this second.
    pub(crate) fn collect(&mut self) {
        self.totals.collect_also(&self.hub, &mut self.interval);
    }

    /// Once a second: collect, and keep a history row as a run's report has.
    pub(crate) fn tick(&mut self) {
        self.collect();
        let snapshot = self.totals.snapshot(SystemTime::now(), self.users());
        self.totals.push_history(&snapshot);
    }

    /// What was recorded since the last report (its `start` is that report's time).
    pub(crate) fn interval(&self) -> Snapshot {
        self.interval.snapshot(SystemTime::now(), self.users())
    }

    /// The interval was sent: the next one starts now.
    pub(crate) fn interval_sent(&mut self) {
        self.interval = Aggregator::new(SystemTime::now());
    }

    /// The worker's whole-run statistics, with a last history row unless this second
    /// already has one.
    pub(crate) fn totals(&mut self) -> Snapshot {
        self.collect();
        let now = SystemTime::now();
        let snapshot = self.totals.snapshot(now, self.users());
        let second = crate::stats::unix_seconds(now);
        if snapshot.history.iter().last().map(|r| r.timestamp) == Some(second) {
            return snapshot;
        }
        self.totals.push_history(&snapshot);
        self.totals.snapshot(now, self.users())
    }

    fn users(&self) -> u32 {
        u32::try_from(self.pool.running()).unwrap_or(u32::MAX)
    }

    /// Stops every user at once, waits for them, and returns the final totals.
    pub(crate) async fn finish(mut self) -> Snapshot {
        self.env.stop_users.cancel();
        self.env.kill_users.cancel();
        let pool = std::mem::replace(&mut self.pool, UserPool::new(&self.scenario));
        let _ = pool.join().await;
        self.env.user_count.store(0, Ordering::Relaxed);
        self.totals()
    }
}
