//! `mock-api profile fit STATS.csv -o profile.toml`: a profile whose routes reproduce
//! what a Locust run measured, row by row.
//!
//! Each row of Locust's `*_stats.csv` is matched to a route by method and path template
//! ([`route_for`]: `/api/clients/42` and `/api/clients/[id]` are
//! `GET /api/clients/{client_id}`). Its latency becomes the distribution through the
//! row's points: the minimum at 0%, each percentile column (an empty cell is no point),
//! the maximum at 100%. A lognormal through the median and p99 is used instead when
//! every column from 50% to 99% lies within Locust's rounding of it; otherwise a
//! `quantiles` table, linear between the points, with up to four points added in the
//! middle of its largest gaps that give the table the row's average, as the built-in
//! `guide` profile's p25 points do (the shape between published points is a choice;
//! the points and the mean are exact). The failure ratio becomes
//! a 500 with that probability. Rows that match no route are reported, never dropped in
//! silence. With Locust's stats history ([`fit_with_history`]) the fit also reads the
//! server's capacity and whether the run was stationary (see [`super::history`]).

use std::collections::BTreeMap;

use locust_csv::StatsRow;

use super::history::HistoryFit;
use crate::capacity::Capacity;

use super::{Behaviour, Profile, ProfileError, ROUTES};
use crate::fault::{FailureKind, FailureRule, Trigger};
use crate::latency::LatencyDistribution;

/// The mock's route template (`GET /api/clients/{client_id}`) of a Locust row: its
/// method and name, the query dropped, where any segment (or Locust's `[id]`) stands
/// for a `{...}` segment of the template.
pub fn route_for(method: &str, name: &str) -> Option<&'static str> {
    let path = name.split('?').next().unwrap_or(name);
    ROUTES.iter().copied().find(|route| {
        let Some((m, template)) = route.split_once(' ') else {
            return false;
        };
        let a: Vec<&str> = template.split('/').collect();
        let b: Vec<&str> = path.split('/').collect();
        m == method
            && a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
    })
}

/// A stats CSV that cannot be fitted.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct FitError {
    /// The CSV file.
    pub origin: String,
    /// Where (line, column) and what was expected.
    pub message: String,
}

/// One row of the CSV as it was fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedRow {
    /// `GET /api/clients/[id]`, as the CSV names it.
    pub row: String,
    /// The route it became.
    pub route: &'static str,
    /// Requests in the row.
    pub requests: u64,
    /// How its latency was fitted, in words.
    pub how: String,
    /// The points it was fitted to: (percentile, ms).
    pub points: Vec<(f64, f64)>,
    /// Its failure ratio.
    pub fail_ratio: f64,
}

/// A fitted profile and what became of each row.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The profile: the fitted routes, every other route on the `guide` defaults.
    pub profile: Profile,
    /// Rows that became routes.
    pub fitted: Vec<FittedRow>,
    /// Rows that did not, with why.
    pub unmatched: Vec<String>,
    /// What the stats history said (capacity, stationarity), when one was given.
    pub history: Option<HistoryFit>,
}

impl Fit {
    /// The profile as TOML, headed by a comment per fitted row.
    pub fn to_toml(&self, source: &str) -> String {
        let mut out = format!("# Fitted by `mock-api profile fit` to {source}:\n");
        for f in &self.fitted {
            out.push_str(&format!(
                "#   {} ({} requests, {:.2}% failed) -> {}: {}\n",
                f.row,
                f.requests,
                f.fail_ratio * 100.0,
                f.route,
                f.how
            ));
        }
        for u in &self.unmatched {
            out.push_str(&format!("#   not fitted: {u}\n"));
        }
        if let Some(h) = &self.history {
            out.push_str(&format!("#   capacity: {}\n", h.how));
            for w in &h.warnings {
                out.push_str(&format!("#   warning: {w}\n"));
            }
        }
        out.push('\n');
        out.push_str(&self.profile.to_toml());
        out
    }
}

/// Fits a profile named `name` to Locust's stats CSV `text` (from `origin`).
pub fn fit(text: &str, origin: &str, name: &str) -> Result<Fit, FitError> {
    fit_with_history(text, origin, name, None)
}

