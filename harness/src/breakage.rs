//! Deliberate breakages of loadgen's output, for the negative controls: a run's evidence
//! as a broken loadgen would have produced it. A defect sits in one of two places:
//!
//! - [`Layer::Recorded`]: where a response time goes into the statistics (the rows'
//!   histograms and totals, Aggregated included, are rebuilt from the altered times;
//!   the per-request log keeps what was measured);
//! - [`Layer::Measured`]: where the response time is taken (the log and the statistics
//!   both carry the altered times).
//!
//! The mock's own records are never touched, so the per-request checks meet each
//! breakage exactly as they would meet the defect in the code. Test-only: no command of
//! the harness applies one.

use std::sync::Arc;

use loadgen::stats::{
    new_histogram, RequestKey, RequestLogData, RequestStats, RowTotals, AGGREGATED_NAME,
};

use crate::run::Evidence;

/// A recording defect.
#[derive(Debug, Clone, PartialEq)]
pub enum Breakage {
    /// One row's every response time times `factor` (1.03: 3% high; 0.97: 3% low).
    Scale {
        /// The row.
        row: RequestKey,
        /// The factor.
        factor: f64,
    },
    /// Every response time of every row plus `micros`.
    Add {
        /// Microseconds added.
        micros: u64,
    },
    /// One request in `every` (by start, every row) plus `micros`: a client whose loop
    /// stalls now and then, which moves the tail and not the median.
    Stall {
        /// One request in this many.
        every: usize,
        /// Microseconds added to each.
        micros: u64,
    },
    /// The slowest `share` of one row's requests left out of its histogram while still
    /// counted (its count, sum, minimum and maximum unchanged).
    DropSlowest {
        /// The row.
        row: RequestKey,
        /// The share left out (0.005: 0.5%).
        share: f64,
    },
}

/// Where in loadgen a defect sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// In recording: the statistics carry the altered times, the log what was measured.
    Recorded,
    /// In measuring: the log and the statistics both carry the altered times.
    Measured,
}

/// The evidence as loadgen with `breakage` at `layer` would have produced the run.
pub fn apply(ev: &Evidence, breakage: &Breakage, layer: Layer) -> Evidence {
    let mut ev = ev.clone();
    let Some(mut log) = ev.outcome.request_log.take() else {
        return ev;
    };
    let hits = |i: usize, row: &RequestKey| log.key(&log.requests[i]) == row;
    let mut times: Vec<u64> = log.requests.iter().map(|r| r.response_us).collect();
    let mut dropped = vec![false; times.len()];
    match breakage {
        Breakage::Scale { row, factor } => {
            for (i, t) in times.iter_mut().enumerate() {
                if hits(i, row) {
                    *t = (*t as f64 * factor).round() as u64;
                }
            }
        }
        Breakage::Add { micros } => times.iter_mut().for_each(|t| *t += micros),
        Breakage::Stall { every, micros } => {
            times
                .iter_mut()
                .step_by((*every).max(1))
                .for_each(|t| *t += micros);
        }
        Breakage::DropSlowest { row, share } => {
            let mut of_row: Vec<usize> = (0..times.len()).filter(|&i| hits(i, row)).collect();
            of_row.sort_by_key(|&i| std::cmp::Reverse(times[i]));
            let n = (of_row.len() as f64 * share).ceil() as usize;
            for i in of_row.into_iter().take(n) {
                dropped[i] = true;
            }
        }
    }
    if layer == Layer::Measured {
        for (r, t) in log.requests.iter_mut().zip(&times) {
            r.response_us = *t;
        }
    }
    let snapshot = Arc::make_mut(&mut ev.outcome.snapshot);
    let mut aggregated = RequestStats::new("", AGGREGATED_NAME);
    for row in &mut snapshot.rows {
        *row = rebuilt(row, &log, &times, &dropped);
        aggregated.merge(row);
    }
    snapshot.aggregated = aggregated;
    ev.outcome.request_log = Some(log);
    ev
}

/// `row` with its histogram and totals rebuilt from `times` (one per logged request;
/// counts, failures and sizes kept; a `dropped` request counted but left out of the
/// histogram).
fn rebuilt(
    row: &RequestStats,
    log: &RequestLogData,
    times: &[u64],
    dropped: &[bool],
) -> RequestStats {
    use crate::calibrate::record;
    let mut histogram = new_histogram();
    let mut overhead = new_histogram();
    let mut sum = 0u64;
    let (mut min, mut max) = (u64::MAX, 0u64);
    for (i, r) in log.requests.iter().enumerate() {
        let key = log.key(r);
        if key.method != row.method || key.name != row.name {
            continue;
        }
        let t = times[i];
        sum += t;
        min = min.min(t);
        max = max.max(t);
        if let Some(s) = r.server_us {
            record(&mut overhead, t.saturating_sub(s));
        }
        if !dropped[i] {
            record(&mut histogram, t);
        }
    }
    let totals = RowTotals {
        num_requests: row.num_requests(),
        num_failures: row.num_failures(),
        total_response_time_us: sum,
        min_response_time_us: (min != u64::MAX).then_some(min),
        max_response_time_us: max,
        total_content_length: row.total_content_length(),
        first_request: row.first_request(),
        last_request: row.last_request(),
    };
    let mut out =
        RequestStats::from_totals(row.method.clone(), row.name.clone(), &totals, histogram);
    out.set_overhead(overhead);
    out
}
