//! The untruncated ("base") form of each distribution: CDF, quantile function, partial
//! expectation and a sampler, all in milliseconds.
//!
//! The bounds layer in the parent module builds every bounded quantity (truncated
//! quantiles, truncated mean, resampling) from these four operations, so each kind only
//! has to describe itself once.

use rand::Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

use super::math::{gamma_mass, gamma_p, invert_cdf, norm_cdf, norm_inv, norm_mass, norm_pdf};
use super::MixtureComponent;

/// Resolved parameters of one distribution, without its `min_ms`/`max_ms` bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Base<'a> {
    Fixed(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    /// The parent treats a normal as truncated at zero through its support.
    Normal {
        mu: f64,
        sd: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Exponential {
        mean: f64,
    },
    Pareto {
        scale: f64,
        shape: f64,
    },
    Gamma {
        shape: f64,
        scale: f64,
    },
    Weibull {
        shape: f64,
        scale: f64,
    },
    /// (percentile in 0..=100, ms) points, percentiles strictly increasing.
    Quantiles(&'a [[f64; 2]]),
    Mixture(&'a [MixtureComponent]),
}

impl Base<'_> {
    /// The interval outside which the distribution has no mass. A normal's support starts
    /// at zero because latency is never negative ("truncated at zero").
    pub(crate) fn support(&self) -> (f64, f64) {
        match *self {
            Base::Fixed(v) => (v, v),
            Base::Uniform { low, high } => (low, high),
            Base::Normal { .. }
            | Base::LogNormal { .. }
            | Base::Exponential { .. }
            | Base::Gamma { .. }
            | Base::Weibull { .. } => (0.0, f64::INFINITY),
            Base::Pareto { scale, .. } => (scale, f64::INFINITY),
            Base::Quantiles(points) => match (points.first(), points.last()) {
                (Some(first), Some(last)) => (first[1], last[1]),
                _ => (0.0, 0.0),
            },
            Base::Mixture(components) => {
                components
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                        let (clo, chi) = c.latency.effective_bounds();
                        (lo.min(clo), hi.max(chi))
                    })
            }
        }
    }

    /// P(X <= x).
    pub(crate) fn cdf(&self, x: f64) -> f64 {
        match *self {
            Base::Fixed(v) => f64::from(u8::from(x >= v)),
            Base::Uniform { low, high } => {
                if high <= low {
                    f64::from(u8::from(x >= low))
                } else {
                    ((x - low) / (high - low)).clamp(0.0, 1.0)
                }
            }
            Base::Normal { mu, sd } => norm_cdf((x - mu) / sd),
            Base::LogNormal { mu, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    norm_cdf((x.ln() - mu) / sigma)
                }
            }
            Base::Exponential { mean } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-x / mean).exp_m1()
                }
            }
            Base::Pareto { scale, shape } => {
                if x <= scale {
                    0.0
                } else {
                    1.0 - (scale / x).powf(shape)
                }
            }
            Base::Gamma { shape, scale } => gamma_p(shape, x / scale),
            Base::Weibull { shape, scale } => {
                if x <= 0.0 {
                    0.0
                } else {
                    -(-(x / scale).powf(shape)).exp_m1()
                }
            }
            Base::Quantiles(points) => quantiles_cdf(points, x, false),
            Base::Mixture(components) => mixture_sum(components, |d| d.cdf_ms(x)),
        }
    }

    /// P(X < x): differs from `cdf` only at atoms (fixed values, flat quantile steps).
    pub(crate) fn cdf_left(&self, x: f64) -> f64 {
        match *self {
            Base::Fixed(v) => f64::from(u8::from(x > v)),
            Base::Uniform { low, high } if high <= low => f64::from(u8::from(x > low)),
            Base::Quantiles(points) => quantiles_cdf(points, x, true),
            Base::Mixture(components) => mixture_sum(components, |d| d.cdf_left_ms(x)),
            _ => self.cdf(x),
        }
    }

    /// The quantile function (generalised inverse of the CDF), p in [0, 1].
    pub(crate) fn quantile(&self, p: f64) -> f64 {
        let p = p.clamp(0.0, 1.0);
        match *self {
            Base::Fixed(v) => v,
            Base::Uniform { low, high } => low + p * (high - low),
            Base::Normal { mu, sd } => mu + sd * norm_inv(p),
            Base::LogNormal { mu, sigma } => (mu + sigma * norm_inv(p)).exp(),
            Base::Exponential { mean } => -mean * (-p).ln_1p(),
            Base::Pareto { scale, shape } => scale * (1.0 - p).powf(-1.0 / shape),
            Base::Gamma { shape, scale } => {
                if p <= 0.0 {
                    0.0
                } else if p >= 1.0 {
                    f64::INFINITY
                } else {
                    scale * invert_cdf(|x| gamma_p(shape, x), p, 0.0, f64::INFINITY, shape.max(1.0))
                }
            }
            Base::Weibull { shape, scale } => scale * (-(-p).ln_1p()).powf(1.0 / shape),
            Base::Quantiles(points) => quantiles_inv(points, p),
            Base::Mixture(components) => {
                // The mixture's p-quantile lies between its components' p-quantiles.
                let (lo, hi) =
                    components
                        .iter()
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                            let q = c.latency.quantile_ms(p);
                            (lo.min(q), hi.max(q))
                        });
                if lo >= hi {
                    return lo;
                }
                invert_cdf(|x| self.cdf(x), p, lo, hi, hi)
            }
        }
    }

    /// The partial expectation E[X; a <= X <= b] (not divided by the mass).
    pub(crate) fn partial_mean(&self, a: f64, b: f64) -> f64 {
        if b < a {
            return 0.0;
        }
        match *self {
            Base::Fixed(v) => {
                if a <= v && v <= b {
                    v
                } else {
                    0.0
                }
            }
            Base::Uniform { low, high } => {
                if high <= low {
                    return if a <= low && low <= b { low } else { 0.0 };
                }
                let (a, b) = (a.max(low), b.min(high));
                if b <= a {
                    0.0
                } else {
                    (b * b - a * a) / (2.0 * (high - low))
                }
            }
            Base::Normal { mu, sd } => {
                let (za, zb) = ((a - mu) / sd, (b - mu) / sd);
                mu * norm_mass(za, zb) + sd * (norm_pdf(za) - norm_pdf(zb))
            }
            Base::LogNormal { mu, sigma } => {
                // E[X; X <= x] = exp(mu + sigma^2/2) * Phi((ln x - mu - sigma^2)/sigma).
                let shift = mu + sigma * sigma;
                let z = |x: f64| {
                    if x <= 0.0 {
                        f64::NEG_INFINITY
                    } else {
                        (x.ln() - shift) / sigma
                    }
                };
                (mu + 0.5 * sigma * sigma).exp() * norm_mass(z(a), z(b))
            }
            Base::Exponential { mean } => {
                // E[X; X >= x] = (x + mean) * exp(-x / mean).
                let upper = |x: f64| {
                    let x = x.max(0.0);
                    if x.is_infinite() {
                        0.0
                    } else {
                        (x + mean) * (-x / mean).exp()
                    }
                };
                upper(a) - upper(b)
            }
            Base::Pareto { scale, shape } => {
                let a = a.max(scale);
                if b <= a {
                    return 0.0;
                }
                if (shape - 1.0).abs() < 1e-12 {
                    scale * (b / a).ln()
                } else {
                    // E[X; a <= X <= b] = shape*scale/(shape-1) * ((scale/a)^(shape-1) - (scale/b)^(shape-1)).
                    let term = |x: f64| (scale / x).powf(shape - 1.0);
                    shape * scale / (shape - 1.0) * (term(a) - term(b))
                }
            }
            Base::Gamma { shape, scale } => {
                // x f(x; k, theta) = k theta f(x; k+1, theta).
                shape * scale * gamma_mass(shape + 1.0, a.max(0.0) / scale, b / scale)
            }
            Base::Weibull { shape, scale } => {
                // With y = (x/scale)^k: E[X; X <= x] = scale Gamma(1+1/k) P(1+1/k, y).
                let s = 1.0 + 1.0 / shape;
                let y = |x: f64| {
                    if x <= 0.0 {
                        0.0
                    } else {
                        (x / scale).powf(shape)
                    }
                };
                scale * statrs::function::gamma::gamma(s) * gamma_mass(s, y(a), y(b))
            }
            Base::Quantiles(points) => {
                let pa = quantiles_cdf(points, a, true);
                let pb = quantiles_cdf(points, b, false);
                quantiles_integral(points, pa, pb)
            }
            Base::Mixture(components) => mixture_sum(components, |d| d.partial_mean_ms(a, b)),
        }
    }

    /// One draw from the untruncated distribution.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Base::Fixed(v) => v,
            Base::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
            Base::Normal { mu, sd } => {
                let z: f64 = StandardNormal.sample(rng);
                mu + sd * z
            }
            Base::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(rng);
                (mu + sigma * z).exp()
            }
            Base::Exponential { mean } => {
                let e: f64 = Exp1.sample(rng);
                mean * e
            }
            Base::Pareto { .. } | Base::Weibull { .. } | Base::Quantiles(_) => {
                // Closed-form inverse CDF: one uniform per draw.
                self.quantile(rng.random::<f64>())
            }
            Base::Gamma { shape, scale } => match rand_distr::Gamma::new(shape, scale) {
                Ok(g) => g.sample(rng),
                Err(_) => shape * scale,
            },
            Base::Mixture(components) => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                let mut u = rng.random::<f64>() * total;
                for c in components {
                    if u < c.weight {
                        return c.latency.sample_ms(rng);
                    }
                    u -= c.weight;
                }
                components.last().map_or(0.0, |c| c.latency.sample_ms(rng))
            }
        }
    }
}

