//! The live profile: read on every request without a lock, replaced at run time (admin
//! API) without dropping a request. A request keeps the profile it started with.
//!
//! Both the profile as configured and the one in effect (configured times the server's
//! `--time-scale`) are kept, swapped together, so reading the profile back and putting
//! it again does not scale it twice.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::capacity::gate::{Pool, TokenBucket};
use crate::profile::Profile;

/// A configured profile and its time-scaled effective form.
#[derive(Debug)]
pub struct ProfilePair {
    /// As given (what GET /admin/profile returns).
    pub configured: Profile,
    /// What requests use: `configured.scaled(time_scale)`.
    pub effective: Profile,
    /// The workers and their queue, when the effective profile limits them.
    pub pool: Option<Arc<Pool>>,
    /// The rate limit's bucket, when the effective profile has one.
    pub bucket: Option<Arc<TokenBucket>>,
}

/// The swappable live profile.
#[derive(Debug)]
pub struct LiveProfile {
    current: ArcSwap<ProfilePair>,
    time_scale: f64,
}

impl LiveProfile {
    /// Starts with `profile`, scaling every duration by `time_scale`.
    pub fn new(profile: Profile, time_scale: f64) -> Self {
        Self {
            current: ArcSwap::from_pointee(Self::pair(profile, time_scale, None)),
            time_scale,
        }
    }

    /// The pair for `configured`; the pool and bucket of `previous` are kept when the
    /// new capacity has the same shape, so swapping only latencies neither frees busy
    /// workers nor refills the bucket.
    fn pair(configured: Profile, time_scale: f64, previous: Option<&ProfilePair>) -> ProfilePair {
        let effective = if time_scale == 1.0 {
            configured.clone()
        } else {
            configured.scaled(time_scale)
        };
        let capacity = effective.capacity.clone().unwrap_or_default();
        let pool = match previous.and_then(|p| p.pool.as_ref()) {
            Some(old) if old.same_shape(&capacity) => Some(old.clone()),
            _ => Pool::new(&capacity),
        };
        let bucket = match previous.and_then(|p| p.bucket.as_ref()) {
            Some(old) if old.same_shape(&capacity) => Some(old.clone()),
            _ => TokenBucket::new(&capacity),
        };
        ProfilePair {
            configured,
            effective,
            pool,
            bucket,
        }
    }

    /// The profile pair in effect now.
    pub fn load(&self) -> Arc<ProfilePair> {
        self.current.load_full()
    }

    /// The effective profile (a cheap `Arc` clone).
    pub fn current(&self) -> Arc<ProfilePair> {
        self.load()
    }

    /// The server's time scale.
    pub fn time_scale(&self) -> f64 {
        self.time_scale
    }

    /// Replaces the live profile atomically (the caller validated it). Requests already
    /// waiting for or holding a worker of a replaced pool finish in that pool.
    pub fn replace(&self, profile: Profile) {
        let previous = self.current.load();
        self.current.store(Arc::new(Self::pair(
            profile,
            self.time_scale,
            Some(&previous),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencyDistribution;

    #[test]
    fn a_swap_keeps_a_pool_of_the_same_shape_and_replaces_another() {
        let capacity = Profile::builtin("capacity").expect("capacity");
        let live = LiveProfile::new(capacity.clone(), 1.0);
        let first = live.load();
        let pool = first
            .pool
            .clone()
            .expect("the capacity profile has workers");
        assert!(first.bucket.is_none());

        // Only latencies change: the same workers (busy ones stay busy).
        let mut slower = capacity.clone();
        slower.defaults.latency = LatencyDistribution::Fixed {
            ms: 80.0,
            min_ms: None,
            max_ms: None,
        };
        live.replace(slower);
        let same = live.load().pool.clone().expect("still limited");
        assert!(Arc::ptr_eq(&pool, &same));

        // Other workers: a new pool; no capacity: none.
        let mut wider = capacity.clone();
        if let Some(c) = wider.capacity.as_mut() {
            c.workers = Some(16);
        }
        live.replace(wider);
        let other = live.load().pool.clone().expect("limited");
        assert!(!Arc::ptr_eq(&pool, &other));
        assert_eq!(other.workers(), 16);
        live.replace(Profile::builtin("fast").expect("fast"));
        assert!(live.load().pool.is_none());
    }

    #[test]
    fn the_time_scale_reaches_the_capacity() {
        let live = LiveProfile::new(Profile::builtin("rate-limited").expect("rate-limited"), 0.5);
        let pair = live.load();
        let rps = pair
            .effective
            .capacity
            .as_ref()
            .and_then(|c| c.rate_limit)
            .map(|r| r.rps);
        assert_eq!(rps, Some(100.0));
        assert!(pair.bucket.is_some());
        // What an admin reads back is as configured.
        assert_eq!(
            pair.configured
                .capacity
                .as_ref()
                .and_then(|c| c.rate_limit)
                .map(|r| r.rps),
            Some(50.0)
        );
    }
}
