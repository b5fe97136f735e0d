//! Where users record: a [`Shard`] per stripe of users, gathered in a [`StatsHub`].
//!
//! Each user locks only its own stripe, so no lock shared by all users is touched per
//! request; the aggregator swaps each stripe for an empty shard once a second.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::request_stats::{record_saturating, RequestStats};
use super::RequestKey;

/// One kind of error seen for one row, while it sits in a shard or the aggregator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorEntry {
    pub occurrences: u64,
    pub first_seen: SystemTime,
    pub last_seen: SystemTime,
}

impl ErrorEntry {
    fn new(at: SystemTime) -> Self {
        Self {
            occurrences: 0,
            first_seen: at,
            last_seen: at,
        }
    }

    /// Adds `other`'s occurrences and widens the seen interval.
    pub(crate) fn merge(&mut self, other: &ErrorEntry) {
        self.occurrences += other.occurrences;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// One request as a user recorded it, kept as it was until the next collection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded {
    pub(crate) response_time_us: u64,
    pub(crate) content_length: u64,
    pub(crate) failed: bool,
    pub(crate) at: SystemTime,
}

/// What one stripe's users recorded for one row since the last collection: the
/// requests themselves, not a histogram of them.
///
/// Why raw: a stripe's row is emptied every second, and a histogram sized for one
/// second's slowest response must be reallocated whenever a slower one comes (then
/// freed, on another thread, at the next collection), for every (stripe, row) pair. A
/// list grows to one second's busiest traffic and stays there, allocating nothing
/// after, and the aggregator records its values into the run's histograms once. (The
/// soak measured with it, and what still grows, is in the performance notes.)
#[derive(Debug, Default)]
pub(crate) struct ShardRow {
    pub(crate) requests: Vec<Recorded>,
    /// Client overheads (µs) of the requests whose response carried the server's time.
    pub(crate) overheads_us: Vec<u64>,
}

impl ShardRow {
    /// Adds every request of this row to `stats`, as if each were recorded there.
    pub(crate) fn replay_into(&self, stats: &mut RequestStats) {
        for r in &self.requests {
            stats.record_us(r.response_time_us, r.content_length, r.failed, r.at);
        }
        for &o in &self.overheads_us {
            stats.record_overhead_us(o);
        }
    }

    /// Records every response time of this row into `histogram`.
    pub(crate) fn record_times_into(&self, histogram: &mut Histogram<u64>) {
        for r in &self.requests {
            record_saturating(histogram, r.response_time_us);
        }
    }

    /// Requests recorded, failures included.
    #[cfg(test)]
    pub(crate) fn num_requests(&self) -> u64 {
        self.requests.len() as u64
    }

    /// Sum of the recorded responses' sizes, bytes.
    #[cfg(test)]
    pub(crate) fn total_content_length(&self) -> u64 {
        self.requests
            .iter()
            .fold(0u64, |sum, r| sum.saturating_add(r.content_length))
    }

    fn clear(&mut self) {
        self.requests.clear();
        self.overheads_us.clear();
    }
}

/// What one group of users recorded since the last collection.
#[derive(Debug, Default)]
pub struct Shard {
    /// Rows by key. Entries survive collection (emptied, not removed) so that recording
    /// an existing key never allocates once its list has grown to a second's traffic.
    pub(crate) entries: HashMap<RequestKey, ShardRow, KeyHash>,
    /// Errors per row, by error string.
    pub(crate) errors: HashMap<RequestKey, HashMap<String, ErrorEntry>, KeyHash>,
}

impl Shard {
    /// An empty shard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one request of `key` that took `response_time` and finished at `at`.
    /// `error` is `None` for a success; a failure is counted both as a request of its row
    /// and as an occurrence of its error string.
    pub fn record(
        &mut self,
        key: &RequestKey,
        response_time: Duration,
        content_length: u64,
        error: Option<&str>,
        at: SystemTime,
    ) {
        let recorded = Recorded {
            response_time_us: u64::try_from(response_time.as_micros()).unwrap_or(u64::MAX),
            content_length,
            failed: error.is_some(),
            at,
        };
        match self.entries.get_mut(key) {
            Some(entry) => entry.requests.push(recorded),
            None => {
                let mut entry = ShardRow::default();
                entry.requests.push(recorded);
                self.entries.insert(key.clone(), entry);
            }
        }
        if let Some(error) = error {
            if let Some(by_error) = self.errors.get_mut(key) {
                count_error(by_error, error, at);
            } else {
                let mut by_error = HashMap::new();
                count_error(&mut by_error, error, at);
                self.errors.insert(key.clone(), by_error);
            }
        }
    }

    /// Records the client overhead of the request of `key` just recorded.
    pub fn record_overhead(&mut self, key: &RequestKey, overhead: Duration) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry
                .overheads_us
                .push(u64::try_from(overhead.as_micros()).unwrap_or(u64::MAX));
        }
    }

    /// True when nothing was recorded since the shard was created or cleared.
    pub fn is_empty(&self) -> bool {
        self.entries.values().all(|e| e.requests.is_empty()) && self.errors.is_empty()
    }

    /// Empties the shard, keeping row allocations for the next round.
    pub(crate) fn clear(&mut self) {
        for entry in self.entries.values_mut() {
            entry.clear();
        }
        self.errors.clear();
    }

    /// Bytes the shard's row lists hold allocated (what it keeps between collections).
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.entries
            .values()
            .map(|e| {
                e.requests.capacity() * std::mem::size_of::<Recorded>()
                    + e.overheads_us.capacity() * std::mem::size_of::<u64>()
            })
            .sum()
    }
}

/// Counts one occurrence of `error` at `at`, allocating only for a new error string.
fn count_error(by_error: &mut HashMap<String, ErrorEntry>, error: &str, at: SystemTime) {
    let bump = |e: &mut ErrorEntry| {
        e.occurrences += 1;
        e.first_seen = e.first_seen.min(at);
        e.last_seen = e.last_seen.max(at);
    };
    if let Some(e) = by_error.get_mut(error) {
        bump(e);
    } else {
        let mut e = ErrorEntry::new(at);
        bump(&mut e);
        by_error.insert(error.to_owned(), e);
    }
}

/// The hasher of a shard's keys. Keys are the scenario's own few names, not input an
/// attacker picks, so the std hasher's flood resistance buys nothing here while its
/// SipHash rounds cost more than the rest of recording a request.
pub(crate) type KeyHash = BuildHasherDefault<KeyHasher>;

/// A word-at-a-time multiplicative hash (the scheme of rustc's FxHasher).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher {
    hash: u64,
}

impl KeyHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The stripes users record into: N shards, each behind its own mutex.
#[derive(Debug)]
pub struct StatsHub {
    shards: Vec<Mutex<Shard>>,
}

impl StatsHub {
    /// A hub with `shards` stripes (at least one); a few per worker thread keeps
    /// contention negligible.
    pub fn new(shards: usize) -> Self {
        Self {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::new()))
                .collect(),
        }
    }

    /// The stripe user number `user_index` records into (index modulo the stripe count).
    pub fn shard(&self, user_index: usize) -> &Mutex<Shard> {
        &self.shards[user_index % self.shards.len()]
    }

    /// Number of stripes.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// Always false: a hub has at least one stripe.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}
