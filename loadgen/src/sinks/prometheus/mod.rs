//! loadgen's own Prometheus endpoint (`--metrics-port`): `GET /metrics` serves the run's
//! live figures while a headless run goes on.
//!
//! ```text
//! aggregator --every second--> watch::Sender<Arc<Snapshot>> (RunConfig::snapshots)
//!   -> SnapshotCollector (prometheus-client) encodes the latest snapshot at scrape time
//!   -> GET /metrics (axum, OpenMetrics text)
//! ```
//!
//! The names (see [`exposition`]): `loadgen_requests_total{method,name}`,
//! `loadgen_failures_total{method,name}`, `loadgen_users` and the histogram
//! `loadgen_response_time_seconds{method,name}`. The counters are the snapshot's totals,
//! so `--reset-stats` (or a stats reset) shows as a counter reset, which `rate()` handles.
//!
//! Life cycle: the port is bound before the run starts (a busy port fails the run before
//! any request), served during the run, and after it ends for a grace
//! (`--metrics-grace`, default 5 s) that ends early once a scrape has read the final
//! figures, or when the run is stopped by a signal.

pub(crate) mod exposition;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::runner::RunConfig;
use crate::stats::Snapshot;

/// The address `--metrics-host` defaults to: loopback only.
pub(crate) const DEFAULT_METRICS_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// How long the server may take to close its connections once told to stop.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// Where and how long the endpoint is served, already validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// How long to keep serving after the run, waiting for a scrape of the final figures.
    pub grace: Duration,
}

/// Why the endpoint cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot serve Prometheus metrics on {addr} (--metrics-host/--metrics-port): {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// `--metrics-port` was given without `--headless`.
    #[error("--metrics-port {port} needs --headless: the web UI runs its own tests and shows their figures itself")]
    NeedsHeadless {
        /// The port asked for.
        port: u16,
    },
}

/// The snapshots `config`'s run publishes: a new subscription when something already
/// watches them, else a new channel installed in `config`.
pub fn subscribe(config: &mut RunConfig) -> watch::Receiver<Arc<Snapshot>> {
    match &config.snapshots {
        Some(tx) => tx.subscribe(),
        None => {
            let (tx, rx) = watch::channel(Arc::new(Snapshot::empty(SystemTime::now())));
            config.snapshots = Some(tx);
            rx
        }
    }
}

/// The `/metrics` router over `registry`.
pub(crate) fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(registry)
}

async fn scrape(State(registry): State<Arc<Registry>>) -> Response {
    match exposition::encode(&registry) {
        Ok(body) => ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], body).into_response(),
        // Encoding into a String only fails if a value's formatting does; say so.
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded\n",
        )
            .into_response(),
    }
}

/// A running `/metrics` endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    grace: Duration,
    latest: watch::Receiver<Arc<Snapshot>>,
    scraped: watch::Receiver<Option<Arc<Snapshot>>>,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl MetricsServer {
    /// Binds `config.bind` and serves the latest snapshot of `snapshots` until
    /// [`MetricsServer::finish`] or [`MetricsServer::shutdown`].
    pub async fn bind(
        config: &MetricsConfig,
        snapshots: watch::Receiver<Arc<Snapshot>>,
    ) -> Result<Self, MetricsError> {
        let bind_error = |source| MetricsError::Bind {
            addr: config.bind,
            source,
        };
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let (scraped_tx, scraped) = watch::channel(None);
        let latest = snapshots.clone();
        let app = router(Arc::new(exposition::registry(snapshots, scraped_tx)));
        let shutdown = CancellationToken::new();
        let stopped = shutdown.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
        });
        Ok(Self {
            addr,
            grace: config.grace,
            latest,
            scraped,
            shutdown,
            task,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Call once the run has returned (its final snapshot is published): keeps serving
    /// until a scrape has read the final figures (perhaps already), the grace passes, or
    /// `stop` is cancelled (a signal: the user wants out), then stops.
    pub async fn finish(mut self, stop: &CancellationToken) {
        let last = Arc::clone(&self.latest.borrow());
        let grace = self.grace;
        let read_last = |scraped: &Option<Arc<Snapshot>>| {
            scraped.as_ref().is_some_and(|s| Arc::ptr_eq(s, &last))
        };
        tokio::select! {
            _ = self.scraped.wait_for(read_last) => {}
            () = tokio::time::sleep(grace) => {}
            () = stop.cancelled() => {}
        }
        self.shutdown().await;
    }

    /// Stops serving now: open connections get a moment to finish, then are dropped.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_TIMEOUT, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}
