//! Baselines: the performance guide's table of target, acceptable and poor values for
//! the average, the 95th and 99th percentiles, the error rate and requests/s, and the
//! classification of every row's figures into bands.
//!
//! The guide's table leaves a gap between "acceptable" and "poor" (an average of
//! 1500 ms is neither); that gap is the band [`Band::Degraded`], so every value falls in
//! exactly one band. The table's inequalities are read literally: target and acceptable
//! are strict (`< 500 ms`, `> 100 req/s`), and so is poor (`> 2000 ms`, `< 20 req/s`).
//! A value equal to the target or acceptable bound therefore falls in the worse band
//! (an average of exactly 500 ms is acceptable, not target), and a value equal to the
//! poor bound is degraded, not poor (exactly 20 req/s, as the platform's notes say; and
//! exactly 2000 ms, which the platform's own criteria pass: they fail "over 2000 ms").
//!
//! A scenario may replace any line of the table:
//!
//! ```toml
//! [baselines]
//! avg_ms = { target = 300, acceptable = 800, poor = 1500 }
//! rps = { target = 500, acceptable = 200, poor = 50 }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats::{RequestStats, Snapshot};

/// One of the five metrics the guide's table judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Metric {
    /// Average response time, ms.
    AvgMs,
    /// 95th percentile response time, ms.
    P95Ms,
    /// 99th percentile response time, ms.
    P99Ms,
    /// Failures per hundred requests.
    ErrorRatePercent,
    /// Whole-run requests per second.
    Rps,
}

impl Metric {
    /// The five metrics in the guide's table order.
    pub const ALL: [Metric; 5] = [
        Metric::AvgMs,
        Metric::P95Ms,
        Metric::P99Ms,
        Metric::ErrorRatePercent,
        Metric::Rps,
    ];

    /// The guide's name for the metric.
    pub fn label(self) -> &'static str {
        match self {
            Metric::AvgMs => "average response time",
            Metric::P95Ms => "95th percentile",
            Metric::P99Ms => "99th percentile",
            Metric::ErrorRatePercent => "error rate",
            Metric::Rps => "requests/s",
        }
    }

    /// A short column title.
    pub fn short(self) -> &'static str {
        match self {
            Metric::AvgMs => "avg",
            Metric::P95Ms => "p95",
            Metric::P99Ms => "p99",
            Metric::ErrorRatePercent => "error rate",
            Metric::Rps => "req/s",
        }
    }

    /// The field name in a scenario's `[baselines]` table.
    pub fn field(self) -> &'static str {
        match self {
            Metric::AvgMs => "avg_ms",
            Metric::P95Ms => "p95_ms",
            Metric::P99Ms => "p99_ms",
            Metric::ErrorRatePercent => "error_rate_percent",
            Metric::Rps => "rps",
        }
    }

    /// True when a larger value is better (only requests/s).
    pub fn higher_is_better(self) -> bool {
        self == Metric::Rps
    }

    /// The metric's value for a row; `None` for a row without requests.
    pub fn value(self, row: &RequestStats) -> Option<f64> {
        let n = row.num_requests();
        if n == 0 {
            return None;
        }
        match self {
            Metric::AvgMs => Some(row.avg_response_time_ms()),
            Metric::P95Ms => row.percentile_ms(0.95),
            Metric::P99Ms => row.percentile_ms(0.99),
            // Computed as 100 * failures / requests (not fail_ratio * 100) so that, e.g.,
            // 1 failure in 1000 requests is exactly the f64 nearest 0.1: bounds compare
            // exactly.
            Metric::ErrorRatePercent => Some(row.num_failures() as f64 * 100.0 / n as f64),
            Metric::Rps => Some(row.total_rps()),
        }
    }

    /// The value formatted with its unit (`1500 ms`, `1.25%`, `83.3 req/s`).
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::AvgMs | Metric::P95Ms | Metric::P99Ms => format!("{} ms", format_ms(value)),
            Metric::ErrorRatePercent => format_percent(value),
            Metric::Rps => format!("{value:.1} req/s"),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Milliseconds for people: whole above 100, one decimal above 10, two below.
pub(crate) fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// A percentage as the guide writes failure rates: `0%` for none, else two decimals.
pub(crate) fn format_percent(percent: f64) -> String {
    if percent == 0.0 {
        "0%".to_owned()
    } else {
        format!("{percent:.2}%")
    }
}

