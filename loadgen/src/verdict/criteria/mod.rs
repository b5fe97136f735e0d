//! Pass/fail criteria, close to k6's thresholds: expressions such as `p(95) < 5000` or
//! `fail_ratio <= 0.05` on a row of the statistics or on Aggregated, judged against the
//! final [`Snapshot`] (and, with `abort_on_fail`, every 2 s while the run goes on).
//!
//! In a scenario file:
//!
//! ```toml
//! [[criteria]]
//! row = "Aggregated"                  # default; or "GET /api/clients", or a bare name
//! thresholds = ["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 5000"]
//!
//! [[criteria]]
//! row = "POST /api/trading/execute"
//! thresholds = ["p(99.9) < 8000"]
//! abort_on_fail = true                # stop the run as soon as one fails...
//! delay = "30s"                       # ...but not in its first 30 s (k6's delayAbortEval)
//! ```
//!
//! A bare name (`/api/clients`) judges every method of that name merged. A row that saw
//! no request has no average, percentile or ratio: such a criterion fails at the end
//! ("no requests to judge") but never aborts a run.

mod parse;
mod verdict;

#[cfg(test)]
mod tests;

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::stats::{RequestStats, Snapshot, AGGREGATED_NAME};

pub use parse::CriteriaError;
pub(crate) use parse::{Criterion, CriterionMetric, Op, Parser};
pub(crate) use verdict::with_unit;
pub use verdict::{exit_code, Abort, CriterionResult, Outcome, Verdict};

/// Which statistics row a group of criteria judges.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum RowSelector {
    /// The Aggregated row.
    Aggregated,
    /// One (method, name) row.
    Exact {
        /// Upper-case HTTP method.
        method: String,
        /// Stats name.
        name: String,
    },
    /// Every method of one stats name, merged.
    Name(String),
}

impl RowSelector {
    /// `Aggregated`, `METHOD name` (the method in upper case) or a bare stats name.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text == AGGREGATED_NAME {
            return Self::Aggregated;
        }
        if let Some((method, name)) = text.split_once(' ') {
            let name = name.trim();
            if !method.is_empty()
                && !name.is_empty()
                && method.chars().all(|c| c.is_ascii_uppercase())
            {
                return Self::Exact {
                    method: method.to_owned(),
                    name: name.to_owned(),
                };
            }
        }
        Self::Name(text.to_owned())
    }

    /// The row as the tables label it.
    pub fn label(&self) -> String {
        match self {
            Self::Aggregated => AGGREGATED_NAME.to_owned(),
            Self::Exact { method, name } => format!("{method} {name}"),
            Self::Name(name) => name.clone(),
        }
    }

    /// The row's statistics in `snapshot`; an empty row when no request of it was seen.
    pub fn stats(&self, snapshot: &Snapshot) -> RequestStats {
        match self {
            Self::Aggregated => snapshot.aggregated.clone(),
            Self::Exact { method, name } => snapshot
                .row(method, name)
                .cloned()
                .unwrap_or_else(|| RequestStats::new(method.clone(), name.clone())),
            Self::Name(name) => {
                let mut merged = RequestStats::new("", name.clone());
                for row in snapshot.rows.iter().filter(|r| &r.name == name) {
                    merged.merge(row);
                }
                merged
            }
        }
    }
}

/// Criteria on one row, with their abort rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CriteriaGroup {
    /// The row judged.
    pub row: RowSelector,
    /// Its thresholds.
    pub criteria: Vec<Criterion>,
    /// Stop the run as soon as one of them fails.
    pub abort_on_fail: bool,
    /// No abort before this much of the run has passed.
    pub delay: Duration,
}

/// Every criterion of a scenario.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct CriteriaSet {
    /// Groups in the order written.
    pub groups: Vec<CriteriaGroup>,
}

