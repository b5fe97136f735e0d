//! The admin API under `/admin`: read and replace the live profile, read and reset the
//! server-side statistics.
//!
//! Access rule: without `--admin-token`, only loopback peers; with a token, only requests
//! carrying `Authorization: Bearer <token>`, from anywhere.
//!
//! | method | path | answer |
//! |---|---|---|
//! | GET | /admin/profile | the configured profile, JSON (TOML with `?format=toml`); header `x-mock-time-scale` |
//! | PUT | /admin/profile | body TOML, or JSON with `Content-Type: application/json`; 200 `{"status":"replaced","profile":NAME}` |
//! | GET | /admin/stats | [`StatsSnapshot`] |
//! | POST | /admin/stats/reset | 204 |
//! | GET | /admin/requests | [`RequestRecords`]: each request's id and timings, kept when the server was started with `--request-log` |
//! | POST | /admin/stall | body `{"ms": N, "after_ms": M}` (real ms; `after_ms` optional, `ms` 0 ends a stall): every response due in that window is held until it ends; 200 [`Stalling`] |

use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::conn::PeerAddr;
use crate::error::{ApiError, Json, Query};
use crate::profile::Profile;
use crate::state::AppState;
use crate::stats::StatsSnapshot;

/// Largest profile a PUT accepts.
pub(crate) const PROFILE_BODY_LIMIT: usize = 1 << 20;

/// Who may use the admin API.
#[derive(Clone)]
pub struct AdminAccess {
    token: Option<String>,
}

impl std::fmt::Debug for AdminAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("AdminAccess")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Why an admin request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdminDenied {
    /// No token is configured and the peer is not on loopback.
    #[error("the admin API only answers loopback clients (start the server with --admin-token to allow others)")]
    NotLoopback,
    /// A token is configured and the request lacks it.
    #[error("missing bearer token: send `Authorization: Bearer <admin token>`")]
    MissingToken,
    /// A token is configured and the request carries another.
    #[error("wrong bearer token")]
    WrongToken,
}

impl AdminAccess {
    /// The rule for `token` (None: loopback only).
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// Decides one request from its peer and `Authorization` header.
    pub fn check(
        &self,
        peer: Option<SocketAddr>,
        authorization: Option<&str>,
    ) -> Result<(), AdminDenied> {
        match &self.token {
            None => match peer {
                Some(addr) if addr.ip().is_loopback() || is_mapped_loopback(&addr) => Ok(()),
                _ => Err(AdminDenied::NotLoopback),
            },
            Some(expected) => {
                let given = authorization
                    .and_then(|h| {
                        h.strip_prefix("Bearer ")
                            .or_else(|| h.strip_prefix("bearer "))
                    })
                    .map(str::trim)
                    .ok_or(AdminDenied::MissingToken)?;
                if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                    Ok(())
                } else {
                    Err(AdminDenied::WrongToken)
                }
            }
        }
    }
}

fn is_mapped_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        std::net::IpAddr::V4(_) => false,
    }
}

/// Compares without an early exit, so timing does not reveal a token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.0);
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.admin.check(peer, auth) {
        Ok(()) => next.run(req).await,
        Err(denied) => {
            let status = if denied == AdminDenied::NotLoopback {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            let mut response =
                ApiError::new(status, "admin_denied", denied.to_string()).into_response();
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

/// The `/admin` routes, guarded by the access rule.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/profile", get(get_profile).put(put_profile))
        .route("/stats", get(get_stats))
        .route("/stats/reset", post(reset_stats))
        .route("/requests", get(get_requests))
        .route("/stall", post(post_stall))
        .route_layer(crate::error::DeclaredLengthLimit(PROFILE_BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(state, guard))
        .layer(DefaultBodyLimit::max(PROFILE_BODY_LIMIT))
}

/// Query of `GET /admin/profile`.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ProfileQuery {
    /// `json` (default) or `toml`.
    #[param(pattern = "^(json|toml)$")]
    pub format: Option<String>,
}

/// The configured live profile.
#[utoipa::path(get, path = "/admin/profile", tag = "admin", params(ProfileQuery),
    responses((status = 200, description = "The profile as configured (before --time-scale): JSON, or TOML with ?format=toml",
        content((Object = "application/json"), (String = "application/toml")))))]
