//! What a harness run is: the mode (which scenario, classes and profile), the load
//! (users, spawn rate, duration), one time scale and one seed, validated once. The
//! expectation the checks compare against is kept apart from what the programs are
//! given, so a test can give the mock or loadgen something different on purpose and
//! see the right check fail.

use std::time::Duration;

use loadgen::Scenario;
use mock_api::profile::Profile;

/// The largest time scale accepted: above 1 a run would be slower than real time.
pub const MAX_TIME_SCALE: f64 = 1.0;

/// Which classes run against which profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The guide's 50/40/10 mix against the `guide` profile (the README's main command).
    Guide,
    /// ACISStressTestUser alone against the `guide` profile.
    Stress,
    /// ACISBackgroundJobUser alone against the `guide` profile.
    Background,
    /// All three ACIS classes together against the `guide` profile.
    All,
}

impl Mode {
    /// The mode's command name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Guide => "guide",
            Mode::Stress => "stress",
            Mode::Background => "background",
            Mode::All => "all",
        }
    }

    /// Built-in scenario and the classes it runs (empty: all).
    fn scenario(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Mode::Guide => ("guide", &[]),
            Mode::Stress => ("acis", &["ACISStressTestUser"]),
            Mode::Background => ("acis", &["ACISBackgroundJobUser"]),
            Mode::All => ("acis", &[]),
        }
    }

    /// The default load, in unscaled time.
    ///
    /// - guide: the guide's example table has 10 000 requests in one minute
    ///   (166.7 req/s). A GuideUser's cycle is a 3 s mean wait plus a mean latency of
    ///   0.5 x 250 + 0.4 x 800 + 0.1 x 1500 = 595 ms, so 166.7 req/s needs about
    ///   166.7 x 3.6 = 600 users. Spawned at 100/s (the guide's stress rate; at its
    ///   normal-load 10/s the ramp would take the whole minute), the run gives about
    ///   9 500 requests, 950 trades: enough for percentile bounds a few percent wide.
    /// - stress: 200 users at 50/s (the guide's stress rate), one minute.
    /// - background: 20 users at 2/s (the guide's numbers), five minutes: the class
    ///   waits 5..15 s, so a minute would give only ~100 tasks.
    /// - all: 150 users at 50/s, one minute, split 50/50/50.
    ///
    /// A time scale of 0.1 runs a minute in 6 s. Scaled latencies stay well above the
    /// runtime's 1 ms timer resolution for the guide's rows (the fastest, GET
    /// /api/clients, has a minimum of 50 ms, 5 ms scaled). Scaling compresses time but
    /// not work: the guide run's 150 req/s become 1 500 req/s. At 0.05 (3 000 req/s,
    /// ~300 trade commits/s, each a SQLite fsync) the mock's own GET /api/clients misses
    /// its configured p95 (1291 ms served vs 500 ms configured, measured on a 2-core
    /// machine) and the harness rightly fails; at 0.1 it keeps up.
    pub fn defaults(self) -> Load {
        let (users, spawn_rate, secs, time_scale) = match self {
            Mode::Guide => (600, 100.0, 60, 0.1),
            Mode::Stress => (200, 50.0, 60, 0.1),
            Mode::Background => (20, 2.0, 300, 0.02),
            Mode::All => (150, 50.0, 60, 0.1),
        };
        Load {
            users,
            spawn_rate,
            duration: Duration::from_secs(secs),
            time_scale,
        }
    }
}

/// How much load, in unscaled time, and how fast the run goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Peak users.
    pub users: usize,
    /// Users started per second (unscaled).
    pub spawn_rate: f64,
    /// Run time (unscaled).
    pub duration: Duration,
    /// Every duration of the profile and the scenario is multiplied by this.
    pub time_scale: f64,
}

