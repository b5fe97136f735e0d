//! A user's HTTP session, like a Locust `HttpUser`'s client: one keep-alive HTTP/1.1
//! connection (reopened when it breaks), a cookie jar, default headers. Each request is
//! timed from sending until the whole body is read, and any failure becomes a short
//! error string naming its kind, grouped in the failures table.
//!
//! The hot path is kept lean because a load generator slower than its target measures
//! itself: the connection is driven inside the user's own task (no spawned connection
//! task, so a response wakes one task, not two), the Host header is rendered once, a
//! fixed path is parsed into a [`Uri`] once ([`Session::prepare_uri`]), and nothing is
//! formatted on success.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::target::Target;

/// What one request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
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
}

/// The future that runs a connection: it reads responses and writes requests. It is
/// polled inside the user's own task while a request is in flight (see [`drive`]), so a
/// request costs no extra task, channel hop or wake-up.
type Driver = Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// One user's session with the target.
#[derive(Debug)]
pub struct Session {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The connection's driver; `None` once the connection ended (or before the first).
    driver: Option<Driver>,
    cookies: BTreeMap<String, String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The Host header, rendered once.
    host: Option<HeaderValue>,
    timeout: Duration,
    /// The request timeout's timer, kept between requests (see [`within`]).
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// A failure before the status could be judged.
enum Failure {
    Connect(io::Error),
    Hyper(hyper::Error),
    Timeout,
    /// The rendered path is not a valid URI (e.g. a space in a choice).
    InvalidUrl(String),
    /// More than [`MAX_REDIRECTS`] redirects in a row.
    TooManyRedirects,
}

/// Bytes of a connection's read buffer; a response head must fit in it (heads of this
/// size are far beyond what servers send: nginx's default limit is 8 KiB too).
const READ_BUFFER: usize = 8 * 1024;

/// Redirects followed before giving up, as in requests.
const MAX_REDIRECTS: u32 = 30;

impl Session {
    /// A session with default headers (a class's `headers`, set on start) and a timeout.
    pub fn new(
        target: Arc<Target>,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeout: Duration,
    ) -> Self {
        let host = HeaderValue::from_str(&target.authority).ok();
        Self {
            target,
            sender: None,
            driver: None,
            cookies: BTreeMap::new(),
            headers,
            host,
            timeout,
            timer: None,
        }
    }

    /// The request target for `path` (the target's base path prepended), parsed once so
    /// that a fixed path can be sent many times without rendering or parsing it again.
    /// `None` when the path is not a valid URI.
    pub fn prepare_uri(&self, path: &str) -> Option<Uri> {
        self.uri(path).ok()
    }

    fn uri(&self, path: &str) -> Result<Uri, Failure> {
        let mut text = String::with_capacity(self.target.base_path.len() + path.len());
        text.push_str(&self.target.base_path);
        text.push_str(path);
        // Bytes::from(String) takes the buffer over: no copy.
        Uri::from_maybe_shared(Bytes::from(text))
            .map_err(|_| Failure::InvalidUrl(format!("{}{}", self.target.base_path, path)))
    }

    /// Sends one request and reads the whole response. `name` is the stats name, used in
    /// HTTP error texts as Locust does.
    pub async fn request(
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
    pub async fn request_prepared(
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
            Ok(Ok((status, content_length))) => Exchange {
                response_time,
                finished,
                content_length,
                error: status_error(status, name),
                status: Some(status),
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
    ) -> Result<(StatusCode, u64), (Failure, u64)> {
        let mut method = method;
        let mut uri = uri;
        let mut body = body;
        // Like requests (Locust's HttpUser), follow redirects on the same host; the
        // response time covers the whole chain.
        let mut redirects = 0;
        loop {
            let request = self.build(method.clone(), uri, body.clone(), extra_headers);
            self.connect().await.map_err(|f| (f, 0))?;
            let Self {
                sender,
                driver,
                cookies,
                target,
                ..
            } = self;
            let Some(sender) = sender.as_mut() else {
                return Err((Failure::Timeout, 0));
            };
            // The whole exchange runs in one `drive`, so the driver is polled once per
            // wake-up, not once per step.
            let (status, length, location) = drive(driver, async move {
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| (Failure::Hyper(e), 0))?;
                let status = response.status();
                let location = read_head(cookies, target, response.headers());
                let mut response_body = response.into_body();
                let mut length = 0u64;
                while let Some(frame) = response_body.frame().await {
                    let frame = frame.map_err(|e| (Failure::Hyper(e), length))?;
                    if let Some(data) = frame.data_ref() {
                        length += data.len() as u64;
                    }
                }
                Ok((status, length, location))
            })
            .await?;
            let Some(next) = location.filter(|_| status.is_redirection()) else {
                return Ok((status, length));
            };
            if redirects == MAX_REDIRECTS {
                return Err((Failure::TooManyRedirects, length));
            }
            redirects += 1;
            // 303, and 301/302 after a POST, continue as a GET without a body.
            let to_get = status == StatusCode::SEE_OTHER
                || (method == Method::POST
                    && matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND));
            if to_get {
                method = Method::GET;
                body = None;
            }
            uri = Uri::from_maybe_shared(Bytes::from(next.clone()))
                .map_err(|_| (Failure::InvalidUrl(next), length))?;
        }
    }

