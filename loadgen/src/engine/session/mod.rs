//! A user's HTTP session, like a Locust `HttpUser`'s client: one keep-alive HTTP/1.1
//! connection, plain or TLS (reopened when it breaks), a cookie jar, default headers.
//! Each request is timed from sending until the whole body is read, and any failure
//! becomes a short error string naming its kind, grouped in the failures table. A
//! request's URL may be absolute (another host), as in Locust; the session then closes
//! its connection and opens one to that host, so that a user still holds one connection.
//!
//! The session speaks HTTP/1.1 itself over its socket (a request is written in one piece,
//! the response head parsed with httparse, the body counted as it streams through a small
//! buffer) rather than through a general client. That keeps what each of thousands of
//! users holds small: one socket (with rustls's state over TLS), a read buffer of
//! [`READ_BUFFER`] bytes and its task.
//! A general client's connection holds a request channel (two blocks of 32 request slots,
//! 18 KB, once 32 requests have gone through it) and 8 KB read and write buffers: 34 KB a
//! user in all, which put 10,000 users over 300 MB after half a minute.
//!
//! The hot path is kept lean because a load generator slower than its target measures
//! itself: the request is rendered into a reused buffer, a fixed path is parsed into a
//! [`Uri`] once ([`Session::prepare_uri`]), and nothing is formatted on success.

mod connect;
mod failure;
mod resolve;
mod response;
mod tls;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::plan::target::{is_absolute_url, Origin, Scheme};
use crate::stats::RequestId;
use connect::Conn;
pub(crate) use connect::Connector;
use failure::{status_error, Failure};
pub(crate) use resolve::target_notice;
pub use resolve::Resolver;
use response::{parse_head, Body, Framing, Head};

/// What one request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// From sending (connecting included, when a connection had to be opened) until the
    /// whole body was read, or until the failure.
    pub response_time: Duration,
    /// Body bytes read.
    pub content_length: u64,
    /// `None` on success, else the failure's short text.
    pub error: Option<String>,
    /// The status, when a response head arrived.
    pub status: Option<StatusCode>,
    /// When the exchange ended (read once, with the response time).
    pub finished: Instant,
    /// The server's own time for it (`Server-Timing: app;dur=`; summed over a redirect
    /// chain), when every response of the chain carried one.
    pub server_time: Option<Duration>,
    /// The `X-Request-Id` sent, when the session sends them.
    pub request_id: Option<RequestId>,
}

/// One user's session with the target.
#[derive(Debug)]
pub(crate) struct Session {
    connector: Arc<Connector>,
    /// The kept-alive connection; `None` before the first request and after a failure or
    /// a close.
    conn: Option<Conn>,
    /// Where `conn` goes (the target's origin unless an absolute URL went elsewhere).
    conn_origin: Arc<Origin>,
    /// Bytes read and not yet consumed: the part of the response being parsed.
    read_buf: Vec<u8>,
    /// The request being sent, rendered in one piece (head and body).
    write_buf: Vec<u8>,
    cookies: BTreeMap<String, String>,
    /// The body of the last response, kept while a request's checks need it.
    kept_body: Option<Vec<u8>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    /// The request timeout's timer, kept between requests (see [`within`]).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The id of the request being sent, when the session names its requests.
    request_id: Option<RequestId>,
}
/// Bytes of a connection's read buffer between responses: a typical API response (head
/// and a small JSON body) fits in one read. A longer head grows it up to [`MAX_HEAD`];
/// a long body streams through [`LARGE_READ`]-byte reads; either way it shrinks back
/// after the response, so a few large responses do not leave every user's buffer large.
pub(crate) const READ_BUFFER: usize = 2 * 1024;

/// Bytes read at a time while a body longer than [`READ_BUFFER`] streams in.
const LARGE_READ: usize = 16 * 1024;

/// The longest response head accepted (the sum of nginx's default large header buffers
/// is 32 KiB; beyond 64 KiB a head is taken as garbage).
const MAX_HEAD: usize = 64 * 1024;

/// Header lines parsed in one response head.
const MAX_HEADERS: usize = 100;

/// Most bytes of a response body kept for checks (a larger body is cut there, and
/// then reads as JSON that does not parse).
pub(crate) const MAX_KEPT_BODY: usize = 1 << 20;

/// A write buffer larger than this (after a large request body) is given back.
const KEPT_WRITE_BUFFER: usize = 16 * 1024;

