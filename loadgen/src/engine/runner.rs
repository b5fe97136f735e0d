//! The run: the in-process API (`RunConfig` in, `RunOutcome` out) that the binary, the
//! harness and the tests call. It wires the three independent parts together: the
//! executor (how many users run), the users (what each does) and the stop rules (run
//! time, an external stop such as Ctrl-C, the end of a staged plan), plus the aggregator
//! task that turns the stats shards into a Snapshot every second for the outputs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::engine::arrival::ArrivalReport;
use crate::engine::executor::{control, sleep_until_opt};
use crate::engine::fdlimit::FdDecision;
use crate::engine::iterations::IterationLimit;
use crate::engine::pool::{ControllerSignals, RetargetReceiver, UserEnv};
use crate::engine::selfmon::CpuReport;
use crate::engine::session::{Connector, Resolver};
use crate::engine::sink::{OpenSinks, OutputConfig, RunEnd, TickSink};
use crate::engine::uncorrected::UncorrectedStats;
use crate::engine::user::Recorder;
use crate::plan::arrival::Correction;
use crate::plan::load::{LoadPlan, SpawnStep, StageMark};
use crate::plan::scenario::Scenario;
use crate::plan::target::{Target, TlsOptions};
use crate::stats::{Aggregator, RequestLog, RequestLogData, Snapshot, StatsHub};
use crate::verdict::breakpoint::{Breakpoint, BreakpointReport};
use crate::verdict::judge::Judgement;

/// Everything a run needs, already validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where requests go (a request's absolute URL aside).
    pub target: Target,
    /// How TLS connections are verified (`--ca-cert`, `--insecure`).
    pub tls: TlsOptions,
    /// How host names are resolved (the system's resolver unless one is given).
    pub resolver: Resolver,
    /// How many users run over time.
    pub load: LoadPlan,
    /// Stop this long after the test start (`--run-time`); `None` runs until stopped.
    pub run_time: Option<Duration>,
    /// How long running tasks may take to finish once the run stops (`--stop-timeout`).
    pub stop_timeout: Duration,
    /// Seed of every user's RNG.
    pub seed: u64,
    /// Longest wait for a whole response (`--request-timeout`).
    pub request_timeout: Duration,
    /// Reset the statistics when the first ramp-up completes (`--reset-stats`).
    pub reset_stats: bool,
    /// Exit code when any request failed (`--exit-code-on-error`, default 1).
    pub exit_code_on_error: u8,
    /// Keep up to this many task events per user in the outcome (`None`: no trace).
    pub trace: Option<usize>,
    /// Console, CSV, JSON and HTML outputs.
    pub output: OutputConfig,
    /// Cancel to end the run as the run time would (Ctrl-C, a harness, a web UI).
    pub stop: CancellationToken,
    /// Stats shards; users share a shard's lock only with users of the same stripe.
    pub shards: usize,
    /// Receives every per-second snapshot (a web UI, a harness watching live).
    pub snapshots: Option<tokio::sync::watch::Sender<Arc<Snapshot>>>,
    /// New user targets while running (a web UI's edit); each replaces the plan.
    pub retarget: Option<RetargetReceiver>,
    /// Each new value zeroes the statistics mid-run (a web UI's "Reset stats").
    pub reset: Option<tokio::sync::watch::Receiver<u64>>,
    /// Judge each stage of a staged plan and stop at the first that fails (`--breakpoint`).
    pub breakpoint: Option<Breakpoint>,
    /// Stop once this many task iterations have run in all (`-i/--iterations`).
    pub iterations: Option<u64>,
    /// Send an `X-Request-Id` with every request and keep each request's record in the
    /// outcome (`--request-log`).
    pub request_log: bool,
}

impl RunConfig {
    /// A quiet run of `users` users started at `spawn_rate`, for `run_time`, with Locust's
    /// defaults otherwise (no outputs, 60 s request timeout, exit code 1 on errors).
    pub fn new(target: Target, users: usize, spawn_rate: f64, run_time: Option<Duration>) -> Self {
        Self {
            target,
            tls: TlsOptions::default(),
            resolver: Resolver::system(),
            load: LoadPlan::Users { users, spawn_rate },
            run_time,
            stop_timeout: Duration::ZERO,
            seed: 0,
            request_timeout: Duration::from_secs(60),
            reset_stats: false,
            exit_code_on_error: 1,
            trace: None,
            output: OutputConfig::default(),
            stop: CancellationToken::new(),
            shards: default_shards(),
            snapshots: None,
            retarget: None,
            reset: None,
            breakpoint: None,
            iterations: None,
            request_log: false,
        }
    }
}

