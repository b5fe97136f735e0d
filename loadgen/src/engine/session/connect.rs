//! Opening a connection: the host resolved (every address tried in order), TCP with
//! Nagle off, and for `https` the TLS handshake with SNI; and [`Conn`], the plain or TLS
//! stream the session reads and writes. The [`Connector`] is the run's, shared by every
//! user: the target, the resolver, and one TLS configuration (with its resumption cache).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::failure::Failure;
use super::resolve::Resolver;
use super::tls::client_config;
use crate::plan::target::{Origin, Scheme, Target, TlsOptions};

/// How a run's users reach hosts.
#[derive(Debug)]
pub(crate) struct Connector {
    /// The target: the origin of every relative request.
    pub(crate) target: Target,
    /// The target's origin, shared so that a session tells it apart by pointer.
    pub(crate) origin: Arc<Origin>,
    resolver: Resolver,
    tls_options: TlsOptions,
    /// Built on the first TLS connection (at once when the target is `https`).
    tls: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl Connector {
    /// The connector of a run.
    pub(crate) fn new(target: Target, tls_options: TlsOptions, resolver: Resolver) -> Self {
        let connector = Self {
            origin: Arc::new(target.origin.clone()),
            target,
            resolver,
            tls_options,
            tls: OnceLock::new(),
        };
        if connector.target.origin.scheme == Scheme::Https {
            // The system's roots are read before the run, not in its first request.
            let _ = connector.tls();
        }
        connector
    }

    /// The same TLS options and resolver for another target (a Locust master's `host`).
    pub(crate) fn retargeted(&self, target: Target) -> Self {
        Self::new(target, self.tls_options.clone(), self.resolver.clone())
    }

    fn tls(&self) -> &Result<Arc<ClientConfig>, String> {
        self.tls
            .get_or_init(|| client_config(&self.tls_options).map_err(|e| e.to_string()))
    }

    /// A new connection to `origin`.
    pub(super) async fn open(&self, origin: &Origin) -> Result<Conn, Failure> {
        let addrs = self
            .resolver
            .resolve(origin)
            .await
            .map_err(|e| Failure::Resolve(origin.host.clone(), e))?;
        let tcp = TcpStream::connect(&addrs[..])
            .await
            .map_err(Failure::Connect)?;
        // Small requests must not wait for Nagle's algorithm.
        let _ = tcp.set_nodelay(true);
        if origin.scheme == Scheme::Http {
            return Ok(Conn::Plain(tcp));
        }
        let config = self
            .tls()
            .as_ref()
            .map_err(|e| Failure::TlsSetup(e.clone()))?;
        // A name is sent as SNI; an IP literal is checked against the certificate's
        // addresses and sends none (RFC 6066).
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|_| Failure::InvalidUrl(origin.to_string()))?;
        let stream = TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await
            .map_err(|e| Failure::Handshake(origin.host.clone(), e))?;
        Ok(Conn::Tls(Box::new(stream)))
    }
}

/// An open connection, plain or TLS (boxed: rustls's connection state is large, and a
/// plain connection should not pay for it).
#[derive(Debug)]
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Whether a kept-alive connection can take a request: nothing arrived while it was
    /// idle (a close, an alert or stray bytes show as readable data). Looks without
    /// reading, so a TLS stream's records are left intact.
    pub(crate) fn is_idle(&self) -> bool {
        let tcp = match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => tls.get_ref().0,
        };
        let mut byte = [0u8; 1];
        let mut buf = ReadBuf::new(&mut byte);
        let mut cx = Context::from_waker(Waker::noop());
        tcp.poll_peek(&mut cx, &mut buf).is_pending()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            // A close without TLS's close_notify ends the stream, as Python's ssl module
            // reads it (suppress_ragged_eofs): a cut body is still caught by its framing.
            Self::Tls(tls) => match Pin::new(&mut **tls).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Self::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Self::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Self::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }
}
