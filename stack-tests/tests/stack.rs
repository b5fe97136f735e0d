//! The monitoring stack, checked without a container engine.
//!
//! * `dashboards_read_only_exported_metrics`: every dashboard parses, every panel has a
//!   query on the provisioned datasource, and every metric a query names is one that
//!   mock-api really exports (read from its live exposition) or one of loadgen's.
//! * `compose_files_refer_to_each_other_consistently`: mount paths, ports and scrape
//!   targets named in one file of the stack exist in the others; every port is loopback.
//! * `every_dashboard_query_answers_from_a_real_prometheus`: starts Debian's
//!   `prometheus` on loopback scraping an in-process mock-api and an in-process loadgen
//!   (its `--metrics-port` endpoint) every second, runs a short load, then evaluates every
//!   panel's query through `/api/v1/query` and fails on any error or empty result; the
//!   shipped alert rules are loaded too and must evaluate without error.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser as _;
use loadgen::cli::Cli;
use loadgen::metrics::MetricsServer;
use mock_api::profile::Profile;
use mock_api::server::ServerConfig;
use stack_tests::dashboard::{self, Dashboard, Substitutions};
use stack_tests::prometheus::{self, PrometheusServer, ScrapeJob};

/// Metric names loadgen's `--metrics-port` endpoint serves (histogram series included).
const LOADGEN_METRICS: &[&str] = &[
    "loadgen_requests_total",
    "loadgen_failures_total",
    "loadgen_users",
    "loadgen_response_time_seconds_bucket",
    "loadgen_response_time_seconds_sum",
    "loadgen_response_time_seconds_count",
];

/// The dashboard fed by loadgen rather than mock-api.
const LOAD_TEST_UID: &str = "acis-load-test";

/// Short latencies on every route, and failures on a fixed schedule (one request in N),
/// so that the error and injected-failure panels have data in a run of a few seconds.
const TEST_PROFILE: &str = r#"
name = "stack-test"
description = "Fast answers; a 503, a 500 and a reset on fixed schedules."

[defaults]
latency = { kind = "uniform", low_ms = 1, high_ms = 10 }

[jobs]
duration = { kind = "uniform", low_ms = 100, high_ms = 200 }
failure_probability = 0.0

[routes."GET /api/clients"]
latency = { kind = "uniform", low_ms = 1, high_ms = 10 }
failures = [{ kind = "status", code = 503, every = 7 }]

[routes."GET /api/ml/predict"]
latency = { kind = "uniform", low_ms = 1, high_ms = 10 }
failures = [{ kind = "reset", every = 9 }]

[routes."POST /api/trading/execute"]
latency = { kind = "uniform", low_ms = 1, high_ms = 10 }
failures = [{ kind = "status", code = 500, every = 5 }]
"#;

/// The guide's 50/40/10 mix with short waits, so a few users make steady traffic.
const TEST_SCENARIO: &str = r#"
description = "The guide's mix with short waits, for the stack test"

[classes.StackUser]
wait = { between = [0.02, 0.08] }
headers = { Content-Type = "application/json", Accept = "application/json" }

[[classes.StackUser.tasks]]
name = "get_clients"
weight = 5
requests = [{ method = "GET", path = "/api/clients" }]

[[classes.StackUser.tasks]]
name = "predict"
weight = 4
requests = [{ method = "GET", path = "/api/ml/predict?ticker={AAPL|GOOGL|MSFT}", name = "/api/ml/predict" }]

[[classes.StackUser.tasks]]
name = "execute_trade"
weight = 1

[[classes.StackUser.tasks.requests]]
method = "POST"
path = "/api/trading/execute"
body = { client_id = "{1..10}", ticker = "{AAPL|GOOGL|MSFT}", quantity = "{1..100}", side = "{buy|sell}", order_type = "market" }
"#;

/// Scrape interval of the generated configuration.
const SCRAPE_INTERVAL: &str = "1s";
/// What `$__rate_interval` becomes. Grafana would pick 4 × the scrape interval (4 s);
/// a longer window still holds several samples when a busy machine delays scrapes.
const RATE_INTERVAL: &str = "10s";
/// Scrapes of each job before the queries are evaluated: more than one rate window, so
/// every `[10s]` and `[1m]` window holds samples of every series.
const SCRAPES_BEFORE_QUERYING: u32 = 12;
/// The longest wait for those scrapes.
const DATA_TIMEOUT: Duration = Duration::from_secs(60);
/// loadgen's run time: an upper bound; the test stops it once the queries are done.
const LOADGEN_RUN_TIME: &str = "90s";

