//! Test servers on 127.0.0.1:0: an axum app for normal answers (also over HTTPS, see
//! `tls`) and raw TCP servers that misbehave in one way each, plus helpers to build
//! scenarios and configs.

pub mod tls;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use loadgen::{RunConfig, Scenario, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Starts the axum test app and returns its address. The server lives as long as the
/// test's runtime.
pub async fn app() -> SocketAddr {
    let router = router();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// The test app's routes: fixed statuses, a slow answer, a login cookie, trades,
/// `Connection: close`, redirects, JSON, and "ok" for anything else.
pub fn router() -> Router {
    Router::new()
        .route(
            "/status/503",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route("/status/404", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "slow"
            }),
        )
        .route(
            "/login",
            get(|| async { ([("set-cookie", "sid=42; Path=/; HttpOnly")], "in") }),
        )
        .route(
            "/me",
            get(|headers: HeaderMap| async move {
                let cookie = headers
                    .get("cookie")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if cookie.contains("sid=42") {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        )
        .route("/api/trading/execute", axum::routing::post(trade))
        .route(
            "/close",
            get(|| async { ([("connection", "close")], "bye") }),
        )
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [("location", "/landing")]) }),
        )
        .route(
            "/redirect-absolute",
            get(|headers: HeaderMap| async move {
                let host = headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("");
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [("location", format!("http://{host}/landing"))],
                )
            }),
        )
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [("location", "/loop")]) }),
        )
        .route(
            "/see-other",
            axum::routing::post(|| async { (StatusCode::SEE_OTHER, [("location", "/landing")]) }),
        )
        .route("/landing", get(|| async { "landed" }))
        .route(
            "/json",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"token":"t","state":"open"}"#,
                )
            }),
        )
        .fallback(|| async { "ok" })
}

/// Accepts only the platform's trade body: integer client_id 1..=10 and quantity, a
/// string ticker and side, and order_type "market".
async fn trade(body: axum::body::Bytes) -> StatusCode {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let client_ok = v["client_id"]
        .as_i64()
        .is_some_and(|c| (1..=10).contains(&c));
    let quantity_ok = v["quantity"].as_i64().is_some_and(|q| q >= 1);
    let side_ok = matches!(v["side"].as_str(), Some("buy" | "sell"));
    let ok = client_ok
        && quantity_ok
        && side_ok
        && v["ticker"].is_string()
        && v["order_type"] == "market";
    if ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// Starts a server that answers every request with 200 and remembers each client port
/// it saw (one port per TCP connection). `/close` answers with `Connection: close`.
pub async fn peer_counting() -> (SocketAddr, Arc<Mutex<HashSet<u16>>>) {
    let ports = Arc::new(Mutex::new(HashSet::new()));
    let seen = Arc::clone(&ports);
    let router = Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, uri: axum::http::Uri| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().insert(peer.port());
                let connection = if uri.path() == "/close" {
                    "close"
                } else {
                    "keep-alive"
                };
                ([("connection", connection)], "ok")
            }
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener, app).await;
    });
    (addr, ports)
}

/// How a raw server misbehaves.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Reads the request, then closes without answering.
    Close,
    /// Answers bytes that are not HTTP.
    Garbage,
    /// Reads the request and never answers.
    Hang,
}

/// Starts a misbehaving server.
pub async fn faulty(fault: Fault) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: a test's run makes at most a few thousand connections.
        for _ in 0..100_000 {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(misbehave(stream, fault));
        }
    });
    addr
}

async fn misbehave(mut stream: TcpStream, fault: Fault) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf).await;
    match fault {
        Fault::Reset => {
            // SO_LINGER 0 makes close send RST instead of FIN.
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Fault::Close => drop(stream),
        Fault::Garbage => {
            let _ = stream.write_all(b"this is not http\r\n\r\n").await;
            let _ = stream.shutdown().await;
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    }
}

/// An address where nothing listens (bound, then closed).
pub async fn refused() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A target for an address.
pub fn target(addr: SocketAddr) -> Target {
    Target::parse(&format!("http://{addr}")).unwrap()
}

/// A quiet config: `users` at `rate`, for `run_time` seconds, seed 1.
pub fn config(addr: SocketAddr, users: usize, rate: f64, run_time: f64) -> RunConfig {
    let mut c = RunConfig::new(
        target(addr),
        users,
        rate,
        Some(Duration::from_secs_f64(run_time)),
    );
    c.seed = 1;
    c
}

/// A one-class scenario whose single task GETs `path`, with the given wait.
pub fn one_request(path: &str, wait: &str) -> Scenario {
    Scenario::from_toml(
        "test.toml",
        &format!(
            "[classes.U]\nwait = {wait}\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [{{ method = \"GET\", path = \"{path}\" }}]\n"
        ),
    )
    .unwrap()
}

/// Upper-tail critical values of the chi-square distribution for p = 1e-4, by degrees of
/// freedom 1..=10: `scipy.stats.chi2.isf(1e-4, df)` (for df = 2 it is exactly
/// -2 ln 1e-4 = 18.4207).
pub const CHI2_CRIT_1E4: [f64; 10] = [
    15.137, 18.421, 21.108, 23.513, 25.745, 27.856, 29.878, 31.828, 33.720, 35.564,
];

/// Pearson's chi-square statistic of `counts` against `weights`.
pub fn chi_square(counts: &[u64], weights: &[f64]) -> f64 {
    let n: u64 = counts.iter().sum();
    let total: f64 = weights.iter().sum();
    counts
        .iter()
        .zip(weights)
        .map(|(&c, &w)| {
            let expected = n as f64 * w / total;
            (c as f64 - expected).powi(2) / expected
        })
        .sum()
}