/// Stripes for the stats hub: a few per core, so users rarely share a lock.
pub(crate) fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get() * 8)
}

/// Why the run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--run-time` elapsed.
    RunTime,
    /// The stop token was cancelled (Ctrl-C, SIGTERM, a harness).
    Stopped,
    /// A staged plan ran its last stage.
    PlanFinished,
    /// A criterion with `abort_on_fail` failed (checked every 2 s).
    Aborted,
    /// `-i/--iterations` task iterations have run.
    IterationsDone,
}

/// One task a user ran (kept when `RunConfig::trace` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEvent {
    /// The user's index in start order.
    pub user: usize,
    /// The user's class.
    pub class: String,
    /// The task.
    pub task: String,
    /// Start, from the test start.
    pub start: Duration,
    /// End, from the test start.
    pub end: Duration,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The final statistics.
    pub snapshot: Arc<Snapshot>,
    /// With criteria: 0 passed, 1 failed or aborted. Without: 0, or
    /// `exit_code_on_error` when any request failed (Locust's rule).
    pub exit_code: u8,
    /// The criteria's verdict (empty without criteria), with the abort if any.
    pub verdict: crate::verdict::criteria::Verdict,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Users started per class (every class of the scenario, zero included).
    pub users_started: BTreeMap<String, usize>,
    /// Completed tasks per (class, task).
    pub tasks_run: BTreeMap<(String, String), u64>,
    /// Task events sorted by start, when traced.
    pub trace: Vec<TaskEvent>,
    /// Every spawn and stop step.
    pub spawn_steps: Vec<SpawnStep>,
    /// The seed used.
    pub seed: u64,
    /// From the test start to the end of the last user.
    pub elapsed: Duration,
    /// Outputs that could not be written (the run itself went on).
    pub output_errors: Vec<String>,
    /// Where each stage started (for the reports' time charts); empty for a plain
    /// users/rate plan.
    pub stages: Vec<StageMark>,
    /// Response times from the actual send, when the run corrected for coordinated
    /// omission (an arrival-rate plan); `snapshot` then holds the corrected ones.
    pub uncorrected: Option<Arc<Snapshot>>,
    /// Each request's record, when the run kept them (`RunConfig::request_log`).
    pub request_log: Option<RequestLogData>,
    /// Iterations scheduled, started and dropped, for an arrival-rate plan.
    pub arrival: Option<ArrivalReport>,
    /// Each step judged and the breaking point, for a breakpoint search.
    pub breakpoint: Option<BreakpointReport>,
    /// loadgen's own CPU use over the run (see `selfmon`).
    pub cpu: CpuReport,
    /// Warnings about the figures' reliability: loadgen's CPU saturated (Locust's
    /// text), or an open-file limit too low for the users. Also in the JSON report
    /// under `plan.warnings` and after the console summary.
    pub warnings: Vec<String>,
}

/// Errors that prevent a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario has no class to run.
    #[error("the scenario has no user classes to run")]
    NoClasses,
    /// An output file could not be opened before the run.
    #[error(transparent)]
    Output(#[from] crate::engine::sink::OutputError),
}