fn dashboards() -> Vec<Dashboard> {
    let dir = stack_tests::dashboards_dir();
    let all = dashboard::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        all.len() >= 2,
        "expected the two dashboards in {}",
        dir.display()
    );
    all
}

/// Metric names in mock-api's real exposition, after one of each kind of event.
fn mock_api_metric_names() -> Vec<String> {
    let metrics = mock_api::metrics::Metrics::new();
    metrics.observe("GET /api/clients", Some(200), 0.01);
    metrics.injected("/api/clients", "reset");
    metrics
        .encode()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn dashboards_read_only_exported_metrics() {
    let exported = mock_api_metric_names();
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_flight",
        "mock_injected_failures_total",
    ] {
        assert!(
            exported.iter().any(|e| e == name),
            "mock-api no longer exports {name}: {exported:?}"
        );
    }
    let datasource = std::fs::read_to_string(
        stack_tests::workspace_root()
            .join("deploy/grafana/provisioning/datasources/prometheus.yml"),
    )
    .expect("the provisioned datasource file");
    let titles: Vec<String> = dashboards().iter().map(|d| d.title.clone()).collect();
    for wanted in ["API Performance", "Load test"] {
        assert!(
            titles.iter().any(|t| t == wanted),
            "no dashboard titled {wanted:?}: {titles:?}"
        );
    }
    let mut problems = Vec::new();
    for d in dashboards() {
        for uid in &d.datasource_uids {
            if !datasource.contains(&format!("uid: {uid}\n")) {
                problems.push(format!(
                    "{}: datasource uid {uid:?} is not provisioned",
                    d.title
                ));
            }
        }
        let allowed: Vec<&str> = if d.uid == LOAD_TEST_UID {
            LOADGEN_METRICS.to_vec()
        } else {
            exported.iter().map(String::as_str).collect()
        };
        let exprs = d
            .queries
            .iter()
            .map(|q| (q.panel.clone(), q.expr.clone()))
            .chain(
                d.variables
                    .iter()
                    .map(|v| (format!("variable ${}", v.name), v.query.clone())),
            );
        for (place, expr) in exprs {
            let names = dashboard::names_with_prefixes(&expr, &["http_", "mock_", "loadgen_"]);
            if names.is_empty() {
                problems.push(format!(
                    "{} / {place}: reads no known metric: {expr}",
                    d.title
                ));
            }
            for name in names {
                if !allowed.contains(&name.as_str()) {
                    problems.push(format!("{} / {place}: {name} is not exported", d.title));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard problems:\n{}",
        problems.join("\n")
    );
}

/// The value after `key:` on the first line of `text` that has it, unquoted.
fn yaml_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let rest = l.trim().trim_start_matches("- ").strip_prefix(key)?;
        Some(rest.strip_prefix(':')?.trim().trim_matches('"'))
    })
}

