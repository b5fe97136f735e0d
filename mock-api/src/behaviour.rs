//! The behaviour layer: per request, the route's Behaviour from the live profile decides
//! a latency and maybe a failure; the handler runs (unless the failure replaces it); the
//! answer waits until arrival + latency (handler and database time count toward it, and
//! a delay is a timer, never a held thread: at most the timer's last 50 us lead is spun
//! out on the worker, see [`crate::timer`]); then the response goes out, or the failure
//! is enacted on the wire.
//!
//! With a profile's `capacity` (see [`crate::capacity`]) the rate limit is checked at
//! arrival and a worker is taken first come first served before the handler runs; the
//! sampled latency is then the service time, counted from when the worker was taken
//! (response time = queue wait + service time), and the worker is freed when the service
//! ends. A stall then holds the response until the stall is over.
//!
//! A `hang` ignores the sampled latency: it holds the connection silently for its own
//! `ms` from arrival (or until shutdown), then closes it.
//!
//! A failure other than `dribble` skips the handler, so a failed trade is never written.
//! A dribble is a slow but valid answer, so its handler runs (and its trade is real).
//! A handler that writes waits for [`ResponseDue`] and commits then, so its write is the
//! last thing before the response, not the first thing before the delay.
//! Statistics and metrics are recorded when the response body is finished (or the fault
//! enacted), which is the server time the profile configures.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::capacity::gate::{stall_end, Permit, Rejection};
use crate::conn::{Arrival, ConnAction, ConnSlot};
use crate::cpu::{self, CpuBudget, CpuSpent};
use crate::error::ApiError;
use crate::fault::FailureKind;
use crate::live::ProfilePair;
use crate::state::AppState;
use crate::stats::{DelayError, Outcome};
use seeding::{fnv1a, mix64};

/// Most bytes of a dribbled body (the body is buffered before dribbling).
const DRIBBLE_BODY_LIMIT: usize = 16 << 20;
/// How often a dribbled body sends a chunk.
const DRIBBLE_TICK: Duration = Duration::from_millis(100);

/// The behaviour layer (install with `route_layer` so `MatchedPath` is known).
///
/// A tower layer rather than `axum::middleware::from_fn`: that adapter boxes the inner
/// service and, on each call, its future, besides the middleware's own future (600-700
/// more instructions per request: `AGAINST=` the commit before this layer in
/// `benches/timing-cost.sh`); this one boxes only its own future.
#[derive(Debug, Clone)]
pub(crate) struct BehaviourLayer(pub(crate) AppState);

impl<S> tower::Layer<S> for BehaviourLayer {
    type Service = Behaved<S>;

    fn layer(&self, inner: S) -> Behaved<S> {
        Behaved {
            inner,
            state: self.0.clone(),
        }
    }
}

/// A route's service behind the behaviour layer (see [`BehaviourLayer`]).
#[derive(Debug, Clone)]
pub(crate) struct Behaved<S> {
    inner: S,
    state: AppState,
}

impl<S> tower::Service<Request> for Behaved<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service polled ready goes with the request; a clone stays for the next.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move { Ok(behave(state, req, Next(ready)).await) })
    }
}

/// The route's service, ready, called at most once.
struct Next<S>(S);

impl<S> Next<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    async fn run(mut self, req: Request) -> Response {
        match self.0.call(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// What the layer does with one request.
async fn behave<S>(state: AppState, mut req: Request, next: Next<S>) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    let arrival = req
        .extensions()
        .get::<Arrival>()
        .map_or_else(Instant::now, |a| a.at);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| state.route_key(req.method().as_str(), m.as_str()));
    let Some(route) = route else {
        return next.run(req).await;
    };
    let recorder = Recorder::start(&state, route, arrival);

