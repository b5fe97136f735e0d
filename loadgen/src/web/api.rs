//! The JSON the page and Locust's scripts read: `/stats/requests` (Locust's field names),
//! `/tasks` (class and task ratios) and `/verdict` (baselines and criteria as they stand).

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::state::RunState;
use crate::plan::load::StageMark;
use crate::plan::scenario::Scenario;
use crate::sinks::json::JsonErrorRow;
use crate::stats::{unix_seconds_f64, RequestStats, Snapshot};
use crate::verdict::baseline::BaselineReport;
use crate::verdict::criteria::Verdict;

/// Where a live run stands in time.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RunClock {
    /// Since the run started; `None` without a live run.
    pub elapsed: Option<Duration>,
    /// The run's time limit, if it has one.
    pub run_time: Option<Duration>,
}

/// `GET /stats/requests`: every row then Aggregated, the errors, the current and
/// whole-run rates, the failure ratio, the current p50/p95, the state and user count,
/// where each stage started (`stages`: index, seconds from the start, label; the
/// charts' markers), `elapsed` and `remaining` seconds of a live run (`remaining` only
/// with a time limit), and `warning` while every request fails to connect.
pub(super) fn stats_requests(
    snapshot: &Snapshot,
    state: RunState,
    host: &str,
    stages: &[StageMark],
    clock: RunClock,
) -> Value {
    let now = snapshot.taken_at;
    // A test that is not running sends nothing: its current rates are 0, whatever the
    // last seconds before the stop were.
    let live = matches!(state, RunState::Spawning | RunState::Running);
    let mut stats: Vec<Value> = snapshot.rows.iter().map(|r| row(r, now, live)).collect();
    stats.push(row(&snapshot.aggregated, now, live));
    let errors: Vec<JsonErrorRow> = snapshot.errors.iter().map(JsonErrorRow::new).collect();
    let total = &snapshot.aggregated;
    let mut percentiles = Map::new();
    for p in [0.5, 0.95] {
        percentiles.insert(
            format!("response_time_percentile_{p}"),
            json!(total.current_percentile_ms(p).unwrap_or(0.0)),
        );
    }
    json!({
        "stats": stats,
        "errors": errors,
        "current_rps": current(live, total.current_rps(now)),
        "current_fail_per_sec": current(live, total.current_fail_per_sec(now)),
        "total_rps": total.total_rps(),
        "total_fail_per_sec": total.total_fail_per_sec(),
        "fail_ratio": total.fail_ratio(),
        "total_avg_response_time": total.avg_response_time_ms(),
        "current_response_time_percentiles": percentiles,
        "state": state.name(),
        // The final snapshot keeps the users at the stop; Locust shows none once stopped.
        "user_count": if matches!(state, RunState::Ready | RunState::Stopped) { 0 } else { snapshot.user_count },
        "host": host,
        "start_time": unix_seconds_f64(snapshot.start),
        "stages": stages,
        "warning": snapshot.unreachable_warning(Some(host)),
        "elapsed": clock.elapsed.map(|e| e.as_secs_f64()),
        "remaining": clock
            .elapsed
            .zip(clock.run_time)
            .map(|(e, limit)| limit.saturating_sub(e).as_secs_f64()),
    })
}

/// A current rate while the test runs, else 0.
fn current(live: bool, rate: f64) -> f64 {
    if live {
        rate
    } else {
        0.0
    }
}

/// One row with Locust's field names (current rates 0 unless the test is `live`).
fn row(r: &RequestStats, now: SystemTime, live: bool) -> Value {
    json!({
        "method": r.method,
        "name": r.name,
        "safe_name": r.name,
        "num_requests": r.num_requests(),
        "num_failures": r.num_failures(),
        "min_response_time": r.min_response_time_ms(),
        "max_response_time": r.max_response_time_ms(),
        "current_rps": current(live, r.current_rps(now)),
        "current_fail_per_sec": current(live, r.current_fail_per_sec(now)),
        "avg_response_time": r.avg_response_time_ms(),
        "median_response_time": r.median_response_time_ms(),
        "total_rps": r.total_rps(),
        "total_fail_per_sec": r.total_fail_per_sec(),
        "response_time_percentile_0.95": r.percentile_ms(0.95).unwrap_or(0.0),
        "response_time_percentile_0.99": r.percentile_ms(0.99).unwrap_or(0.0),
        "avg_content_length": r.avg_content_length(),
    })
}

/// `GET /ui/history`: the Aggregated history as columns (seconds since the start,
/// requests/s, failures/s, the last ten seconds' p50 and p95 in ms, users) and the stage
/// marks, for the page's charts. A second without requests in its window has `null`
/// percentiles.
pub(super) fn history(snapshot: &Snapshot, stages: &[StageMark]) -> Value {
    let start = crate::stats::unix_seconds(snapshot.start);
    let rows: Vec<&crate::stats::HistoryRow> = snapshot
        .history
        .iter()
        .filter(|h| h.method.is_empty() && h.name == crate::stats::AGGREGATED_NAME)
        .collect();
    let column = |f: &dyn Fn(&crate::stats::HistoryRow) -> Value| -> Vec<Value> {
        rows.iter().map(|r| f(r)).collect()
    };
    json!({
        "time": column(&|r| json!(r.timestamp.saturating_sub(start))),
        "current_rps": column(&|r| json!(r.current_rps)),
        "current_fail_per_sec": column(&|r| json!(r.current_fail_per_sec)),
        "p50": column(&|r| json!(r.current_p50_ms)),
        "p95": column(&|r| json!(r.current_p95_ms)),
        "user_count": column(&|r| json!(r.user_count)),
        "stages": stages,
    })
}

/// `GET /tasks`: each class's share of the users and each task's share, per class and
/// of the whole (Locust's `per_class` and `total`).
pub(super) fn tasks(scenario: &Scenario, users: usize) -> Value {
    let mut per_class = Map::new();
    let mut total = Map::new();
    for class in scenario.task_ratios(users) {
        let mut own = Map::new();
        let mut of_total = Map::new();
        for task in &class.tasks {
            own.insert(task.task.clone(), json!({ "ratio": task.ratio }));
            of_total.insert(
                task.task.clone(),
                json!({ "ratio": task.ratio * class.ratio }),
            );
        }
        per_class.insert(
            class.class.clone(),
            json!({ "ratio": class.ratio, "tasks": own }),
        );
        total.insert(
            class.class,
            json!({ "ratio": class.ratio, "tasks": of_total }),
        );
    }
    json!({ "per_class": per_class, "total": total })
}

/// `GET /verdict`: every row's baseline bands and each criterion's result now.
pub(super) fn verdict(bands: &BaselineReport, verdict: &Verdict) -> Value {
    let rows: Vec<Value> = bands
        .rows
        .iter()
        .map(|r| {
            let cells: Vec<Value> = r
                .cells
                .iter()
                .map(|c| {
                    json!({
                        "metric": c.metric.label(),
                        "value": c.value.map(|v| c.metric.format(v)),
                        "band": c.band.map(|b| b.name()),
                    })
                })
                .collect();
            json!({ "row": r.label(), "cells": cells })
        })
        .collect();
    let criteria: Vec<Value> = verdict
        .results
        .iter()
        .map(|r| {
            json!({
                "row": r.row,
                "criterion": r.criterion.to_string(),
                "passed": r.passed,
                "detail": r.breach(),
                // The criterion with its measured value, passed or not.
                "measured": if r.passed { r.held() } else { r.breach() },
            })
        })
        .collect();
    json!({
        "outcome": verdict.outcome().word(),
        "baselines": rows,
        "criteria": criteria,
    })
}
