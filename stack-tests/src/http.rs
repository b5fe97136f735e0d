//! GET over HTTP for Prometheus's API and readiness endpoints, through the workspace's
//! shared test client (reqwest's blocking one: the callers are plain test threads).
//! Loopback only, so no TLS.

use std::net::SocketAddr;
use std::time::Duration;

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, sending or reading failed.
    #[error("GET http://{addr}{target}: {source}")]
    Request {
        /// The server.
        addr: SocketAddr,
        /// The request target.
        target: String,
        /// What reqwest reported.
        #[source]
        source: reqwest::Error,
    },
}

/// A response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// Sends `GET target` to `addr` and reads the whole response, within `timeout`.
pub fn get(addr: SocketAddr, target: &str, timeout: Duration) -> Result<Response, HttpError> {
    let fail = |source| HttpError::Request {
        addr,
        target: target.to_owned(),
        source,
    };
    let request = test_http::blocking::client()
        .get(test_http::url(addr, target))
        .timeout(timeout);
    let reply = test_http::blocking::send(request).map_err(fail)?;
    Ok(Response {
        status: reply.status,
        body: reply.text(),
    })
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved bytes).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_query_value(r#"sum(rate(x{a=~"[23].."}[5s]))"#),
            "sum%28rate%28x%7Ba%3D~%22%5B23%5D..%22%7D%5B5s%5D%29%29"
        );
        assert_eq!(encode_query_value("a b+c"), "a%20b%2Bc");
    }

    #[test]
    fn a_get_reads_status_and_body_and_a_closed_port_is_an_error() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = [0u8; 1024];
            let n = conn.read(&mut head).unwrap();
            conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 7\r\nConnection: close\r\n\r\nnot yet")
                .unwrap();
            String::from_utf8_lossy(&head[..n]).into_owned()
        });
        let r = get(addr, "/-/ready?x=%20", Duration::from_secs(5)).unwrap();
        assert_eq!((r.status, r.body.as_str()), (503, "not yet"));
        assert!(server
            .join()
            .unwrap()
            .starts_with("GET /-/ready?x=%20 HTTP/1.1\r\n"));
        let e = get(addr, "/", Duration::from_secs(1)).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!("GET http://{addr}/: ")),
            "{e}"
        );
    }
}