pub(crate) async fn get_profile(
    State(state): State<AppState>,
    Query(q): Query<ProfileQuery>,
) -> Result<Response, ApiError> {
    let pair = state.profile.current();
    let scale = HeaderValue::from_str(&state.profile.time_scale().to_string())
        .unwrap_or(HeaderValue::from_static("1"));
    let mut response = match q.format.as_deref() {
        None | Some("json") => axum::Json(&pair.configured).into_response(),
        Some("toml") => (
            [(header::CONTENT_TYPE, "application/toml")],
            pair.configured.to_toml(),
        )
            .into_response(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "format: {other:?} is not supported (expected json or toml)"
            )))
        }
    };
    response.headers_mut().insert("x-mock-time-scale", scale);
    Ok(response)
}

/// The answer to a profile replacement.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Replaced {
    /// `replaced`.
    pub status: String,
    /// Name of the new live profile.
    pub profile: String,
}

/// Parses a profile from a PUT body: JSON when the content type says so, else TOML.
pub(crate) fn parse_profile(headers: &HeaderMap, body: &str) -> Result<Profile, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let profile = if is_json {
        // serde_json's message already names the line and column.
        let p: Profile = serde_json::from_str(body)
            .map_err(|e| ApiError::invalid(format!("profile JSON: {e}")))?;
        p.validate().map_err(|e| ApiError::invalid(e.to_string()))?;
        p
    } else {
        Profile::from_toml(body, "request body").map_err(|e| ApiError::invalid(e.to_string()))?
    };
    Ok(profile)
}

/// Replaces the live profile (TOML, or JSON with `Content-Type: application/json`).
#[utoipa::path(put, path = "/admin/profile", tag = "admin", request_body(content = String, description = "A profile in TOML or JSON"),
    responses((status = 200, body = Replaced), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn put_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Replaced>, ApiError> {
    let profile = parse_profile(&headers, &body)?;
    let name = profile.name.clone();
    state.profile.replace(profile);
    tracing::info!(profile = %name, "live profile replaced");
    Ok(Json(Replaced {
        status: "replaced".to_owned(),
        profile: name,
    }))
}

/// Server-side statistics per route.
#[utoipa::path(get, path = "/admin/stats", tag = "admin", responses((status = 200, body = StatsSnapshot)))]
pub(crate) async fn get_stats(State(state): State<AppState>) -> Json<StatsSnapshot> {
    Json(state.stats_snapshot())
}

/// The per-request log: what `GET /admin/requests` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RequestRecords {
    /// Whether the server keeps a record of each request (`--request-log`).
    pub enabled: bool,
    /// Requests not kept because the log was full.
    pub dropped: u64,
    /// One record per response, in the order they went out.
    #[schema(value_type = Vec<Object>)]
    pub requests: Vec<crate::timing::ServedRequest>,
}

/// Each request's id and timings (the same figures its Server-Timing header carried),
/// for pairing with a load generator's own record of the same requests.
#[utoipa::path(get, path = "/admin/requests", tag = "admin", responses((status = 200, body = RequestRecords)))]
pub(crate) async fn get_requests(State(state): State<AppState>) -> Json<RequestRecords> {
    Json(RequestRecords {
        enabled: state.request_log.is_enabled(),
        dropped: state.request_log.dropped(),
        requests: state.request_log.records(),
    })
}

/// Forgets the statistics (Prometheus counters are monotonic and are not reset).
#[utoipa::path(post, path = "/admin/stats/reset", tag = "admin", responses((status = 204, description = "Reset")))]
pub(crate) async fn reset_stats(State(state): State<AppState>) -> StatusCode {
    state.reset_stats();
    StatusCode::NO_CONTENT
}

/// Body of `POST /admin/stall`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StallRequest {
    /// How long responses are held, real ms (not time-scaled); 0 ends a stall.
    #[schema(minimum = 0, maximum = 3_600_000)]
    pub ms: f64,
    /// Start this many real ms from now (default 0: at once).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 3_600_000)]
    pub after_ms: f64,
}

/// The answer to a stall request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Stalling {
    /// `stalling`, `scheduled` or `ended`.
    pub status: String,
    /// Length, ms.
    pub ms: f64,
    /// Delay before it starts, ms.
    pub after_ms: f64,
}

