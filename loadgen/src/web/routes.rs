//! The routes: Locust's web API (`/swarm`, `/stop`, `/stats/...`, `/tasks`) and the
//! page's own (`/`, its script and style, `/ui/config`, `/verdict`, `/charts/...`).
//! A client's mistake is `success: false` with a sentence, never a 500.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;

use super::origin::OwnAddress;
use super::state::{SwarmOutcome, WebState};
use super::{api, auth, form, origin, page};
use crate::sinks::json::{JsonPlan, JsonReport};
use crate::stats::unix_seconds;
use crate::verdict::judge::Judgement;

/// The web UI's router; every route sits behind the basic-auth layer when credentials
/// are configured, and behind the Host and Origin checks always.
pub fn router(state: Arc<WebState>) -> Router {
    let credentials = state.config().auth.clone();
    let own = OwnAddress {
        ip: state.config().bind.ip(),
        any_host: credentials.is_some(),
    };
    Router::new()
        .route("/", get(page::index))
        .route("/static/page.css", get(page::css))
        .route("/static/page.js", get(page::script))
        .route("/static/charts.js", get(page::charts_script))
        .route("/ui/config", get(ui_config))
        .route("/swarm", post(swarm))
        .route("/stop", get(stop).post(stop))
        .route("/stats/reset", get(reset).post(reset))
        .route("/stats/requests", get(stats_requests))
        .route("/stats/requests/csv", get(stats_csv))
        .route("/stats/requests_full_history/csv", get(history_csv))
        .route("/stats/failures/csv", get(failures_csv))
        .route("/exceptions", get(exceptions))
        .route("/exceptions/csv", get(exceptions_csv))
        .route("/ui/logs", get(logs))
        .route("/ui/history", get(history))
        .route("/stats/report", get(report))
        .route("/stats/json", get(stats_json))
        .route("/tasks", get(tasks))
        .route("/verdict", get(verdict))
        .route("/charts/{name}", get(chart))
        .layer(middleware::from_fn_with_state(credentials, auth::require))
        .layer(middleware::from_fn_with_state(
            own,
            origin::require_own_origin,
        ))
        .with_state(state)
}

type Shared = State<Arc<WebState>>;

/// Dynamic answers must not be cached: the page polls them.
const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// The form's initial values, the classes to choose from, and the current state.
async fn ui_config(State(state): Shared) -> Response {
    let params = state.params();
    let defaults = state.defaults();
    let classes: Vec<_> = state
        .config()
        .scenario
        .classes
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let selected = if params.classes.is_empty() {
        classes.clone()
    } else {
        params.classes.clone()
    };
    (
        [NO_STORE],
        Json(json!({
            "host": params.host,
            "users": params.users,
            "spawn_rate": params.spawn_rate,
            "run_time": defaults.run_time.map(|d| format!("{}s", d.as_secs())),
            "classes": classes,
            "selected_classes": selected,
            "scenario": state.config().scenario.source,
            "state": state.state().name(),
            "error": state.last_error(),
        })),
    )
        .into_response()
}

/// Locust's `POST /swarm`: start a test, or change the running one's users and rate.
async fn swarm(State(state): Shared, body: String) -> Response {
    let answer = match form::parse_swarm(&body, &state.config().limits) {
        Err(message) => json!({ "success": false, "message": message }),
        Ok(request) => match state.swarm(request).await {
            Ok(SwarmOutcome::Started) => json!({
                "success": true,
                "message": "Swarming started",
                "host": state.params().host,
            }),
            Ok(SwarmOutcome::Changed) => {
                let p = state.params();
                json!({
                    "success": true,
                    "message": format!("Changed to {} users at {} per second", p.users, p.spawn_rate),
                    "host": p.host,
                })
            }
            Err(message) => json!({ "success": false, "message": message }),
        },
    };
    ([NO_STORE], Json(answer)).into_response()
}

async fn stop(State(state): Shared) -> Response {
    state.stop();
    (
        [NO_STORE],
        Json(json!({ "success": true, "message": "Test stopped" })),
    )
        .into_response()
}

async fn reset(State(state): Shared) -> Response {
    state.reset_stats();
    ([NO_STORE], "ok").into_response()
}

async fn stats_requests(State(state): Shared) -> Response {
    let snapshot = state.snapshot();
    let params = state.params();
    let clock = api::RunClock {
        elapsed: state.elapsed(),
        run_time: params.run_time,
    };
    let body = api::stats_requests(
        &snapshot,
        state.state(),
        &params.host,
        &state.stages(),
        clock,
    );
    ([NO_STORE], Json(body)).into_response()
}

/// A CSV download named as Locust names it (`requests_<unix time>.csv`).
fn csv_download(kind: &str, text: String) -> Response {
    let name = format!(
        "attachment; filename=\"{kind}_{}.csv\"",
        unix_seconds(std::time::SystemTime::now())
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        text,
    )
        .into_response()
}

