//! The uncorrected figures of an arrival-rate run: response times from the actual send,
//! kept beside the corrected ones (which count from the intended start) so a reader can
//! see what coordinated omission would have hidden.
//!
//! Users record them into a second stats hub; this module's task drains it once a second
//! (so its shards never grow with the run's length) and follows the same stats resets as
//! the main aggregator (`--reset-stats`, a web UI's reset).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::stats::{Aggregator, Snapshot, StatsHub};

/// A second hub and the task that drains it.
#[derive(Debug)]
pub(crate) struct UncorrectedStats {
    hub: Arc<StatsHub>,
    halt: CancellationToken,
    task: JoinHandle<Aggregator>,
}

impl UncorrectedStats {
    /// Starts draining a new hub of `shards` stripes; resets follow `reset_when` (once)
    /// and every new value of `reset_requests`.
    pub(crate) fn spawn(
        shards: usize,
        start: SystemTime,
        reset_when: Option<CancellationToken>,
        reset_requests: Option<watch::Receiver<u64>>,
    ) -> Self {
        let hub = Arc::new(StatsHub::new(shards.max(1)));
        let halt = CancellationToken::new();
        let task = tokio::spawn(drain(
            Arc::clone(&hub),
            Aggregator::new(start),
            halt.clone(),
            reset_when,
            reset_requests,
        ));
        Self { hub, halt, task }
    }

    /// The hub users record into.
    pub(crate) fn hub(&self) -> Arc<StatsHub> {
        Arc::clone(&self.hub)
    }

    /// Stops the task and returns everything recorded, as of `snapshot` (the run's final
    /// corrected snapshot: same time and user count).
    pub(crate) async fn finish(self, snapshot: &Snapshot) -> Arc<Snapshot> {
        self.halt.cancel();
        let mut aggregator = match self.task.await {
            Ok(a) => a,
            // A panicked drain lost its totals; what is still in the hub is all there is.
            Err(_) => Aggregator::new(snapshot.start),
        };
        aggregator.collect(&self.hub);
        Arc::new(aggregator.snapshot(snapshot.taken_at, snapshot.user_count))
    }
}

async fn drain(
    hub: Arc<StatsHub>,
    mut aggregator: Aggregator,
    halt: CancellationToken,
    mut reset_when: Option<CancellationToken>,
    mut reset_requests: Option<watch::Receiver<u64>>,
) -> Aggregator {
    let period = Duration::from_secs(1);
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let reset_once = async {
            match &reset_when {
                Some(t) => t.cancelled().await,
                None => std::future::pending().await,
            }
        };
        let reset_request = async {
            match &mut reset_requests {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = halt.cancelled() => break,
            () = reset_once => {
                reset_when = None;
                aggregator.collect(&hub);
                aggregator.reset(SystemTime::now());
            }
            alive = reset_request => {
                if alive {
                    aggregator.collect(&hub);
                    aggregator.reset(SystemTime::now());
                } else {
                    reset_requests = None;
                }
            }
            _ = interval.tick() => aggregator.collect(&hub),
        }
    }
    aggregator
}
