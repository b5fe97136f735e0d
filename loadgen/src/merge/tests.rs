//! The merge of shards against one run over the same requests.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::sinks::json::{JsonReport, RunSettings};
use crate::stats::{Aggregator, RequestKey, Shard, PERCENTILES_TO_REPORT};

/// One request: which row, how long, how big, which error, when.
struct Request {
    key: RequestKey,
    time: Duration,
    size: u64,
    error: Option<&'static str>,
    at: SystemTime,
}

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// Requests with response times from 0.1 ms to about a minute (so histograms must grow
/// when shards are added), three rows, two kinds of error.
fn requests(n: usize, seed: u64) -> Vec<Request> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let keys = [
        RequestKey::new("GET", "/api/clients"),
        RequestKey::new("POST", "/api/trading/execute"),
        RequestKey::new("GET", "/api/ml/predict"),
    ];
    (0..n)
        .map(|i| {
            let exponent: f64 = rng.random_range(2.0..7.8);
            let error = match rng.random_range(0..100) {
                0..3 => Some("HTTPError('500 Server Error')"),
                3..5 => Some("ConnectionResetError(104, 'Connection reset by peer')"),
                _ => None,
            };
            Request {
                key: keys[rng.random_range(0..keys.len())].clone(),
                time: Duration::from_micros(10f64.powf(exponent) as u64),
                size: rng.random_range(0..5000),
                error,
                at: t0() + Duration::from_millis((i as u64 * 3) % 30_000),
            }
        })
        .collect()
}

fn snapshot_of<'a>(requests: impl Iterator<Item = &'a Request>) -> Snapshot {
    let mut shard = Shard::new();
    for r in requests {
        shard.record(&r.key, r.time, r.size, r.error, r.at);
    }
    let mut aggregator = Aggregator::new(t0());
    aggregator.merge_shard(&shard);
    aggregator.snapshot(t0() + Duration::from_secs(31), 0)
}

fn report_of(snapshot: &Snapshot) -> JsonReport {
    let report = JsonReport::new(snapshot, &RunSettings::from_snapshot(snapshot, "guide"));
    // Through the text, as `loadgen merge` reads the files.
    JsonReport::from_text(&report.to_text()).unwrap()
}

