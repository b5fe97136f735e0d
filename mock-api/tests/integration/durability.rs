//! Nothing lost: every trade a client saw acknowledged is a row, and no trade is a row
//! whose client saw it fail, when clients give up, when the program gets SIGTERM with a
//! short grace, and when it gets SIGKILL; on a SQLite file, SQLite in memory (client
//! timeouts: nothing outlives the process there) and PostgreSQL. An `Idempotency-Key`
//! makes a retried order one trade.
//!
//! Each order has a quantity of its own, so the rows say which orders executed. Orders
//! go in waves timed far (hundreds of ms) from each wave's deadline and from the signal,
//! so the tests judge the commit's place, not a race with it.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use mock_api::latency::LatencyDistribution;
use mock_api::profile::Profile;
use mock_api::store::{Store, StoreOptions};

use crate::support::db::Db;
use crate::support::program::Program;
use crate::support::{self, raw, raw::Seen};

const EXECUTE: &str = "POST /api/trading/execute";

/// The order with quantity `q` (client by `q`, so writes spread over clients).
fn order(q: i64) -> String {
    format!(
        r#"{{"client_id":{},"ticker":"AAPL","quantity":{q},"side":"buy"}}"#,
        q % 10 + 1
    )
}

/// What a client saw: `Some(status)` for an answer, `None` for none (closed, reset,
/// or it gave up after `patience`).
async fn place(addr: SocketAddr, q: i64, patience: Duration) -> Option<u16> {
    let mut stream = raw::send(addr, "POST", "/api/trading/execute", Some(&order(q))).await;
    let read = tokio::time::timeout(patience, raw::read_all(&mut stream, patience)).await;
    match read {
        Ok(Seen::Eof { bytes, .. }) if !bytes.is_empty() => Some(raw::parse(&bytes).0),
        _ => None,
    }
}

/// A wave of orders (quantities `qs`) sent together after `delay`; each with its answer.
fn wave(
    addr: SocketAddr,
    delay: Duration,
    qs: std::ops::Range<i64>,
    patience: Duration,
) -> tokio::task::JoinHandle<Vec<(i64, Option<u16>)>> {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let sent: Vec<_> = qs
            .map(|q| tokio::spawn(async move { (q, place(addr, q, patience).await) }))
            .collect();
        let mut seen = Vec::new();
        for s in sent {
            seen.push(s.await.expect("the client task ends"));
        }
        seen
    })
}

/// The quantities answered 200.
fn acknowledged(seen: &[(i64, Option<u16>)]) -> BTreeSet<i64> {
    seen.iter()
        .filter(|(_, s)| *s == Some(200))
        .map(|(q, _)| *q)
        .collect()
}

/// The quantities of every trade row of clients 1..=10.
async fn rows(store: &Store) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    for client in 1..=10 {
        for t in store.trades(client, 1000).await.expect("trades read") {
            assert!(out.insert(t.quantity), "two rows for order {}", t.quantity);
        }
    }
    out
}

/// The same, read through the running server's API.
async fn rows_via_api(addr: SocketAddr) -> BTreeSet<i64> {
    let mut out = BTreeSet::new();
    for client in 1..=10 {
        let path = format!("/api/trading/history/{client}?limit=1000");
        let mut s = raw::send(addr, "GET", &path, None).await;
        let Seen::Eof { bytes, .. } = raw::read_all(&mut s, Duration::from_secs(10)).await else {
            panic!("{path}: no answer")
        };
        let (status, _, body) = raw::parse(&bytes);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let history: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        for t in history["trades"].as_array().expect("trades") {
            let q = t["quantity"].as_i64().expect("a quantity");
            assert!(out.insert(q), "two rows for order {q}");
        }
    }
    out
}

/// `fast` with trades taking exactly `trade_ms` and the client list `clients_ms`.
fn profile_file(dir: &tempfile::TempDir, trade_ms: f64, clients_ms: f64) -> String {
    let mut p: Profile = support::fixed_latency(EXECUTE, trade_ms);
    p.name = "durability".to_owned();
    p.routes
        .get_mut("GET /api/clients")
        .expect("the route is in the profile")
        .latency = LatencyDistribution::Fixed {
        ms: clients_ms,
        min_ms: None,
        max_ms: None,
    };
    let path = dir.path().join("durability.toml");
    std::fs::write(&path, p.to_toml()).expect("the profile is written");
    path.display().to_string()
}

const PATIENT: Duration = Duration::from_secs(30);

/// Clients that give up 200 ms into a 1-s trade leave no trade; patient ones get theirs.
async fn client_timeouts(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let profile = profile_file(&dir, 1000.0, 0.0);
    let program = Program::start(&["--profile", &profile, "--database", database]);
    let impatient = wave(
        program.addr,
        Duration::ZERO,
        1..21,
        Duration::from_millis(200),
    );
    let patient = wave(program.addr, Duration::ZERO, 21..41, PATIENT);
    let impatient = impatient.await.unwrap();
    let patient = patient.await.unwrap();
    assert!(
        impatient.iter().all(|(_, s)| s.is_none()),
        "the impatient clients got answers: {impatient:?}"
    );
    let acked = acknowledged(&patient);
    assert_eq!(
        acked,
        (21..41).collect(),
        "every patient order acknowledged"
    );
    // The impatient orders' deadlines have passed: their trades would be rows by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rows_via_api(program.addr).await,
        acked,
        "rows are exactly the acknowledged orders"
    );
    assert!(
        program.log().contains("listening"),
        "the program kept running"
    );
}