/// Where a value stands against the baselines, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// Better than the target bound.
    Target,
    /// Not target, but better than the acceptable bound.
    Acceptable,
    /// Between acceptable and poor (the gap the guide's table leaves).
    Degraded,
    /// Beyond the poor bound.
    Poor,
}

impl Band {
    /// The band's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Band::Target => "target",
            Band::Acceptable => "acceptable",
            Band::Degraded => "degraded",
            Band::Poor => "poor",
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One line of the table: the three bounds of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Strictly better than this is target.
    pub target: f64,
    /// Strictly better than this (and not target) is acceptable.
    pub acceptable: f64,
    /// Strictly worse than this is poor.
    pub poor: f64,
}

impl Bounds {
    const fn new(target: f64, acceptable: f64, poor: f64) -> Self {
        Self {
            target,
            acceptable,
            poor,
        }
    }
}

/// The baselines table; the guide's by default. Each line may be replaced alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Baselines {
    /// Average response time (ms): lower is better.
    pub avg_ms: Bounds,
    /// 95th percentile (ms): lower is better.
    pub p95_ms: Bounds,
    /// 99th percentile (ms): lower is better.
    pub p99_ms: Bounds,
    /// Error rate (percent of requests): lower is better.
    pub error_rate_percent: Bounds,
    /// Requests per second: higher is better.
    pub rps: Bounds,
}

impl Default for Baselines {
    /// The performance guide's table.
    fn default() -> Self {
        Self {
            avg_ms: Bounds::new(500.0, 1000.0, 2000.0),
            p95_ms: Bounds::new(1000.0, 2000.0, 5000.0),
            p99_ms: Bounds::new(2000.0, 5000.0, 10000.0),
            error_rate_percent: Bounds::new(0.1, 1.0, 5.0),
            rps: Bounds::new(100.0, 50.0, 20.0),
        }
    }
}

/// A baselines table that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("baselines.{field}: {message}")]
pub struct BaselineError {
    /// The line of the table (`avg_ms`).
    pub field: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Baselines {
    /// The bounds of one metric.
    pub fn bounds(&self, metric: Metric) -> Bounds {
        match metric {
            Metric::AvgMs => self.avg_ms,
            Metric::P95Ms => self.p95_ms,
            Metric::P99Ms => self.p99_ms,
            Metric::ErrorRatePercent => self.error_rate_percent,
            Metric::Rps => self.rps,
        }
    }

    /// Checks that every bound is a finite number of at least 0 and that the bounds run
    /// from best to worst (target, acceptable, poor).
    pub fn validate(&self) -> Result<(), BaselineError> {
        for metric in Metric::ALL {
            let b = self.bounds(metric);
            let bad = |message: String| BaselineError {
                field: metric.field(),
                message,
            };
            for (name, v) in [
                ("target", b.target),
                ("acceptable", b.acceptable),
                ("poor", b.poor),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(bad(format!("{name} = {v} is not a number of at least 0")));
                }
            }
            let ordered = if metric.higher_is_better() {
                b.target >= b.acceptable && b.acceptable >= b.poor
            } else {
                b.target <= b.acceptable && b.acceptable <= b.poor
            };
            if !ordered {
                let relation = if metric.higher_is_better() {
                    ">="
                } else {
                    "<="
                };
                return Err(bad(format!(
                    "expected target {relation} acceptable {relation} poor, found {} / {} / {}",
                    b.target, b.acceptable, b.poor
                )));
            }
        }
        Ok(())
    }

    /// The band of `value` for `metric` (see the module's note on bounds).
    pub fn classify(&self, metric: Metric, value: f64) -> Band {
        let b = self.bounds(metric);
        // `better(x, bound)`: strictly better than the bound in the metric's direction.
        let better = |x: f64, bound: f64| {
            if metric.higher_is_better() {
                x > bound
            } else {
                x < bound
            }
        };
        if value.is_nan() {
            Band::Poor
        } else if better(value, b.target) {
            Band::Target
        } else if better(value, b.acceptable) {
            Band::Acceptable
        } else if better(b.poor, value) {
            Band::Poor
        } else {
            Band::Degraded
        }
    }
}

