//! loadgen over HTTPS and host names, against servers on loopback only: a verified run
//! with `--ca-cert` (SNI sent, one kept-alive connection), a certificate refused as a
//! failure kind, `--insecure`, session resumption across reconnections, `localhost` and
//! `[::1]` targets, a name that does not resolve (through a stub resolver, never a real
//! lookup), every address of a name tried in order, absolute URLs to another host, and
//! the CSV rows the same as over plain HTTP.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use loadgen::{run, Resolver, RunConfig, RunOutcome, Scenario, Target};

use crate::support::tls::{https_app, HttpsServer};
use crate::support::{self, one_request};

/// A run of one user making `iterations` task iterations against `url`, bounded in time.
fn config(url: &str, iterations: u64) -> RunConfig {
    let mut c = RunConfig::new(
        Target::parse(url).unwrap(),
        1,
        100.0,
        Some(Duration::from_secs(20)),
    );
    c.seed = 1;
    c.iterations = Some(iterations);
    c.request_timeout = Duration::from_secs(5);
    c
}

/// `config` trusting the server's CA, written to a file in `dir` as `--ca-cert` reads it.
fn verified(url: &str, iterations: u64, server: &HttpsServer, dir: &Path) -> RunConfig {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let mut c = config(url, iterations);
    c.tls.add_ca_file(&ca).unwrap();
    c
}

/// The failures of a run, as (error text, occurrences).
fn errors(outcome: &RunOutcome) -> Vec<(String, u64)> {
    outcome
        .snapshot
        .errors
        .iter()
        .map(|e| (e.error.clone(), e.occurrences))
        .collect()
}

