//! Special functions the distributions need, on `f64` milliseconds.
//!
//! statrs supplies erf/erfc, their inverses and the regularised incomplete gamma
//! functions; this module wraps them so that every edge (0, infinity, NaN) has a defined
//! answer instead of a panic, and adds the bisection used where no closed-form inverse
//! exists (gamma quantiles, mixture quantiles).

use statrs::function::erf::{erfc, erfc_inv};
use statrs::function::gamma::{checked_gamma_lr, checked_gamma_ur};

/// z such that the standard normal CDF at z is 0.99: ties a lognormal's p99 to its sigma.
pub(crate) const Z_99: f64 = 2.326_347_874_040_840_8;

/// Standard normal CDF.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Standard normal survival function, accurate in the upper tail.
pub(crate) fn norm_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Standard normal density.
pub(crate) fn norm_pdf(z: f64) -> f64 {
    if z.is_infinite() {
        return 0.0;
    }
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Probability that a standard normal lands in [a, b], using whichever tail keeps
/// precision (a difference of two numbers close to 1 loses it all).
pub(crate) fn norm_mass(a: f64, b: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    if a > 0.0 {
        norm_sf(a) - norm_sf(b)
    } else {
        norm_cdf(b) - norm_cdf(a)
    }
}

/// Inverse of the standard normal CDF; -inf at 0 and +inf at 1.
pub(crate) fn norm_inv(p: f64) -> f64 {
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else {
        -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
    }
}

/// Regularised lower incomplete gamma P(a, x), total over x in [0, inf].
pub(crate) fn gamma_p(a: f64, x: f64) -> f64 {
    if x.is_nan() || a.is_nan() {
        f64::NAN
    } else if x <= 0.0 {
        0.0
    } else if x.is_infinite() {
        1.0
    } else {
        checked_gamma_lr(a, x).unwrap_or(f64::NAN)
    }
}

/// Regularised upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate in the upper tail.
pub(crate) fn gamma_q(a: f64, x: f64) -> f64 {
    if x.is_nan() || a.is_nan() {
        f64::NAN
    } else if x <= 0.0 {
        1.0
    } else if x.is_infinite() {
        0.0
    } else {
        checked_gamma_ur(a, x).unwrap_or(f64::NAN)
    }
}

/// Mass of a Gamma(a, 1) variable in [x0, x1], from the tail that keeps precision.
pub(crate) fn gamma_mass(a: f64, x0: f64, x1: f64) -> f64 {
    if x1 <= x0 {
        return 0.0;
    }
    if x0 > a {
        gamma_q(a, x0) - gamma_q(a, x1)
    } else {
        gamma_p(a, x1) - gamma_p(a, x0)
    }
}

/// Smallest x in [lo, hi] with `cdf(x) >= p`, by bisection; `hi` may be infinite, in
/// which case the bracket is grown from `guess` first. Stops at a relative width of
/// about 1e-13 or after a bounded number of steps.
pub(crate) fn invert_cdf(cdf: impl Fn(f64) -> f64, p: f64, lo: f64, hi: f64, guess: f64) -> f64 {
    let mut lo = lo;
    let mut hi = hi;
    if hi.is_infinite() {
        let mut probe = guess.max(lo + 1.0).max(1e-9);
        let mut grown = 0;
        while cdf(probe) < p && grown < 2000 {
            lo = probe;
            probe *= 2.0;
            grown += 1;
        }
        hi = probe;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let converged = (hi - lo).partial_cmp(&(1e-13 * hi.abs().max(1e-9)))
            != Some(std::cmp::Ordering::Greater);
        if converged || mid == lo || mid == hi {
            break;
        }
        if cdf(mid) >= p {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}
