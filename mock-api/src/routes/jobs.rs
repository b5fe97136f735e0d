//! `GET /api/jobs/{job_id}`: polling the background jobs that training and rebalancing
//! start, and the 202 answer those starts share.

use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Json, Path};
use crate::state::AppState;
use crate::store::{Job, JobStatus};

/// The 202 answer to a job start.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobAccepted {
    /// Job id (UUID).
    pub job_id: String,
    /// Job kind.
    pub kind: String,
    /// `running`.
    pub status: JobStatus,
    /// Where to poll.
    pub status_url: String,
    /// Planned duration in ms.
    pub estimated_duration_ms: i64,
}

impl JobAccepted {
    /// 202 with a Location header and this body.
    pub(crate) fn response(job: &Job) -> (StatusCode, [(HeaderName, String); 1], Json<Self>) {
        let status_url = format!("/api/jobs/{}", job.job_id);
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, status_url.clone())],
            Json(Self {
                job_id: job.job_id.clone(),
                kind: job.kind.clone(),
                status: job.status,
                status_url,
                estimated_duration_ms: job.duration_ms,
            }),
        )
    }
}

/// A job as polled.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobView {
    /// The stored job.
    #[serde(flatten)]
    pub job: Job,
    /// Fraction done (0..1): time-based while running, 1 once completed.
    pub progress: f64,
}

fn progress(job: &Job) -> f64 {
    match job.status {
        JobStatus::Completed => 1.0,
        JobStatus::Running => {
            let started = job
                .started_at
                .as_deref()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
            let elapsed_ms = started.map_or(0, |s| {
                (chrono::Utc::now() - s.with_timezone(&chrono::Utc)).num_milliseconds()
            });
            let fraction = elapsed_ms as f64 / job.duration_ms.max(1) as f64;
            (fraction.clamp(0.0, 0.99) * 100.0).round() / 100.0
        }
        JobStatus::Failed | JobStatus::Interrupted => 0.0,
    }
}

/// One job's state.
#[utoipa::path(get, path = "/api/jobs/{job_id}", tag = "jobs",
    params(("job_id" = String, Path, format = Uuid, description = "Job id (UUID)")),
    responses((status = 200, body = JobView), (status = 404, body = crate::error::ErrorBody),
              (status = 422, description = "job_id is not a UUID", body = crate::error::ErrorBody)))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Path(job_id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = uuid::Uuid::parse_str(&job_id)
        .map_err(|e| ApiError::invalid(format!("job_id: {job_id:?} is not a UUID ({e})")))?;
    let job = crate::timing::db(state.store.job(&id.to_string()))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("job {job_id} not found")))?;
    Ok(Json(JobView {
        progress: progress(&job),
        job,
    }))
}
