//! The per-second history behind `_stats_history.csv` and the charts.
//!
//! Rows are kept in sealed chunks behind `Arc`s, so that copying the history into each
//! second's snapshot costs a few pointer copies and the open chunk's rows, not the whole
//! run's rows. Every chunk is allocated once at its full size and sealed without a copy,
//! and a copy made with `clone_from` reuses its buffers: a chunk grown by doubling and
//! copied into an exact-size `Arc<[_]>`, and an open chunk copied anew each second (one
//! row longer than the one freed), left holes the allocator could not refill, and a soak's
//! memory crept up.

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
#[derive(Debug, Default)]
pub struct History {
    sealed: Vec<Arc<Vec<HistoryRow>>>,
    open: Vec<HistoryRow>,
    /// Sequence number of the first row held (rows dropped by a reset keep counting).
    first_seq: u64,
}

impl Clone for History {
    fn clone(&self) -> Self {
        Self {
            sealed: self.sealed.clone(),
            open: self.open.clone(),
            first_seq: self.first_seq,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.sealed.clone_from(&source.sealed);
        if self.open.capacity() < CHUNK {
            self.open.reserve_exact(CHUNK - self.open.len());
        }
        self.open.clone_from(&source.open);
        self.first_seq = source.first_seq;
    }
}

impl History {
    /// Appends a row.
    pub fn push(&mut self, row: HistoryRow) {
        if self.open.capacity() == 0 {
            self.open.reserve_exact(CHUNK);
        }
        self.open.push(row);
        if self.open.len() == CHUNK {
            let full = std::mem::replace(&mut self.open, Vec::with_capacity(CHUNK));
            self.sealed.push(Arc::new(full));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(timestamp: u64) -> HistoryRow {
        HistoryRow {
            timestamp,
            user_count: 1,
            method: String::new(),
            name: "Aggregated".to_owned(),
            current_rps: 1.0,
            current_fail_per_sec: 0.0,
            percentiles_ms: None,
            current_p50_ms: None,
            current_p95_ms: None,
            num_requests: timestamp,
            num_failures: 0,
            median_ms: 1.0,
            avg_ms: 1.0,
            min_ms: 1.0,
            max_ms: 1.0,
            avg_content_length: 0.0,
        }
    }

    /// The history grows by one row a second and a snapshot's copy follows it: the
    /// copy's open chunk keeps one buffer, and every chunk is allocated once, full size.
    #[test]
    fn a_copy_follows_the_history_in_the_same_buffers() {
        let mut history = History::default();
        let mut copy = History::default();
        let mut copy_buffer = None;
        for t in 0..(3 * CHUNK as u64 + 17) {
            history.push(row(t));
            assert_eq!(history.open.capacity(), CHUNK, "row {t}");
            copy.clone_from(&history);
            assert!(copy.iter().eq(history.iter()), "row {t}");
            assert_eq!(copy.end_seq(), history.end_seq());
            let buffer = copy.open.as_ptr();
            assert_eq!(*copy_buffer.get_or_insert(buffer), buffer, "row {t}");
        }
        assert_eq!(history.sealed.len(), 3);
        assert!(history.sealed.iter().all(|c| c.capacity() == CHUNK));
        // Sealed chunks are shared, not copied.
        assert!(Arc::ptr_eq(&history.sealed[0], &copy.sealed[0]));
    }
}
