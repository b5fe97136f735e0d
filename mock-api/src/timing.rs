//! What the mock tells each client about its own time, and what it keeps of each
//! request: a W3C `Server-Timing` header on every response (`app`: request arrival to
//! the response; `delay`: the profile's latency it chose; `db`: time in the database,
//! all in milliseconds to the microsecond), an `X-Request-Id` (the client's, echoed; one
//! of ours when the client sent none and the per-request log is on, so that every record
//! can be found from its response), and, when asked, that per-request record, which a
//! harness pairs with the client's own record of the same request by that id.
//!
//! Without the log a made-up id would name nothing, and it was about half of what the
//! two headers cost a client that sends none (wrk, Locust): 1,400-1,950 instructions
//! per request of about 3,350 (`benches/timing-cost.sh` before and after).
//!
//! A client subtracts `app` from its own response time to learn its overhead: what its
//! machine, its network stack and its scheduling added to the target's time.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use serde::Serialize;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::conn::Arrival;
use crate::state::AppState;

/// The request and response header naming a request.
pub const REQUEST_ID: &str = "x-request-id";

/// The W3C header that carries the server's own timings.
pub const SERVER_TIMING: &str = "server-timing";

/// The two names as header names, made at compile time (`from_static` at run time
/// checks every byte, per request).
const REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID);
const SERVER_TIMING_NAME: HeaderName = HeaderName::from_static(SERVER_TIMING);

/// Longest client-sent request id echoed (longer ones are replaced by ours, so a client
/// cannot make the mock keep or send back large headers).
const MAX_ECHOED_ID: usize = 128;

/// What the request this task serves has learnt about its own time so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Timings {
    /// The route key (`POST /api/trading/execute`), set by the behaviour layer.
    route: Option<&'static str>,
    /// The profile's latency chosen (after degradation and the time scale).
    delay: Duration,
    /// Time spent in database calls.
    db: Duration,
}

tokio::task_local! {
    /// The timings of the request this task is serving (a task-local, not a request
    /// extension: nothing is allocated per request to carry them).
    static TIMINGS: Cell<Timings>;
}

/// Runs a database call, adding its time to the current request's `db` timing (a
/// call outside a request, such as a background job's, is run untimed).
pub(crate) async fn db<F: Future>(call: F) -> F::Output {
    let start = Instant::now();
    let out = call.await;
    let spent = start.elapsed();
    let _ = TIMINGS.try_with(|t| {
        let mut now = t.get();
        now.db += spent;
        t.set(now);
    });
    out
}

/// Notes the route and the delay the behaviour layer chose for the current request.
pub(crate) fn chose(route: &'static str, delay: Duration) {
    let _ = TIMINGS.try_with(|t| {
        let mut now = t.get();
        now.route = Some(route);
        now.delay = delay;
        t.set(now);
    });
}

/// Request ids of this process: a prefix that differs between processes and a counter.
#[derive(Debug)]
pub struct RequestIds {
    /// `mock-<prefix>-`, formatted once.
    head: String,
    next: AtomicU64,
}

impl RequestIds {
    /// Ids prefixed by `prefix` (hex), counting from 1.
    pub fn new(prefix: u32) -> Self {
        Self {
            head: format!("mock-{prefix:08x}-"),
            next: AtomicU64::new(1),
        }
    }

    /// A fresh id, `mock-<prefix>-<n>`.
    fn fresh(&self) -> HeaderValue {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut v = StackValue::default();
        v.push(self.head.as_bytes());
        v.push(itoa::Buffer::new().format(n).as_bytes());
        v.header()
    }
}

impl Default for RequestIds {
    /// Prefixed by the process id mixed with the clock, so two mocks' ids differ.
    fn default() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self::new(std::process::id().rotate_left(16) ^ nanos)
    }
}

/// One request as the mock served it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServedRequest {
    /// Its `X-Request-Id`.
    pub id: String,
    /// The route key, or `None` outside the profile's routes (admin, 404).
    pub route: Option<&'static str>,
    /// The status sent.
    pub status: u16,
    /// Whether it was the first request on its connection: the client's time for it
    /// includes opening the connection, which `app_us` cannot.
    pub new_connection: bool,
    /// Arrival to the response, microseconds (the `app` timing sent).
    pub app_us: u64,
    /// The profile's delay chosen, microseconds.
    pub delay_us: u64,
    /// Database time, microseconds.
    pub db_us: u64,
}

