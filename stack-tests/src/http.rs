//! A minimal HTTP/1.0 GET over `std::net::TcpStream`, enough for Prometheus's API and
//! readiness endpoints. HTTP/1.0 keeps the answer simple: no chunked encoding, the body
//! ends when the server closes the connection.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, writing or reading failed.
    #[error("GET http://{addr}{target}: {source}")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// The request target.
        target: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The answer is not an HTTP response.
    #[error("GET http://{addr}{target}: malformed response: {reason}")]
    Malformed {
        /// The server.
        addr: SocketAddr,
        /// The request target.
        target: String,
        /// What was wrong.
        reason: String,
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

/// Sends `GET target` to `addr` and reads the whole response, each step bounded by
/// `timeout`.
pub fn get(addr: SocketAddr, target: &str, timeout: Duration) -> Result<Response, HttpError> {
    let io = |source| HttpError::Io {
        addr,
        target: target.to_owned(),
        source,
    };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let request = format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw).map_err(|reason| HttpError::Malformed {
        addr,
        target: target.to_owned(),
        reason,
    })
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {} bytes", raw.len()))?;
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    Ok(Response {
        status,
        body: body.to_owned(),
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
    fn responses_parse_and_garbage_is_refused() {
        let ok = parse_response(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!((ok.status, ok.body.as_str()), (200, "{\"a\":1}"));
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_err());
        assert!(parse_response(b"hello\r\n\r\n").is_err());
    }
}
