//! The web API against bad input, the auth rule, and a live run's answers, through the
//! router (tower `oneshot`) with an in-process axum target on 127.0.0.1:0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt as _;

use super::*;
use crate::engine::runner::RunConfig;
use crate::plan::target::Target;

/// Every poll gives up after this long.
const DEADLINE: Duration = Duration::from_secs(20);

/// A target that answers `/hello` with 200 and `/fail` with 503.
async fn target() -> SocketAddr {
    let app = Router::new()
        .route("/hello", axum::routing::get(|| async { "hello" }))
        .route(
            "/fail",
            axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Two classes, 3:1: readers GET /hello, writers GET /fail.
fn scenario() -> Scenario {
    Scenario::from_toml(
        "web.toml",
        "[classes.Reader]\nweight = 3\nwait = { constant = 0.05 }\n[[classes.Reader.tasks]]\nname = \"read\"\nrequests = [{ method = \"GET\", path = \"/hello\" }]\n\
         [classes.Writer]\nweight = 1\nwait = { constant = 0.05 }\n[[classes.Writer.tasks]]\nname = \"write\"\nrequests = [{ method = \"GET\", path = \"/fail\" }]\n",
    )
    .unwrap()
}

fn config(host: &str, auth: Option<Credentials>) -> WebConfig {
    let base = RunConfig::new(Target::parse(host).unwrap(), 1, 1.0, None);
    WebConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        limits: WebLimits::default(),
        auth,
        defaults: RunParams {
            users: 1,
            spawn_rate: 1.0,
            host: base.target.url.clone(),
            run_time: None,
            classes: Vec::new(),
        },
        base,
        scenario: scenario(),
        autostart: false,
        autoquit: None,
        criteria: crate::verdict::criteria::CriteriaSet::aggregated(&["fail_ratio <= 0.5"])
            .unwrap(),
        baselines: crate::verdict::baseline::Baselines::default(),
        logs: super::LogRing::default(),
    }
}

async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    call_with(app, method, uri, body, None).await
}

