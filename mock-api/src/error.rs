//! One error type for every answer that is not a success: a client's mistake becomes a
//! 4xx with a JSON body saying what was wrong; a server fault becomes a 500 whose body
//! never shows internals (the cause goes to the log).
//!
//! The body follows FastAPI's habit (`{"detail": ...}`) plus a machine-readable `error`
//! code, and axum's own JSON, query and path rejections are mapped into the same shape
//! through the extractors at the bottom of this file.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{StoreError, TradeError};

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What was wrong, for a person.
    pub detail: String,
    /// A stable code, for a program (`not_found`, `invalid_json`, ...).
    pub error: String,
}

/// An error answer: status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Human-readable detail (never internals for a 5xx).
    pub detail: String,
}

impl ApiError {
    /// An error with the given parts.
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 404 for a missing resource.
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 422 for a well-formed request whose values are unacceptable.
    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", detail)
    }

    /// 500 with a generic message; `cause` is logged, not sent.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            detail: self.detail,
            error: self.code.to_owned(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(&e)
    }
}

impl From<TradeError> for ApiError {
    fn from(e: TradeError) -> Self {
        match e {
            TradeError::UnknownClient(_) => Self::not_found(e.to_string()),
            TradeError::UnknownTicker(_) => Self::invalid(e.to_string()),
            TradeError::InsufficientHoldings { .. } => {
                Self::new(StatusCode::CONFLICT, "insufficient_holdings", e.to_string())
            }
            TradeError::KeyReused { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                e.to_string(),
            ),
            TradeError::Store(inner) => Self::internal(&inner),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let code = match &r {
            JsonRejection::JsonDataError(_) => "validation_error",
            JsonRejection::JsonSyntaxError(_) => "invalid_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            JsonRejection::BytesRejection(_) => "body_too_large_or_unreadable",
            _ => "invalid_body",
        };
        Self::new(r.status(), code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        // axum answers 400 for a bad query; FastAPI answers 422. Follow the platform.
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            r.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        let status = if r.status().is_server_error() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Self::new(status, "invalid_path", r.body_text())
    }
}

/// `axum::Json` whose rejection is an [`ApiError`].
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(pub T);

/// `axum::extract::Path` whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(pub T);

/// The 404 for a path no route matches, in the same JSON shape.
pub(crate) async fn not_found_fallback(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {}", uri.path()))
}

/// Rewrites an error answer that is not JSON (axum's own rejections: a body that is not
/// UTF-8, or over the limit) into the JSON error shape, keeping its status and headers.
pub(crate) async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Rejection bodies are one sentence; a longer one is cut, not waited for.
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::BAD_REQUEST => "bad_request",
        _ => "error",
    };
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut answer = ApiError::new(status, code, detail).into_response();
    for (name, value) in parts.headers.iter() {
        answer
            .headers_mut()
            .entry(name)
            .or_insert_with(|| value.clone());
    }
    answer
}

/// Answers 413 at once when a request declares a body (`Content-Length`) over `limit`,
/// without reading it: a client that sends a gigabyte learns so before sending it.
pub(crate) async fn declared_length_limit(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body declares {n} bytes: the limit is {limit} bytes"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}