const NO_WAIT: &str = "{ constant = 0 }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_run_keeps_one_connection_and_sends_sni() {
    let server = https_app("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}", server.addr.port());
    let outcome = run(
        verified(&url, 20, &server, dir.path()),
        one_request("/json", NO_WAIT),
    )
    .await
    .unwrap();
    let row = outcome.snapshot.row("GET", "/json").expect("a /json row");
    assert_eq!(
        (row.num_requests(), row.num_failures()),
        (20, 0),
        "{:?}",
        errors(&outcome)
    );
    assert_eq!(row.total_content_length(), 20 * 28);
    assert_eq!(outcome.exit_code, 0);
    // Keep-alive over TLS: twenty requests, one connection, one handshake naming the host.
    assert_eq!(server.seen.connections(), 1);
    assert_eq!(
        *server.seen.server_names.lock().unwrap(),
        [Some("localhost".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_ca_is_a_failure_kind_and_insecure_accepts_it() {
    let server = https_app("127.0.0.1:0").await;
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let outcome = run(config(&url, 5), one_request("/", NO_WAIT))
        .await
        .unwrap();
    assert_eq!(
        errors(&outcome),
        [(
            "SSLCertVerificationError: certificate verify failed: unable to get local issuer \
             certificate (trust its CA with --ca-cert FILE, or skip verification with --insecure)"
                .to_owned(),
            5
        )]
    );
    assert_eq!(outcome.exit_code, 1);
    // Each request tried a new connection, and the client refused each certificate.
    assert_eq!(server.seen.connections(), 5);
    assert_eq!(server.seen.failed_handshakes(), 5);

    let mut insecure = config(&url, 5);
    insecure.tls.insecure = true;
    let outcome = run(insecure, one_request("/", NO_WAIT)).await.unwrap();
    assert_eq!(outcome.snapshot.aggregated.num_requests(), 5);
    assert_eq!(errors(&outcome), []);
    // An IP address is checked without SNI (RFC 6066 names hosts only).
    assert_eq!(server.seen.server_names.lock().unwrap().last(), Some(&None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused_by_name() {
    let server = https_app("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    // The certificate names localhost and the loopback addresses, not this name, which
    // the stub resolves to loopback.
    let url = format!("https://other.test:{}", server.addr.port());
    let mut c = verified(&url, 2, &server, dir.path());
    c.resolver = stub_resolver();
    let outcome = run(c, one_request("/", NO_WAIT)).await.unwrap();
    assert_eq!(
        errors(&outcome),
        [(
            "SSLCertVerificationError: certificate verify failed: the certificate is not valid for \"other.test\"".to_owned(),
            2
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnections_resume_the_tls_session() {
    let server = https_app("127.0.0.1:0").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}", server.addr.port());
    // `/close` answers with `Connection: close`: every request opens a new connection.
    let outcome = run(
        verified(&url, 6, &server, dir.path()),
        one_request("/close", NO_WAIT),
    )
    .await
    .unwrap();
    assert_eq!(errors(&outcome), []);
    assert_eq!(server.seen.connections(), 6);
    // The first handshake is a full one; every later one resumes the session.
    assert_eq!(server.seen.resumed(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_localhost_targets_work_over_both_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let v6 = https_app("[::1]:0").await;
    let url = format!("https://[::1]:{}", v6.addr.port());
    let outcome = run(
        verified(&url, 3, &v6, dir.path()),
        one_request("/json", NO_WAIT),
    )
    .await
    .unwrap();
    assert_eq!(
        (outcome.snapshot.aggregated.num_requests(), errors(&outcome)),
        (3, vec![])
    );
    let plain = support::app().await;
    let url = format!("http://localhost:{}", plain.port());
    let outcome = run(config(&url, 3), one_request("/json", NO_WAIT))
        .await
        .unwrap();
    assert_eq!(
        (outcome.snapshot.aggregated.num_requests(), errors(&outcome)),
        (3, vec![])
    );
}

/// A resolver that knows a few names and fails the others, as a DNS server without the
/// name would: `other.test` is loopback, `both.test` is a closed port then loopback
/// (with the port asked for), anything else does not exist.
fn stub_resolver() -> Resolver {
    Resolver::from_fn(|host, port| {
        let loopback = SocketAddr::from(([127, 0, 0, 1], port));
        let answer = match host {
            "other.test" => Ok(vec![loopback]),
            "both.test" => Ok(vec![
                SocketAddr::from(([127, 0, 0, 1], closed_port())),
                loopback,
            ]),
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "Name or service not known",
            )),
        };
        std::future::ready(answer)
    })
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolve_per_connection_trying_every_address() {
    let app = support::app().await;
    // A name that does not resolve fails each request, with the name and the reason.
    let mut c = config(&format!("http://missing.test:{}", app.port()), 4);
    c.resolver = stub_resolver();
    let outcome = run(c, one_request("/", NO_WAIT)).await.unwrap();
    assert_eq!(
        errors(&outcome),
        [(
            "NameResolutionError: failed to resolve \"missing.test\" (Name or service not known)"
                .to_owned(),
            4
        )]
    );
    // The first address refuses; the second answers, and the Host header is the name's.
    let mut c = config(&format!("http://both.test:{}", app.port()), 3);
    c.resolver = stub_resolver();
    let outcome = run(c, one_request("/json", NO_WAIT)).await.unwrap();
    assert_eq!(
        (outcome.snapshot.aggregated.num_requests(), errors(&outcome)),
        (3, vec![])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_urls_go_to_their_own_host_named_by_their_path() {
    let server = https_app("127.0.0.1:0").await;
    let (plain, ports) = support::peer_counting().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://localhost:{}", server.addr.port());
    let scenario = Scenario::from_toml(
        "absolute.toml",
        &format!(
            "[classes.U]\nwait = {{ constant = 0 }}\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [\n  \
             {{ method = \"GET\", path = \"/json\" }},\n  \
             {{ method = \"GET\", path = \"http://127.0.0.1:{}/elsewhere?x=1\" }},\n]\n",
            plain.port()
        ),
    )
    .unwrap();
    let outcome = run(verified(&url, 4, &server, dir.path()), scenario)
        .await
        .unwrap();
    assert_eq!(errors(&outcome), []);
    assert_eq!(
        outcome.snapshot.row("GET", "/json").unwrap().num_requests(),
        4
    );
    // Named by path and query, as Locust's HttpUser names an absolute URL.
    let other = outcome
        .snapshot
        .row("GET", "/elsewhere?x=1")
        .expect("a row");
    assert_eq!(other.num_requests(), 4);
    // One connection per user: each switch of host closes one and opens the other.
    assert_eq!(ports.lock().unwrap().len(), 4);
    assert_eq!(server.seen.connections(), 4);
    assert_eq!(server.seen.resumed(), 3);
}

/// The columns of a stats or failures CSV that do not depend on timing: all but the
/// failures file's last two (its first and last seen times, to the second, which two
/// runs straddling a second's turn do not share); Type, Name, the counts and the average
/// size of the stats file.
fn timeless(csv: &str, stats: bool) -> Vec<String> {
    csv.lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            if stats {
                // Type, Name, Request Count, Failure Count, ..., Average Content Size.
                format!(
                    "{},{},{},{},{}",
                    cells[0], cells[1], cells[2], cells[3], cells[8]
                )
            } else {
                // The error text may hold commas; the two times never do.
                line.rsplitn(3, ',').nth(2).unwrap_or(line).to_owned()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_rows_are_the_same_as_over_plain_http() {
    let server = https_app("127.0.0.1:0").await;
    let plain = support::app().await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = || {
        Scenario::from_toml(
            "mix.toml",
            "[classes.U]\nwait = { constant = 0 }\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [\n  \
             { method = \"GET\", path = \"/json\" },\n  \
             { method = \"GET\", path = \"/status/404\" },\n  \
             { method = \"GET\", path = \"/redirect\" },\n  \
             { method = \"POST\", path = \"/api/trading/execute\", body = { client_id = 3, quantity = 5, side = \"buy\", ticker = \"AAPL\", order_type = \"market\" } },\n]\n",
        )
        .unwrap()
    };
    let mut files = Vec::new();
    for (name, mut c) in [
        (
            "plain",
            config(&format!("http://127.0.0.1:{}", plain.port()), 10),
        ),
        (
            "tls",
            verified(
                &format!("https://localhost:{}", server.addr.port()),
                10,
                &server,
                dir.path(),
            ),
        ),
    ] {
        let prefix = dir.path().join(name);
        c.output.csv_prefix = Some(prefix.clone());
        let outcome = run(c, scenario()).await.unwrap();
        assert_eq!(outcome.snapshot.aggregated.num_requests(), 40, "{name}");
        let read = |suffix: &str| {
            std::fs::read_to_string(format!("{}_{suffix}.csv", prefix.display())).unwrap()
        };
        files.push((
            timeless(&read("stats"), true),
            timeless(&read("failures"), false),
        ));
    }
    assert_eq!(files[0], files[1]);
    // The rows say what happened: four requests, ten failures of the 404.
    assert!(
        files[0].1.iter().any(|l| l.contains("404 Client Error")),
        "{:?}",
        files[0].1
    );
    assert_eq!(files[0].0.len(), 6, "{:?}", files[0].0);
}
