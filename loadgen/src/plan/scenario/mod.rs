//! The scenario model: user classes (weight or fixed count, wait time, default headers,
//! weighted tasks), each task a sequence of request templates. A scenario is loaded from
//! TOML (see `raw`), validated completely and compiled before any request is sent.

pub(crate) mod check;
mod ratio;
mod raw;

pub use ratio::{ClassRatio, TaskRatio};

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use rand::Rng;

use crate::plan::template::Template;

/// The built-in scenarios, embedded in the binary: (name, TOML text).
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("acis", include_str!("../../../../scenarios/acis.toml")),
    ("guide", include_str!("../../../../scenarios/guide.toml")),
];

/// The scenario used when none is given.
pub const DEFAULT_SCENARIO: &str = "acis";

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {file} (built-in scenarios: {builtins})")]
    Read {
        /// The path given.
        file: String,
        /// Names of the built-in scenarios, as an alternative.
        builtins: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML or a value in it is wrong.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file (or built-in name).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A class named on the command line is not in the scenario.
    #[error("unknown user class {name:?}; {file} has: {valid}")]
    UnknownClass {
        /// The name given.
        name: String,
        /// The scenario's file or built-in name.
        file: String,
        /// The classes it has.
        valid: String,
    },
}

/// A validated, compiled scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file or built-in name it came from.
    pub source: String,
    /// A one-line description, if the file gives one.
    pub description: String,
    /// User classes, sorted by name (the order Locust's dispatcher uses).
    pub classes: Vec<Arc<UserClass>>,
    /// The file's `[[stages]]` or `[arrival]`, if any (used unless flags give a plan).
    pub plan: Option<crate::plan::load::LoadPlan>,
    /// Pass/fail criteria (`[[criteria]]`); none means Locust's exit-code rule.
    pub criteria: crate::verdict::criteria::CriteriaSet,
    /// The baselines the bands are judged by (`[baselines]`; the guide's by default).
    pub baselines: crate::verdict::baseline::Baselines,
}

/// One user class (a Locust `HttpUser` subclass).
#[derive(Debug, Clone, PartialEq)]
pub struct UserClass {
    /// Class name, as in Locust (`ACISAPIUser`).
    pub name: String,
    /// Relative weight of the class among weighted classes.
    pub weight: f64,
    /// A fixed number of users instead of a weight.
    pub fixed_count: Option<u64>,
    /// The wait after each task.
    pub wait: WaitTime,
    /// Headers set on start and sent with every request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Requests each user sends once, before its first task (Locust's `on_start`).
    pub on_start: Vec<RequestSpec>,
    /// The weighted tasks.
    pub tasks: Vec<Task>,
}

/// A task: requests run in order, picked with probability proportional to its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The task's name (a Locust task method name).
    pub name: String,
    /// Integer weight (Locust's `@task(N)`).
    pub weight: u32,
    /// The requests, in order.
    pub requests: Vec<RequestSpec>,
}

/// One request of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// HTTP method.
    pub method: Method,
    /// Path and query, compiled.
    pub path: Template,
    /// Path and query as written in the scenario.
    pub path_text: String,
    /// Stats name (Locust's `name=`); `None` names the row by the rendered path.
    pub name: Option<String>,
    /// JSON body template, if any.
    pub body: Option<Template>,
    /// Extra headers for this request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// How many times the request is sent in a row (values drawn afresh each time).
    pub repeat: u32,
    /// Verdicts on the response (a locustfile's `catch_response` block), tried in order.
    pub checks: Vec<check::Check>,
}

/// A Locust wait time, applied after each task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WaitTime {
    /// No wait (Locust's default).
    Zero,
    /// Uniform in `[min, max]`.
    Between {
        /// Lower bound.
        min: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// Always the same wait.
    Constant(Duration),
    /// Tasks start every `period` at most: waits `max(0, period - task time)`.
    ConstantPacing(Duration),
    /// At most `rate` tasks per second: `constant_pacing(1 / rate)`.
    ConstantThroughput(f64),
}

impl WaitTime {
    /// The wait after a task that took `task_time`.
    pub fn next(&self, rng: &mut impl Rng, task_time: Duration) -> Duration {
        match *self {
            Self::Zero => Duration::ZERO,
            Self::Between { min, max } => {
                if max <= min {
                    min
                } else {
                    let (lo, hi) = (min.as_secs_f64(), max.as_secs_f64());
                    Duration::from_secs_f64(rng.random_range(lo..=hi))
                }
            }
            Self::Constant(d) => d,
            Self::ConstantPacing(period) => period.saturating_sub(task_time),
            Self::ConstantThroughput(rate) => seconds(1.0 / rate).saturating_sub(task_time),
        }
    }

    /// The same wait with every time multiplied by `factor` (a negative or non-finite
    /// factor leaves the times unchanged; an overflowing product saturates).
    pub fn scaled(&self, factor: f64) -> Self {
        let factor = if factor.is_finite() && factor >= 0.0 {
            factor
        } else {
            1.0
        };
        let s = |d: Duration| seconds(d.as_secs_f64() * factor);
        match *self {
            Self::Zero => Self::Zero,
            Self::Between { min, max } => Self::Between {
                min: s(min),
                max: s(max),
            },
            Self::Constant(d) => Self::Constant(s(d)),
            Self::ConstantPacing(d) => Self::ConstantPacing(s(d)),
            Self::ConstantThroughput(r) => Self::ConstantThroughput(r / factor),
        }
    }
}