    let pair = state.profile.current();
    let behaviour = pair.effective.behaviour(route);
    let sequence = state
        .sequences
        .get(route)
        .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed));
    let mut rng = SmallRng::seed_from_u64(mix64(
        state.seed ^ fnv1a(&[route.as_bytes()]) ^ mix64(sequence),
    ));
    let decision = behaviour.decide(&mut rng, sequence);
    let cpu = Duration::try_from_secs_f64(behaviour.cpu_ms / 1000.0).unwrap_or(Duration::ZERO);
    let latency = degraded(
        decision.latency,
        state.latency_multiplier(&pair.effective, arrival),
    );
    crate::timing::chose(route, latency);

    // Capacity: the rate limit at arrival, then a worker (first come, first served).
    if let Some(bucket) = &pair.bucket {
        if let Err(retry) = bucket.take(Instant::now()) {
            return refuse(&state, recorder, Rejection::RateLimited, Some(retry));
        }
    }
    let permit = match &pair.pool {
        None => None,
        Some(pool) => match pool.acquire().await {
            Ok(permit) => Some(permit),
            Err(reason) => return refuse(&state, recorder, reason, None),
        },
    };
    // The sampled latency is the service time: it starts when a worker is taken.
    let service_start = if permit.is_some() {
        let now = Instant::now();
        let wait = now.saturating_duration_since(arrival);
        state.stats.queue_wait(route, wait);
        state.metrics.queue_wait(wait.as_secs_f64());
        now
    } else {
        arrival
    };
    let deadline = after(service_start, latency);
    let service = Service {
        state: &state,
        pair: &pair,
        route,
        start: service_start,
        deadline,
        permit,
    };

    let Some(failure) = decision.failure else {
        req.extensions_mut().insert(CpuBudget(cpu));
        req.extensions_mut().insert(ResponseDue(deadline));
        let response = next.run(req).await;
        // A handler that spent the budget itself says so; for the others it is burned here.
        if !cpu.is_zero() && response.extensions().get::<CpuSpent>().is_none() {
            cpu::burn(cpu).await;
        }
        let intended = service.end().await;
        return recorder.intended(intended).finish(response, None);
    };

    let label = failure.label();
    state.metrics.injected(recorder.path(), label);
    match failure {
        FailureKind::Status { code, .. } => {
            let intended = service.end().await;
            recorder
                .intended(intended)
                .finish(status_response(code, failure.retry_after()), Some(label))
        }
        FailureKind::Dribble { bytes_per_sec } => {
            req.extensions_mut().insert(CpuBudget(cpu));
            req.extensions_mut().insert(ResponseDue(deadline));
            let response = next.run(req).await;
            service.end().await;
            recorder.finish(dribble(response, bytes_per_sec).await, Some(label))
        }
        FailureKind::Hang { .. } => {
            // A hung request holds its worker for the whole hang, as a stuck one does.
            let until = failure.hang_duration().map(|d| after(service_start, d));
            tokio::select! {
                () = sleep_until_opt(&state, until) => {}
                () = state.shutdown.cancelled() => {}
            }
            drop(service);
            enact(slot(&req), recorder, label, ConnAction::Close).await
        }
        FailureKind::Reset => {
            service.end().await;
            enact(slot(&req), recorder, label, ConnAction::Reset).await
        }
        FailureKind::Close => {
            service.end().await;
            enact(slot(&req), recorder, label, ConnAction::Close).await
        }
        FailureKind::Garbage { bytes } => {
            service.end().await;
            enact(
                slot(&req),
                recorder,
                label,
                ConnAction::Garbage(garbage(&mut rng, bytes)),
            )
            .await
        }
    }
}

/// A request extension: when the profile's delay for this request ends. A handler that
/// writes waits for it and commits last, so a client that gives up during the delay (or
/// a shutdown that abandons it) leaves nothing written behind a failure it saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseDue(pub Instant);

/// Most back-to-back stalls one response waits through (a bound, not a policy).
const MAX_STALLS_IN_A_ROW: usize = 64;

/// A request in service: its worker (if capacity limits them) until its deadline.
struct Service<'a> {
    state: &'a AppState,
    pair: &'a ProfilePair,
    route: &'static str,
    start: Instant,
    deadline: Instant,
    permit: Option<Permit>,
}

