//! loadgen against small in-process servers: class split, task mix, waits, the spawn
//! timeline, failure kinds, stopping and exit codes, and the binary end to end.

mod https;
mod locustfiles;
mod metrics;
mod open_model;
mod support;
mod verdicts;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use loadgen::{run, Scenario, StopReason};
use support::{chi_square, config, faulty, one_request, Fault, CHI2_CRIT_1E4};

/// Classes with their share (`weight = 3`, `fixed_count = 2`), users, expected split.
type SplitCase<'a> = (&'a [(&'a str, &'a str)], usize, &'a [(&'a str, usize)]);

fn class_split_scenario(spec: &[(&str, &str)]) -> Scenario {
    let text: String = spec
        .iter()
        .map(|(name, share)| {
            format!("[classes.{name}]\n{share}\nwait = {{ constant = 60 }}\n[[classes.{name}.tasks]]\nname = \"t\"\nrequests = [{{ method = \"GET\", path = \"/\" }}]\n")
        })
        .collect();
    Scenario::from_toml("split.toml", &text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_split_across_classes_as_locust_splits_them() {
    let addr = support::app().await;
    let cases: [SplitCase<'_>; 3] = [
        (
            &[("A", "weight = 3"), ("B", "weight = 1")],
            10,
            &[("A", 8), ("B", 2)],
        ),
        (
            &[
                ("A", "weight = 1"),
                ("B", "weight = 1"),
                ("F", "fixed_count = 2"),
            ],
            7,
            &[("A", 3), ("B", 2), ("F", 2)],
        ),
        (
            &[("A", "weight = 5"), ("B", "weight = 1")],
            12,
            &[("A", 10), ("B", 2)],
        ),
    ];
    for (spec, users, expected) in cases {
        let outcome = run(config(addr, users, 1000.0, 0.3), class_split_scenario(spec))
            .await
            .unwrap();
        let expected: BTreeMap<String, usize> = expected
            .iter()
            .map(|(n, c)| ((*n).to_owned(), *c))
            .collect();
        assert_eq!(outcome.users_started, expected, "{spec:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_mix_follows_the_weights() {
    let addr = support::app().await;
    // ACISAPIUser's nine tasks, one request each, with its waits scaled to zero.
    let scenario = Scenario::builtin("acis")
        .unwrap()
        .select(&["ACISAPIUser".to_owned()])
        .unwrap()
        .scaled(0.0);
    let class = std::sync::Arc::clone(&scenario.classes[0]);
    let outcome = run(config(addr, 4, 100.0, 1.2), scenario).await.unwrap();
    let mut counts = Vec::new();
    let mut weights = Vec::new();
    for task in &class.tasks {
        let request = &task.requests[0];
        let name = request
            .name
            .clone()
            .unwrap_or_else(|| request.path_text.clone());
        let row = outcome.snapshot.row(request.method.as_str(), &name);
        counts.push(row.map_or(0, |r| r.num_requests()));
        weights.push(f64::from(task.weight));
    }
    let n: u64 = counts.iter().sum();
    // Expected counts of at least 5 per cell keep the chi-square approximation valid.
    assert!(n >= 200, "too few requests for the test: {n}");
    assert_eq!(outcome.snapshot.aggregated.num_failures(), 0);
    let statistic = chi_square(&counts, &weights);
    let critical = CHI2_CRIT_1E4[weights.len() - 2];
    assert!(
        statistic < critical,
        "chi-square {statistic:.2} >= {critical} for counts {counts:?}"
    );
    // The tasks counted per (class, task) agree with the rows.
    let tasks: u64 = outcome.tasks_run.values().sum();
    assert!(
        tasks <= n && n - tasks <= 4,
        "tasks {tasks} vs requests {n}"
    );
}

#[test]
fn chi_square_table_matches_its_closed_form() {
    // For two degrees of freedom the tail is exp(-x/2), so the critical value is -2 ln p.
    assert!((CHI2_CRIT_1E4[1] - (-2.0 * 1e-4f64.ln())).abs() < 1e-3);
    assert!(CHI2_CRIT_1E4.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_stay_inside_their_bounds() {
    let addr = support::app().await;
    let scenario = one_request("/", "{ between = [1, 2] }").scaled(0.1);
    let mut cfg = config(addr, 3, 100.0, 1.5);
    cfg.trace = Some(1000);
    let outcome = run(cfg, scenario).await.unwrap();
    let mut gaps = Vec::new();
    for user in 0..3 {
        let events: Vec<_> = outcome.trace.iter().filter(|e| e.user == user).collect();
        assert!(events.len() >= 3, "user {user} ran {} tasks", events.len());
        gaps.extend(events.windows(2).map(|w| w[1].start - w[0].end));
    }
    for gap in &gaps {
        // A sleep never ends early; the generous upper slack only absorbs scheduling.
        assert!(
            *gap >= Duration::from_millis(100),
            "gap {gap:?} below the lower bound"
        );
        assert!(
            *gap <= Duration::from_millis(200) + Duration::from_millis(300),
            "gap {gap:?} far above the upper bound"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wait_comes_after_the_first_task_not_before() {
    let addr = support::app().await;
    // A constant 60 s wait: each user runs exactly its first task, then waits until the end.
    let mut cfg = config(addr, 4, 100.0, 0.5);
    cfg.trace = Some(10);
    let outcome = run(cfg, one_request("/", "{ constant = 60 }"))
        .await
        .unwrap();
    let per_user: BTreeMap<usize, usize> =
        outcome.trace.iter().fold(BTreeMap::new(), |mut m, e| {
            *m.entry(e.user).or_default() += 1;
            m
        });
    assert_eq!(per_user, (0..4).map(|u| (u, 1)).collect::<BTreeMap<_, _>>());
    assert_eq!(outcome.snapshot.aggregated.num_requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_start_in_steps_at_the_spawn_rate() {
    let addr = support::app().await;
    let outcome = run(
        config(addr, 5, 2.5, 1.9),
        one_request("/", "{ constant = 60 }"),
    )
    .await
    .unwrap();
    let deltas: Vec<i64> = outcome.spawn_steps.iter().map(|s| s.delta).collect();
    assert_eq!(deltas, [2, 2, 1]);
    let running: Vec<usize> = outcome.spawn_steps.iter().map(|s| s.running).collect();
    assert_eq!(running, [2, 4, 5]);
    // Steps are spaced 0.8 s apart: a step never comes before its time.
    for (k, step) in outcome.spawn_steps.iter().enumerate() {
        assert_eq!(step.step, k);
        assert!(
            step.at >= Duration::from_millis(800) * k as u32,
            "step {k} at {:?}",
            step.at
        );
    }
    assert_eq!(outcome.users_started["U"], 5);
    assert_eq!(outcome.stop_reason, StopReason::RunTime);
}

/// Runs one user against `addr` GETting `path` and returns the recorded error strings.
async fn errors_of(addr: std::net::SocketAddr, path: &str) -> Vec<(String, u64)> {
    let mut cfg = config(addr, 1, 10.0, 0.6);
    cfg.request_timeout = Duration::from_millis(200);
    let outcome = run(cfg, one_request(path, "{ constant = 0.05 }"))
        .await
        .unwrap();
    assert_eq!(outcome.exit_code, 1);
    let snapshot = &outcome.snapshot;
    assert_eq!(
        snapshot.aggregated.num_failures(),
        snapshot.aggregated.num_requests()
    );
    snapshot
        .errors
        .iter()
        .map(|e| (e.error.clone(), e.occurrences))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_kind_is_recorded_as_its_kind() {
    let app = support::app().await;
    let cases = [
        (
            app,
            "/status/503",
            "HTTPError('503 Server Error: Service Unavailable for url: /status/503')",
        ),
        (
            app,
            "/status/404",
            "HTTPError('404 Client Error: Not Found for url: /status/404')",
        ),
        (
            faulty(Fault::Reset).await,
            "/",
            "ConnectionResetError: connection reset by peer",
        ),
        (
            faulty(Fault::Close).await,
            "/",
            "RemoteDisconnected: connection closed without response",
        ),
        (
            faulty(Fault::Garbage).await,
            "/",
            "InvalidResponse: malformed HTTP response",
        ),
        (
            faulty(Fault::Hang).await,
            "/",
            "Timeout: no response within 0.2s",
        ),
        (
            support::refused().await,
            "/",
            "ConnectionRefusedError: connection refused",
        ),
    ];
    for (addr, path, expected) in cases {
        let errors = errors_of(addr, path).await;
        assert_eq!(errors.len(), 1, "{expected}: {errors:?}");
        assert_eq!(errors[0].0, expected);
        assert!(errors[0].1 >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_failures() {
    let addr = support::app().await;
    let clean = run(
        config(addr, 2, 10.0, 0.3),
        one_request("/", "{ constant = 0.05 }"),
    )
    .await
    .unwrap();
    assert_eq!(clean.exit_code, 0);
    assert!(clean.snapshot.aggregated.num_requests() >= 2);
    let failed = run(
        config(addr, 1, 10.0, 0.3),
        one_request("/status/503", "{ constant = 0.05 }"),
    )
    .await
    .unwrap();
    assert_eq!(failed.exit_code, 1);
    let mut cfg = config(addr, 1, 10.0, 0.3);
    cfg.exit_code_on_error = 3;
    let custom = run(cfg, one_request("/status/503", "{ constant = 0.05 }"))
        .await
        .unwrap();
    assert_eq!(custom.exit_code, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_and_default_headers_come_back() {
    let addr = support::app().await;
    let scenario = Scenario::from_toml(
        "cookies.toml",
        r#"[classes.U]
wait = { constant = 0.05 }
headers = { Accept = "application/json" }
[[classes.U.tasks]]
name = "login_then_me"
requests = [{ method = "GET", path = "/login" }, { method = "GET", path = "/me" }]
"#,
    )
    .unwrap();
    let outcome = run(config(addr, 2, 10.0, 0.4), scenario).await.unwrap();
    let me = outcome.snapshot.row("GET", "/me").expect("a /me row");
    assert!(me.num_requests() >= 2);
    assert_eq!(
        me.num_failures(),
        0,
        "the cookie from /login was not sent back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_timeout_lets_running_tasks_finish() {
    let addr = support::app().await;
    // The only request takes 400 ms and the run stops at 200 ms.
    let mut cfg = config(addr, 1, 10.0, 0.2);
    cfg.stop_timeout = Duration::from_secs(2);
    let finished = run(cfg, one_request("/slow", "{ constant = 60 }"))
        .await
        .unwrap();
    assert_eq!(finished.snapshot.aggregated.num_requests(), 1);
    assert_eq!(finished.snapshot.aggregated.num_failures(), 0);
    let killed = run(
        config(addr, 1, 10.0, 0.2),
        one_request("/slow", "{ constant = 60 }"),
    )
    .await
    .unwrap();
    assert_eq!(killed.snapshot.aggregated.num_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_stop_ends_the_run() {
    let addr = support::app().await;
    let mut cfg = config(addr, 2, 10.0, 0.0);
    cfg.run_time = None;
    let stop = cfg.stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let (tx, rx) = tokio::sync::watch::channel(std::sync::Arc::new(
        loadgen::stats::Snapshot::empty(std::time::SystemTime::now()),
    ));
    cfg.snapshots = Some(tx);
    let outcome = run(cfg, one_request("/", "{ constant = 0.05 }"))
        .await
        .unwrap();
    assert_eq!(outcome.stop_reason, StopReason::Stopped);
    // Observers see the final snapshot too.
    assert_eq!(
        rx.borrow().aggregated.num_requests(),
        outcome.snapshot.aggregated.num_requests()
    );
    assert!(outcome.snapshot.aggregated.num_requests() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_plan_ramps_up_and_down_newest_first() {
    let addr = support::app().await;
    let mut cfg = config(addr, 0, 1.0, 5.0);
    cfg.load = loadgen::LoadPlan::Stages(vec![
        loadgen::Stage {
            duration: Duration::from_millis(300),
            users: 4,
            spawn_rate: 100.0,
        },
        loadgen::Stage {
            duration: Duration::from_millis(300),
            users: 1,
            spawn_rate: 100.0,
        },
    ]);
    cfg.trace = Some(100);
    let outcome = run(cfg, one_request("/", "{ constant = 0.05 }"))
        .await
        .unwrap();
    assert_eq!(outcome.stop_reason, StopReason::PlanFinished);
    let deltas: Vec<i64> = outcome.spawn_steps.iter().map(|s| s.delta).collect();
    assert_eq!(deltas, [4, -3]);
    // Users 1, 2 and 3 (the newest) stopped in the second stage; user 0 ran on.
    let last_start = |u: usize| {
        outcome
            .trace
            .iter()
            .filter(|e| e.user == u)
            .map(|e| e.start)
            .max()
            .unwrap()
    };
    assert!(last_start(0) > Duration::from_millis(300));
    for u in 1..4 {
        assert!(last_start(u) < last_start(0), "user {u}");
    }
}

#[test]
fn the_binary_refuses_a_bad_scenario_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[classes.A]\nweight = 0\n[[classes.A.tasks]]\nname = \"t\"\nrequests = [{ method = \"GET\", path = \"/\" }]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--headless", "-t", "1s", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml:2:10: bad weight 0"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--headless", "NoSuchUser"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ACISAPIUser"));
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["-H", "ftp://127.0.0.1:80"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_binary_lists_classes_tasks_and_weights() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "ACISAPIUser",
        "ACISStressTestUser",
        "ACISBackgroundJobUser",
        "bulk_trades",
        "POST /api/trading/execute x5",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn the_binary_runs_headless_and_writes_csv() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime.block_on(support::app());
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "-f",
            "guide",
            "--headless",
            "-u",
            "3",
            "-r",
            "10",
            "-t",
            "1s",
            "--seed",
            "3",
            "--only-summary",
        ])
        .args(["-H", &format!("http://{addr}"), "--csv"])
        .arg(&prefix)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("Aggregated") && stderr.contains("Response time percentiles"),
        "{stderr}"
    );
    for suffix in [
        "_stats.csv",
        "_stats_history.csv",
        "_failures.csv",
        "_exceptions.csv",
    ] {
        let path = dir.path().join(format!("run{suffix}"));
        assert!(path.exists(), "{} missing", path.display());
    }
    let stats = std::fs::read_to_string(dir.path().join("run_stats.csv")).unwrap();
    assert!(stats.contains("GET,/api/clients,"), "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_trades_send_five_valid_json_posts_per_task() {
    let addr = support::app().await;
    let scenario = Scenario::builtin("acis")
        .unwrap()
        .select(&["ACISStressTestUser".to_owned()])
        .unwrap()
        .scaled(0.01);
    let outcome = run(config(addr, 2, 100.0, 0.8), scenario).await.unwrap();
    let trades = outcome
        .snapshot
        .row("POST", "/api/trading/execute")
        .expect("a trade row");
    assert_eq!(trades.num_failures(), 0, "{:?}", outcome.snapshot.errors);
    let bulk = outcome.tasks_run[&("ACISStressTestUser".to_owned(), "bulk_trades".to_owned())];
    assert!(bulk >= 1);
    // A task the stop interrupts is not counted but its posts so far are: at most four
    // of an unfinished task per user come on top of five per finished task.
    let users = 2;
    let posts = trades.num_requests();
    assert!(
        (5 * bulk..=5 * bulk + 4 * users).contains(&posts),
        "{posts} posts for {bulk} finished bulk_trades tasks of {users} users"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_stats_forgets_the_ramp_up() {
    let addr = support::app().await;
    // Two users at one per second: the ramp ends at 1 s, after the first user's tasks.
    let mut cfg = config(addr, 2, 1.0, 1.4);
    cfg.reset_stats = true;
    let outcome = run(cfg, one_request("/", "{ constant = 0.05 }"))
        .await
        .unwrap();
    let tasks: u64 = outcome.tasks_run.values().sum();
    let counted = outcome.snapshot.aggregated.num_requests();
    assert!(counted > 0, "nothing counted after the reset");
    assert!(
        counted < tasks,
        "{counted} requests counted of {tasks}: the reset forgot nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_written_at_the_end() {
    let addr = support::app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(addr, 1, 10.0, 0.3);
    cfg.output.csv_prefix = Some(dir.path().join("r"));
    cfg.output.html = Some(dir.path().join("r.html"));
    cfg.output.json = Some(dir.path().join("r.json"));
    let outcome = run(cfg, one_request("/status/503", "{ constant = 0.05 }"))
        .await
        .unwrap();
    let failures = std::fs::read_to_string(dir.path().join("r_failures.csv")).unwrap();
    assert!(
        failures.starts_with("Method,Name,Error,Occurrences,First Seen,Last Seen\r\n"),
        "{failures}"
    );
    assert!(failures.contains("GET,/status/503,HTTPError('503 Server Error: Service Unavailable for url: /status/503'),"), "{failures}");
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("/status/503") && html.contains("</html>"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert!(json.is_object());
    assert!(
        outcome.output_errors.is_empty(),
        "{:?}",
        outcome.output_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_keeps_its_connection_alive() {
    let (addr, ports) = support::peer_counting().await;
    let outcome = run(
        config(addr, 3, 100.0, 0.5),
        one_request("/", "{ constant = 0.02 }"),
    )
    .await
    .unwrap();
    assert!(outcome.snapshot.aggregated.num_requests() >= 15);
    assert_eq!(outcome.snapshot.aggregated.num_failures(), 0);
    // One connection per user, reused for every request.
    assert_eq!(ports.lock().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_connection_is_reopened_for_the_next_request() {
    let (addr, ports) = support::peer_counting().await;
    let outcome = run(
        config(addr, 1, 10.0, 0.4),
        one_request("/close", "{ constant = 0.02 }"),
    )
    .await
    .unwrap();
    let requests = outcome.snapshot.aggregated.num_requests();
    assert!(requests >= 3);
    // The server closed after every answer: each request came on a new connection (one
    // more may have been opened for a request cut off by the end of the run).
    let connections = ports.lock().unwrap().len() as u64;
    assert!(
        connections == requests || connections == requests + 1,
        "{connections} connections for {requests} requests"
    );
    assert_eq!(
        outcome.snapshot.aggregated.num_failures(),
        0,
        "{:?}",
        outcome.snapshot.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramping_up_again_refills_the_slots_the_ramp_down_emptied() {
    let addr = support::app().await;
    let stage = |users| loadgen::Stage {
        duration: Duration::from_millis(200),
        users,
        spawn_rate: 1000.0,
    };
    let mut cfg = config(addr, 0, 1.0, 5.0);
    cfg.load = loadgen::LoadPlan::Stages(vec![stage(4), stage(2), stage(3)]);
    // Weights 3:1 fill slots A A B A; after going down to A A, the third slot is B again.
    let scenario = class_split_scenario(&[("A", "weight = 3"), ("B", "weight = 1")]);
    let outcome = run(cfg, scenario).await.unwrap();
    let deltas: Vec<i64> = outcome.spawn_steps.iter().map(|s| s.delta).collect();
    assert_eq!(deltas, [4, -2, 1]);
    let expected: BTreeMap<String, usize> = [("A".to_owned(), 3), ("B".to_owned(), 2)].into();
    assert_eq!(outcome.users_started, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_target_while_running_ramps_to_it() {
    let addr = support::app().await;
    let (tx, rx) = tokio::sync::watch::channel(None);
    let mut cfg = config(addr, 1, 100.0, 0.8);
    cfg.retarget = Some(rx);
    let send = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = tx.send(Some(loadgen::Retarget {
            users: 3,
            spawn_rate: 100.0,
        }));
        // Keep the sender until the run ends, as a web UI would.
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    let outcome = run(cfg, one_request("/", "{ constant = 60 }"))
        .await
        .unwrap();
    send.abort();
    let deltas: Vec<i64> = outcome.spawn_steps.iter().map(|s| s.delta).collect();
    assert_eq!(deltas, [1, 2]);
    assert_eq!(outcome.users_started["U"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_report_is_refused_before_any_request() {
    let addr = support::app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(addr, 1, 10.0, 0.3);
    cfg.output.json = Some(dir.path().join("missing").join("r.json"));
    let e = run(cfg, one_request("/", "{ constant = 0.05 }"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_on_the_same_host() {
    let addr = support::app().await;
    for path in ["/redirect", "/redirect-absolute"] {
        let outcome = run(
            config(addr, 1, 10.0, 0.3),
            one_request(path, "{ constant = 0.05 }"),
        )
        .await
        .unwrap();
        let row = outcome
            .snapshot
            .row("GET", path)
            .expect("a row named by the first URL");
        assert!(row.num_requests() >= 1);
        assert_eq!(
            row.num_failures(),
            0,
            "{path}: {:?}",
            outcome.snapshot.errors
        );
        // The length is the final response's ("landed").
        assert_eq!(row.total_content_length(), 6 * row.num_requests(), "{path}");
    }
    // A POST answered with 303 continues as a GET.
    let scenario = Scenario::from_toml(
        "post.toml",
        "[classes.U]\nwait = { constant = 0.05 }\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [{ method = \"POST\", path = \"/see-other\", body = { a = 1 } }]\n",
    )
    .unwrap();
    let outcome = run(config(addr, 1, 10.0, 0.3), scenario).await.unwrap();
    assert_eq!(
        outcome.snapshot.aggregated.num_failures(),
        0,
        "{:?}",
        outcome.snapshot.errors
    );
    let errors = errors_of(addr, "/loop").await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "TooManyRedirects: exceeded 30 redirects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_that_is_not_a_valid_uri_fails_without_being_sent() {
    let addr = support::app().await;
    let errors = errors_of(addr, "/x?q={a b|c d}").await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|(e, _)| e.starts_with("InvalidURL: ")),
        "{errors:?}"
    );
}

/// The `Aggregated` row's request count in a stats CSV.
fn aggregated_requests(stats_csv: &str) -> u64 {
    let row = stats_csv
        .lines()
        .find(|l| l.starts_with(",Aggregated,"))
        .unwrap_or_else(|| panic!("no Aggregated row in:\n{stats_csv}"));
    row.split(',').nth(2).unwrap().parse().unwrap()
}

#[test]
fn the_binary_takes_flags_from_locust_conf_and_the_environment_and_stops_after_iterations() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let addr = runtime.block_on(support::app());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("one.toml"),
        "[classes.U]\nwait = { constant = 0.01 }\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [{ method = \"GET\", path = \"/close\" }]\n",
    )
    .unwrap();
    // Locust's format; the environment and the command line each add a flag, and the
    // file's users are overridden by the environment's.
    std::fs::write(
        dir.path().join("locust.conf"),
        "# as Locust reads it\nlocustfile = one.toml\nheadless = true\nusers = 50\nspawn-rate = 100\nrun-time = 60s\niterations = 37\nonly_summary: true\nlogfile = loadgen.log\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .current_dir(dir.path())
        .env("LOCUST_HOST", format!("http://{addr}"))
        .env("LOCUST_USERS", "4")
        .args(["--csv", "run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // -i 37: exactly 37 tasks of one request each, long before the 60 s run time.
    let stats = std::fs::read_to_string(dir.path().join("run_stats.csv")).unwrap();
    assert_eq!(aggregated_requests(&stats), 37, "{stats}");
    assert!(started.elapsed() < Duration::from_secs(30), "{stderr}");
    // Logs went to --logfile, not stderr; the summary still went to stderr.
    let log = std::fs::read_to_string(dir.path().join("loadgen.log")).unwrap();
    assert!(log.contains("Iteration limit reached"), "{log}");
    assert!(!stderr.contains("Iteration limit reached"), "{stderr}");
    assert!(stderr.contains("Aggregated"), "{stderr}");
    assert!(!log.contains('\u{1b}'), "no colour codes in a log file");
    // 4 users from the environment, not the file's 50.
    let history = std::fs::read_to_string(dir.path().join("run_stats_history.csv")).unwrap();
    let users: Vec<u64> = history
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1)?.parse().ok())
        .collect();
    assert!(users.iter().all(|&u| u <= 4), "{history}");
}

#[test]
fn the_binary_refuses_a_bad_configuration_file_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ci.conf"), "users = 5\nmaster = true\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .current_dir(dir.path())
        .args(["--config", "ci.conf", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ci.conf:2: unknown option \"master\""),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .current_dir(dir.path())
        .args(["--config", "missing.conf", "--list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.conf"));
}

#[test]
fn compare_exits_1_on_a_significant_regression_and_2_on_a_bad_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let reference = include_str!("reference/locust-2.47/run_stats.csv");
    // Trades failing 90 of 212 times instead of 24.
    let worse = reference.replacen(
        "POST,/api/trading/execute,212,24,",
        "POST,/api/trading/execute,212,90,",
        1,
    );
    let (base, current) = (dir.path().join("base.csv"), dir.path().join("current.csv"));
    std::fs::write(&base, reference).unwrap();
    std::fs::write(&current, worse).unwrap();
    let compare = |current: &std::path::Path, fail_if: &str| {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .arg("compare")
            .arg(&base)
            .arg(current)
            .args(["--fail-if", fail_if])
            .output()
            .unwrap()
    };
    let same = compare(&base, "fail_ratio > +1pp");
    assert_eq!(same.status.code(), Some(0));
    let out = compare(&current, "fail_ratio > +1pp");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("REGRESSION `fail_ratio > +1pp`"),
        "{stdout}"
    );
    let bad = compare(&current, "fail_ratio > 1");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad --fail-if"));
}
