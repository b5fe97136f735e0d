//! Two runs side by side, with significance (`loadgen compare`): per row and for
//! Aggregated, the failure ratio, average and percentiles of a baseline and a current
//! run, the change, and whether the change is beyond chance.
//!
//! - Percentiles: a distribution-free interval for the difference. Each run's quantile
//!   gets an order-statistic interval (see [`quantile`]) at half the test's alpha; by the
//!   union bound both hold at once with probability >= 1 - alpha, and then the true
//!   difference lies in [current.lo - baseline.hi, current.hi - baseline.lo]. The change
//!   is significant when that interval excludes 0. Order statistics rather than a
//!   bootstrap: they are exact for any latency distribution and any sample size (a
//!   bootstrap of extreme quantiles is neither), cost one binomial search instead of
//!   thousands of resamples, and read Locust's CSV, which has no histogram to resample.
//!   The price is width: the rectangle is conservative, so a test misses shifts a
//!   tighter interval would catch (each row shows the interval, hence what it resolves).
//! - Failure ratios: Fisher's exact test (two-sided).
//! - Averages: Welch's z-test, when both runs have histograms (Locust's CSV has no spread).
//!
//! Every test of every row and Aggregated is one family, held to a family-wise error
//! rate of [`FAMILY_ALPHA`] by Bonferroni: each test runs at `FAMILY_ALPHA / m`. The
//! union bound needs no independence, which the rows and Aggregated (made of the same
//! requests) do not have. Two runs of the same system thus flag anything in at most 5%
//! of comparisons.
//!
//! `--fail-if` thresholds ([`FailIf`]) fail a comparison only when a change is both
//! significant and across the threshold: a large change that may be chance never fails,
//! and neither does a real change too small to matter.

mod quantile;
mod significance;
mod threshold;

use std::fmt;

use hdrhistogram::Histogram;

use crate::stats::AGGREGATED_NAME;
use crate::verdict::criteria::CriterionMetric;

pub use quantile::{Buckets, Interval, Latency};
pub use threshold::{ChangeUnit, FailIf};

/// The family-wise error rate of one comparison: the chance that two runs of the same
/// system show any significant change.
pub const FAMILY_ALPHA: f64 = 0.05;

/// The percentiles every comparison shows.
const SHOWN_PERCENTILES: [f64; 3] = [0.5, 0.95, 0.99];

/// One run's figures, as either a loadgen JSON report or Locust's stats CSV gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    /// Where the figures came from (a file name), for the tables' headings.
    pub source: String,
    /// One row per request name.
    pub rows: Vec<RowFigures>,
    /// The Aggregated row.
    pub aggregated: RowFigures,
}

/// One row of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFigures {
    /// Method; empty for Aggregated.
    pub method: String,
    /// Stats name, or `Aggregated`.
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Mean response time, ms.
    pub avg_ms: f64,
    /// Standard deviation of the response times, ms, when known (histograms).
    pub sd_ms: Option<f64>,
    /// The response times' quantiles.
    pub latency: Latency,
}

impl RowFigures {
    /// A row from an HdrHistogram of response times in microseconds and a failure count.
    pub fn from_histogram(
        method: impl Into<String>,
        name: impl Into<String>,
        histogram: &Histogram<u64>,
        failures: u64,
    ) -> Self {
        let buckets = Buckets::new(histogram);
        Self {
            method: method.into(),
            name: name.into(),
            requests: buckets.len(),
            failures,
            avg_ms: buckets.mean_ms,
            sd_ms: Some(buckets.sd_ms),
            latency: Latency::Histogram(buckets),
        }
    }

    /// `GET /api/clients`, or `Aggregated`.
    pub fn label(&self) -> String {
        row_label(&self.method, &self.name)
    }

    /// Failures over requests (0 without requests).
    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }

    /// The measure's value on this row (a ratio, or ms).
    pub fn value(&self, measure: Measure) -> Option<f64> {
        match measure {
            _ if self.requests == 0 => None,
            Measure::FailRatio => Some(self.fail_ratio()),
            Measure::Avg => Some(self.avg_ms),
            Measure::Percentile(q) => self.latency.point(self.requests, q),
        }
    }
}

fn row_label(method: &str, name: &str) -> String {
    if method.is_empty() {
        name.to_owned()
    } else {
        format!("{method} {name}")
    }
}

/// What a comparison measures on a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// Failures over requests.
    FailRatio,
    /// Mean response time.
    Avg,
    /// A percentile, as a quantile (0.95).
    Percentile(f64),
}

impl Measure {
    /// The measure a criteria metric names, when a comparison can measure it.
    pub(crate) fn of(metric: CriterionMetric) -> Option<Self> {
        match metric {
            CriterionMetric::FailRatio => Some(Self::FailRatio),
            CriterionMetric::Avg => Some(Self::Avg),
            CriterionMetric::Med => Some(Self::Percentile(0.5)),
            // Rounded so that p(99.9) is the quantile 0.999 the columns are keyed by.
            CriterionMetric::Percentile(p) => Some(Self::Percentile((p * 1e7).round() / 1e9)),
            _ => None,
        }
    }

