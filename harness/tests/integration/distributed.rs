//! loadgen as a Locust worker (`loadgen --worker`) under a real Locust master, on
//! loopback, against the mock: the master's final CSV counts equal the mock's own per
//! route, the failure ratio lies in its binomial region, the master's exit code is its
//! locustfile's, and the workers exit when it quits; one Python worker beside one
//! loadgen worker; `--processes 2`; a worker killed mid-run, a master that goes away;
//! and, from a test-side ZeroMQ ROUTER speaking Locust's messages, malformed and unknown
//! messages, a class the worker lacks, and a restarted master.
//!
//! Runs are short (5 to 8 s of load) with 2 ms responses, so thousands of requests
//! decide each count.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use harness::locust::output::stats_csv;
use mock_api::profile::Profile;
use mock_api::{RunningServer, ServerConfig};
use rmpv::Value;
use zeromq::{Socket, SocketRecv, SocketSend};

const NEEDS_LOCUST: &str = "needs Locust: pip install locust==2.47.0 and put it on PATH";

/// Every route answers in 2 ms; predictions fail with a 500 at 10 %.
const PROFILE: &str = r#"
name = "distributed"
description = "2 ms everywhere, predictions failing at 10 %"

[defaults]
latency = { kind = "fixed", ms = 2 }

[jobs]
duration = { kind = "fixed", ms = 0 }
failure_probability = 0.0

[routes."GET /api/ml/predict"]
latency = { kind = "fixed", ms = 2 }
failures = [{ kind = "status", code = 500, probability = 0.1 }]
"#;

/// False-failure budget of each statistical check.
const ALPHA: f64 = 1e-4;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/distributed")
        .join(name)
}

/// A running mock with its database folder.
struct Mock {
    server: RunningServer,
    _dir: tempfile::TempDir,
}

async fn start_mock() -> Mock {
    let dir = tempfile::tempdir().expect("temporary folder");
    let profile = Profile::from_toml(PROFILE, "distributed.toml").expect("the test profile");
    let mut config = ServerConfig::new(profile);
    config.database_url = dir.path().join("mock.db").to_string_lossy().into_owned();
    config.seed = 5;
    let server = mock_api::spawn(config).await.expect("mock-api starts");
    Mock { server, _dir: dir }
}

impl Mock {
    fn url(&self) -> String {
        self.server.url("")
    }

    /// Requests and injected failures per route, as the mock counted them.
    fn counts(&self) -> BTreeMap<String, (u64, u64)> {
        self.server
            .state()
            .stats
            .snapshot()
            .routes
            .into_iter()
            .filter(|(_, s)| s.requests > 0)
            .map(|(route, s)| (route, (s.requests, s.failures.values().sum())))
            .collect()
    }
}

/// A free loopback port (the master binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process whose console goes to files in `dir`, killed when dropped.
struct Proc {
    name: String,
    child: tokio::process::Child,
    out: PathBuf,
    err: PathBuf,
}

fn start(name: &str, program: &Path, args: &[String], dir: &Path) -> Proc {
    let out = dir.join(format!("{name}.out"));
    let err = dir.join(format!("{name}.err"));
    let child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        // A master waits up to 1 s for its workers' user counts after a ramp, then logs
        // the counts it has; a Python worker on a busy machine can take longer.
        .env("LOCUST_WAIT_FOR_WORKERS_REPORT_AFTER_RAMP_UP", "10")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    Proc {
        name: name.to_owned(),
        child,
        out,
        err,
    }
}

