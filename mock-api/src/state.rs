//! The state every handler and layer shares: the store, the live profile, statistics,
//! metrics, the job runner and the route table. Owned by the server, passed in; nothing
//! global, so many servers run side by side in one test process.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::admin::AdminAccess;
use crate::background::JobRunner;
use crate::capacity::gate::{stall_end, StallSwitch, Uptime};
use crate::live::LiveProfile;
use crate::metrics::Metrics;
use crate::profile::{Profile, ROUTES};
use crate::routes::clients::EncodedClients;
use crate::stats::{ServerStats, StatsSnapshot};
use crate::store::probe::DbProbe;
use crate::store::Store;
use crate::timer::PreciseTimer;
use crate::timing::{RequestIds, RequestLog};

/// Shared state; cloning is an `Arc` clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Inner {
    /// The database.
    pub store: Store,
    /// The live profile.
    pub profile: LiveProfile,
    /// Seed of every random choice (`--seed`).
    pub seed: u64,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Server-side statistics per route.
    pub stats: ServerStats,
    /// Who may use /admin.
    pub admin: AdminAccess,
    /// Background jobs.
    pub jobs: JobRunner,
    /// Cancelled when the server shuts down (ends hangs and jobs).
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown's grace runs out: a write not yet started is refused.
    pub grace_over: CancellationToken,
    /// When the server started.
    pub started: Instant,
    /// Per route template: the sequence counter `Behaviour::decide` receives.
    pub sequences: HashMap<&'static str, AtomicU64>,
    /// Uptime as degradation and the stall schedule see it (advanceable).
    pub uptime: Uptime,
    /// A stall started through the admin API.
    pub stall: StallSwitch,
    /// The precise timer every delay waits on (one thread per server).
    pub timer: PreciseTimer,
    /// The database's latest answer to the background probe `GET /health` reports.
    pub db_probe: DbProbe,
    /// The JSON of the client list `GET /api/clients` last sent.
    pub clients_json: EncodedClients,
    /// Where the ids of requests sent without one come from.
    pub request_ids: RequestIds,
    /// Each request's record, when enabled (for a harness pairing it with a client's).
    pub request_log: RequestLog,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What [`AppState::new`] needs beyond the store.
#[derive(Debug)]
pub struct StateOptions {
    /// The initial profile (as configured).
    pub profile: Profile,
    /// Multiplies every configured duration.
    pub time_scale: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Bearer token for /admin, if any.
    pub admin_token: Option<String>,
}

impl AppState {
    /// State around an opened store.
    pub fn new(store: Store, options: StateOptions) -> Self {
        let shutdown = CancellationToken::new();
        Self(Arc::new(Inner {
            store,
            profile: LiveProfile::new(options.profile, options.time_scale),
            seed: options.seed,
            metrics: Metrics::new(),
            stats: ServerStats::new(ROUTES),
            admin: AdminAccess::new(options.admin_token),
            jobs: JobRunner::new(shutdown.clone(), options.seed),
            shutdown,
            grace_over: CancellationToken::new(),
            started: Instant::now(),
            sequences: ROUTES.iter().map(|r| (*r, AtomicU64::new(0))).collect(),
            uptime: Uptime::new(),
            stall: StallSwitch::default(),
            timer: PreciseTimer::start(),
            db_probe: DbProbe::default(),
            clients_json: EncodedClients::default(),
            request_ids: RequestIds::default(),
            request_log: RequestLog::default(),
        }))
    }

    /// Statistics with the capacity's live figures (busy workers, queue, peaks).
    pub fn stats_snapshot(&self) -> StatsSnapshot {
        let mut snap = self.stats.snapshot();
        let pair = self.profile.current();
        let c = &mut snap.capacity;
        if let Some(pool) = &pair.pool {
            let (busy, queued) = pool.load();
            let counters = pool.counters();
            c.workers = pool.workers();
            c.busy_workers = busy;
            c.queue_length = queued as u64;
            c.max_busy_workers = counters.max_busy;
            c.max_queue_length = counters.max_queue_length as u64;
            c.served_from_queue = counters.served_from_queue;
            c.fifo_violations = counters.fifo_violations;
        }
        let now = Instant::now();
        c.uptime_ms = self.uptime.at(now).as_secs_f64() * 1000.0;
        c.latency_multiplier = self.latency_multiplier(&pair.effective, now);
        let schedule = pair
            .effective
            .capacity
            .as_ref()
            .map_or(&[][..], |c| &c.stall);
        c.stalling = stall_end(&self.stall, schedule, &self.uptime, now).is_some();
        snap
    }

    /// Forgets the statistics and restarts the pool's peaks from the present load.
    pub fn reset_stats(&self) {
        self.stats.reset();
        if let Some(pool) = &self.profile.current().pool {
            pool.reset_counters();
        }
    }

    /// The degradation's latency multiplier of `profile` at `now` (1 without one).
    pub fn latency_multiplier(&self, profile: &Profile, now: Instant) -> f64 {
        profile
            .capacity
            .as_ref()
            .and_then(|c| c.degradation)
            .map_or(1.0, |d| d.multiplier(self.uptime.at(now)))
    }

    /// The route template string of `method` + `path` as the profile names it.
    pub fn route_key(&self, method: &str, matched_path: &str) -> Option<&'static str> {
        // Compared in place: this runs on every request, and a joined key would be an
        // allocation each time.
        ROUTES.iter().copied().find(|r| {
            r.strip_prefix(method)
                .and_then(|rest| rest.strip_prefix(' '))
                .is_some_and(|rest| rest == matched_path)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[tokio::test]
    async fn route_keys_name_the_profile_routes_only() {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let state = AppState::new(
            store,
            StateOptions {
                profile: Profile::builtin("fast").unwrap(),
                time_scale: 1.0,
                seed: 0,
                admin_token: None,
            },
        );
        for route in ROUTES {
            let (method, path) = route.split_once(' ').unwrap();
            assert_eq!(state.route_key(method, path), Some(*route));
        }
        assert_eq!(state.route_key("POST", "/health"), None);
        assert_eq!(state.route_key("GET", "/api"), None);
        assert_eq!(state.route_key("GE", "T /health"), None);
        assert_eq!(state.route_key("GET", "/health/"), None);
    }
}