impl Service<'_> {
    /// Waits out the service time, frees the worker, then holds the response while a
    /// stall is on (a stall holds responses, not workers). Returns when the response was
    /// meant to go out: the deadline, or `None` when a stall held it (its delay is then
    /// the stall's, not the profile's).
    async fn end(self) -> Option<Instant> {
        self.state.timer.sleep_until(self.deadline).await;
        if let Some(permit) = self.permit {
            self.state
                .stats
                .service_time(self.route, self.start.elapsed());
            drop(permit);
        }
        let schedule = self
            .pair
            .effective
            .capacity
            .as_ref()
            .map_or(&[][..], |c| &c.stall);
        let mut held = false;
        for _ in 0..MAX_STALLS_IN_A_ROW {
            let Some(end) = stall_end(
                &self.state.stall,
                schedule,
                &self.state.uptime,
                Instant::now(),
            ) else {
                break;
            };
            held = true;
            tokio::select! {
                () = self.state.timer.sleep_until(end) => {}
                () = self.state.shutdown.cancelled() => break,
            }
        }
        if held {
            self.state.stats.stalled(self.route);
            self.state.metrics.stalled();
            return None;
        }
        Some(self.deadline)
    }
}

/// `latency x multiplier` (the degradation), saturating instead of overflowing.
fn degraded(latency: Duration, multiplier: f64) -> Duration {
    if multiplier == 1.0 {
        return latency;
    }
    Duration::try_from_secs_f64(latency.as_secs_f64() * multiplier).unwrap_or(Duration::MAX)
}

/// The answer to a request refused before service: 503 for the queue, 429 with
/// Retry-After for the rate limit.
fn refuse(
    state: &AppState,
    recorder: Recorder,
    reason: Rejection,
    retry_after: Option<Duration>,
) -> Response {
    let label = reason.label();
    state.stats.reject(recorder.route, label);
    state.metrics.rejected(label);
    let (status, detail) = match reason {
        Rejection::QueueFull => (
            StatusCode::SERVICE_UNAVAILABLE,
            "every worker is busy and the queue is full (the mock's capacity)",
        ),
        Rejection::QueueTimeout => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no worker became free within the queue timeout (the mock's capacity)",
        ),
        Rejection::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit exceeded (the mock's capacity); retry after the Retry-After seconds",
        ),
    };
    let mut response = ApiError::new(status, label, detail).into_response();
    if let Some(after) = retry_after {
        set_retry_after(&mut response, after);
    }
    recorder.finish(response, None)
}

