//! The merged per-second history: every second any shard recorded, each row the sum of
//! the shards at that second of wall time.
//!
//! A shard counts at second t with its latest line at or before t: its running totals
//! (requests, failures, and the sums behind the mean) from its first line on, its users
//! and current rates only while it ran (between its first and last line). Percentiles
//! cannot be added from the lines (the report keeps no per-second histograms), so the
//! merged lines leave them out (N/A) and write the median as 0 rather than guess; the
//! merged totals (the stats table, the JSON rows) have exact percentiles.

use std::collections::{BTreeMap, BTreeSet};

use crate::stats::{History, HistoryRow};

/// A row's identity: (method, name).
type Key = (String, String);

/// One shard's history: per row, its lines by second.
type ShardLines<'a> = BTreeMap<Key, BTreeMap<u64, &'a HistoryRow>>;

/// The shards' histories aligned on wall time.
pub(super) fn align<'a>(shards: impl Iterator<Item = &'a [HistoryRow]>) -> History {
    // Per shard: (method, name) -> lines by second.
    let shards: Vec<ShardLines<'a>> = shards
        .map(|rows| {
            let mut by_key = ShardLines::new();
            for row in rows {
                by_key
                    .entry((row.method.clone(), row.name.clone()))
                    .or_default()
                    .insert(row.timestamp, row);
            }
            by_key
        })
        .collect();
    let seconds: BTreeSet<u64> = shards
        .iter()
        .flat_map(|s| s.values().flat_map(|lines| lines.keys().copied()))
        .collect();
    let keys: BTreeSet<&Key> = shards.iter().flat_map(|s| s.keys()).collect();
    let mut history = History::default();
    for &second in &seconds {
        // Locust's order within a second: request rows by name, the Aggregated row last.
        let (aggregated, rows): (Vec<&Key>, Vec<&Key>) = keys
            .iter()
            .copied()
            .partition(|(method, _)| method.is_empty());
        for key in rows.into_iter().chain(aggregated) {
            let lines = shards.iter().filter_map(|s| s.get(key));
            if let Some(row) = merge_at(second, key, lines) {
                history.push(row);
            }
        }
    }
    history
}

/// The merged line of `key` at `second`, or `None` when no shard had begun that row.
fn merge_at<'a>(
    second: u64,
    key: &Key,
    shards: impl Iterator<Item = &'a BTreeMap<u64, &'a HistoryRow>>,
) -> Option<HistoryRow> {
    let mut out = HistoryRow {
        timestamp: second,
        user_count: 0,
        method: key.0.clone(),
        name: key.1.clone(),
        current_rps: 0.0,
        current_fail_per_sec: 0.0,
        percentiles_ms: None,
        current_p50_ms: None,
        current_p95_ms: None,
        num_requests: 0,
        num_failures: 0,
        median_ms: 0.0,
        avg_ms: 0.0,
        min_ms: 0.0,
        max_ms: 0.0,
        avg_content_length: 0.0,
    };
    let mut any = false;
    let mut time_sum = 0.0;
    let mut size_sum = 0.0;
    let mut min: Option<f64> = None;
    for lines in shards {
        let Some((_, line)) = lines.range(..=second).next_back() else {
            continue;
        };
        any = true;
        let running = lines.keys().next_back().is_some_and(|&end| second <= end);
        if running {
            out.user_count += line.user_count;
            out.current_rps += line.current_rps;
            out.current_fail_per_sec += line.current_fail_per_sec;
        }
        out.num_requests += line.num_requests;
        out.num_failures += line.num_failures;
        if line.num_requests > 0 {
            let n = line.num_requests as f64;
            time_sum += line.avg_ms * n;
            size_sum += line.avg_content_length * n;
            min = Some(min.map_or(line.min_ms, |m| m.min(line.min_ms)));
            out.max_ms = out.max_ms.max(line.max_ms);
        }
    }
    if out.num_requests > 0 {
        let n = out.num_requests as f64;
        out.avg_ms = time_sum / n;
        out.avg_content_length = size_sum / n;
        out.min_ms = min.unwrap_or(0.0);
    }
    any.then_some(out)
}