/// The references between docker-compose.yml, Prometheus's and Grafana's files, which
/// `docker-compose config` and `promtool` cannot see, agree.
#[test]
fn compose_files_refer_to_each_other_consistently() {
    let root = stack_tests::workspace_root();
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let compose = read("docker-compose.yml");
    let provider = read("deploy/grafana/provisioning/dashboards/acis.yml");
    let datasource = read("deploy/grafana/provisioning/datasources/prometheus.yml");
    let prometheus = read("deploy/prometheus/prometheus.yml");

    let dashboards_path = yaml_value(&provider, "path").expect("the provider's path");
    assert!(
        compose.contains(&format!("./deploy/grafana/dashboards:{dashboards_path}:ro")),
        "docker-compose.yml does not mount the dashboards at {dashboards_path}"
    );
    let home = yaml_value(&compose, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        .expect("Grafana's home dashboard");
    let home_file = home
        .strip_prefix(&format!("{dashboards_path}/"))
        .unwrap_or_else(|| panic!("home dashboard {home} is outside {dashboards_path}"));
    assert!(
        root.join("deploy/grafana/dashboards")
            .join(home_file)
            .is_file(),
        "{home}"
    );
    assert!(compose.contains("./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"));

    assert_eq!(
        yaml_value(&datasource, "url"),
        Some("http://prometheus:9090")
    );
    assert!(compose.contains("--web.listen-address=0.0.0.0:9090"));
    assert!(compose.contains("./deploy/prometheus:/etc/prometheus:ro"));

    // Scrape targets: mock-api's port, and loadgen's metrics port under its service name;
    // loadgen reaches mock-api by name like any other client.
    assert!(
        prometheus.contains(r#"targets: ["mock-api:8000"]"#),
        "{prometheus}"
    );
    assert!(compose.contains("--port=8000") && compose.contains("--bind=0.0.0.0"));
    assert!(
        prometheus.contains(r#"targets: ["loadgen:9646"]"#),
        "{prometheus}"
    );
    assert!(compose.contains("--metrics-port=9646"));
    assert!(compose.contains("--host=http://mock-api:8000"));
    assert!(!compose.contains("network_mode"));

    // Every published port (the items under each `ports:`) is on loopback.
    let mut published = Vec::new();
    let mut in_ports = false;
    for line in compose.lines().map(str::trim) {
        if line == "ports:" {
            in_ports = true;
        } else if in_ports && line.starts_with("- ") {
            published.push(line);
        } else if !line.starts_with('#') {
            in_ports = false;
        }
    }
    assert_eq!(published.len(), 4, "{published:?}");
    for line in published {
        assert!(
            line.starts_with("- \"127.0.0.1:"),
            "not bound to loopback: {line}"
        );
    }
}

/// A loadgen run in this process serving its `--metrics-port` endpoint; stopped when
/// dropped, so no failure leaves it running.
struct LoadgenRun {
    metrics: SocketAddr,
    stop: tokio_util::sync::CancellationToken,
}

impl LoadgenRun {
    /// Parses loadgen's own flags and starts the run and its endpoint on `runtime`.
    fn start(runtime: &tokio::runtime::Runtime, args: &[&str]) -> Self {
        let cli = Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("loadgen flags: {e}"));
        let metrics = cli
            .metrics_config()
            .unwrap_or_else(|e| panic!("{e}"))
            .expect("--metrics-port is given");
        let (mut config, scenario) = cli.into_run().unwrap_or_else(|e| panic!("{e}"));
        let snapshots = loadgen::metrics::subscribe(&mut config);
        let server = runtime
            .block_on(MetricsServer::bind(&metrics, snapshots))
            .unwrap_or_else(|e| panic!("{e}"));
        let metrics = server.local_addr();
        let stop = config.stop.clone();
        runtime.spawn(async move {
            let outcome = loadgen::run(config, scenario).await;
            server.shutdown().await;
            outcome
        });
        Self { metrics, stop }
    }
}

impl Drop for LoadgenRun {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Waits until `expr` gives a value of at least `at_least` (bounded by `deadline`).
fn wait_for(prom: &PrometheusServer, expr: &str, at_least: f64, deadline: Instant) {
    let mut last = String::from("not evaluated");
    while Instant::now() < deadline {
        match prom.query(expr, None) {
            Ok(r) if r.samples.iter().any(|s| s.value >= at_least) => return,
            Ok(r) => last = format!("{:?}", r.samples),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "{expr} did not reach {at_least} within {DATA_TIMEOUT:?}; last answer: {last}\nprometheus log:\n{}",
        prom.log_tail()
    );
}

fn alert_rules() -> PathBuf {
    stack_tests::workspace_root().join("deploy/prometheus/alerts.yml")
}

/// The alert rules the stack ships, by name.
const ALERTS: &[&str] = &["HighResponseTime", "HighErrorRate", "LowThroughput"];

/// Alert states the test profile must produce: about 13% of requests fail (so the error
/// alert is at least pending) and answers take milliseconds (so the response-time alert
/// stays quiet). Throughput is not judged: a `[1m]` rate over a few seconds of data
/// underestimates it until the window fills.
const EXPECTED_ALERT_STATES: &[(&str, &[&str])] = &[
    ("HighResponseTime", &["inactive"]),
    ("HighErrorRate", &["pending", "firing"]),
];

/// Every alert rule is loaded and evaluates without error on live mock-api metrics, in
/// the state the test profile calls for.
fn check_alert_rules(prom: &PrometheusServer, failures: &mut Vec<String>) {
    let deadline = Instant::now() + DATA_TIMEOUT;
    let rules = loop {
        let rules = prom.rules().unwrap_or_else(|e| panic!("{e}"));
        // `unknown` until the first evaluation, one evaluation interval after loading.
        if rules.iter().all(|r| r.health != "unknown") || Instant::now() >= deadline {
            break rules;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    if names != ALERTS {
        failures.push(format!(
            "alert rules loaded: {names:?}, expected {ALERTS:?}"
        ));
    }
    for rule in &rules {
        let expected = EXPECTED_ALERT_STATES
            .iter()
            .find(|(name, _)| *name == rule.name);
        if let Some((_, states)) = expected {
            if !states.contains(&rule.state.as_str()) {
                failures.push(format!(
                    "alert {}: state {}, expected one of {states:?}",
                    rule.name, rule.state
                ));
            }
        }
        if rule.health == "ok" {
            eprintln!("ok   alert {}: evaluates ({})", rule.name, rule.state);
        } else {
            failures.push(format!(
                "alert {}: health {} {}",
                rule.name, rule.health, rule.last_error
            ));
        }
    }
}

#[test]
#[ignore = "needs Prometheus: apt-get install prometheus"]
fn every_dashboard_query_answers_from_a_real_prometheus() {
    let Some(prometheus_bin) = stack_tests::find_on_path("prometheus") else {
        panic!("prometheus is not on PATH: apt-get install prometheus (Debian's package)");
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let profile =
        Profile::from_toml(TEST_PROFILE, "stack-test profile").unwrap_or_else(|e| panic!("{e}"));
    let mut config = ServerConfig::new(profile);
    config.shutdown_grace = Duration::from_secs(2);
    let server = runtime
        .block_on(mock_api::spawn(config))
        .unwrap_or_else(|e| panic!("mock-api did not start: {e}"));

    let scenario = dir.path().join("stack-test.toml");
    std::fs::write(&scenario, TEST_SCENARIO).expect("writing the scenario");
    let host = server.url("");
    let scenario_arg = scenario.to_string_lossy();
    #[rustfmt::skip]
    let load = LoadgenRun::start(&runtime, &[
        "-f", &scenario_arg, "-H", &host, "-u", "4", "-r", "4", "-t", LOADGEN_RUN_TIME,
        "--headless", "--only-summary", "--seed", "7", "--metrics-port", "0",
    ]);
    let jobs = [
        ScrapeJob {
            name: "mock-api".to_owned(),
            target: server.addr(),
        },
        ScrapeJob {
            name: "loadgen".to_owned(),
            target: load.metrics,
        },
    ];
    let prom = PrometheusServer::start(
        &prometheus_bin,
        &prometheus::config_yaml(SCRAPE_INTERVAL, &jobs, &[alert_rules()]),
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let deadline = Instant::now() + DATA_TIMEOUT;
    let scrapes = f64::from(SCRAPES_BEFORE_QUERYING);
    wait_for(&prom, "sum(http_requests_total)", 50.0, deadline);
    wait_for(&prom, "sum(mock_injected_failures_total)", 3.0, deadline);
    wait_for(
        &prom,
        r#"count_over_time(up{job="mock-api"}[1m])"#,
        scrapes,
        deadline,
    );
    wait_for(&prom, "sum(loadgen_requests_total)", 50.0, deadline);
    wait_for(
        &prom,
        r#"count_over_time(up{job="loadgen"}[1m])"#,
        scrapes,
        deadline,
    );

    // Every query at one instant, while the load still runs.
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64();
    let mut failures = Vec::new();
    check_alert_rules(&prom, &mut failures);
    let mut evaluated = 0;
    for d in dashboards() {
        let subs = Substitutions::new(RATE_INTERVAL, SCRAPE_INTERVAL, "1m").with_all_values(&d);
        let variable_queries = d.variables.iter().map(|v| {
            let promql = dashboard::label_values_as_promql(&v.query).ok_or_else(|| {
                format!(
                    "variable ${}: only label_values(metric, label) is checked, got {:?}",
                    v.name, v.query
                )
            });
            (format!("variable ${}", v.name), promql)
        });
        let panel_queries = d
            .queries
            .iter()
            .map(|q| (format!("{} [{}]", q.panel, q.ref_id), subs.apply(&q.expr)));
        for (place, expr) in panel_queries.chain(variable_queries) {
            let expr = match expr {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!("{} / {place}: {e}", d.title));
                    continue;
                }
            };
            evaluated += 1;
            match prom.query(&expr, Some(at)) {
                Ok(r) if r.is_empty() => {
                    failures.push(format!("{} / {place}: empty result for {expr}", d.title))
                }
                Ok(r) => eprintln!("ok   {} / {place}: {} sample(s)", d.title, r.samples.len()),
                Err(e) => failures.push(format!("{} / {place}: {e}", d.title)),
            }
        }
    }
    drop(load);
    let report = runtime.block_on(server.shutdown());
    assert!(report.is_ok(), "mock-api shutdown: {report:?}");
    assert!(evaluated > 0, "no query was evaluated");
    assert!(
        failures.is_empty(),
        "{} of {evaluated} dashboard queries failed:\n{}\nprometheus log:\n{}",
        failures.len(),
        failures.join("\n"),
        prom.log_tail()
    );
    eprintln!("{evaluated} dashboard queries evaluated without error");
}
