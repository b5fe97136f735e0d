//! The database probe behind `GET /health`: a background task pings the database on a
//! fixed interval and keeps the latest answer, so a health check reports the database
//! without a round trip per call (as liveness endpoints polled by load balancers do).
//! The answer carries its age, so a caller sees how fresh it is.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Store;

/// How often the background task pings the database.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// One ping's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// When the ping ended.
    pub at: Instant,
    /// The round trip, or the store's error as text.
    pub outcome: Result<Duration, String>,
}

/// The latest ping's outcome, shared by the probe task and the health handler.
#[derive(Debug, Default)]
pub struct DbProbe {
    latest: Mutex<Option<ProbeResult>>,
}

impl DbProbe {
    /// The latest outcome, if the database was probed yet.
    pub fn latest(&self) -> Option<ProbeResult> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Pings `store` once and keeps the outcome; returns it.
    pub async fn refresh(&self, store: &Store) -> ProbeResult {
        let outcome = store.ping().await.map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "database probe: database unavailable");
        }
        let result = ProbeResult {
            at: Instant::now(),
            outcome,
        };
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(result.clone());
        result
    }

    /// Pings every `interval` (the first one `interval` from now) until `stop` is
    /// cancelled.
    pub async fn run(&self, store: &Store, interval: Duration, stop: &CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.cancelled() => return,
            }
            self.refresh(store).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    #[tokio::test]
    async fn the_probe_reports_a_database_that_went_away() {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let probe = DbProbe::default();
        assert!(probe.latest().is_none(), "nothing probed yet");
        let first = probe.refresh(&store).await;
        assert!(first.outcome.is_ok(), "{first:?}");
        assert_eq!(probe.latest(), Some(first.clone()));
        store.close().await;
        let second = probe.refresh(&store).await;
        assert!(second.outcome.is_err(), "a closed pool answers: {second:?}");
        assert!(second.at >= first.at);
        assert_eq!(probe.latest(), Some(second));
    }
}
