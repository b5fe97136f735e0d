//! Unit tests of recording, merging, percentiles and rates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

const T0: u64 = 1_795_961_000;

fn at(seconds: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0) + Duration::from_secs_f64(seconds)
}

fn row_with(values_us: &[u64]) -> RequestStats {
    let mut r = RequestStats::new("GET", "/x");
    for (i, &v) in values_us.iter().enumerate() {
        r.record_us(v, 10, i % 7 == 0, at(i as f64 / 10.0));
    }
    r
}

/// True when `got` is `want` to three significant digits, reported as the top of its
/// HdrHistogram bucket (never below the true value, at most 1/1024 above it).
fn same_to_3_digits(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| g >= want && g - want <= want / 1024.0)
}

/// Locust's rank, computed independently of the code under test.
fn exact_at_rank(sorted: &[u64], p: f64) -> u64 {
    let n = sorted.len();
    let rank = ((n as f64 * p).floor() as usize + 1).min(n);
    sorted[rank - 1]
}

#[test]
fn percentiles_are_exact_to_three_digits_below_and_above_one_and_ten_seconds() {
    // 1 ms .. 20 s in 1 ms steps, recorded in a scrambled order.
    let n = 20_000u64;
    let mut values: Vec<u64> = (1..=n).map(|ms| ms * 1000).collect();
    let mut r = RequestStats::new("GET", "/x");
    for i in 0..n {
        let v = values[((i * 7919) % n) as usize];
        r.record_us(v, 0, false, at(0.0));
    }
    values.sort_unstable();
    let mut ps = PERCENTILES_TO_REPORT.to_vec();
    ps.extend([0.0, 0.01, 0.04, 0.049, 0.05, 0.333, 0.45, 0.5001]);
    for p in ps {
        let exact = exact_at_rank(&values, p) as f64 / 1000.0;
        let got = r.percentile_ms(p).unwrap();
        // HdrHistogram with 3 significant digits: a value's bucket is at most 1/1024 of it
        // wide, and the reported value is the bucket's top (never below the true value).
        assert!(
            got >= exact && got - exact <= exact / 1024.0,
            "p={p}: got {got}, exact {exact}"
        );
    }
    // The 5% point is 1 s, the 50% point 10 s: both sides of each are covered above.
    assert_eq!(exact_at_rank(&values, 0.05), 1_001_000);
    assert_eq!(exact_at_rank(&values, 0.5), 10_001_000);
}

#[test]
fn small_values_follow_locusts_rank_exactly() {
    // Below 2048 µs every microsecond has its own bucket, so values are exact.
    let values: Vec<u64> = (1..=100).collect();
    let r = row_with(&values);
    assert_eq!(r.percentile_ms(0.5), Some(0.051)); // rank floor(50)+1 = 51
    assert_eq!(r.percentile_ms(0.66), Some(0.067));
    assert_eq!(r.percentile_ms(0.999), Some(0.1)); // rank 100 (capped)
    assert_eq!(r.percentile_ms(1.0), Some(0.1));
    assert_eq!(r.percentile_ms(0.0), Some(0.001));
    let all = r.percentiles_ms(&[0.9, 0.1, 0.5]).unwrap();
    assert_eq!(all, vec![0.091, 0.011, 0.051]);
}

#[test]
fn median_is_the_lower_median_clamped_to_min_and_max() {
    assert_eq!(row_with(&[40, 10, 30, 20]).median_response_time_ms(), 0.02);
    assert_eq!(
        row_with(&[50, 40, 10, 30, 20]).median_response_time_ms(),
        0.03
    );
    // One slow request: the histogram bucket's top is above the value; clamped back.
    let one = row_with(&[1_234_567]);
    assert_eq!(one.median_response_time_ms(), 1234.567);
    assert_eq!(one.percentile_ms(0.99), Some(1234.567));
    assert_eq!(one.min_response_time_ms(), 1234.567);
    assert_eq!(one.max_response_time_ms(), 1234.567);
}

#[test]
fn empty_row_has_no_percentiles_and_zero_figures() {
    let r = RequestStats::new("GET", "/x");
    assert_eq!(r.percentile_ms(0.5), None);
    assert_eq!(r.median_response_time_ms(), 0.0);
    assert_eq!(r.avg_response_time_ms(), 0.0);
    assert_eq!(r.min_response_time_ms(), 0.0);
    assert_eq!(r.fail_ratio(), 0.0);
    assert_eq!(r.total_rps(), 0.0);
    assert_eq!(r.current_rps(at(30.0)), 0.0);
}