/// SIGTERM with a 1-s grace: orders due within the grace are answered and kept, orders
/// due after it are refused with 503 and not executed, a read still running is
/// abandoned, counted, and the exit is non-zero.
async fn sigterm_with_a_short_grace(database: &str) -> BTreeSet<i64> {
    let dir = tempfile::tempdir().unwrap();
    let profile = profile_file(&dir, 2000.0, 20_000.0);
    let mut program = Program::start(&[
        "--profile",
        &profile,
        "--database",
        database,
        "--shutdown-grace-secs",
        "1",
    ]);
    let addr = program.addr;
    // Due at 2.0 s (within the grace, which ends at 2.8 s), and at 3.5 s (after it).
    let early = wave(addr, Duration::ZERO, 1..21, PATIENT);
    let late = wave(addr, Duration::from_millis(1500), 21..41, PATIENT);
    let read = tokio::spawn(async move {
        let mut s = raw::send(addr, "GET", "/api/clients", None).await;
        raw::read_all(&mut s, PATIENT).await
    });
    tokio::time::sleep(Duration::from_millis(1800)).await;
    program.terminate();
    let early = early.await.unwrap();
    let late = late.await.unwrap();
    let status = program.wait(Duration::from_secs(30));
    let log = program.log();
    assert_eq!(acknowledged(&early), (1..21).collect(), "{early:?}\n{log}");
    assert!(
        late.iter().all(|(_, s)| *s == Some(503)),
        "orders due after the grace are refused: {late:?}\n{log}"
    );
    assert!(
        matches!(read.await.unwrap(), Seen::Eof { ref bytes, .. } | Seen::Error { ref bytes, .. } if bytes.is_empty()),
        "the slow read got no answer"
    );
    assert_eq!(
        status.code(),
        Some(1),
        "an abandoning shutdown fails: {log}"
    );
    assert!(
        log.contains("1 connection(s) still open after the 1 s shutdown grace were abandoned"),
        "the log says how many were abandoned:\n{log}"
    );
    acknowledged(&early)
}

/// SIGKILL between two waves: the first wave's trades are rows, the second's (killed
/// during their delay) are not.
async fn sigkill(database: &str) -> BTreeSet<i64> {
    let dir = tempfile::tempdir().unwrap();
    let profile = profile_file(&dir, 1000.0, 0.0);
    let mut program = Program::start(&["--profile", &profile, "--database", database]);
    let addr = program.addr;
    // Due at 1.0 s, and at 2.3 s; killed at 1.8 s.
    let answered = wave(addr, Duration::ZERO, 1..21, PATIENT);
    let killed = wave(addr, Duration::from_millis(1300), 21..41, PATIENT);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    program.kill();
    let answered = answered.await.unwrap();
    let killed = killed.await.unwrap();
    assert_eq!(acknowledged(&answered), (1..21).collect(), "{answered:?}");
    assert!(
        killed.iter().all(|(_, s)| s.is_none()),
        "no answer from a killed server: {killed:?}"
    );
    acknowledged(&answered)
}

/// The rows of the database at `url`, read after the program is gone.
async fn rows_at(url: &str) -> BTreeSet<i64> {
    let store = Store::connect(url, &StoreOptions::default())
        .await
        .expect("the database opens again");
    let found = rows(&store).await;
    store.close().await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_client_timeouts_leave_no_trade() {
    let db = Db::sqlite();
    client_timeouts(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_client_timeouts_leave_no_trade_and_lose_none() {
    client_timeouts("sqlite::memory:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_keeps_exactly_the_acknowledged_trades_across_sigterm() {
    let db = Db::sqlite();
    let acked = sigterm_with_a_short_grace(db.url()).await;
    assert_eq!(rows_at(db.url()).await, acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_keeps_exactly_the_acknowledged_trades_across_sigkill() {
    let db = Db::sqlite();
    let acked = sigkill(db.url()).await;
    assert_eq!(rows_at(db.url()).await, acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_answers_every_order_it_was_sent_before_sigterm() {
    // Memory ends with the process: what can be checked is the answers.
    sigterm_with_a_short_grace("sqlite::memory:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set MOCK_API_POSTGRES_URL=postgres://user@host:port/db"]
async fn postgres_client_timeouts_leave_no_trade() {
    let db = Db::postgres().await;
    client_timeouts(db.url()).await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set MOCK_API_POSTGRES_URL=postgres://user@host:port/db"]
async fn postgres_keeps_exactly_the_acknowledged_trades_across_sigterm() {
    let db = Db::postgres().await;
    let acked = sigterm_with_a_short_grace(db.url()).await;
    assert_eq!(rows_at(db.url()).await, acked);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set MOCK_API_POSTGRES_URL=postgres://user@host:port/db"]
async fn postgres_keeps_exactly_the_acknowledged_trades_across_sigkill() {
    let db = Db::postgres().await;
    let acked = sigkill(db.url()).await;
    assert_eq!(rows_at(db.url()).await, acked);
    db.cleanup().await;
}
