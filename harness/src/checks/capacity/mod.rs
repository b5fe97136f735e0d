//! The capacity checks (stress, spike, soak and breakpoint): runs against the mock's
//! `capacity`, `stalling` and `leaking` profiles that prove the load shapes, the open
//! model and the breakpoint search measure what a saturating server does.
//!
//! Each family makes its own run (its own profile, plan and time scale) through
//! [`drive`], which starts the mock on 127.0.0.1:0, runs loadgen against it and can act
//! on the mock while the run goes (a stall, a jump of the uptime a leak sees); the
//! queueing family drives the mock with its own Poisson client instead. Every check
//! states its expected value, what was measured and where the tolerance comes from.

pub mod breakpoint;
pub mod omission;
pub mod queueing;
pub mod shapes;

use std::time::{Duration, Instant};

use loadgen::{RunConfig, RunOutcome, Scenario, Target};
use mock_api::profile::Profile;
use mock_api::stats::StatsSnapshot;
use mock_api::{spawn, RunningServer, ServerConfig};

use crate::check::{Check, CheckTable};
use crate::checks::{ms, sci};
use crate::run::RunError;

/// Why a capacity run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    /// The mock or loadgen failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A built-in profile is missing.
    #[error(transparent)]
    Profile(#[from] mock_api::profile::ProfileError),
    /// The Poisson client could not reach the mock.
    #[error("Poisson client to {addr}: {source}")]
    Client {
        /// The mock's address.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// A built-in profile by name.
pub fn profile(name: &str) -> Result<Profile, CapacityError> {
    Ok(Profile::builtin(name)?)
}

/// The scenario of every capacity run: one user class with no wait that lists clients,
/// so the pace is set by the plan (users or arrival rate) and the server alone.
const SCENARIO: &str = r#"
description = "One request per iteration, no wait: the plan and the server set the pace"

[classes.CapacityUser]

[[classes.CapacityUser.tasks]]
name = "list_clients"
weight = 1
requests = [{ method = "GET", path = "/api/clients" }]
"#;

/// The capacity runs' scenario (see `SCENARIO`); with `wait`, each user waits that
/// long (unscaled) between iterations instead.
pub fn scenario(wait: Option<Duration>) -> Scenario {
    let text = match wait {
        None => SCENARIO.to_owned(),
        Some(w) => SCENARIO.replace(
            "[classes.CapacityUser]\n",
            &format!(
                "[classes.CapacityUser]\nwait = {{ between = [{0}, {0}] }}\n",
                w.as_secs_f64()
            ),
        ),
    };
    // A constant the tests parse: a broken one is a build defect.
    Scenario::from_toml("capacity", &text)
        .unwrap_or_else(|e| unreachable!("the capacity scenario parses: {e}"))
}

/// Something done to the mock while loadgen runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Nothing.
    None,
    /// `count` times, every `every` (wall), read the mock's mean service time since the
    /// last reading and reset its statistics: the service time of each step of a
    /// staged plan whose steps last `every`.
    ServicePerStep {
        /// Readings.
        count: u32,
        /// Time between them.
        every: Duration,
    },
    /// After `after` (wall), hold every response for `length` (wall).
    Stall {
        /// When, from the start of the run.
        after: Duration,
        /// How long.
        length: Duration,
    },
    /// `steps` times, evenly over `over` (wall), move the uptime the leak sees forward by
    /// `by` (unscaled), and sample this process's resident memory at each step.
    Age {
        /// Steps.
        steps: u32,
        /// Wall time the steps are spread over.
        over: Duration,
        /// Uptime added per step.
        by: Duration,
    },
}

/// What a capacity run produced.
#[derive(Debug, Clone)]
pub struct Trial {
    /// loadgen's outcome.
    pub outcome: RunOutcome,
    /// The mock's statistics at the end.
    pub server: StatsSnapshot,
    /// Wall time from the start of loadgen's run when `Action::Stall` started the stall.
    pub stall_at: Option<Duration>,
    /// Resident memory samples (kB) taken during `Action::Age`, in order.
    pub rss_kb: Vec<u64>,
    /// Per step of `Action::ServicePerStep`: (requests served, their mean service time
    /// in wall ms, the mock's mean lateness of its responses in wall ms).
    pub service_per_step: Vec<(u64, f64, f64)>,
    /// How late this runtime fired timers during the run (a probe sleeping 1 ms at a
    /// time beside it): the allowance for late sends and late releases.
    pub lag: crate::run::TimerLag,
}

/// Starts the mock with `profile` at time scale `f`, with a temporary database.
pub async fn start_mock(profile: Profile, f: f64, seed: u64) -> Result<Mock, RunError> {
    let dir = tempfile::tempdir().map_err(RunError::TempDir)?;
    let mut config = ServerConfig::new(profile);
    config.database_url = dir
        .path()
        .join("mock-api.db")
        .to_string_lossy()
        .into_owned();
    config.seed = seed;
    config.time_scale = f;
    config.shutdown_grace = Duration::from_secs(5);
    let server = spawn(config).await?;
    Ok(Mock { server, _dir: dir })
}

/// A running mock and the directory its database lives in.
#[derive(Debug)]
pub struct Mock {
    /// The server.
    pub server: RunningServer,
    _dir: tempfile::TempDir,
}

impl Mock {
    /// A loadgen configuration aimed at the mock (1 user at 1/s until changed).
    pub fn config(&self) -> Result<RunConfig, RunError> {
        let url = self.server.url("");
        let target = Target::parse(&url).map_err(|e| RunError::Target {
            url: url.clone(),
            message: e.to_string(),
        })?;
        Ok(RunConfig::new(target, 1, 1.0, None))
    }

    /// Shuts the mock down and returns its final statistics.
    pub async fn finish(self) -> Result<StatsSnapshot, RunError> {
        let state = self.server.state().clone();
        self.server.shutdown().await?;
        Ok(state.stats_snapshot())
    }
}

/// Runs loadgen (`config`, `scenario` scaled by `f`) against the mock while
/// doing `action` to it.
pub async fn drive(
    mock: Mock,
    config: RunConfig,
    scenario: Scenario,
    f: f64,
    action: Action,
) -> Result<Trial, RunError> {
    let started = Instant::now();
    let server = &mock.server;
    let done = tokio_util::sync::CancellationToken::new();
    let load_done = done.clone();
    let load = async move {
        let outcome = loadgen::run(config, scenario.scaled(f)).await;
        load_done.cancel();
        outcome
    };
    let act = async move {
        let mut stall_at = None;
        let mut rss = Vec::new();
        let mut steps = Vec::new();
        match action {
            Action::None => {}
            Action::ServicePerStep { count, every } => {
                // A breakpoint search stops after its failed step: the reading taken then
                // closes that step.
                for k in 1..=count {
                    let at = started + every * k;
                    let ended = tokio::select! {
                        () = tokio::time::sleep_until(at.into()) => false,
                        () = done.cancelled() => true,
                    };
                    let snapshot = server.state().stats_snapshot();
                    let c = snapshot.capacity.service_time_ms;
                    server.reset_stats();
                    steps.push((c.count, c.mean, snapshot.delay_error_us.mean / 1000.0));
                    if ended {
                        break;
                    }
                }
            }
            Action::Stall { after, length } => {
                tokio::time::sleep(after).await;
                server.stall(length);
                stall_at = Some(started.elapsed());
            }
            Action::Age { steps, over, by } => {
                rss.extend(resident_kb());
                for k in 1..=steps {
                    tokio::time::sleep_until(
                        (started + over.mul_f64(f64::from(k) / f64::from(steps))).into(),
                    )
                    .await;
                    server.advance_uptime(by);
                    rss.extend(resident_kb());
                }
            }
        }
        (stall_at, rss, steps)
    };
    let stop_probe = tokio_util::sync::CancellationToken::new();
    let probe = tokio::spawn(crate::run::lag_probe(stop_probe.clone()));
    let (outcome, (stall_at, rss_kb, service_per_step)) = tokio::join!(load, act);
    stop_probe.cancel();
    let lag = crate::run::TimerLag::from_samples(probe.await.unwrap_or_default());
    let outcome = outcome?;
    let server = mock.finish().await?;
    Ok(Trial {
        outcome,
        server,
        stall_at,
        rss_kb,
        service_per_step,
        lag,
    })
}

/// What the mock's workers did, for [`service_vs_configured`].
#[derive(Debug, Clone, Copy)]
pub struct Served<'a> {
    /// The profile's service time (unscaled).
    pub configured: &'a mock_api::latency::LatencyDistribution,
    /// The workers' mean holding time, unscaled ms.
    pub held_ms: f64,
    /// The mock's mean lateness of its responses (actual minus intended time), unscaled ms.
    pub late_ms: f64,
    /// Services measured.
    pub n: u64,
}