/// One metric of one row, classified.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cell {
    /// Which metric.
    pub metric: Metric,
    /// Its value; `None` for a row without requests.
    pub value: Option<f64>,
    /// Its band; `None` without a value, and for a request row's requests/s (the
    /// throughput bands judge the whole system).
    pub band: Option<Band>,
}

/// The five classified metrics of one row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowBands {
    /// HTTP method; empty for Aggregated.
    pub method: String,
    /// Stats name or `Aggregated`.
    pub name: String,
    /// In [`Metric::ALL`] order.
    pub cells: [Cell; 5],
}

impl RowBands {
    /// The cell of `metric`.
    pub fn cell(&self, metric: Metric) -> Cell {
        self.cells[Metric::ALL
            .iter()
            .position(|&m| m == metric)
            .unwrap_or_default()]
    }

    /// `GET /api/clients`, or `Aggregated`.
    pub fn label(&self) -> String {
        row_label(&self.method, &self.name)
    }
}

/// `METHOD name`, or the bare name when there is no method (Aggregated).
pub(crate) fn row_label(method: &str, name: &str) -> String {
    if method.is_empty() {
        name.to_owned()
    } else {
        format!("{method} {name}")
    }
}

/// Every row's bands, then Aggregated's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    /// The table used.
    pub baselines: Baselines,
    /// One per snapshot row, in the snapshot's order, then Aggregated.
    pub rows: Vec<RowBands>,
}

impl BaselineReport {
    /// The Aggregated row's bands.
    pub fn aggregated(&self) -> Option<&RowBands> {
        self.rows.last()
    }
}

/// Classifies one row. Requests/s gets a band on the Aggregated row only
/// (`aggregated`): the guide's throughput bands are the system's, while a row's own
/// rate is its task weight's share of it.
pub(crate) fn classify_row(
    row: &RequestStats,
    baselines: &Baselines,
    aggregated: bool,
) -> RowBands {
    let cells = Metric::ALL.map(|metric| {
        let value = metric.value(row);
        let judged = aggregated || metric != Metric::Rps;
        Cell {
            metric,
            value,
            band: value
                .filter(|_| judged)
                .map(|v| baselines.classify(metric, v)),
        }
    });
    RowBands {
        method: row.method.clone(),
        name: row.name.clone(),
        cells,
    }
}

