//! The run loop: what a Locust worker does between its connection and its users.
//! `client_ready` until the master's `ack` (re-sent every 5 s, and again after the
//! connection was lost and made anew, so a restarted master registers the worker);
//! heartbeats every second; the master's `spawn`, `stop`, `quit` and `reconnect`; a
//! stats report every 3 s; and an exit when the master says quit, when the master has
//! been silent for the heartbeat timeout, or on Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::connection::Connection;
use super::messages::{self, Envelope, Inbound, Spawn};
use super::report::stats_message;
use super::users::Crew;
use super::{WorkerConfig, WorkerExit};
use crate::plan::target::Target;

/// Seconds between heartbeats (Locust's `HEARTBEAT_INTERVAL`).
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Seconds between stats reports (Locust's `WORKER_REPORT_INTERVAL`).
const REPORT_INTERVAL: Duration = Duration::from_secs(3);
/// Longest wait for stopping users before the last report: the master listens for it
/// for 0.5 s after saying quit.
const FINAL_REPORT_WAIT: Duration = Duration::from_millis(300);
/// Seconds between `client_ready`s until the master answers (Locust's `CONNECT_TIMEOUT`).
const READY_INTERVAL: Duration = Duration::from_secs(5);

/// Where the worker is, as its heartbeats tell the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ready,
    Spawning,
    Running,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Spawning => "spawning",
            Self::Running => "running",
        }
    }
}

/// The worker's side of the conversation with the master.
#[derive(Debug)]
pub(crate) struct Node {
    config: WorkerConfig,
    conn: Option<Connection>,
    crew: Crew,
    state: State,
    acked: bool,
    last_ready: Option<Instant>,
    started: Instant,
    last_spawn: f64,
    last_master_heartbeat: Option<Instant>,
    /// The counts of the master's last `spawn`.
    asked: BTreeMap<String, u64>,
    /// Missing classes already reported in this test.
    reported_missing: BTreeSet<String>,
    /// After a `stop`: when to say `client_ready` again.
    ready_at: Option<Instant>,
    stop_timeout: Duration,
    cpu: CpuGauge,
}

impl Node {
    pub(crate) fn new(config: WorkerConfig, crew: Crew) -> Self {
        Self {
            config,
            conn: None,
            crew,
            state: State::Ready,
            acked: false,
            last_ready: None,
            started: Instant::now(),
            last_spawn: f64::NEG_INFINITY,
            last_master_heartbeat: None,
            asked: BTreeMap::new(),
            reported_missing: BTreeSet::new(),
            ready_at: None,
            stop_timeout: Duration::ZERO,
            cpu: CpuGauge::default(),
        }
    }