/// Longest stall the admin API starts (an hour).
const MAX_STALL_MS: f64 = 3_600_000.0;

/// Holds every response due during the next `ms` (a GC pause, a failover).
#[utoipa::path(post, path = "/admin/stall", tag = "admin", request_body = StallRequest,
    responses((status = 200, body = Stalling), (status = 422, body = crate::error::ErrorBody)))]
pub(crate) async fn post_stall(
    State(state): State<AppState>,
    Json(req): Json<StallRequest>,
) -> Result<Json<Stalling>, ApiError> {
    for (field, v) in [("ms", req.ms), ("after_ms", req.after_ms)] {
        if !(v.is_finite() && (0.0..=MAX_STALL_MS).contains(&v)) {
            return Err(ApiError::invalid(format!(
                "{field}: {v} is invalid: expected a number of ms from 0 to {MAX_STALL_MS}"
            )));
        }
    }
    let ms = crate::capacity::ms;
    let from = std::time::Instant::now() + ms(req.after_ms);
    state.stall.start(from, ms(req.ms));
    let status = if req.ms == 0.0 {
        "ended"
    } else if req.after_ms > 0.0 {
        "scheduled"
    } else {
        "stalling"
    };
    tracing::info!(
        ms = req.ms,
        after_ms = req.after_ms,
        status,
        "stall requested"
    );
    Ok(Json(Stalling {
        status: status.to_owned(),
        ms: req.ms,
        after_ms: req.after_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_a_token_only_loopback_peers_pass() {
        let access = AdminAccess::new(None);
        assert_eq!(access.check(addr("127.0.0.1:5000"), None), Ok(()));
        assert_eq!(access.check(addr("[::1]:5000"), None), Ok(()));
        assert_eq!(access.check(addr("[::ffff:127.0.0.1]:5000"), None), Ok(()));
        assert_eq!(
            access.check(addr("10.1.2.3:5000"), None),
            Err(AdminDenied::NotLoopback)
        );
        assert_eq!(
            access.check(addr("10.1.2.3:5000"), Some("Bearer anything")),
            Err(AdminDenied::NotLoopback)
        );
        assert_eq!(access.check(None, None), Err(AdminDenied::NotLoopback));
    }

    #[test]
    fn with_a_token_only_the_token_passes_from_anywhere() {
        let access = AdminAccess::new(Some("s3cret".to_owned()));
        assert_eq!(
            access.check(addr("10.1.2.3:5000"), Some("Bearer s3cret")),
            Ok(())
        );
        assert_eq!(
            access.check(addr("127.0.0.1:5000"), None),
            Err(AdminDenied::MissingToken)
        );
        assert_eq!(
            access.check(addr("127.0.0.1:5000"), Some("Basic s3cret")),
            Err(AdminDenied::MissingToken)
        );
        assert_eq!(
            access.check(addr("10.1.2.3:5000"), Some("Bearer s3cre")),
            Err(AdminDenied::WrongToken)
        );
        assert_eq!(
            access.check(addr("10.1.2.3:5000"), Some("Bearer s3cret!")),
            Err(AdminDenied::WrongToken)
        );
        assert!(!format!("{access:?}").contains("s3cret"));
    }

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        h
    }

    #[test]
    fn profiles_are_put_as_toml_or_json_and_validated() {
        let guide = Profile::builtin("guide").unwrap();
        let json = serde_json::to_string(&guide).unwrap();
        assert_eq!(
            parse_profile(&headers("application/json"), &json).unwrap(),
            guide
        );
        assert_eq!(
            parse_profile(&headers("application/toml"), &guide.to_toml()).unwrap(),
            guide
        );

        let err = parse_profile(&headers("application/json"), "{\"name\": 3}").unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(err.detail.contains("line 1 column"), "{}", err.detail);
        let bad = guide
            .to_toml()
            .replacen("probability = 0.1", "probability = 1.5", 1);
        let err = parse_profile(&headers("text/plain"), &bad).unwrap_err();
        assert!(err.detail.contains("request body"), "{}", err.detail);
        assert!(err.detail.contains("probability"), "{}", err.detail);
    }
}