#[test]
fn hours_long_values_saturate_without_panicking() {
    let mut shard = Shard::new();
    let key = RequestKey::new("GET", "/slow");
    shard.record(&key, Duration::from_secs(3 * 3600), 0, None, at(0.0));
    shard.record(&key, Duration::from_secs(30 * 3600), 0, None, at(0.0));
    shard.record(&key, Duration::MAX, u64::MAX, Some("timeout"), at(0.0));
    shard.record(&key, Duration::from_millis(5), u64::MAX, None, at(0.0));
    let mut agg = Aggregator::new(at(0.0));
    agg.merge_shard(&shard);
    let s = agg.snapshot(at(1.0), 1);
    let r = &s.rows[0];
    assert_eq!(r.num_requests(), 4);
    assert_eq!(r.histogram().len(), 4);
    assert_eq!(r.min_response_time_ms(), 5.0);
    let p25 = r.percentile_ms(0.25).unwrap(); // rank 2 of 4
    assert!(
        (p25 - 3.0 * 3600.0 * 1000.0).abs() <= 3.0 * 3600.0 * 1000.0 / 1024.0,
        "{p25}"
    );
    // The 30 h value is held at the histogram's ceiling of one day.
    let p100_hist = r.histogram().highest_equivalent(r.histogram().max());
    assert!(p100_hist >= MAX_RECORDED_US && p100_hist - MAX_RECORDED_US <= MAX_RECORDED_US / 1024);
    assert_eq!(r.total_content_length(), u64::MAX);
}

#[test]
fn merging_in_either_order_gives_the_same_row() {
    let a = row_with(&[1, 500, 2_500, 70_000]);
    let mut b = row_with(&[3_000_000, 12_000_000]);
    b.record_us(9, 0, true, at(100.0));
    let c = row_with(&[45, 45, 45]);
    let mut abc = a.clone();
    abc.merge(&b);
    abc.merge(&c);
    let mut cba = c.clone();
    cba.merge(&b);
    cba.merge(&a);
    assert_eq!(abc, cba);
    assert_eq!(abc.num_requests(), 10);
    assert_eq!(
        abc.num_failures(),
        a.num_failures() + b.num_failures() + c.num_failures()
    );
    assert_eq!(abc.histogram().len(), 10);
    assert_eq!(abc.min_response_time_ms(), 0.001);
    assert_eq!(abc.max_response_time_ms(), 12_000.0);
    assert_eq!(abc.first_request(), Some(at(0.0)));
    assert_eq!(abc.last_request(), Some(at(100.0)));
}

/// A run whose per-second counts are known: second i (from T0) holds i+1 requests, of
/// which the first is a failure when i is even.
fn hand_built_series(start: SystemTime) -> RequestStats {
    let mut shard = Shard::new();
    let key = RequestKey::new("GET", "/x");
    for i in 0..20u32 {
        for j in 0..=i {
            let error = (i % 2 == 0 && j == 0).then_some("boom");
            shard.record(
                &key,
                Duration::from_millis(1),
                0,
                error,
                at(f64::from(i) + 0.5),
            );
        }
    }
    let mut agg = Aggregator::new(start);
    agg.merge_shard(&shard);
    agg.snapshot(at(20.5), 1).rows.remove(0)
}

#[test]
fn current_rate_is_the_mean_of_ten_whole_seconds_before_the_last_two() {
    let r = hand_built_series(at(0.0));
    // now = T0+20: seconds T0+8 ..= T0+17 hold 9..=18 requests.
    assert_eq!(r.current_rps(at(20.9)), 13.5);
    // Even seconds 8, 10, 12, 14, 16 each had one failure: 5 over 10 seconds.
    assert_eq!(r.current_fail_per_sec(at(20.9)), 0.5);
    // Not before the run start: start T0+15 leaves seconds 15, 16, 17.
    let late = hand_built_series(at(15.2));
    assert_eq!(late.current_rps(at(20.0)), 17.0);
    // Too early for a whole second: zero, as Locust's avg of an empty list.
    assert_eq!(r.current_rps(at(2.0)), 0.0);
    // Requests stopped: the window has moved past them.
    assert_eq!(r.current_rps(at(40.0)), 0.0);
}

