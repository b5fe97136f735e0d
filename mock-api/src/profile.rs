//! Profiles: per-route latency and failure behaviour, loaded from TOML.
//!
//! A [`Profile`] gives every route template in [`ROUTES`] a [`Behaviour`] (a latency
//! distribution, failure rules and optional CPU work), with `defaults` for routes it does
//! not list, plus [`JobSettings`] for background jobs. Built-in profiles live in the
//! repository's `profiles/` folder and are embedded in the binary.
//!
//! ```toml
//! name = "example"
//! description = "What this profile rehearses."
//!
//! [defaults]
//! latency = { kind = "fixed", ms = 20 }
//!
//! [jobs]                        # POST /api/ml/train, POST /api/portfolio/rebalance/{id}
//! duration = { kind = "uniform", low_ms = 2000, high_ms = 8000 }
//! failure_probability = 0.05
//!
//! [routes."POST /api/trading/execute"]
//! latency = { kind = "lognormal", median_ms = 1200, p99_ms = 8000 }
//! failures = [{ kind = "status", code = 500, probability = 0.10 }]
//! cpu_ms = 0                    # real CPU work per request, in ms
//!
//! [capacity]                    # optional: see crate::capacity
//! workers = 8
//! queue = 64
//! queue_timeout_ms = 1000
//! ```
//!
//! Everything is validated while parsing, so an error points at the line and column of
//! the offending value (see [`ProfileError`]).

mod de;
mod fit;
pub mod history;
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::capacity::Capacity;
use crate::fault::{FailureKind, FailureRule};
use crate::latency::LatencyDistribution;
use crate::route_table::route_keys;

pub use fit::{fit, fit_with_history, route_for, Fit, FitError, FittedRow};

crate::route_table::platform_routes!(route_keys);

/// Built-in profiles: (name, TOML text), embedded from the `profiles/` folder.
const BUILTINS: &[(&str, &str)] = &[
    ("guide", include_str!("../../profiles/guide.toml")),
    ("healthy", include_str!("../../profiles/healthy.toml")),
    ("fast", include_str!("../../profiles/fast.toml")),
    ("flaky", include_str!("../../profiles/flaky.toml")),
    ("capacity", include_str!("../../profiles/capacity.toml")),
    (
        "pool-exhausted",
        include_str!("../../profiles/pool-exhausted.toml"),
    ),
    (
        "rate-limited",
        include_str!("../../profiles/rate-limited.toml"),
    ),
    ("leaking", include_str!("../../profiles/leaking.toml")),
    ("stalling", include_str!("../../profiles/stalling.toml")),
];

/// How one route behaves: its latency, its failures, and the CPU it burns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Total server time from arrival to response (handler and database included); with
    /// `capacity.workers`, the service time a worker is held (after any queue wait).
    #[serde(deserialize_with = "de::latency")]
    pub latency: LatencyDistribution,
    /// Failure rules, checked in order; the first that fires wins.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "de::failures"
    )]
    pub failures: Vec<FailureRule>,
    /// Real CPU work the handler does per request, in ms (counts toward the latency).
    #[serde(
        default,
        skip_serializing_if = "de::is_zero",
        deserialize_with = "de::cpu_ms"
    )]
    pub cpu_ms: f64,
}

/// What [`Behaviour::decide`] chose for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// How long after arrival the response (or the failure) should happen.
    pub latency: Duration,
    /// The failure to enact instead of a normal response, if any.
    pub failure: Option<FailureKind>,
}

/// How background jobs (model training, rebalancing) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// How long a job runs before it ends.
    #[serde(deserialize_with = "de::latency")]
    pub duration: LatencyDistribution,
    /// Probability that a job ends `failed` rather than `completed`.
    #[serde(deserialize_with = "de::probability")]
    pub failure_probability: f64,
}

/// A named set of behaviours: defaults, one per route, and job settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name (`--profile NAME`).
    pub name: String,
    /// What the profile is for.
    #[serde(default)]
    pub description: String,
    /// Behaviour of any route the profile does not list.
    pub defaults: Behaviour,
    /// Background jobs.
    pub jobs: JobSettings,
    /// Per-route behaviour, keyed by a template from [`ROUTES`].
    #[serde(default, deserialize_with = "de::routes")]
    pub routes: BTreeMap<String, Behaviour>,
    /// Workers, queue, rate limit, degradation and stalls; `None`: unlimited (see
    /// [`crate::capacity`]). With workers, a route's latency is its service time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// A profile that cannot be found, read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The TOML is malformed or a value is invalid at a known position.
    #[error("{origin}{}: {message}", de::position(*.line, *.column))]
    Parse {
        /// The file or built-in profile.
        origin: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A value is invalid (found by [`Profile::validate`], no position available).
    #[error("{origin}: `{field}`: {message}")]
    Invalid {
        /// The profile name or file.
        origin: String,
        /// Dotted path of the field, e.g. `routes."GET /health".latency`.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source} (built-in profiles: {builtins})")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
        /// The built-in names, for the user who meant one of them.
        builtins: String,
    },
    /// No built-in profile has this name.
    #[error("no built-in profile named `{name}`: expected one of {builtins}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The built-in names.
        builtins: String,
    },
}

impl Behaviour {
    /// Samples this request's latency and picks at most one failure. `sequence` is the
    /// 0-based index of the request on its route (for `every = N` rules); probability
    /// rules share one uniform draw so each fires at exactly its own rate.
    pub fn decide<R: Rng + ?Sized>(&self, rng: &mut R, sequence: u64) -> Decision {
        let latency = self.latency.sample(rng);
        let failure = if self.failures.is_empty() {
            None
        } else {
            let u = rng.random::<f64>();
            let mut cumulative = 0.0;
            self.failures
                .iter()
                .find(|rule| rule.fires(sequence, u, &mut cumulative))
                .map(|rule| rule.kind.clone())
        };
        Decision { latency, failure }
    }