async fn call_with(
    app: &Router,
    method: &str,
    uri: &str,
    body: &str,
    authorization: Option<&str>,
) -> (StatusCode, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(a) = authorization {
        request = request.header(header::AUTHORIZATION, a);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn json(app: &Router, method: &str, uri: &str, body: &str) -> Value {
    let (status, text) = call(app, method, uri, body).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Polls `/stats/requests` until `done` holds, failing after the deadline.
async fn wait_for(app: &Router, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let stats = json(app, "GET", "/stats/requests", "").await;
        if done(&stats) {
            return stats;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {what}: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn swarm_refuses_bad_input_with_a_message() {
    let addr = target().await;
    let state = WebState::new(config(&format!("http://{addr}"), None));
    let app = router(Arc::clone(&state));
    let dead = closed_port().await;
    let cases = [
        ("spawn_rate=1".to_owned(), "user_count is missing"),
        (
            "user_count=-3&spawn_rate=1".to_owned(),
            "bad user_count \"-3\"",
        ),
        (
            "user_count=many&spawn_rate=1".to_owned(),
            "bad user_count \"many\"",
        ),
        ("user_count=2".to_owned(), "spawn_rate is missing"),
        (
            "user_count=2&spawn_rate=0".to_owned(),
            "bad spawn_rate \"0\"",
        ),
        ("user_count=2&spawn_rate=-1".to_owned(), "bad spawn_rate"),
        (
            "user_count=2&spawn_rate=1&host=http%3A%2F%2Fa%20b%3A80".to_owned(),
            "is not a host name",
        ),
        (
            "user_count=2&spawn_rate=1&host=ftp%3A%2F%2F127.0.0.1".to_owned(),
            "neither http nor https",
        ),
        (
            format!("user_count=2&spawn_rate=1&host=http%3A%2F%2F127.0.0.1%3A{dead}"),
            "cannot reach http://127.0.0.1:",
        ),
        (
            "user_count=2&spawn_rate=1&user_classes=Nobody".to_owned(),
            "Nobody",
        ),
        (
            "user_count=2&spawn_rate=1&run_time=soon".to_owned(),
            "bad run_time",
        ),
    ];
    for (body, words) in cases {
        let (status, text) = call(&app, "POST", "/swarm", &body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["success"], false, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    // Non-UTF-8 bodies are a client error, not a 500.
    let (status, _) = call(&app, "POST", "/swarm", "\u{0}").await;
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(state.state(), RunState::Ready);
}

#[tokio::test]
async fn off_loopback_needs_credentials() {
    let mut c = config("http://127.0.0.1:9", None);
    c.bind = SocketAddr::from(([0, 0, 0, 0], 0));
    // Refused before binding anything.
    assert!(matches!(
        WebUi::bind(c).await,
        Err(WebError::AuthRequired { .. })
    ));
    for bad in ["nopassword", ":secret", "user:", ""] {
        assert!(
            matches!(Credentials::parse(bad), Err(WebError::BadAuth { .. })),
            "{bad}"
        );
    }
    let ok = Credentials::parse("admin:s3cret:x").unwrap();
    assert!(!format!("{ok:?}").contains("s3cret"));
}

#[tokio::test]
async fn credentials_are_checked_on_every_route() {
    let credentials = Credentials::parse("admin:s3cret").unwrap();
    let state = WebState::new(config("http://127.0.0.1:9", Some(credentials.clone())));
    let app = router(state);
    let wrong = Credentials::parse("admin:guess").unwrap().header_value();
    for uri in ["/", "/stats/requests", "/stop"] {
        let (status, _) = call(&app, "GET", uri, "").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{uri} without credentials"
        );
        let (status, _) = call_with(&app, "GET", uri, "", Some(&wrong)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{uri} with a wrong password"
        );
        let (status, _) = call_with(&app, "GET", uri, "", Some("Basic !!!")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} with garbage");
        let (status, _) = call_with(&app, "GET", uri, "", Some(&credentials.header_value())).await;
        assert_eq!(status, StatusCode::OK, "{uri} with the right credentials");
    }
    let response = app
        .clone()
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
}

#[tokio::test]
async fn a_run_answers_like_locust_and_obeys_edit_reset_and_stop() {
    let addr = target().await;
    let state = WebState::new(config(&format!("http://{addr}"), None));
    let app = router(Arc::clone(&state));

    let answer = json(&app, "POST", "/swarm", "user_count=4&spawn_rate=100").await;
    assert_eq!(answer["success"], true, "{answer}");
    assert_eq!(answer["message"], "Swarming started");
    assert_eq!(answer["host"], format!("http://{addr}"));

    let stats = wait_for(&app, "requests of both rows", |s| {
        s["stats"].as_array().is_some_and(|rows| rows.len() == 3)
            && s["user_count"] == 4
            && s["state"] == "running"
    })
    .await;
    let rows = stats["stats"].as_array().unwrap();
    for key in [
        "method",
        "name",
        "num_requests",
        "num_failures",
        "min_response_time",
        "max_response_time",
        "current_rps",
        "current_fail_per_sec",
        "avg_response_time",
        "median_response_time",
        "total_rps",
        "total_fail_per_sec",
        "response_time_percentile_0.95",
        "response_time_percentile_0.99",
        "avg_content_length",
    ] {
        for row in rows {
            assert!(row.get(key).is_some(), "row lacks {key}: {row}");
        }
    }
    assert_eq!(rows[0]["name"], "/fail");
    assert_eq!(rows[1]["name"], "/hello");
    assert_eq!(rows[2]["name"], "Aggregated");
    assert_eq!(rows[2]["method"], "");
    let total = rows[2]["num_requests"].as_u64().unwrap();
    let summed =
        rows[0]["num_requests"].as_u64().unwrap() + rows[1]["num_requests"].as_u64().unwrap();
    assert_eq!(total, summed);
    for key in [
        "errors",
        "current_rps",
        "current_fail_per_sec",
        "total_rps",
        "total_fail_per_sec",
        "fail_ratio",
        "user_count",
    ] {
        assert!(stats.get(key).is_some(), "no {key}: {stats}");
    }
    let current = &stats["current_response_time_percentiles"];
    assert!(current["response_time_percentile_0.5"].is_number());
    assert!(current["response_time_percentile_0.95"].is_number());
    assert_eq!(stats["errors"][0]["name"], "/fail");
    assert!(stats["errors"][0]["error"]
        .as_str()
        .unwrap()
        .contains("503"));

    // Three readers and one writer.
    let tasks = json(&app, "GET", "/tasks", "").await;
    assert_eq!(tasks["per_class"]["Reader"]["ratio"], 0.75);
    assert_eq!(tasks["total"]["Writer"]["tasks"]["write"]["ratio"], 0.25);

    // Posting again while running changes the user count.
    let answer = json(&app, "POST", "/swarm", "user_count=2&spawn_rate=100").await;
    assert_eq!(answer["success"], true, "{answer}");
    let changed = wait_for(&app, "two users", |s| {
        s["user_count"] == 2 && s["state"] == "running"
    })
    .await;
    // The change is a new stage: the API lists both, the live charts mark them.
    let stages = changed["stages"].as_array().unwrap();
    let labels: Vec<&str> = stages
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["4 users at 100/s", "2 users at 100/s"]);
    assert_eq!(stages[0]["at"], 0.0);
    assert!(stages[1]["at"].as_f64().unwrap() > 0.0, "{stages:?}");
    let (_, svg) = call(&app, "GET", "/charts/users.svg", "").await;
    assert!(svg.contains("stage 2: 2 users at 100/s"), "{svg}");

    // A reset zeroes the figures mid-run: the statistics restart from a later instant.
    let before = stats["start_time"].as_f64().unwrap();
    assert_eq!(call(&app, "GET", "/stats/reset", "").await.1, "ok");
    wait_for(&app, "the reset", |s| {
        s["start_time"].as_f64().is_some_and(|t| t > before)
    })
    .await;

    for (uri, kind) in [
        ("/charts/rps.svg", "image/svg+xml"),
        ("/charts/users.svg", "image/svg+xml"),
        ("/charts/response-times.svg", "image/svg+xml"),
        ("/stats/report", "text/html; charset=utf-8"),
        ("/stats/failures/csv", "text/csv; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/static/charts.js", "text/javascript; charset=utf-8"),
        ("/exceptions/csv", "text/csv; charset=utf-8"),
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], kind, "{uri}");
    }
    let verdict = json(&app, "GET", "/verdict", "").await;
    assert_eq!(verdict["criteria"][0]["criterion"], "fail_ratio <= 0.5");

    let answer = json(&app, "GET", "/stop", "").await;
    assert_eq!(
        answer,
        serde_json::json!({"success": true, "message": "Test stopped"})
    );
    let stopped = wait_for(&app, "the stop", |s| s["state"] == "stopped").await;
    assert_eq!(stopped["user_count"], 0);
    // Nothing is sent once stopped: every current rate reads 0, the totals stay.
    assert_eq!(stopped["current_rps"], 0.0);
    assert_eq!(stopped["current_fail_per_sec"], 0.0);
    for row in stopped["stats"].as_array().unwrap() {
        assert_eq!(row["current_rps"], 0.0, "{row}");
        assert_eq!(row["current_fail_per_sec"], 0.0, "{row}");
    }
    assert!(stopped["total_rps"].as_f64().unwrap() > 0.0);
    // The Logs tab tells the story of the run, oldest first.
    let logs = json(&app, "GET", "/ui/logs", "").await;
    let lines: Vec<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    let position = |words: &str| {
        lines
            .iter()
            .position(|l| l.contains(words))
            .unwrap_or_else(|| panic!("no line with {words:?}: {lines:?}"))
    };
    assert!(
        position("Swarming started: 4 users at 100 per second against http://127.0.0.1:")
            < position("Changed the running test to 2 users")
    );
    assert!(
        position("Changed the running test to 2 users")
            < position("Stop requested from the web UI")
    );
    assert!(position("Stop requested from the web UI") < position("Test stopped (exit code"));
    assert_eq!(logs["dropped"], 0);
    // The Charts tab's history: aligned columns, one entry per second.
    let history = json(&app, "GET", "/ui/history", "").await;
    let len = history["time"].as_array().unwrap().len();
    assert!(len >= 1, "{history}");
    for key in [
        "current_rps",
        "current_fail_per_sec",
        "p50",
        "p95",
        "user_count",
    ] {
        assert_eq!(history[key].as_array().unwrap().len(), len, "{key}");
    }
    assert_eq!(history["stages"].as_array().map(Vec::len), Some(2));
    // Once stopped, the run's own marks: the first stage and the change.
    assert_eq!(
        stopped["stages"].as_array().map(Vec::len),
        Some(2),
        "{stopped}"
    );
    assert_eq!(stopped["stages"][1]["label"], "2 users at 100/s");
    let (_, csv_text) = call(&app, "GET", "/stats/requests/csv", "").await;
    assert_eq!(csv_text, crate::sinks::csv::stats_csv(&state.snapshot()));
    assert!(csv_text.contains("Aggregated"));

    // A new test after the stop, without restarting anything.
    let answer = json(
        &app,
        "POST",
        "/swarm",
        "user_count=1&spawn_rate=10&user_classes=Reader",
    )
    .await;
    assert_eq!(answer["success"], true, "{answer}");
    wait_for(&app, "the second run", |s| {
        s["state"] == "running" && s["stats"].as_array().is_some_and(|r| r.len() == 2)
    })
    .await;
    state.stop_and_wait().await;
    assert_eq!(state.state(), RunState::Stopped);
}

#[tokio::test]
async fn errors_outside_requests_are_counted_on_the_exceptions_tab() {
    let addr = target().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&format!("http://{addr}"), None);
    // A report into a folder that does not exist: the run cannot start.
    c.base.output.html = Some(dir.path().join("missing").join("report.html"));
    let state = WebState::new(c);
    let app = router(Arc::clone(&state));
    let none = json(&app, "GET", "/exceptions", "").await;
    assert_eq!(none, serde_json::json!({"exceptions": [], "total": 0}));
    for run in 1..=2u64 {
        let answer = json(&app, "POST", "/swarm", "user_count=1&spawn_rate=10").await;
        assert_eq!(answer["success"], true, "{answer}");
        state.stop_and_wait().await;
        let x = json(&app, "GET", "/exceptions", "").await;
        assert_eq!(x["total"], run, "{x}");
        let rows = x["exceptions"].as_array().unwrap();
        // The same error twice is one row counted twice, as Locust counts a traceback.
        assert_eq!(rows.len(), 1, "{x}");
        assert_eq!(rows[0]["count"], run);
        let msg = rows[0]["msg"].as_str().unwrap();
        assert!(msg.starts_with("the run failed: "), "{msg}");
        assert!(msg.contains("does not exist"), "{msg}");
        assert_eq!(rows[0]["traceback"], "run");
    }
    let (_, csv_text) = call(&app, "GET", "/exceptions/csv", "").await;
    assert!(
        csv_text.starts_with("Count,Message,Traceback,Nodes\r\n2,"),
        "{csv_text}"
    );
    let logs = json(&app, "GET", "/ui/logs", "").await;
    let errors = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .count();
    assert_eq!(errors, 2);
}

/// A target that refuses every connection is said on the page's first refresh after
/// it: `/stats/requests` carries the warning, and none once a request got through.
#[test]
fn stats_carry_a_warning_while_every_request_is_refused() {
    use crate::stats::{Aggregator, RequestKey, Shard, CONNECTION_REFUSED};
    let t0 = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let key = RequestKey::new("GET", "/hello");
    let mut shard = Shard::new();
    for i in 0..3 {
        let at = t0 + Duration::from_millis(100 * i);
        shard.record(
            &key,
            Duration::from_micros(150),
            0,
            Some(CONNECTION_REFUSED),
            at,
        );
    }
    let mut agg = Aggregator::new(t0);
    agg.merge_shard(&shard);
    let host = "http://127.0.0.1:18999";
    let clock = api::RunClock {
        elapsed: Some(Duration::from_millis(2500)),
        run_time: Some(Duration::from_secs(10)),
    };
    let stats = api::stats_requests(
        &agg.snapshot(t0 + Duration::from_secs(2), 1),
        RunState::Running,
        host,
        &[],
        clock,
    );
    assert_eq!(
        (stats["elapsed"].as_f64(), stats["remaining"].as_f64()),
        (Some(2.5), Some(7.5))
    );
    assert_eq!(
        stats["warning"],
        "all 3 requests were refused by 127.0.0.1:18999: is the target running?"
    );
    shard.clear();
    shard.record(
        &key,
        Duration::from_millis(3),
        10,
        None,
        t0 + Duration::from_secs(1),
    );
    agg.merge_shard(&shard);
    let stats = api::stats_requests(
        &agg.snapshot(t0 + Duration::from_secs(2), 1),
        RunState::Stopped,
        host,
        &[],
        api::RunClock::default(),
    );
    assert!(stats["warning"].is_null(), "{stats}");
    assert!(
        stats["elapsed"].is_null() && stats["remaining"].is_null(),
        "{stats}"
    );
}

/// One raw HTTP/1.1 request over TCP (`Connection: close`); the status and body.
async fn raw(addr: SocketAddr, head: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut bytes))
        .await
        .expect("an answer within the deadline")
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn a_foreign_page_can_neither_read_nor_start_a_run() {
    let target = target().await;
    let ui = WebUi::bind(config(&format!("http://{target}"), None))
        .await
        .unwrap();
    let addr = ui.local_addr().unwrap();
    let state = ui.state();
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(ui.serve(stop.clone()));
    let form = "user_count=2&spawn_rate=2";
    let post = |host: &str, extra: &str| {
        format!("POST /swarm HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded{extra}")
    };

    // DNS rebinding: a page on another name reads nothing.
    let (status, body) = raw(
        addr,
        "GET /stats/requests HTTP/1.1\r\nHost: evil.example:8089",
        "",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("evil.example:8089\\\" is not this web UI's address"),
        "{body}"
    );
    // A cross-site form post, from a page elsewhere, starts nothing.
    let own = addr.to_string();
    for extra in [
        "\r\nOrigin: http://evil.example",
        "\r\nOrigin: null",
        "\r\nSec-Fetch-Site: cross-site",
    ] {
        let (status, body) = raw(addr, &post(&own, extra), form).await;
        assert_eq!(status, 403, "{extra}: {body}");
    }
    let (status, _) = raw(
        addr,
        &post("evil.example", "\r\nOrigin: http://evil.example"),
        form,
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(state.state(), RunState::Ready, "no run was started");
    // Past the caps: refused with the flag to raise.
    let (status, body) = raw(addr, &post(&own, ""), "user_count=100000&spawn_rate=10000").await;
    assert_eq!(status, 200);
    assert!(body.contains("--web-max-users"), "{body}");
    assert_eq!(state.state(), RunState::Ready);

    // The UI's own page (same Origin), and a script (no Origin), are served.
    let (status, body) = raw(addr, "GET /stats/requests HTTP/1.1\r\nHost: localhost", "").await;
    assert_eq!(status, 200, "{body}");
    let same = format!("\r\nOrigin: http://{own}\r\nSec-Fetch-Site: same-origin");
    let (status, body) = raw(addr, &post(&own, &same), form).await;
    assert_eq!(
        (status, body.contains("\"success\":true")),
        (200, true),
        "{body}"
    );
    let (status, _) = raw(addr, &format!("GET /stop HTTP/1.1\r\nHost: {own}"), "").await;
    assert_eq!(status, 200);
    stop.cancel();
    serving.await.unwrap().unwrap();
}
