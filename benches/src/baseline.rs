//! A bare axum server that answers `GET /health` and `GET /api/clients` with fixed bytes
//! (captured from mock-api), so that a comparison under the same load shows what
//! mock-api's layers, database and statistics cost on top of axum itself.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;

/// The bodies the baseline answers with.
#[derive(Debug, Clone)]
pub struct Bodies {
    /// The body of `GET /health`.
    pub health: Bytes,
    /// The body of `GET /api/clients`.
    pub clients: Bytes,
}

/// The router: two routes, each a clone of its fixed body as `application/json`, after
/// `delay` (zero: at once; the scale runs hold each request, as mock-api's profiles do).
pub fn router(bodies: Bodies, delay: Duration) -> Router {
    let Bodies { health, clients } = bodies;
    let json = move |b: Bytes| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        ([(header::CONTENT_TYPE, "application/json")], b)
    };
    Router::new()
        .route("/health", get(move || json(health.clone())))
        .route("/api/clients", get(move || json(clients.clone())))
}

/// Serves `router` (see [`router`]) on `addr` until the process ends; reports the
/// bound address first.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn answers_each_route_with_its_bytes() {
        let bodies = Bodies {
            health: Bytes::from_static(br#"{"status":"healthy"}"#),
            clients: Bytes::from_static(br#"{"count":0,"clients":[]}"#),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        tokio::spawn(serve(addr, router(bodies, Duration::ZERO), move |a| {
            let _ = tx.send(a);
        }));
        let addr = rx.await.unwrap();
        for (path, body) in [
            ("/health", r#"{"status":"healthy"}"#),
            ("/api/clients", r#"{"count":0,"clients":[]}"#),
        ] {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
            assert!(out.contains("content-type: application/json"), "{out}");
            assert!(out.ends_with(body), "{path}: {out}");
        }
    }
}