/// Runs a load test in-process, its outputs opened by `open_sinks`, and returns its
/// outcome.
pub(crate) async fn run(
    config: RunConfig,
    scenario: Scenario,
    open_sinks: OpenSinks,
) -> Result<RunOutcome, RunError> {
    if scenario.classes.is_empty() {
        return Err(RunError::NoClasses);
    }
    let mut warnings = Vec::new();
    // Every user holds a connection: make room for them before any starts.
    let peak_users = config.load.peak_users();
    match crate::engine::fdlimit::ensure_for_users(peak_users) {
        Ok(FdDecision::Raise { from, to, .. }) => {
            tracing::info!("Raised the open-file limit from {from} to {to} for {peak_users} users");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!("{e}");
            warnings.push(e.to_string());
        }
    }
    let scenario = Arc::new(scenario);
    let test_start = Instant::now();
    let start_time = SystemTime::now();
    let hub = Arc::new(StatsHub::new(config.shards.max(1)));
    let user_count = Arc::new(AtomicUsize::new(0));
    let sinks = open_sinks(&config, &scenario, start_time)?;
    let mut end_sink = sinks.end;

    let stop_users = CancellationToken::new();
    let kill_users = CancellationToken::new();
    let signals = ControllerSignals::default();
    let corrected = matches!(&config.load,
        LoadPlan::Arrival(a) if a.correction == Correction::FromIntendedStart);
    let uncorrected_stats = corrected.then(|| {
        UncorrectedStats::spawn(
            config.shards,
            start_time,
            config.reset_stats.then(|| signals.ramped_up.clone()),
            config.reset.clone(),
        )
    });
    let recorder = Recorder {
        hub: Arc::clone(&hub),
        uncorrected: uncorrected_stats.as_ref().map(UncorrectedStats::hub),
        step: config
            .breakpoint
            .is_some()
            .then(|| Arc::new(StatsHub::new(config.shards.max(1)))),
        log: config
            .request_log
            .then(|| Arc::new(RequestLog::new(config.shards.max(1), test_start))),
    };
    let iterations = config.iterations.map(|n| Arc::new(IterationLimit::new(n)));
    let iterations_done = iterations
        .as_ref()
        .map_or_else(CancellationToken::new, |l| l.done().clone());
    let env = UserEnv {
        scenario: Arc::clone(&scenario),
        connector: Arc::new(Connector::new(
            config.target.clone(),
            config.tls.clone(),
            config.resolver.clone(),
        )),
        recorder: recorder.clone(),
        seed: config.seed,
        request_timeout: config.request_timeout,
        stop_users: stop_users.clone(),
        kill_users: kill_users.clone(),
        test_start,
        trace_limit: config.trace.unwrap_or(0),
        user_count: Arc::clone(&user_count),
        graceful: !config.stop_timeout.is_zero(),
        iterations: iterations.clone(),
    };
    let halt_controller = CancellationToken::new();
    let controller = tokio::spawn(control(
        config.load.clone(),
        env,
        halt_controller.clone(),
        signals.clone(),
        config.retarget.clone(),
        config.breakpoint.clone(),
    ));

    // The aggregator owns the statistics; the users only touch their shards. It also
    // checks the abort_on_fail criteria every 2 s, and fires `abort_fired` on a breach.
    let abort_fired = CancellationToken::new();
    let abort_rule =
        crate::verdict::judge::AbortWatch::new(&scenario.criteria, start_time).map(|watch| {
            AbortRule {
                watch,
                fired: abort_fired.clone(),
            }
        });
    let halt_aggregator = CancellationToken::new();
    let aggregator = tokio::spawn(aggregate(
        Aggregator::new(start_time),
        Arc::clone(&hub),
        Arc::clone(&user_count),
        Some(sinks.periodic),
        config.snapshots.clone(),
        Stops {
            halt: halt_aggregator.clone(),
            abort_rule,
        },
        Resets {
            after_ramp_up: config.reset_stats.then(|| signals.ramped_up.clone()),
            requests: config.reset.clone(),
        },
    ));

    // loadgen watches its own CPU: saturated, it measures itself rather than the target.
    let halt_monitor = CancellationToken::new();
    let monitor = tokio::spawn(crate::engine::selfmon::watch(halt_monitor.clone()));
    // A run dropped half-way (a web UI's abort) must not leave the monitor sampling.
    let _stop_monitor = halt_monitor.clone().drop_guard();

    // Stop rules: whichever comes first.
    let deadline = config.run_time.map(|t| test_start + t);
    let stop_reason = tokio::select! {
        () = sleep_until_opt(deadline) => StopReason::RunTime,
        () = config.stop.cancelled() => StopReason::Stopped,
        () = signals.finished.cancelled() => StopReason::PlanFinished,
        () = abort_fired.cancelled() => StopReason::Aborted,
        () = iterations_done.cancelled() => StopReason::IterationsDone,
    };
    match stop_reason {
        StopReason::RunTime => tracing::info!("Run time limit reached, stopping the run"),
        StopReason::Stopped => tracing::info!("Stop requested, stopping the run"),
        StopReason::PlanFinished => tracing::info!("The load plan finished, stopping the run"),
        StopReason::IterationsDone => {
            tracing::info!("Iteration limit reached, stopping the run");
        }
        StopReason::Aborted => {
            tracing::warn!("A criterion with abort_on_fail failed, stopping the run");
        }
    }
    halt_controller.cancel();
    let final_user_count = user_count.load(Ordering::Relaxed);
    // A panicked controller leaves no users to stop; its panic is a bug, not the target's.
    let pool = controller.await.ok();
    stop_users.cancel();
    if config.stop_timeout.is_zero() {
        kill_users.cancel();
    } else {
        let kill = kill_users.clone();
        let timeout = config.stop_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            kill.cancel();
        });
    }
    let mut plan_report = PlanReport::default();
    let (users_started_idx, spawn_steps, reports) = match pool {
        Some(mut pool) => {
            let started = std::mem::take(&mut pool.started_per_class);
            let steps = std::mem::take(&mut pool.steps);
            plan_report = PlanReport {
                stages: std::mem::take(&mut pool.stage_marks),
                arrival: pool.arrival.take(),
                breakpoint: pool.breakpoint.take(),
                warnings: Vec::new(),
            };
            (started, steps, pool.join().await)
        }
        None => (vec![0; scenario.classes.len()], Vec::new(), Vec::new()),
    };
    kill_users.cancel();
    let elapsed = test_start.elapsed();
    user_count.store(0, Ordering::Relaxed);

    halt_aggregator.cancel();
    let (mut aggregator, periodic, abort) = match aggregator.await {
        Ok(v) => v,
        Err(_) => (Aggregator::new(start_time), None, None),
    };
    let snapshot = final_snapshot(&mut aggregator, &hub, count_u32(final_user_count));
    let uncorrected = match uncorrected_stats {
        Some(u) => Some(u.finish(&snapshot).await),
        None => None,
    };
    halt_monitor.cancel();
    let cpu = monitor.await.unwrap_or_default();
    warnings.extend(cpu.warnings());
    plan_report.warnings.clone_from(&warnings);
    let judgement = Judgement::new(&snapshot, &scenario.criteria, &scenario.baselines, abort);
    let request_log = recorder.log.as_ref().map(|l| l.finish());
    let mut output_errors = periodic
        .map(|mut p| p.finish(&snapshot))
        .unwrap_or_default();
    output_errors.extend(end_sink.finish(&RunEnd {
        snapshot: &snapshot,
        judgement: &judgement,
        plan: &plan_report,
        uncorrected: uncorrected.as_deref(),
        request_log: request_log.as_ref(),
    }));
    if let Some(tx) = &config.snapshots {
        let _ = tx.send(Arc::clone(&snapshot));
    }

    let exit_code = judgement.exit_code(&snapshot, config.exit_code_on_error);
    Ok(RunOutcome {
        exit_code,
        verdict: judgement.verdict,
        stop_reason,
        users_started: scenario
            .classes
            .iter()
            .zip(users_started_idx)
            .map(|(c, n)| (c.name.clone(), n))
            .collect(),
        tasks_run: tasks_run(&scenario, &reports),
        trace: trace(&scenario, &reports),
        spawn_steps,
        seed: config.seed,
        elapsed,
        output_errors,
        snapshot,
        stages: plan_report.stages,
        uncorrected,
        request_log,
        arrival: plan_report.arrival,
        breakpoint: plan_report.breakpoint,
        cpu,
        warnings,
    })
}