    /// Runs until the master says quit, goes silent, or the worker is stopped; returns
    /// why, and the users (still to be stopped and joined).
    pub(crate) async fn run(mut self) -> (WorkerExit, Crew) {
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        let mut report = tokio::time::interval(REPORT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = self.config.stop.clone();
        let exit = loop {
            let connected = self.conn.is_some();
            tokio::select! {
                () = stop.cancelled() => {
                    tracing::info!("Stopping the worker");
                    self.shut_down().await;
                    break WorkerExit::Stopped;
                }
                frame = recv(&mut self.conn), if connected => match frame {
                    Some(frame) => {
                        if let Some(exit) = self.handle(&frame).await {
                            break exit;
                        }
                    }
                    None => self.lost("the connection closed"),
                },
                _ = heartbeat.tick() => {
                    self.crew.tick();
                    if let Some(exit) = self.every_second().await {
                        break exit;
                    }
                }
                _ = report.tick() => {
                    if self.acked {
                        self.send_stats().await;
                    }
                }
            }
        };
        (exit, self.crew)
    }

    /// Connects when not connected, says ready until acknowledged, beats the heart and
    /// watches the master's.
    async fn every_second(&mut self) -> Option<WorkerExit> {
        if self.conn.is_none() {
            self.connect().await;
        }
        if self.conn.is_none() || !self.acked {
            if self.started.elapsed() > self.config.connect_deadline {
                tracing::error!(
                    "Failed to connect to the Locust master at {}:{} within {:?}, exiting",
                    self.config.master_host,
                    self.config.master_port,
                    self.config.connect_deadline
                );
                return Some(WorkerExit::NeverConnected);
            }
            let due = self
                .last_ready
                .is_none_or(|t| t.elapsed() >= READY_INTERVAL);
            if self.conn.is_some() && due {
                self.send_ready().await;
            }
        }
        if let Some(at) = self.ready_at {
            if Instant::now() >= at {
                self.ready_at = None;
                self.state = State::Ready;
                self.send_ready().await;
            }
        }
        if self.acked {
            let (cpu, memory) = self.cpu.sample();
            let beat = messages::heartbeat(&self.config.node_id, self.state.as_str(), cpu, memory);
            self.send(&beat).await;
        }
        let timeout = self.config.master_heartbeat_timeout;
        if self
            .last_master_heartbeat
            .is_some_and(|t| t.elapsed() > timeout)
        {
            tracing::error!(
                "Didn't get heartbeat from master in over {}s: stopping the users and exiting",
                timeout.as_secs_f64()
            );
            self.crew.stop_all();
            return Some(WorkerExit::MasterLost);
        }
        None
    }

    async fn connect(&mut self) {
        let c = &self.config;
        match Connection::connect(&c.master_host, c.master_port, &c.node_id, c.connect_timeout)
            .await
        {
            Ok(conn) => {
                tracing::debug!("Connected to {}", conn.endpoint());
                self.conn = Some(conn);
                // A new connection may reach a new master: register again.
                self.acked = false;
                self.last_ready = None;
            }
            Err(e) => tracing::debug!("{e}"),
        }
    }

    async fn send_ready(&mut self) {
        self.last_ready = Some(Instant::now());
        let ready = messages::client_ready(&self.config.node_id);
        self.send(&ready).await;
    }

    /// Sends a message; a failure drops the connection, to be made anew.
    async fn send(&mut self, message: &Envelope) -> bool {
        let Some(conn) = &mut self.conn else {
            return false;
        };
        match conn.send(message).await {
            Ok(()) => true,
            Err(e) => {
                self.lost(&e.to_string());
                false
            }
        }
    }

    fn lost(&mut self, why: &str) {
        if self.conn.take().is_some() {
            tracing::warn!("Lost the connection to the Locust master ({why}); reconnecting");
        }
        self.acked = false;
    }

    async fn send_stats(&mut self) {
        self.crew.collect();
        let counts = self.crew.class_counts(&self.asked);
        let message = stats_message(&self.config.node_id, &self.crew.interval(), &counts);
        // Unsent figures stay in the interval and go with the next report.
        if self.send(&message).await {
            self.crew.interval_sent();
        }
    }

    /// Handles one frame; `Some` when the worker must exit.
    async fn handle(&mut self, frame: &[u8]) -> Option<WorkerExit> {
        let inbound = Envelope::decode(frame).and_then(|e| Inbound::from_envelope(&e));
        let inbound = match inbound {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("Ignored a malformed message from the master: {e}");
                return None;
            }
        };
        match inbound {
            Inbound::Ack { index } => {
                let first = !self.acked;
                self.acked = true;
                // The master's silence counts from its ack when no heartbeat follows
                // (a master gone within a second of registering the worker).
                self.last_master_heartbeat.get_or_insert_with(Instant::now);
                if first {
                    tracing::info!(
                        "Connected to the Locust master at {}:{} as {} (worker index {})",
                        self.config.master_host,
                        self.config.master_port,
                        self.config.node_id,
                        index.map_or_else(|| "not given".to_owned(), |i| i.to_string())
                    );
                    self.send_stats().await;
                }
            }
            Inbound::Spawn(spawn) => self.spawn(spawn).await,
            Inbound::Stop => {
                tracing::info!("The master stopped the test");
                self.crew.stop_all();
                let stopped = messages::signal("client_stopped", &self.config.node_id);
                self.send(&stopped).await;
                self.ready_at = Some(Instant::now() + self.stop_timeout);
            }
            Inbound::Quit => {
                tracing::info!("Got quit message from master, shutting down...");
                self.shut_down().await;
                return Some(WorkerExit::QuitByMaster);
            }
            Inbound::Reconnect => {
                tracing::warn!("Received reconnect message from master. Resetting the connection.");
                if let Some(conn) = &mut self.conn {
                    if let Err(e) = conn.reconnect().await {
                        self.lost(&e.to_string());
                    }
                }
            }
            Inbound::Heartbeat => self.last_master_heartbeat = Some(Instant::now()),
            Inbound::SpawningComplete { user_count } => {
                tracing::debug!("The master reports all users spawned: {user_count:?}");
            }
            Inbound::Other(kind) => {
                tracing::warn!("Unknown message type received from the master: {kind}");
            }
        }
        None
    }

