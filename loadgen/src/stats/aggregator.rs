//! The one task that owns the run's totals: it drains the hub's shards, and publishes
//! immutable [`Snapshot`]s that every sink reads.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::history::{History, HistoryRow};
use super::request_stats::{add_histogram, new_histogram, RequestStats};
use super::shard::{ErrorEntry, Shard, StatsHub};
use super::snapshot::{sort_errors, ErrorStats, Snapshot};
use super::{unix_seconds, RequestKey, AGGREGATED_NAME, PERCENTILES_TO_REPORT};

/// Per-second counts older than this many seconds are forgotten (Locust's current rate
/// reads the last twelve).
const PER_SECOND_WINDOW: u64 = 20;

/// Collections whose response times make up the "current" percentiles: at one
/// collection a second, Locust's ten-second window.
const CURRENT_WINDOW: usize = 10;

/// Published snapshots kept for their buffers. The newest is still held by observers
/// (the last value of a watch channel); an older one is usually free again, and its
/// histograms are what the next second's rows are copied into. The third gives a
/// reader slow to let go of one a second more before its buffers are given up.
const PUBLISHED_KEPT: usize = 3;

/// The response times one collection brought in.
#[derive(Debug, Default)]
struct Delta {
    total: Option<Histogram<u64>>,
    /// Per row, only with full history (the only per-row use of current percentiles).
    rows: HashMap<RequestKey, Histogram<u64>>,
}

impl Delta {
    /// Empties every histogram, keeping its buffer for the next collection (each stays
    /// as large as the slowest second it held: eleven of them, bounded by the run's
    /// slowest response, against an allocation per histogram every second).
    fn clear(&mut self) {
        self.total.iter_mut().for_each(Histogram::reset);
        self.rows.values_mut().for_each(Histogram::reset);
    }
}

/// Owns the run's totals; one task calls [`Aggregator::collect`] once a second.
#[derive(Debug)]
pub struct Aggregator {
    start: SystemTime,
    rows: BTreeMap<RequestKey, RequestStats>,
    total: RequestStats,
    errors: HashMap<RequestKey, HashMap<String, ErrorEntry>>,
    /// One spare shard per stripe: swapped in under the lock, merged outside it, then
    /// emptied (keeping its allocations) for the next swap.
    spare: Vec<Shard>,
    history: History,
    full_history: bool,
    /// Response times of the last collections, oldest first, and of the one under way.
    recent: VecDeque<Delta>,
    pending: Delta,
    /// The last snapshots [`Self::tick`] returned, newest last: one no longer shared is
    /// overwritten in place rather than a new one allocated (see [`Self::tick`]).
    published: VecDeque<Arc<Snapshot>>,
    /// Histogram buffers of snapshots no one reads any more, for rows to copy their
    /// shared histograms into before they change (see [`RequestStats::unshare`]).
    spare_histograms: Vec<Histogram<u64>>,
    /// What a released snapshot row holds in place of its histograms.
    empty_histogram: Arc<Histogram<u64>>,
    /// Histogram buffers allocated to unshare rows because no spare was there.
    unshare_allocations: usize,
}

