//! One `harness locust` run: the calibration (the same tool and file, at least the
//! run's load, against the `fast` profile, which answers at once and never fails, so every millisecond the
//! tool reports there is its own overhead plus the mock's handler time) and then the
//! run under test against the spec's profile. Each gets its own mock on 127.0.0.1:0
//! with a temporary SQLite database and a timer probe beside it; the tool's CSV and
//! console go to a temporary folder.
//!
//! No `--json-file`: Locust 2.47 then skips its final console tables, and those are the
//! only complete record of the last second's requests and failures (its CSV files are
//! rewritten once a second and closed at exit without a last write).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mock_api::profile::Profile;
use mock_api::stats::StatsSnapshot;
use tokio_util::sync::CancellationToken;

use super::output::{Reported, Row};
use super::process::{Invocation, ToolRun};
use super::{LocustError, LocustSpec};
use crate::run::{lag_probe, start_mock, TimerLag};

/// The calibration's findings: the tool's times against a mock that adds no delay.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The tool's Aggregated row of the calibration.
    pub aggregated: Row,
    /// How late timers fired during the calibration.
    pub lag: TimerLag,
    /// Its wall time, the tool's start and stop included.
    pub wall: Duration,
}

/// Everything a run produced, as plain data.
#[derive(Debug, Clone)]
pub struct LocustEvidence {
    /// What ran.
    pub spec: LocustSpec,
    /// The calibration.
    pub calibration: Calibration,
    /// The tool's exit code and console.
    pub tool: ToolRun,
    /// What the tool reported.
    pub reported: Reported,
    /// The mock's own statistics per route.
    pub server: StatsSnapshot,
    /// How late timers fired during the run.
    pub lag: TimerLag,
    /// Wall time of the whole command: calibration, run and both mocks.
    pub wall: Duration,
}

/// Runs the calibration and the run, and gathers the evidence.
pub async fn execute(spec: &LocustSpec) -> Result<LocustEvidence, LocustError> {
    spec.validate()?;
    let started = Instant::now();
    let locustfile = absolute(&spec.locustfile)?;
    let fast = Profile::builtin("fast")?;
    let (users, rate, time) = super::calibration_load(spec);
    let cal_spec = LocustSpec {
        users,
        spawn_rate: rate,
        run_time: time,
        ..spec.clone()
    };
    let (cal_tool, cal_reported, _, cal_lag) = one_run(&cal_spec, &locustfile, &fast).await?;
    let aggregated = cal_reported
        .stats
        .aggregated
        .clone()
        .filter(|a| a.requests > 0)
        .ok_or_else(|| LocustError::Failed {
            program: spec.program.display().to_string(),
            code: "no request in the calibration".to_owned(),
            stderr_tail: super::process::tail(&cal_tool.stderr),
        })?;
    let calibration = Calibration {
        aggregated,
        lag: cal_lag,
        wall: cal_tool.wall,
    };
    let (tool, reported, server, lag) = one_run(spec, &locustfile, &spec.profile).await?;
    Ok(LocustEvidence {
        spec: spec.clone(),
        calibration,
        tool,
        reported,
        server,
        lag,
        wall: started.elapsed(),
    })
}

/// A file name the tool can open from its own folder; built-in scenario names pass.
fn absolute(path: &Path) -> Result<PathBuf, LocustError> {
    if !path.exists() {
        return Ok(path.to_owned());
    }
    std::path::absolute(path).map_err(|source| LocustError::Io {
        what: format!("resolving {}", path.display()),
        source,
    })
}

/// The tool's arguments: Locust's headless flags against `url`.
pub fn arguments(spec: &LocustSpec, locustfile: &Path, url: &str, csv: &Path) -> Vec<String> {
    let mut args = vec![
        "-f".to_owned(),
        locustfile.display().to_string(),
        "--headless".to_owned(),
        "--only-summary".to_owned(),
        "-H".to_owned(),
        url.to_owned(),
        "-u".to_owned(),
        spec.users.to_string(),
        "-r".to_owned(),
        spec.spawn_rate.to_string(),
        "-t".to_owned(),
        LocustSpec::seconds(spec.run_time),
        "--csv".to_owned(),
        csv.display().to_string(),
        "--stop-timeout".to_owned(),
        LocustSpec::seconds(spec.stop_timeout()),
    ];
    args.extend(spec.classes.iter().cloned());
    args
}

/// One mock with `profile` and one run of the tool against it.
async fn one_run(
    spec: &LocustSpec,
    locustfile: &Path,
    profile: &Profile,
) -> Result<(ToolRun, Reported, StatsSnapshot, TimerLag), LocustError> {
    let dir = tempfile::tempdir().map_err(|source| LocustError::Io {
        what: "creating a temporary folder".to_owned(),
        source,
    })?;
    let db = dir
        .path()
        .join("mock-api.db")
        .to_string_lossy()
        .into_owned();
    let server = start_mock(profile, &db, spec.seed, spec.time_scale).await?;
    let csv = dir.path().join("locust");
    let inv = Invocation {
        program: spec.program.clone(),
        args: arguments(spec, locustfile, &server.url(""), &csv),
        dir: dir.path().to_owned(),
        bound: spec.run_time + spec.stop_timeout() + spec.allowance,
    };
    let stop_probe = CancellationToken::new();
    let probe = tokio::spawn(lag_probe(stop_probe.clone()));
    let tool = super::process::run(&inv).await;
    stop_probe.cancel();
    let lag = TimerLag::from_samples(probe.await.unwrap_or_default());
    let state = server.state().clone();
    server.shutdown().await?;
    let stats = state.stats.snapshot();
    let tool = tool?;
    let reported = super::output::read(&csv, &tool.stdout, &tool.stderr);
    let any = reported
        .as_ref()
        .is_ok_and(|r| r.stats.aggregated.as_ref().is_some_and(|a| a.requests > 0));
    if !any && tool.exit_code != Some(0) {
        return Err(LocustError::Failed {
            program: spec.program.display().to_string(),
            code: tool
                .exit_code
                .map_or("a signal".to_owned(), |c| format!("exit code {c}")),
            stderr_tail: super::process::tail(&format!("{}{}", tool.stderr, tool.stdout)),
        });
    }
    Ok((tool, reported?, stats, lag))
}
