//! Hot paths of loadgen: recording a request into a shard, the once-a-second aggregation
//! (collect, merge, snapshot), HdrHistogram record and merge, picking a task, rendering
//! request templates, and the CSV stats of a snapshot.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use loadgen::csv::stats_csv;
use loadgen::stats::{new_histogram, Aggregator, RequestKey, RequestStats, Shard, StatsHub};
use loadgen::Scenario;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Row names of a realistic run: the guide's endpoints.
const ROWS: &[(&str, &str)] = &[
    ("GET", "/api/clients"),
    ("GET", "/api/ml/predict"),
    ("POST", "/api/trading/execute"),
    ("GET", "/api/clients/[id]"),
];

/// A response time drawn like a real run's: 1-500 ms, mostly short.
fn response_time(rng: &mut SmallRng) -> Duration {
    let ms: f64 = rng.random_range(0.0_f64..1.0).powi(3) * 499.0 + 1.0;
    Duration::from_secs_f64(ms / 1000.0)
}

/// A hub whose `stripes` each hold `per_stripe` requests over [`ROWS`] (1 % failures).
fn filled_hub(stripes: usize, per_stripe: usize, start: SystemTime) -> StatsHub {
    let hub = StatsHub::new(stripes);
    let keys: Vec<_> = ROWS.iter().map(|(m, n)| RequestKey::new(*m, *n)).collect();
    let mut rng = SmallRng::seed_from_u64(3);
    for stripe in 0..stripes {
        let mut shard = hub.shard(stripe).lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..per_stripe {
            let error = (i % 100 == 0).then_some("HTTPError('503 Server Error')");
            shard.record(
                &keys[i % keys.len()],
                response_time(&mut rng),
                312,
                error,
                start,
            );
        }
    }
    hub
}

fn record(c: &mut Criterion) {
    let start = SystemTime::now();
    let key = RequestKey::new("GET", "/api/clients");
    let mut shard = Shard::new();
    let mut rng = SmallRng::seed_from_u64(4);
    let mut group = c.benchmark_group("shard");
    group.bench_function("record success", |b| {
        b.iter(|| shard.record(&key, response_time(&mut rng), 312, None, start))
    });
    group.bench_function("record failure", |b| {
        b.iter(|| {
            shard.record(
                &key,
                response_time(&mut rng),
                0,
                Some("HTTPError('503 Server Error')"),
                start,
            )
        })
    });
    group.finish();
}

fn aggregate(c: &mut Criterion) {
    let start = SystemTime::now();
    let mut group = c.benchmark_group("aggregator");
    // A second of a busy run: 8 stripes of 1,000 requests each.
    group.bench_function("collect 8x1000", |b| {
        b.iter_batched(
            || (filled_hub(8, 1_000, start), Aggregator::new(start)),
            |(hub, mut agg)| agg.collect(&hub),
            BatchSize::SmallInput,
        )
    });
    let hub = filled_hub(8, 1_000, start);
    let mut agg = Aggregator::new(start);
    agg.collect(&hub);
    group.bench_function("snapshot", |b| {
        b.iter(|| agg.snapshot(start + Duration::from_secs(1), 100))
    });
    let snapshot = agg.snapshot(start + Duration::from_secs(1), 100);
    group.bench_function("stats_csv", |b| b.iter(|| stats_csv(black_box(&snapshot))));
    group.finish();
}

fn merge_rows(c: &mut Criterion) {
    let start = SystemTime::now();
    let mut rng = SmallRng::seed_from_u64(5);
    let mut row = RequestStats::new("GET", "/api/clients");
    let mut other = RequestStats::new("GET", "/api/clients");
    let hub = filled_hub(1, 10_000, start);
    let mut agg = Aggregator::new(start);
    agg.collect(&hub);
    let snap = agg.snapshot(start + Duration::from_secs(1), 1);
    if let Some(r) = snap.row("GET", "/api/clients") {
        other = r.clone();
    }
    let mut group = c.benchmark_group("request_stats");
    group.bench_function("merge a row of 2,500", |b| b.iter(|| row.merge(&other)));
    let mut h = new_histogram();
    group.bench_function("histogram record", |b| {
        b.iter(|| h.saturating_record(response_time(&mut rng).as_micros() as u64))
    });
    let mut full = new_histogram();
    for _ in 0..10_000 {
        full.saturating_record(response_time(&mut rng).as_micros() as u64);
    }
    let mut into = new_histogram();
    group.bench_function("histogram merge", |b| b.iter(|| into.add(&full)));
    group.finish();
}

fn scenario(c: &mut Criterion) {
    let Some(scenario) = Scenario::builtin("guide") else {
        panic!("the guide scenario is built in");
    };
    let class = scenario.classes[0].clone();
    let mut rng = SmallRng::seed_from_u64(6);
    let mut group = c.benchmark_group("scenario");
    group.bench_function("pick_task", |b| b.iter(|| class.pick_task(&mut rng)));
    let mut out = String::new();
    for task in &class.tasks {
        for request in &task.requests {
            let name = format!("render path {}", request.path_text);
            group.bench_function(name, |b| {
                b.iter(|| {
                    out.clear();
                    request.path.render_into(&mut rng, &mut out);
                })
            });
            if let Some(body) = &request.body {
                group.bench_function(format!("render body {}", request.path_text), |b| {
                    b.iter(|| {
                        out.clear();
                        body.render_into(&mut rng, &mut out);
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, record, aggregate, merge_rows, scenario);
criterion_main!(benches);