impl CriteriaSet {
    /// True when there is no criterion at all (Locust's exit-code rule then holds).
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|g| g.criteria.is_empty())
    }

    /// True when some group may abort the run (the runner then checks every 2 s).
    pub fn can_abort(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.abort_on_fail && !g.criteria.is_empty())
    }

    /// Criteria on Aggregated from expressions (used for built-in rules and tests).
    pub fn aggregated(expressions: &[&str]) -> Result<Self, CriteriaError> {
        let criteria = expressions
            .iter()
            .map(|e| Criterion::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            groups: vec![CriteriaGroup {
                row: RowSelector::Aggregated,
                criteria,
                abort_on_fail: false,
                delay: Duration::ZERO,
            }],
        })
    }

    /// Validates the groups as read from a scenario file. An error carries the byte
    /// range in the file of the offending text, for the loader to turn into a line and
    /// column.
    pub fn from_raw(groups: &[RawCriteriaGroup]) -> Result<Self, RawCriteriaError> {
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mut criteria = Vec::with_capacity(g.thresholds.len());
            for t in &g.thresholds {
                let text = t.get_ref();
                let criterion = Criterion::parse(text).map_err(|e| {
                    // The span covers the quoted string: the expression starts one byte
                    // after the opening quote (exact for strings without escapes).
                    let offset: usize = text
                        .chars()
                        .take(e.column.saturating_sub(1))
                        .map(char::len_utf8)
                        .sum();
                    let at = (t.span().start + 1 + offset).min(t.span().end);
                    RawCriteriaError {
                        span: at..at + 1,
                        message: format!("bad threshold {text:?}: {e}"),
                    }
                })?;
                criteria.push(criterion);
            }
            let delay = match &g.delay {
                None => Duration::ZERO,
                Some(d) => {
                    crate::timespan::parse_timespan(d.get_ref()).map_err(|e| RawCriteriaError {
                        span: d.span(),
                        message: format!("bad delay: {e}"),
                    })?
                }
            };
            if g.delay.is_some() && !g.abort_on_fail {
                return Err(RawCriteriaError {
                    span: g.delay.as_ref().map_or(0..0, Spanned::span),
                    message: "delay only applies with abort_on_fail = true".into(),
                });
            }
            out.push(CriteriaGroup {
                row: g
                    .row
                    .as_deref()
                    .map_or(RowSelector::Aggregated, RowSelector::parse),
                criteria,
                abort_on_fail: g.abort_on_fail,
                delay,
            });
        }
        Ok(Self { groups: out })
    }
}

/// One `[[criteria]]` table of a scenario file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCriteriaGroup {
    /// `Aggregated` (default), `METHOD name`, or a bare stats name.
    pub row: Option<String>,
    /// Threshold expressions.
    pub thresholds: Vec<Spanned<String>>,
    /// Stop the run as soon as one fails.
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Locust time span before which no abort happens (`30s`).
    pub delay: Option<Spanned<String>>,
}

/// A scenario's criteria that cannot be used, with where in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RawCriteriaError {
    /// Byte range in the scenario file.
    pub span: Range<usize>,
    /// What was wrong and what was expected.
    pub message: String,
}

/// The value a criterion's metric takes on a row; `None` when the row has no request
/// and the metric needs one.
pub(crate) fn metric_value(metric: CriterionMetric, row: &RequestStats) -> Option<f64> {
    let n = row.num_requests();
    match metric {
        CriterionMetric::Count => return Some(n as f64),
        CriterionMetric::Failures => return Some(row.num_failures() as f64),
        CriterionMetric::Rps => return Some(row.total_rps()),
        CriterionMetric::FailRps => return Some(row.total_fail_per_sec()),
        _ if n == 0 => return None,
        _ => {}
    }
    match metric {
        CriterionMetric::Avg => Some(row.avg_response_time_ms()),
        CriterionMetric::Min => Some(row.min_response_time_ms()),
        CriterionMetric::Max => Some(row.max_response_time_ms()),
        CriterionMetric::Med => Some(row.median_response_time_ms()),
        CriterionMetric::Percentile(p) => row.percentile_ms(p / 100.0),
        CriterionMetric::FailRatio => Some(row.fail_ratio()),
        _ => None,
    }
}

/// Judges every criterion against the snapshot (normally the run's final one).
pub fn evaluate(snapshot: &Snapshot, set: &CriteriaSet) -> Verdict {
    let mut results = Vec::new();
    for group in &set.groups {
        let stats = group.row.stats(snapshot);
        for criterion in &group.criteria {
            let value = metric_value(criterion.metric, &stats);
            results.push(CriterionResult {
                row: group.row.label(),
                criterion: criterion.clone(),
                value,
                passed: value.is_some_and(|v| criterion.op.holds(v, criterion.threshold)),
                abort_on_fail: group.abort_on_fail,
            });
        }
    }
    Verdict {
        results,
        aborted: None,
        unreachable: None,
    }
}

/// The first `abort_on_fail` criterion that fails at `elapsed` into the run (past its
/// delay), if any. Rows without requests do not abort.
pub(crate) fn abort_check(
    snapshot: &Snapshot,
    set: &CriteriaSet,
    elapsed: Duration,
) -> Option<Abort> {
    for group in set
        .groups
        .iter()
        .filter(|g| g.abort_on_fail && elapsed >= g.delay)
    {
        let stats = group.row.stats(snapshot);
        for criterion in &group.criteria {
            if let Some(value) = metric_value(criterion.metric, &stats) {
                if !criterion.op.holds(value, criterion.threshold) {
                    return Some(Abort {
                        row: group.row.label(),
                        criterion: criterion.clone(),
                        value,
                        elapsed,
                    });
                }
            }
        }
    }
    None
}
