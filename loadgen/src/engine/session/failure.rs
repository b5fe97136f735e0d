//! What went wrong with a request, in the words of Python's exceptions and requests'
//! `raise_for_status`, as Locust's failures table shows them.

use std::io;
use std::time::Duration;

use http::StatusCode;

use super::MAX_REDIRECTS;
use crate::stats::{CANNOT_CONNECT, CONNECTION_REFUSED};

/// A failure before the status could be judged.
#[derive(Debug)]
pub(super) enum Failure {
    /// The host name did not resolve.
    Resolve(String, io::Error),
    Connect(io::Error),
    /// The TLS handshake with the host failed (a certificate refused, an alert).
    Handshake(String, io::Error),
    /// The TLS configuration could not be built.
    TlsSetup(String),
    /// Writing the request or reading the response failed.
    Io(io::Error),
    /// The connection closed before a whole response head arrived, after staying
    /// silent this long since the request was sent (zero when no byte arrived late).
    Closed {
        silent: Duration,
    },
    /// The response is not HTTP/1.x as RFC 9112 frames it.
    Malformed,
    /// The connection closed before the whole body arrived.
    Incomplete,
    Timeout,
    /// The rendered path is not a valid URI (e.g. a space in a choice).
    InvalidUrl(String),
    /// More than [`MAX_REDIRECTS`] redirects in a row.
    TooManyRedirects,
}

/// Locust's text for a 4xx or 5xx status (requests' `raise_for_status`), naming the
/// request by its stats name as Locust's failures table does.
pub(super) fn status_error(status: StatusCode, name: &str) -> Option<String> {
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
    pub(super) fn describe(&self, timeout: Duration) -> String {
        match self {
            Self::Timeout => format!("Timeout: no response within {}", format_secs(timeout)),
            Self::Resolve(host, e) => {
                format!("NameResolutionError: failed to resolve {host:?} ({e})")
            }
            Self::Handshake(host, e) => super::tls::describe_handshake(e, host),
            Self::TlsSetup(e) => format!("SSLError: cannot set up TLS ({e})"),
            Self::Connect(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => CONNECTION_REFUSED.to_owned(),
                io::ErrorKind::ConnectionReset => reset(),
                kind => format!("{CANNOT_CONNECT} ({kind})"),
            },
            Self::Io(e) => describe_io(e),
            Self::Closed { silent } => closed(*silent),
            Self::Malformed => "InvalidResponse: malformed HTTP response".to_owned(),
            Self::Incomplete => {
                "ConnectionError: connection closed before the whole body arrived".to_owned()
            }
            Self::InvalidUrl(uri) => format!("InvalidURL: cannot send {uri:?} as a request target"),
            Self::TooManyRedirects => {
                format!("TooManyRedirects: exceeded {MAX_REDIRECTS} redirects")
            }
        }
    }
}

/// A close without a response. One that came after a second or more of silence says how
/// long (in whole seconds, so a failures table keeps one row per second, not per
/// request): a stuck request ended by the server is told apart from a dropped one.
fn closed(silent: Duration) -> String {
    if silent < Duration::from_secs(1) {
        "RemoteDisconnected: connection closed without response".to_owned()
    } else {
        format!(
            "RemoteDisconnected: connection closed after {:.1} s without a response",
            silent.as_secs() as f64
        )
    }
}

fn reset() -> String {
    "ConnectionResetError: connection reset by peer".to_owned()
}

/// An I/O error while sending or reading, in the words of Python's exceptions.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionReset => reset(),
        io::ErrorKind::BrokenPipe => "BrokenPipeError: connection closed while sending".to_owned(),
        io::ErrorKind::ConnectionAborted => "ConnectionAbortedError: connection aborted".to_owned(),
        io::ErrorKind::UnexpectedEof => {
            "RemoteDisconnected: connection closed without response".to_owned()
        }
        _ => format!("ConnectionError: {e}"),
    }
}

/// `60s`, `0.25s`.
pub(crate) fn format_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}