    /// True for response times (ms), false for the failure ratio.
    pub fn is_time(self) -> bool {
        self != Self::FailRatio
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FailRatio => f.write_str("fail_ratio"),
            Self::Avg => f.write_str("avg"),
            Self::Percentile(q) => {
                let p = (q * 100.0 * 1e6).round() / 1e6;
                write!(f, "p{p}")
            }
        }
    }
}

/// One measure of one row in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What was measured.
    pub measure: Measure,
    /// The baseline's value (a ratio, or ms).
    pub baseline: f64,
    /// The current run's value.
    pub current: f64,
    /// A confidence interval of `current - baseline` at the test's level, when the test
    /// gives one (percentiles, averages).
    pub interval: Option<(f64, f64)>,
    /// The test's p-value, when it gives one (failure ratio, average).
    pub p_value: Option<f64>,
    /// Whether the change is beyond chance at the test's level.
    pub significant: bool,
    /// How it was tested.
    pub test: &'static str,
}

impl Change {
    /// `current - baseline` relative to the baseline, when the baseline is above 0.
    pub fn relative(&self) -> Option<f64> {
        (self.baseline > 0.0).then(|| (self.current - self.baseline) / self.baseline)
    }
}

/// One row in both runs: what each run had and how each measure changed.
#[derive(Debug, Clone, PartialEq)]
pub struct RowComparison {
    /// `GET /api/clients`, or `Aggregated`.
    pub label: String,
    /// (requests, failures) in the baseline, when the row is there.
    pub baseline: Option<(u64, u64)>,
    /// (requests, failures) in the current run, when the row is there.
    pub current: Option<(u64, u64)>,
    /// Each measure both runs have, tested.
    pub changes: Vec<Change>,
    /// Measures shown untested, and why (`avg: Locust's CSV has no spread`).
    pub untested: Vec<String>,
}

/// A threshold crossed by a significant change.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    /// The row.
    pub row: String,
    /// The threshold.
    pub fail_if: FailIf,
    /// The change that crossed it.
    pub change: Change,
}

impl Breach {
    /// The breach in words.
    pub fn describe(&self) -> String {
        let c = &self.change;
        let (b, n) = (c.baseline, c.current);
        let moved = if c.measure.is_time() {
            format!("{b:.1} ms -> {n:.1} ms")
        } else {
            format!("{:.2}% -> {:.2}%", b * 100.0, n * 100.0)
        };
        format!(
            "{}: {} ({moved}) crosses `{}` and is significant",
            self.row, c.measure, self.fail_if
        )
    }
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline's source.
    pub baseline: String,
    /// The current run's source.
    pub current: String,
    /// Each row of either run, Aggregated last.
    pub rows: Vec<RowComparison>,
    /// The family-wise error rate ([`FAMILY_ALPHA`]).
    pub family_alpha: f64,
    /// How many tests the family holds.
    pub tests: usize,
    /// The thresholds judged.
    pub thresholds: Vec<FailIf>,
    /// The thresholds crossed by significant changes.
    pub breaches: Vec<Breach>,
}

impl Comparison {
    /// Each test's level: the family's rate split over its tests (Bonferroni).
    pub fn test_alpha(&self) -> f64 {
        self.family_alpha / self.tests.max(1) as f64
    }

    /// Every significant change, with its row.
    pub fn significant(&self) -> impl Iterator<Item = (&str, &Change)> {
        self.rows.iter().flat_map(|r| {
            r.changes
                .iter()
                .filter(|c| c.significant)
                .map(|c| (r.label.as_str(), c))
        })
    }

    /// 1 when a threshold was breached, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.breaches.is_empty())
    }
}

/// Compares `current` with `baseline`, row by row and on Aggregated, and judges
/// `thresholds` against the significant changes.
pub fn compare(baseline: &RunFigures, current: &RunFigures, thresholds: &[FailIf]) -> Comparison {
    let mut measures = vec![Measure::FailRatio, Measure::Avg];
    measures.extend(SHOWN_PERCENTILES.map(Measure::Percentile));
    for t in thresholds {
        if !measures.contains(&t.measure) {
            measures.push(t.measure);
        }
    }
    let pairs = pair_rows(baseline, current);
    let tests: usize = pairs
        .iter()
        .filter_map(|(b, c)| Some((b.as_ref()?, c.as_ref()?)))
        .map(|(b, c)| {
            measures
                .iter()
                .filter(|&&m| testable(m, b, c).is_ok())
                .count()
        })
        .sum();
    let alpha = FAMILY_ALPHA / tests.max(1) as f64;
    let rows: Vec<RowComparison> = pairs
        .iter()
        .map(|(b, c)| compare_row(*b, *c, &measures, alpha))
        .collect();
    let breaches = rows
        .iter()
        .flat_map(|r| {
            thresholds.iter().filter_map(move |t| {
                let c = r.changes.iter().find(|c| c.measure == t.measure)?;
                (c.significant && t.crossed(c.baseline, c.current)).then(|| Breach {
                    row: r.label.clone(),
                    fail_if: t.clone(),
                    change: c.clone(),
                })
            })
        })
        .collect();
    Comparison {
        baseline: baseline.source.clone(),
        current: current.source.clone(),
        rows,
        family_alpha: FAMILY_ALPHA,
        tests,
        thresholds: thresholds.to_vec(),
        breaches,
    }
}

