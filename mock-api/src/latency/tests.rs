//! Sampled quantiles and means of every kind against the analytic ones.
//!
//! Tolerances come from the sample size: the number of draws at or below the true
//! p-quantile is Binomial(n, p), so the analytic quantile must lie between the order
//! statistics at ranks n p -/+ z sqrt(n p (1-p)); the sample mean must lie within
//! z sd / sqrt(n) of the analytic mean. z = 4.89 is a two-sided error of 1e-6 per check,
//! and the seeds are fixed, so a run either always passes or always fails.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::*;

/// Two-sided normal quantile for an error probability of 1e-6.
const Z: f64 = 4.8916;
const N: usize = 30_000;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn parse(toml_text: &str) -> LatencyDistribution {
    #[derive(Deserialize)]
    struct Wrapper {
        latency: LatencyDistribution,
    }
    let w: Wrapper = toml::from_str(&format!("latency = {toml_text}"))
        .unwrap_or_else(|e| panic!("{toml_text}: {e}"));
    w.latency
        .validate()
        .unwrap_or_else(|e| panic!("{toml_text}: {e}"));
    w.latency
}

/// Draws N samples and checks p50/p90/p99 and the mean against the analytic values.
fn check_sampling(text: &str, seed: u64) {
    let d = parse(text);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut xs: Vec<f64> = (0..N).map(|_| ms(d.sample(&mut rng))).collect();
    xs.sort_by(f64::total_cmp);
    let n = N as f64;
    for p in [0.5, 0.9, 0.99] {
        let q = ms(d.quantile(p));
        let half = Z * (n * p * (1.0 - p)).sqrt();
        let lo = ((n * p - half).floor().max(1.0) as usize) - 1;
        let hi = ((n * p + half).ceil() as usize).min(N) - 1;
        assert!(
            xs[lo] <= q && q <= xs[hi],
            "{text}: analytic p{} = {q} ms outside the sample's [{}, {}] (ranks {lo}..{hi})",
            p * 100.0,
            xs[lo],
            xs[hi]
        );
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let analytic = ms(d.mean());
    let tol = Z * (var / n).sqrt() + 1e-6 * analytic.abs() + 1e-9;
    assert!(
        (mean - analytic).abs() <= tol,
        "{text}: sample mean {mean} vs analytic {analytic} (tolerance {tol})"
    );
    // The sample variance s^2 has variance about (m4 - s^4)/n; skipped for the one case
    // whose fourth moment is infinite (Pareto with shape <= 4 and no max_ms).
    let m4 = xs.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
    let sd = ms(d.std_dev());
    let heavy =
        matches!(d, LatencyDistribution::Pareto { shape, max_ms: None, .. } if shape <= 4.0);
    if !heavy {
        let tol = Z * ((m4 - var * var).max(0.0) / n).sqrt() + 1e-6 * var + 1e-9;
        assert!(
            (var - sd * sd).abs() <= tol,
            "{text}: sample variance {var} vs analytic {} (tolerance {tol})",
            sd * sd
        );
    }
    let (min, max) = d.bounds_ms();
    if let Some(min) = min {
        assert!(xs[0] >= min - 1e-6, "{text}: sample {} below min_ms", xs[0]);
    }
    if let Some(max) = max {
        assert!(
            xs[N - 1] <= max + 1e-6,
            "{text}: sample {} above max_ms",
            xs[N - 1]
        );
    }
}

/// One example of every kind, plus bounded ones and mixtures.
const CASES: &[&str] = &[
    r#"{ kind = "fixed", ms = 20 }"#,
    r#"{ kind = "uniform", low_ms = 10, high_ms = 30 }"#,
    r#"{ kind = "normal", mean_ms = 100, sd_ms = 30 }"#,
    // Mostly cut away by the truncation at zero.
    r#"{ kind = "normal", mean_ms = 10, sd_ms = 20 }"#,
    r#"{ kind = "lognormal", median_ms = 200, p99_ms = 1000 }"#,
    r#"{ kind = "lognormal", median_ms = 50, sigma = 0.5 }"#,
    r#"{ kind = "lognormal", mean_ms = 250, cv = 0.8 }"#,
    r#"{ kind = "exponential", mean_ms = 50 }"#,
    r#"{ kind = "pareto", scale_ms = 100, shape = 3.5 }"#,
    r#"{ kind = "gamma", shape = 2, scale_ms = 50 }"#,
    r#"{ kind = "gamma", shape = 0.5, scale_ms = 100 }"#,
    r#"{ kind = "weibull", shape = 1.5, scale_ms = 80 }"#,
    r#"{ kind = "weibull", shape = 0.7, scale_ms = 80 }"#,
    r#"{ kind = "quantiles", points = [[0, 50], [50, 200], [66, 250], [75, 300], [80, 350], [90, 450], [95, 500], [98, 800], [99, 1000], [100, 2000]] }"#,
    // A table with an atom: 30% of requests take exactly 100 ms.
    r#"{ kind = "quantiles", points = [[0, 10], [40, 100], [70, 100], [100, 400]] }"#,
    r#"{ kind = "mixture", components = [{ weight = 0.9, latency = { kind = "fixed", ms = 10 } }, { weight = 0.1, latency = { kind = "exponential", mean_ms = 500 } }] }"#,
    r#"{ kind = "mixture", components = [{ weight = 3, latency = { kind = "lognormal", median_ms = 40, sigma = 0.3 } }, { weight = 1, latency = { kind = "normal", mean_ms = 300, sd_ms = 50, max_ms = 320 } }] }"#,
    // Bounded kinds.
    r#"{ kind = "exponential", mean_ms = 50, min_ms = 20, max_ms = 100 }"#,
    r#"{ kind = "normal", mean_ms = 100, sd_ms = 50, min_ms = 50, max_ms = 150 }"#,
    r#"{ kind = "lognormal", median_ms = 200, p99_ms = 1000, max_ms = 300 }"#,
    r#"{ kind = "gamma", shape = 4, scale_ms = 250, min_ms = 500, max_ms = 2000 }"#,
    r#"{ kind = "weibull", shape = 1.5, scale_ms = 80, min_ms = 100 }"#,
    r#"{ kind = "uniform", low_ms = 0, high_ms = 100, min_ms = 25, max_ms = 50 }"#,
    r#"{ kind = "quantiles", points = [[0, 50], [50, 200], [100, 2000]], max_ms = 1000 }"#,
    // Pareto with an infinite mean made finite by its bound.
    r#"{ kind = "pareto", scale_ms = 100, shape = 0.9, max_ms = 2000 }"#,
    // Acceptance 5e-5: the rejection loop gives up and the inverse CDF takes over.
    r#"{ kind = "exponential", mean_ms = 10, min_ms = 100 }"#,
    r#"{ kind = "mixture", components = [{ weight = 1, latency = { kind = "fixed", ms = 10 } }, { weight = 1, latency = { kind = "uniform", low_ms = 0, high_ms = 1000 } }], min_ms = 5, max_ms = 500 }"#,
];

#[test]
fn sampled_quantiles_and_means_match_the_analytic_ones() {
    for (i, text) in CASES.iter().enumerate() {
        check_sampling(text, 0x5eed_0000 + i as u64);
    }
}

#[test]
fn quantile_is_monotone_and_respects_the_bounds() {
    for text in CASES {
        let d = parse(text);
        let mut prev = 0.0;
        for i in 0..=1000 {
            let q = d.quantile_ms(f64::from(i) / 1000.0);
            assert!(q >= prev - 1e-9, "{text}: quantile falls at p = {i}/1000");
            prev = q;
        }
        let (lo, hi) = d.effective_bounds();
        assert!(
            d.quantile_ms(0.0) >= lo - 1e-9,
            "{text}: quantile(0) below bounds"
        );
        assert!(
            d.quantile_ms(1.0) <= hi + 1e-9,
            "{text}: quantile(1) above bounds"
        );
        let (min, max) = d.bounds_ms();
        if let Some(min) = min {
            assert!(d.quantile(0.0) >= ms_to_duration(min) - Duration::from_nanos(1));
        }
        if let Some(max) = max {
            assert!(d.quantile(1.0) <= ms_to_duration(max) + Duration::from_nanos(1));
            assert!(d.mean_ms() <= max, "{text}: mean above max_ms");
        }
    }
}

#[test]
fn cdf_inverts_quantile() {
    for text in CASES {
        let d = parse(text);
        for p in [0.1, 0.5, 0.9, 0.99] {
            let q = d.quantile(p);
            // P(X <= Q(p)) >= p, and P(X < Q(p)) <= p: Q is the generalised inverse.
            assert!(
                d.cdf(q) >= p - 1e-6,
                "{text}: cdf(quantile({p})) = {}",
                d.cdf(q)
            );
            assert!(
                d.cdf_left_ms(ms(q)) <= p + 1e-6,
                "{text}: P(X < quantile({p})) > {p}"
            );
        }
        assert_eq!(d.cdf(Duration::MAX), 1.0, "{text}");
    }
}

#[test]
fn closed_forms_hit_their_parameters() {
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "{what}: {a} vs {b}"
        );
    };
    let d = parse(r#"{ kind = "lognormal", median_ms = 200, p99_ms = 1000 }"#);
    close(d.quantile_ms(0.5), 200.0, "lognormal median");
    close(d.quantile_ms(0.99), 1000.0, "lognormal p99");
    let d = parse(r#"{ kind = "lognormal", mean_ms = 250, cv = 0.8 }"#);
    close(d.mean_ms(), 250.0, "lognormal mean");
    // Memoryless: an exponential above 100 ms is 100 ms plus the same exponential.
    let d = parse(r#"{ kind = "exponential", mean_ms = 10, min_ms = 100 }"#);
    close(d.mean_ms(), 110.0, "truncated exponential mean");
    close(
        d.quantile_ms(0.5),
        100.0 + 10.0 * 2f64.ln(),
        "truncated exponential median",
    );
    // The guide's clients table: mean of the piecewise-linear quantile function.
    let d = parse(
        r#"{ kind = "quantiles", points = [[0, 50], [50, 200], [66, 250], [75, 300], [80, 350], [90, 450], [95, 500], [98, 800], [99, 1000], [100, 2000]] }"#,
    );
    close(d.mean_ms(), 246.75, "quantile table mean");
    close(d.quantile_ms(0.95), 500.0, "quantile table p95");
    close(d.quantile_ms(0.0), 50.0, "quantile table min");
    close(d.quantile_ms(1.0), 2000.0, "quantile table max");
    // Normal truncated at zero: mean = mu + sd * phi(a) / (1 - Phi(a)), a = -mu/sd.
    let d = parse(r#"{ kind = "normal", mean_ms = 10, sd_ms = 20 }"#);
    let a: f64 = -0.5;
    let expected = 10.0 + 20.0 * math::norm_pdf(a) / math::norm_sf(a);
    close(d.mean_ms(), expected, "normal truncated at zero");
    let d = parse(r#"{ kind = "gamma", shape = 3, scale_ms = 10 }"#);
    close(d.mean_ms(), 30.0, "gamma mean");
    close(
        d.cdf_ms(d.quantile_ms(0.3)),
        0.3,
        "gamma quantile inverts the cdf",
    );
    let d = parse(r#"{ kind = "weibull", shape = 2, scale_ms = 100 }"#);
    close(
        d.mean_ms(),
        100.0 * std::f64::consts::PI.sqrt() / 2.0,
        "weibull mean",
    );
    let d = parse(r#"{ kind = "pareto", scale_ms = 100, shape = 3 }"#);
    close(d.mean_ms(), 150.0, "pareto mean");
    // Variance of Pareto(xm, a) = xm^2 a / ((a-1)^2 (a-2)) = 7500 for (100, 3).
    close(d.variance_ms2(), 7500.0, "pareto variance");
    let d = parse(r#"{ kind = "uniform", low_ms = 10, high_ms = 30 }"#);
    close(d.variance_ms2(), 400.0 / 12.0, "uniform variance");
    let d = parse(r#"{ kind = "gamma", shape = 3, scale_ms = 10 }"#);
    close(d.variance_ms2(), 300.0, "gamma variance");
    let d = parse(r#"{ kind = "lognormal", mean_ms = 250, cv = 0.8 }"#);
    close(
        d.std_dev().as_secs_f64() * 1000.0,
        200.0,
        "lognormal sd = cv * mean",
    );
    let d = parse(r#"{ kind = "exponential", mean_ms = 50, min_ms = 80 }"#);
    close(
        d.variance_ms2(),
        2500.0,
        "memoryless: a truncated exponential keeps its variance",
    );
    assert_eq!(
        parse(r#"{ kind = "fixed", ms = 20 }"#).std_dev(),
        Duration::ZERO
    );
    assert_eq!(
        parse(r#"{ kind = "fixed", ms = 20 }"#).mean(),
        Duration::from_millis(20)
    );
}

#[test]
fn scaled_multiplies_quantiles_and_means() {
    for text in CASES {
        let d = parse(text);
        let s = d.scaled(0.25);
        s.validate()
            .unwrap_or_else(|e| panic!("{text} scaled: {e}"));
        for p in [0.0, 0.1, 0.5, 0.9, 0.99] {
            let (a, b) = (s.quantile_ms(p), 0.25 * d.quantile_ms(p));
            assert!(
                (a - b).abs() <= 1e-6 * b.max(1.0),
                "{text}: p{p} {a} vs {b}"
            );
        }
        let (a, b) = (s.mean_ms(), 0.25 * d.mean_ms());
        assert!(
            (a - b).abs() <= 1e-6 * b.max(1.0),
            "{text}: mean {a} vs {b}"
        );
    }
    let zero = parse(r#"{ kind = "exponential", mean_ms = 50 }"#).scaled(0.0);
    assert_eq!(zero.mean(), Duration::ZERO);
}

#[test]
fn unbounded_tail_saturates_instead_of_panicking() {
    let d = parse(r#"{ kind = "exponential", mean_ms = 50 }"#);
    assert_eq!(d.quantile(1.0), Duration::MAX);
    assert_eq!(d.quantile(f64::NAN), Duration::ZERO);
}

/// The error for `text`, which must fail to validate.
fn invalid(text: &str) -> String {
    #[derive(Deserialize)]
    struct Wrapper {
        latency: LatencyDistribution,
    }
    match toml::from_str::<Wrapper>(&format!("latency = {text}")) {
        Err(e) => e.to_string(),
        Ok(w) => match w.latency.validate() {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{text} validated"),
        },
    }
}

#[test]
fn validation_names_the_field_the_value_and_the_expectation() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{ kind = "exponential", mean_ms = -5 }"#,
            &["exponential", "mean_ms", "-5", "> 0"],
        ),
        (
            r#"{ kind = "uniform", low_ms = 30, high_ms = 10 }"#,
            &["high_ms", "10", "at least low_ms (30)"],
        ),
        (
            r#"{ kind = "lognormal", median_ms = 100 }"#,
            &["lognormal", "median_ms", "exactly one of"],
        ),
        (
            r#"{ kind = "lognormal", median_ms = 100, p99_ms = 50 }"#,
            &["p99_ms", "50", "above median_ms"],
        ),
        (
            r#"{ kind = "lognormal", median_ms = 100, sigma = 1, cv = 1 }"#,
            &["median_ms + sigma + cv", "exactly one of"],
        ),
        (
            r#"{ kind = "pareto", scale_ms = 100, shape = 1 }"#,
            &["shape", "above 1", "max_ms"],
        ),
        (
            r#"{ kind = "quantiles", points = [[0, 50], [50, 40], [100, 60]] }"#,
            &["non-decreasing ms"],
        ),
        (
            r#"{ kind = "quantiles", points = [[10, 50], [100, 60]] }"#,
            &["first point at 0"],
        ),
        (
            r#"{ kind = "uniform", low_ms = 0, high_ms = 10, min_ms = 20 }"#,
            &["no probability", "min_ms = 20"],
        ),
        (
            r#"{ kind = "fixed", ms = 10, min_ms = 20, max_ms = 15 }"#,
            &["max_ms", "15", "at least min_ms (20)"],
        ),
        (
            r#"{ kind = "mixture", components = [{ weight = 0, latency = { kind = "fixed", ms = 1 } }] }"#,
            &["component 0", "weight", "> 0"],
        ),
        (
            r#"{ kind = "mixture", components = [{ weight = 1, latency = { kind = "gamma", shape = -1, scale_ms = 1 } }] }"#,
            &["component 0", "gamma", "shape", "-1"],
        ),
        (
            r#"{ kind = "fixed", ms = 10, jitter_ms = 2 }"#,
            &["unknown field `jitter_ms`"],
        ),
        (
            r#"{ kind = "cauchy", ms = 10 }"#,
            &["unknown variant `cauchy`"],
        ),
    ];
    for (text, needles) in cases {
        let message = invalid(text);
        for needle in *needles {
            assert!(
                message.contains(needle),
                "{text}: error {message:?} does not mention {needle:?}"
            );
        }
    }
}

#[test]
fn serde_round_trips_every_case() {
    #[derive(Serialize, Deserialize)]
    struct Wrapper {
        latency: LatencyDistribution,
    }
    for text in CASES {
        let d = parse(text);
        let out = toml::to_string(&Wrapper { latency: d.clone() })
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        let back: Wrapper = toml::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
        assert_eq!(back.latency, d, "{out}");
    }
}