    /// Gives up the connection (after a failure, or when it closed).
    fn drop_connection(&mut self) {
        self.sender = None;
        // Dropping the driver closes the socket.
        self.driver = None;
    }

    /// Makes sure an open connection is ready for a request: the kept-alive one when the
    /// server has not closed it meanwhile, else a new one.
    async fn connect(&mut self) -> Result<(), Failure> {
        if let Some(sender) = &mut self.sender {
            // The driver reads a close that arrived while the user waited.
            let ready = self.driver.is_some()
                && drive(&mut self.driver, sender.ready()).await.is_ok()
                && self.driver.is_some();
            if ready {
                return Ok(());
            }
            self.drop_connection();
        }
        let stream = TcpStream::connect(&self.target.addrs[..])
            .await
            .map_err(Failure::Connect)?;
        // Small requests must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        // A fixed read buffer: hyper's adaptive one doubles after each read that fills
        // it, and with thousands of users each holding its own connection a few large
        // responses would leave every buffer large. Bodies stream through it in pieces.
        let (mut sender, connection) = http1::Builder::new()
            .read_buf_exact_size(Some(READ_BUFFER))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(Failure::Hyper)?;
        self.driver = Some(Box::pin(connection));
        drive(&mut self.driver, sender.ready())
            .await
            .map_err(Failure::Hyper)?;
        self.sender = Some(sender);
        Ok(())
    }

    fn build(
        &self,
        method: Method,
        uri: Uri,
        body: Option<Bytes>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Request<Full<Bytes>> {
        let has_body = body.is_some();
        let mut request = Request::new(Full::new(body.unwrap_or_default()));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        if let Some(host) = &self.host {
            headers.insert(HOST, host.clone());
        }
        for (k, v) in self.headers.iter().chain(extra_headers) {
            headers.insert(k.clone(), v.clone());
        }
        if has_body && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if !self.cookies.is_empty() {
            let jar = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            if let Ok(v) = HeaderValue::from_str(&jar) {
                headers.insert(COOKIE, v);
            }
        }
        request
    }

    /// Keeps `name=value` of each Set-Cookie (attributes are ignored; Max-Age=0 deletes).
    #[cfg(test)]
    fn store_cookies(&mut self, headers: &http::HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            store_cookie(&mut self.cookies, value);
        }
    }

    /// The cookies the session holds (for tests and debugging).
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }
}

/// Stores the response's cookies and returns a same-host redirect's path, in one pass
/// over the (few) response headers rather than one hashed lookup per name.
fn read_head(
    cookies: &mut BTreeMap<String, String>,
    target: &Target,
    headers: &http::HeaderMap,
) -> Option<String> {
    let mut location = None;
    for (name, value) in headers {
        if name == SET_COOKIE {
            store_cookie(cookies, value);
        } else if name == LOCATION {
            location = value.to_str().ok().and_then(|l| same_host_path(target, l));
        }
    }
    location
}

/// The path of a redirect's Location when it stays on the target host.
fn same_host_path(target: &Target, location: &str) -> Option<String> {
    if location.starts_with('/') {
        return Some(location.to_owned());
    }
    let rest = location.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    authority
        .eq_ignore_ascii_case(&target.authority)
        .then(|| path.to_owned())
}