#[test]
fn total_rate_runs_from_the_start_to_the_last_request() {
    let r = hand_built_series(at(0.0));
    // 210 requests, last at T0+19.5.
    assert_eq!(r.num_requests(), 210);
    assert!((r.total_rps() - 210.0 / 19.5).abs() < 1e-9);
    assert!((r.total_fail_per_sec() - 10.0 / 19.5).abs() < 1e-9);
    assert!((r.fail_ratio() - 10.0 / 210.0).abs() < 1e-12);
}

#[test]
fn hub_collection_merges_stripes_sorts_rows_and_groups_errors() {
    let hub = StatsHub::new(3);
    let keys = [
        RequestKey::new("POST", "/b"),
        RequestKey::new("GET", "/b"),
        RequestKey::new("GET", "/a"),
    ];
    for user in 0..9usize {
        let mut shard = hub.shard(user).lock().unwrap();
        for (k, key) in keys.iter().enumerate() {
            let error = (k == 0 && user % 3 == 0).then_some("HTTPError('503 Server Error')");
            shard.record(
                key,
                Duration::from_micros(1000 + user as u64),
                100,
                error,
                at(user as f64),
            );
        }
    }
    let mut agg = Aggregator::new(at(0.0));
    let s = agg.tick(&hub, at(10.0), 9);
    let order: Vec<(&str, &str)> = s
        .rows
        .iter()
        .map(|r| (r.name.as_str(), r.method.as_str()))
        .collect();
    assert_eq!(order, [("/a", "GET"), ("/b", "GET"), ("/b", "POST")]);
    assert_eq!(s.aggregated.num_requests(), 27);
    assert_eq!(s.aggregated.num_failures(), 3);
    assert_eq!(s.row("POST", "/b").unwrap().num_failures(), 3);
    assert_eq!(s.aggregated.name, AGGREGATED_NAME);
    assert_eq!(s.aggregated.method, "");
    assert_eq!(s.errors.len(), 1);
    let e = &s.errors[0];
    assert_eq!(
        (e.occurrences, e.first_seen, e.last_seen),
        (3, at(0.0), at(6.0))
    );
    assert_eq!(s.history.len(), 1);
    // The shards were drained: a second collection adds only what is new.
    hub.shard(4)
        .lock()
        .unwrap()
        .record(&keys[2], Duration::from_millis(2), 0, None, at(11.0));
    let s2 = agg.tick(&hub, at(12.0), 9);
    assert_eq!(s2.aggregated.num_requests(), 28);
    assert_eq!(s2.row("GET", "/a").unwrap().num_requests(), 10);
    assert_eq!(s2.history.len(), 2);
    assert_eq!(
        s.aggregated.num_requests(),
        27,
        "an earlier snapshot never changes"
    );
}

#[test]
fn reset_zeroes_figures_but_keeps_rows() {
    let hub = StatsHub::new(1);
    let key = RequestKey::new("GET", "/a");
    hub.shard(0)
        .lock()
        .unwrap()
        .record(&key, Duration::from_millis(3), 0, Some("x"), at(1.0));
    let mut agg = Aggregator::new(at(0.0));
    agg.tick(&hub, at(2.0), 1);
    agg.reset(at(3.0));
    let s = agg.snapshot(at(3.0), 1);
    assert_eq!(s.start, at(3.0));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.rows[0].num_requests(), 0);
    assert_eq!(s.aggregated.num_requests(), 0);
    assert!(s.errors.is_empty() && s.history.is_empty());
    assert_eq!(s.history.end_seq(), 1);
}

#[test]
fn full_history_keeps_one_row_per_request_row_then_aggregated() {
    let hub = StatsHub::new(2);
    for (i, name) in ["/b", "/a"].iter().enumerate() {
        let key = RequestKey::new("GET", *name);
        hub.shard(i)
            .lock()
            .unwrap()
            .record(&key, Duration::from_millis(3), 0, None, at(1.0));
    }
    let mut agg = Aggregator::new(at(0.0));
    agg.set_full_history(true);
    let s = agg.tick(&hub, at(2.0), 4);
    let names: Vec<&str> = s.history.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["/a", "/b", AGGREGATED_NAME]);
    assert!(s
        .history
        .iter()
        .all(|h| h.timestamp == T0 + 2 && h.user_count == 4));
    assert_eq!(s.history.since(2).count(), 1);
}

