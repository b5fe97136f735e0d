//! Where users record: a [`Shard`] per stripe of users, gathered in a [`StatsHub`].
//!
//! Each user locks only its own stripe, so no lock shared by all users is touched per
//! request; the aggregator swaps each stripe for an empty shard once a second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::request_stats::RequestStats;
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
    pub fn merge(&mut self, other: &ErrorEntry) {
        self.occurrences += other.occurrences;
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// What one group of users recorded since the last collection.
#[derive(Debug, Default)]
pub struct Shard {
    /// Rows by key. Entries survive collection (emptied, not removed) so that recording
    /// an existing key never allocates.
    pub(crate) entries: HashMap<RequestKey, RequestStats>,
    /// Errors per row, by error string.
    pub(crate) errors: HashMap<RequestKey, HashMap<String, ErrorEntry>>,
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
        let us = u64::try_from(response_time.as_micros()).unwrap_or(u64::MAX);
        match self.entries.get_mut(key) {
            Some(entry) => entry.record_us(us, content_length, error.is_some(), at),
            None => {
                let mut entry = RequestStats::new(key.method.clone(), key.name.clone());
                entry.record_us(us, content_length, error.is_some(), at);
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

    /// True when nothing was recorded since the shard was created or cleared.
    pub fn is_empty(&self) -> bool {
        self.entries.values().all(|e| e.num_requests() == 0) && self.errors.is_empty()
    }

    /// Empties the shard, keeping row allocations for the next round.
    pub(crate) fn clear(&mut self) {
        for entry in self.entries.values_mut() {
            entry.clear();
        }
        self.errors.clear();
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
