//! A Locust worker (`loadgen --worker`): loadgen's engine run by a Locust 2.x master
//! over ZeroMQ, as Locust's own `WorkerRunner` is (Locust's `runners.py` and `rpc/`
//! are the specification).
//!
//! - `connection`: the DEALER socket to the master's ROUTER, its identity the node id.
//! - `messages`: the msgpack envelope and the messages both ways.
//! - `report`: the worker's statistics in the form the master merges.
//! - `users`: the engine's user pool driven by the master's per-class counts, and the
//!   statistics (whole run, and since the last report).
//! - `node`: the run loop (ready, heartbeats, spawn, stop, quit, reconnect, reports).
//!
//! The worker keeps its own exact HdrHistograms besides what it sends the master, and
//! writes them with `--json` when it exits.

mod connection;
mod messages;
mod node;
mod report;
mod users;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::plan::scenario::Scenario;
use crate::plan::target::Target;
use crate::sinks::json::{JsonReport, RunSettings};
use crate::stats::Snapshot;

/// Locust's default master port.
pub const DEFAULT_MASTER_PORT: u16 = 5557;

/// Everything a worker needs, already validated.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The master's host name or address (`--master-host`).
    pub master_host: String,
    /// The master's port (`--master-port`).
    pub master_port: u16,
    /// The worker's node id: `<hostname>_<32 hex digits>` as Locust makes it.
    pub node_id: String,
    /// Where requests go when the master names no host (`-H`).
    pub target: Target,
    /// How TLS connections are verified (`--ca-cert`, `--insecure`).
    pub tls: crate::plan::target::TlsOptions,
    /// How host names are resolved.
    pub resolver: crate::engine::session::Resolver,
    /// Seed of every user's RNG.
    pub seed: u64,
    /// Longest wait for a whole response.
    pub request_timeout: Duration,
    /// Write the worker's own statistics (HdrHistograms included) here on exit.
    pub json: Option<PathBuf>,
    /// The scenario's file or name, for the JSON report.
    pub scenario_label: String,
    /// Exit when the master has sent no heartbeat for this long (Locust: 60 s).
    pub master_heartbeat_timeout: Duration,
    /// Give up when no master acknowledged the worker within this (Locust: ~5 min).
    pub connect_deadline: Duration,
    /// Longest wait for one connection attempt.
    pub connect_timeout: Duration,
    /// Stats stripes.
    pub shards: usize,
    /// Cancel to stop the users, say `quit` to the master and exit (Ctrl-C).
    pub stop: CancellationToken,
}

impl WorkerConfig {
    /// A worker for the master at `master_host:master_port` with Locust's timings.
    pub fn new(master_host: &str, master_port: u16, target: Target) -> Self {
        Self {
            master_host: master_host.to_owned(),
            master_port,
            node_id: node_id(),
            target,
            tls: crate::plan::target::TlsOptions::default(),
            resolver: crate::engine::session::Resolver::system(),
            seed: rand::random(),
            request_timeout: Duration::from_secs(60),
            json: None,
            scenario_label: String::new(),
            master_heartbeat_timeout: Duration::from_secs(60),
            connect_deadline: Duration::from_secs(5 * 61),
            connect_timeout: Duration::from_secs(1),
            shards: crate::engine::runner::default_shards(),
            stop: CancellationToken::new(),
        }
    }
}

/// Locust's node id: the host name, `_`, and a random UUID in 32 hex digits. The master
/// spreads users over hosts by the text before the first `_`.
pub fn node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace('_', "-"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}_{}", uuid::Uuid::new_v4().simple())
}

/// Why the worker exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// The master said `quit` (its run ended).
    QuitByMaster,
    /// The worker was stopped (Ctrl-C, SIGTERM).
    Stopped,
    /// No heartbeat from the master for the heartbeat timeout.
    MasterLost,
    /// No master acknowledged the worker in time.
    NeverConnected,
}

impl WorkerExit {
    /// The process's exit code: 0 for an orderly end, 1 when the master was lost, 255
    /// when none was ever reached (Locust's worker exits with -1 then).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::QuitByMaster | Self::Stopped => 0,
            Self::MasterLost => 1,
            Self::NeverConnected => 255,
        }
    }
}

/// What a worker did.
#[derive(Debug, Clone)]
pub struct WorkerOutcome {
    /// Why it exited.
    pub exit: WorkerExit,
    /// Its own statistics over its last test.
    pub snapshot: Arc<Snapshot>,
    /// Outputs that could not be written.
    pub output_errors: Vec<String>,
}

/// Runs a Locust worker until the master quits, goes silent, or `config.stop` fires.
pub async fn run_worker(config: WorkerConfig, scenario: Scenario) -> WorkerOutcome {
    let crew_config = users::CrewConfig {
        target: config.target.clone(),
        tls: config.tls.clone(),
        resolver: config.resolver.clone(),
        seed: config.seed,
        request_timeout: config.request_timeout,
        shards: config.shards,
    };
    let classes: Vec<String> = scenario.classes.iter().map(|c| c.name.clone()).collect();
    tracing::info!(
        "Starting Locust worker {} for the master at {}:{} (classes: {})",
        config.node_id,
        config.master_host,
        config.master_port,
        classes.join(", ")
    );
    let crew = users::Crew::new(scenario, &crew_config);
    let node = node::Node::new(config.clone(), crew);
    let (exit, crew) = node.run().await;
    let peak_users = crew.peak_users;
    let snapshot = Arc::new(crew.finish().await);
    let mut output_errors = Vec::new();
    if let Some(path) = &config.json {
        let settings = RunSettings {
            scenario: config.scenario_label.clone(),
            classes,
            users: peak_users as u64,
            rate: 0.0,
            duration: None,
            seed: config.seed,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host: config.target.url.clone(),
            // The master splits the users among the classes; a worker does not know how.
            task_ratio: Vec::new(),
        };
        if let Err(e) = JsonReport::new(&snapshot, &settings).write(path) {
            output_errors.push(e.to_string());
        }
    }
    WorkerOutcome {
        exit,
        snapshot,
        output_errors,
    }
}
