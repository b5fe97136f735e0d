//! The web UI's state machine: ready -> spawning -> running -> stopping -> stopped (and a
//! new test from stopped). It owns the current run's controls (stop token, retarget and
//! reset senders) and its snapshots receiver; each run is `loadgen::run` in a spawned
//! task. The lock is never held across an await.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Level;

use super::form::SwarmRequest;
use super::logs::LogRing;
use super::{WebConfig, CONNECT_CHECK_TIMEOUT};
use crate::engine::pool::Retarget;
use crate::engine::session::Resolver;
use crate::plan::load::{LoadPlan, StageMark};
use crate::plan::scenario::Scenario;
use crate::plan::target::Target;
use crate::sinks::json::RunSettings;
use crate::stats::Snapshot;

/// Where the web UI's test stands (Locust's state names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// No test has run yet.
    Ready,
    /// Users are being started or stopped towards the target.
    Spawning,
    /// Every user asked for is running.
    Running,
    /// Stop was asked; users are finishing.
    Stopping,
    /// The last test ended.
    Stopped,
}

impl RunState {
    /// Locust's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Ready => "ready",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        }
    }
}

/// A test's settings as the form gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunParams {
    /// Users to run.
    pub users: usize,
    /// Users started per second.
    pub spawn_rate: f64,
    /// The target host URL.
    pub host: String,
    /// Stop after this long.
    pub run_time: Option<Duration>,
    /// Classes to run; empty runs every class.
    pub classes: Vec<String>,
}

impl From<RunParams> for SwarmRequest {
    fn from(p: RunParams) -> Self {
        Self {
            users: p.users,
            spawn_rate: p.spawn_rate,
            host: Some(p.host),
            run_time: p.run_time,
            classes: p.classes,
        }
    }
}

/// The controls of the run in progress.
#[derive(Debug)]
struct Live {
    stop: CancellationToken,
    retarget: watch::Sender<Option<Retarget>>,
    reset: watch::Sender<u64>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    /// When the run started, for the stage marks of the form's changes.
    started: Instant,
}

#[derive(Debug)]
struct Inner {
    /// Ready, Running (spawning is derived), Stopping or Stopped.
    state: RunState,
    params: RunParams,
    live: Option<Live>,
    /// The snapshot shown when no run is live.
    last: Arc<Snapshot>,
    /// The classes of the current (or last) run.
    scenario: Scenario,
    exit_code: u8,
    /// What went wrong with the last run, if anything.
    error: Option<String>,
    /// Where each stage of the current (or last) run started: the first swarm, then each
    /// change of users or rate from the form; the run's own marks once it ends.
    stages: Vec<StageMark>,
}

/// What `POST /swarm` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmOutcome {
    /// A new test started.
    Started,
    /// The running test got a new user count and rate.
    Changed,
}

/// The state every route shares.
#[derive(Debug)]
pub struct WebState {
    config: WebConfig,
    inner: Mutex<Inner>,
    quit: CancellationToken,
    /// Cancelled whenever the current run task has finished.
    idle: Mutex<CancellationToken>,
}

