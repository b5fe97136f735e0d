//! Reading a response: the head parsed with httparse into what the session needs (status,
//! framing, whether the connection stays open, a redirect's location, cookies for the
//! jar), and the body counted as it streams through the connection's buffer, framed as
//! RFC 9112 says.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use tokio::io::AsyncReadExt;

use super::connect::Conn;
use super::failure::Failure;
use super::{LARGE_READ, MAX_HEAD, MAX_HEADERS};

/// How the body of a response is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body: a HEAD request, or a 1xx, 204 or 304 status.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// What the session needs from a response head.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) status: StatusCode,
    /// Bytes of the head, status line to the blank line.
    pub(super) len: usize,
    pub(super) framing: Framing,
    /// Whether the connection cannot be kept after this response.
    pub(super) close: bool,
    /// A redirect's Location, as sent.
    pub(super) location: Option<String>,
    /// The server's own time for this response (`Server-Timing: app;dur=`), µs.
    pub(super) server_us: Option<u64>,
}

/// A response body being read: buffered bytes are counted and dropped (or kept, when a
/// check needs them), more are read from the socket as needed.
pub(super) struct Body<'a> {
    pub(super) stream: &'a mut Conn,
    pub(super) buf: &'a mut Vec<u8>,
    /// Body bytes counted so far.
    pub(super) length: u64,
    /// Where the body is kept, when a check needs it.
    pub(super) kept: Option<&'a mut Vec<u8>>,
}

impl Body<'_> {
    /// Reads the body as `framing` delimits it (counting its bytes, keeping them only
    /// when asked) and returns its length.
    pub(super) async fn read(mut self, framing: Framing) -> Result<u64, (Failure, u64)> {
        match framing {
            Framing::Empty => {}
            Framing::Length(n) => self.skip(n).await?,
            Framing::UntilClose => loop {
                let n = self.buf.len();
                self.consume(n);
                if self.fill().await? == 0 {
                    break;
                }
            },
            Framing::Chunked => loop {
                let size = loop {
                    match httparse::parse_chunk_size(self.buf) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            self.buf.drain(..used);
                            break size;
                        }
                        Ok(httparse::Status::Partial) => self.fill_line().await?,
                        Err(_) => return Err((Failure::Malformed, self.length)),
                    }
                };
                if size == 0 {
                    // Trailer lines, up to the blank line that ends the message.
                    loop {
                        match self.buf.windows(2).position(|w| w == b"\r\n") {
                            Some(end) => {
                                self.buf.drain(..end + 2);
                                if end == 0 {
                                    break;
                                }
                            }
                            None => self.fill_line().await?,
                        }
                    }
                    break;
                }
                self.skip(size).await?;
                while self.buf.len() < 2 {
                    self.fill_line().await?;
                }
                if self.buf[..2] != *b"\r\n" {
                    return Err((Failure::Malformed, self.length));
                }
                self.buf.drain(..2);
            },
        }
        Ok(self.length)
    }

    /// Counts and drops the first `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        if let Some(kept) = self.kept.as_mut() {
            let room = super::MAX_KEPT_BODY.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&self.buf[..room]);
        }
        self.buf.drain(..n);
        self.length += n as u64;
    }

    /// Reads more into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> Result<usize, (Failure, u64)> {
        if self.buf.len() == self.buf.capacity() {
            let more = if self.buf.capacity() < LARGE_READ {
                LARGE_READ - self.buf.len()
            } else {
                self.buf.len()
            };
            self.buf.reserve(more);
        }
        self.stream
            .read_buf(self.buf)
            .await
            .map_err(|e| (Failure::Io(e), self.length))
    }

    /// Reads more of a chunk-size or trailer line, which must be short.
    async fn fill_line(&mut self) -> Result<(), (Failure, u64)> {
        if self.buf.len() >= MAX_HEAD {
            return Err((Failure::Malformed, self.length));
        }
        match self.fill().await? {
            0 => Err((Failure::Incomplete, self.length)),
            _ => Ok(()),
        }
    }

    /// Counts and drops the next `n` body bytes.
    async fn skip(&mut self, n: u64) -> Result<(), (Failure, u64)> {
        let mut remaining = n;
        loop {
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            self.consume(take);
            remaining -= take as u64;
            if remaining == 0 {
                return Ok(());
            }
            // A long body streams through larger reads.
            if remaining > self.buf.capacity() as u64 && self.buf.capacity() < LARGE_READ {
                self.buf.reserve(LARGE_READ);
            }
            if self.fill().await? == 0 {
                return Err((Failure::Incomplete, self.length));
            }
        }
    }
}

/// Parses a response head at the start of `buf`: `None` while it is incomplete. The
/// head's cookies go into the jar.
pub(super) fn parse_head(
    buf: &[u8],
    method: &Method,
    cookies: &mut BTreeMap<String, String>,
) -> Result<Option<Head>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(Failure::Malformed),
    };
    let status = response
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(Failure::Malformed)?;
    let mut location = None;
    let mut length: Option<u64> = None;
    let mut encoded = false;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut server_us = None;
    for h in response.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("set-cookie") {
            if let Ok(text) = std::str::from_utf8(h.value) {
                store_cookie(cookies, text);
            }
        } else if name.eq_ignore_ascii_case("location") && status.is_redirection() {
            location = std::str::from_utf8(h.value)
                .ok()
                .map(|l| l.trim().to_owned());
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(Failure::Malformed)?;
            // Repeated lengths must agree (RFC 9110 section 8.6).
            if length.is_some_and(|l| l != n) {
                return Err(Failure::Malformed);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            // Chunked must be the last coding applied.
            chunked = std::str::from_utf8(h.value).is_ok_and(|v| {
                v.rsplit(',')
                    .next()
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
            });
        } else if name.eq_ignore_ascii_case("server-timing") {
            server_us = server_us.or(crate::stats::server_timing_app_us(h.value));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in std::str::from_utf8(h.value).unwrap_or("").split(',') {
                let token = token.trim();
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
    }
    let framing = if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        Framing::Empty
    } else if encoded {
        // Transfer-Encoding overrides Content-Length; without chunked last, the body
        // runs to the close.
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    // HTTP/1.0 closes unless asked to keep alive.
    let http10 = response.version == Some(0);
    let close = close || (http10 && !keep_alive) || framing == Framing::UntilClose;
    Ok(Some(Head {
        status,
        len,
        framing,
        close,
        location,
        server_us,
    }))
}

/// Keeps `name=value` of one Set-Cookie (attributes are ignored; Max-Age=0 deletes).
pub(super) fn store_cookie(cookies: &mut BTreeMap<String, String>, text: &str) {
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