/// Seconds as a Duration, saturating instead of panicking on huge or invalid values.
fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or(if secs > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

impl std::fmt::Display for WaitTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = |d: Duration| d.as_secs_f64();
        match self {
            Self::Zero => write!(f, "none"),
            Self::Between { min, max } => write!(f, "between({}, {})", secs(*min), secs(*max)),
            Self::Constant(d) => write!(f, "constant({})", secs(*d)),
            Self::ConstantPacing(d) => write!(f, "constant_pacing({})", secs(*d)),
            Self::ConstantThroughput(r) => write!(f, "constant_throughput({r})"),
        }
    }
}

impl UserClass {
    /// Picks a task index with probability proportional to its weight.
    pub fn pick_task(&self, rng: &mut impl Rng) -> usize {
        // Summed at each pick, not cached: `tasks` is public, and a class edited after
        // it was built must not pick past its tasks. A class has a handful of tasks.
        let total = self.total_task_weight();
        if total == 0 {
            return 0;
        }
        let mut x = rng.random_range(0..total);
        for (i, t) in self.tasks.iter().enumerate() {
            match x.checked_sub(u64::from(t.weight)) {
                Some(rest) => x = rest,
                None => return i,
            }
        }
        unreachable!("x < the sum of the weights")
    }

    /// Sum of the task weights.
    pub fn total_task_weight(&self) -> u64 {
        self.tasks.iter().map(|t| u64::from(t.weight)).sum()
    }

    fn new(
        name: String,
        weight: f64,
        fixed_count: Option<u64>,
        wait: WaitTime,
        headers: Vec<(HeaderName, HeaderValue)>,
        on_start: Vec<RequestSpec>,
        tasks: Vec<Task>,
    ) -> Self {
        Self {
            name,
            weight,
            fixed_count,
            wait,
            headers,
            on_start,
            tasks,
        }
    }
}

impl Scenario {
    /// Parses and validates TOML text; `source` names the file in error messages.
    pub fn from_toml(source: &str, text: &str) -> Result<Self, ScenarioError> {
        raw::compile(source, text)
    }

    /// Loads a scenario file, or a built-in scenario by name when no such file exists.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        if path.extension().is_some_and(|e| e == "py") {
            return Err(ScenarioError::Invalid {
                file: path.display().to_string(),
                line: 1,
                column: 1,
                message: format!(
                    "a Python locustfile: import it with loadgen::plan::locustfile::import (loadgen -f and loadgen import do), or give a .toml file or a built-in scenario ({})",
                    builtin_names()
                ),
            });
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_toml(&path.display().to_string(), &text),
            Err(source) => {
                let name = path.to_string_lossy();
                match Self::builtin(&name) {
                    Some(s) => Ok(s),
                    None => Err(ScenarioError::Read {
                        file: name.into_owned(),
                        builtins: builtin_names(),
                        source,
                    }),
                }
            }
        }
    }

    /// A built-in scenario by name (`acis`, `guide`).
    pub fn builtin(name: &str) -> Option<Self> {
        let (n, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        // Built-ins are checked by the tests; a broken one is a build defect.
        Self::from_toml(n, text).ok()
    }

    /// Keeps only the named classes (Locust's positional class names).
    pub fn select(mut self, names: &[String]) -> Result<Self, ScenarioError> {
        if names.is_empty() {
            return Ok(self);
        }
        for name in names {
            if !self.classes.iter().any(|c| &c.name == name) {
                return Err(ScenarioError::UnknownClass {
                    name: name.clone(),
                    file: self.source.clone(),
                    valid: self.class_names().join(", "),
                });
            }
        }
        self.classes.retain(|c| names.contains(&c.name));
        Ok(self)
    }

    /// The same scenario with every wait multiplied by `factor` (the harness's time scale).
    pub fn scaled(mut self, factor: f64) -> Self {
        for class in &mut self.classes {
            let mut c = (**class).clone();
            c.wait = c.wait.scaled(factor);
            *class = Arc::new(c);
        }
        self
    }

    /// The class names, in order.
    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }

    /// Classes, tasks, weights and ratios, as `--list` prints them.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        let weighted: f64 = self
            .classes
            .iter()
            .filter(|c| c.fixed_count.is_none())
            .map(|c| c.weight)
            .sum();
        let _ = writeln!(
            out,
            "Scenario {}{}",
            self.source,
            describe(&self.description)
        );
        let _ = writeln!(out, "Available user classes:");
        for class in &self.classes {
            let share = match class.fixed_count {
                Some(n) => format!("fixed_count {n}"),
                None => format!(
                    "weight {} ({:.1}% of weighted users)",
                    class.weight,
                    100.0 * class.weight / weighted
                ),
            };
            let _ = writeln!(out, "    {}: {share}, wait {}", class.name, class.wait);
            let total = class.total_task_weight() as f64;
            for task in &class.tasks {
                let _ = writeln!(
                    out,
                    "        {:<28} weight {:>3} ({:>5.1}%)  {}",
                    task.name,
                    task.weight,
                    100.0 * f64::from(task.weight) / total,
                    describe_requests(&task.requests)
                );
            }
        }
        out
    }
}

fn describe(description: &str) -> String {
    if description.is_empty() {
        String::new()
    } else {
        format!(": {description}")
    }
}

fn describe_requests(requests: &[RequestSpec]) -> String {
    requests
        .iter()
        .map(|r| {
            let name = r.name.as_deref().unwrap_or(&r.path_text);
            if r.repeat > 1 {
                format!("{} {name} x{}", r.method, r.repeat)
            } else {
                format!("{} {name}", r.method)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The built-in scenario names, comma separated.
pub(crate) fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
