//! Samples of the Pareto, Weibull and quantile-table kinds against their closed forms,
//! written out here rather than taken from the code under test: `sample` is
//! `quantile(U)`, so comparing sample quantiles with `quantile` would compare the code
//! with itself.
//!
//! Each case draws N samples and passes two tests:
//! - Kolmogorov-Smirnov: the largest gap between the empirical CDF and the closed-form
//!   CDF is at most the Dvoretzky-Kiefer-Wolfowitz bound sqrt(ln(2 / alpha) / (2 N))
//!   (Massart's constant; it holds for every N and every distribution, atoms included);
//! - moments: the sample mean lies within z sd / sqrt(N) of the closed-form mean, sd the
//!   closed-form standard deviation.
//!
//! alpha = 1e-6 per test and the seeds are fixed. The same samples against a CDF a few
//! per cent off (a shape, a scale, one point of a table) must fail the KS test: at
//! N = 30 000 the test detects a CDF gap of 1.6 points.

use rand::rngs::SmallRng;
use rand::SeedableRng;
use statrs::function::gamma::gamma;

use super::LatencyDistribution;

const N: usize = 30_000;
const ALPHA: f64 = 1e-6;
/// Two-sided normal quantile for an error probability of 1e-6.
const Z: f64 = 4.8916;

/// The Dvoretzky-Kiefer-Wolfowitz critical value for N draws at ALPHA.
fn ks_critical(n: usize) -> f64 {
    ((2.0 / ALPHA).ln() / (2.0 * n as f64)).sqrt()
}

/// KS distance of sorted samples from a distribution with CDF `cdf` (P(X <= x)) and
/// left limit `left` (P(X < x), which differs from `cdf` only at an atom).
fn ks_distance(sorted: &[f64], cdf: &dyn Fn(f64) -> f64, left: &dyn Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| ((i as f64 + 1.0) / n - cdf(x)).max(left(x) - i as f64 / n))
        .fold(0.0, f64::max)
}

/// A case's closed forms: CDF, its left limit, mean and standard deviation.
struct Closed {
    cdf: Box<dyn Fn(f64) -> f64>,
    left: Box<dyn Fn(f64) -> f64>,
    mean: f64,
    sd: f64,
}

impl Closed {
    /// A continuous distribution.
    fn continuous(cdf: impl Fn(f64) -> f64 + Clone + 'static, mean: f64, sd: f64) -> Self {
        Self {
            cdf: Box::new(cdf.clone()),
            left: Box::new(cdf),
            mean,
            sd,
        }
    }
}

fn pareto(scale: f64, shape: f64) -> Closed {
    let cdf = move |x: f64| {
        if x < scale {
            0.0
        } else {
            1.0 - (scale / x).powf(shape)
        }
    };
    let mean = shape * scale / (shape - 1.0);
    let var = scale * scale * shape / ((shape - 1.0).powi(2) * (shape - 2.0));
    Closed::continuous(cdf, mean, var.sqrt())
}

/// Pareto cut at `max`: the CDF renormalised on [scale, max]; moments by integrating
/// x f(x) = shape scale^shape x^-shape over the range.
fn pareto_bounded(scale: f64, shape: f64, max: f64) -> Closed {
    let mass = 1.0 - (scale / max).powf(shape);
    let cdf = move |x: f64| {
        if x < scale {
            0.0
        } else {
            ((1.0 - (scale / x.min(max)).powf(shape)) / mass).min(1.0)
        }
    };
    let k = shape * scale.powf(shape) / mass;
    let moment = |r: f64| k * (max.powf(r - shape) - scale.powf(r - shape)) / (r - shape);
    let mean = moment(1.0);
    Closed::continuous(cdf, mean, (moment(2.0) - mean * mean).sqrt())
}

fn weibull(shape: f64, scale: f64) -> Closed {
    let cdf = move |x: f64| 1.0 - (-(x.max(0.0) / scale).powf(shape)).exp();
    let g1 = gamma(1.0 + 1.0 / shape);
    let g2 = gamma(1.0 + 2.0 / shape);
    Closed::continuous(cdf, scale * g1, scale * (g2 - g1 * g1).sqrt())
}

/// Weibull cut below at `min`: (F(x) - F(min)) / (1 - F(min)); its moments by the
/// midpoint rule on the closed-form density (no code under test involved).
fn weibull_above(shape: f64, scale: f64, min: f64) -> Closed {
    let f0 = move |x: f64| 1.0 - (-(x / scale).powf(shape)).exp();
    let tail = 1.0 - f0(min);
    let cdf = move |x: f64| {
        if x < min {
            0.0
        } else {
            (f0(x) - f0(min)) / tail
        }
    };
    let density = |x: f64| {
        shape / scale * (x / scale).powf(shape - 1.0) * (-(x / scale).powf(shape)).exp() / tail
    };
    let (top, steps) = (min + 40.0 * scale, 400_000);
    let h = (top - min) / f64::from(steps);
    let (mut m1, mut m2) = (0.0, 0.0);
    for i in 0..steps {
        let x = min + (f64::from(i) + 0.5) * h;
        let w = density(x) * h;
        m1 += x * w;
        m2 += x * x * w;
    }
    Closed::continuous(cdf, m1, (m2 - m1 * m1).sqrt())
}