impl Proc {
    /// Waits at most `bound` for the exit; panics with the console when it hangs.
    async fn exit(&mut self, bound: Duration) -> ExitStatus {
        match tokio::time::timeout(bound, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!(
                    "{} did not exit within {bound:?}:\n{}",
                    self.name,
                    self.console()
                );
            }
        }
    }

    fn console(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&self.out), read(&self.err))
    }

    /// Waits up to `bound` for `text` in the console.
    async fn wait_for(&self, text: &str, bound: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        while tokio::time::Instant::now() < deadline {
            if self.console().contains(text) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A headless Locust master on `port` expecting `workers`, `users` at once, for `secs`.
fn master(dir: &Path, port: u16, workers: u32, users: u32, secs: u32, url: &str) -> Proc {
    let file = fixture("two_classes.py");
    let mut args = strings(&[
        "-f",
        &file.to_string_lossy(),
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--headless",
        "--only-summary",
        "--stop-timeout",
        "1",
        "--csv",
        "master",
        "-H",
        url,
    ]);
    args.extend(strings(&[
        "--master-bind-port",
        &port.to_string(),
        "--expect-workers",
        &workers.to_string(),
        "-u",
        &users.to_string(),
        "-r",
        &users.to_string(),
        "-t",
        &format!("{secs}s"),
    ]));
    start("master", Path::new("locust"), &args, dir)
}

/// A loadgen worker of the fixture for the master on `port`, writing `NAME.json`.
fn loadgen_worker(dir: &Path, name: &str, port: u16, url: &str, extra: &[&str]) -> Proc {
    let file = fixture("two_classes.py");
    let mut args = strings(&["--worker", "-f", &file.to_string_lossy(), "-H", url]);
    args.extend(strings(&["--master-port", &port.to_string()]));
    args.extend(strings(&["--json", &format!("{name}.json")]));
    args.extend(strings(extra));
    start(name, &support::loadgen_binary(), &args, dir)
}

/// The master's final `_stats.csv` rows: (method, name) -> (requests, failures).
fn master_rows(dir: &Path) -> BTreeMap<(String, String), (u64, u64)> {
    let path = dir.join("master_stats.csv");
    let text = std::fs::read_to_string(&path).expect("the master's stats CSV");
    let table = stats_csv(&text, &path).expect("a Locust stats CSV");
    let mut rows: BTreeMap<_, _> = table
        .rows
        .iter()
        .map(|r| ((r.method.clone(), r.name.clone()), (r.requests, r.failures)))
        .collect();
    if let Some(a) = &table.aggregated {
        rows.insert(
            (String::new(), "Aggregated".into()),
            (a.requests, a.failures),
        );
    }
    rows
}

/// A worker's own JSON report: its Aggregated requests.
fn json_requests(dir: &Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}.json: {e}"));
    loadgen::json::JsonReport::from_text(&text)
        .expect("a JSON report")
        .aggregated
        .num_requests
}

/// Asserts the master's rows equal the mock's counts, route by route.
fn assert_counts_match(rows: &BTreeMap<(String, String), (u64, u64)>, mock: &Mock) {
    let mock = mock.counts();
    // Shown with --nocapture: the figures a closing note quotes.
    println!("master (requests, failures): {rows:?}\nmock (requests, failures): {mock:?}");
    for (route, &(requests, failures)) in &mock {
        let (method, path) = route.split_once(' ').expect("METHOD /path");
        let got = rows.get(&(method.to_owned(), path.to_owned()));
        assert_eq!(
            got,
            Some(&(requests, failures)),
            "{route}: the master's (requests, failures) against the mock's"
        );
    }
    let total: u64 = mock.values().map(|(n, _)| n).sum();
    let aggregated = rows[&(String::new(), "Aggregated".to_owned())];
    assert_eq!(aggregated.0, total, "Aggregated against the mock's total");
}

/// The exit code the fixture's quitting hook gives for the master's totals: 3 when more
/// than 0.5 % of the requests failed, else 0.
fn hook_exit_code(rows: &BTreeMap<(String, String), (u64, u64)>) -> i32 {
    let (n, failed) = rows[&(String::new(), "Aggregated".to_owned())];
    if n > 0 && failed as f64 / n as f64 > 0.005 {
        3
    } else {
        0
    }
}

/// The master's "All users spawned" line: users per class.
fn spawned_split(console: &str) -> Option<String> {
    console
        .lines()
        .rev()
        .find(|l| l.contains("All users spawned"))
        .map(|l| {
            l.split("All users spawned:")
                .nth(1)
                .unwrap_or(l)
                .trim()
                .to_owned()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn two_loadgen_workers_under_a_locust_master_count_what_the_mock_served() {
    support::require_locust(NEEDS_LOCUST);
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut m = master(dir.path(), port, 2, 16, 5, &mock.url());
    let mut w1 = loadgen_worker(dir.path(), "w1", port, &mock.url(), &[]);
    let mut w2 = loadgen_worker(dir.path(), "w2", port, &mock.url(), &[]);
    let status = m.exit(Duration::from_secs(40)).await;
    let console = m.console();
    // The workers exit by themselves once the master has said quit.
    let s1 = w1.exit(Duration::from_secs(10)).await;
    let s2 = w2.exit(Duration::from_secs(10)).await;
    assert!(
        s1.success() && s2.success(),
        "workers:\n{}\n{}",
        w1.console(),
        w2.console()
    );
    // The locustfile's quitting hook sets 3 when more than 0.5 % failed (about 1.2 %
    // expected: half the requests are Reader's, a quarter of those predictions).
    assert_eq!(status.code(), Some(3), "the master's exit code:\n{console}");
    assert_eq!(
        spawned_split(&console).as_deref(),
        Some(r#"{"Analyst": 8, "Reader": 8} (16 total users)"#),
        "{console}"
    );
    let rows = master_rows(dir.path());
    assert_eq!(
        hook_exit_code(&rows),
        3,
        "the hook's rule on the master's totals"
    );
    assert_counts_match(&rows, &mock);
    // Failures: Binomial(n, 0.1) on the prediction row; with about 800 predictions the
    // region is about +-4 points wide, so a worker losing or double-counting failures
    // by more than that fails it.
    let (n, failed) = rows[&("GET".to_owned(), "/api/ml/predict".to_owned())];
    assert!(n > 300, "too few predictions to judge: {n}");
    let (lo, hi) = harness::stat::binomial_acceptance(n, 0.1, ALPHA);
    assert!(
        (lo..=hi).contains(&failed),
        "{failed} of {n} predictions failed, outside [{lo}, {hi}] for 10 %"
    );
    // Each worker's own report: together exactly the master's total.
    let total = rows[&(String::new(), "Aggregated".to_owned())].0;
    let (j1, j2) = (
        json_requests(dir.path(), "w1"),
        json_requests(dir.path(), "w2"),
    );
    assert!(j1 > 0 && j2 > 0, "both workers ran requests: {j1}, {j2}");
    assert_eq!(
        j1 + j2,
        total,
        "the workers' JSON reports against the master"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_python_worker_and_a_loadgen_worker_share_one_master() {
    support::require_locust(NEEDS_LOCUST);
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut m = master(dir.path(), port, 2, 6, 5, &mock.url());
    let file = fixture("two_classes.py");
    let py_args = strings(&[
        "-f",
        &file.to_string_lossy(),
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        &port.to_string(),
    ]);
    let mut py = start("python-worker", Path::new("locust"), &py_args, dir.path());
    let mut lg = loadgen_worker(dir.path(), "loadgen", port, &mock.url(), &[]);
    let status = m.exit(Duration::from_secs(40)).await;
    let console = m.console();
    let lg_status = lg.exit(Duration::from_secs(10)).await;
    let py_status = py.exit(Duration::from_secs(15)).await;
    assert!(lg_status.success(), "loadgen worker:\n{}", lg.console());
    assert!(py_status.success(), "Python worker:\n{}", py.console());
    assert_eq!(
        spawned_split(&console).as_deref(),
        Some(r#"{"Analyst": 3, "Reader": 3} (6 total users)"#),
        "{console}"
    );
    let rows = master_rows(dir.path());
    // A busy Python worker changes the mix, so the hook's decision is taken from the
    // master's own totals.
    assert_eq!(
        status.code(),
        Some(hook_exit_code(&rows)),
        "the master's exit code:\n{console}"
    );
    assert_counts_match(&rows, &mock);
    let total = rows[&(String::new(), "Aggregated".to_owned())].0;
    let by_loadgen = json_requests(dir.path(), "loadgen");
    assert!(
        by_loadgen > 0 && by_loadgen < total,
        "the loadgen worker made {by_loadgen} of {total} requests: both workers must have run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn processes_start_that_many_workers_each_with_its_own_report() {
    support::require_locust(NEEDS_LOCUST);
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut m = master(dir.path(), port, 2, 4, 3, &mock.url());
    let mut w = loadgen_worker(dir.path(), "p", port, &mock.url(), &["--processes", "2"]);
    m.exit(Duration::from_secs(40)).await;
    let status = w.exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{}", w.console());
    let rows = master_rows(dir.path());
    assert_counts_match(&rows, &mock);
    let total = rows[&(String::new(), "Aggregated".to_owned())].0;
    let (j1, j2) = (
        json_requests(dir.path(), "p.1"),
        json_requests(dir.path(), "p.2"),
    );
    assert!(j1 > 0 && j2 > 0, "both processes ran requests: {j1}, {j2}");
    assert_eq!(j1 + j2, total, "the processes' reports against the master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_worker_killed_mid_run_is_reported_missing() {
    support::require_locust(NEEDS_LOCUST);
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut m = master(dir.path(), port, 2, 4, 10, &mock.url());
    let mut w1 = loadgen_worker(dir.path(), "w1", port, &mock.url(), &[]);
    let mut w2 = loadgen_worker(dir.path(), "w2", port, &mock.url(), &[]);
    assert!(
        m.wait_for("All users spawned", Duration::from_secs(20))
            .await,
        "the test never started:\n{}",
        m.console()
    );
    w2.child.start_kill().expect("kill a worker");
    let _ = w2.exit(Duration::from_secs(5)).await;
    assert!(
        m.wait_for("setting state to missing", Duration::from_secs(10))
            .await,
        "the master never reported the killed worker missing:\n{}",
        m.console()
    );
    m.exit(Duration::from_secs(30)).await;
    let s1 = w1.exit(Duration::from_secs(10)).await;
    assert!(s1.success(), "the surviving worker:\n{}", w1.console());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_worker_whose_master_goes_away_stops_and_exits() {
    support::require_locust(NEEDS_LOCUST);
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut m = master(dir.path(), port, 1, 2, 60, &mock.url());
    let mut w = loadgen_worker(
        dir.path(),
        "w",
        port,
        &mock.url(),
        &["--master-heartbeat-timeout", "3"],
    );
    assert!(
        m.wait_for("All users spawned", Duration::from_secs(20))
            .await,
        "the test never started:\n{}",
        m.console()
    );
    m.child.start_kill().expect("kill the master");
    let _ = m.exit(Duration::from_secs(5)).await;
    let status = w.exit(Duration::from_secs(15)).await;
    let console = w.console();
    assert_eq!(status.code(), Some(1), "{console}");
    assert!(
        console.contains("Didn't get heartbeat from master in over 3s"),
        "{console}"
    );
    // Its users stopped: the mock serves nothing more once the worker is gone.
    let before = mock.counts();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.counts(), before, "requests after the worker exited");
}

/// One Locust message as the master sends it: `[type, data, node_id]`.
fn envelope(kind: &str, data: Value, node_id: &str) -> Vec<u8> {
    let value = Value::Array(vec![kind.into(), data, node_id.into()]);
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &value).unwrap();
    out
}

fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// A test-side master: a ZeroMQ ROUTER on loopback.
struct FakeMaster {
    socket: zeromq::RouterSocket,
}

impl FakeMaster {
    /// Binds `port`, retrying for up to 5 s while a closed master's socket lets it go.
    async fn bind(port: u16) -> Self {
        let endpoint = format!("tcp://127.0.0.1:{port}");
        for _ in 0..50 {
            let mut socket = zeromq::RouterSocket::new();
            match socket.bind(&endpoint).await {
                Ok(_) => return Self { socket },
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("cannot bind a ROUTER on {endpoint} within 5 s");
    }

    /// Closes the socket and its connections, as a master that exits.
    async fn close(self) {
        let _ = self.socket.close().await;
    }

    /// The next message (its identity frame and decoded payload), within 10 s.
    async fn recv(&mut self) -> (Vec<u8>, String, Value, String) {
        let message = tokio::time::timeout(Duration::from_secs(10), self.socket.recv())
            .await
            .expect("a message from the worker within 10 s")
            .expect("recv");
        let frames = message.into_vec();
        assert_eq!(frames.len(), 2, "[identity, payload]");
        let value = rmpv::decode::read_value(&mut &frames[1][..]).expect("msgpack");
        let items = value.as_array().expect("an array").clone();
        assert_eq!(items.len(), 3, "[type, data, node_id]");
        (
            frames[0].to_vec(),
            items[0].as_str().unwrap().to_owned(),
            items[1].clone(),
            items[2].as_str().unwrap().to_owned(),
        )
    }

    /// The next message of `kind`, skipping heartbeats, stats and the like.
    async fn recv_kind(&mut self, kind: &str) -> Value {
        for _ in 0..200 {
            let (_, k, data, _) = self.recv().await;
            if k == kind {
                return data;
            }
        }
        panic!("no {kind} message among 200");
    }

    async fn send(&mut self, identity: &[u8], payload: Vec<u8>) {
        let mut message = zeromq::ZmqMessage::from(identity.to_vec());
        message.push_back(payload.into());
        self.socket.send(message).await.expect("send to the worker");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs loadgen's binary: cargo build -p loadgen (cargo test --workspace builds it)"]
async fn the_worker_survives_bad_messages_reports_missing_classes_and_rejoins_a_new_master() {
    let mock = start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut master = FakeMaster::bind(port).await;
    let mut w = loadgen_worker(dir.path(), "w", port, &mock.url(), &[]);
    let (identity, kind, version, node_id) = master.recv().await;
    assert_eq!(kind, "client_ready");
    assert_eq!(version.as_str(), Some("2.47.0"));
    assert_eq!(
        identity,
        node_id.as_bytes(),
        "the DEALER identity is the node id"
    );
    let (host, hex) = node_id.split_once('_').expect("<hostname>_<hex>");
    assert!(!host.is_empty() && hex.len() == 32, "{node_id}");

    // Garbage, a short envelope and an unknown type, then the real ack.
    master.send(&identity, vec![0xc1, 0x00]).await;
    let mut short = Vec::new();
    rmpv::encode::write_value(&mut short, &Value::Array(vec!["ack".into()])).unwrap();
    master.send(&identity, short).await;
    master
        .send(&identity, envelope("hello", Value::Nil, &node_id))
        .await;
    let ack = Value::Map(vec![("index".into(), 0.into())]);
    master.send(&identity, envelope("ack", ack, &node_id)).await;
    master.recv_kind("heartbeat").await;

    // A spawn with a class the worker lacks.
    let counts = Value::Map(vec![
        ("Reader".into(), 2.into()),
        ("Analyst".into(), 0.into()),
        ("Ghost".into(), 1.into()),
    ]);
    let spawn = Value::Map(vec![
        ("timestamp".into(), Value::from(1.0)),
        ("user_classes_count".into(), counts),
        ("host".into(), Value::from(mock.url().as_str())),
        ("stop_timeout".into(), Value::from(1.0)),
        ("parsed_options".into(), Value::Map(vec![])),
    ]);
    master
        .send(&identity, envelope("spawn", spawn, &node_id))
        .await;
    let exception = master.recv_kind("exception").await;
    let msg = field(&exception, "msg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert!(
        msg.contains("Ghost"),
        "the exception names the class: {msg}"
    );
    let complete = master.recv_kind("spawning_complete").await;
    let ucc = field(&complete, "user_classes_count").expect("user_classes_count");
    assert_eq!(field(ucc, "Reader").and_then(Value::as_u64), Some(2));
    assert_eq!(field(ucc, "Ghost").and_then(Value::as_u64), Some(0));
    assert_eq!(
        field(&complete, "user_count").and_then(Value::as_u64),
        Some(2)
    );

    // Reports carry requests, and a restarted master is joined again.
    let mut reported = 0;
    for _ in 0..3 {
        let stats = master.recv_kind("stats").await;
        let total = field(&stats, "stats_total").expect("stats_total");
        reported += field(total, "num_requests")
            .and_then(Value::as_u64)
            .unwrap();
    }
    assert!(reported > 0, "no request reported in three reports");
    master.close().await;
    let mut master = FakeMaster::bind(port).await;
    let (identity2, kind, _, _) = master.recv().await;
    assert_eq!(
        kind, "client_ready",
        "the worker registers with the new master"
    );
    assert_eq!(identity2, identity, "with the same identity");
    master
        .send(&identity, envelope("ack", Value::Map(vec![]), &node_id))
        .await;
    master
        .send(&identity, envelope("quit", Value::Nil, &node_id))
        .await;
    master.recv_kind("quit").await;
    let status = w.exit(Duration::from_secs(10)).await;
    let console = w.console();
    assert!(status.success(), "{console}");
    assert!(console.contains("Ignored a malformed message"), "{console}");
    assert!(
        console.contains("Unknown message type received from the master: hello"),
        "{console}"
    );
    assert!(console.contains("has no user class \"Ghost\""), "{console}");
}