#[test]
fn history_survives_many_chunks() {
    let mut h = History::default();
    let row = |i: u64| HistoryRow {
        timestamp: i,
        user_count: 0,
        method: String::new(),
        name: AGGREGATED_NAME.into(),
        current_rps: 0.0,
        current_fail_per_sec: 0.0,
        percentiles_ms: None,
        current_p50_ms: None,
        current_p95_ms: None,
        num_requests: i,
        num_failures: 0,
        median_ms: 0.0,
        avg_ms: 0.0,
        min_ms: 0.0,
        max_ms: 0.0,
        avg_content_length: 0.0,
    };
    for i in 0..1000 {
        h.push(row(i));
    }
    assert_eq!(h.len(), 1000);
    assert!(h.iter().map(|r| r.timestamp).eq(0..1000));
    assert!(h.since(990).map(|r| r.timestamp).eq(990..1000));
}

#[test]
fn current_percentiles_cover_the_last_ten_collections_only() {
    let hub = StatsHub::new(2);
    let key = RequestKey::new("GET", "/a");
    let mut agg = Aggregator::new(at(0.0));
    let mut last = None;
    // Collection k brings ten requests of (k+1) ms.
    for k in 0..15u64 {
        for i in 0..10usize {
            let mut shard = hub.shard(i).lock().unwrap();
            shard.record(&key, Duration::from_millis(k + 1), 0, None, at(k as f64));
        }
        last = Some(agg.tick(&hub, at(k as f64 + 0.5), 1));
    }
    let s = last.unwrap();
    // Window: collections 5..=14, values 6..=15 ms; rank 51 of 100 is 11 ms.
    assert!(same_to_3_digits(
        s.aggregated.current_percentile_ms(0.5),
        11.0
    ));
    assert!(same_to_3_digits(
        s.aggregated.current_percentile_ms(0.0),
        6.0
    ));
    assert_eq!(s.aggregated.window_histogram().unwrap().len(), 100);
    // Whole run: rank 76 of 150 is 8 ms.
    assert!(same_to_3_digits(s.aggregated.percentile_ms(0.5), 8.0));
    // Rows keep no window unless full history is on.
    assert_eq!(s.rows[0].current_percentile_ms(0.5), None);
    let h = s.history.iter().last().unwrap();
    assert!(same_to_3_digits(h.current_p50_ms, 11.0));
    assert!(same_to_3_digits(h.current_p95_ms, 15.0));
    let whole_run_p50 = h.percentiles_ms.map(|p| p[0]);
    assert!(
        same_to_3_digits(whole_run_p50, 8.0),
        "aggregated-only history: whole run"
    );
    // A reset empties the window.
    agg.reset(at(20.0));
    assert_eq!(
        agg.snapshot(at(20.0), 1)
            .aggregated
            .current_percentile_ms(0.5),
        None
    );
}

#[test]
fn full_history_rows_use_current_percentiles() {
    let hub = StatsHub::new(1);
    let key = RequestKey::new("GET", "/a");
    let mut agg = Aggregator::new(at(0.0));
    agg.set_full_history(true);
    let mut last = None;
    for k in 0..12u64 {
        let ms = if k < 2 { 100 } else { 5 };
        hub.shard(0)
            .lock()
            .unwrap()
            .record(&key, Duration::from_millis(ms), 0, None, at(k as f64));
        last = Some(agg.tick(&hub, at(k as f64 + 0.5), 1));
    }
    let s = last.unwrap();
    assert!(same_to_3_digits(s.rows[0].current_percentile_ms(1.0), 5.0));
    let rows: Vec<&HistoryRow> = s.history.iter().rev().take(2).collect();
    assert_eq!(rows[1].name, "/a");
    for row in rows {
        assert!(
            same_to_3_digits(row.percentiles_ms.map(|p| p[10]), 5.0),
            "{}",
            row.name
        );
        assert_eq!(row.max_ms, 100.0, "{}: totals stay whole-run", row.name);
    }
}