async fn stats_csv(State(state): Shared) -> Response {
    csv_download("requests", crate::sinks::csv::stats_csv(&state.snapshot()))
}

async fn history_csv(State(state): Shared) -> Response {
    let full = state.config().base.output.csv_full_history;
    csv_download(
        "requests_full_history",
        crate::sinks::csv::history_csv(&state.snapshot(), full),
    )
}

async fn failures_csv(State(state): Shared) -> Response {
    csv_download(
        "failures",
        crate::sinks::csv::failures_csv(&state.snapshot()),
    )
}

/// Locust's `/exceptions`: the errors raised outside any request, with their counts.
async fn exceptions(State(state): Shared) -> Response {
    let rows = state.logs().exceptions();
    let total: u64 = rows.iter().map(|r| r.count).sum();
    (
        [NO_STORE],
        Json(json!({ "exceptions": rows, "total": total })),
    )
        .into_response()
}

async fn exceptions_csv(State(state): Shared) -> Response {
    csv_download(
        "exceptions",
        super::logs::exceptions_csv(&state.logs().exceptions()),
    )
}

/// The Logs tab: loadgen's own lines, oldest first, and how many were dropped.
async fn logs(State(state): Shared) -> Response {
    let (lines, dropped) = state.logs().lines();
    (
        [NO_STORE],
        Json(json!({ "lines": lines, "dropped": dropped })),
    )
        .into_response()
}

/// The Charts tab's figures: the Aggregated history, one entry per second.
async fn history(State(state): Shared) -> Response {
    let body = api::history(&state.snapshot(), &state.stages());
    ([NO_STORE], Json(body)).into_response()
}

/// The judgement of the figures so far (criteria, bands, analysis).
fn judge(state: &WebState) -> (Arc<crate::stats::Snapshot>, Judgement) {
    let snapshot = state.snapshot();
    let config = state.config();
    let judgement = Judgement::new(&snapshot, &config.criteria, &config.baselines, None);
    (snapshot, judgement)
}

/// The HTML report of the run so far; `?download=1` asks the browser to save it.
async fn report(State(state): Shared, query: axum::extract::RawQuery) -> Response {
    let (snapshot, judgement) = judge(&state);
    let settings = state.run_settings();
    let stages = state.stages();
    let page = crate::sinks::report::html(&crate::sinks::report::Inputs {
        snapshot: &snapshot,
        settings: &settings,
        verdict: &judgement.verdict,
        baselines: &judgement.bands,
        analysis: &judgement.analysis,
        stages: &stages,
        overhead_share: crate::sinks::overhead::DEFAULT_OVERHEAD_SHARE,
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if query
        .0
        .is_some_and(|q| q.split('&').any(|p| p == "download=1"))
    {
        headers.insert(
            header::CONTENT_DISPOSITION,
            header::HeaderValue::from_static("attachment; filename=\"report.html\""),
        );
    }
    (headers, page).into_response()
}

/// loadgen's JSON report (HdrHistograms included) of the run so far.
async fn stats_json(State(state): Shared) -> Response {
    let (snapshot, judgement) = judge(&state);
    let body = JsonReport::new(&snapshot, &state.run_settings())
        .with_judgement(&judgement)
        .with_plan(JsonPlan {
            stages: state.stages(),
            ..JsonPlan::default()
        });
    (
        [
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"stats.json\"",
            ),
            NO_STORE,
        ],
        Json(body),
    )
        .into_response()
}

async fn tasks(State(state): Shared) -> Response {
    let users = state.params().users;
    ([NO_STORE], Json(api::tasks(&state.scenario(), users))).into_response()
}

async fn verdict(State(state): Shared) -> Response {
    let (_, judgement) = judge(&state);
    (
        [NO_STORE],
        Json(api::verdict(&judgement.bands, &judgement.verdict)),
    )
        .into_response()
}

/// The report's charts of the figures so far, as SVG.
async fn chart(State(state): Shared, Path(name): Path<String>) -> Response {
    let snapshot = state.snapshot();
    let stages = state.stages();
    let drawn = match name.as_str() {
        "rps.svg" => crate::sinks::report::rps_chart(&snapshot, &stages),
        "response-times.svg" => crate::sinks::report::response_time_chart(&snapshot, &stages),
        "users.svg" => crate::sinks::report::users_chart(&snapshot, &stages),
        _ => return (StatusCode::NOT_FOUND, "no such chart\n").into_response(),
    };
    match drawn {
        Ok(svg) => ([(header::CONTENT_TYPE, "image/svg+xml"), NO_STORE], svg).into_response(),
        Err(e) => {
            tracing::warn!("cannot draw chart {name}: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the chart could not be drawn\n",
            )
                .into_response()
        }
    }
}