/// The workers' mean holding time against the profile's mean service S: within z
/// standard errors of n services (sd / sqrt(n), sd the profile's) below S, and above it
/// by no more than that plus the mock's own mean lateness. A check that reads the
/// measured service time alone (Erlang C at the measured load, the saturation point
/// from the measured service) moves with a mock that holds its workers too long; this
/// one does not. The service timer wakes no later than the response goes out, so the
/// response's lateness bounds the timer's.
pub fn service_vs_configured(name: &str, s: Served<'_>, alpha: f64) -> Check {
    let mean = s.configured.mean().as_secs_f64() * 1000.0;
    let sd = s.configured.std_dev().as_secs_f64() * 1000.0;
    let z = crate::stat::normal_upper(alpha / 2.0);
    let half = z * sd / (s.n.max(1) as f64).sqrt();
    let (lo, hi) = (mean - half, mean + half + s.late_ms.max(0.0));
    Check::new(
        name,
        format!("{} (the profile's mean service)", ms(mean)),
        format!(
            "{} mean worker holding time over {} services",
            ms(s.held_ms),
            s.n
        ),
        format!(
            "{}..{} = ±{} (z={z:.2} x sd {} / sqrt(n), alpha={}) + {} the mock's own mean lateness; {}",
            ms(lo),
            ms(hi),
            ms(half),
            ms(sd),
            sci(alpha),
            ms(s.late_ms),
            crate::checks::power::shift(mean, lo, hi, s.n)
        ),
        (lo..=hi).contains(&s.held_ms),
    )
}