#[test]
fn the_number_of_stripes_and_collections_does_not_change_the_figures() {
    // The same requests recorded through 1 stripe collected once, and through 7 stripes
    // collected every few requests, give identical rows, errors and totals.
    let keys = [
        RequestKey::new("GET", "/a"),
        RequestKey::new("POST", "/a"),
        RequestKey::new("GET", "/b"),
    ];
    let requests: Vec<(usize, usize, u64, Option<&str>, f64)> = (0..500usize)
        .map(|i| {
            let error = match i % 11 {
                0 => Some("ConnectionResetError"),
                5 => Some("HTTPError('500')"),
                _ => None,
            };
            let us = (i as u64 * 7_919) % 2_000_000 + 1;
            (i % 13, i % 3, us, error, i as f64 / 40.0)
        })
        .collect();
    let run = |stripes: usize, collect_every: usize| {
        let hub = StatsHub::new(stripes);
        let mut agg = Aggregator::new(at(0.0));
        for (n, &(user, k, us, error, t)) in requests.iter().enumerate() {
            hub.shard(user).lock().unwrap().record(
                &keys[k],
                Duration::from_micros(us),
                us % 500,
                error,
                at(t),
            );
            if n % collect_every == 0 {
                agg.collect(&hub);
            }
        }
        agg.collect(&hub);
        agg.snapshot(at(13.0), 13)
    };
    let (one, many) = (run(1, usize::MAX), run(7, 17));
    for (a, b) in one
        .rows
        .iter()
        .zip(&many.rows)
        .chain([(&one.aggregated, &many.aggregated)])
    {
        assert_eq!(a.num_requests(), b.num_requests());
        assert_eq!(a.histogram(), b.histogram(), "{}", a.name);
        assert_eq!(a.total_response_time_us(), b.total_response_time_us());
        assert_eq!(
            a.percentiles_ms(&PERCENTILES_TO_REPORT),
            b.percentiles_ms(&PERCENTILES_TO_REPORT)
        );
        assert_eq!(a.current_rps(at(13.0)), b.current_rps(at(13.0)));
        assert_eq!(
            (a.first_request(), a.last_request()),
            (b.first_request(), b.last_request())
        );
    }
    assert_eq!(one.rows.len(), 3);
    assert_eq!(one.errors, many.errors);
    assert_eq!(one.aggregated.num_failures(), 500 / 11 * 2 + 1);
}

/// The memory a long run keeps: each collection empties the stripes, whose rows hold the
/// raw requests of one second, so what the stripes keep allocated depends on one
/// second's traffic, never on how slow the responses were or how long the run has gone.
/// (Before, each stripe's row held a histogram sized for the slowest response it had
/// met, reallocated and freed as slower ones came, and a soak's memory crept up.)
#[test]
fn stripes_hold_the_same_memory_after_every_collection_however_slow_the_responses() {
    let stripes = 8;
    let hub = StatsHub::new(stripes);
    let keys = [
        RequestKey::new("GET", "/a"),
        RequestKey::new("GET", "/b"),
        RequestKey::new("POST", "/c"),
    ];
    let held = |hub: &StatsHub| -> usize {
        (0..hub.len())
            .map(|i| hub.shard(i).lock().unwrap().held_bytes())
            .sum()
    };
    let mut agg = Aggregator::new(at(0.0));
    let mut requests = 0u64;
    let mut after_first = None;
    // 25 "seconds": every pair records five responses each second, from 1 ms doubling up
    // to over 4 hours, each new one the slowest any pair has seen.
    for second in 0..25u32 {
        let micros = 1000u64 << second;
        for user in 0..stripes {
            let mut shard = hub.shard(user).lock().unwrap();
            for key in &keys {
                for _ in 0..5 {
                    shard.record(
                        key,
                        Duration::from_micros(micros),
                        0,
                        None,
                        at(f64::from(second)),
                    );
                    shard.record_overhead(key, Duration::from_micros(micros / 10));
                    requests += 1;
                }
            }
        }
        agg.tick(&hub, at(f64::from(second) + 0.5), 1);
        agg.tick(&hub, at(f64::from(second) + 0.9), 1);
        // Both spare sets went through a collection: what they keep is one second's lists.
        let now = held(&hub);
        assert!(now > 0, "the stripes keep their lists' allocations");
        let first = *after_first.get_or_insert(now);
        assert_eq!(now, first, "second {second}: the stripes' memory changed");
    }
    let s = agg.tick(&hub, at(30.0), 1);
    assert_eq!(s.aggregated.num_requests(), requests);
    assert_eq!(s.aggregated.overhead().len(), requests);
    // The run's own histogram still has every response, the slowest included.
    let max_ms = s.aggregated.percentile_ms(1.0).unwrap();
    assert!(
        max_ms >= (1000u64 << 24) as f64 / 1000.0 * 0.999,
        "{max_ms}"
    );
}