    async fn spawn(&mut self, spawn: Spawn) {
        let spawning = messages::signal("spawning", &self.config.node_id);
        self.send(&spawning).await;
        if spawn.timestamp <= self.last_spawn {
            tracing::info!("Discarded a spawn message older than the previous one");
            return;
        }
        self.last_spawn = spawn.timestamp;
        if let Some(host) = &spawn.host {
            match Target::parse(host) {
                Ok(target) => self.crew.set_target(target),
                Err(e) => {
                    let msg = format!("loadgen worker refuses the master's host {host:?}: {e}");
                    self.report_exception(&msg).await;
                }
            }
        }
        self.stop_timeout = Duration::from_secs_f64(spawn.stop_timeout);
        self.crew.set_graceful(spawn.stop_timeout > 0.0);
        if self.state == State::Ready {
            self.crew.start_test();
            self.reported_missing.clear();
            self.ready_at = None;
        }
        self.state = State::Spawning;
        let missing = self.crew.apply(&spawn.user_classes_count);
        for m in missing {
            if self.reported_missing.insert(m.name.clone()) {
                let msg = format!(
                    "loadgen worker {} has no user class {:?} ({} users asked); its classes: {}",
                    self.config.node_id,
                    m.name,
                    m.count,
                    self.crew.class_names().join(", ")
                );
                self.report_exception(&msg).await;
            }
        }
        self.asked = spawn.user_classes_count;
        let counts = self.crew.class_counts(&self.asked);
        let complete = messages::spawning_complete(&self.config.node_id, &counts);
        self.send(&complete).await;
        self.state = State::Running;
    }

    /// Logs an error and shows it in the master's exceptions table.
    async fn report_exception(&mut self, msg: &str) {
        tracing::error!("{msg}");
        let exception = messages::exception(&self.config.node_id, msg, "");
        self.send(&exception).await;
    }

    /// Stops the users, sends the last figures and says goodbye. Users given a stop
    /// timeout finish their task first, within the half second the master listens.
    async fn shut_down(&mut self) {
        self.crew.stop_all();
        self.crew
            .settle(self.stop_timeout.min(FINAL_REPORT_WAIT))
            .await;
        if self.acked {
            self.send_stats().await;
        }
        let quit = messages::signal("quit", &self.config.node_id);
        self.send(&quit).await;
    }
}

/// The next frame, or never without a connection.
async fn recv(conn: &mut Option<Connection>) -> Option<bytes::Bytes> {
    match conn {
        Some(c) => c.recv().await,
        None => std::future::pending().await,
    }
}

/// The process's CPU use (percent of one core) since the previous heartbeat, and its
/// resident memory, for the master's worker table.
#[derive(Debug, Default)]
struct CpuGauge {
    last: Option<crate::engine::selfmon::CpuSample>,
}

impl CpuGauge {
    fn sample(&mut self) -> (f64, u64) {
        let now = crate::engine::selfmon::sample();
        let cpu = match (&self.last, &now) {
            (Some(a), Some(b)) => crate::engine::selfmon::CpuMonitor::usage(a, b, 1)
                .map_or(0.0, |u| (u * 100.0).max(0.0)),
            _ => 0.0,
        };
        self.last = now;
        (cpu, resident_bytes())
    }
}

/// Resident memory in bytes (`VmRSS`), 0 where the system does not say.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
