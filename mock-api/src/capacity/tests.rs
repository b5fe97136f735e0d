//! Capacity: parsing and validation, scaling, the saturation point, the pool's FIFO queue
//! (with waiters leaving it), the token bucket and the stall windows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gate::{stall_end, Pool, Rejection, StallSwitch, TokenBucket, Uptime};
use super::*;
use crate::profile::{Profile, ROUTES};

fn with_capacity(section: &str) -> Result<Profile, String> {
    let text = format!(
        "name = \"t\"\n[defaults]\nlatency = {{ kind = \"fixed\", ms = 50 }}\n\
         [jobs]\nduration = {{ kind = \"fixed\", ms = 1 }}\nfailure_probability = 0\n\
         [capacity]\n{section}\n"
    );
    Profile::from_toml(&text, "test.toml").map_err(|e| e.to_string())
}

#[test]
fn a_full_section_parses_and_reads_back() {
    let p = with_capacity(
        "workers = 8\nqueue = 64\nqueue_timeout_ms = 1000\n\
         rate_limit = { rps = 100, burst = 20 }\n\
         degradation = { latency_growth_per_hour = 0.5 }\n\
         stall = [{ at_ms = 30000, ms = 2000 }]",
    )
    .unwrap();
    let c = p.capacity.clone().unwrap();
    assert_eq!(c.workers, Some(8));
    assert_eq!(c.queue, Some(64));
    assert_eq!(c.queue_timeout(), Some(Duration::from_secs(1)));
    assert_eq!(
        c.rate_limit,
        Some(RateLimit {
            rps: 100.0,
            burst: 20
        })
    );
    assert_eq!(
        c.stall[0].window(),
        (Duration::from_secs(30), Duration::from_secs(32))
    );
    let back = Profile::from_toml(&p.to_toml(), "rendered").unwrap();
    assert_eq!(back, p, "{}", p.to_toml());
    let json: Profile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(json, p);
    // An empty section changes nothing; no section at all is the same.
    assert!(with_capacity("").unwrap().capacity.unwrap().is_unlimited());
}

#[test]
fn bad_values_name_the_line_the_field_the_value_and_the_expectation() {
    for (section, wants) in [
        (
            "workers = 0",
            &["line 7", "capacity.workers", "0 is invalid", "1 to"][..],
        ),
        ("queue = 5", &["capacity.workers", "missing", "queue"]),
        (
            "workers = 2\nqueue_timeout_ms = -5",
            &["capacity.queue_timeout_ms", "-5", "> 0"],
        ),
        (
            "rate_limit = { rps = 0 }",
            &["capacity.rate_limit.rps", "0 is invalid"],
        ),
        (
            "rate_limit = { rps = 5, burst = 0 }",
            &["capacity.rate_limit.burst"],
        ),
        (
            "degradation = { latency_growth_per_hour = -1 }",
            &["latency_growth_per_hour", "-1", ">= 0"],
        ),
        (
            "stall = [{ at_ms = 10, ms = 0 }]",
            &["capacity.stall[0].ms", "0 is invalid"],
        ),
        (
            "stall = [{ at_ms = -1, ms = 5 }]",
            &["capacity.stall[0].at_ms"],
        ),
        (
            "workers = 2\nwrokers = 3",
            &["unknown field `wrokers`", "workers"],
        ),
        ("workers = \"8\"", &["line 8, column 11", "u32"]),
    ] {
        let message = with_capacity(section).expect_err(section);
        assert!(message.contains("test.toml"), "{section}: {message}");
        for want in wants {
            assert!(
                message.contains(want),
                "{section}: no {want:?} in {message}"
            );
        }
    }
    // A profile built in code is checked by validate(), naming the field.
    let mut p = with_capacity("workers = 2").unwrap();
    p.capacity = Some(Capacity {
        workers: Some(0),
        ..Capacity::default()
    });
    let message = p.validate().unwrap_err().to_string();
    assert!(message.contains("capacity.workers"), "{message}");
}