/// Feeds one second of traffic to `hub`: rows appear over time (one is inserted before
/// the others in name order), times grow past a histogram's first resize, and failures
/// and overheads come and go.
fn feed_second(hub: &StatsHub, k: u64) {
    let names = ["/m", "/z", "/a", "/b"];
    let mut shard = hub.shard((k % 2) as usize).lock().unwrap();
    for (n, name) in names.iter().enumerate().take(1 + (k as usize) / 4) {
        let key = RequestKey::new("GET", *name);
        for i in 0..20u64 {
            let time = Duration::from_micros((i + 1) * (k + 1) * 997 * (n as u64 + 1));
            let error = (i % 9 == k % 9).then_some("HTTPError 500");
            shard.record(&key, time, 100 + i, error, at(k as f64 + i as f64 / 20.0));
            shard.record_overhead(&key, Duration::from_micros(50 + i * k));
        }
    }
}

#[test]
fn a_snapshot_overwritten_in_place_equals_a_new_one() {
    for full_history in [false, true] {
        let (reused_hub, kept_hub) = (StatsHub::new(2), StatsHub::new(2));
        let (mut reusing, mut keeping) = (Aggregator::new(at(0.0)), Aggregator::new(at(0.0)));
        reusing.set_full_history(full_history);
        keeping.set_full_history(full_history);
        // Holding every snapshot keeps `keeping` from reusing any.
        let mut held = Vec::new();
        for k in 0..16u64 {
            feed_second(&reused_hub, k);
            feed_second(&kept_hub, k);
            let now = at(k as f64 + 0.5);
            let reused = reusing.tick(&reused_hub, now, 7);
            let fresh = keeping.tick(&kept_hub, now, 7);
            // Debug output would print every histogram bucket: compare, then name the row.
            assert_eq!(reused.rows.len(), fresh.rows.len(), "second {k}");
            for (a, b) in reused.rows.iter().zip(&fresh.rows) {
                assert!(a.same_figures(b), "second {k}, row {}", b.name);
            }
            assert!(
                reused.aggregated.same_figures(&fresh.aggregated),
                "second {k}"
            );
            assert_eq!(reused.errors, fresh.errors, "second {k}");
            assert!(reused.history.iter().eq(fresh.history.iter()), "second {k}");
            held.push(fresh);
            if k == 5 {
                // A reset between ticks: rows stay, their histograms start small again.
                reusing.reset(at(6.0));
                keeping.reset(at(6.0));
            }
        }
        assert_eq!(held.last().unwrap().rows.len(), 4);
    }
}

#[test]
fn a_snapshot_is_reused_once_no_one_holds_it() {
    let hub = StatsHub::new(1);
    let mut agg = Aggregator::new(at(0.0));
    feed_second(&hub, 8);
    let first = agg.tick(&hub, at(1.0), 1);
    let first_rows = first.rows.as_ptr();
    drop(first);
    let second = agg.tick(&hub, at(2.0), 1);
    assert_eq!(
        second.rows.as_ptr(),
        first_rows,
        "the freed snapshot's rows are reused"
    );
    let third = agg.tick(&hub, at(3.0), 1);
    assert_ne!(
        third.rows.as_ptr(),
        second.rows.as_ptr(),
        "a held one is not"
    );
}