/// A table of (percent, ms) points: the quantile function is linear between points, so
/// the CDF is linear between their values, and a flat stretch is an atom.
fn table(points: &[(f64, f64)], max: Option<f64>) -> Closed {
    let points: std::rc::Rc<[(f64, f64)]> = points.into();
    let raw = {
        let points = std::rc::Rc::clone(&points);
        move |x: f64, strict: bool| {
            let (first, last) = (points[0], points[points.len() - 1]);
            if x < first.1 || (strict && x <= first.1) {
                return 0.0;
            }
            if x > last.1 || (!strict && x >= last.1) {
                return 1.0;
            }
            let mut p = 0.0;
            for w in points.windows(2) {
                let ((p0, v0), (p1, v1)) = (w[0], w[1]);
                let inside = if strict {
                    v0 < x && x <= v1
                } else {
                    v0 <= x && x < v1
                };
                if inside && v1 > v0 {
                    return (p0 + (p1 - p0) * (x - v0) / (v1 - v0)) / 100.0;
                }
                if (strict && v1 < x) || (!strict && v1 <= x) {
                    p = p1 / 100.0;
                }
            }
            p
        }
    };
    let mut m1 = 0.0;
    let mut m2 = 0.0;
    for w in points.windows(2) {
        let ((p0, v0), (p1, v1)) = (w[0], w[1]);
        let share = (p1 - p0) / 100.0;
        m1 += share * (v0 + v1) / 2.0;
        m2 += share * (v0 * v0 + v0 * v1 + v1 * v1) / 3.0;
    }
    match max {
        None => Closed {
            cdf: Box::new({
                let raw = raw.clone();
                move |x| raw(x, false)
            }),
            left: Box::new(move |x| raw(x, true)),
            mean: m1,
            sd: (m2 - m1 * m1).sqrt(),
        },
        Some(max) => {
            // Cut at a value inside a linear stretch: the kept part's moments by the
            // midpoint rule on the quantile function up to the cut's probability.
            let cut = raw(max, false);
            let quantile = |u: f64| {
                let p = u * 100.0;
                points
                    .windows(2)
                    .find(|w| p <= w[1].0)
                    .map_or(points[points.len() - 1].1, |w| {
                        w[0].1 + (w[1].1 - w[0].1) * (p - w[0].0) / (w[1].0 - w[0].0)
                    })
            };
            let steps = 200_000;
            let (mut m1, mut m2) = (0.0, 0.0);
            for i in 0..steps {
                let x = quantile(cut * (f64::from(i) + 0.5) / f64::from(steps));
                m1 += x / f64::from(steps);
                m2 += x * x / f64::from(steps);
            }
            Closed {
                cdf: Box::new({
                    let raw = raw.clone();
                    move |x| (raw(x, false) / cut).min(1.0)
                }),
                left: Box::new(move |x| (raw(x, true) / cut).min(1.0)),
                mean: m1,
                sd: (m2 - m1 * m1).sqrt(),
            }
        }
    }
}

const GUIDE_TABLE: &[(f64, f64)] = &[
    (0.0, 50.0),
    (50.0, 200.0),
    (66.0, 250.0),
    (75.0, 300.0),
    (80.0, 350.0),
    (90.0, 450.0),
    (95.0, 500.0),
    (98.0, 800.0),
    (99.0, 1000.0),
    (100.0, 2000.0),
];
const ATOM_TABLE: &[(f64, f64)] = &[(0.0, 10.0), (40.0, 100.0), (70.0, 100.0), (100.0, 400.0)];
const SHORT_TABLE: &[(f64, f64)] = &[(0.0, 50.0), (50.0, 200.0), (100.0, 2000.0)];
/// The guide's table with its p95 point at 550 ms instead of 500.
fn wrong_p95() -> Vec<(f64, f64)> {
    let mut points = GUIDE_TABLE.to_vec();
    points[6].1 = 550.0;
    points
}