/// This process's resident set size in kB (`VmRSS` of /proc/self/status), where the
/// system has one.
pub fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs every capacity family with `seed` and returns their checks in one table.
pub async fn run_all(seed: u64) -> Result<CheckTable, CapacityError> {
    let mut table = CheckTable::default();
    table.extend(breakpoint::checks(&breakpoint::run(seed).await?));
    table.extend(breakpoint::open_checks(&breakpoint::run_open(seed).await?));
    table.extend(omission::checks(&omission::run(seed).await?));
    table.extend(queueing::checks(&queueing::run(seed).await?));
    table.extend(shapes::spike_checks(&shapes::run_spike(seed).await?));
    table.extend(shapes::soak_checks(&shapes::run_soak(seed).await?));
    table.extend(shapes::steady_soak_checks(
        &shapes::run_steady_soak(seed).await?,
    ));
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scenario_parses_with_and_without_a_wait() {
        let none = scenario(None);
        assert_eq!(none.class_names(), ["CapacityUser"]);
        assert_eq!(
            none.classes[0].wait.to_string(),
            loadgen::scenario::WaitTime::Zero.to_string()
        );
        let waiting = scenario(Some(Duration::from_secs(60)));
        assert_ne!(waiting.classes[0].wait, none.classes[0].wait);
    }
}