#[test]
fn scaling_multiplies_durations_and_divides_rates() {
    let c = with_capacity(
        "workers = 8\nqueue = 64\nqueue_timeout_ms = 1000\n\
         rate_limit = { rps = 100, burst = 20 }\n\
         degradation = { latency_growth_per_hour = 0.5 }\n\
         stall = [{ at_ms = 30000, ms = 2000 }]",
    )
    .unwrap()
    .capacity
    .unwrap();
    let s = c.scaled(0.01);
    assert_eq!((s.workers, s.queue), (Some(8), Some(64)));
    assert!((s.queue_timeout_ms.unwrap() - 10.0).abs() < 1e-9);
    let r = s.rate_limit.unwrap();
    assert!((r.rps - 10_000.0).abs() < 1e-6);
    assert_eq!(r.burst, 20);
    let g = s.degradation.unwrap().latency_growth_per_hour;
    assert!((g - 50.0).abs() < 1e-9);
    assert!((s.stall[0].at_ms - 300.0).abs() < 1e-9 && (s.stall[0].ms - 20.0).abs() < 1e-9);
    // The leak reaches the same multiplier at the same point of the scaled timeline.
    let hour = Duration::from_secs(3600);
    let d = c.degradation.unwrap();
    assert!(
        (d.multiplier(hour) - s.degradation.unwrap().multiplier(hour.mul_f64(0.01))).abs() < 1e-9
    );
    assert!((d.multiplier(hour) - 1.5).abs() < 1e-12);
}

#[test]
fn the_capacity_profile_saturates_at_160_requests_a_second() {
    let p = Profile::builtin("capacity").unwrap();
    let mix: Vec<(&str, f64)> = ROUTES.iter().map(|r| (*r, 1.0)).collect();
    let rps = p.saturation_rps(&mix).unwrap();
    assert!((rps - 160.0).abs() < 1e-6, "{rps}");
    for route in ROUTES {
        let rps = p.route_saturation_rps(route).unwrap();
        assert!((rps - 160.0).abs() < 1e-6, "{route}: {rps}");
    }
    // Time-scaled by 0.1, the same server saturates at ten times the rate.
    let scaled = p.scaled(0.1).route_saturation_rps("GET /health").unwrap();
    assert!((scaled - 1600.0).abs() < 1e-6, "{scaled}");
    assert_eq!(
        Profile::builtin("healthy").unwrap().saturation_rps(&mix),
        None
    );
    assert_eq!(p.saturation_rps(&[]), None);
}

#[test]
fn every_symptom_profile_has_the_capacity_it_rehearses() {
    let cap = |n: &str| Profile::builtin(n).unwrap().capacity.unwrap();
    let pool = cap("pool-exhausted");
    assert!(pool.workers.is_some() && pool.queue_timeout_ms.is_some());
    assert!(cap("rate-limited").rate_limit.is_some());
    assert!(cap("leaking").degradation.is_some());
    assert!(!cap("stalling").stall.is_empty());
}

fn pool(workers: u32, queue: Option<u32>, timeout_ms: Option<f64>) -> Arc<Pool> {
    Pool::new(&Capacity {
        workers: Some(workers),
        queue,
        queue_timeout_ms: timeout_ms,
        ..Capacity::default()
    })
    .unwrap()
}

