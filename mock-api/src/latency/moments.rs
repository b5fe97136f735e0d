//! Second moments, for the standard deviation: E[X^2; a <= X <= b] of each kind, in
//! closed form like the partial means in `base`.
//!
//! The harness sizes its tolerance for a measured mean by sd / sqrt(n); with the
//! configured sd it need not estimate one from a heavy-tailed sample.

use super::base::{mixture_sum, quantiles_cdf, quantiles_inv, Base};
use super::math::{gamma_mass, norm_mass, norm_pdf};

impl Base<'_> {
    /// The partial second moment E[X^2; a <= X <= b] (not divided by the mass).
    pub(crate) fn partial_second(&self, a: f64, b: f64) -> f64 {
        if b < a {
            return 0.0;
        }
        match *self {
            Base::Fixed(v) => {
                if a <= v && v <= b {
                    v * v
                } else {
                    0.0
                }
            }
            Base::Uniform { low, high } => {
                if high <= low {
                    return if a <= low && low <= b { low * low } else { 0.0 };
                }
                let (a, b) = (a.max(low), b.min(high));
                if b <= a {
                    0.0
                } else {
                    (b.powi(3) - a.powi(3)) / (3.0 * (high - low))
                }
            }
            Base::Normal { mu, sd } => {
                // X = mu + sd Z: E[Z^2; za..zb] = mass + za phi(za) - zb phi(zb).
                let (za, zb) = ((a - mu) / sd, (b - mu) / sd);
                let z_phi = |z: f64| {
                    if z.is_infinite() {
                        0.0
                    } else {
                        z * norm_pdf(z)
                    }
                };
                let mass = norm_mass(za, zb);
                let first = norm_pdf(za) - norm_pdf(zb);
                let second = mass + z_phi(za) - z_phi(zb);
                mu * mu * mass + 2.0 * mu * sd * first + sd * sd * second
            }
            Base::LogNormal { mu, sigma } => {
                // E[X^2; X <= x] = exp(2 mu + 2 sigma^2) Phi((ln x - mu - 2 sigma^2)/sigma).
                let shift = mu + 2.0 * sigma * sigma;
                let z = |x: f64| {
                    if x <= 0.0 {
                        f64::NEG_INFINITY
                    } else {
                        (x.ln() - shift) / sigma
                    }
                };
                (2.0 * mu + 2.0 * sigma * sigma).exp() * norm_mass(z(a), z(b))
            }
            Base::Exponential { mean } => {
                // E[X^2; X >= x] = (x^2 + 2 m x + 2 m^2) exp(-x/m).
                let upper = |x: f64| {
                    let x = x.max(0.0);
                    if x.is_infinite() {
                        0.0
                    } else {
                        (x * x + 2.0 * mean * x + 2.0 * mean * mean) * (-x / mean).exp()
                    }
                };
                upper(a) - upper(b)
            }
            Base::Pareto { scale, shape } => {
                let a = a.max(scale);
                if b <= a {
                    return 0.0;
                }
                if (shape - 2.0).abs() < 1e-12 {
                    shape * scale * scale * (b / a).ln()
                } else {
                    let term = |x: f64| (scale / x).powf(shape - 2.0);
                    shape * scale * scale / (shape - 2.0) * (term(a) - term(b))
                }
            }
            Base::Gamma { shape, scale } => {
                // x^2 f(x; k, theta) = k (k+1) theta^2 f(x; k+2, theta).
                shape
                    * (shape + 1.0)
                    * scale
                    * scale
                    * gamma_mass(shape + 2.0, a.max(0.0) / scale, b / scale)
            }
            Base::Weibull { shape, scale } => {
                let s = 1.0 + 2.0 / shape;
                let y = |x: f64| {
                    if x <= 0.0 {
                        0.0
                    } else {
                        (x / scale).powf(shape)
                    }
                };
                scale * scale * statrs::function::gamma::gamma(s) * gamma_mass(s, y(a), y(b))
            }
            Base::Quantiles(points) => {
                let pa = quantiles_cdf(points, a, true);
                let pb = quantiles_cdf(points, b, false);
                // Q is linear on each segment: the integral of its square is exact.
                points
                    .windows(2)
                    .map(|w| {
                        let u0 = (w[0][0] / 100.0).max(pa);
                        let u1 = (w[1][0] / 100.0).min(pb);
                        if u1 <= u0 {
                            return 0.0;
                        }
                        let (q0, q1) = (quantiles_inv(points, u0), quantiles_inv(points, u1));
                        (u1 - u0) * (q0 * q0 + q0 * q1 + q1 * q1) / 3.0
                    })
                    .sum()
            }
            Base::Mixture(components) => mixture_sum(components, |d| d.partial_second_ms(a, b)),
        }
    }
}