impl WebState {
    /// A ready state from the configuration.
    pub fn new(config: WebConfig) -> Arc<Self> {
        let idle = CancellationToken::new();
        idle.cancel();
        Arc::new(Self {
            inner: Mutex::new(Inner {
                state: RunState::Ready,
                params: config.defaults.clone(),
                live: None,
                last: Arc::new(Snapshot::empty(SystemTime::now())),
                scenario: config.scenario.clone(),
                exit_code: 0,
                error: None,
                stages: Vec::new(),
            }),
            config,
            quit: CancellationToken::new(),
            idle: Mutex::new(idle),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Logs and Exceptions tabs' ring.
    pub fn logs(&self) -> &LogRing {
        &self.config.logs
    }

    /// A line on the Logs tab.
    pub(crate) fn log_info(&self, message: impl Into<String>) {
        self.config.logs.push(Level::INFO, "web", message);
    }

    /// An error raised outside any request, raised by `source`: a line on the Logs tab
    /// and a count on the Exceptions tab.
    pub(crate) fn log_error(&self, source: &str, message: impl Into<String>) {
        self.config.logs.push(Level::ERROR, source, message);
    }

    /// The configuration.
    pub fn config(&self) -> &WebConfig {
        &self.config
    }

    /// The form's initial values.
    pub fn defaults(&self) -> RunParams {
        self.config.defaults.clone()
    }

    /// The settings of the current or last test (or the defaults).
    pub fn params(&self) -> RunParams {
        self.lock().params.clone()
    }

    /// The classes of the current or last test.
    pub fn scenario(&self) -> Scenario {
        self.lock().scenario.clone()
    }

    /// Cancelled when `--autoquit` says the program should end.
    pub fn quit_token(&self) -> CancellationToken {
        self.quit.clone()
    }

    /// The last run's exit code (0 before any run).
    pub fn exit_code(&self) -> u8 {
        self.lock().exit_code
    }

    /// What went wrong with the last run, if anything.
    pub fn last_error(&self) -> Option<String> {
        self.lock().error.clone()
    }

    /// The latest statistics: the live run's last tick, or the last run's final figures.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let inner = self.lock();
        match &inner.live {
            Some(live) => Arc::clone(&live.snapshots.borrow()),
            None => Arc::clone(&inner.last),
        }
    }

    /// How long the live run has been going; `None` without one.
    pub fn elapsed(&self) -> Option<Duration> {
        self.lock().live.as_ref().map(|live| live.started.elapsed())
    }

    /// Where each stage of the current (or last) run started, from the run's start.
    pub fn stages(&self) -> Vec<StageMark> {
        self.lock().stages.clone()
    }

    /// The state, with spawning told from running by the user count.
    pub fn state(&self) -> RunState {
        let inner = self.lock();
        match (&inner.live, inner.state) {
            (Some(live), RunState::Running) => {
                let users = live.snapshots.borrow().user_count as usize;
                if users == inner.params.users {
                    RunState::Running
                } else {
                    RunState::Spawning
                }
            }
            (_, state) => state,
        }
    }

    /// The run's settings as the JSON and HTML reports record them.
    pub fn run_settings(&self) -> RunSettings {
        let inner = self.lock();
        RunSettings {
            scenario: inner.scenario.source.clone(),
            classes: inner.scenario.class_names(),
            users: inner.params.users as u64,
            rate: inner.params.spawn_rate,
            duration: inner.params.run_time.map(|d| d.as_secs_f64()),
            seed: self.config.base.seed,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host: inner.params.host.clone(),
            task_ratio: inner.scenario.task_ratios(inner.params.users),
        }
    }

    /// Starts a test, or changes the running test's users and rate (Locust's `/swarm`).
    pub async fn swarm(self: &Arc<Self>, request: SwarmRequest) -> Result<SwarmOutcome, String> {
        {
            let mut inner = self.lock();
            match inner.state {
                RunState::Stopping => {
                    return Err("the last test is still stopping; try again in a moment".into())
                }
                RunState::Running | RunState::Spawning => {
                    if let Some(live) = &inner.live {
                        let _ = live.retarget.send(Some(Retarget {
                            users: request.users,
                            spawn_rate: request.spawn_rate,
                        }));
                        let at = live.started.elapsed();
                        inner.params.users = request.users;
                        inner.params.spawn_rate = request.spawn_rate;
                        let stage = inner.stages.len();
                        inner
                            .stages
                            .push(stage_mark(stage, at, request.users, request.spawn_rate));
                        drop(inner);
                        self.log_info(format!(
                            "Changed the running test to {} users at {} per second",
                            request.users, request.spawn_rate
                        ));
                        return Ok(SwarmOutcome::Changed);
                    }
                }
                RunState::Ready | RunState::Stopped => {}
            }
        }
        let host = request
            .host
            .clone()
            .unwrap_or_else(|| self.config.defaults.host.clone());
        let target = Target::parse(&host).map_err(|e| e.to_string())?;
        let scenario = self
            .config
            .scenario
            .clone()
            .select(&request.classes)
            .map_err(|e| e.to_string())?;
        check_reachable(&target, &self.config.base.resolver).await?;

        let mut config = self.config.base.clone();
        config.target = target;
        config.load = LoadPlan::Users {
            users: request.users,
            spawn_rate: request.spawn_rate,
        };
        config.run_time = request.run_time;
        config.stop = CancellationToken::new();
        let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty(SystemTime::now())));
        let (retarget_tx, retarget_rx) = watch::channel(None);
        let (reset_tx, reset_rx) = watch::channel(0u64);
        config.snapshots = Some(snap_tx);
        config.retarget = Some(retarget_rx);
        config.reset = Some(reset_rx);

        let idle = CancellationToken::new();
        {
            let mut inner = self.lock();
            if inner.live.is_some() {
                return Err("a test is already running".into());
            }
            inner.live = Some(Live {
                stop: config.stop.clone(),
                retarget: retarget_tx,
                reset: reset_tx,
                snapshots: snap_rx,
                started: Instant::now(),
            });
            inner.stages = vec![stage_mark(
                0,
                Duration::ZERO,
                request.users,
                request.spawn_rate,
            )];
            inner.state = RunState::Running;
            inner.params = RunParams {
                users: request.users,
                spawn_rate: request.spawn_rate,
                host: config.target.url.clone(),
                run_time: request.run_time,
                classes: request.classes,
            };
            inner.scenario = scenario.clone();
            inner.error = None;
            *self.idle.lock().unwrap_or_else(|e| e.into_inner()) = idle.clone();
        }
        self.log_info(format!(
            "Swarming started: {} users at {} per second against {}",
            request.users, request.spawn_rate, config.target.url
        ));
        let state = Arc::clone(self);
        tokio::spawn(async move {
            let result = crate::run::run(config, scenario).await;
            state.finish(result);
            idle.cancel();
        });
        Ok(SwarmOutcome::Started)
    }

