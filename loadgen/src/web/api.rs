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
    let mut stats: Vec<Value> = snapshot.rows.iter().map(|r| row(r, now)).collect();
    stats.push(row(&snapshot.aggregated, now));
    let errors: Vec<JsonErrorRow> = snapshot.errors.iter().map(JsonErrorRow::new).collect();
    let total = &snapshot.aggregated;
    let mut current = Map::new();
    for p in [0.5, 0.95] {
        current.insert(
            format!("response_time_percentile_{p}"),
            json!(total.current_percentile_ms(p).unwrap_or(0.0)),
        );
    }
    json!({
        "stats": stats,
        "errors": errors,
        "current_rps": total.current_rps(now),
        "current_fail_per_sec": total.current_fail_per_sec(now),
        "total_rps": total.total_rps(),
        "total_fail_per_sec": total.total_fail_per_sec(),
        "fail_ratio": total.fail_ratio(),
        "total_avg_response_time": total.avg_response_time_ms(),
        "current_response_time_percentiles": current,
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

/// One row with Locust's field names.
fn row(r: &RequestStats, now: SystemTime) -> Value {
    json!({
        "method": r.method,
        "name": r.name,
        "safe_name": r.name,
        "num_requests": r.num_requests(),
        "num_failures": r.num_failures(),
        "min_response_time": r.min_response_time_ms(),
        "max_response_time": r.max_response_time_ms(),
        "current_rps": r.current_rps(now),
        "current_fail_per_sec": r.current_fail_per_sec(now),
        "avg_response_time": r.avg_response_time_ms(),
        "median_response_time": r.median_response_time_ms(),
        "total_rps": r.total_rps(),
        "total_fail_per_sec": r.total_fail_per_sec(),
        "response_time_percentile_0.95": r.percentile_ms(0.95).unwrap_or(0.0),
        "response_time_percentile_0.99": r.percentile_ms(0.99).unwrap_or(0.0),
        "avg_content_length": r.avg_content_length(),
    })
}

/// `GET /tasks`: each class's share of the users and each task's share, per class and
/// of the whole (Locust's `per_class` and `total`). Fixed-count classes take their
/// count first; weighted classes share the rest by weight, as the dispatcher splits them.
pub(super) fn tasks(scenario: &Scenario, users: usize) -> Value {
    let fixed: u64 = scenario.classes.iter().filter_map(|c| c.fixed_count).sum();
    let weight_sum: f64 = scenario
        .classes
        .iter()
        .filter(|c| c.fixed_count.is_none())
        .map(|c| c.weight)
        .sum();
    let users = users.max(1) as f64;
    let weighted_share = ((users - fixed as f64) / users).clamp(0.0, 1.0);
    let mut per_class = Map::new();
    let mut total = Map::new();
    for class in &scenario.classes {
        let ratio = match class.fixed_count {
            Some(n) => (n as f64 / users).min(1.0),
            None if weight_sum > 0.0 => weighted_share * class.weight / weight_sum,
            None => 0.0,
        };
        let task_sum = class.total_task_weight().max(1) as f64;
        let mut own = Map::new();
        let mut of_total = Map::new();
        for task in &class.tasks {
            let share = f64::from(task.weight) / task_sum;
            own.insert(task.name.clone(), json!({ "ratio": share }));
            of_total.insert(task.name.clone(), json!({ "ratio": share * ratio }));
        }
        per_class.insert(class.name.clone(), json!({ "ratio": ratio, "tasks": own }));
        total.insert(
            class.name.clone(),
            json!({ "ratio": ratio, "tasks": of_total }),
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