type Pair<'a> = (Option<&'a RowFigures>, Option<&'a RowFigures>);

/// The baseline's rows in order, then rows only the current run has, then Aggregated.
fn pair_rows<'a>(baseline: &'a RunFigures, current: &'a RunFigures) -> Vec<Pair<'a>> {
    let find = |run: &'a RunFigures, r: &RowFigures| {
        run.rows
            .iter()
            .find(|o| o.method == r.method && o.name == r.name)
    };
    let mut pairs: Vec<Pair<'a>> = baseline
        .rows
        .iter()
        .map(|b| (Some(b), find(current, b)))
        .collect();
    pairs.extend(
        current
            .rows
            .iter()
            .filter(|c| find(baseline, c).is_none())
            .map(|c| (None, Some(c))),
    );
    pairs.push((Some(&baseline.aggregated), Some(&current.aggregated)));
    pairs
}

/// Whether a measure can be tested on a row present in both runs; why not otherwise.
fn testable(m: Measure, b: &RowFigures, c: &RowFigures) -> Result<(), &'static str> {
    if b.requests == 0 || c.requests == 0 {
        return Err("no requests in one run");
    }
    match m {
        Measure::FailRatio => Ok(()),
        Measure::Avg if b.sd_ms.is_none() || c.sd_ms.is_none() => {
            Err("untested: Locust's CSV has no spread")
        }
        Measure::Avg => Ok(()),
        Measure::Percentile(q) if b.latency.point(b.requests, q).is_none() => {
            Err("not in the baseline's columns")
        }
        Measure::Percentile(q) if c.latency.point(c.requests, q).is_none() => {
            Err("not in the current run's columns")
        }
        Measure::Percentile(_) => Ok(()),
    }
}

fn compare_row(
    b: Option<&RowFigures>,
    c: Option<&RowFigures>,
    measures: &[Measure],
    alpha: f64,
) -> RowComparison {
    let label = b
        .or(c)
        .map_or_else(|| AGGREGATED_NAME.to_owned(), RowFigures::label);
    let mut row = RowComparison {
        label,
        baseline: b.map(|r| (r.requests, r.failures)),
        current: c.map(|r| (r.requests, r.failures)),
        changes: Vec::new(),
        untested: Vec::new(),
    };
    let (Some(b), Some(c)) = (b, c) else {
        return row;
    };
    for &m in measures {
        match testable(m, b, c) {
            Ok(()) => row.changes.extend(test(m, b, c, alpha)),
            Err(why) => row.untested.push(format!("{m}: {why}")),
        }
    }
    row
}

/// Tests one measure at level `alpha`.
fn test(m: Measure, b: &RowFigures, c: &RowFigures, alpha: f64) -> Option<Change> {
    let (baseline, current) = (b.value(m)?, c.value(m)?);
    let mut change = Change {
        measure: m,
        baseline,
        current,
        interval: None,
        p_value: None,
        significant: false,
        test: "",
    };
    match m {
        Measure::FailRatio => {
            let p = significance::fisher_exact(b.failures, b.requests, c.failures, c.requests);
            change.p_value = Some(p);
            change.significant = p <= alpha;
            change.test = "Fisher's exact test";
        }
        Measure::Avg => {
            let (sb, sc) = (b.sd_ms?, c.sd_ms?);
            let p = significance::welch(b.avg_ms, sb, b.requests, c.avg_ms, sc, c.requests)?;
            let half = significance::welch_half_width(sb, b.requests, sc, c.requests, alpha);
            let d = c.avg_ms - b.avg_ms;
            change.interval = Some((d - half, d + half));
            change.p_value = Some(p);
            change.significant = p <= alpha;
            change.test = "Welch's z-test";
        }
        Measure::Percentile(q) => {
            let ib = b.latency.interval(b.requests, q, alpha / 2.0)?;
            let ic = c.latency.interval(c.requests, q, alpha / 2.0)?;
            let (lo, hi) = (ic.lo - ib.hi, ic.hi - ib.lo);
            change.interval = Some((lo, hi));
            change.significant = lo > 0.0 || hi < 0.0;
            change.test = "order statistics";
        }
    }
    Some(change)
}

#[cfg(test)]
mod tests;
