//! The web UI (Locust's page on port 8089) and Locust's web API, for runs started and
//! steered from a browser or from the scripts people already have.
//!
//! ```text
//! browser / script --HTTP--> routes (auth layer, then one handler per Locust route)
//!   -> WebState: the state machine ready -> spawning -> running -> stopping -> stopped,
//!      owning the current run's stop token, retarget and reset senders and its
//!      snapshots receiver
//!   -> each run is `loadgen::run` in a spawned task; every sink the page reads
//!      (tables, CSV, JSON, charts, report) reads the same latest Snapshot
//! ```
//!
//! The page, its style and its scripts are embedded text, so the page works offline: its
//! charts are drawn by its own script from `/ui/history` (the HTML report's plotters
//! SVGs stay at `/charts/...`). The Logs and Exceptions tabs read a [`LogRing`] that the
//! binary's logger feeds.

mod api;
mod auth;
mod form;
mod logs;
mod origin;
mod page;
mod routes;
mod state;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::engine::runner::RunConfig;
use crate::plan::scenario::Scenario;
use crate::verdict::baseline::Baselines;
use crate::verdict::criteria::CriteriaSet;

pub use auth::Credentials;
pub use form::{parse_swarm, SwarmRequest, WebLimits, MAX_SPAWN_RATE, MAX_USERS};
pub use logs::{ExceptionRow, LogLayer, LogLine, LogRing, LOG_CAPACITY};
pub use routes::router;
pub use state::{RunParams, RunState, WebState};

/// Locust's web UI port.
pub const DEFAULT_WEB_PORT: u16 = 8089;

/// How long the host check before swarming may take.
pub const CONNECT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything the web UI needs, already validated.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where the page is served.
    pub bind: SocketAddr,
    /// HTTP basic credentials (required off loopback).
    pub auth: Option<Credentials>,
    /// Most users and spawn rate the form may ask for.
    pub limits: WebLimits,
    /// The settings of every run started from the page; target, users, rate and run
    /// time are replaced by the form's values.
    pub base: RunConfig,
    /// The whole scenario; the form picks classes from it.
    pub scenario: Scenario,
    /// The form's initial values (from the command line and the scenario).
    pub defaults: RunParams,
    /// Start a run with the defaults at once (`--autostart`).
    pub autostart: bool,
    /// Quit this long after a run ends (`--autoquit`).
    pub autoquit: Option<Duration>,
    /// Criteria judged on the Baselines tab and in the report.
    pub criteria: CriteriaSet,
    /// Baselines shown on the Baselines tab and in the report.
    pub baselines: Baselines,
    /// The Logs and Exceptions tabs' lines: the binary points it at the ring its logger
    /// feeds (see [`LogRing::layer`]); the web UI adds its own lines.
    pub logs: LogRing,
}

/// Why the web UI cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Bound off loopback without credentials.
    #[error("refusing to serve the web UI on {addr} without --web-auth: any address other than loopback needs --web-auth user:password")]
    AuthRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// `--web-auth` is not `user:password`.
    #[error("bad --web-auth {value:?}: expected user:password with a non-empty user and password")]
    BadAuth {
        /// The value given, password masked.
        value: String,
    },
    /// `--web-host` is not an IP address or `localhost`.
    #[error("bad --web-host {value:?}: expected an IP address (e.g. 127.0.0.1) or localhost")]
    BadHost {
        /// The value given.
        value: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A load plan the web UI cannot run (its form starts users at a spawn rate).
    #[error("{flag} needs --headless: the web UI starts a number of users at a spawn rate, so it would drop the plan {flag} asks for")]
    HeadlessOnly {
        /// The flag given.
        flag: &'static str,
    },
    /// The scenario could not be loaded.
    #[error("{0}")]
    Scenario(String),
    /// The server failed while serving.
    #[error("the web UI's server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The address to bind from `--web-host` and `--web-port`.
pub fn bind_address(host: &str, port: u16) -> Result<SocketAddr, WebError> {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::from([127, 0, 0, 1])
    } else {
        host.parse().map_err(|_| WebError::BadHost {
            value: host.to_owned(),
        })?
    };
    Ok(SocketAddr::new(ip, port))
}

/// A bound, not yet serving, web UI.
#[derive(Debug)]
pub struct WebUi {
    listener: tokio::net::TcpListener,
    state: Arc<WebState>,
    autostart: bool,
}

impl WebUi {
    /// Checks the auth rule and binds the address (port 0 picks a free one).
    pub async fn bind(config: WebConfig) -> Result<Self, WebError> {
        if !config.bind.ip().is_loopback() && config.auth.is_none() {
            return Err(WebError::AuthRequired { addr: config.bind });
        }
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| WebError::Bind {
                addr: config.bind,
                source,
            })?;
        let autostart = config.autostart;
        Ok(Self {
            listener,
            state: WebState::new(config),
            autostart,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, WebError> {
        self.listener.local_addr().map_err(WebError::Serve)
    }

    /// The state the routes share (for tests and embedding).
    pub fn state(&self) -> Arc<WebState> {
        Arc::clone(&self.state)
    }

    /// Serves until `shutdown` is cancelled (or `--autoquit` fires), stopping any run
    /// first; returns the last run's exit code.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<u8, WebError> {
        let state = self.state;
        if self.autostart {
            let defaults = state.defaults();
            if let Err(message) = state.swarm(defaults.into()).await {
                let message = format!("--autostart could not start the run: {message}");
                tracing::error!("{message}");
                state.log_error("autostart", message);
            }
        }
        let quit = state.quit_token();
        let app = router(Arc::clone(&state));
        let stop_state = Arc::clone(&state);
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = quit.cancelled() => {}
                }
            })
            .await;
        stop_state.stop_and_wait().await;
        result.map_err(WebError::Serve)?;
        Ok(stop_state.exit_code())
    }
}