/// What the load plan itself reports: stage marks, arrival counts, breakpoint steps.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanReport {
    /// Where each stage started.
    pub stages: Vec<StageMark>,
    /// The arrival-rate scheduler's counts.
    pub arrival: Option<ArrivalReport>,
    /// The breakpoint search's steps.
    pub breakpoint: Option<BreakpointReport>,
    /// Warnings about the figures' reliability (see `RunOutcome::warnings`).
    pub warnings: Vec<String>,
}

/// The last snapshot: everything collected, and a history row unless the last periodic
/// tick already wrote one for this second (the history has one row per second).
fn final_snapshot(aggregator: &mut Aggregator, hub: &StatsHub, users: u32) -> Arc<Snapshot> {
    let now = SystemTime::now();
    aggregator.collect(hub);
    let snapshot = aggregator.snapshot(now, users);
    let second = crate::stats::unix_seconds(now);
    if snapshot.history.iter().last().map(|r| r.timestamp) == Some(second) {
        Arc::new(snapshot)
    } else {
        aggregator.tick(hub, now, users)
    }
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// When the aggregator zeroes the statistics.
struct Resets {
    /// Once, when the first ramp-up completes (`--reset-stats`).
    after_ramp_up: Option<CancellationToken>,
    /// Each time a new value arrives (a web UI's "Reset stats").
    requests: Option<tokio::sync::watch::Receiver<u64>>,
}

/// Once a second: collect the shards into a snapshot and hand it to the periodic outputs.
async fn aggregate(
    mut aggregator: Aggregator,
    hub: Arc<StatsHub>,
    user_count: Arc<AtomicUsize>,
    mut periodic: Option<Box<dyn TickSink>>,
    publish: Option<tokio::sync::watch::Sender<Arc<Snapshot>>>,
    stops: Stops,
    resets: Resets,
) -> (
    Aggregator,
    Option<Box<dyn TickSink>>,
    Option<crate::verdict::criteria::Abort>,
) {
    let Stops { halt, abort_rule } = stops;
    let mut abort = None;
    let Resets {
        after_ramp_up: reset_when,
        requests: mut reset_requests,
    } = resets;
    let period = Duration::from_secs(1);
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reset_pending = reset_when;
    let mut tick: u64 = 0;
    loop {
        let reset_signal = async {
            match &reset_pending {
                Some(t) => t.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = halt.cancelled() => break,
            () = reset_signal => {
                // Requests so far are drained first, so none is counted after the reset.
                aggregator.collect(&hub);
                aggregator.reset(SystemTime::now());
                reset_pending = None;
            }
            () = next_reset(&mut reset_requests) => {
                aggregator.collect(&hub);
                let now = SystemTime::now();
                aggregator.reset(now);
                if let Some(tx) = &publish {
                    // Observers see the zeroed figures now, not at the next tick.
                    let users = count_u32(user_count.load(Ordering::Relaxed));
                    let _ = tx.send(Arc::new(aggregator.snapshot(now, users)));
                }
            }
            _ = interval.tick() => {
                tick += 1;
                let users = count_u32(user_count.load(Ordering::Relaxed));
                let snapshot = aggregator.tick(&hub, SystemTime::now(), users);
                if let Some(p) = &mut periodic {
                    p.on_tick(&snapshot, tick);
                }
                if let (None, Some(rule)) = (&abort, &abort_rule) {
                    abort = rule.watch.check(&snapshot, tick);
                    if let Some(a) = &abort {
                        tracing::warn!("{}", a.describe());
                        rule.fired.cancel();
                    }
                }
                if let Some(tx) = &publish {
                    // Nobody listening is fine; the run does not wait on observers.
                    let _ = tx.send(Arc::clone(&snapshot));
                }
            }
        }
    }
    (aggregator, periodic, abort)
}

/// What ends the aggregator's loop: the run's halt, and the `abort_on_fail` criteria it
/// checks itself (firing the run's stop on a breach).
struct Stops {
    halt: CancellationToken,
    abort_rule: Option<AbortRule>,
}

/// The `abort_on_fail` criteria the aggregator checks, and the token it fires.
struct AbortRule {
    watch: crate::verdict::judge::AbortWatch,
    fired: CancellationToken,
}

/// Returns when a reset is requested; never without a receiver or once its sender is gone.
async fn next_reset(reset: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    if let Some(rx) = reset {
        if rx.changed().await.is_ok() {
            return;
        }
    }
    *reset = None;
    std::future::pending::<()>().await;
}

fn tasks_run(
    scenario: &Scenario,
    reports: &[crate::engine::user::UserReport],
) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for class in &scenario.classes {
        for task in &class.tasks {
            out.insert((class.name.clone(), task.name.clone()), 0);
        }
    }
    for report in reports {
        let class = &scenario.classes[report.class_index];
        for (task, n) in class.tasks.iter().zip(&report.tasks_run) {
            if let Some(total) = out.get_mut(&(class.name.clone(), task.name.clone())) {
                *total += n;
            }
        }
    }
    out
}

fn trace(scenario: &Scenario, reports: &[crate::engine::user::UserReport]) -> Vec<TaskEvent> {
    let mut events: Vec<TaskEvent> = reports
        .iter()
        .flat_map(|r| r.trace.iter())
        .map(|t| {
            let class = &scenario.classes[t.class_index];
            TaskEvent {
                user: t.user,
                class: class.name.clone(),
                task: class.tasks[t.task_index].name.clone(),
                start: t.start,
                end: t.end,
            }
        })
        .collect();
    events.sort_by_key(|e| (e.start, e.user));
    events
}
