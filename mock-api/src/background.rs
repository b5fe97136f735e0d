//! Background jobs (model training, rebalancing): a row per job, a task that waits for a
//! duration drawn from the live profile's `jobs` settings and ends the job completed or
//! failed. On shutdown the tasks stop and their jobs are marked interrupted. A job takes
//! only the store and the settings; what a kind of job is called, how it fails and what
//! it produces is the route's, handed over as a [`JobKind`].

use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::profile::JobSettings;
use crate::store::{Job, JobStatus, Store, StoreError};
use seeding::mix64;

/// A kind of background job, as the route that starts it defines it.
#[derive(Debug, Clone, Copy)]
pub struct JobKind {
    /// The stored kind (`ml_train`).
    pub name: &'static str,
    /// Why a job of this kind fails, when the profile's failure probability says so.
    pub failure: &'static str,
    /// What a completed job produced, from its parameters and a quality in [0, 1).
    pub result: fn(&serde_json::Value, f64) -> serde_json::Value,
}

/// Starts and tracks background jobs.
#[derive(Debug)]
pub struct JobRunner {
    tracker: TaskTracker,
    shutdown: CancellationToken,
    seed: u64,
    started: AtomicU64,
}

impl JobRunner {
    /// A runner whose jobs stop when `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken, seed: u64) -> Self {
        Self {
            tracker: TaskTracker::new(),
            shutdown,
            seed,
            started: AtomicU64::new(0),
        }
    }

    /// Records a running job in `store` and starts its task, its duration and failure
    /// drawn from `settings`.
    pub async fn start(
        &self,
        store: &Store,
        settings: &JobSettings,
        kind: JobKind,
        client_id: Option<i64>,
        params: serde_json::Value,
    ) -> Result<Job, StoreError> {
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        let mut rng = SmallRng::seed_from_u64(mix64(self.seed ^ mix64(n ^ 0x6a6f_6273)));
        let duration = settings.duration.sample(&mut rng);
        let fails = rng.random::<f64>() < settings.failure_probability;
        let job = store
            .create_job(kind.name, client_id, &params, duration)
            .await?;
        let store = store.clone();
        let shutdown = self.shutdown.clone();
        let id = job.job_id.clone();
        let quality = rng.random::<f64>();
        self.tracker.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(duration) => {}
                // Left `running`; the server marks it interrupted before closing the store.
                () = shutdown.cancelled() => return,
            }
            let outcome = if fails {
                store
                    .finish_job(&id, JobStatus::Failed, None, Some(kind.failure))
                    .await
            } else {
                store
                    .finish_job(
                        &id,
                        JobStatus::Completed,
                        Some(&(kind.result)(&params, quality)),
                        None,
                    )
                    .await
            };
            if let Err(e) = outcome {
                tracing::warn!(job = %id, error = %e, "could not finish a job");
            }
        });
        Ok(job)
    }

    /// Waits for every job task to end (call after cancelling the shutdown token).
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