/// Redirects followed before giving up, as in requests.
const MAX_REDIRECTS: u32 = 30;

impl Session {
    /// A session with default headers (a class's `headers`, set on start) and a timeout.
    pub(crate) fn new(
        connector: Arc<Connector>,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeout: Duration,
    ) -> Self {
        Self {
            conn_origin: Arc::clone(&connector.origin),
            connector,
            conn: None,
            read_buf: Vec::new(),
            write_buf: Vec::new(),
            cookies: BTreeMap::new(),
            kept_body: None,
            headers,
            timeout,
            timer: None,
            request_id: None,
        }
    }

    /// Sends an `X-Request-Id` on every request from now on: `lg<session>-<n>`, n
    /// counting from 1 (a request's redirects carry its id).
    pub(crate) fn send_request_ids(&mut self, session: u32) {
        self.request_id = Some(RequestId { session, seq: 0 });
    }

    /// The request target for `path` (the target's base path prepended, unless the path
    /// is an absolute URL), parsed once so that a fixed path can be sent many times
    /// without rendering or parsing it again. `None` when the path is not a valid URI.
    pub(crate) fn prepare_uri(&self, path: &str) -> Option<Uri> {
        self.uri(path).ok()
    }

    fn uri(&self, path: &str) -> Result<Uri, Failure> {
        let base = match is_absolute_url(path) {
            true => "",
            false => self.connector.target.base_path.as_str(),
        };
        let mut text = String::with_capacity(base.len() + path.len());
        text.push_str(base);
        text.push_str(path);
        // Bytes::from(String) takes the buffer over: no copy.
        Uri::from_maybe_shared(Bytes::from(text))
            .map_err(|_| Failure::InvalidUrl(format!("{base}{path}")))
    }

    /// Where a request to `uri` goes: the target's origin for a path, the URL's own for
    /// an absolute URL (the open connection's or the target's, shared, when it is the
    /// same host).
    fn origin_of(&self, uri: &Uri) -> Result<Arc<Origin>, Failure> {
        if uri.authority().is_none() {
            return Ok(Arc::clone(&self.connector.origin));
        }
        for known in [&self.conn_origin, &self.connector.origin] {
            if same_origin(known, uri) {
                return Ok(Arc::clone(known));
            }
        }
        Origin::split_url(&uri.to_string())
            .map(|(origin, _)| Arc::new(origin))
            .map_err(|_| Failure::InvalidUrl(uri.to_string()))
    }

