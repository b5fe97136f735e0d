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
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
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
///
/// This and [`DeclaredLengthLimit`] are tower layers rather than
/// `axum::middleware::from_fn`, which boxes the inner service and its future per request:
/// about 5,000 instructions per request each (callgrind, `docs/PERFORMANCE.md`). Here the
/// inner future stays inline, and only an answer to rewrite is boxed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonErrorsLayer;

impl<S> tower::Layer<S> for JsonErrorsLayer {
    type Service = JsonErrors<S>;

    fn layer(&self, inner: S) -> JsonErrors<S> {
        JsonErrors(inner)
    }
}

/// A service whose error answers are JSON (see [`JsonErrorsLayer`]).
#[derive(Debug, Clone)]
pub(crate) struct JsonErrors<S>(S);

impl<S> tower::Service<axum::extract::Request> for JsonErrors<S>
where
    S: tower::Service<axum::extract::Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = JsonErrorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        JsonErrorsFuture::Inner {
            inner: self.0.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner answer, then, when it is a non-JSON error, its rewrite.
    #[project = JsonErrorsStep]
    pub(crate) enum JsonErrorsFuture<F> {
        /// Waiting for the inner service's answer.
        Inner { #[pin] inner: F },
        /// Reading the non-JSON error's body to rewrite it.
        Rewrite { rewrite: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl<F, E> Future for JsonErrorsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let rewrite = match self.as_mut().project() {
                JsonErrorsStep::Inner { inner } => match std::task::ready!(inner.poll(cx)) {
                    Ok(response) if needs_rewrite(&response) => Box::pin(rewrite(response)),
                    done => return Poll::Ready(done),
                },
                JsonErrorsStep::Rewrite { rewrite } => {
                    return rewrite.as_mut().poll(cx).map(Ok);
                }
            };
            self.set(JsonErrorsFuture::Rewrite { rewrite });
        }
    }
}

/// Whether `response` is an error answer that is not JSON.
fn needs_rewrite(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    !is_json && (status.is_client_error() || status.is_server_error())
}

/// The JSON error answer for a non-JSON one, with its status and headers.
async fn rewrite(response: Response) -> Response {
    let status = response.status();
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

/// Answers 413 at once when a request declares a body (`Content-Length`) over its limit,
/// without reading it: a client that sends a gigabyte learns so before sending it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeclaredLengthLimit(pub(crate) usize);

impl<S> tower::Layer<S> for DeclaredLengthLimit {
    type Service = DeclaredLengthLimited<S>;

    fn layer(&self, inner: S) -> DeclaredLengthLimited<S> {
        DeclaredLengthLimited {
            inner,
            limit: self.0,
        }
    }
}

/// A service that refuses a declared body over `limit` (see [`DeclaredLengthLimit`]).
#[derive(Debug, Clone)]
pub(crate) struct DeclaredLengthLimited<S> {
    inner: S,
    limit: usize,
}

impl<S> tower::Service<axum::extract::Request> for DeclaredLengthLimited<S>
where
    S: tower::Service<axum::extract::Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        let declared = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(n) if n > self.limit as u64 => {
                futures_util::future::Either::Left(std::future::ready(Ok(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!(
                        "the body declares {n} bytes: the limit is {} bytes",
                        self.limit
                    ),
                )
                .into_response())))
            }
            _ => futures_util::future::Either::Right(self.inner.call(request)),
        }
    }
}
