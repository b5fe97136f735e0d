//! `mock-api profile fit --history` on real Locust runs against the mock: a stepped
//! user count against a server of known capacity is fitted to that capacity, and a
//! server whose latency grows while the user count stays put is reported as not
//! stationary.
//!
//! The server has 4 workers and a fixed 200 ms service time, so it saturates at
//! 4 / 0.2 s = 20 requests/s: 2 and 4 users (no wait) are served at once (200 ms),
//! 8 and 16 users queue (400 and 800 ms) at the same 20 requests/s. Little's law on the
//! saturated levels gives 20 x 0.2 = 4 workers. The service time Locust measures carries
//! its own overhead (13 ms on a busy 2-core machine), which adds 20 x 0.013 = 0.26 of a
//! worker: inside the half worker that rounding allows (with 50 ms of service the same
//! overhead added 0.9 of one, which is why the service time is long).

use crate::support;

use std::path::Path;
use std::time::Duration;

use mock_api::profile::Profile;
use mock_api::ServerConfig;

const NEEDS_LOCUST: &str = "needs Locust: pip install locust==2.47.0 and put it on PATH";

/// 4 workers, 200 ms on the route the locustfile calls.
const CAPACITY: &str = r#"
name = "four-workers"
[defaults]
latency = { kind = "fixed", ms = 200 }
[jobs]
duration = { kind = "fixed", ms = 100 }
failure_probability = 0.0
[capacity]
workers = 4
"#;

/// No capacity limit; the latency doubles every ten seconds of uptime (a leak).
const LEAKING: &str = r#"
name = "leak"
[defaults]
latency = { kind = "fixed", ms = 20 }
[jobs]
duration = { kind = "fixed", ms = 100 }
failure_probability = 0.0
[capacity]
degradation = { latency_growth_per_hour = 360 }
"#;

/// Users with no wait on one route, stepped by a LoadTestShape: `STEPS` is
/// `[(until_second, users), ...]`.
const LOCUSTFILE: &str = r#"
from locust import FastHttpUser, LoadTestShape, constant, task

STEPS = __STEPS__

class Clients(FastHttpUser):
    wait_time = constant(0)

    @task
    def clients(self):
        self.client.get("/api/clients")

class Steps(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        for until, users in STEPS:
            if t < until:
                return (users, 100)
        return None
"#;

/// Runs Locust with `steps` against a mock serving `profile`; returns the stats and
/// history CSV texts.
async fn locust_run(profile: &str, steps: &str, dir: &Path) -> (String, String) {
    support::require_locust(NEEDS_LOCUST);
    let profile = Profile::from_toml(profile, "test.toml").expect("the test profile");
    let mut config = ServerConfig::new(profile);
    config.database_url = dir.join("mock.db").to_string_lossy().into_owned();
    let server = mock_api::spawn(config).await.expect("mock-api starts");
    let file = dir.join("locustfile.py");
    std::fs::write(&file, LOCUSTFILE.replace("__STEPS__", steps)).expect("write locustfile");
    let prefix = dir.join("run");
    let run = tokio::process::Command::new("locust")
        .arg("-f")
        .arg(&file)
        .args([
            "--headless",
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--host",
        ])
        .arg(server.url(""))
        .arg("--csv")
        .arg(&prefix)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("Locust ends within 90 s")
        .expect("locust runs");
    assert!(
        out.status.success(),
        "locust failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.shutdown().await.expect("mock-api stops");
    let read = |suffix: &str| {
        std::fs::read_to_string(dir.join(format!("run_{suffix}.csv"))).expect("Locust's CSV")
    };
    (read("stats"), read("stats_history"))
}

/// The profile fitted to Locust's two CSV files.
fn fit(stats: &str, history: &str) -> mock_api::profile::Fit {
    mock_api::profile::fit_with_history(
        stats,
        "run_stats.csv",
        "fitted",
        Some((history, "run_stats_history.csv")),
    )
    .expect("the fit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_stepped_run_against_four_workers_fits_four_workers() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let steps = "[(7, 2), (14, 4), (21, 8), (28, 16)]";
    let (stats, history) = locust_run(CAPACITY, steps, dir.path()).await;
    let fit = fit(&stats, &history);
    let h = fit.history.as_ref().expect("the history's reading");
    println!("{}\n{:?}", h.how, h.warnings);
    let users: Vec<u64> = h.levels.iter().map(|l| l.users).collect();
    assert_eq!(users, [2, 4, 8, 16], "{}", h.how);
    // The service time is the 200 ms plus Locust's overhead, the throughput the knee's.
    assert!((200.0..240.0).contains(&h.service_ms), "{}", h.how);
    let rps = h.saturation_rps.expect("saturation found");
    assert!((16.0..=21.0).contains(&rps), "{}", h.how);
    assert_eq!(h.workers, Some(4), "{}", h.how);
    assert_eq!(
        fit.profile.capacity.as_ref().and_then(|c| c.workers),
        Some(4)
    );
    assert!(
        h.warnings[0].contains("rose with the user count"),
        "{:?}",
        h.warnings
    );
    // The route's latency was scaled from the run's queueing mix to a mean of the
    // unsaturated service time.
    let route = fit.profile.behaviour("GET /api/clients");
    let mean = route.latency.mean().as_secs_f64() * 1000.0;
    assert!(
        (mean - h.service_ms).abs() < 0.01 * h.service_ms,
        "mean {mean} ms, service time {} ms",
        h.service_ms
    );
    let text = fit.to_toml("run_stats.csv");
    assert_eq!(
        Profile::from_toml(&text, "fitted.toml").unwrap(),
        fit.profile
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn a_run_whose_latency_grows_at_a_steady_user_count_is_not_stationary() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (stats, history) = locust_run(LEAKING, "[(20, 4)]", dir.path()).await;
    let fit = fit(&stats, &history);
    let h = fit.history.as_ref().expect("the history's reading");
    println!("{}\n{:?}", h.how, h.warnings);
    assert_eq!(h.workers, None, "{}", h.how);
    assert!(
        h.warnings
            .iter()
            .any(|w| w.starts_with("the run was not stationary: at 4 users")),
        "{:?}",
        h.warnings
    );
    assert!(fit
        .to_toml("run_stats.csv")
        .contains("#   warning: the run was not stationary"));
}
