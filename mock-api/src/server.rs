//! The server: its own accept loop over a tokio `TcpListener`, one hyper HTTP/1
//! connection per socket with the axum router as the service, so that connection-level
//! faults (reset, close, garbage, hang) can be enacted on the socket itself.
//!
//! Shutdown: stop accepting, let every connection finish what is in flight (bounded by
//! a grace period), stop background jobs and mark them interrupted, close the pool.
//! Every trade acknowledged before shutdown is committed, since a 200 is only sent
//! after its transaction commits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::conn::{self, Arrival, ConnSlot, PeerAddr, ShapedStream, SharedStream};
use crate::profile::Profile;
use crate::state::{AppState, StateOptions};
use crate::stats::StatsSnapshot;
use crate::store::probe::PROBE_INTERVAL;
use crate::store::{Store, StoreError, StoreOptions};

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind (default 127.0.0.1).
    pub bind: IpAddr,
    /// Port (0: ephemeral).
    pub port: u16,
    /// sqlx URL, or a bare path for a SQLite file.
    pub database_url: String,
    /// Clients the seed guarantees.
    pub clients: u32,
    /// The initial profile (as configured, before `time_scale`).
    pub profile: Profile,
    /// Seed of every random choice.
    pub seed: u64,
    /// Multiplies every configured duration.
    pub time_scale: f64,
    /// Bearer token for /admin (None: loopback only).
    pub admin_token: Option<String>,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// Keep a record of each request (id and timings) for `GET /admin/requests`.
    pub request_log: bool,
}

impl ServerConfig {
    /// Loopback, ephemeral port, in-memory SQLite, 10 clients, seed 0, scale 1.
    pub fn new(profile: Profile) -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            database_url: "sqlite::memory:".to_owned(),
            clients: 10,
            profile,
            seed: 0,
            time_scale: 1.0,
            admin_token: None,
            shutdown_grace: Duration::from_secs(30),
            request_log: false,
        }
    }
}

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store failed to open.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `time_scale` is not a positive finite number.
    #[error("time scale {0} is invalid: expected a positive finite number")]
    TimeScale(f64),
    /// The profile does not validate.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
}

/// What shutdown found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections still open when the grace period (and the short drain after it) ended:
    /// their requests got no answer.
    pub connections_abandoned: usize,
    /// Jobs marked interrupted.
    pub jobs_interrupted: u64,
}

/// How long connections get to answer once the grace period is over and writes not yet
/// begun are refused.
const GRACE_OVER_DRAIN: Duration = Duration::from_secs(1);

/// A started server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    state: AppState,
    connections: TaskTracker,
    accept: tokio::task::JoinHandle<()>,
    stop_accepting: CancellationToken,
    grace: Duration,
}

/// Opens the store, binds, and starts serving in the background.
pub async fn spawn(config: ServerConfig) -> Result<RunningServer, ServerError> {
    if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
        return Err(ServerError::TimeScale(config.time_scale));
    }
    config.profile.validate()?;
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = listen(addr).map_err(|source| ServerError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let store = Store::connect(
        &config.database_url,
        &StoreOptions {
            clients: config.clients,
        },
    )
    .await?;
    if store.interrupted_at_start() > 0 {
        tracing::warn!(
            jobs = store.interrupted_at_start(),
            "jobs left running by the previous process were marked interrupted"
        );
    }
    let state = AppState::new(
        store,
        StateOptions {
            profile: config.profile,
            time_scale: config.time_scale,
            seed: config.seed,
            admin_token: config.admin_token,
        },
    );
    if config.request_log {
        state.request_log.enable();
    }
    // The database probe /health reports: pinged once before serving, then every
    // PROBE_INTERVAL until shutdown.
    state.db_probe.refresh(&state.store).await;
    {
        let state = state.clone();
        tokio::spawn(async move {
            let stop = state.shutdown.clone();
            state
                .db_probe
                .run(&state.store, PROBE_INTERVAL, &stop)
                .await;
        });
    }
    let app = crate::app::router(state.clone());
    let connections = TaskTracker::new();
    let stop_accepting = CancellationToken::new();
    let accept = tokio::spawn(accept_loop(
        listener,
        app,
        connections.clone(),
        stop_accepting.clone(),
        state.shutdown.clone(),
    ));
    tracing::info!(%addr, backend = ?state.store.backend(), profile = %state.profile.current().configured.name, "mock-api listening");
    Ok(RunningServer {
        addr,
        state,
        connections,
        accept,
        stop_accepting,
        grace: config.shutdown_grace,
    })
}

/// Connections the kernel queues before `accept` (it caps this at `net.core.somaxconn`,
/// 4096 on current kernels). tokio's default of 1,024 overflows when thousands of users
/// connect at once: the dropped SYNs come back after 1 s and 3 s and show up as a
/// load generator's slowest requests.
const LISTEN_BACKLOG: u32 = 8192;

