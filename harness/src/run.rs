//! One run, end to end: the mock in-process on 127.0.0.1:0 with a temporary SQLite
//! database, loadgen against it over real HTTP, one time scale applied to both, and a
//! timer-lag probe beside them; then everything the checks need is gathered as plain
//! data ([`Evidence`]): loadgen's outcome, the mock's server-side statistics, the trade
//! rows written during the run, the spawn plan and the lag the probe saw.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use loadgen::{LoadPlan, RunConfig, RunOutcome, Stage, Target};
use mock_api::stats::StatsSnapshot;
use mock_api::timing::ServedRequest;
use mock_api::{spawn, ServerConfig};
use tokio_util::sync::CancellationToken;

use crate::config::RunSpec;
use crate::progress::Progress;

/// The runtime's timer resolution (tokio's timer wheel ticks every millisecond and a
/// timer fires on the first tick at or after its deadline): the least lateness any
/// timer may show, used when the probe saw less.
pub const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Longest a request may take (unscaled), as Locust's default; also how long stopping
/// users may finish their tasks, so no task is cut and every request is counted on
/// both sides.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The least request timeout in wall time. A busy host can hold a response for a second
/// or more of wall time; scaled by x0.02 that would read as a 60-s "response" and time
/// out, a failure of the machine, not of the mock. No profile's latency comes near 60 s
/// unscaled, so the floor changes no outcome of a correct run (a hang still ends at the
/// timeout, only later in wall time).
const MIN_WALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The request timeout in wall time: Locust's default scaled, but not below the floor.
pub fn wall_request_timeout(f: f64) -> Duration {
    REQUEST_TIMEOUT.mul_f64(f).max(MIN_WALL_REQUEST_TIMEOUT)
}

