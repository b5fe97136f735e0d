//! A user's HTTP session, like a Locust `HttpUser`'s client: one keep-alive HTTP/1.1
//! connection (reopened when it breaks), a cookie jar, default headers. Each request is
//! timed from sending until the whole body is read, and any failure becomes a short
//! error string naming its kind, grouped in the failures table.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
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
}

/// One user's session with the target.
#[derive(Debug)]
pub struct Session {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The task driving the connection; aborted when the connection is given up, so a
    /// hung server cannot keep it alive.
    driver: Option<tokio::task::JoinHandle<()>>,
    cookies: BTreeMap<String, String>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
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

/// Redirects followed before giving up, as in requests.
const MAX_REDIRECTS: u32 = 30;

impl Session {
    /// A session with default headers (a class's `headers`, set on start) and a timeout.
    pub fn new(
        target: Arc<Target>,
        headers: Vec<(HeaderName, HeaderValue)>,
        timeout: Duration,
    ) -> Self {
        Self {
            target,
            sender: None,
            driver: None,
            cookies: BTreeMap::new(),
            headers,
            timeout,
        }
    }

    /// Sends one request and reads the whole response. `name` is the stats name, used in
    /// HTTP error texts as Locust does.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        name: &str,
        body: Option<String>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Exchange {
        let start = Instant::now();
        let timeout = self.timeout;
        let outcome =
            tokio::time::timeout(timeout, self.exchange(method, path, body, extra_headers)).await;
        let response_time = start.elapsed();
        match outcome {
            Ok(Ok((status, content_length))) => Exchange {
                response_time,
                content_length,
                error: status_error(status, name),
                status: Some(status),
            },
            Ok(Err((failure, content_length))) => {
                // The connection is in an unknown state: open a fresh one next time.
                self.drop_connection();
                Exchange {
                    response_time,
                    content_length,
                    error: Some(failure.describe(timeout)),
                    status: None,
                }
            }
            Err(_) => {
                self.drop_connection();
                Exchange {
                    response_time,
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
        path: &str,
        body: Option<String>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Result<(StatusCode, u64), (Failure, u64)> {
        let mut method = method;
        let mut uri = format!("{}{}", self.target.base_path, path);
        let mut body = body.map(Bytes::from);
        // Like requests (Locust's HttpUser), follow redirects on the same host; the
        // response time covers the whole chain.
        let mut redirects = 0;
        loop {
            let request = self
                .build(method.clone(), &uri, body.clone(), extra_headers)
                .map_err(|f| (f, 0))?;
            let sender = self.connection().await.map_err(|f| (f, 0))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| (Failure::Hyper(e), 0))?;
            let status = response.status();
            self.store_cookies(response.headers());
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| self.same_host_path(l));
            let mut response_body = response.into_body();
            let mut length = 0u64;
            while let Some(frame) = response_body.frame().await {
                let frame = frame.map_err(|e| (Failure::Hyper(e), length))?;
                if let Some(data) = frame.data_ref() {
                    length += data.len() as u64;
                }
            }
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
            uri = next;
        }
    }

    /// The path of a redirect's Location when it stays on the target host.
    fn same_host_path(&self, location: &str) -> Option<String> {
        if location.starts_with('/') {
            return Some(location.to_owned());
        }
        let rest = location.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        authority
            .eq_ignore_ascii_case(&self.target.authority)
            .then(|| path.to_owned())
    }

    /// Gives up the connection (after a failure, or when it closed).
    fn drop_connection(&mut self) {
        self.sender = None;
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
    }

    /// The open connection, or a new one when there is none or it closed.
    async fn connection(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, Failure> {
        if let Some(sender) = &mut self.sender {
            if sender.is_closed() || sender.ready().await.is_err() {
                self.drop_connection();
            }
        }
        if self.sender.is_none() {
            let stream = TcpStream::connect(&self.target.addrs[..])
                .await
                .map_err(Failure::Connect)?;
            // Small requests must not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(Failure::Hyper)?;
            // The connection task ends when the server closes or the sender is dropped.
            self.driver = Some(tokio::spawn(async move {
                let _ = connection.await;
            }));
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or(Failure::Timeout)
    }

    fn build(
        &self,
        method: Method,
        uri: &str,
        body: Option<Bytes>,
        extra_headers: &[(HeaderName, HeaderValue)],
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let parsed: http::Uri = uri
            .parse()
            .map_err(|_| Failure::InvalidUrl(uri.to_owned()))?;
        let has_body = body.is_some();
        let mut request = Request::new(Full::new(body.unwrap_or_default()));
        *request.method_mut() = method;
        *request.uri_mut() = parsed;
        let headers = request.headers_mut();
        if let Ok(host) = HeaderValue::from_str(&self.target.authority) {
            headers.insert(HOST, host);
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
        Ok(request)
    }

    /// Keeps `name=value` of each Set-Cookie (attributes are ignored; Max-Age=0 deletes).
    fn store_cookies(&mut self, headers: &http::HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let mut parts = text.split(';');
            let Some((name, val)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if expired {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), val.trim().to_owned());
            }
        }
    }

    /// The cookies the session holds (for tests and debugging).
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.drop_connection();
    }
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
        let req = s.build(Method::GET, "/a", None, &[]).ok().unwrap();
        assert_eq!(req.headers()[COOKIE], "theme=dark");
        assert_eq!(req.headers()[HOST], "127.0.0.1:1");
    }

    #[test]
    fn timeouts_read_well() {
        assert_eq!(format_secs(Duration::from_secs(60)), "60s");
        assert_eq!(format_secs(Duration::from_millis(250)), "0.25s");
    }
}