/// Binds `addr` (with SO_REUSEADDR, as `TcpListener::bind` does) and listens with
/// [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    connections: TaskTracker,
    stop: CancellationToken,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, app.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(stream);
    let slot = ConnSlot::new();
    let service = {
        let slot = slot.clone();
        // hyper calls the service by `&self`, one request at a time per connection.
        let served = std::cell::Cell::new(false);
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let ext = req.extensions_mut();
            ext.insert(Arrival {
                at: Instant::now(),
                first_on_connection: !served.replace(true),
            });
            ext.insert(PeerAddr(peer));
            ext.insert(slot.clone());
            app.clone().oneshot(req.map(axum::body::Body::new))
        })
    };
    let shaped = ShapedStream::new(SharedStream(stream.clone()));
    let mut connection = Box::pin(
        hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(shaped.clone()), service),
    );
    let mut draining = false;
    let action = loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                    if let Some(status) = shaped.withheld() {
                        break Some(conn::ConnAction::Garbage(conn::unparsable_head_answer(status, &e.to_string())));
                    }
                }
                break None;
            }
            action = slot.wait() => break Some(action),
            () = shutdown.cancelled(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    // Drop hyper's side first: it must not write anything after the fault.
    drop(connection);
    if let Some(action) = action {
        if let Err(e) = conn::enact(action, stream).await {
            tracing::debug!(%peer, error = %e, "enacting a connection fault failed");
        }
    }
}

impl RunningServer {
    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The shared state (store, live profile, statistics, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Server-side statistics per route.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats_snapshot()
    }

    /// Forgets the statistics.
    pub fn reset_stats(&self) {
        self.state.reset_stats();
    }

    /// Holds every response due in the next `length` (from now) until it ends, as
    /// `POST /admin/stall` does; a zero length ends a stall.
    pub fn stall(&self, length: Duration) {
        self.state.stall.start(Instant::now(), length);
    }

    /// Moves the uptime that degradation and the stall schedule see forward by `by`
    /// (simulated: a soak's leak without the soak).
    pub fn advance_uptime(&self, by: Duration) {
        self.state.uptime.advance(by);
    }

    /// The live profile as configured.
    pub fn profile(&self) -> Profile {
        self.state.profile.current().configured.clone()
    }

    /// Validates and swaps in a new profile; requests in flight keep the old one.
    pub fn set_profile(&self, profile: Profile) -> Result<(), ServerError> {
        profile.validate()?;
        self.state.profile.replace(profile);
        Ok(())
    }

    /// Stops accepting, finishes in-flight requests (at most the grace period), stops
    /// jobs and marks them interrupted, and closes the database.
    pub async fn shutdown(self) -> Result<ShutdownReport, ServerError> {
        self.stop_accepting.cancel();
        let _ = self.accept.await;
        self.state.shutdown.cancel();
        self.connections.close();
        let mut connections_abandoned = 0;
        if tokio::time::timeout(self.grace, self.connections.wait())
            .await
            .is_err()
        {
            // Writes still waiting out their delay are refused now (503, nothing
            // written), and writes already committing finish and answer: give them a
            // moment, then count who is left without an answer.
            self.state.grace_over.cancel();
            let _ = tokio::time::timeout(GRACE_OVER_DRAIN, self.connections.wait()).await;
            connections_abandoned = self.connections.len();
            if connections_abandoned > 0 {
                tracing::warn!(grace = ?self.grace, connections = connections_abandoned, "connections still open after the grace period are abandoned");
            }
        }
        self.state.jobs.wait().await;
        let jobs_interrupted = self
            .state
            .store
            .interrupt_running_jobs("the server shut down while the job ran")
            .await?;
        self.state.store.close().await;
        Ok(ShutdownReport {
            connections_abandoned,
            jobs_interrupted,
        })
    }
}

/// The open-file limit before and after [`raise_open_file_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit found at start.
    pub before: u64,
    /// The soft limit now (the hard limit when raising worked).
    pub after: u64,
    /// The hard limit (what an unprivileged process may raise its soft limit to).
    pub hard: u64,
}

/// Raises this process's open-file soft limit to its hard limit: every connection is a
/// file descriptor, and the usual soft limit of 1,024 caps a server far below 10,000
/// users. A process may do this without privileges; above the hard limit it may not.
pub fn raise_open_file_limit() -> std::io::Result<OpenFileLimit> {
    let (before, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let after = rlimit::increase_nofile_limit(hard)?;
    Ok(OpenFileLimit {
        before,
        after,
        hard,
    })
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let l = raise_open_file_limit().unwrap();
        assert!(l.before <= l.after, "{l:?}");
        assert_eq!(l.after, l.hard, "{l:?}");
        assert_eq!(
            rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0,
            l.after
        );
    }
}
