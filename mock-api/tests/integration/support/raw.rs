//! A raw HTTP/1.1 client over a tokio `TcpStream`, to see exactly what the server puts
//! on the wire (or does not). Every read is bounded in time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a bounded read saw.
#[derive(Debug)]
pub enum Seen {
    /// Bytes, then EOF (`chunks` reads returned data).
    Eof {
        bytes: Vec<u8>,
        chunks: usize,
        elapsed: Duration,
    },
    /// The read failed (e.g. ConnectionReset) after these bytes.
    Error {
        bytes: Vec<u8>,
        kind: std::io::ErrorKind,
    },
    /// Nothing more within the wait; these bytes came before.
    Silent { bytes: Vec<u8> },
}

/// Connects and writes one request (`Connection: close`).
pub async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n");
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    stream
        .write_all(req.as_bytes())
        .await
        .expect("writes the request");
    stream
}

/// Reads until EOF, an error, or `wait` passes with no byte.
pub async fn read_all(stream: &mut TcpStream, wait: Duration) -> Seen {
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut chunks = 0;
    let mut buf = [0u8; 65536];
    // Bounded: at most 10_000 reads.
    for _ in 0..10_000 {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Err(_) => return Seen::Silent { bytes },
            Ok(Ok(0)) => {
                return Seen::Eof {
                    bytes,
                    chunks,
                    elapsed: start.elapsed(),
                }
            }
            Ok(Ok(n)) => {
                chunks += 1;
                bytes.extend_from_slice(&buf[..n]);
            }
            Ok(Err(e)) => {
                return Seen::Error {
                    bytes,
                    kind: e.kind(),
                }
            }
        }
    }
    panic!("more than 10000 reads");
}

/// Splits an HTTP/1.1 response into status, lower-cased head and body.
pub fn parse(bytes: &[u8]) -> (u16, String, Vec<u8>) {
    let text = String::from_utf8_lossy(bytes);
    let end = text
        .find("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let head = text[..end].to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, head, bytes[end + 4..].to_vec())
}