/// Keeps `name=value` of one Set-Cookie (attributes are ignored; Max-Age=0 deletes).
fn store_cookie(cookies: &mut BTreeMap<String, String>, value: &HeaderValue) {
    let Ok(text) = value.to_str() else { return };
    let mut parts = text.split(';');
    let Some((name, val)) = parts.next().and_then(|p| p.split_once('=')) else {
        return;
    };
    let name = name.trim();
    if name.is_empty() {
        return;
    }
    let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
    if expired {
        cookies.remove(name);
    } else {
        cookies.insert(name.to_owned(), val.trim().to_owned());
    }
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

/// Runs `work` to completion while polling the connection's driver in the same task:
/// the driver first, so that a response it reads completes `work` in the same poll. When
/// the connection ends, the driver is dropped and `work` sees hyper's error for it.
async fn drive<T>(driver: &mut Option<Driver>, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Some(d) = driver {
            if d.as_mut().poll(cx).is_ready() {
                *driver = None;
            }
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// Locust's text for a 4xx or 5xx status (requests' `raise_for_status`), naming the
/// request by its stats name as Locust's failures table does.
fn status_error(status: StatusCode, name: &str) -> Option<String> {
    let kind = if status.is_client_error() {
        "Client Error"
    } else if status.is_server_error() {
        "Server Error"
    } else {
        return None;
    };
    let reason = status.canonical_reason().unwrap_or("");
    Some(format!(
        "HTTPError('{} {kind}: {reason} for url: {name}')",
        status.as_u16()
    ))
}

impl Failure {
    fn describe(&self, timeout: Duration) -> String {
        match self {
            Self::Timeout => format!("Timeout: no response within {}", format_secs(timeout)),
            Self::Connect(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => {
                    "ConnectionRefusedError: connection refused".to_owned()
                }
                io::ErrorKind::ConnectionReset => reset(),
                kind => format!("ConnectionError: cannot connect ({kind})"),
            },
            Self::Hyper(e) => describe_hyper(e),
            Self::InvalidUrl(uri) => format!("InvalidURL: cannot send {uri:?} as a request target"),
            Self::TooManyRedirects => {
                format!("TooManyRedirects: exceeded {MAX_REDIRECTS} redirects")
            }
        }
    }
}

fn reset() -> String {
    "ConnectionResetError: connection reset by peer".to_owned()
}

fn describe_hyper(e: &hyper::Error) -> String {
    // An I/O error underneath says most precisely what happened.
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionReset => return reset(),
                io::ErrorKind::BrokenPipe => {
                    return "BrokenPipeError: connection closed while sending".to_owned()
                }
                io::ErrorKind::ConnectionAborted => {
                    return "ConnectionAbortedError: connection aborted".to_owned()
                }
                _ => {}
            }
        }
        source = s.source();
    }
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        "InvalidResponse: malformed HTTP response".to_owned()
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        "RemoteDisconnected: connection closed without response".to_owned()
    } else if e.is_body_write_aborted() {
        "BrokenPipeError: connection closed while sending".to_owned()
    } else {
        // Mid-body EOF and the rest: short, with hyper's own words.
        format!("ConnectionError: {e}")
    }
}

/// `60s`, `0.25s`.
pub fn format_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let target = Arc::new(Target::parse("http://127.0.0.1:1").unwrap());
        let mut s = Session::new(target, Vec::new(), Duration::from_secs(1));
        let mut h = http::HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("sid=abc; Path=/; HttpOnly"),
        );
        h.append(SET_COOKIE, HeaderValue::from_static("theme=dark"));
        s.store_cookies(&h);
        assert_eq!(s.cookies().get("sid").map(String::as_str), Some("abc"));
        let mut h = http::HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("sid=; Max-Age=0"));
        s.store_cookies(&h);
        assert_eq!(s.cookies().keys().collect::<Vec<_>>(), ["theme"]);
        let uri = s.prepare_uri("/a").unwrap();
        let req = s.build(Method::GET, uri, None, &[]);
        assert_eq!(req.headers()[COOKIE], "theme=dark");
        assert_eq!(req.headers()[HOST], "127.0.0.1:1");
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

    #[test]
    fn timeouts_read_well() {
        assert_eq!(format_secs(Duration::from_secs(60)), "60s");
        assert_eq!(format_secs(Duration::from_millis(250)), "0.25s");
    }
}