impl Aggregator {
    /// An aggregator for a run that started at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            start,
            rows: BTreeMap::new(),
            total: RequestStats::new("", AGGREGATED_NAME),
            errors: HashMap::new(),
            spare: Vec::new(),
            history: History::default(),
            full_history: false,
            recent: VecDeque::new(),
            pending: Delta::default(),
            published: VecDeque::new(),
            spare_histograms: Vec::new(),
            empty_histogram: Arc::new(new_histogram()),
            unshare_allocations: 0,
        }
    }

    /// With `true`, [`Self::push_history`] also keeps one history row per request row
    /// (`--csv-full-history`), whose percentiles are then Locust's "current" ones (the
    /// last ten seconds), as Locust writes them in that mode.
    pub fn set_full_history(&mut self, full_history: bool) {
        self.full_history = full_history;
    }

    /// Start of the run or of the last reset.
    pub fn start(&self) -> SystemTime {
        self.start
    }

    /// Drains every stripe of `hub` into the running totals. Each stripe is locked only
    /// long enough to swap it with an empty shard.
    pub fn collect(&mut self, hub: &StatsHub) {
        self.collect_with(hub, |_| {});
    }

    /// Like [`Self::collect`], and also merges every drained shard into `also` (a Locust
    /// worker's totals since its last report to the master).
    pub fn collect_also(&mut self, hub: &StatsHub, also: &mut Aggregator) {
        self.collect_with(hub, |shard| also.merge_shard(shard));
    }

    fn collect_with(&mut self, hub: &StatsHub, mut also: impl FnMut(&Shard)) {
        self.spare
            .resize_with(self.spare.len().max(hub.len()), Shard::new);
        for i in 0..hub.len() {
            {
                // A user that panicked while recording leaves plain counters behind;
                // they are still worth merging.
                let mut guard = hub.shard(i).lock().unwrap_or_else(|e| e.into_inner());
                std::mem::swap(&mut *guard, &mut self.spare[i]);
            }
            let mut shard = std::mem::take(&mut self.spare[i]);
            self.merge_shard(&shard);
            also(&shard);
            shard.clear();
            self.spare[i] = shard;
        }
        self.recent.push_back(std::mem::take(&mut self.pending));
        while self.recent.len() > CURRENT_WINDOW {
            if let Some(mut oldest) = self.recent.pop_front() {
                oldest.clear();
                self.pending = oldest;
            }
        }
        if let Some(last) = self.total.last_request() {
            let keep_from = unix_seconds(last).saturating_sub(PER_SECOND_WINDOW);
            self.total.forget_seconds_before(keep_from);
            for row in self.rows.values_mut() {
                row.forget_seconds_before(keep_from);
            }
        }
    }

    /// Merges one shard's contents (also usable without a hub, e.g. in tests).
    pub fn merge_shard(&mut self, shard: &Shard) {
        for (key, entry) in &shard.entries {
            if entry.requests.is_empty() {
                continue;
            }
            if !self.rows.contains_key(key) {
                self.rows.insert(
                    key.clone(),
                    RequestStats::new(key.method.clone(), key.name.clone()),
                );
            }
            if let Some(row) = self.rows.get_mut(key) {
                self.unshare_allocations += row.unshare(&mut self.spare_histograms);
                entry.replay_into(row);
            }
            self.unshare_allocations += self.total.unshare(&mut self.spare_histograms);
            entry.replay_into(&mut self.total);
            entry.record_times_into(self.pending.total.get_or_insert_with(new_histogram));
            if self.full_history {
                let slot = self
                    .pending
                    .rows
                    .entry(key.clone())
                    .or_insert_with(new_histogram);
                entry.record_times_into(slot);
            }
        }
        for (key, by_error) in &shard.errors {
            let mine = self.errors.entry(key.clone()).or_default();
            for (error, e) in by_error {
                match mine.get_mut(error) {
                    Some(m) => m.merge(e),
                    None => {
                        mine.insert(error.clone(), e.clone());
                    }
                }
            }
        }
    }

    /// The statistics as they stand, for `user_count` users, at `now`.
    pub fn snapshot(&self, now: SystemTime, user_count: u32) -> Snapshot {
        let mut snapshot = self.blank(now);
        self.fill(&mut snapshot, now, user_count);
        snapshot.history = self.history.clone();
        snapshot
    }

    /// A snapshot with nothing in it, for [`Self::fill`] to fill. Its Aggregated row is
    /// a copy of the run's (sharing its histograms: a new row would allocate two).
    fn blank(&self, now: SystemTime) -> Snapshot {
        Snapshot {
            start: now,
            taken_at: now,
            user_count: 0,
            rows: Vec::new(),
            aggregated: self.total.clone(),
            errors: Vec::new(),
            history: History::default(),
        }
    }

    /// Overwrites `snapshot` with the statistics as they stand, reusing its buffers.
    fn fill(&self, snapshot: &mut Snapshot, now: SystemTime, user_count: u32) {
        let last = self.total.last_request();
        snapshot.start = self.start;
        snapshot.taken_at = now;
        snapshot.user_count = user_count;
        snapshot.rows.truncate(self.rows.len());
        for (i, (key, row)) in self.rows.iter().enumerate() {
            if i == snapshot.rows.len() {
                // A copy shares the row's histograms; a new row would allocate two.
                snapshot.rows.push(row.clone());
            }
            let slot = &mut snapshot.rows[i];
            let spare = slot.take_window();
            slot.clone_from(row);
            slot.set_run_context(self.start, last);
            slot.set_window(
                self.full_history
                    .then(|| self.window(Some(key), spare))
                    .flatten(),
            );
        }
        let slot = &mut snapshot.aggregated;
        let spare = slot.take_window();
        slot.clone_from(&self.total);
        slot.set_run_context(self.start, last);
        slot.set_window(self.window(None, spare));
        snapshot.errors.clear();
        snapshot
            .errors
            .extend(self.errors.iter().flat_map(|(key, by_error)| {
                by_error.iter().map(move |(error, e)| ErrorStats {
                    method: key.method.clone(),
                    name: key.name.clone(),
                    error: error.clone(),
                    occurrences: e.occurrences,
                    first_seen: e.first_seen,
                    last_seen: e.last_seen,
                })
            }));
        sort_errors(&mut snapshot.errors);
    }

    /// The response times of the current window, of `key`'s row or of every row, in
    /// `spare`'s buffer. A row's is `None` when no collection in it has any; the
    /// Aggregated row's is always there.
    fn window(
        &self,
        key: Option<&RequestKey>,
        spare: Option<Histogram<u64>>,
    ) -> Option<Histogram<u64>> {
        let mut parts = self
            .recent
            .iter()
            .chain(std::iter::once(&self.pending))
            .filter_map(|d| match key {
                Some(key) => d.rows.get(key),
                None => d.total.as_ref(),
            })
            .filter(|h| !h.is_empty())
            .peekable();
        if key.is_some() {
            parts.peek()?;
        }
        let mut window = spare.unwrap_or_else(new_histogram);
        window.reset();
        parts.for_each(|h| add_histogram(&mut window, h));
        Some(window)
    }

    /// Appends the history rows for `snapshot`'s second: the aggregated row, preceded by
    /// every request row when full history is on (the order of `_stats_history.csv`).
    pub fn push_history(&mut self, snapshot: &Snapshot) {
        let now = snapshot.taken_at;
        let rows: &[RequestStats] = if self.full_history {
            &snapshot.rows
        } else {
            &[]
        };
        for r in rows.iter().chain(std::iter::once(&snapshot.aggregated)) {
            let row = history_row(r, now, snapshot.user_count, self.full_history);
            self.history.push(row);
        }
    }

    /// Once a second: collect the hub, take a snapshot, record its history rows and return
    /// the snapshot (which includes them).
    ///
    /// A snapshot returned earlier that nobody holds any more is overwritten in place,
    /// so a second's statistics allocate nothing once the run's rows exist. A new one
    /// each second, histograms and all, kept the allocator's arenas growing: a 28-minute
    /// soak rose 23% with this reuse against 33% without, side by side.
    ///
    /// The snapshot's rows share the run's histograms; before a row changes while a
    /// reader still holds them, it copies them into the buffers of a snapshot no one
    /// reads any more. So each histogram is held once (no reader holds the newest
    /// snapshot) or twice (one does, as a watch channel does), not once per snapshot
    /// plus the run's own.
    pub fn tick(&mut self, hub: &StatsHub, now: SystemTime, user_count: u32) -> Arc<Snapshot> {
        self.release_unread_snapshots();
        self.collect(hub);
        let free = self
            .published
            .iter()
            .position(|s| Arc::strong_count(s) == 1);
        let mut snapshot = free
            .and_then(|i| self.published.remove(i))
            .and_then(|s| Arc::try_unwrap(s).ok())
            .unwrap_or_else(|| self.blank(now));
        self.fill(&mut snapshot, now, user_count);
        self.push_history(&snapshot);
        snapshot.history.clone_from(&self.history);
        let snapshot = Arc::new(snapshot);
        self.published.push_back(Arc::clone(&snapshot));
        while self.published.len() > PUBLISHED_KEPT {
            self.published.pop_front();
        }
        snapshot
    }

    /// Takes the histograms of every published snapshot no one holds any more into the
    /// spare buffers. The newest one's are the run's own: letting go of them leaves the
    /// run's rows their only holder, and they change in place without a copy.
    fn release_unread_snapshots(&mut self) {
        for snapshot in &mut self.published {
            let Some(snapshot) = Arc::get_mut(snapshot) else {
                continue;
            };
            for row in snapshot
                .rows
                .iter_mut()
                .chain(std::iter::once(&mut snapshot.aggregated))
            {
                row.release_histograms(&self.empty_histogram, &mut self.spare_histograms);
            }
        }
        // Never more than the rows could use: two per row, the Aggregated row's included.
        self.spare_histograms.truncate(2 * (self.rows.len() + 1));
    }

    /// Histogram buffers allocated so far because a changing row shared its histograms
    /// with a snapshot and no released one was there to copy them into.
    #[cfg(test)]
    pub(crate) fn unshare_allocations(&self) -> usize {
        self.unshare_allocations
    }

    /// Zeroes every figure, as Locust's `--reset-stats` does once spawning completes:
    /// rows stay (with no requests), errors and the history go, and rates count from
    /// `now`. Call [`Self::collect`] first so that earlier requests are not counted later.
    pub fn reset(&mut self, now: SystemTime) {
        self.start = now;
        for row in self.rows.values_mut() {
            row.clear();
        }
        self.total.clear();
        self.errors.clear();
        self.history.clear();
        self.recent.clear();
        self.pending = Delta::default();
    }
}

