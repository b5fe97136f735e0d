//! Hot paths of mock-api: one latency draw of each distribution kind, one
//! `Behaviour::decide` (latency plus failure rules), and one precise-timer registration.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use mock_api::latency::LatencyDistribution;
use mock_api::profile::Profile;
use mock_api::timer::PreciseTimer;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// One distribution of each kind, as a profile would write it.
const KINDS: &[(&str, &str)] = &[
    ("fixed", r#"{ kind = "fixed", ms = 20 }"#),
    (
        "uniform",
        r#"{ kind = "uniform", low_ms = 10, high_ms = 30 }"#,
    ),
    (
        "normal",
        r#"{ kind = "normal", mean_ms = 100, sd_ms = 30 }"#,
    ),
    (
        "lognormal",
        r#"{ kind = "lognormal", median_ms = 200, p99_ms = 1000 }"#,
    ),
    ("exponential", r#"{ kind = "exponential", mean_ms = 50 }"#),
    (
        "pareto",
        r#"{ kind = "pareto", scale_ms = 100, shape = 2.5 }"#,
    ),
    ("gamma", r#"{ kind = "gamma", shape = 2, scale_ms = 50 }"#),
    (
        "weibull",
        r#"{ kind = "weibull", shape = 1.5, scale_ms = 80 }"#,
    ),
    (
        "quantiles",
        r#"{ kind = "quantiles", points = [[0, 50], [50, 200], [100, 2000]] }"#,
    ),
    (
        "mixture",
        r#"{ kind = "mixture", components = [{ weight = 0.9, latency = { kind = "fixed", ms = 10 } }, { weight = 0.1, latency = { kind = "exponential", mean_ms = 500 } }] }"#,
    ),
    (
        "truncated",
        r#"{ kind = "exponential", mean_ms = 50, min_ms = 5, max_ms = 500 }"#,
    ),
];

#[derive(serde::Deserialize)]
struct One {
    latency: LatencyDistribution,
}

fn latency_samples(c: &mut Criterion) {
    let mut group = c.benchmark_group("latency_sample");
    for (name, toml_text) in KINDS {
        let one: One = match toml::from_str(&format!("latency = {toml_text}")) {
            Ok(one) => one,
            Err(e) => panic!("{name}: {e}"),
        };
        let mut rng = SmallRng::seed_from_u64(1);
        group.bench_function(*name, |b| b.iter(|| one.latency.sample(&mut rng)));
    }
    group.finish();
}

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("behaviour_decide");
    // The guide profile: lognormal latencies and probability failure rules.
    for (profile, route) in [
        ("guide", "POST /api/trading/execute"),
        ("fast", "GET /health"),
    ] {
        let p = match Profile::builtin(profile) {
            Ok(p) => p,
            Err(e) => panic!("{profile}: {e}"),
        };
        let behaviour = p.behaviour(route).clone();
        let mut rng = SmallRng::seed_from_u64(2);
        let mut sequence = 0_u64;
        group.bench_function(format!("{profile} {route}"), |b| {
            b.iter(|| {
                sequence += 1;
                behaviour.decide(&mut rng, black_box(sequence))
            })
        });
    }
    group.finish();
}

fn timer_register(c: &mut Criterion) {
    let timer = PreciseTimer::start();
    let handle = timer.handle();
    // Deadlines 1 ms ahead, as a delayed request's last stretch is: the heap stays at
    // its steady-state size while the thread fires them (to dropped receivers).
    let mut group = c.benchmark_group("precise_timer");
    group.bench_function("register", |b| {
        b.iter(|| handle.register(Instant::now() + Duration::from_millis(1)))
    });
    group.finish();
    drop(timer);
}

criterion_group!(benches, latency_samples, decide, timer_register);
criterion_main!(benches);