    /// Records a finished run and arms `--autoquit`.
    fn finish(
        &self,
        result: Result<crate::engine::runner::RunOutcome, crate::engine::runner::RunError>,
    ) {
        let mut errors = Vec::new();
        let mut inner = self.lock();
        let live = inner.live.take();
        match result {
            Ok(outcome) => {
                inner.exit_code = outcome.exit_code;
                if !outcome.output_errors.is_empty() {
                    inner.error = Some(outcome.output_errors.join("; "));
                }
                errors.extend(outcome.output_errors.iter().map(|e| ("report", e.clone())));
                inner.last = outcome.snapshot;
                // The run's own marks: when each stage really started.
                inner.stages = outcome.stages;
            }
            Err(e) => {
                inner.exit_code = 2;
                inner.error = Some(e.to_string());
                errors.push(("run", format!("the run failed: {e}")));
                if let Some(live) = live {
                    inner.last = Arc::clone(&live.snapshots.borrow());
                }
            }
        }
        inner.state = RunState::Stopped;
        let code = inner.exit_code;
        drop(inner);
        for (source, e) in errors {
            self.log_error(source, e);
        }
        self.log_info(format!("Test stopped (exit code {code})"));
        if let Some(after) = self.config.autoquit {
            let quit = self.quit.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                quit.cancel();
            });
        }
    }

    /// Stops the running test (users stop; the final figures are kept).
    pub fn stop(&self) {
        let mut inner = self.lock();
        if let Some(live) = &inner.live {
            live.stop.cancel();
            inner.state = RunState::Stopping;
            drop(inner);
            self.log_info("Stop requested from the web UI");
        }
    }

    /// Stops any running test and waits until its task has finished.
    pub async fn stop_and_wait(&self) {
        self.stop();
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).clone();
        idle.cancelled().await;
    }

    /// Zeroes the statistics (of the live run, or the figures shown after one).
    pub fn reset_stats(&self) {
        let mut inner = self.lock();
        match &inner.live {
            Some(live) => live.reset.send_modify(|n| *n += 1),
            None => inner.last = Arc::new(Snapshot::empty(SystemTime::now())),
        }
    }
}

/// A stage's mark, labelled as the run labels its stages.
fn stage_mark(stage: usize, at: Duration, users: usize, spawn_rate: f64) -> StageMark {
    StageMark {
        stage,
        at,
        label: format!("{users} users at {spawn_rate}/s"),
    }
}

/// A quick resolution and TCP connect before swarming, so an unreachable host is a clear
/// message on the page instead of a table full of connection errors.
async fn check_reachable(target: &Target, resolver: &Resolver) -> Result<(), String> {
    let connect = async {
        let addrs = resolver.resolve(&target.origin).await?;
        tokio::net::TcpStream::connect(addrs.as_slice()).await
    };
    match tokio::time::timeout(CONNECT_CHECK_TIMEOUT, connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "cannot reach {}: {e}. Is the server running on that port?",
            target.url
        )),
        Err(_) => Err(format!(
            "cannot reach {}: no answer to a connection attempt within {} s",
            target.url,
            CONNECT_CHECK_TIMEOUT.as_secs()
        )),
    }
}