    /// Sends one request and reads the whole response. `name` is the stats name, used in
    /// HTTP error texts as Locust does.
    pub(crate) async fn request(
        &mut self,
        method: Method,
        path: &str,
        name: &str,
        body: Option<Bytes>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Exchange {
        let uri = self.uri(path);
        self.request_uri(method, uri, name, body, extra_headers)
            .await
    }

    /// [`Session::request`] to a target prepared by [`Session::prepare_uri`].
    pub(crate) async fn request_prepared(
        &mut self,
        method: Method,
        uri: &Uri,
        name: &str,
        body: Option<Bytes>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Exchange {
        self.request_uri(method, Ok(uri.clone()), name, body, extra_headers)
            .await
    }

    async fn request_uri(
        &mut self,
        method: Method,
        uri: Result<Uri, Failure>,
        name: &str,
        body: Option<Bytes>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Exchange {
        let start = Instant::now();
        if let Some(id) = &mut self.request_id {
            id.seq += 1;
        }
        let timeout = self.timeout;
        let outcome = match uri {
            Ok(uri) => {
                // The timer's clock (tokio's, which tests may pause) decides the deadline.
                let deadline = tokio::time::Instant::now() + timeout;
                let mut timer = self.timer.take();
                let outcome = within(
                    &mut timer,
                    deadline,
                    self.exchange(method, uri, body, extra_headers),
                )
                .await;
                self.timer = timer;
                outcome
            }
            Err(failure) => Ok(Err((failure, 0))),
        };
        let finished = Instant::now();
        let response_time = finished.saturating_duration_since(start);
        match outcome {
            Ok(Ok((status, content_length, server_us))) => Exchange {
                response_time,
                finished,
                content_length,
                error: status_error(status, name),
                status: Some(status),
                server_time: server_us.map(Duration::from_micros),
                request_id: self.request_id,
            },
            Ok(Err((failure, content_length))) => {
                // The connection is in an unknown state: open a fresh one next time.
                self.drop_connection();
                Exchange {
                    response_time,
                    finished,
                    content_length,
                    error: Some(failure.describe(timeout)),
                    status: None,
                    server_time: None,
                    request_id: self.request_id,
                }
            }
            Err(_) => {
                self.drop_connection();
                Exchange {
                    response_time,
                    finished,
                    content_length: 0,
                    error: Some(Failure::Timeout.describe(timeout)),
                    status: None,
                    server_time: None,
                    request_id: self.request_id,
                }
            }
        }
    }

    async fn exchange(
        &mut self,
        method: Method,
        uri: Uri,
        body: Option<Bytes>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Result<(StatusCode, u64, Option<u64>), (Failure, u64)> {
        let mut method = method;
        let mut uri = uri;
        let mut body = body;
        // Like requests (Locust's HttpUser), follow redirects on the same host; the
        // response time covers the whole chain.
        let mut redirects = 0;
        let mut server_us = Some(0u64);
        loop {
            let origin = self.origin_of(&uri).map_err(|f| (f, 0))?;
            self.render(&method, &uri, &origin, body.as_deref(), extra_headers);
            self.connect(&origin).await.map_err(|f| (f, 0))?;
            let head = self.round_trip(&method).await?;
            let length = self.read_body(&head).await?;
            self.finish_response(&head);
            server_us = server_us
                .zip(head.server_us)
                .map(|(a, b)| a.saturating_add(b));
            let Some(next) = head.location.filter(|_| head.status.is_redirection()) else {
                return Ok((head.status, length, server_us));
            };
            if redirects == MAX_REDIRECTS {
                return Err((Failure::TooManyRedirects, length));
            }
            redirects += 1;
            // 303, and 301/302 after a POST, continue as a GET without a body.
            let to_get = head.status == StatusCode::SEE_OTHER
                || (method == Method::POST
                    && matches!(
                        head.status,
                        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND
                    ));
            if to_get {
                method = Method::GET;
                body = None;
            }
            uri = match redirect_target(&origin, &self.connector.origin, &next) {
                Some(text) => Uri::from_maybe_shared(Bytes::from(text))
                    .map_err(|_| (Failure::InvalidUrl(next), length))?,
                // A Location relative to the current path is not followed.
                None => return Ok((head.status, length, server_us)),
            };
        }
    }

    /// Gives up the connection (after a failure, or when it closed).
    fn drop_connection(&mut self) {
        // Dropping the stream closes the socket.
        self.conn = None;
        self.read_buf.clear();
        self.read_buf.shrink_to(READ_BUFFER);
        if let Some(kept) = self.kept_body.as_mut() {
            kept.clear();
        }
    }

    /// Makes sure an open connection to `origin` is ready for a request: the kept-alive
    /// one when it goes there and the server has not closed it meanwhile, else a new one.
    async fn connect(&mut self, origin: &Arc<Origin>) -> Result<(), Failure> {
        if let Some(conn) = &self.conn {
            let same = Arc::ptr_eq(&self.conn_origin, origin) || self.conn_origin == *origin;
            if same && conn.is_idle() {
                return Ok(());
            }
            self.drop_connection();
        }
        self.conn = Some(self.connector.open(origin).await?);
        self.conn_origin = Arc::clone(origin);
        self.read_buf.clear();
        self.read_buf.reserve(READ_BUFFER);
        Ok(())
    }

    /// Renders the request into the write buffer: request line, Host, the class's and
    /// the request's headers (a later one of the same name replaces an earlier one), the
    /// cookie jar, the body's framing and the body.
    fn render(
        &mut self,
        method: &Method,
        uri: &Uri,
        origin: &Origin,
        body: Option<&[u8]>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) {
        let w = &mut self.write_buf;
        if w.capacity() > KEPT_WRITE_BUFFER {
            *w = Vec::new();
        }
        w.clear();
        w.extend_from_slice(method.as_str().as_bytes());
        w.push(b' ');
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        w.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
        w.extend_from_slice(b" HTTP/1.1\r\n");
        let all = || self.headers.iter().chain(extra_headers);
        let given = |name: &HeaderName| all().any(|(k, _)| k == name);
        if !given(&HOST) {
            put_header(w, HOST.as_str(), origin.authority.as_bytes());
        }
        let jar = !self.cookies.is_empty();
        for (i, (k, v)) in all().enumerate() {
            // The framing is the session's to write, and the jar replaces a Cookie header.
            let replaced = all().skip(i + 1).any(|(later, _)| later == k);
            if replaced || *k == CONTENT_LENGTH || *k == TRANSFER_ENCODING || (jar && *k == COOKIE)
            {
                continue;
            }
            put_header(w, k.as_str(), v.as_bytes());
        }
        if jar {
            w.extend_from_slice(b"cookie: ");
            for (n, (k, v)) in self.cookies.iter().enumerate() {
                if n > 0 {
                    w.extend_from_slice(b"; ");
                }
                w.extend_from_slice(k.as_bytes());
                w.push(b'=');
                w.extend_from_slice(v.as_bytes());
            }
            w.extend_from_slice(b"\r\n");
        }
        if let Some(id) = self.request_id {
            // Written in place (no String per request); the user's own id header wins.
            if !all().any(|(k, _)| k.as_str() == "x-request-id") {
                use std::io::Write as _;
                let _ = write!(w, "x-request-id: {id}\r\n");
            }
        }
        if body.is_some() && !given(&CONTENT_TYPE) {
            put_header(w, CONTENT_TYPE.as_str(), b"application/json");
        }
        // A body's length, and an explicit zero for the methods that carry a body, as
        // requests sends it.
        let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if body.is_some() || expects_body {
            let len = body.map_or(0, <[u8]>::len);
            w.extend_from_slice(b"content-length: ");
            w.extend_from_slice(len.to_string().as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"\r\n");
        if let Some(body) = body {
            w.extend_from_slice(body);
        }
    }

    /// Sends the rendered request and reads the response head (skipping interim 1xx
    /// responses); the head's bytes are consumed, the body's first bytes stay buffered.
    async fn round_trip(&mut self, method: &Method) -> Result<Head, (Failure, u64)> {
        let Self {
            conn,
            read_buf,
            write_buf,
            cookies,
            ..
        } = self;
        let Some(stream) = conn.as_mut() else {
            return Err((
                Failure::Closed {
                    silent: Duration::ZERO,
                },
                0,
            ));
        };
        let sent = async {
            stream.write_all(write_buf).await?;
            // TLS may hold the last record back until flushed.
            stream.flush().await
        };
        sent.await.map_err(|e| (Failure::Io(e), 0))?;
        let sent = Instant::now();
        loop {
            match parse_head(read_buf, method, cookies) {
                Ok(Some(head)) => {
                    read_buf.drain(..head.len);
                    // 100 Continue and the like come before the real response (101
                    // Switching Protocols ends HTTP/1.1 on the connection: it is final).
                    if head.status.is_informational()
                        && head.status != StatusCode::SWITCHING_PROTOCOLS
                    {
                        continue;
                    }
                    return Ok(head);
                }
                Ok(None) => {}
                Err(f) => return Err((f, 0)),
            }
            if read_buf.len() >= MAX_HEAD {
                return Err((Failure::Malformed, 0));
            }
            if read_buf.len() == read_buf.capacity() {
                read_buf.reserve(read_buf.len().max(READ_BUFFER));
            }
            let n = stream
                .read_buf(read_buf)
                .await
                .map_err(|e| (Failure::Io(e), 0))?;
            if n == 0 {
                let silent = if read_buf.is_empty() {
                    sent.elapsed()
                } else {
                    Duration::ZERO
                };
                return Err((Failure::Closed { silent }, 0));
            }
        }
    }

    /// Keeps the bodies of the following responses (up to [`MAX_KEPT_BODY`] bytes
    /// each), for checks that look into them; `false` goes back to counting only.
    pub(crate) fn keep_bodies(&mut self, keep: bool) {
        self.kept_body = keep.then(Vec::new);
    }

    /// The body of the last response, when bodies are kept (empty after a failure).
    pub(crate) fn kept_body(&self) -> &[u8] {
        self.kept_body.as_deref().unwrap_or_default()
    }

    /// Reads the body (counting its bytes, keeping them only when asked) and returns
    /// its length.
    async fn read_body(&mut self, head: &Head) -> Result<u64, (Failure, u64)> {
        let Self {
            conn,
            read_buf,
            kept_body,
            ..
        } = self;
        let Some(stream) = conn.as_mut() else {
            return Err((
                Failure::Closed {
                    silent: Duration::ZERO,
                },
                0,
            ));
        };
        if let Some(kept) = kept_body.as_mut() {
            kept.clear();
        }
        let fits = match head.framing {
            Framing::Empty => true,
            Framing::Length(n) => n <= read_buf.capacity() as u64,
            Framing::Chunked | Framing::UntilClose => false,
        };
        if fits {
            let body = Body {
                stream,
                buf: read_buf,
                length: 0,
                kept: kept_body.as_mut(),
            };
            return body.read(head.framing).await;
        }
        // A body that may not fit streams through a buffer of its own, freed after it.
        // Growing the session's buffer and shrinking it back moved that buffer, which
        // lives as long as the user, in the heap at every such response: glibc's arenas
        // fragmented and a 30-minute soak's RSS kept rising.
        let mut large = Vec::with_capacity(LARGE_READ.max(read_buf.len()));
        large.append(read_buf);
        let body = Body {
            stream,
            buf: &mut large,
            length: 0,
            kept: kept_body.as_mut(),
        };
        let read = body.read(head.framing).await;
        // Bytes past the body (a server sending more than was asked for) go back, for
        // `finish_response` to see.
        read_buf.extend_from_slice(&large);
        read
    }

    /// After a whole response: keeps the connection unless the response ends it (or the
    /// server sent more than was asked for), and gives back a buffer a large response
    /// grew.
    fn finish_response(&mut self, head: &Head) {
        if head.close || !self.read_buf.is_empty() {
            self.drop_connection();
        } else if self.read_buf.capacity() > READ_BUFFER {
            self.read_buf.shrink_to(READ_BUFFER);
        }
    }

    /// Keeps `name=value` of each Set-Cookie (attributes are ignored; Max-Age=0 deletes).
    #[cfg(test)]
    fn store_cookies(&mut self, headers: &http::HeaderMap) {
        for value in headers.get_all(http::header::SET_COOKIE) {
            if let Ok(text) = value.to_str() {
                response::store_cookie(&mut self.cookies, text);
            }
        }
    }

    /// The cookies the session holds.
    #[cfg(test)]
    pub(crate) fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }
}

/// Whether `uri` (absolute) goes to `origin`.
fn same_origin(origin: &Origin, uri: &Uri) -> bool {
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
        Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
        _ => return false,
    };
    let host = uri.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    scheme == origin.scheme
        && uri.port_u16().unwrap_or(scheme.default_port()) == origin.port
        && host.eq_ignore_ascii_case(&origin.host)
}

/// Where a redirect's `location` leads from `origin`, as requests follows it: an absolute
/// URL anywhere, or a path on the same origin (written as a path when that is the
/// target's, so the prepared-request path stays the same). `None` for a location
/// relative to the current path.
fn redirect_target(origin: &Arc<Origin>, target: &Arc<Origin>, location: &str) -> Option<String> {
    if is_absolute_url(location) {
        return Some(location.to_owned());
    }
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{}://{rest}", origin.scheme.as_str()));
    }
    if !location.starts_with('/') {
        return None;
    }
    Some(if Arc::ptr_eq(origin, target) {
        location.to_owned()
    } else {
        format!("{origin}{location}")
    })
}

/// `name: value\r\n`.
fn put_header(w: &mut Vec<u8>, name: &str, value: &[u8]) {
    w.extend_from_slice(name.as_bytes());
    w.extend_from_slice(b": ");
    w.extend_from_slice(value);
    w.extend_from_slice(b"\r\n");
}

/// The request timed out.
struct Elapsed;

/// Runs `work` until `deadline`. Rather than registering a new timer per request (a
/// timer-wheel insertion and removal each time, as `tokio::time::timeout` does), the
/// session keeps one timer whose deadline is never later than the current request's:
/// when it fires early (it was set for an earlier request), it is moved to this
/// request's deadline. It fires at most about once per timeout period.
async fn within<T>(
    timer: &mut Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: tokio::time::Instant,
    work: impl Future<Output = T>,
) -> Result<T, Elapsed> {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = work.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // A timer fires only once its deadline has passed on its own clock, so after
        // moving it to a later deadline it is pending: this loop turns at most twice.
        while timer.as_mut().poll(cx).is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return Poll::Ready(Err(Elapsed));
            }
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::failure::format_secs;
    use super::*;

    /// The connector of a run against `url`, with the system's resolver and roots.
    pub(crate) fn connector(url: &str) -> Arc<Connector> {
        let target = crate::plan::target::Target::parse(url).unwrap();
        Arc::new(Connector::new(
            target,
            Default::default(),
            Resolver::system(),
        ))
    }

    #[test]
    fn status_errors_use_locust_text() {
        assert_eq!(
            status_error(StatusCode::SERVICE_UNAVAILABLE, "/api/ml/predict").as_deref(),
            Some("HTTPError('503 Server Error: Service Unavailable for url: /api/ml/predict')")
        );
        assert_eq!(
            status_error(StatusCode::NOT_FOUND, "/x/[id]").as_deref(),
            Some("HTTPError('404 Client Error: Not Found for url: /x/[id]')")
        );
        assert_eq!(status_error(StatusCode::OK, "/"), None);
        assert_eq!(status_error(StatusCode::FOUND, "/"), None);
    }

    #[test]
    fn cookies_are_kept_and_expired() {
        let mut s = Session::new(
            connector("http://127.0.0.1:1"),
            Vec::new(),
            Duration::from_secs(1),
        );
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("sid=abc; Path=/; HttpOnly"),
        );
        h.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("theme=dark"),
        );
        s.store_cookies(&h);
        assert_eq!(s.cookies().get("sid").map(String::as_str), Some("abc"));
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("sid=; Max-Age=0"),
        );
        s.store_cookies(&h);
        assert_eq!(s.cookies().keys().collect::<Vec<_>>(), ["theme"]);
        let uri = s.prepare_uri("/a").unwrap();
        s.render(&Method::GET, &uri, &s.connector.origin.clone(), None, &[]);
        assert_eq!(
            String::from_utf8_lossy(&s.write_buf),
            "GET /a HTTP/1.1\r\nhost: 127.0.0.1:1\r\ncookie: theme=dark\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn one_kept_timer_times_out_each_request_at_its_own_deadline() {
        use tokio::time::{sleep, Instant as TokioInstant};
        let mut timer = None;
        let ms = Duration::from_millis;
        // A request that never ends times out, never before its deadline.
        let deadline = TokioInstant::now() + ms(30);
        let r = within(&mut timer, deadline, std::future::pending::<()>()).await;
        assert!(r.is_err());
        assert!(TokioInstant::now() >= deadline);
        // The kept timer has fired for that deadline; a later request is not cut short by
        // it, and finishes (its work is polled before the timer, so even a late wake-up
        // that finds both due counts it as finished).
        let r = within(&mut timer, TokioInstant::now() + ms(200), sleep(ms(100))).await;
        assert!(r.is_ok());
        // The kept timer is now set for an earlier deadline than the next request's: when
        // it fires, it is moved on, and the request times out at its own deadline only.
        let deadline = TokioInstant::now() + ms(300);
        let r = within(&mut timer, deadline, std::future::pending::<()>()).await;
        assert!(r.is_err());
        assert!(TokioInstant::now() >= deadline);
    }

    fn head_of(text: &str, method: &Method) -> Result<Option<Head>, Failure> {
        parse_head(text.as_bytes(), method, &mut BTreeMap::new())
    }

    #[test]
    fn the_servers_app_time_is_read_from_server_timing() {
        use crate::stats::server_timing_app_us as app_duration_us;
        assert_eq!(
            app_duration_us(b"app;dur=12.345, delay;dur=12.000, db;dur=0.209"),
            Some(12_345)
        );
        assert_eq!(
            app_duration_us(b"db;dur=3, APP ; desc=\"x\" ; dur=0.5"),
            Some(500)
        );
        assert_eq!(app_duration_us(b"cache;desc=hit, db;dur=3"), None);
        assert_eq!(app_duration_us(b"app;dur=-1"), None);
        assert_eq!(app_duration_us(b"app;dur=abc"), None);
        assert_eq!(app_duration_us(b"app"), None);
        let head = head_of(
            "HTTP/1.1 200 OK\r\nserver-timing: app;dur=7.001\r\ncontent-length: 0\r\n\r\n",
            &Method::GET,
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.server_us, Some(7_001));
        let none = head_of("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", &Method::GET);
        assert_eq!(none.unwrap().unwrap().server_us, None);
    }

    #[test]
    fn response_heads_are_framed_as_rfc_9112_says() {
        let get = Method::GET;
        let framing = |text: &str, method: &Method| {
            let head = head_of(text, method).ok().flatten().expect("a whole head");
            (head.framing, head.close)
        };
        let ok = "HTTP/1.1 200 OK\r\n";
        assert_eq!(
            framing(&format!("{ok}Content-Length: 12\r\n\r\n"), &get),
            (Framing::Length(12), false)
        );
        assert_eq!(
            framing(
                &format!("{ok}Transfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n"),
                &get
            ),
            (Framing::Chunked, false)
        );
        assert_eq!(
            framing(&format!("{ok}Transfer-Encoding: gzip\r\n\r\n"), &get),
            (Framing::UntilClose, true)
        );
        assert_eq!(
            framing(&format!("{ok}\r\n"), &get),
            (Framing::UntilClose, true)
        );
        assert_eq!(
            framing(&format!("{ok}Content-Length: 5\r\n\r\n"), &Method::HEAD),
            (Framing::Empty, false)
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\n\r\n", &get),
            (Framing::Empty, false)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                &get
            ),
            (Framing::Empty, false)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                &get
            ),
            (Framing::Length(1), true)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", &get),
            (Framing::Length(1), true)
        );
        assert_eq!(
            framing(
                "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
                &get
            ),
            (Framing::Length(1), false)
        );
        // Incomplete heads wait for more; garbage and disagreeing lengths are refused.
        assert!(matches!(
            head_of("HTTP/1.1 200 OK\r\nContent-Le", &get),
            Ok(None)
        ));
        assert!(matches!(
            head_of("SSH-2.0-OpenSSH\r\n\r\n", &get),
            Err(Failure::Malformed)
        ));
        assert!(matches!(
            head_of(
                &format!("{ok}Content-Length: 2\r\nContent-Length: 3\r\n\r\n"),
                &get
            ),
            Err(Failure::Malformed)
        ));
        assert!(matches!(
            head_of(&format!("{ok}Content-Length: -1\r\n\r\n"), &get),
            Err(Failure::Malformed)
        ));
    }

    #[test]
    fn requests_render_headers_once_with_the_later_value() {
        let target = connector("http://127.0.0.1:1");
        let defaults = vec![
            (http::header::ACCEPT, HeaderValue::from_static("text/plain")),
            (
                HeaderName::from_static("x-team"),
                HeaderValue::from_static("a"),
            ),
        ];
        let mut s = Session::new(target, defaults, Duration::from_secs(1));
        let uri = s.prepare_uri("/orders?x=1").unwrap();
        let extra = [
            (
                http::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            ),
            (CONTENT_LENGTH, HeaderValue::from_static("999")),
        ];
        s.render(
            &Method::POST,
            &uri,
            &s.connector.origin.clone(),
            Some(b"{}"),
            &extra,
        );
        assert_eq!(
            String::from_utf8_lossy(&s.write_buf),
            "POST /orders?x=1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\nx-team: a\r\n\
             accept: application/json\r\ncontent-type: application/json\r\n\
             content-length: 2\r\n\r\n{}"
        );
        s.render(&Method::PUT, &uri, &s.connector.origin.clone(), None, &[]);
        assert!(String::from_utf8_lossy(&s.write_buf).ends_with("content-length: 0\r\n\r\n"));
    }

    /// A server on loopback that answers each request with the next of `replies`, closes
    /// the connection after the last, and counts connections.
    async fn scripted(
        replies: Vec<&'static [u8]>,
    ) -> (Arc<Connector>, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::AsyncWriteExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            let mut replies = replies.into_iter().peekable();
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                // One read holds one small request here; once the script is done, a
                // request is read and the connection closed without an answer.
                while let Ok(1..) = socket.read(&mut buf).await {
                    let Some(reply) = replies.next() else { break };
                    // In pieces: the parser must wait for the rest of a head or body.
                    for piece in reply.chunks(7) {
                        let _ = socket.write_all(piece).await;
                        tokio::task::yield_now().await;
                    }
                    if replies.peek().is_none() {
                        break;
                    }
                }
            }
        });
        (connector(&format!("http://{addr}")), connections)
    }

    #[tokio::test]
    async fn bodies_are_counted_across_reads_and_connections_kept_alive() {
        use std::sync::atomic::Ordering;
        let (target, connections) = scripted(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6;x=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nabcd",
            b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=7; Path=/\r\nConnection: close\r\n\r\nuntil the close",
        ])
        .await;
        let mut s = Session::new(target, Vec::new(), Duration::from_secs(5));
        let chunked = s.request(Method::GET, "/a", "/a", None, &[]).await;
        assert_eq!((chunked.error, chunked.content_length), (None, 11));
        let created = s
            .request(
                Method::POST,
                "/b",
                "/b",
                Some(Bytes::from_static(b"{}")),
                &[],
            )
            .await;
        assert_eq!(
            (created.status, created.content_length),
            (Some(StatusCode::CREATED), 4)
        );
        // A redirect is followed on the same connection; the last body runs to the close.
        let redirected = s.request(Method::GET, "/c", "/c", None, &[]).await;
        assert_eq!(redirected.error, None);
        assert_eq!(redirected.content_length, 15);
        assert_eq!(s.cookies().get("sid").map(String::as_str), Some("7"));
        assert_eq!(connections.load(Ordering::SeqCst), 1);
        // The server closed after that: the next request opens a new connection, which
        // the server closes without an answer.
        let closed = s.request(Method::GET, "/d", "/d", None, &[]).await;
        assert_eq!(
            closed.error.as_deref(),
            Some("RemoteDisconnected: connection closed without response")
        );
        assert_eq!(connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn long_bodies_are_read_whole_and_leave_the_connections_buffer_as_it_was() {
        use std::sync::atomic::Ordering;
        let long: &'static [u8] = (0..40_000u32)
            .map(|i| b"0123456789abcdef"[i as usize % 16])
            .collect::<Vec<u8>>()
            .leak();
        let with_length = [
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", long.len()).as_bytes(),
            long,
        ]
        .concat();
        let (first, second) = long.split_at(25_000);
        let chunked = [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            format!("{:x}\r\n", first.len()).as_bytes(),
            first,
            format!("\r\n{:x}\r\n", second.len()).as_bytes(),
            second,
            b"\r\n0\r\n\r\n",
        ]
        .concat();
        let (target, connections) = scripted(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
            with_length.leak(),
            chunked.leak(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd",
        ])
        .await;
        let mut s = Session::new(target, Vec::new(), Duration::from_secs(5));
        s.keep_bodies(true);
        let mut buffer = None;
        for (path, want) in [
            ("/short", &b"abcd"[..]),
            ("/length", long),
            ("/chunked", long),
            ("/short", b"abcd"),
        ] {
            let r = s.request(Method::GET, path, path, None, &[]).await;
            assert_eq!(
                (r.error, r.content_length),
                (None, want.len() as u64),
                "{path}"
            );
            assert!(
                s.kept_body() == want,
                "{path}: the body kept is the body sent"
            );
            // The user's own buffer, which lives as long as the user, neither grew nor
            // moved in the heap for the long bodies.
            let now = (s.read_buf.as_ptr(), s.read_buf.capacity());
            assert_eq!(*buffer.get_or_insert(now), now, "{path}");
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "one kept-alive connection"
        );
    }

    #[tokio::test]
    async fn a_close_after_silence_says_how_long_the_connection_was_silent() {
        use tokio::io::AsyncReadExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // The first connection is closed at once, the second after 1.2 s of silence.
            for hold in [Duration::ZERO, Duration::from_millis(1200)] {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(hold).await;
            }
        });
        let mut s = Session::new(
            connector(&format!("http://{addr}")),
            Vec::new(),
            Duration::from_secs(5),
        );
        let dropped = s.request(Method::GET, "/a", "/a", None, &[]).await;
        assert_eq!(
            dropped.error.as_deref(),
            Some("RemoteDisconnected: connection closed without response")
        );
        let stuck = s.request(Method::GET, "/b", "/b", None, &[]).await;
        assert_eq!(
            stuck.error.as_deref(),
            Some("RemoteDisconnected: connection closed after 1.0 s without a response")
        );
    }

    #[tokio::test]
    async fn a_body_cut_short_is_a_failure_with_the_bytes_read() {
        let (target, _) = scripted(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
        ])
        .await;
        let mut s = Session::new(target, Vec::new(), Duration::from_secs(5));
        let cut = s.request(Method::GET, "/", "/", None, &[]).await;
        assert_eq!(cut.content_length, 9);
        assert_eq!(
            cut.error.as_deref(),
            Some("ConnectionError: connection closed before the whole body arrived")
        );
    }

    #[test]
    fn timeouts_read_well() {
        assert_eq!(format_secs(Duration::from_secs(60)), "60s");
        assert_eq!(format_secs(Duration::from_millis(250)), "0.25s");
    }
}
