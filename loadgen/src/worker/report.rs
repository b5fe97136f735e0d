//! Stats conversion: what the worker recorded since its last report, in the form a
//! Locust master merges (`StatsEntry.serialize` and `StatsError.serialize` of Locust's
//! `stats.py`): one entry per (name, method), the total, and the errors keyed by
//! SHA-256.
//!
//! Response times go to the master as Locust's rounded dict (whole milliseconds below
//! 100 ms, then two significant digits, Python's half-to-even rounding), so the
//! master's percentiles are computed exactly as from Python workers. loadgen keeps its
//! response times in HdrHistograms with three significant digits, so each histogram
//! bucket is rounded from its middle value: a request within 0.05 % of a Locust bucket
//! boundary may be counted in the neighbouring bucket. Counts, totals, minimum and
//! maximum are exact.

use std::collections::BTreeMap;

use rmpv::Value;
use sha2::{Digest, Sha256};

use super::messages::{class_counts, map, Envelope};
use crate::plan::scenario::check::python_repr;
use crate::stats::{unix_seconds_f64, ErrorStats, RequestStats, Snapshot};

/// The `stats` message for what `interval` holds (a snapshot of the totals since the
/// last report, whose `start` is that report's time).
pub(crate) fn stats_message(
    node_id: &str,
    interval: &Snapshot,
    user_classes_count: &BTreeMap<String, u64>,
) -> Envelope {
    let start = unix_seconds_f64(interval.start);
    let entries = interval.rows.iter().map(|r| entry(r, start)).collect();
    let errors = interval
        .errors
        .iter()
        .map(|e| (Value::from(error_key(e)), error(e)))
        .collect();
    let data = map([
        ("stats", Value::Array(entries)),
        ("stats_total", entry(&interval.aggregated, start)),
        ("errors", Value::Map(errors)),
        ("user_classes_count", class_counts(user_classes_count)),
        (
            "user_count",
            Value::from(user_classes_count.values().sum::<u64>()),
        ),
    ]);
    Envelope::new("stats", data, node_id)
}

/// One row as Locust's serialised `StatsEntry` (the 14 keys the master reads).
fn entry(r: &RequestStats, start_time: f64) -> Value {
    let mut reqs_per_sec = Vec::new();
    let mut fail_per_sec = Vec::new();
    for (second, requests, failures) in r.per_second() {
        reqs_per_sec.push((Value::from(second), Value::from(requests)));
        if failures > 0 {
            fail_per_sec.push((Value::from(second), Value::from(failures)));
        }
    }
    let response_times = locust_buckets(r)
        .into_iter()
        .map(|(ms, n)| (Value::from(ms), Value::from(n)))
        .collect();
    map([
        ("name", Value::from(r.name.as_str())),
        ("method", Value::from(r.method.as_str())),
        (
            "last_request_timestamp",
            r.last_request()
                .map_or(Value::Nil, |t| Value::from(unix_seconds_f64(t))),
        ),
        ("start_time", Value::from(start_time)),
        ("num_requests", Value::from(r.num_requests())),
        ("num_none_requests", Value::from(0u64)),
        ("num_failures", Value::from(r.num_failures())),
        (
            "total_response_time",
            Value::from(r.total_response_time_us() as f64 / 1000.0),
        ),
        (
            "max_response_time",
            Value::from(r.max_response_time_us() as f64 / 1000.0),
        ),
        (
            "min_response_time",
            r.min_response_time_us()
                .map_or(Value::Nil, |us| Value::from(us as f64 / 1000.0)),
        ),
        (
            "total_content_length",
            Value::from(r.total_content_length()),
        ),
        ("response_times", Value::Map(response_times)),
        ("num_reqs_per_sec", Value::Map(reqs_per_sec)),
        ("num_fail_per_sec", Value::Map(fail_per_sec)),
    ])
}

/// The row's response times as Locust's rounded dict: milliseconds bucket -> count.
/// The counts add up to the row's requests.
pub(crate) fn locust_buckets(r: &RequestStats) -> BTreeMap<u64, u64> {
    let h = r.histogram();
    let mut out = BTreeMap::new();
    for v in h.iter_recorded() {
        let us = h.median_equivalent(v.value_iterated_to());
        *out.entry(locust_bucket_ms(us)).or_insert(0) += v.count_at_value();
    }
    out
}

