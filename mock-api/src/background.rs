//! Background jobs (model training, rebalancing): a row per job, a task that waits for a
//! duration drawn from the live profile's `jobs` settings and ends the job completed or
//! failed. On shutdown the tasks stop and their jobs are marked interrupted.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::seeding::mix64;
use crate::state::AppState;
use crate::store::{Job, JobStatus, StoreError};

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

    /// Records a running job and starts its task.
    pub async fn start(
        &self,
        state: &AppState,
        kind: &'static str,
        client_id: Option<i64>,
        params: serde_json::Value,
    ) -> Result<Job, StoreError> {
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        let mut rng = SmallRng::seed_from_u64(mix64(self.seed ^ mix64(n ^ 0x6a6f_6273)));
        let pair = state.profile.current();
        let settings = &pair.effective.jobs;
        let duration = settings.duration.sample(&mut rng);
        let fails = rng.random::<f64>() < settings.failure_probability;
        let job = state
            .store
            .create_job(kind, client_id, &params, duration)
            .await?;
        let store = state.store.clone();
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
                let reason = if kind == crate::routes::portfolio::REBALANCE_JOB_KIND {
                    "worker failed: order routing rejected the rebalance"
                } else {
                    "worker failed: training diverged"
                };
                store
                    .finish_job(&id, JobStatus::Failed, None, Some(reason))
                    .await
            } else {
                store
                    .finish_job(
                        &id,
                        JobStatus::Completed,
                        Some(&job_result(kind, &params, quality)),
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

fn job_result(kind: &str, params: &serde_json::Value, q: f64) -> serde_json::Value {
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    if kind == crate::routes::portfolio::REBALANCE_JOB_KIND {
        serde_json::json!({
            "trades_proposed": 3 + (q * 9.0) as u32,
            "turnover": r3(0.02 + q * 0.1),
            "tracking_error_before": r3(0.03 + q * 0.04),
            "tracking_error_after": r3(0.005 + q * 0.01),
            "params": params,
        })
    } else {
        serde_json::json!({
            "model_version": format!("{}-{}", crate::routes::ml::MODEL_VERSION, (q * 1e6) as u32),
            "validation_accuracy": r3(0.55 + q * 0.15),
            "validation_sharpe": r3(0.8 + q * 1.2),
            "params": params,
        })
    }
}