/// Like [`fit`], and with Locust's stats history `(text, origin)` also fits the
/// capacity and warns of a run that was not stationary (see [`super::history`]).
pub fn fit_with_history(
    text: &str,
    origin: &str,
    name: &str,
    history: Option<(&str, &str)>,
) -> Result<Fit, FitError> {
    let error = |message: String| FitError {
        origin: origin.to_owned(),
        message,
    };
    let mut rows = locust_csv::read_stats(text).map_err(|e| error(e.to_string()))?;
    let history = match history {
        Some((text, origin)) => {
            let error = |message: String| FitError {
                origin: origin.to_owned(),
                message,
            };
            let lines = locust_csv::read_history(text).map_err(|e| error(e.to_string()))?;
            Some(super::history::analyse(&lines).map_err(error)?)
        }
        None => None,
    };
    // A saturated run's percentiles hold queueing; the fitted capacity queues again, so
    // the routes get the unsaturated service time: every time scaled by one factor.
    if let Some(h) = history.as_ref().filter(|h| h.workers.is_some()) {
        let whole_run = rows
            .iter()
            .find(|r| r.is_aggregated())
            .map_or(0.0, |r| r.avg_ms);
        if whole_run > h.service_ms && h.service_ms > 0.0 {
            let f = h.service_ms / whole_run;
            for r in &mut rows {
                scale(r, f);
            }
        }
    }
    let mut profile = Profile::builtin("guide").map_err(|e| error(e.to_string()))?;
    profile.name = name.to_owned();
    profile.description = format!("Fitted to the Locust statistics in {origin}.");
    profile.routes = BTreeMap::new();
    let mut fitted: Vec<FittedRow> = Vec::new();
    let mut unmatched = Vec::new();
    for row in rows {
        let label = format!("{} {}", row.method, row.name);
        if row.is_aggregated() {
            continue;
        }
        let Some(route) = route_for(&row.method, &row.name) else {
            unmatched.push(format!(
                "{label} (line {}): no route of the mock has this method and path",
                row.line
            ));
            continue;
        };
        if row.requests == 0 {
            unmatched.push(format!("{label} (line {}): no requests", row.line));
            continue;
        }
        if let Some(other) = fitted.iter().find(|f| f.route == route) {
            unmatched.push(format!(
                "{label} (line {}): {route} was already fitted to {}",
                row.line, other.row
            ));
            continue;
        }
        let (latency, how, points) = fit_latency(&row);
        let fail_ratio = row.failures as f64 / row.requests as f64;
        let failures = if row.failures > 0 {
            vec![FailureRule {
                kind: FailureKind::Status {
                    code: 500,
                    retry_after_ms: None,
                },
                trigger: Trigger::Probability(fail_ratio),
            }]
        } else {
            Vec::new()
        };
        profile.routes.insert(
            route.to_owned(),
            Behaviour {
                latency,
                failures,
                cpu_ms: 0.0,
            },
        );
        fitted.push(FittedRow {
            row: label,
            route,
            requests: row.requests,
            how,
            points,
            fail_ratio,
        });
    }
    if let Some(workers) = history.as_ref().and_then(|h| h.workers) {
        profile.capacity = Some(Capacity {
            workers: Some(workers),
            ..Capacity::default()
        });
    }
    profile
        .validate()
        .map_err(|e: ProfileError| error(format!("the fitted profile is invalid: {e}")))?;
    Ok(Fit {
        profile,
        fitted,
        unmatched,
        history,
    })
}

/// Multiplies every time of `row` by `f`.
fn scale(row: &mut StatsRow, f: f64) {
    row.avg_ms *= f;
    row.min_ms *= f;
    row.max_ms *= f;
    for p in &mut row.percentiles {
        p.1 *= f;
    }
}