/// Locust's `bucket_response_time` of `us` microseconds: round to 1 ms below 100 ms,
/// 10 ms below 1 s, 100 ms below 10 s, 1 s above, halves to even (Python's `round`).
pub(crate) fn locust_bucket_ms(us: u64) -> u64 {
    let unit_us = match us {
        0..100_000 => 1_000,
        100_000..1_000_000 => 10_000,
        1_000_000..10_000_000 => 100_000,
        _ => 1_000_000,
    };
    let (q, rem) = (us / unit_us, us % unit_us);
    let up = match (rem * 2).cmp(&unit_us) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => q % 2 == 1,
        std::cmp::Ordering::Less => false,
    };
    (q + u64::from(up)) * (unit_us / 1000)
}

/// Locust's serialised `StatsError`.
fn error(e: &ErrorStats) -> Value {
    map([
        ("name", Value::from(e.name.as_str())),
        ("method", Value::from(e.method.as_str())),
        ("error", Value::from(e.error.as_str())),
        ("occurrences", Value::from(e.occurrences)),
        ("first_seen", Value::from(unix_seconds_f64(e.first_seen))),
        ("last_seen", Value::from(unix_seconds_f64(e.last_seen))),
    ])
}

/// Locust's error key: SHA-256 hex of `<method>.<name>.<Python repr of the error>`, so
/// the same error from a Python worker lands in the same row of the master's table.
pub(crate) fn error_key(e: &ErrorStats) -> String {
    let text = format!("{}.{}.{}", e.method, e.name, python_repr(&e.error));
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Aggregator, RequestKey, StatsHub};
    use std::time::{Duration, SystemTime};

    #[test]
    fn buckets_round_as_python_does() {
        // Locust's documented examples and Python's half-to-even cases.
        let cases = [
            (3_700, 4),
            (500, 0),
            (2_500, 2),
            (3_500, 4),
            (99_600, 100),
            (147_200, 150),
            (145_000, 140),
            (155_000, 160),
            (1_234_500, 1200),
            (9_950_000, 10_000),
            (58_760_000, 59_000),
        ];
        for (us, ms) in cases {
            assert_eq!(locust_bucket_ms(us), ms, "{us} us");
        }
    }

    #[test]
    fn error_key_is_locusts_sha256() {
        // Python: hashlib.sha256(b"GET./x.\"Exception('boom')\"").hexdigest()
        let e = ErrorStats {
            method: "GET".into(),
            name: "/x".into(),
            error: "Exception('boom')".into(),
            occurrences: 1,
            first_seen: SystemTime::UNIX_EPOCH,
            last_seen: SystemTime::UNIX_EPOCH,
        };
        assert_eq!(
            error_key(&e),
            "e46368f4a74005406b8cfb81bc5a3aaf23f2f47025dc6b701c5c1e02f0e804ac"
        );
    }

    #[test]
    fn stats_message_counts_add_up() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let hub = StatsHub::new(2);
        let key = RequestKey::new("GET", "/a");
        {
            let mut shard = hub.shard(0).lock().unwrap();
            for ms in [3, 147, 1234] {
                let at = start + Duration::from_millis(ms * 10);
                shard.record(&key, Duration::from_millis(ms), 10, None, at);
            }
            shard.record(&key, Duration::from_millis(5), 0, Some("boom"), start);
        }
        let mut agg = Aggregator::new(start);
        agg.collect(&hub);
        let snap = agg.snapshot(start + Duration::from_secs(3), 1);
        let counts = BTreeMap::from([("A".to_owned(), 1u64)]);
        let e = stats_message("n", &snap, &counts);
        let bytes = e.encode();
        let back = Envelope::decode(&bytes).unwrap();
        let data = back.data;
        let get = |v: &Value, k: &str| {
            v.as_map()
                .unwrap()
                .iter()
                .find(|(key, _)| key.as_str() == Some(k))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let total = get(&data, "stats_total");
        assert_eq!(get(&total, "num_requests").as_u64(), Some(4));
        assert_eq!(get(&total, "num_failures").as_u64(), Some(1));
        assert_eq!(get(&total, "name").as_str(), Some("Aggregated"));
        let rt = get(&total, "response_times");
        let rt: BTreeMap<u64, u64> = rt
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_u64().unwrap(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(rt, BTreeMap::from([(3, 1), (5, 1), (150, 1), (1200, 1)]));
        assert_eq!(get(&total, "min_response_time").as_f64(), Some(3.0));
        assert_eq!(get(&total, "max_response_time").as_f64(), Some(1234.0));
        let per_sec = get(&total, "num_reqs_per_sec");
        let sum: u64 = per_sec
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                assert!(k.is_u64(), "integer second keys");
                v.as_u64().unwrap()
            })
            .sum();
        assert_eq!(sum, 4);
        let errors = get(&data, "errors");
        assert_eq!(errors.as_map().unwrap().len(), 1);
        assert_eq!(get(&data, "stats").as_array().unwrap().len(), 1);
        assert_eq!(get(&data, "user_count").as_u64(), Some(1));
    }
}
