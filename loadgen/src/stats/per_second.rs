//! Request and failure counts per Unix second, for Locust's "current" rates.

/// One second's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SecondCounts {
    pub second: u64,
    pub requests: u64,
    pub failures: u64,
}

/// Counts per second, sorted by second. Recording appends to the end in the common
/// case (time moves forward), so no allocation happens once the capacity is there.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PerSecond {
    counts: Vec<SecondCounts>,
}

/// `clone_from` keeps the destination's allocation (see `RequestStats`'s `Clone`).
impl Clone for PerSecond {
    fn clone(&self) -> Self {
        Self {
            counts: self.counts.clone(),
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.counts.clone_from(&source.counts);
    }
}

impl PerSecond {
    /// Counts `requests` and `failures` in `second`.
    pub(super) fn add(&mut self, second: u64, requests: u64, failures: u64) {
        let slot = match self.counts.last() {
            Some(last) if last.second == second => self.counts.len() - 1,
            Some(last) if last.second > second => {
                // A request that finished slightly earlier than the previous one recorded.
                match self.counts.binary_search_by_key(&second, |c| c.second) {
                    Ok(i) => i,
                    Err(i) => {
                        self.counts.insert(
                            i,
                            SecondCounts {
                                second,
                                ..Default::default()
                            },
                        );
                        i
                    }
                }
            }
            _ => {
                self.counts.push(SecondCounts {
                    second,
                    ..Default::default()
                });
                self.counts.len() - 1
            }
        };
        let c = &mut self.counts[slot];
        c.requests = c.requests.saturating_add(requests);
        c.failures = c.failures.saturating_add(failures);
    }

    /// Adds every second of `other`.
    pub(super) fn merge(&mut self, other: &PerSecond) {
        for c in &other.counts {
            self.add(c.second, c.requests, c.failures);
        }
    }

    /// Forgets seconds before `second`, bounding memory on long runs.
    pub(super) fn forget_before(&mut self, second: u64) {
        let keep_from = self.counts.partition_point(|c| c.second < second);
        self.counts.drain(..keep_from);
    }

    /// Empties the series, keeping its allocation.
    pub(super) fn clear(&mut self) {
        self.counts.clear();
    }

    /// Every second's counts, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &SecondCounts> {
        self.counts.iter()
    }

    /// Sums of requests and failures over `from..to` (seconds, `to` excluded).
    pub(super) fn sum_range(&self, from: u64, to: u64) -> (u64, u64) {
        let start = self.counts.partition_point(|c| c.second < from);
        self.counts[start..]
            .iter()
            .take_while(|c| c.second < to)
            .fold((0, 0), |(r, f), c| (r + c.requests, f + c.failures))
    }
}