/// Each case: the profile text, its closed forms, and closed forms a little off.
fn cases() -> Vec<(&'static str, Closed, Closed)> {
    vec![
        (
            r#"{ kind = "pareto", scale_ms = 100, shape = 3.5 }"#,
            pareto(100.0, 3.5),
            pareto(100.0, 3.2),
        ),
        (
            r#"{ kind = "pareto", scale_ms = 100, shape = 0.9, max_ms = 2000 }"#,
            pareto_bounded(100.0, 0.9, 2000.0),
            pareto_bounded(100.0, 0.9, 1500.0),
        ),
        (
            r#"{ kind = "weibull", shape = 1.5, scale_ms = 80 }"#,
            weibull(1.5, 80.0),
            weibull(1.5, 84.0),
        ),
        (
            r#"{ kind = "weibull", shape = 0.7, scale_ms = 80 }"#,
            weibull(0.7, 80.0),
            weibull(0.75, 80.0),
        ),
        (
            r#"{ kind = "weibull", shape = 1.5, scale_ms = 80, min_ms = 100 }"#,
            weibull_above(1.5, 80.0, 100.0),
            weibull_above(1.5, 80.0, 95.0),
        ),
        (
            r#"{ kind = "quantiles", points = [[0, 50], [50, 200], [66, 250], [75, 300], [80, 350], [90, 450], [95, 500], [98, 800], [99, 1000], [100, 2000]] }"#,
            table(GUIDE_TABLE, None),
            table(&wrong_p95(), None),
        ),
        (
            r#"{ kind = "quantiles", points = [[0, 10], [40, 100], [70, 100], [100, 400]] }"#,
            table(ATOM_TABLE, None),
            table(
                &[(0.0, 10.0), (37.0, 100.0), (70.0, 100.0), (100.0, 400.0)],
                None,
            ),
        ),
        (
            r#"{ kind = "quantiles", points = [[0, 50], [50, 200], [100, 2000]], max_ms = 1000 }"#,
            table(SHORT_TABLE, Some(1000.0)),
            table(SHORT_TABLE, Some(1100.0)),
        ),
    ]
}

fn draw(text: &str, seed: u64) -> Vec<f64> {
    let d: LatencyDistribution = {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            latency: LatencyDistribution,
        }
        let w: Wrapper =
            toml::from_str(&format!("latency = {text}")).unwrap_or_else(|e| panic!("{text}: {e}"));
        w.latency
    };
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut xs: Vec<f64> = (0..N).map(|_| d.sample_ms(&mut rng)).collect();
    xs.sort_by(f64::total_cmp);
    xs
}

#[test]
fn samples_follow_the_closed_form_cdf_and_moments_and_a_wrong_cdf_is_rejected() {
    let critical = ks_critical(N);
    for (i, (text, right, wrong)) in cases().into_iter().enumerate() {
        let xs = draw(text, 0xC105_ED00 + i as u64);
        let d = ks_distance(&xs, &right.cdf, &right.left);
        assert!(d <= critical, "{text}: KS distance {d:.4} > {critical:.4}");
        let mean = xs.iter().sum::<f64>() / N as f64;
        let tol = Z * right.sd / (N as f64).sqrt();
        assert!(
            (mean - right.mean).abs() <= tol,
            "{text}: sample mean {mean:.3} vs closed form {:.3} (tolerance {tol:.3})",
            right.mean
        );
        let off = ks_distance(&xs, &wrong.cdf, &wrong.left);
        assert!(
            off > critical,
            "{text}: a CDF a little off passed: KS distance {off:.4} <= {critical:.4}"
        );
    }
}

/// The closed forms themselves: a known mean and the KS distance of an exact grid.
#[test]
fn the_closed_forms_are_right() {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    assert!(close(pareto(100.0, 3.0).mean, 150.0));
    assert!(close(pareto(100.0, 3.0).sd, 7500f64.sqrt()));
    assert!(close(
        weibull(2.0, 100.0).mean,
        100.0 * std::f64::consts::PI.sqrt() / 2.0
    ));
    assert!(close(table(GUIDE_TABLE, None).mean, 246.75));
    let atom = table(ATOM_TABLE, None);
    assert!(close((atom.cdf)(100.0), 0.7) && close((atom.left)(100.0), 0.4));
    // The midpoint integrals agree with the closed forms where both exist.
    let unbounded = weibull(1.5, 80.0);
    let cut_at_zero = weibull_above(1.5, 80.0, 0.0);
    assert!((cut_at_zero.mean - unbounded.mean).abs() < 1e-3 * unbounded.mean);
    assert!((cut_at_zero.sd - unbounded.sd).abs() < 1e-3 * unbounded.sd);
    let whole = table(SHORT_TABLE, None);
    let cut_above = table(SHORT_TABLE, Some(2000.0));
    assert!((cut_above.mean - whole.mean).abs() < 1e-3 * whole.mean);
    // Uniform grid of the Pareto's quantiles: KS distance 1/(2n) by construction.
    let grid: Vec<f64> = (0..1000)
        .map(|i| 100.0 * (1.0 - (f64::from(i) + 0.5) / 1000.0).powf(-1.0 / 3.5))
        .collect();
    let p = pareto(100.0, 3.5);
    assert!((ks_distance(&grid, &p.cdf, &p.left) - 0.0005).abs() < 1e-9);
}