#[test]
fn clone_from_copies_every_figure_whatever_the_buffers_held() {
    let big = {
        let mut r = row_with(&[5, 90_000_000, 7_000, 123_456]);
        r.record_overhead_us(40_000_000);
        r.set_window(Some(row_with(&[3_000_000]).histogram().clone()));
        r
    };
    let small = {
        let mut r = row_with(&[1, 2, 3, 250]);
        r.record_overhead_us(17);
        r.name = "/y".to_owned();
        r
    };
    let mut windowed_small = small.clone();
    windowed_small.set_window(Some(row_with(&[8]).histogram().clone()));
    for (from, to) in [
        (&big, &small),
        (&small, &big),
        (&big, &windowed_small),
        (&windowed_small, &big),
    ] {
        let mut copy = from.clone();
        copy.clone_from(to);
        assert!(copy.same_figures(to), "{} onto {}", to.name, from.name);
        assert!(!copy.same_figures(from), "the test rows differ");
    }
    let mut emptied = big.clone();
    emptied.clone_from(&RequestStats::new("GET", "/x"));
    assert_eq!(emptied.num_requests(), 0);
    assert_eq!(emptied.overhead().len(), 0);
}

/// The published snapshots' rows share the run's histograms; before a row changes it
/// copies them into the buffers of a snapshot no one reads any more. With the newest
/// snapshot held and older ones dropped (a watch channel's pattern), no histogram is
/// allocated once every row exists, however long the run.
#[test]
fn a_second_copies_the_run_histograms_into_a_released_snapshots_buffers() {
    let hub = StatsHub::new(2);
    let mut agg = Aggregator::new(at(0.0));
    let mut newest = agg.tick(&hub, at(0.5), 1);
    let mut after_warm_up = None;
    for k in 0..40u64 {
        feed_second(&hub, k);
        let next = agg.tick(&hub, at(k as f64 + 1.5), 1);
        assert!(
            next.rows.iter().all(|r| !newest
                .rows
                .iter()
                .any(|old| old.name == r.name && old.shares_histograms_with(r))),
            "second {k}: a changed row was copied, not changed under a reader"
        );
        newest = next;
        // Every row exists from second 12 (feed_second adds one every four seconds).
        if k == 14 {
            after_warm_up = Some(agg.unshare_allocations());
        }
    }
    assert_eq!(newest.rows.len(), 4);
    assert_eq!(
        Some(agg.unshare_allocations()),
        after_warm_up,
        "histograms were allocated after every row existed"
    );
    // The newest snapshot's figures are whole: 20 requests a row a second.
    assert_eq!(
        newest.rows[0].num_requests(),
        newest.rows[0].histogram().len()
    );
}

/// A row's name, request count, and recorded response times and overheads (value, count).
type RowFigures = (String, u64, Vec<(u64, u64)>, Vec<(u64, u64)>);

/// What a snapshot's rows hold, by value (a clone would share the histograms).
fn figures(s: &Snapshot) -> Vec<RowFigures> {
    let values = |h: &hdrhistogram::Histogram<u64>| {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect::<Vec<_>>()
    };
    s.rows
        .iter()
        .chain(std::iter::once(&s.aggregated))
        .map(|r| {
            (
                r.name.clone(),
                r.num_requests(),
                values(r.histogram()),
                values(r.overhead()),
            )
        })
        .collect()
}

#[test]
fn a_snapshot_a_sink_still_holds_keeps_its_figures_while_later_seconds_go_on() {
    let hub = StatsHub::new(2);
    let mut agg = Aggregator::new(at(0.0));
    let mut held = Vec::new();
    for k in 0..16u64 {
        feed_second(&hub, k);
        let s = agg.tick(&hub, at(k as f64 + 0.5), 1);
        // A slow sink holds every third snapshot for a while.
        if k % 3 == 0 {
            held.push((figures(&s), s));
        }
    }
    assert!(held.len() > 4);
    for (want, s) in &held {
        assert_eq!(&figures(s), want, "held snapshot of {:?}", s.taken_at);
    }
}

/// Headless with no observer, nobody holds a snapshot once its sinks have read it: the
/// run's rows then change in place, and no histogram is copied or allocated.
#[test]
fn without_a_reader_the_run_histograms_change_in_place() {
    let hub = StatsHub::new(16);
    let mut agg = Aggregator::new(at(0.0));
    let mut last = None;
    for k in 0..30u64 {
        feed_second(&hub, k);
        let s = agg.tick(&hub, at(k as f64 + 1.5), 1);
        last = Some(figures(&s));
    }
    assert_eq!(agg.unshare_allocations(), 0);
    let s = agg.snapshot(at(31.0), 1);
    assert_eq!(Some(figures(&s)), last, "the last tick's figures are whole");
}
