//! What a connection shares with the requests it carries: when the request arrived,
//! who sent it, and a slot through which the behaviour layer asks the connection task to
//! enact a connection-level fault (reset, close, garbage) that no `Response` can express.
//!
//! The socket is shared through an `Arc` (see [`SharedStream`]) so that once hyper's
//! connection is dropped mid-request, the connection task still holds the socket and can
//! reset it, close it or write garbage on it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// When the request's head was received (the start of its server time), and whether it
/// was the first on its connection (its time then excludes the connection's opening:
/// the handshake, the wait to be accepted, which happen before the server sees a byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub at: Instant,
    pub first_on_connection: bool,
}

/// The peer's address, for the admin access rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerAddr(pub SocketAddr);

/// A fault the connection task enacts after dropping hyper's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnAction {
    /// SO_LINGER 0 and close: the peer sees RST.
    Reset,
    /// Close with no response: the peer sees EOF.
    Close,
    /// Write these bytes, then close.
    Garbage(Vec<u8>),
}

/// The per-connection slot a request uses to hand a [`ConnAction`] to its connection.
#[derive(Debug, Default)]
pub(crate) struct ConnSlot {
    action: Mutex<Option<ConnAction>>,
    notify: Notify,
}

impl ConnSlot {
    /// A new, empty slot.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Asks the connection to enact `action` (the request future is then dropped).
    pub(crate) fn request(&self, action: ConnAction) {
        *self.action.lock().unwrap_or_else(PoisonError::into_inner) = Some(action);
        self.notify.notify_one();
    }

    /// Waits until an action is requested and takes it.
    pub(crate) async fn wait(&self) -> ConnAction {
        loop {
            self.notify.notified().await;
            if let Some(a) = self
                .action
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                return a;
            }
        }
    }
}

/// A `TcpStream` hyper reads and writes through an `Arc`, so another owner keeps the
/// socket after hyper lets go. Uses tokio's `&self` readiness API, no `unsafe`.
#[derive(Debug, Clone)]
pub(crate) struct SharedStream(pub Arc<TcpStream>);

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            let len = buf.remaining();
            let mut read = None;
            // A short read drained the socket: reported to `try_io` as would-block, it
            // clears the readiness seen before the read (as tokio's own TcpStream does),
            // so the next poll waits for epoll instead of a read that fails with EAGAIN.
            // `try_read_buf` reads into the buffer's uninitialised part, which it fills
            // and advances: zeroing hyper's 8 KiB read buffer before every read (as
            // `try_read` on `initialize_unfilled` needs) was a sixth of the mock's
            // instructions per request (callgrind).
            let outcome = self.0.try_io(Interest::READABLE, || {
                let n = self.0.try_read_buf(buf)?;
                read = Some(n);
                if n > 0 && n < len {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(())
                }
            });
            match (read, outcome) {
                (Some(_), _) => return Poll::Ready(Ok(())),
                (None, Err(e)) if e.kind() != io::ErrorKind::WouldBlock => {
                    return Poll::Ready(Err(e))
                }
                (None, _) => continue,
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes (FIN) when the last owner drops it; a half-close is not needed.
        Poll::Ready(Ok(()))
    }
}

/// hyper answers a request head it cannot parse (a Content-Length that is not a number
/// or is given twice with different values, a bad method, URI, version or header, a
/// head too large) itself, before any service sees the request: `Conn::on_parse_error`
/// writes the bare head `Http1Transaction::on_error` builds (400, 414 or 431, empty,
/// `connection: close`; hyper 1.x `src/proto/h1/conn.rs` and `role.rs`), and no builder
/// option shapes or replaces it. So the mock's stream withholds that head on its way out
/// (it is the only answer without a Content-Type the mock sends, since every one of the
/// router's carries one) and the connection task answers the same status in JSON,
/// naming hyper's error, once hyper has returned it.
#[derive(Debug, Clone)]
pub(crate) struct ShapedStream {
    stream: SharedStream,
    withheld: Arc<Mutex<Option<u16>>>,
}

impl ShapedStream {
    /// Wraps `stream`.
    pub(crate) fn new(stream: SharedStream) -> Self {
        Self {
            stream,
            withheld: Arc::default(),
        }
    }

    /// The status of hyper's own error answer, when one was withheld.
    pub(crate) fn withheld(&self) -> Option<u16> {
        *self.withheld.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The status of `data` when it is exactly hyper's own answer to an unparsable head.
fn hypers_own_answer(data: &[u8]) -> Option<u16> {
    let head = std::str::from_utf8(data).ok()?;
    let rest = head.strip_prefix("HTTP/1.1 ")?;
    let status: u16 = rest.get(..3)?.parse().ok()?;
    let lower = head.to_ascii_lowercase();
    let bare = head.ends_with("\r\n\r\n")
        && head.find("\r\n\r\n") == Some(head.len() - 4)
        && lower.contains("\r\ncontent-length: 0\r\n")
        && lower.contains("\r\nconnection: close\r\n")
        && !lower.contains("\r\ncontent-type:");
    (bare && matches!(status, 400 | 414 | 431)).then_some(status)
}

impl AsyncRead for ShapedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ShapedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(status) = hypers_own_answer(data) {
            *self.withheld.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
            return Poll::Ready(Ok(data.len()));
        }
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The JSON answer, with `status`, to a request head hyper could not parse (`why`).
pub(crate) fn unparsable_head_answer(status: u16, why: &str) -> Vec<u8> {
    let code = match status {
        414 => "uri_too_long",
        431 => "headers_too_large",
        _ => "bad_request",
    };
    let body = serde_json::to_string(&crate::error::ErrorBody {
        detail: format!("the request head could not be read: {why}"),
        error: code.to_owned(),
    })
    .unwrap_or_default();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Bad Request");
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Enacts `action` on `stream` once hyper no longer uses it, then drops it.
pub(crate) async fn enact(action: ConnAction, stream: Arc<TcpStream>) -> io::Result<()> {
    if action != ConnAction::Reset {
        drain(&stream);
    }
    match action {
        ConnAction::Reset => stream.set_zero_linger(),
        ConnAction::Close => Ok(()),
        ConnAction::Garbage(bytes) => {
            let mut written = 0;
            while written < bytes.len() {
                stream.writable().await?;
                match stream.try_write(&bytes[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
    // Dropping the last Arc closes the socket: FIN, or RST after zero linger.
}

/// Reads away what the peer already sent: closing a socket with unread input makes the
/// kernel send RST, and a `Close` or `Garbage` fault must end in a clean FIN.
fn drain(stream: &TcpStream) {
    let mut sink = [0u8; 4096];
    for _ in 0..256 {
        match stream.try_read(&mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A short read clears the socket's readiness; data arriving after it must still
    /// wake the reader (a readiness cleared too late would lose that wake-up).
    #[tokio::test]
    async fn reads_each_write_after_a_short_read_and_then_eof() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let mut stream = SharedStream(Arc::new(listener.accept().await.unwrap().0));
        let mut buf = [0_u8; 64];
        for chunk in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"second", b"x"] {
            peer.write_all(chunk).await.unwrap();
            let n = stream.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], chunk);
        }
        drop(peer);
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0, "EOF");
    }
}
