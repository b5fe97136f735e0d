//! `harness locust`: the user's own load tooling (real Locust and their locustfile, or
//! any program with Locust's flags and files) run against the mock as a subprocess,
//! with the mock's own records as the truth.
//!
//! The flow: a [`LocustSpec`] says what to run and a [`LocustExpectation`] what a
//! correct run gives (the locustfile's classes and task weights, the profile);
//! [`run::execute`] first runs the same tool, file and load briefly against the `fast`
//! profile (the calibration: the tool's own overhead on this machine, measured before
//! and apart from the run under test), then the run itself, each bounded in time, and
//! gathers a [`run::LocustEvidence`]; [`checks::evaluate`] turns it into a
//! [`crate::CheckTable`] and [`report`] prints it.
//!
//! Time is not scaled by default: Locust's waits are the user's file and cannot be
//! scaled, and its verdict judges wall-clock figures, so the mock answers in real time
//! too and the run is kept short instead. `--time-scale` scales only the mock's delays;
//! every comparison is then between wall times on both sides, and the output says that
//! the verdict no longer speaks for the unscaled platform.

pub mod checks;
pub mod output;
pub mod process;
pub mod report;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::Duration;

use loadgen::Scenario;
use mock_api::profile::Profile;

pub use process::INSTALL_HINT;