/// Most requests one log keeps (a few hundred bytes each): enough for a long harness
/// run; later requests are counted as dropped, never kept unbounded.
const MAX_LOGGED: usize = 2_000_000;

/// The per-request log, off unless enabled (then one short lock per response).
#[derive(Debug, Default)]
pub struct RequestLog {
    enabled: AtomicBool,
    records: Mutex<Vec<ServedRequest>>,
    dropped: AtomicU64,
}

impl RequestLog {
    /// Starts keeping a record of each request.
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Whether records are being kept.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The records kept so far, in the order responses went out.
    pub fn records(&self) -> Vec<ServedRequest> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests not kept because the log was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn push(&self, record: ServedRequest) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() < MAX_LOGGED {
            records.push(record);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The outermost middleware: names the request, times its database calls, and sends
/// both headers on its response.
///
/// A tower layer rather than `axum::middleware::from_fn`: that adapter boxes the inner
/// service and its future per request and moves them between its async blocks (with it
/// the headers cost 22% more instructions per request than a build without them, 12%
/// without it: `benches/timing-cost.sh`); this one keeps the inner future inline.
#[derive(Debug, Clone)]
pub(crate) struct TimingLayer(pub(crate) AppState);

impl<S> Layer<S> for TimingLayer {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            state: self.0.clone(),
        }
    }
}

/// A service whose responses carry Server-Timing and X-Request-Id (see [`TimingLayer`]).
#[derive(Debug, Clone)]
pub(crate) struct Timed<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Timed<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TimedResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let arrival = req
            .extensions()
            .get::<Arrival>()
            .copied()
            .unwrap_or(Arrival {
                at: Instant::now(),
                first_on_connection: false,
            });
        let log = self
            .state
            .request_log
            .is_enabled()
            .then(|| self.state.clone());
        let id = req
            .headers()
            .get(&REQUEST_ID_NAME)
            .filter(|v| !v.is_empty() && v.len() <= MAX_ECHOED_ID)
            .cloned()
            .or_else(|| log.as_ref().map(|state| state.request_ids.fresh()));
        TimedResponse {
            inner: TIMINGS.scope(Cell::new(Timings::default()), self.inner.call(req)),
            arrival,
            id,
            log,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's response, with the request's timings in scope while it runs.
    pub(crate) struct TimedResponse<F> {
        #[pin]
        inner: TaskLocalFuture<Cell<Timings>, F>,
        arrival: Arrival,
        id: Option<HeaderValue>,
        // The state, when the per-request log was on as the request arrived.
        log: Option<AppState>,
    }
}

impl<F, E> Future for TimedResponse<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = std::task::ready!(this.inner.as_mut().poll(cx));
        let t = this
            .inner
            .take_value()
            .map_or_else(Timings::default, Cell::into_inner);
        let id = this.id.take();
        Poll::Ready(
            result.map(|response| finish(response, *this.arrival, t, id, this.log.as_ref())),
        )
    }
}