/// The history line of one row at `now`; `current` takes Locust's current (last ten
/// seconds) percentiles instead of the whole run's, as Locust does with full history.
fn history_row(r: &RequestStats, now: SystemTime, user_count: u32, current: bool) -> HistoryRow {
    let percentiles_ms = if r.num_requests() == 0 {
        None
    } else if current {
        let mut a = [0.0; 11];
        for (slot, p) in a.iter_mut().zip(PERCENTILES_TO_REPORT) {
            *slot = r.current_percentile_ms(p).unwrap_or(0.0);
        }
        Some(a)
    } else {
        r.percentiles_ms(&PERCENTILES_TO_REPORT).map(|v| {
            let mut a = [0.0; 11];
            a.copy_from_slice(&v);
            a
        })
    };
    HistoryRow {
        timestamp: unix_seconds(now),
        user_count,
        method: r.method.clone(),
        name: r.name.clone(),
        current_rps: r.current_rps(now),
        current_fail_per_sec: r.current_fail_per_sec(now),
        percentiles_ms,
        current_p50_ms: r.current_percentile_ms(0.5),
        current_p95_ms: r.current_percentile_ms(0.95),
        num_requests: r.num_requests(),
        num_failures: r.num_failures(),
        median_ms: r.median_response_time_ms(),
        avg_ms: r.avg_response_time_ms(),
        min_ms: r.min_response_time_ms(),
        max_ms: r.max_response_time_ms(),
        avg_content_length: r.avg_content_length(),
    }
}