/// Why a Locust run could not be made or read (a failed check is not an error).
#[derive(Debug, thiserror::Error)]
pub enum LocustError {
    /// The program is not installed.
    #[error("{program}: not found; {INSTALL_HINT}")]
    Missing {
        /// The program named.
        program: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The tool ran past its bound and was killed.
    #[error("{program} was still running after {bound:?} (the run time plus the allowance to start and stop) and was killed; its last output:\n{stderr_tail}")]
    Hung {
        /// The program.
        program: String,
        /// The bound.
        bound: Duration,
        /// The end of its console.
        stderr_tail: String,
    },
    /// The tool exited without statistics.
    #[error("{program} exited with {code} before reporting any request (a syntax error in the locustfile, an unknown user class, a bad flag?); its last output:\n{stderr_tail}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit code, or the signal that ended it.
        code: String,
        /// The end of its console.
        stderr_tail: String,
    },
    /// No statistics were written.
    #[error("no statistics: {path} was not written and the console has no final tables")]
    NoStatistics {
        /// The CSV file expected.
        path: String,
    },
    /// A file or table is not in Locust's format.
    #[error("{what}: {message}")]
    BadOutput {
        /// The file and line.
        what: String,
        /// What was expected.
        message: String,
    },
    /// The locustfile cannot be used.
    #[error("locustfile {path}: {message}")]
    Locustfile {
        /// Its path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A bad option.
    #[error("{0}")]
    Option(String),
    /// The mock did not start or stop.
    #[error("mock-api: {0}")]
    Server(#[from] mock_api::ServerError),
    /// The profile cannot be loaded.
    #[error(transparent)]
    Profile(#[from] mock_api::profile::ProfileError),
    /// loadgen's importer cannot read the locustfile.
    #[error(transparent)]
    Import(Box<loadgen::plan::locustfile::LocustfileError>),
}

/// Unscaled defaults of `harness locust`: the guide's normal load (50 users at 10/s),
/// rounded up to 60 so the project's three classes get 20 users each, for a minute.
pub const DEFAULT_LOAD: (usize, f64, Duration) = (60, 10.0, Duration::from_secs(60));

/// `harness locust guide`: the guide's run (600 users at 100/s, one minute), as
/// `harness guide` makes it, with real Locust and the guide's 50/40/10 locustfile.
pub const GUIDE_LOAD: (usize, f64, Duration) = (600, 100.0, Duration::from_secs(60));

/// The project's locustfile, the default.
pub const DEFAULT_LOCUSTFILE: &str = "scenarios/locustfile.py";

/// The guide's mix as a locustfile, for `harness locust guide`.
pub const GUIDE_LOCUSTFILE: &str = "scenarios/guide_locustfile.py";

/// How long the calibration runs once every user has started.
pub const CALIBRATION_STEADY: Duration = Duration::from_secs(5);

/// The fewest users the calibration runs.
pub const CALIBRATION_USERS: usize = 300;

/// The slowest the calibration starts its users (a second).
pub const CALIBRATION_RATE: f64 = 100.0;

/// Time the tool may take beyond its run time to start (Python imports) and to stop.
pub const DEFAULT_ALLOWANCE: Duration = Duration::from_secs(60);

/// One `harness locust` run: the tool, its file and load, the mock's profile.
#[derive(Debug, Clone)]
pub struct LocustSpec {
    /// The program run as Locust.
    pub program: PathBuf,
    /// The locustfile (or a file the program reads in its place).
    pub locustfile: PathBuf,
    /// User classes to run (empty: all).
    pub classes: Vec<String>,
    /// The profile the mock serves.
    pub profile: Profile,
    /// Peak users.
    pub users: usize,
    /// Users started per second.
    pub spawn_rate: f64,
    /// The run time.
    pub run_time: Duration,
    /// The mock's delays are multiplied by this (1: real time).
    pub time_scale: f64,
    /// Seed of the mock's random choices (Locust's are its own).
    pub seed: u64,
    /// Time allowed beyond the run time before the tool is killed.
    pub allowance: Duration,
}

impl LocustSpec {
    /// A spec with the default load, validated.
    pub fn new(program: PathBuf, locustfile: PathBuf, profile: Profile) -> Self {
        let (users, spawn_rate, run_time) = DEFAULT_LOAD;
        Self {
            program,
            locustfile,
            classes: Vec::new(),
            profile,
            users,
            spawn_rate,
            run_time,
            time_scale: 1.0,
            seed: 42,
            allowance: DEFAULT_ALLOWANCE,
        }
    }

    /// Checks the load, the time scale and the locustfile.
    pub fn validate(&self) -> Result<(), LocustError> {
        let f = self.time_scale;
        if !(f.is_finite() && f > 0.0 && f <= crate::config::MAX_TIME_SCALE) {
            return Err(LocustError::Option(format!(
                "--time-scale {f} is invalid: expected a number in (0, 1]"
            )));
        }
        if self.users == 0 {
            return Err(LocustError::Option(
                "-u 0 is invalid: expected at least 1 user".into(),
            ));
        }
        if !(self.spawn_rate.is_finite() && self.spawn_rate > 0.0) {
            return Err(LocustError::Option(format!(
                "-r {} is invalid: expected a positive number of users per second",
                self.spawn_rate
            )));
        }
        if self.run_time < Duration::from_secs(1) {
            return Err(LocustError::Option(format!(
                "-t {:?} is invalid: expected at least 1 s",
                self.run_time
            )));
        }
        if !self.locustfile.is_file()
            && loadgen::Scenario::builtin(&self.locustfile.to_string_lossy()).is_none()
        {
            return Err(LocustError::Locustfile {
                path: self.locustfile.display().to_string(),
                message: "no such file".to_owned(),
            });
        }
        Ok(())
    }

    /// How long users may finish the task they are in when the run time is up: as long
    /// as Locust lets a request take by default (a minute, scaled with the mock's
    /// delays), so no task is cut and every request the mock answered is counted by
    /// the tool too.
    pub fn stop_timeout(&self) -> Duration {
        Duration::from_secs(60).mul_f64(self.time_scale)
    }

    /// Whole seconds of `d`, as Locust's `-t` takes them.
    pub fn seconds(d: Duration) -> String {
        format!("{}s", d.as_secs_f64().ceil().max(1.0))
    }
}

/// The calibration's load: (users, spawn rate, run time).
///
/// Its overhead bound is only as tight as its sample is large (a share of the run's
/// requests above the calibration's (x+1)-th largest overhead is bounded through the
/// calibration's size; about ln(1/alpha)/m of them for m requests), and a locustfile's
/// waits fix the rate per user. So the calibration runs at least
/// [`CALIBRATION_USERS`] users started at least [`CALIBRATION_RATE`] a second: more
/// requests a second than the run, which only makes the tool's overhead larger and the
/// bound safer. It lasts until every user started plus [`CALIBRATION_STEADY`], never
/// longer than the run.
pub fn calibration_load(spec: &LocustSpec) -> (usize, f64, Duration) {
    let users = spec.users.max(CALIBRATION_USERS);
    let rate = spec.spawn_rate.max(CALIBRATION_RATE);
    let ramp = Duration::from_secs_f64((users as f64 / rate).ceil());
    (users, rate, (ramp + CALIBRATION_STEADY).min(spec.run_time))
}

/// A class whose task mix cannot be checked (`None`: every class), and why.
pub type Skip = (Option<String>, String);

/// What a correct run gives: the locustfile's classes and weights as read from the
/// file, the classes that could not be read and why, and the profile.
#[derive(Debug, Clone)]
pub struct LocustExpectation {
    /// The classes, tasks and weights (`None`: not known).
    pub scenario: Option<Scenario>,
    /// Classes whose tasks could not be read, with the reason.
    pub skips: Vec<Skip>,
    /// What the importer skipped outside any class (file:line:column: what).
    pub notes: Vec<String>,
    /// The profile as meant.
    pub profile: Profile,
}

impl LocustExpectation {
    /// The expectation of `spec`'s file and classes against its profile.
    pub fn of(spec: &LocustSpec) -> Result<Self, LocustError> {
        let mut exp = read_classes(&spec.locustfile, &spec.profile)?;
        if let Some(s) = exp.scenario.take() {
            let selected = s
                .select(&spec.classes)
                .map_err(|e| LocustError::Locustfile {
                    path: spec.locustfile.display().to_string(),
                    message: e.to_string(),
                })?;
            exp.scenario = Some(selected);
        }
        Ok(exp)
    }

    /// The expectation of a scenario's classes against `profile`.
    pub fn of_scenario(scenario: Scenario, profile: &Profile) -> Self {
        Self {
            scenario: Some(scenario),
            skips: Vec::new(),
            notes: Vec::new(),
            profile: profile.clone(),
        }
    }

    /// The reason a class's task mix cannot be checked, if any.
    pub fn skip_reason(&self, class: &str) -> Option<&str> {
        self.skips
            .iter()
            .find(|(c, _)| c.as_deref().is_none_or(|c| c == class))
            .map(|(_, why)| why.as_str())
    }
}

/// The classes of a locustfile, read by loadgen's importer (Python parsed, never run),
/// of a scenario file (TOML) or of a built-in scenario's name. A class the importer
/// warned about is listed with its first warning: its tasks may not be what Locust
/// runs; warnings about no class (a module-level hook, say) are kept as notes.
fn read_classes(path: &Path, profile: &Profile) -> Result<LocustExpectation, LocustError> {
    let refuse = |message: String| LocustError::Locustfile {
        path: path.display().to_string(),
        message,
    };
    if let Some(s) = Scenario::builtin(&path.to_string_lossy()) {
        return Ok(LocustExpectation::of_scenario(s, profile));
    }
    if path.extension().is_some_and(|e| e == "toml") {
        let s = Scenario::load(path).map_err(|e| refuse(e.to_string()))?;
        return Ok(LocustExpectation::of_scenario(s, profile));
    }
    let options = loadgen::plan::locustfile::ImportOptions::default();
    let import = loadgen::plan::locustfile::import(path, &options)
        .map_err(|e| LocustError::Import(Box::new(e)))?;
    let mut skips: Vec<Skip> = Vec::new();
    let mut notes = Vec::new();
    for w in &import.warnings {
        match &w.class {
            Some(class)
                if !skips
                    .iter()
                    .any(|(c, _)| c.as_deref() == Some(class.as_str())) =>
            {
                skips.push((
                    Some(class.clone()),
                    format!("the importer could not read all of it: {w}"),
                ));
            }
            Some(_) => {}
            None => notes.push(w.to_string()),
        }
    }
    Ok(LocustExpectation {
        scenario: Some(import.scenario),
        skips,
        notes,
        profile: profile.clone(),
    })
}