    /// The same behaviour with every duration (latency, failure timings, CPU work)
    /// multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Behaviour {
        Behaviour {
            latency: self.latency.scaled(factor),
            failures: self.failures.iter().map(|f| f.scaled(factor)).collect(),
            cpu_ms: if factor.is_finite() && factor > 0.0 {
                self.cpu_ms * factor
            } else {
                0.0
            },
        }
    }

    /// Checks the latency, the failure rules and `cpu_ms`; the error names the field.
    fn check(&self) -> Result<(), (String, String)> {
        self.latency
            .validate()
            .map_err(|e| ("latency".to_owned(), e.to_string()))?;
        crate::fault::validate_rules(&self.failures)
            .map_err(|e| ("failures".to_owned(), e.to_string()))?;
        de::check_cpu_ms(self.cpu_ms).map_err(|m| ("cpu_ms".to_owned(), m))
    }
}

impl Profile {
    /// Names of the built-in profiles, in the order they are listed.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTINS.iter().map(|(name, _)| *name).collect()
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
        let text = BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
            .ok_or_else(|| ProfileError::UnknownBuiltin {
                name: name.to_owned(),
                builtins: Profile::builtin_names().join(", "),
            })?;
        Profile::from_toml(text, &format!("built-in profile `{name}`"))
    }

    /// Parses and fully validates a profile; `origin` (a file name) prefixes errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let profile: Profile =
            toml::from_str(text).map_err(|e| de::parse_error(&e, text, origin))?;
        profile.validate_as(origin)?;
        Ok(profile)
    }

    /// A built-in profile when `name_or_path` names one, else the TOML file at that path.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if BUILTINS.iter().any(|(name, _)| *name == name_or_path) {
            return Profile::builtin(name_or_path);
        }
        let text = std::fs::read_to_string(name_or_path).map_err(|source| ProfileError::Read {
            path: name_or_path.to_owned(),
            source,
            builtins: Profile::builtin_names().join(", "),
        })?;
        Profile::from_toml(&text, name_or_path)
    }

    /// The profile as TOML that [`Profile::from_toml`] reads back to an equal profile.
    pub fn to_toml(&self) -> String {
        render::to_toml(self)
            .unwrap_or_else(|e| format!("# profile `{}` cannot be shown as TOML: {e}\n", self.name))
    }

    /// The same profile with every duration multiplied by `factor` (`--time-scale`).
    pub fn scaled(&self, factor: f64) -> Profile {
        Profile {
            name: self.name.clone(),
            description: self.description.clone(),
            defaults: self.defaults.scaled(factor),
            jobs: JobSettings {
                duration: self.jobs.duration.scaled(factor),
                failure_probability: self.jobs.failure_probability,
            },
            routes: self
                .routes
                .iter()
                .map(|(route, b)| (route.clone(), b.scaled(factor)))
                .collect(),
            capacity: self.capacity.as_ref().map(|c| c.scaled(factor)),
        }
    }

    /// Requests per second at which every worker is busy, for a traffic mix of
    /// `(route template, weight)`: `workers / (weighted mean service time)`. `None`
    /// without workers, for an empty mix or when the service takes no time. The mean is
    /// the configured latency's (degradation after start up and failures with their own
    /// timing, such as hangs, are not counted).
    pub fn saturation_rps(&self, mix: &[(&str, f64)]) -> Option<f64> {
        let total: f64 = mix.iter().map(|(_, w)| w.max(0.0)).sum();
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        let mean_s: f64 = mix
            .iter()
            .map(|(route, w)| w.max(0.0) * self.behaviour(route).latency.mean().as_secs_f64())
            .sum::<f64>()
            / total;
        let mean = Duration::try_from_secs_f64(mean_s).ok()?;
        self.capacity.as_ref()?.saturation_rps(mean)
    }

    /// The saturation point of a load made only of `route` (see [`Self::saturation_rps`]).
    pub fn route_saturation_rps(&self, route: &str) -> Option<f64> {
        self.saturation_rps(&[(route, 1.0)])
    }

    /// The behaviour of a route template: its own, or the defaults.
    pub fn behaviour(&self, route: &str) -> &Behaviour {
        self.routes.get(route).unwrap_or(&self.defaults)
    }

    /// Checks every route key, distribution, failure rule and job setting.
    pub fn validate(&self) -> Result<(), ProfileError> {
        self.validate_as(&format!("profile `{}`", self.name))
    }

    fn validate_as(&self, origin: &str) -> Result<(), ProfileError> {
        let invalid = |field: String, message: String| ProfileError::Invalid {
            origin: origin.to_owned(),
            field,
            message,
        };
        self.defaults
            .check()
            .map_err(|(f, m)| invalid(format!("defaults.{f}"), m))?;
        for (route, behaviour) in &self.routes {
            de::check_route(route).map_err(|m| invalid("routes".to_owned(), m))?;
            behaviour
                .check()
                .map_err(|(f, m)| invalid(format!("routes.\"{route}\".{f}"), m))?;
        }
        self.jobs
            .duration
            .validate()
            .map_err(|e| invalid("jobs.duration".to_owned(), e.to_string()))?;
        if let Some(c) = &self.capacity {
            c.validate().map_err(|(f, m)| invalid(f, m))?;
        }
        de::check_probability(self.jobs.failure_probability)
            .map_err(|m| invalid("jobs.failure_probability".to_owned(), m))
    }
}