fn set_retry_after(response: &mut Response, after: Duration) {
    let secs = after.as_millis().div_ceil(1000).max(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// `start + d`; a duration past what `Instant` can hold (a wild heavy-tail draw) means
/// "a year from now" rather than an overflow panic.
fn after(start: Instant, d: Duration) -> Instant {
    let year = Duration::from_secs(365 * 24 * 3600);
    start.checked_add(d.min(year)).unwrap_or(start)
}

async fn sleep_until_opt(state: &AppState, until: Option<Instant>) {
    match until {
        Some(t) => state.timer.sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Random bytes that cannot be mistaken for an HTTP response (no leading `H`).
fn garbage(rng: &mut SmallRng, n: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..n.max(1)).map(|_| rng.random()).collect();
    if bytes[0] == b'H' {
        bytes[0] = 0;
    }
    bytes
}

fn slot(req: &Request) -> Option<Arc<ConnSlot>> {
    req.extensions().get::<Arc<ConnSlot>>().cloned()
}

/// Hands a connection fault to the connection task, which then drops this future.
async fn enact(
    slot: Option<Arc<ConnSlot>>,
    recorder: Recorder,
    label: &'static str,
    action: ConnAction,
) -> Response {
    let Some(slot) = slot else {
        // In-process use (no connection to act on): answer in a way no client can
        // mistake for success.
        let detail = format!("injected {label}: no connection to act on in-process");
        return recorder.finish(
            ApiError::new(StatusCode::BAD_GATEWAY, "injected_failure", detail).into_response(),
            Some(label),
        );
    };
    recorder.record(None, Some(label));
    slot.request(action);
    std::future::pending().await
}

/// The JSON error answer of a `status` failure.
fn status_response(code: u16, retry_after: Option<Duration>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("error");
    let mut response = ApiError::new(
        status,
        "injected_failure",
        format!("{code} {reason} (injected by the mock's profile)"),
    )
    .into_response();
    if let Some(after) = retry_after {
        set_retry_after(&mut response, after);
    }
    response
}

/// The same response with its body sent a chunk per tick at `bytes_per_sec`.
async fn dribble(response: Response, bytes_per_sec: f64) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, DRIBBLE_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let chunk = ((bytes_per_sec * DRIBBLE_TICK.as_secs_f64()).round() as usize).max(1);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let stream = futures_util::stream::unfold(
        (bytes, true),
        move |(rest, first): (Bytes, bool)| async move {
            if rest.is_empty() {
                return None;
            }
            if !first {
                tokio::time::sleep(DRIBBLE_TICK).await;
            }
            let mut rest = rest;
            let head = rest.split_to(chunk.min(rest.len()));
            Some((Ok::<_, std::convert::Infallible>(head), (rest, false)))
        },
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Counts one request in statistics and metrics exactly once, when its answer is done;
/// a request abandoned before that (the client went away) only leaves the in-flight
/// gauge.
#[derive(Debug)]
struct Recorder {
    state: AppState,
    /// The route key (`GET /health`): its method and template are what metrics label.
    route: &'static str,
    arrival: Instant,
    /// When the response was meant to be written (arrival + latency), if the profile's
    /// delay alone decided it: the delay error is measured against it.
    intended: Option<Instant>,
    open: bool,
}

impl Recorder {
    fn start(state: &AppState, route: &'static str, arrival: Instant) -> Self {
        state.metrics.in_flight().inc();
        Self {
            state: state.clone(),
            route,
            arrival,
            intended: None,
            open: true,
        }
    }

    /// Sets when the response was meant to go out (see [`Recorder::intended`]).
    fn intended(mut self, at: Option<Instant>) -> Self {
        self.intended = at;
        self
    }

    /// The route's template (`/health`), as metrics label it.
    fn path(&self) -> &'static str {
        self.route
            .split_once(' ')
            .map_or(self.route, |(_, path)| path)
    }

    /// Records now (for faults with no response body).
    fn record(mut self, status: Option<u16>, failure: Option<&'static str>) {
        self.open = false;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.arrival);
        if let Some(intended) = self.intended {
            let error = DelayError::between(intended, now);
            self.state.stats.delay_error(self.route, error);
            self.state.metrics.delay_error(error.seconds());
        }
        self.state
            .stats
            .record(self.route, Outcome { status, failure }, elapsed);
        self.state
            .metrics
            .observe(self.route, status, elapsed.as_secs_f64());
        self.state.metrics.in_flight().dec();
    }

    /// Wraps the response body so recording happens when the body is done.
    fn finish(self, response: Response, failure: Option<&'static str>) -> Response {
        let status = response.status().as_u16();
        let (parts, inner) = response.into_parts();
        let guard = RecordOnDrop {
            recorder: Some(self),
            status,
            failure,
        };
        Response::from_parts(
            parts,
            Body::new(GuardedBody {
                inner,
                _guard: guard,
            }),
        )
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.open {
            self.state.metrics.in_flight().dec();
        }
    }
}

#[derive(Debug)]
struct RecordOnDrop {
    recorder: Option<Recorder>,
    status: u16,
    failure: Option<&'static str>,
}

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        if let Some(r) = self.recorder.take() {
            r.record(Some(self.status), self.failure);
        }
    }
}

/// A body that records its request when hyper drops it (after the last frame).
#[derive(Debug)]
struct GuardedBody {
    inner: Body,
    _guard: RecordOnDrop,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