fn recorded(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

fn assert_same_row(merged: &RequestStats, single: &RequestStats) {
    let what = format!("{} {}", single.method, single.name);
    assert_eq!(merged.num_requests(), single.num_requests(), "{what}");
    assert_eq!(merged.num_failures(), single.num_failures(), "{what}");
    assert_eq!(
        merged.total_response_time_us(),
        single.total_response_time_us(),
        "{what}"
    );
    assert_eq!(
        merged.min_response_time_us(),
        single.min_response_time_us(),
        "{what}"
    );
    assert_eq!(
        merged.max_response_time_us(),
        single.max_response_time_us(),
        "{what}"
    );
    assert_eq!(
        merged.total_content_length(),
        single.total_content_length(),
        "{what}"
    );
    assert_eq!(
        recorded(merged.histogram()),
        recorded(single.histogram()),
        "{what}: histograms"
    );
    assert_eq!(
        merged.percentiles_ms(&PERCENTILES_TO_REPORT),
        single.percentiles_ms(&PERCENTILES_TO_REPORT),
        "{what}: percentiles"
    );
}

#[test]
fn shards_merge_into_the_single_runs_statistics() {
    let all = requests(30_000, 11);
    let single = snapshot_of(all.iter());
    for shards in [1usize, 2, 5] {
        // Uneven interleaving: shard k takes requests whose index*7 mod N is k.
        let reports: Vec<(PathBuf, JsonReport)> = (0..shards)
            .map(|k| {
                let mine = all.iter().enumerate().filter(|(i, _)| i * 7 % shards == k);
                let snap = snapshot_of(mine.map(|(_, r)| r));
                (PathBuf::from(format!("shard{k}.json")), report_of(&snap))
            })
            .collect();
        let merged = merge_reports(&reports).unwrap().snapshot;
        assert_eq!(merged.rows.len(), single.rows.len(), "{shards} shards");
        for (m, s) in merged.rows.iter().zip(&single.rows) {
            assert_eq!((&m.method, &m.name), (&s.method, &s.name));
            assert_same_row(m, s);
        }
        assert_same_row(&merged.aggregated, &single.aggregated);
        let occurrences = |s: &Snapshot| -> Vec<(String, String, u64)> {
            let mut v: Vec<_> = s
                .errors
                .iter()
                .map(|e| (e.name.clone(), e.error.clone(), e.occurrences))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            occurrences(&merged),
            occurrences(&single),
            "{shards} shards"
        );
    }
}

#[test]
fn merge_order_does_not_matter() {
    let all = requests(5_000, 3);
    let reports: Vec<(PathBuf, JsonReport)> = (0..3)
        .map(|k| {
            let snap = snapshot_of(all.iter().skip(k).step_by(3));
            (PathBuf::from(format!("{k}.json")), report_of(&snap))
        })
        .collect();
    let forward = merge_reports(&reports).unwrap().snapshot;
    let mut reversed = reports.clone();
    reversed.reverse();
    let backward = merge_reports(&reversed).unwrap().snapshot;
    for (a, b) in forward.rows.iter().zip(&backward.rows) {
        assert_same_row(a, b);
    }
    assert_same_row(&forward.aggregated, &backward.aggregated);
}

#[test]
fn history_is_aligned_on_wall_time() {
    // Shard A ran seconds 10..=12, shard B seconds 11..=14, each with its running totals.
    let line = |t: u64, users: u32, rps: f64, n: u64, avg: f64| crate::stats::HistoryRow {
        timestamp: t,
        user_count: users,
        method: String::new(),
        name: "Aggregated".into(),
        current_rps: rps,
        current_fail_per_sec: 0.0,
        percentiles_ms: Some([avg; 11]),
        current_p50_ms: None,
        current_p95_ms: None,
        num_requests: n,
        num_failures: 0,
        median_ms: avg,
        avg_ms: avg,
        min_ms: avg,
        max_ms: avg,
        avg_content_length: 10.0,
    };
    let a = vec![
        line(10, 2, 5.0, 5, 10.0),
        line(11, 2, 6.0, 11, 10.0),
        line(12, 2, 6.0, 17, 10.0),
    ];
    let b = vec![
        line(11, 3, 9.0, 9, 30.0),
        line(12, 3, 9.0, 18, 30.0),
        line(13, 3, 9.0, 27, 30.0),
        line(14, 3, 9.0, 36, 30.0),
    ];
    let merged: Vec<_> = history::align([a.as_slice(), b.as_slice()].into_iter())
        .iter()
        .cloned()
        .collect();
    let seconds: Vec<u64> = merged.iter().map(|r| r.timestamp).collect();
    assert_eq!(seconds, [10, 11, 12, 13, 14]);
    let at = |t: u64| merged.iter().find(|r| r.timestamp == t).unwrap();
    assert_eq!((at(10).user_count, at(10).num_requests), (2, 5));
    assert_eq!((at(11).user_count, at(11).num_requests), (5, 20));
    assert_eq!(at(11).current_rps, 15.0);
    // After A ended: its totals stay, its users and rate do not.
    assert_eq!((at(13).user_count, at(13).num_requests), (3, 17 + 27));
    assert_eq!(at(13).current_rps, 9.0);
    // The mean is weighted by the requests: (17*10 + 27*30) / 44.
    assert!((at(13).avg_ms - (17.0 * 10.0 + 27.0 * 30.0) / 44.0).abs() < 1e-9);
    assert_eq!(at(13).percentiles_ms, None, "percentiles cannot be added");
}

#[test]
fn a_report_of_another_format_is_refused_by_name() {
    let snap = snapshot_of(requests(10, 1).iter());
    let mut report = report_of(&snap);
    report.histogram_significant_digits = 2;
    let err = merge_reports(&[(PathBuf::from("odd.json"), report)]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("odd.json") && text.contains("histogram_significant_digits"),
        "{text}"
    );
    assert!(matches!(merge_reports(&[]), Err(MergeError::NoReports)));
}

#[test]
fn unreadable_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": 3}").unwrap();
    let err = merge_files(&[bad]).unwrap_err().to_string();
    assert!(err.contains("bad.json") && err.contains("format"), "{err}");
    let missing = dir.path().join("missing.json");
    let err = merge_files(&[missing]).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
}
