//! The per-second history behind `_stats_history.csv` and the charts.
//!
//! Rows are kept in sealed chunks behind `Arc`s, so that copying the history into each
//! second's snapshot costs a few pointer copies, not the whole run's rows.

use std::sync::Arc;

/// Rows per sealed chunk.
const CHUNK: usize = 256;

/// One line of `_stats_history.csv`: one row's figures at one second.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryRow {
    /// Unix seconds when the line was taken.
    pub timestamp: u64,
    /// Users running at that time.
    pub user_count: u32,
    /// Method; empty for the Aggregated row.
    pub method: String,
    /// Stats name, or `Aggregated`.
    pub name: String,
    /// Locust's current requests per second.
    pub current_rps: f64,
    /// Locust's current failures per second.
    pub current_fail_per_sec: f64,
    /// The reported percentiles (ms): of the whole run so far, or of the last ten
    /// seconds with full history (as Locust); `None` (N/A) without requests.
    pub percentiles_ms: Option<[f64; 11]>,
    /// Median of the last ten seconds (ms), for charts; `None` when not kept or empty.
    pub current_p50_ms: Option<f64>,
    /// 95th percentile of the last ten seconds (ms), for charts.
    pub current_p95_ms: Option<f64>,
    /// Requests so far.
    pub num_requests: u64,
    /// Failures so far.
    pub num_failures: u64,
    /// Median so far (ms).
    pub median_ms: f64,
    /// Mean so far (ms).
    pub avg_ms: f64,
    /// Minimum so far (ms).
    pub min_ms: f64,
    /// Maximum so far (ms).
    pub max_ms: f64,
    /// Mean content length so far (bytes).
    pub avg_content_length: f64,
}

/// History rows, oldest first, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct History {
    sealed: Vec<Arc<[HistoryRow]>>,
    open: Vec<HistoryRow>,
    /// Sequence number of the first row held (rows dropped by a reset keep counting).
    first_seq: u64,
}

impl History {
    /// Appends a row.
    pub fn push(&mut self, row: HistoryRow) {
        self.open.push(row);
        if self.open.len() == CHUNK {
            self.sealed.push(Arc::from(std::mem::take(&mut self.open)));
        }
    }

    /// All rows held, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &HistoryRow> {
        self.sealed
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.open.iter())
    }

    /// Number of rows held.
    pub fn len(&self) -> usize {
        self.sealed.len() * CHUNK + self.open.len()
    }

    /// True when no row is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sequence number the next row will get. Sequence numbers keep growing across
    /// resets, so a writer appending to a file can ask for [`Self::since`] its last one.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.len() as u64
    }

    /// Rows with sequence number `seq` or later.
    pub fn since(&self, seq: u64) -> impl Iterator<Item = &HistoryRow> {
        let skip = usize::try_from(seq.saturating_sub(self.first_seq)).unwrap_or(usize::MAX);
        self.iter().skip(skip)
    }

    /// Drops every row (a stats reset); sequence numbers go on from where they were.
    pub fn clear(&mut self) {
        self.first_seq = self.end_seq();
        self.sealed.clear();
        self.open.clear();
    }
}
