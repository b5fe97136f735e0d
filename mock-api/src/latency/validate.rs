//! Parameter checks for [`LatencyDistribution`], run when a profile is loaded so that a
//! bad value is reported with its file position instead of surfacing mid-run.

use super::{lognormal_params, LatencyDistribution, LatencyError};

/// Checks `d` and, recursively, a mixture's components.
pub(super) fn check(d: &LatencyDistribution) -> Result<(), LatencyError> {
    use LatencyDistribution as D;
    let kind = d.kind();
    match d {
        D::Fixed { ms, .. } => non_negative(kind, "ms", *ms)?,
        D::Uniform {
            low_ms, high_ms, ..
        } => {
            non_negative(kind, "low_ms", *low_ms)?;
            non_negative(kind, "high_ms", *high_ms)?;
            if high_ms < low_ms {
                return Err(param(
                    kind,
                    "high_ms",
                    *high_ms,
                    format!("a value at least low_ms ({low_ms})"),
                ));
            }
        }
        D::Normal { mean_ms, sd_ms, .. } => {
            finite(kind, "mean_ms", *mean_ms)?;
            positive(kind, "sd_ms", *sd_ms)?;
        }
        D::Lognormal {
            median_ms,
            p99_ms,
            sigma,
            mean_ms,
            cv,
            ..
        } => {
            lognormal_params(*median_ms, *p99_ms, *sigma, *mean_ms, *cv)?;
        }
        D::Exponential { mean_ms, .. } => positive(kind, "mean_ms", *mean_ms)?,
        D::Pareto {
            scale_ms,
            shape,
            max_ms,
            ..
        } => {
            positive(kind, "scale_ms", *scale_ms)?;
            positive(kind, "shape", *shape)?;
            if *shape <= 1.0 && max_ms.is_none() {
                return Err(param(
                    kind,
                    "shape",
                    *shape,
                    "a shape above 1 (the mean is infinite otherwise), or set max_ms".into(),
                ));
            }
        }
        D::Gamma {
            shape, scale_ms, ..
        }
        | D::Weibull {
            shape, scale_ms, ..
        } => {
            positive(kind, "shape", *shape)?;
            positive(kind, "scale_ms", *scale_ms)?;
        }
        D::Quantiles { points, .. } => check_points(points)?,
        D::Mixture { components, .. } => {
            if components.is_empty() {
                return Err(LatencyError::Form {
                    kind,
                    message: "no components; expected at least one { weight, latency }".into(),
                });
            }
            for (index, c) in components.iter().enumerate() {
                let wrap = |source| LatencyError::Component {
                    index,
                    source: Box::new(source),
                };
                positive(kind, "weight", c.weight).map_err(wrap)?;
                check(&c.latency).map_err(wrap)?;
            }
        }
    }
    check_bounds(d)
}

/// `min_ms`/`max_ms` are non-negative, ordered, and leave some probability between them.
fn check_bounds(d: &LatencyDistribution) -> Result<(), LatencyError> {
    let kind = d.kind();
    let (min, max) = d.bounds_ms();
    if let Some(min) = min {
        non_negative(kind, "min_ms", min)?;
    }
    if let Some(max) = max {
        non_negative(kind, "max_ms", max)?;
        if let Some(min) = min {
            if max < min {
                return Err(param(
                    kind,
                    "max_ms",
                    max,
                    format!("a value at least min_ms ({min})"),
                ));
            }
        }
    }
    // Checked even without bounds: a normal whose mass lies far below zero has nothing
    // left after the truncation at zero.
    let (lo, hi) = d.effective_bounds();
    let mass = d.base().cdf(hi) - d.base().cdf_left(lo);
    if lo > hi || mass.is_nan() || mass <= 0.0 {
        let (slo, shi) = d.base().support();
        let message = if min.is_none() && max.is_none() {
            format!(
                "no probability is left at or above 0 ms (mass there: {mass}); expected a \
                 mean_ms at most a few sd_ms below zero"
            )
        } else {
            format!(
                "min_ms = {} and max_ms = {} leave no probability (the distribution lives \
                 on [{slo}, {shi}]); expected bounds that overlap it",
                fmt_opt(min),
                fmt_opt(max),
            )
        };
        return Err(LatencyError::Form { kind, message });
    }
    Ok(())
}

fn check_points(points: &[[f64; 2]]) -> Result<(), LatencyError> {
    const KIND: &str = "quantiles";
    let form = |message: String| LatencyError::Form {
        kind: KIND,
        message,
    };
    if points.len() < 2 {
        return Err(form(format!(
            "{} point(s); expected at least two [percentile, ms] points, from 0 to 100",
            points.len()
        )));
    }
    for (i, w) in points.windows(2).enumerate() {
        let ([p0, x0], [p1, x1]) = (w[0], w[1]);
        if p1.partial_cmp(&p0) != Some(std::cmp::Ordering::Greater) {
            return Err(form(format!(
                "point {} has percentile {p1} after {p0}; expected strictly increasing \
                 percentiles",
                i + 1
            )));
        }
        if x1.is_nan() || x1 < x0 {
            return Err(form(format!(
                "point {} has {x1} ms after {x0} ms at a lower percentile; expected \
                 non-decreasing ms",
                i + 1
            )));
        }
    }
    for (i, &[p, x]) in points.iter().enumerate() {
        if !(0.0..=100.0).contains(&p) {
            return Err(form(format!(
                "point {i} has percentile {p}; expected 0 to 100"
            )));
        }
        if !(x.is_finite() && x >= 0.0) {
            return Err(form(format!(
                "point {i} has {x} ms; expected a finite number >= 0"
            )));
        }
    }
    let (first, last) = (points[0][0], points[points.len() - 1][0]);
    if first != 0.0 || last != 100.0 {
        return Err(form(format!(
            "percentiles run from {first} to {last}; expected the first point at 0 (the \
             minimum) and the last at 100 (the maximum)"
        )));
    }
    Ok(())
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
}

fn param(kind: &'static str, field: &'static str, value: f64, expected: String) -> LatencyError {
    LatencyError::Parameter {
        kind,
        field,
        value: value.to_string(),
        expected,
    }
}

/// The largest latency parameter a profile may give (one hour, in ms): beyond it a
/// request would only hang until the client or the shutdown gives up.
pub(crate) const MAX_LATENCY_MS: f64 = 3_600_000.0;

/// A parameter in ms (its name ends in `_ms`) is at most [`MAX_LATENCY_MS`].
fn within_an_hour(kind: &'static str, field: &'static str, v: f64) -> Result<(), LatencyError> {
    if !field.ends_with("_ms") && field != "ms" || v.abs() <= MAX_LATENCY_MS {
        Ok(())
    } else {
        Err(param(
            kind,
            field,
            v,
            format!("at most {MAX_LATENCY_MS} ms (one hour)"),
        ))
    }
}

pub(super) fn finite(kind: &'static str, field: &'static str, v: f64) -> Result<(), LatencyError> {
    if v.is_finite() {
        within_an_hour(kind, field, v)
    } else {
        Err(param(kind, field, v, "a finite number".into()))
    }
}

pub(super) fn non_negative(
    kind: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), LatencyError> {
    if v.is_finite() && v >= 0.0 {
        within_an_hour(kind, field, v)
    } else {
        Err(param(kind, field, v, "a finite number >= 0".into()))
    }
}

pub(super) fn positive(
    kind: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), LatencyError> {
    if v.is_finite() && v > 0.0 {
        within_an_hour(kind, field, v)
    } else {
        Err(param(kind, field, v, "a finite number > 0".into()))
    }
}