/// Yields (bounded) until the pool's queue holds `n`.
async fn until_queued(pool: &Pool, n: usize) {
    for _ in 0..10_000 {
        if pool.load().1 == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the queue never held {n}: {:?}", pool.load());
}

#[tokio::test]
async fn waiters_are_served_in_arrival_order_and_leavers_leave_the_queue() {
    let pool = pool(1, None, None);
    let first = pool.acquire().await.unwrap();
    assert!(!first.queued);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for name in ["a", "b", "c", "d"] {
        let (shared, tx) = (pool.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let permit = shared.acquire().await.unwrap();
            let _ = tx.send((name, permit.ticket, permit.queued));
        }));
        until_queued(&pool, tasks.len()).await;
    }
    // "b" goes away (its client disconnected): it must leave the queue.
    tasks[1].abort();
    until_queued(&pool, 3).await;
    drop(first);
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(rx.recv().await.unwrap());
    }
    assert_eq!(
        order.iter().map(|(n, _, q)| (*n, *q)).collect::<Vec<_>>(),
        [("a", true), ("c", true), ("d", true)]
    );
    assert!(order.windows(2).all(|w| w[0].1 < w[1].1), "{order:?}");
    let c = pool.counters();
    assert_eq!(
        (c.max_busy, c.served_from_queue, c.fifo_violations),
        (1, 3, 0)
    );
    assert_eq!(c.max_queue_length, 4);
    // Every worker came back.
    for t in tasks {
        let _ = t.await;
    }
    assert_eq!(pool.load(), (0, 0));
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_and_a_timed_out_waiter_gives_its_place_back() {
    let pool = pool(1, Some(1), Some(20.0));
    let held = pool.acquire().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.acquire().await.map(|p| p.ticket) }
    });
    until_queued(&pool, 1).await;
    assert_eq!(pool.acquire().await.unwrap_err(), Rejection::QueueFull);
    assert_eq!(waiter.await.unwrap(), Err(Rejection::QueueTimeout));
    assert_eq!(pool.load(), (1, 0));
    drop(held);
    assert_eq!(pool.load(), (0, 0));
    // The worker is free again and nobody waits.
    let again = pool.acquire().await.unwrap();
    assert!(!again.queued);
    assert_eq!(pool.counters().max_busy, 1);
}

#[tokio::test]
async fn workers_are_never_over_committed_under_contention() {
    let pool = pool(3, None, None);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let permit = pool.acquire().await.unwrap();
                tokio::task::yield_now().await;
                permit.busy
            })
        })
        .collect();
    for t in tasks {
        let busy = t.await.unwrap();
        assert!((1..=3).contains(&busy), "{busy}");
    }
    assert!(pool.counters().max_busy <= 3);
    assert_eq!(pool.load(), (0, 0));
}

#[test]
fn the_bucket_allows_a_burst_then_the_rate() {
    let bucket = TokenBucket::new(&Capacity {
        rate_limit: Some(RateLimit {
            rps: 10.0,
            burst: 2,
        }),
        ..Capacity::default()
    })
    .unwrap();
    let t0 = Instant::now();
    assert_eq!(bucket.take(t0), Ok(()));
    assert_eq!(bucket.take(t0), Ok(()));
    let wait = bucket.take(t0).unwrap_err();
    assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(bucket.take(t1), Ok(()));
    assert!(bucket.take(t1).is_err());
    // A long quiet spell saves up no more than the burst.
    let t2 = t1 + Duration::from_secs(60);
    assert_eq!(bucket.take(t2), Ok(()));
    assert_eq!(bucket.take(t2), Ok(()));
    assert!(bucket.take(t2).is_err());
}

#[test]
fn stalls_come_from_the_switch_or_the_schedule() {
    let uptime = Uptime::new();
    let switch = StallSwitch::default();
    let now = Instant::now();
    let schedule = [Stall {
        at_ms: 3_600_000.0,
        ms: 500.0,
    }];
    assert_eq!(stall_end(&switch, &schedule, &uptime, now), None);
    switch.start(now, Duration::from_millis(100));
    assert_eq!(
        stall_end(&switch, &[], &uptime, now),
        Some(now + Duration::from_millis(100))
    );
    assert_eq!(
        stall_end(&switch, &[], &uptime, now + Duration::from_millis(100)),
        None
    );
    switch.start(now, Duration::ZERO);
    assert_eq!(stall_end(&switch, &[], &uptime, now), None);

    uptime.advance(Duration::from_secs(3600));
    let end = stall_end(&switch, &schedule, &uptime, now).expect("in the window");
    let left = end - now;
    assert!(
        left <= Duration::from_millis(500) && left > Duration::ZERO,
        "{left:?}"
    );
    uptime.advance(Duration::from_secs(1));
    assert_eq!(stall_end(&switch, &schedule, &uptime, Instant::now()), None);
    // A stall too far away to count in Durations never comes early.
    let far = [Stall {
        at_ms: 1e300,
        ms: 10.0,
    }];
    let fresh = Uptime::new();
    assert_eq!(stall_end(&switch, &far, &fresh, Instant::now()), None);
}
