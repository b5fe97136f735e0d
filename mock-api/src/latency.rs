//! Latency distributions: what a route's delay looks like, and what it should measure.
//!
//! [`LatencyDistribution`] is one serde enum, tagged by `kind`, with every duration in
//! milliseconds (fields end in `_ms`). Each kind can `sample` a delay and knows its own
//! `quantile(p)` and `mean()`, so tests and the harness can compare a measurement with
//! what was configured.
//!
//! Every kind takes optional `min_ms`/`max_ms` bounds. Bounds *truncate* the distribution
//! (a draw outside them is drawn again), they never clamp: clamping would pile mass on
//! the bound and invent a spike that no real server shows. Quantiles and means are those
//! of the truncated distribution: quantile(p) = Q(F(min) + p (F(max) - F(min))), and the
//! mean is the partial expectation on [min, max] divided by its mass, in closed form for
//! every kind.
//!
//! TOML shapes (durations in ms):
//!
//! ```toml
//! latency = { kind = "fixed", ms = 20 }
//! latency = { kind = "uniform", low_ms = 10, high_ms = 30 }
//! latency = { kind = "normal", mean_ms = 100, sd_ms = 30 }          # truncated at 0
//! latency = { kind = "lognormal", median_ms = 200, p99_ms = 1000 }  # or median_ms + sigma,
//! latency = { kind = "lognormal", mean_ms = 250, cv = 0.8 }         # or mean_ms + cv
//! latency = { kind = "exponential", mean_ms = 50 }
//! latency = { kind = "pareto", scale_ms = 100, shape = 2.5 }        # scale = the minimum
//! latency = { kind = "gamma", shape = 2, scale_ms = 50 }
//! latency = { kind = "weibull", shape = 1.5, scale_ms = 80 }
//! latency = { kind = "quantiles", points = [[0, 50], [50, 200], [100, 2000]] }  # [percentile, ms]
//! latency = { kind = "mixture", components = [
//!     { weight = 0.9, latency = { kind = "fixed", ms = 10 } },
//!     { weight = 0.1, latency = { kind = "exponential", mean_ms = 500 } } ] }
//! latency = { kind = "exponential", mean_ms = 50, min_ms = 5, max_ms = 500 }  # bounds, any kind
//! ```

mod base;
#[cfg(test)]
mod closed_forms;
mod math;
mod moments;
#[cfg(test)]
mod tests;
mod validate;

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use base::Base;
use math::Z_99;

/// How many out-of-bounds draws a bounded distribution rejects before it switches to the
/// inverse CDF on [F(min), F(max)], which is exact but slower (CDF evaluations).
const MAX_REJECTIONS: usize = 32;

