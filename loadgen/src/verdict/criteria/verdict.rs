//! The verdict: each criterion's result, whether the run was aborted, the outcome, the
//! exit-code rule, and the breach lines in the platform locustfile's words
//! ("failure ratio 10.00% is over 5%").

use std::time::Duration;

use super::parse::{Criterion, CriterionMetric};
use crate::stats::AGGREGATED_NAME;

/// One criterion judged.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CriterionResult {
    /// The row's label (`Aggregated`, `GET /api/clients`).
    pub row: String,
    /// The criterion.
    pub criterion: Criterion,
    /// The measured value; `None` when the row had no request to judge.
    pub value: Option<f64>,
    /// True when the value satisfies the criterion.
    pub passed: bool,
    /// The criterion could abort the run.
    pub abort_on_fail: bool,
}

impl CriterionResult {
    /// The breach in plain words, as the platform's locustfile prints it:
    /// `failure ratio 10.00% is over 5%`, prefixed by the row unless it is Aggregated.
    pub fn breach(&self) -> String {
        let prefix = if self.row == AGGREGATED_NAME {
            String::new()
        } else {
            format!("{}: ", self.row)
        };
        match self.value {
            None => format!("{prefix}{} has no requests to judge", self.criterion),
            Some(v) => format!("{prefix}{}", describe(&self.criterion, v)),
        }
    }

    /// The measured value with its unit (`806.12 ms`, `10.95%`, `13.20 req/s`), or
    /// `no requests` when the row had none to judge.
    pub fn measured(&self) -> String {
        self.value.map_or_else(
            || "no requests".to_owned(),
            |v| with_unit(self.criterion.metric, v),
        )
    }

    /// The criterion that held, with its value: `Aggregated: failure ratio 1.50% is at
    /// most 5%` (the row is always named, since a pass says where it was measured).
    pub fn held(&self) -> String {
        match self.value {
            None => format!("{}: {} has no requests to judge", self.row, self.criterion),
            Some(v) => format!(
                "{}: {}",
                self.row,
                describe_with(&self.criterion, v, self.criterion.op.held_words())
            ),
        }
    }
}

/// `<metric words> <value> is <op words> <threshold>`, in the locustfile's formats.
pub(crate) fn describe(c: &Criterion, value: f64) -> String {
    describe_with(c, value, c.op.breach_words())
}

/// [`describe`] with the words of the comparison given.
fn describe_with(c: &Criterion, value: f64, words: &str) -> String {
    let (label, v, t) = match c.metric {
        CriterionMetric::Avg => (
            "average response time".to_owned(),
            ms(value),
            ms(c.threshold),
        ),
        CriterionMetric::Min => (
            "minimum response time".to_owned(),
            ms(value),
            ms(c.threshold),
        ),
        CriterionMetric::Max => (
            "maximum response time".to_owned(),
            ms(value),
            ms(c.threshold),
        ),
        CriterionMetric::Med => (
            "median response time".to_owned(),
            ms(value),
            ms(c.threshold),
        ),
        CriterionMetric::Percentile(p) => (
            format!("{} percentile", ordinal(p)),
            ms(value),
            ms(c.threshold),
        ),
        CriterionMetric::Count => (
            "request count".to_owned(),
            format!("{value:.0}"),
            trim(c.threshold),
        ),
        CriterionMetric::Failures => (
            "failure count".to_owned(),
            format!("{value:.0}"),
            trim(c.threshold),
        ),
        CriterionMetric::FailRatio => (
            "failure ratio".to_owned(),
            format!("{:.2}%", value * 100.0),
            format!("{}%", trim(c.threshold * 100.0)),
        ),
        CriterionMetric::Rps => (
            "requests/s".to_owned(),
            format!("{value:.2}"),
            trim(c.threshold),
        ),
        CriterionMetric::FailRps => (
            "failures/s".to_owned(),
            format!("{value:.2}"),
            trim(c.threshold),
        ),
    };
    format!("{label} {v} is {words} {t}")
}

/// A value of `metric` with its unit, for tables: milliseconds and rates to two
/// decimals, ratios as percentages, counts whole.
pub(crate) fn with_unit(metric: CriterionMetric, value: f64) -> String {
    match metric {
        CriterionMetric::Avg
        | CriterionMetric::Min
        | CriterionMetric::Max
        | CriterionMetric::Med
        | CriterionMetric::Percentile(_) => format!("{value:.2} ms"),
        CriterionMetric::Count => format!("{value:.0} requests"),
        CriterionMetric::Failures => format!("{value:.0} failures"),
        CriterionMetric::FailRatio => format!("{:.2}%", value * 100.0),
        CriterionMetric::Rps => format!("{value:.2} req/s"),
        CriterionMetric::FailRps => format!("{value:.2} failures/s"),
    }
}