/// Why a run cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--time-scale` out of range.
    #[error("--time-scale {0} is invalid: expected a number in (0, {MAX_TIME_SCALE}]")]
    TimeScale(f64),
    /// `--users` is zero.
    #[error("--users 0 is invalid: expected at least 1 user")]
    Users,
    /// `--spawn-rate` not positive.
    #[error("spawn rate {0} is invalid: expected a positive number of users per second")]
    SpawnRate(f64),
    /// `--duration` too short to schedule.
    #[error("--duration {0:?} is invalid: expected at least 1 s")]
    Duration(Duration),
    /// A built-in scenario is missing or lacks a class.
    #[error("built-in scenario `{name}` cannot be loaded: {message}")]
    Scenario {
        /// The scenario's name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// A built-in profile is missing.
    #[error(transparent)]
    Profile(#[from] mock_api::profile::ProfileError),
}

/// A validated harness run: what the programs are given and what the checks expect.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The mode's name, for the output.
    pub mode: Mode,
    /// The scenario loadgen runs (unscaled; the runner scales it).
    pub scenario: Scenario,
    /// The profile the mock serves (unscaled; the mock scales it).
    pub profile: Profile,
    /// The load.
    pub load: Load,
    /// Seed of the mock's and loadgen's random choices.
    pub seed: u64,
}

/// What the checks compare the run against: the scenario and profile as meant.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The scenario as meant (weights, waits).
    pub scenario: Scenario,
    /// The profile as meant (latencies, failures).
    pub profile: Profile,
}

impl RunSpec {
    /// A run of `mode` with its defaults, each overridden when given.
    pub fn new(
        mode: Mode,
        users: Option<usize>,
        duration: Option<Duration>,
        time_scale: Option<f64>,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        let mut load = mode.defaults();
        if let Some(u) = users {
            load.users = u;
        }
        if let Some(d) = duration {
            load.duration = d;
        }
        if let Some(f) = time_scale {
            load.time_scale = f;
        }
        let (name, classes) = mode.scenario();
        let scenario = builtin_scenario(name, classes)?;
        let spec = Self {
            mode,
            scenario,
            profile: Profile::builtin("guide")?,
            load,
            seed,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the load and the time scale.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let f = self.load.time_scale;
        if !(f.is_finite() && f > 0.0 && f <= MAX_TIME_SCALE) {
            return Err(ConfigError::TimeScale(f));
        }
        if self.load.users == 0 {
            return Err(ConfigError::Users);
        }
        if !(self.load.spawn_rate.is_finite() && self.load.spawn_rate > 0.0) {
            return Err(ConfigError::SpawnRate(self.load.spawn_rate));
        }
        if self.load.duration < Duration::from_secs(1) {
            return Err(ConfigError::Duration(self.load.duration));
        }
        Ok(())
    }

    /// The expectation of a correct system: exactly what the programs are given.
    pub fn expectation(&self) -> Expectation {
        Expectation {
            scenario: self.scenario.clone(),
            profile: self.profile.clone(),
        }
    }
}

/// A built-in scenario, restricted to `classes` when any are named.
pub fn builtin_scenario(name: &str, classes: &[&str]) -> Result<Scenario, ConfigError> {
    let scenario = Scenario::builtin(name).ok_or_else(|| ConfigError::Scenario {
        name: name.to_owned(),
        message: "no such built-in scenario".to_owned(),
    })?;
    let names: Vec<String> = classes.iter().map(|c| (*c).to_owned()).collect();
    scenario.select(&names).map_err(|e| ConfigError::Scenario {
        name: name.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_builds_with_its_defaults() {
        for mode in [Mode::Guide, Mode::Stress, Mode::Background, Mode::All] {
            let spec = RunSpec::new(mode, None, None, None, 1).unwrap();
            assert!(!spec.scenario.classes.is_empty(), "{}", mode.name());
        }
        let stress = RunSpec::new(Mode::Stress, None, None, None, 1).unwrap();
        assert_eq!(stress.scenario.class_names(), ["ACISStressTestUser"]);
    }

    #[test]
    fn bad_overrides_are_refused_with_the_value() {
        let e = RunSpec::new(Mode::Guide, Some(0), None, None, 1).unwrap_err();
        assert!(e.to_string().contains("--users 0"));
        let e = RunSpec::new(Mode::Guide, None, None, Some(2.0), 1).unwrap_err();
        assert!(e.to_string().contains("--time-scale 2"));
        let e =
            RunSpec::new(Mode::Guide, None, Some(Duration::from_millis(10)), None, 1).unwrap_err();
        assert!(e.to_string().contains("--duration"));
    }
}