/// Weighted sum over a mixture's components of one (bounded) component quantity.
pub(super) fn mixture_sum(
    components: &[MixtureComponent],
    f: impl Fn(&super::LatencyDistribution) -> f64,
) -> f64 {
    let total: f64 = components.iter().map(|c| c.weight).sum();
    if total <= 0.0 {
        return 0.0;
    }
    components
        .iter()
        .map(|c| c.weight * f(&c.latency))
        .sum::<f64>()
        / total
}

/// CDF of a quantile table, linear between points. `strict` gives P(X < x), which differs
/// from P(X <= x) where several points share one value (an atom).
pub(super) fn quantiles_cdf(points: &[[f64; 2]], x: f64, strict: bool) -> f64 {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 0.0;
    };
    if (strict && x <= first[1]) || (!strict && x < first[1]) {
        return 0.0;
    }
    if (strict && x > last[1]) || (!strict && x >= last[1]) {
        return 1.0;
    }
    // For P(X <= x): the last point at or below x; for P(X < x): the first point at or
    // above x, and the segment that ends there.
    let j = if strict {
        points.partition_point(|pt| pt[1] < x)
    } else {
        points.partition_point(|pt| pt[1] <= x)
    };
    let i = j - 1;
    let (p0, x0) = (points[i][0] / 100.0, points[i][1]);
    let (p1, x1) = (points[j][0] / 100.0, points[j][1]);
    if x1 <= x0 {
        return if strict { p0 } else { p1 };
    }
    p0 + (p1 - p0) * (x - x0) / (x1 - x0)
}

/// Quantile function of a quantile table: linear interpolation between the points.
pub(super) fn quantiles_inv(points: &[[f64; 2]], p: f64) -> f64 {
    let j = points.partition_point(|pt| pt[0] / 100.0 <= p);
    if j == 0 {
        return points.first().map_or(0.0, |pt| pt[1]);
    }
    if j >= points.len() {
        return points.last().map_or(0.0, |pt| pt[1]);
    }
    let (p0, x0) = (points[j - 1][0] / 100.0, points[j - 1][1]);
    let (p1, x1) = (points[j][0] / 100.0, points[j][1]);
    x0 + (x1 - x0) * (p - p0) / (p1 - p0)
}

/// Integral of the piecewise-linear quantile function over [pa, pb]: exact.
fn quantiles_integral(points: &[[f64; 2]], pa: f64, pb: f64) -> f64 {
    points
        .windows(2)
        .map(|w| {
            let u0 = (w[0][0] / 100.0).max(pa);
            let u1 = (w[1][0] / 100.0).min(pb);
            if u1 <= u0 {
                0.0
            } else {
                (u1 - u0) * 0.5 * (quantiles_inv(points, u0) + quantiles_inv(points, u1))
            }
        })
        .sum()
}