/// Milliseconds as the locustfile prints breaches: whole, with the unit glued on.
fn ms(value: f64) -> String {
    format!("{value:.0}ms")
}

/// A number without trailing zeros (at most 4 decimals): `5`, `0.5`, `99.9`.
fn trim(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// `95th`, `99.9th`, `1st`, `2nd`, `3rd`, `11th`.
fn ordinal(p: f64) -> String {
    let text = trim(p);
    if p.fract() != 0.0 {
        return format!("{text}th");
    }
    let n = p as u64;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{text}{suffix}")
}

/// A criterion that stopped the run while it was going on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Abort {
    /// The row's label.
    pub row: String,
    /// The criterion that failed.
    pub criterion: Criterion,
    /// Its value then.
    pub value: f64,
    /// How far into the run.
    pub elapsed: Duration,
}

impl Abort {
    /// `aborted after 12 s: 95th percentile 6100ms is over 5000ms`.
    pub fn describe(&self) -> String {
        let prefix = if self.row == AGGREGATED_NAME {
            String::new()
        } else {
            format!("{}: ", self.row)
        };
        format!(
            "aborted after {} s: {prefix}{}",
            self.elapsed.as_secs(),
            describe(&self.criterion, self.value)
        )
    }
}

/// How the run is judged overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Outcome {
    /// No criteria: Locust's exit-code rule holds.
    NoCriteria,
    /// Every criterion held.
    Passed,
    /// Some criterion failed at the end.
    Failed,
    /// An `abort_on_fail` criterion stopped the run.
    Aborted,
}

impl Outcome {
    /// `PASSED`, `FAILED`, `ABORTED`, or empty without criteria.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::NoCriteria => "",
            Outcome::Passed => "PASSED",
            Outcome::Failed => "FAILED",
            Outcome::Aborted => "ABORTED",
        }
    }
}

/// Every criterion's result and any abort.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Verdict {
    /// In the order the criteria are written.
    pub results: Vec<CriterionResult>,
    /// Set when a criterion stopped the run early.
    pub aborted: Option<Abort>,
    /// Set when no request reached the target (every connection failed): the run
    /// fails whatever its criteria say, since nothing was measured.
    pub unreachable: Option<String>,
}

impl Verdict {
    /// Records that the run was aborted (the final results are still all judged).
    pub fn with_abort(mut self, abort: Option<Abort>) -> Self {
        self.aborted = abort;
        self
    }

    /// Records that no request reached the target (see [`Snapshot::unreachable_warning`]).
    ///
    /// [`Snapshot::unreachable_warning`]: crate::stats::Snapshot::unreachable_warning
    pub fn with_unreachable(mut self, unreachable: Option<String>) -> Self {
        self.unreachable = unreachable;
        self
    }

    /// The overall outcome.
    pub fn outcome(&self) -> Outcome {
        if self.aborted.is_some() {
            Outcome::Aborted
        } else if self.unreachable.is_some() {
            Outcome::Failed
        } else if self.results.is_empty() {
            Outcome::NoCriteria
        } else if self.results.iter().all(|r| r.passed) {
            Outcome::Passed
        } else {
            Outcome::Failed
        }
    }

    /// Each criterion's result in a line, with its measured value: the breach in the
    /// platform locustfile's words for a failed one, `ok  ...` for one that held. When
    /// nothing reached the target, a response-time criterion reads `n/a`: the times
    /// measured were of refused connections, and holding a threshold says nothing.
    pub fn criteria_lines(&self) -> Vec<String> {
        self.results
            .iter()
            .map(|r| {
                if self.unreachable.is_some() && r.criterion.metric.is_response_time() {
                    format!(
                        "n/a {}: {}: no response was received to judge",
                        r.row, r.criterion
                    )
                } else if r.passed {
                    format!("ok  {}", r.held())
                } else {
                    format!("- {}", r.breach())
                }
            })
            .collect()
    }

    /// The failed criteria.
    pub fn breaches(&self) -> impl Iterator<Item = &CriterionResult> {
        self.results.iter().filter(|r| !r.passed)
    }
}

/// The exit code: criteria decide when there are any (0 passed, 1 failed, 1 aborted);
/// without criteria Locust's rule holds (0, or `exit_code_on_error` when any request
/// failed).
pub fn exit_code(outcome: Outcome, any_request_failed: bool, exit_code_on_error: u8) -> u8 {
    match outcome {
        Outcome::Passed => 0,
        Outcome::Failed | Outcome::Aborted => 1,
        Outcome::NoCriteria if any_request_failed => exit_code_on_error,
        Outcome::NoCriteria => 0,
    }
}
