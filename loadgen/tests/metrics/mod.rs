//! `--metrics-port`: an in-process run against the axum test app with the Prometheus
//! endpoint on 127.0.0.1:0, scraped during the run and after it; and the binary's flags.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use loadgen::metrics::{self, MetricsConfig, MetricsServer};
use test_http::Reply;

use crate::support::{app, config, one_request};

/// The longest any wait in these tests may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// The row the test scenario sends.
const ROW: &str = r#"{method="GET",name="/metered"}"#;

/// `GET /metrics` over a fresh connection.
async fn scrape(addr: SocketAddr) -> Result<Reply, String> {
    tokio::time::timeout(DEADLINE, test_http::get(addr, "/metrics"))
        .await
        .map_err(|_| "no full answer in time".to_owned())?
        .map_err(|e| e.to_string())
}

/// The value of the sample `series` in an exposition, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    let prefix = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

fn endpoint(grace: Duration) -> MetricsConfig {
    MetricsConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        grace,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_serves_live_figures_during_the_run_and_the_final_ones_after() {
    let target = app().await;
    // Stopped by the test once the figures are seen; the run time only bounds it.
    let mut cfg = config(target, 2, 20.0, 2.0 * DEADLINE.as_secs_f64());
    let snapshots = metrics::subscribe(&mut cfg);
    let server = MetricsServer::bind(&endpoint(Duration::from_secs(60)), snapshots)
        .await
        .expect("binds 127.0.0.1:0");
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0, "the bound port is reported");
    let stop = cfg.stop.clone();
    let run = tokio::spawn(loadgen::run(
        cfg,
        one_request("/metered", "{ constant = 0.02 }"),
    ));

    // Live: both users running and requests counted, while the run goes on.
    let started = Instant::now();
    let (live, content_type) = loop {
        let reply = scrape(addr).await.expect("the endpoint answers");
        let text = reply.text();
        assert_eq!(reply.status, 200, "{text}");
        let users = sample(&text, "loadgen_users");
        let requests = sample(&text, &format!("loadgen_requests_total{ROW}"));
        if users == Some(2.0) && requests.is_some_and(|n| n > 0.0) {
            break (text, reply.header("content-type").unwrap_or("").to_owned());
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no live figures within {DEADLINE:?}; last scrape:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!run.is_finished(), "the run was still going");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert_eq!(
        sample(&live, &format!("loadgen_failures_total{ROW}")),
        Some(0.0)
    );
    let count = sample(&live, &format!("loadgen_response_time_seconds_count{ROW}"));
    let inf = sample(
        &live,
        r#"loadgen_response_time_seconds_bucket{le="+Inf",method="GET",name="/metered"}"#,
    );
    assert!(count.is_some_and(|c| c > 0.0) && count == inf, "{live}");

    // After the run: the endpoint still answers, with the final snapshot's totals.
    stop.cancel();
    let outcome = run.await.expect("the run task").expect("the run");
    let row = outcome.snapshot.row("GET", "/metered").expect("the row");
    let after = scrape(addr).await.expect("served during the grace").text();
    assert_eq!(
        sample(&after, &format!("loadgen_requests_total{ROW}")),
        Some(row.num_requests() as f64),
        "{after}"
    );
    // The final snapshot keeps the users running when the run stopped, as the reports do.
    assert_eq!(
        sample(&after, "loadgen_users"),
        Some(f64::from(outcome.snapshot.user_count)),
        "{after}"
    );

    // A cancelled stop token ends the grace at once; then nothing listens.
    tokio::time::timeout(DEADLINE, server.finish(&stop))
        .await
        .expect("finish returns when the run was stopped");
    assert!(scrape(addr).await.is_err(), "the endpoint is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_ends_with_the_first_scrape_of_the_final_figures() {
    let target = app().await;
    let mut cfg = config(target, 1, 10.0, 0.5);
    let snapshots = metrics::subscribe(&mut cfg);
    // A grace far longer than the test may take: only the scrape can end it in time.
    let server = MetricsServer::bind(&endpoint(Duration::from_secs(3600)), snapshots)
        .await
        .expect("binds 127.0.0.1:0");
    let addr = server.local_addr();
    let stop = cfg.stop.clone();
    loadgen::run(cfg, one_request("/metered", "{ constant = 0.05 }"))
        .await
        .expect("the run");
    assert!(!stop.is_cancelled(), "the run ended by its run time");
    let finish = tokio::spawn(async move { server.finish(&stop).await });
    let reply = scrape(addr).await.expect("served during the grace");
    assert_eq!(reply.status, 200, "{}", reply.text());
    tokio::time::timeout(DEADLINE, finish)
        .await
        .expect("the scrape ended the grace")
        .expect("the finish task");
    assert!(scrape(addr).await.is_err(), "the endpoint is closed");
}

#[tokio::test]
async fn a_port_in_use_is_refused_with_its_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address");
    let config = MetricsConfig {
        bind: addr,
        grace: Duration::ZERO,
    };
    let (_tx, rx) = tokio::sync::watch::channel(std::sync::Arc::new(
        loadgen::stats::Snapshot::empty(std::time::SystemTime::now()),
    ));
    let error = MetricsServer::bind(&config, rx)
        .await
        .expect_err("the port is taken");
    let message = error.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("--metrics-port"), "{message}");
}

#[test]
fn the_binary_offers_the_flags_and_refuses_them_without_headless() {
    let help = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--help")
        .output()
        .expect("loadgen --help");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--metrics-port", "--metrics-host", "--metrics-grace"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    let refused = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--metrics-port", "0", "-H", "http://127.0.0.1:9"])
        .output()
        .expect("loadgen");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("needs --headless"), "{stderr}");
}

#[test]
fn the_binary_prints_the_bound_address_and_serves_while_it_runs() {
    use std::io::{BufRead as _, BufReader};

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let target = runtime.block_on(app());
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["-f", "guide", "-H", &format!("http://{target}")])
        .args([
            "-u",
            "1",
            "-r",
            "1",
            "-t",
            "30s",
            "--headless",
            "--only-summary",
        ])
        .args(["--metrics-port", "0", "--metrics-grace", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("loadgen");
    let stderr = child.stderr.take().expect("stderr");
    // The announcement comes before the run starts; a bounded number of lines is read.
    let announced = BufReader::new(stderr)
        .lines()
        .take(50)
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Serving Prometheus metrics at http://")
                .and_then(|rest| rest.strip_suffix("/metrics"))
                .and_then(|a| a.parse::<SocketAddr>().ok())
        });
    let result = announced
        .ok_or_else(|| "no address announced".to_owned())
        .and_then(|addr| {
            if !addr.ip().is_loopback() {
                return Err(format!("{addr}: the default host is loopback"));
            }
            let reply = test_http::blocking::get(addr, "/metrics").map_err(|e| e.to_string())?;
            Ok((addr, reply))
        });
    let _ = child.kill();
    let _ = child.wait();
    let (_, reply) = result.unwrap_or_else(|e| panic!("{e}"));
    let text = reply.text();
    assert_eq!(reply.status, 200, "{text}");
    assert!(text.contains("loadgen_users"), "{text}");
}
