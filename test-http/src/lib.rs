//! The HTTP client the workspace's tests share, so that no test writes HTTP by hand:
//! reqwest, to loopback only (a test never sends traffic anywhere else), with no proxy
//! from the environment, a fresh connection per request (each exchange stands alone, as
//! the raw requests it replaces did) and every exchange bounded in time.
//!
//! [`send`] and [`get`] are for async tests; [`blocking`] has the same for plain test
//! threads. Tests that look at the bytes a server puts on the wire keep a raw socket.

#![warn(missing_docs, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

pub use reqwest::{self, header};

/// The longest one exchange may take, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A whole response: its status, headers and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: header::HeaderMap,
    /// The body, read to its end.
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request on either client (async or blocking: same methods, different types) that
/// asks for JSON and sends `body` as JSON when given.
macro_rules! json_request {
    ($client:expr, $addr:expr, $method:expr, $path:expr, $body:expr) => {{
        let method = reqwest::Method::from_bytes($method.as_bytes()).expect("an HTTP method");
        let request = $client
            .request(method, url($addr, $path))
            .header(header::ACCEPT, "application/json");
        match $body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_owned()),
            None => request,
        }
    }};
}

/// `http://ADDR/PATH`; panics on an address other than loopback.
pub fn url(addr: SocketAddr, path: &str) -> String {
    assert!(
        addr.ip().is_loopback(),
        "{addr}: tests send requests to loopback only"
    );
    format!("http://{addr}{path}")
}

/// An async client: no proxy, no idle connections kept, bounded by [`TIMEOUT`].
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .build()
        .expect("reqwest builds a client without TLS")
}

/// `METHOD path` to `addr` on a new [`client`], asking for JSON, with `body` sent as
/// JSON when given.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> reqwest::RequestBuilder {
    json_request!(client(), addr, method, path, body)
}

/// Sends a request built on [`client`] and reads the whole response.
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Result<Reply> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await?.to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// `GET path` from `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> reqwest::Result<Reply> {
    send(client().get(url(addr, path))).await
}

/// The same for plain test threads (never inside an async runtime: reqwest's blocking
/// client runs one of its own).
pub mod blocking {
    use std::net::SocketAddr;

    use super::{header, url, Reply, TIMEOUT};

    /// A blocking client: no proxy, no idle connections kept, bounded by [`TIMEOUT`].
    pub fn client() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .build()
            .expect("reqwest builds a client without TLS")
    }

    /// `METHOD path` to `addr` on a new [`client`], asking for JSON, with `body` sent as
    /// JSON when given.
    pub fn request(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> reqwest::blocking::RequestBuilder {
        json_request!(client(), addr, method, path, body)
    }

    /// Sends a request built on [`client`] and reads the whole response.
    pub fn send(request: reqwest::blocking::RequestBuilder) -> reqwest::Result<Reply> {
        let response = request.send()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes()?.to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// `GET path` from `addr`.
    pub fn get(addr: SocketAddr, path: &str) -> reqwest::Result<Reply> {
        send(client().get(url(addr, path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot server on loopback that answers `response` to the first request and
    /// hands back what it was sent.
    fn serve_once(response: &'static str) -> (SocketAddr, std::thread::JoinHandle<String>) {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "the client closed before its request ended");
                seen.extend_from_slice(&buf[..n]);
            }
            conn.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        });
        (addr, handle)
    }

    #[test]
    fn a_blocking_get_reads_status_headers_and_a_chunked_body() {
        let (addr, server) = serve_once(
            "HTTP/1.1 201 Created\r\nX-Test: yes\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        );
        let reply = blocking::get(addr, "/x?y=1").unwrap();
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("x-test"), Some("yes"));
        assert_eq!(reply.json(), serde_json::json!({"a": 1}));
        assert!(server
            .join()
            .unwrap()
            .starts_with("GET /x?y=1 HTTP/1.1\r\n"));
    }

    #[test]
    #[should_panic(expected = "loopback only")]
    fn other_addresses_are_refused_before_any_traffic() {
        url(SocketAddr::from(([192, 0, 2, 1], 80)), "/");
    }
}