/// The row's latency: a lognormal when it fits within Locust's rounding, else the
/// quantile table (with a p25 point that sets its mean).
fn fit_latency(row: &StatsRow) -> (LatencyDistribution, String, Vec<(f64, f64)>) {
    let mut points = vec![(0.0, row.min_ms)];
    // Percent, rounded to the column's own digits (`99.99%`), not 0.9999 x 100.
    points.extend(
        row.percentiles
            .iter()
            .map(|&(q, ms)| ((q * 1e4).round() / 1e2, ms))
            .filter(|(p, _)| *p > 0.0 && *p < 100.0),
    );
    points.push((100.0, row.max_ms));
    // Locust's rounding can make a column fall below the exact minimum: keep the table
    // non-decreasing.
    let mut floor = 0.0f64;
    for p in &mut points {
        floor = floor.max(p.1);
        p.1 = floor;
    }
    let at = |pct: f64| {
        points
            .iter()
            .find(|(p, _)| (*p - pct).abs() < 1e-9)
            .map(|p| p.1)
    };
    if let (Some(median), Some(p99)) = (at(50.0), at(99.0)) {
        if p99 > median && median > 0.0 {
            let lognormal = LatencyDistribution::Lognormal {
                median_ms: Some(median),
                p99_ms: Some(p99),
                sigma: None,
                mean_ms: None,
                cv: None,
                min_ms: None,
                max_ms: None,
            };
            let within = points
                .iter()
                .filter(|(p, _)| (50.0..=99.0).contains(p))
                .all(|&(p, v)| {
                    let q = lognormal.quantile(p / 100.0).as_secs_f64() * 1000.0;
                    (q - v).abs() <= locust_rounding(v)
                });
            if within {
                let how = format!("lognormal (median {median} ms, p99 {p99} ms): every column within Locust's rounding");
                return (lognormal, how, points);
            }
        }
    }
    let mut table = points.clone();
    let mut how = format!("quantile table through {} points", table.len());
    let added = match_mean(&mut table, row.avg_ms);
    if !added.is_empty() {
        let shown: Vec<String> = added
            .iter()
            .map(|(p, v)| format!("p{p} at {v:.1} ms"))
            .collect();
        how.push_str(&format!(
            ", and {} for a mean of {:.1} ms (the row's average: {:.1} ms)",
            shown.join(", "),
            table_mean(&table),
            row.avg_ms
        ));
    }
    let latency = LatencyDistribution::Quantiles {
        points: table.iter().map(|&(p, v)| [p, v]).collect(),
        min_ms: None,
        max_ms: None,
    };
    (latency, how, points)
}

/// Adds up to four points, each in the middle of the gap with the largest area (span
/// in percentiles times rise in ms), that bring the table's mean to `target` (the row's average); returns them. The mean
/// is linear in one added point's value, so each is solved for, then kept between its
/// neighbours; the next one makes up what that clamp left.
fn match_mean(table: &mut Vec<(f64, f64)>, target: f64) -> Vec<(f64, f64)> {
    let mut added = Vec::new();
    for _ in 0..4 {
        let mean = table_mean(table);
        if (mean - target).abs() < 1e-9 * target.max(1.0) {
            break;
        }
        // The gap whose point can move the mean furthest: widest in percentiles times
        // milliseconds.
        let area = |i: usize| (table[i].0 - table[i - 1].0) * (table[i].1 - table[i - 1].1);
        let Some(i) = (1..table.len())
            .filter(|&i| table[i].0 - table[i - 1].0 > 1.0 && area(i) > 0.0)
            .max_by(|&a, &b| area(a).total_cmp(&area(b)).then(b.cmp(&a)))
        else {
            break;
        };
        let ((a, va), (b, vb)) = (table[i - 1], table[i]);
        let m = (a + b) / 2.0;
        // mean(v) = mean - (b - a)(va + vb)/200 + ((m - a)(va + v) + (b - m)(v + vb))/200
        let without = mean - (b - a) * (va + vb) / 200.0;
        let v = ((target - without) * 200.0 - (m - a) * va - (b - m) * vb) / (b - a);
        let v = v.clamp(va, vb);
        table.insert(i, (m, v));
        added.push((m, v));
    }
    added
}

/// The mean of a piecewise-linear quantile function through `points`.
fn table_mean(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) / 100.0 * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