/// A latency distribution in milliseconds, tagged by `kind` in TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencyDistribution {
    /// Always `ms`.
    Fixed {
        /// The delay.
        ms: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Uniform on [low_ms, high_ms].
    Uniform {
        /// Lowest value.
        low_ms: f64,
        /// Highest value.
        high_ms: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Normal, truncated at zero (negative draws are drawn again).
    Normal {
        /// Mean before truncation.
        mean_ms: f64,
        /// Standard deviation before truncation.
        sd_ms: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Lognormal, given by exactly one of: `median_ms` + `p99_ms`, `median_ms` + `sigma`,
    /// or `mean_ms` + `cv` (coefficient of variation).
    Lognormal {
        /// Median (the scale).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        median_ms: Option<f64>,
        /// 99th percentile, with `median_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p99_ms: Option<f64>,
        /// Standard deviation of ln(X), with `median_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sigma: Option<f64>,
        /// Mean, with `cv`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mean_ms: Option<f64>,
        /// Standard deviation over mean, with `mean_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cv: Option<f64>,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean.
        mean_ms: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Pareto (type I): P(X > x) = (scale/x)^shape for x >= scale.
    Pareto {
        /// The minimum value.
        scale_ms: f64,
        /// Tail index; the mean is finite only above 1 (or with `max_ms`).
        shape: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Gamma with shape k and scale theta (mean k*theta).
    Gamma {
        /// Shape k.
        shape: f64,
        /// Scale theta.
        scale_ms: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Weibull with shape k and scale lambda.
    Weibull {
        /// Shape k.
        shape: f64,
        /// Scale lambda.
        scale_ms: f64,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// A percentile table, `[percentile, ms]` pairs from 0 to 100, linear in between.
    Quantiles {
        /// Points: percentiles strictly increasing from 0 to 100, ms non-decreasing.
        points: Vec<[f64; 2]>,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
    /// Weighted mixture of other distributions (weights need not sum to 1).
    Mixture {
        /// The components.
        components: Vec<MixtureComponent>,
        /// Lower bound (resample below it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_ms: Option<f64>,
        /// Upper bound (resample above it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_ms: Option<f64>,
    },
}

/// One weighted component of a [`LatencyDistribution::Mixture`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    /// Relative weight (> 0).
    pub weight: f64,
    /// The component's distribution.
    pub latency: LatencyDistribution,
}

/// A distribution parameter that is missing, out of range or inconsistent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LatencyError {
    /// One parameter has a bad value.
    #[error("{kind}: `{field}` = {value} is invalid: expected {expected}")]
    Parameter {
        /// The distribution kind.
        kind: &'static str,
        /// The field name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The fields given do not form one of the kind's accepted shapes.
    #[error("{kind}: {message}")]
    Form {
        /// The distribution kind.
        kind: &'static str,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A mixture component is invalid.
    #[error("mixture component {index}: {source}")]
    Component {
        /// 0-based index in `components`.
        index: usize,
        /// The component's error.
        source: Box<LatencyError>,
    },
}

/// Converts milliseconds to a `Duration`, saturating (negative or NaN is zero, too large
/// or infinite is `Duration::MAX`).
pub(crate) fn ms_to_duration(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX)
}

impl LatencyDistribution {
    /// One delay drawn from the (bounded) distribution.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        ms_to_duration(self.sample_ms(rng))
    }

    /// The p-quantile (p in [0, 1]) of the bounded distribution; `Duration::MAX` for an
    /// unbounded tail at p = 1.
    pub fn quantile(&self, p: f64) -> Duration {
        ms_to_duration(self.quantile_ms(p))
    }

    /// The mean of the bounded distribution.
    pub fn mean(&self) -> Duration {
        ms_to_duration(self.mean_ms())
    }

    /// The standard deviation of the bounded distribution (`Duration::MAX` when infinite,
    /// e.g. an unbounded Pareto with shape <= 2).
    pub fn std_dev(&self) -> Duration {
        ms_to_duration(self.variance_ms2().sqrt())
    }

    /// P(X <= x) of the bounded distribution: the fraction of delays at most `x`.
    pub fn cdf(&self, x: Duration) -> f64 {
        self.cdf_ms(x.as_secs_f64() * 1000.0)
    }

    /// The same distribution with every duration multiplied by `factor` (shapes, sigmas,
    /// cvs and weights are unitless and unchanged). A factor that is not a positive
    /// finite number collapses the distribution to no delay at all.
    pub fn scaled(&self, factor: f64) -> LatencyDistribution {
        if !(factor.is_finite() && factor > 0.0) {
            return LatencyDistribution::Fixed {
                ms: 0.0,
                min_ms: None,
                max_ms: None,
            };
        }
        let s = |v: f64| v * factor;
        let so = |v: Option<f64>| v.map(|v| v * factor);
        use LatencyDistribution as D;
        match self {
            D::Fixed { ms, min_ms, max_ms } => D::Fixed {
                ms: s(*ms),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Uniform {
                low_ms,
                high_ms,
                min_ms,
                max_ms,
            } => D::Uniform {
                low_ms: s(*low_ms),
                high_ms: s(*high_ms),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Normal {
                mean_ms,
                sd_ms,
                min_ms,
                max_ms,
            } => D::Normal {
                mean_ms: s(*mean_ms),
                sd_ms: s(*sd_ms),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Lognormal {
                median_ms,
                p99_ms,
                sigma,
                mean_ms,
                cv,
                min_ms,
                max_ms,
            } => D::Lognormal {
                median_ms: so(*median_ms),
                p99_ms: so(*p99_ms),
                sigma: *sigma,
                mean_ms: so(*mean_ms),
                cv: *cv,
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Exponential {
                mean_ms,
                min_ms,
                max_ms,
            } => D::Exponential {
                mean_ms: s(*mean_ms),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Pareto {
                scale_ms,
                shape,
                min_ms,
                max_ms,
            } => D::Pareto {
                scale_ms: s(*scale_ms),
                shape: *shape,
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Gamma {
                shape,
                scale_ms,
                min_ms,
                max_ms,
            } => D::Gamma {
                shape: *shape,
                scale_ms: s(*scale_ms),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Weibull {
                shape,
                scale_ms,
                min_ms,
                max_ms,
            } => D::Weibull {
                shape: *shape,
                scale_ms: s(*scale_ms),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Quantiles {
                points,
                min_ms,
                max_ms,
            } => D::Quantiles {
                points: points.iter().map(|&[p, ms]| [p, s(ms)]).collect(),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
            D::Mixture {
                components,
                min_ms,
                max_ms,
            } => D::Mixture {
                components: components
                    .iter()
                    .map(|c| MixtureComponent {
                        weight: c.weight,
                        latency: c.latency.scaled(factor),
                    })
                    .collect(),
                min_ms: so(*min_ms),
                max_ms: so(*max_ms),
            },
        }
    }

    /// Checks every parameter, the lognormal form, and that the bounds leave some mass.
    pub fn validate(&self) -> Result<(), LatencyError> {
        validate::check(self)
    }

    /// The `kind` tag as written in TOML.
    pub fn kind(&self) -> &'static str {
        use LatencyDistribution as D;
        match self {
            D::Fixed { .. } => "fixed",
            D::Uniform { .. } => "uniform",
            D::Normal { .. } => "normal",
            D::Lognormal { .. } => "lognormal",
            D::Exponential { .. } => "exponential",
            D::Pareto { .. } => "pareto",
            D::Gamma { .. } => "gamma",
            D::Weibull { .. } => "weibull",
            D::Quantiles { .. } => "quantiles",
            D::Mixture { .. } => "mixture",
        }
    }

    /// The configured `min_ms` / `max_ms`, as given.
    pub fn bounds_ms(&self) -> (Option<f64>, Option<f64>) {
        use LatencyDistribution as D;
        match self {
            D::Fixed { min_ms, max_ms, .. }
            | D::Uniform { min_ms, max_ms, .. }
            | D::Normal { min_ms, max_ms, .. }
            | D::Lognormal { min_ms, max_ms, .. }
            | D::Exponential { min_ms, max_ms, .. }
            | D::Pareto { min_ms, max_ms, .. }
            | D::Gamma { min_ms, max_ms, .. }
            | D::Weibull { min_ms, max_ms, .. }
            | D::Quantiles { min_ms, max_ms, .. }
            | D::Mixture { min_ms, max_ms, .. } => (*min_ms, *max_ms),
        }
    }

    /// One draw in milliseconds (hot path: no CDF work unless the bounds reject a lot).
    pub(crate) fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let base = self.base();
        let (lo, hi) = self.bounds_over(&base);
        if !self.is_truncated(&base, lo, hi) {
            return base.sample(rng);
        }
        for _ in 0..MAX_REJECTIONS {
            let x = base.sample(rng);
            if lo <= x && x <= hi {
                return x;
            }
        }
        // Exact fallback: the inverse CDF restricted to [F(lo), F(hi)] is the same
        // truncated distribution the rejection loop samples.
        self.quantile_ms(rng.random::<f64>())
    }

    /// The p-quantile in milliseconds of the bounded distribution.
    pub(crate) fn quantile_ms(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        let base = self.base();
        let (lo, hi) = self.bounds_over(&base);
        if !self.is_truncated(&base, lo, hi) {
            return base.quantile(p);
        }
        let (plo, phi) = (base.cdf_left(lo), base.cdf(hi));
        if phi <= plo {
            // No mass inside the bounds (rejected by validation); stay inside them.
            return lo.min(hi);
        }
        // max/min rather than clamp: clamp panics on crossed bounds, which only an
        // unvalidated distribution has.
        base.quantile(plo + p * (phi - plo)).max(lo).min(hi)
    }

    /// The mean in milliseconds of the bounded distribution (infinite for a Pareto with
    /// shape <= 1 and no `max_ms`).
    pub(crate) fn mean_ms(&self) -> f64 {
        let (lo, hi) = self.effective_bounds();
        self.partial_mean_ms(lo, hi)
    }

    /// The variance in ms^2 of the bounded distribution.
    pub(crate) fn variance_ms2(&self) -> f64 {
        let (lo, hi) = self.effective_bounds();
        let mean = self.partial_mean_ms(lo, hi);
        // E[X^2] - mean^2 loses digits when sd << mean; never report below zero.
        (self.partial_second_ms(lo, hi) - mean * mean).max(0.0)
    }

    /// E[X^2; a <= X <= b] of the bounded distribution.
    pub(crate) fn partial_second_ms(&self, a: f64, b: f64) -> f64 {
        let base = self.base();
        let (lo, hi) = self.bounds_over(&base);
        if !self.is_truncated(&base, lo, hi) {
            return base.partial_second(a, b);
        }
        let mass = base.cdf(hi) - base.cdf_left(lo);
        if mass <= 0.0 {
            return 0.0;
        }
        base.partial_second(a.max(lo), b.min(hi)) / mass
    }

    /// P(X <= x) of the bounded distribution.
    pub(crate) fn cdf_ms(&self, x: f64) -> f64 {
        self.bounded_cdf(x, false)
    }

    /// P(X < x) of the bounded distribution.
    pub(crate) fn cdf_left_ms(&self, x: f64) -> f64 {
        self.bounded_cdf(x, true)
    }

    /// E[X; a <= X <= b] of the bounded distribution.
    pub(crate) fn partial_mean_ms(&self, a: f64, b: f64) -> f64 {
        let base = self.base();
        let (lo, hi) = self.bounds_over(&base);
        if !self.is_truncated(&base, lo, hi) {
            return base.partial_mean(a, b);
        }
        let mass = base.cdf(hi) - base.cdf_left(lo);
        if mass <= 0.0 {
            return 0.0;
        }
        base.partial_mean(a.max(lo), b.min(hi)) / mass
    }

    /// The interval the bounded distribution lives on: the kind's support cut by
    /// `min_ms`/`max_ms`.
    pub(crate) fn effective_bounds(&self) -> (f64, f64) {
        self.bounds_over(&self.base())
    }

    fn bounded_cdf(&self, x: f64, strict: bool) -> f64 {
        let base = self.base();
        let (lo, hi) = self.bounds_over(&base);
        let raw = |x: f64| {
            if strict {
                base.cdf_left(x)
            } else {
                base.cdf(x)
            }
        };
        if !self.is_truncated(&base, lo, hi) {
            return raw(x);
        }
        let (plo, phi) = (base.cdf_left(lo), base.cdf(hi));
        if phi <= plo {
            return f64::from(u8::from(x >= lo));
        }
        if x < lo || (strict && x <= lo) {
            return 0.0;
        }
        if x > hi || (!strict && x >= hi) {
            return 1.0;
        }
        ((raw(x) - plo) / (phi - plo)).clamp(0.0, 1.0)
    }

    fn bounds_over(&self, base: &Base<'_>) -> (f64, f64) {
        let (slo, shi) = base.support();
        let (min, max) = self.bounds_ms();
        (
            min.map_or(slo, |m| m.max(slo)),
            max.map_or(shi, |m| m.min(shi)),
        )
    }

    /// Whether any mass lies outside [lo, hi]. A normal always is (its support starts at
    /// zero but the base normal reaches below).
    fn is_truncated(&self, base: &Base<'_>, lo: f64, hi: f64) -> bool {
        let (slo, shi) = base.support();
        matches!(base, Base::Normal { .. }) || lo > slo || hi < shi
    }

    /// The resolved parameters. An invalid lognormal form resolves to no delay; validation
    /// rejects it before any profile is used.
    fn base(&self) -> Base<'_> {
        use LatencyDistribution as D;
        match self {
            D::Fixed { ms, .. } => Base::Fixed(*ms),
            D::Uniform {
                low_ms, high_ms, ..
            } => Base::Uniform {
                low: *low_ms,
                high: *high_ms,
            },
            D::Normal { mean_ms, sd_ms, .. } => Base::Normal {
                mu: *mean_ms,
                sd: *sd_ms,
            },
            D::Lognormal {
                median_ms,
                p99_ms,
                sigma,
                mean_ms,
                cv,
                ..
            } => match lognormal_params(*median_ms, *p99_ms, *sigma, *mean_ms, *cv) {
                Ok((mu, sigma)) => Base::LogNormal { mu, sigma },
                Err(_) => Base::Fixed(0.0),
            },
            D::Exponential { mean_ms, .. } => Base::Exponential { mean: *mean_ms },
            D::Pareto {
                scale_ms, shape, ..
            } => Base::Pareto {
                scale: *scale_ms,
                shape: *shape,
            },
            D::Gamma {
                shape, scale_ms, ..
            } => Base::Gamma {
                shape: *shape,
                scale: *scale_ms,
            },
            D::Weibull {
                shape, scale_ms, ..
            } => Base::Weibull {
                shape: *shape,
                scale: *scale_ms,
            },
            D::Quantiles { points, .. } => Base::Quantiles(points),
            D::Mixture { components, .. } => Base::Mixture(components),
        }
    }
}

/// (mu, sigma) of ln(X) from whichever lognormal form was given (exactly one).
fn lognormal_params(
    median_ms: Option<f64>,
    p99_ms: Option<f64>,
    sigma: Option<f64>,
    mean_ms: Option<f64>,
    cv: Option<f64>,
) -> Result<(f64, f64), LatencyError> {
    const FORMS: &str = "exactly one of: median_ms + p99_ms, median_ms + sigma, or mean_ms + cv";
    let form = |message: String| LatencyError::Form {
        kind: "lognormal",
        message,
    };
    match (median_ms, p99_ms, sigma, mean_ms, cv) {
        (Some(median), Some(p99), None, None, None) => {
            validate::positive("lognormal", "median_ms", median)?;
            if !(p99.is_finite() && p99 > median) {
                return Err(LatencyError::Parameter {
                    kind: "lognormal",
                    field: "p99_ms",
                    value: p99.to_string(),
                    expected: format!("a finite number above median_ms ({median})"),
                });
            }
            validate::positive("lognormal", "p99_ms", p99)?;
            Ok((median.ln(), (p99 / median).ln() / Z_99))
        }
        (Some(median), None, Some(sigma), None, None) => {
            validate::positive("lognormal", "median_ms", median)?;
            validate::positive("lognormal", "sigma", sigma)?;
            Ok((median.ln(), sigma))
        }
        (None, None, None, Some(mean), Some(cv)) => {
            validate::positive("lognormal", "mean_ms", mean)?;
            validate::positive("lognormal", "cv", cv)?;
            let var = cv.mul_add(cv, 1.0).ln();
            Ok((mean.ln() - 0.5 * var, var.sqrt()))
        }
        _ => {
            let given: Vec<&str> = [
                ("median_ms", median_ms),
                ("p99_ms", p99_ms),
                ("sigma", sigma),
                ("mean_ms", mean_ms),
                ("cv", cv),
            ]
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(name, _)| *name)
            .collect();
            Err(form(format!(
                "got {}; expected {FORMS}",
                if given.is_empty() {
                    "no parameters".to_owned()
                } else {
                    given.join(" + ")
                }
            )))
        }
    }
}