/// Classifies every row of the snapshot and the Aggregated row. A row whose every
/// request failed to connect has no latency figures: how long a refusal takes is not a
/// response time.
pub fn evaluate(snapshot: &Snapshot, baselines: &Baselines) -> BaselineReport {
    let classify = |row: &RequestStats, aggregated: bool| {
        let mut bands = classify_row(row, baselines, aggregated);
        let n = row.num_requests();
        if n > 0 && snapshot.connect_failures(row) >= n {
            for cell in &mut bands.cells {
                if matches!(cell.metric, Metric::AvgMs | Metric::P95Ms | Metric::P99Ms) {
                    cell.value = None;
                    cell.band = None;
                }
            }
        }
        bands
    };
    BaselineReport {
        baselines: *baselines,
        rows: snapshot
            .rows
            .iter()
            .map(|r| classify(r, false))
            .chain(std::iter::once(classify(&snapshot.aggregated, true)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Band::*;
    use Metric::*;

    /// Each metric on each side of each bound of the guide's table, and on the bound.
    #[test]
    fn every_metric_at_every_band_and_on_every_bound() {
        let cases: &[(Metric, f64, Band)] = &[
            (AvgMs, 0.0, Target),
            (AvgMs, 499.9, Target),
            (AvgMs, 500.0, Acceptable),
            (AvgMs, 999.9, Acceptable),
            (AvgMs, 1000.0, Degraded),
            (AvgMs, 1500.0, Degraded),
            (AvgMs, 2000.0, Degraded),
            (AvgMs, 2000.1, Poor),
            (P95Ms, 999.0, Target),
            (P95Ms, 1000.0, Acceptable),
            (P95Ms, 2000.0, Degraded),
            (P95Ms, 4000.0, Degraded),
            (P95Ms, 5000.0, Degraded),
            (P95Ms, 5000.5, Poor),
            (P99Ms, 1999.0, Target),
            (P99Ms, 2000.0, Acceptable),
            (P99Ms, 4999.0, Acceptable),
            (P99Ms, 5000.0, Degraded),
            (P99Ms, 10000.0, Degraded),
            (P99Ms, 10001.0, Poor),
            (ErrorRatePercent, 0.0, Target),
            (ErrorRatePercent, 0.09, Target),
            (ErrorRatePercent, 0.1, Acceptable),
            (ErrorRatePercent, 0.5, Acceptable),
            (ErrorRatePercent, 1.0, Degraded),
            (ErrorRatePercent, 1.25, Degraded),
            (ErrorRatePercent, 5.0, Degraded),
            (ErrorRatePercent, 10.0, Poor),
            (Rps, 1000.0, Target),
            (Rps, 100.1, Target),
            (Rps, 100.0, Acceptable),
            (Rps, 50.1, Acceptable),
            (Rps, 50.0, Degraded),
            (Rps, 20.0, Degraded),
            (Rps, 19.9, Poor),
            (Rps, 0.0, Poor),
        ];
        let b = Baselines::default();
        for &(metric, value, band) in cases {
            assert_eq!(b.classify(metric, value), band, "{metric} = {value}");
        }
        assert_eq!(b.classify(AvgMs, f64::NAN), Poor);
    }

    #[test]
    fn error_rate_of_a_row_is_exact_on_the_bound() {
        // 1 failure in 1000 requests is exactly 0.1%: acceptable, not target.
        let mut row = RequestStats::new("GET", "/x");
        let t = std::time::SystemTime::UNIX_EPOCH;
        for i in 0..1000 {
            row.record_us(1000, 0, i == 0, t);
        }
        let bands = classify_row(&row, &Baselines::default(), true);
        let cell = bands.cell(ErrorRatePercent);
        assert_eq!(cell.value, Some(0.1));
        assert_eq!(cell.band, Some(Acceptable));
        assert_eq!(bands.cell(AvgMs).band, Some(Target));
    }

    #[test]
    fn a_row_without_requests_has_no_values_and_no_bands() {
        let row = RequestStats::new("GET", "/x");
        let bands = classify_row(&row, &Baselines::default(), true);
        assert!(bands
            .cells
            .iter()
            .all(|c| c.value.is_none() && c.band.is_none()));
    }

    #[test]
    fn scenario_tables_replace_single_lines_and_refuse_bad_ones() {
        let b: Baselines =
            toml::from_str("avg_ms = { target = 100, acceptable = 200, poor = 300 }").unwrap();
        assert_eq!(b.avg_ms.poor, 300.0);
        assert_eq!(b.rps, Baselines::default().rps);
        assert!(b.validate().is_ok());
        assert_eq!(b.classify(AvgMs, 250.0), Degraded);

        let err = toml::from_str::<Baselines>("avg = { target = 1 }").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = toml::from_str::<Baselines>("rps = { target = 1, acceptable = 2 }").unwrap_err();
        assert!(err.to_string().contains("poor"), "{err}");

        let cases = [
            (
                "avg_ms = { target = 900, acceptable = 800, poor = 2000 }",
                "avg_ms",
                "<=",
            ),
            (
                "rps = { target = 10, acceptable = 50, poor = 20 }",
                "rps",
                ">=",
            ),
            (
                "p95_ms = { target = -1, acceptable = 2, poor = 3 }",
                "p95_ms",
                "-1",
            ),
            (
                "p99_ms = { target = nan, acceptable = 2, poor = 3 }",
                "p99_ms",
                "NaN",
            ),
        ];
        for (text, field, needle) in cases {
            let b: Baselines = toml::from_str(text).unwrap();
            let err = b.validate().unwrap_err();
            assert_eq!(err.field, field, "{text}");
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
        assert!(Baselines::default().validate().is_ok());
    }

    #[test]
    fn formats_follow_the_guide() {
        assert_eq!(format_percent(0.0), "0%");
        assert_eq!(format_percent(1.25), "1.25%");
        assert_eq!(format_percent(10.0), "10.00%");
        assert_eq!(AvgMs.format(1500.0), "1500 ms");
        assert_eq!(AvgMs.format(28.43), "28.4 ms");
        assert_eq!(AvgMs.format(2.5), "2.50 ms");
        assert_eq!(Rps.format(83.333), "83.3 req/s");
    }
}