/// Half the width of Locust's response-time bucket at `ms`: how far a reported value
/// may be from the true one.
fn locust_rounding(ms: f64) -> f64 {
    match ms {
        x if x < 100.0 => 0.5,
        x if x < 1000.0 => 5.0,
        x if x < 10_000.0 => 50.0,
        _ => 500.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = include_str!("../../tests/fixtures/guide_stats.csv");
    const REFERENCE: &str =
        include_str!("../../../loadgen/tests/reference/locust-2.47/run_stats.csv");

    #[test]
    fn routes_match_by_method_and_template() {
        assert_eq!(
            route_for("GET", "/api/clients/42"),
            Some("GET /api/clients/{client_id}")
        );
        assert_eq!(
            route_for("GET", "/api/clients/[id]/portfolio"),
            Some("GET /api/clients/{client_id}/portfolio")
        );
        assert_eq!(
            route_for("GET", "/api/clients?page=2"),
            Some("GET /api/clients")
        );
        assert_eq!(route_for("POST", "/api/clients"), None);
        assert_eq!(route_for("GET", "/api/unknown"), None);
    }

    #[test]
    fn the_guides_tables_fit_to_the_guide_profiles_routes() {
        let fit = fit(GUIDE, "guide_stats.csv", "fitted").unwrap();
        let guide = Profile::builtin("guide").unwrap();
        assert_eq!(fit.fitted.len(), 3);
        assert!(fit.unmatched.is_empty(), "{:?}", fit.unmatched);
        for route in [
            "GET /api/clients",
            "GET /api/ml/predict",
            "POST /api/trading/execute",
        ] {
            let (mine, theirs) = (
                &fit.profile.behaviour(route).latency,
                &guide.behaviour(route).latency,
            );
            // Every point the guide lists, and its mean, as the built-in profile has them.
            for p in [0.0, 0.5, 0.95, 0.99, 1.0] {
                let (a, b) = (mine.quantile(p), theirs.quantile(p));
                assert!(
                    a.abs_diff(b).as_secs_f64() < 1e-6,
                    "{route} p{p}: {a:?} against {b:?}"
                );
            }
            let (a, b) = (mine.mean().as_secs_f64(), theirs.mean().as_secs_f64());
            assert!((a - b).abs() < 1e-4, "{route} mean: {a} against {b}");
        }
        let predict = &fit.profile.behaviour("GET /api/ml/predict");
        // 50 of 4000 failed: the guide's 1.25%.
        assert_eq!(predict.failures[0].trigger, Trigger::Probability(0.0125));
        let text = fit.to_toml("guide_stats.csv");
        assert_eq!(
            Profile::from_toml(&text, "fitted.toml").unwrap(),
            fit.profile
        );
    }

    #[test]
    fn a_real_locust_csv_fits_every_row_and_reports_none_unmatched() {
        let fit = fit(REFERENCE, "run_stats.csv", "fitted").unwrap();
        assert_eq!(fit.fitted.len(), 9, "{:?}", fit.unmatched);
        let history = fit
            .fitted
            .iter()
            .find(|f| f.route == "GET /api/trading/history/{client_id}")
            .unwrap();
        assert_eq!(history.requests, 11);
        let trade = fit.profile.behaviour("POST /api/trading/execute");
        assert!(
            matches!(trade.failures[0].trigger, Trigger::Probability(p) if (p - 24.0 / 212.0).abs() < 1e-12)
        );
    }

    #[test]
    fn unmatched_rows_are_reported_and_bad_values_refused_with_their_line() {
        let text = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,50%,100%\nGET,/nowhere,10,0,5,5,1,9,5,9\nGET,/api/clients/7,10,1,5,5.5,1,9,5,9\nGET,/api/clients/8,3,0,5,5,1,9,5,9\n";
        let fit = fit(text, "x.csv", "x").unwrap();
        assert_eq!(fit.fitted.len(), 1);
        assert_eq!(fit.unmatched.len(), 2);
        assert!(
            fit.unmatched[0].starts_with("GET /nowhere (line 2): no route"),
            "{:?}",
            fit.unmatched
        );
        assert!(
            fit.unmatched[1].contains("already fitted to GET /api/clients/7"),
            "{:?}",
            fit.unmatched
        );
        let bad = text.replace(",10,1,5,5.5,", ",10,1,5,slow,");
        let e = super::fit(&bad, "x.csv", "x").unwrap_err().to_string();
        assert_eq!(e, "x.csv: line 3, column \"Average Response Time\": \"slow\" is not a number of 0 or more");
        let e = super::fit("a,b\n", "x.csv", "x").unwrap_err().to_string();
        assert!(e.contains("no column \"Type\""), "{e}");
    }

    #[test]
    fn a_lognormal_row_fits_a_lognormal() {
        let d = LatencyDistribution::Lognormal {
            median_ms: Some(200.0),
            p99_ms: Some(900.0),
            sigma: None,
            mean_ms: None,
            cv: None,
            min_ms: None,
            max_ms: None,
        };
        let cols: Vec<String> = [50.0, 66.0, 75.0, 80.0, 90.0, 95.0, 98.0, 99.0]
            .iter()
            .map(|p| {
                let v = d.quantile(p / 100.0).as_secs_f64() * 1000.0;
                format!("{}", (v / 10.0).round() * 10.0)
            })
            .collect();
        let text = format!("Type,Name,Request Count,Failure Count,Average Response Time,Min Response Time,Max Response Time,50%,66%,75%,80%,90%,95%,98%,99%\nGET,/health,1000,0,250,40,2000,{}\n", cols.join(","));
        let fit = fit(&text, "x.csv", "x").unwrap();
        assert!(
            fit.fitted[0].how.starts_with("lognormal"),
            "{}",
            fit.fitted[0].how
        );
    }
}