/// Task events kept per user: more than any default run produces.
const TRACE_PER_USER: usize = 100_000;

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The temporary directory could not be created.
    #[error("cannot create a temporary directory for the database: {0}")]
    TempDir(#[source] std::io::Error),
    /// The mock did not start or stop.
    #[error("mock-api: {0}")]
    Server(#[from] mock_api::ServerError),
    /// loadgen refused the run.
    #[error("loadgen: {0}")]
    Load(#[from] loadgen::RunError),
    /// The mock's URL is not a loadgen target (a bug: it is always loopback).
    #[error("loadgen refused the mock's address {url}: {message}")]
    Target {
        /// The URL.
        url: String,
        /// loadgen's reason.
        message: String,
    },
    /// The loopback calibration probe failed.
    #[error(transparent)]
    Calibration(#[from] crate::calibrate::CalibrationError),
    /// Reading the trade rows failed.
    #[error("reading trades from {path}: {source}")]
    Database {
        /// The database file.
        path: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

/// One planned spawn step: when (scaled, from the test start) and how many users run
/// after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedStep {
    /// When the step is due, in wall time from the test start.
    pub at: Duration,
    /// Users running after it.
    pub running: usize,
}

/// Everything a run produced, as plain data.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The run's settings.
    pub spec: RunSpec,
    /// loadgen's outcome: final snapshot, users per class, tasks per (class, task), trace
    /// and spawn steps.
    pub outcome: RunOutcome,
    /// The mock's own statistics per route (server time histograms, failures by kind).
    pub server: StatsSnapshot,
    /// Trade rows in the database before the run.
    pub trades_before: i64,
    /// Trade rows in the database after the mock shut down.
    pub trades_after: i64,
    /// Spawn steps as planned (Locust's rule, in scaled time).
    pub planned_steps: Vec<PlannedStep>,
    /// How late this runtime fired timers during the run, as a probe saw it.
    pub timer: TimerLag,
    /// Wall time of the whole run (mock start to shutdown).
    pub wall: Duration,
    /// The mock's record of each request it answered (id and Server-Timing figures).
    pub served: Vec<ServedRequest>,
    /// The loopback calibration: the harness's own client's overhead (µs) per request,
    /// measured before the run, independently of loadgen.
    pub calibration: Histogram<u64>,
    /// The same overhead measured by a paced probe while the load ran.
    pub calibration_during: Histogram<u64>,
}

impl Evidence {
    /// The time scale of the run.
    pub fn time_scale(&self) -> f64 {
        self.spec.load.time_scale
    }
}

/// Locust's spawning in unscaled time, as stages in scaled time: a step of
/// max(1, floor(rate)) users every step/rate seconds, the first at once. loadgen spaces
/// steps by its own rate in wall time, so a scaled rate would change the step size;
/// stages that each start one step at once keep Locust's steps and scale only time.
pub fn spawn_plan(
    users: usize,
    rate: f64,
    duration: Duration,
    f: f64,
) -> (Vec<Stage>, Vec<PlannedStep>) {
    let step = (rate.floor() as usize).max(1);
    let interval = Duration::from_secs_f64(step as f64 / rate * f);
    let total = duration.mul_f64(f);
    let mut stages = Vec::new();
    let mut planned = Vec::new();
    let mut running = 0;
    let mut at = Duration::ZERO;
    while running < users && at < total {
        running = (running + step).min(users);
        let last = running == users || at + interval >= total;
        let length = if last { total - at } else { interval };
        stages.push(Stage {
            duration: length,
            users: running,
            spawn_rate: f64::INFINITY,
        });
        planned.push(PlannedStep { at, running });
        at += length;
    }
    (stages, planned)
}

/// Runs the mock and loadgen together, on a temporary SQLite database, and gathers the
/// evidence.
pub async fn execute(spec: &RunSpec) -> Result<Evidence, RunError> {
    execute_on(spec, None).await
}

/// [`execute`] with the mock's database at `database` (a `postgres://` URL, or a SQLite
/// path) instead of a temporary SQLite file; the database must hold no trades written
/// during the run but this run's (see [`crate::database::ScratchDatabase`]).
pub async fn execute_on(spec: &RunSpec, database: Option<&str>) -> Result<Evidence, RunError> {
    execute_with(spec, database, Progress::quiet()).await
}

/// [`execute_on`], saying each phase and the run's progress through `progress`.
pub async fn execute_with(
    spec: &RunSpec,
    database: Option<&str>,
    progress: Progress,
) -> Result<Evidence, RunError> {
    let started = Instant::now();
    let f = spec.load.time_scale;
    let dir = tempfile::tempdir().map_err(RunError::TempDir)?;
    let db = match database {
        Some(url) => url.to_owned(),
        None => dir
            .path()
            .join("mock-api.db")
            .to_string_lossy()
            .into_owned(),
    };
    progress.phase(format_args!(
        "starting mock-api (profile `{}`, {})",
        spec.profile.name,
        if database.is_some() {
            "the given database"
        } else {
            "a temporary SQLite database"
        }
    ));
    let server = start_mock(&spec.profile, &db, spec.seed, f).await?;
    server.state().request_log.enable();
    let trades_before = count_trades(&db).await?;
    progress.phase("calibrating: the harness's own client's overhead on loopback");
    let calibration = crate::calibrate::probe(server.addr()).await?;

    let url = server.url("");
    let target = Target::parse(&url).map_err(|e| RunError::Target {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let (stages, planned_steps) =
        spawn_plan(spec.load.users, spec.load.spawn_rate, spec.load.duration, f);
    let mut config = RunConfig::new(target, spec.load.users, spec.load.spawn_rate, None);
    config.load = LoadPlan::Stages(stages);
    config.seed = spec.seed;
    config.request_timeout = wall_request_timeout(f);
    config.stop_timeout = wall_request_timeout(f);
    config.trace = Some(TRACE_PER_USER);
    config.request_log = true;

    let stop_probe = CancellationToken::new();
    let probe = tokio::spawn(lag_probe(stop_probe.clone()));
    let overhead_probe = tokio::spawn(crate::calibrate::probe_during(
        server.addr(),
        stop_probe.clone(),
    ));
    let planned = spec.load.duration.mul_f64(f);
    progress.phase(format_args!(
        "running loadgen: {} users at {}/s for {:.1} s of wall time (time scale x{f})",
        spec.load.users,
        spec.load.spawn_rate,
        planned.as_secs_f64()
    ));
    progress.run_ticker("loadgen".to_owned(), planned, stop_probe.clone());
    let outcome = loadgen::run(config, spec.scenario.clone().scaled(f)).await?;
    stop_probe.cancel();
    progress.phase("collecting the mock's own records");
    let probe_samples = probe.await.unwrap_or_default();
    let calibration_during = overhead_probe
        .await
        .unwrap_or_else(|_| loadgen::stats::new_histogram());

    // Shut down first: every connection's last request is recorded by then.
    let state = server.state().clone();
    server.shutdown().await?;
    let server_stats = state.stats.snapshot();
    let served = state.request_log.records();
    drop(state);
    let trades_after = count_trades(&db).await?;
    Ok(Evidence {
        spec: spec.clone(),
        outcome,
        server: server_stats,
        trades_before,
        trades_after,
        planned_steps,
        timer: TimerLag::from_samples(probe_samples),
        wall: started.elapsed(),
        served,
        calibration,
        calibration_during,
    })
}

/// Starts the mock on 127.0.0.1:0 with `profile` on the database `db`, its delays
/// scaled by `f`, given as long as a request may take to finish its requests at
/// shutdown.
pub(crate) async fn start_mock(
    profile: &mock_api::profile::Profile,
    db: &str,
    seed: u64,
    f: f64,
) -> Result<mock_api::RunningServer, mock_api::ServerError> {
    let mut server_config = ServerConfig::new(profile.clone());
    server_config.database_url = db.to_owned();
    server_config.seed = seed;
    server_config.time_scale = f;
    server_config.shutdown_grace = wall_request_timeout(f);
    spawn(server_config).await
}

/// Most probe samples kept (a 10-minute wall run at one per millisecond).
const PROBE_LIMIT: usize = 600_000;

/// Sleeps 1 ms at a time until stopped; returns each sleep's lateness (how late this
/// runtime fires timers under the run's load).
pub(crate) async fn lag_probe(stop: CancellationToken) -> Vec<Duration> {
    let period = Duration::from_millis(1);
    let mut samples = Vec::new();
    loop {
        let before = Instant::now();
        tokio::select! {
            () = stop.cancelled() => return samples,
            () = tokio::time::sleep(period) => {}
        }
        if samples.len() < PROBE_LIMIT {
            samples.push(before.elapsed().saturating_sub(period));
        }
    }
}

/// Timer lateness during the run: a timer of the run (the mock's latency, a user's
/// wait, a spawn step) fires at its deadline plus a lateness that a probe sleeping 1 ms
/// at a time on the same runtime samples. Checks allow [`TimerLag::slack`] of lateness
/// per timer and treat the timers that are later still as outliers: at most a share
/// [`TimerLag::beyond`] of them, an upper bound that includes the probe's own sampling
/// error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimerLag {
    /// Probe samples.
    pub samples: usize,
    /// The allowance per timer: the probe's 99.9th percentile lateness, at least the
    /// timer resolution.
    pub slack: Duration,
    /// Probe samples later than `slack`.
    pub beyond_slack: usize,
    /// The largest lateness the probe saw.
    pub max: Duration,
}

impl TimerLag {
    /// The share of the probe allowed above `slack` (0.1%).
    const TAIL: f64 = 0.001;

    /// Summarises probe samples.
    pub fn from_samples(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let n = samples.len();
        let at = |q: f64| {
            samples
                .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let slack = at(1.0 - Self::TAIL).max(TIMER_RESOLUTION);
        Self {
            samples: n,
            slack,
            beyond_slack: samples.iter().filter(|s| **s > slack).count(),
            max: at(1.0).max(TIMER_RESOLUTION),
        }
    }

    /// An upper bound (probability 1 - alpha) on the share of timers later than
    /// `slack`: the Clopper-Pearson bound of the probe's count above it.
    pub fn beyond(&self, alpha: f64) -> f64 {
        crate::stat::binomial_upper(self.beyond_slack as u64, self.samples as u64, alpha)
    }
}

/// Trade rows in the run's database, read over a connection of our own.
async fn count_trades(db: &str) -> Result<i64, RunError> {
    let path = db.strip_prefix("sqlite://").unwrap_or(db);
    crate::database::count_trades(path)
        .await
        .map_err(|source| RunError::Database {
            path: crate::database::redact(db),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spawn_plan_keeps_locusts_steps_in_scaled_time() {
        let (stages, steps) = spawn_plan(25, 10.0, Duration::from_secs(60), 0.1);
        let running: Vec<usize> = steps.iter().map(|s| s.running).collect();
        assert_eq!(running, [10, 20, 25]);
        assert_eq!(steps[1].at, Duration::from_millis(100));
        let total: Duration = stages.iter().map(|s| s.duration).sum();
        assert_eq!(total, Duration::from_secs(6));
        let (_, one) = spawn_plan(5, 0.5, Duration::from_secs(60), 1.0);
        assert_eq!(one[1].at, Duration::from_secs(2));
    }
}