/// Adds both headers to `response` and, when the log is on, records the request.
fn finish(
    mut response: Response,
    arrival: Arrival,
    t: Timings,
    id: Option<HeaderValue>,
    log: Option<&AppState>,
) -> Response {
    let app = arrival.at.elapsed();
    if let Some(state) = log {
        state.request_log.push(ServedRequest {
            id: id
                .as_ref()
                .and_then(|id| id.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            route: t.route,
            status: response.status().as_u16(),
            new_connection: arrival.first_on_connection,
            app_us: micros(app),
            delay_us: micros(t.delay),
            db_us: micros(t.db),
        });
    }
    let headers = response.headers_mut();
    headers.insert(SERVER_TIMING_NAME, server_timing_value(app, t.delay, t.db));
    if let Some(id) = id {
        headers.insert(REQUEST_ID_NAME, id);
    }
    response
}

/// `app;dur=12.345, delay;dur=12.000, db;dur=0.210` (milliseconds, microsecond digits).
pub fn server_timing(app: Duration, delay: Duration, db: Duration) -> String {
    String::from_utf8_lossy(server_timing_value(app, delay, db).as_bytes()).into_owned()
}

/// The Server-Timing header value, written on the stack (see [`StackValue`]).
fn server_timing_value(app: Duration, delay: Duration, db: Duration) -> HeaderValue {
    let mut v = StackValue::default();
    for (name, d) in [
        ("app;dur=", app),
        (", delay;dur=", delay),
        (", db;dur=", db),
    ] {
        v.push(name.as_bytes());
        v.push_ms3(micros(d));
    }
    v.header()
}

/// Longest header value a [`StackValue`] holds: a Server-Timing of three durations of
/// 20 digits each (92 bytes), or an id with a 20-digit counter, fits with room to spare.
const MAX_HEADER: usize = 128;

/// A header value built on the stack and copied once into the response: `core::fmt`'s
/// padding and a `String` per field were most of what the two headers cost per request
/// (perf against a build without them: `fmt::write` and `pad_integral` the largest
/// differences after the middleware's own plumbing), and itoa writes the digits.
struct StackValue {
    buf: [u8; MAX_HEADER],
    len: usize,
}

impl Default for StackValue {
    fn default() -> Self {
        Self {
            buf: [0; MAX_HEADER],
            len: 0,
        }
    }
}

impl StackValue {
    /// Appends `bytes`, dropping what does not fit (nothing written here comes close).
    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(MAX_HEADER - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Appends microseconds as milliseconds with three decimals (exact, no float).
    fn push_ms3(&mut self, us: u64) {
        self.push(itoa::Buffer::new().format(us / 1000).as_bytes());
        let frac = us % 1000;
        self.push(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The value as a header (only visible ASCII is ever pushed).
    fn header(&self) -> HeaderValue {
        HeaderValue::from_bytes(self.as_bytes()).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Documents both headers in the OpenAPI document: `X-Request-Id` as an optional
/// request header of every operation, and both on every response.
#[derive(Debug)]
pub(crate) struct TimingHeaders;

impl utoipa::Modify for TimingHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{Object, Required, Type};
        let text = || Object::with_type(Type::String);
        let id_param = ParameterBuilder::new()
            .name("X-Request-Id")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Names the request; echoed in the response (when absent, the mock makes one up if it keeps its per-request log)",
            ))
            .schema(Some(text()))
            .build();
        let timing = HeaderBuilder::new()
            .schema(text())
            .description(Some(
                "W3C Server-Timing: `app;dur=` request arrival to this response, `delay;dur=` the profile's latency chosen, `db;dur=` database time; milliseconds to the microsecond",
            ))
            .build();
        let id = HeaderBuilder::new()
            .schema(text())
            .description(Some("The request's X-Request-Id, or one the mock made up for its per-request log; absent when neither"))
            .build();
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .push(id_param.clone());
                for response in op.responses.responses.values_mut() {
                    if let utoipa::openapi::RefOr::T(r) = response {
                        r.headers.insert("Server-Timing".to_owned(), timing.clone());
                        r.headers.insert("X-Request-Id".to_owned(), id.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_gives_milliseconds_to_the_microsecond() {
        let v = server_timing(
            Duration::from_micros(12_345),
            Duration::from_millis(12),
            Duration::from_nanos(209_999),
        );
        assert_eq!(v, "app;dur=12.345, delay;dur=12.000, db;dur=0.209");
        let long = Duration::from_secs(3);
        assert_eq!(
            server_timing_value(long, long, Duration::ZERO),
            "app;dur=3000.000, delay;dur=3000.000, db;dur=0.000"
        );
        // The longest value fits whole: what core::fmt writes, byte for byte.
        let us = u64::MAX;
        let longest = Duration::from_micros(us);
        let ms3 = format!("{}.{:03}", us / 1000, us % 1000);
        assert_eq!(
            server_timing(longest, longest, longest),
            format!("app;dur={ms3}, delay;dur={ms3}, db;dur={ms3}")
        );
    }

    #[test]
    fn generated_ids_are_distinct_and_prefixed() {
        let ids = RequestIds::new(0xab);
        assert_eq!(ids.fresh(), "mock-000000ab-1");
        assert_eq!(ids.fresh(), "mock-000000ab-2");
        let ids = RequestIds::new(u32::MAX);
        ids.next.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(ids.fresh(), format!("mock-ffffffff-{}", u64::MAX));
    }

    #[tokio::test]
    async fn database_time_adds_up_within_a_request_only() {
        let outside = db(async { 7 }).await;
        assert_eq!(outside, 7);
        let t = TIMINGS
            .scope(Cell::new(Timings::default()), async {
                db(tokio::time::sleep(Duration::from_millis(2))).await;
                chose("GET /health", Duration::from_millis(9));
                db(tokio::time::sleep(Duration::from_millis(3))).await;
                TIMINGS.with(Cell::get)
            })
            .await;
        assert!(t.db >= Duration::from_millis(5), "{t:?}");
        assert_eq!(t.route, Some("GET /health"));
        assert_eq!(t.delay, Duration::from_millis(9));
    }
}
