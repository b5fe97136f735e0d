//! Load shapes and the open model against small in-process servers: stages and built-in
//! shapes followed by the user count, a fixed arrival rate's exact iteration count and
//! its dropped iterations, the coordinated-omission correction around a known stall,
//! the breakpoint search against a known capacity, and the flags and scenario tables.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use clap::Parser as _;
use loadgen::cli::{Cli, CliError};
use loadgen::shape::PlanError;
use loadgen::{run, Breakpoint, LoadPlan, Scenario, Stage, StopReason};
use loadgen::{ArrivalPlan, RateStage};
use tokio::net::TcpListener;

use crate::support::{config, one_request};

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// Holds every response for `hold`.
async fn holding(hold: Duration) -> SocketAddr {
    serve(Router::new().fallback(move || async move {
        tokio::time::sleep(hold).await;
        "ok"
    }))
    .await
}

/// Answers at once, except that request number `at` starts a stall: it and every request
/// that arrives before `at`'s arrival + `stall` are held until then (a GC pause).
async fn stalling(at: u64, stall: Duration) -> SocketAddr {
    let seen = Arc::new(AtomicU64::new(0));
    let until: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    serve(Router::new().fallback(move || {
        let (seen, until) = (Arc::clone(&seen), Arc::clone(&until));
        async move {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let now = Instant::now();
            let hold = {
                let mut u = until.lock().unwrap();
                if n == at {
                    *u = Some(now + stall);
                }
                u.filter(|t| *t > now)
            };
            if let Some(t) = hold {
                tokio::time::sleep_until(t.into()).await;
            }
            "ok"
        }
    }))
    .await
}

/// Serves at most `capacity` requests at once, each for `hold`; more get 503 at once.
async fn capacity(capacity: usize, hold: Duration) -> SocketAddr {
    let in_flight = Arc::new(AtomicUsize::new(0));
    serve(Router::new().fallback(move || {
        let in_flight = Arc::clone(&in_flight);
        async move {
            let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let status = if n > capacity {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                tokio::time::sleep(hold).await;
                StatusCode::OK
            };
            in_flight.fetch_sub(1, Ordering::SeqCst);
            status
        }
    }))
    .await
}

fn stage(ms: u64, users: usize) -> Stage {
    Stage {
        duration: Duration::from_millis(ms),
        users,
        spawn_rate: 10_000.0,
    }
}

/// A constant rate for `seconds`, with a pool of `max_users`.
fn arrival(rate: f64, seconds: f64, max_users: usize, max_delay: Duration) -> LoadPlan {
    let mut plan = ArrivalPlan::constant(rate, max_users, max_delay);
    plan.stages = vec![RateStage {
        duration: Duration::from_secs_f64(seconds),
        target: rate,
    }];
    LoadPlan::Arrival(plan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_count_follows_the_stages() {
    let addr = crate::support::app().await;
    let mut cfg = config(addr, 0, 1.0, 10.0);
    let stages = loadgen::shape::parse_stages("1s:6:1000,1s:12:1000,1s:3:1000").unwrap();
    cfg.load = LoadPlan::Stages(stages).scaled(0.3);
    let outcome = run(cfg, one_request("/", "{ constant = 0.05 }"))
        .await
        .unwrap();
    assert_eq!(outcome.stop_reason, StopReason::PlanFinished);
    // Running users after each stage's last step.
    let mut after = [None; 3];
    for s in &outcome.spawn_steps {
        after[s.stage] = Some(s.running);
    }
    assert_eq!(after, [Some(6), Some(12), Some(3)]);
    let marks: Vec<usize> = outcome.stages.iter().map(|m| m.stage).collect();
    assert_eq!(marks, [0, 1, 2]);
    assert!(outcome.stages.windows(2).all(|w| w[0].at < w[1].at));
    // Each stage starts no earlier than the plan says (0.3 s apart, scaled).
    for (mark, planned) in outcome.stages.iter().zip([0, 300, 600]) {
        assert!(mark.at >= Duration::from_millis(planned), "{mark:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spike_shape_runs_time_scaled() {
    let addr = crate::support::app().await;
    let mut cfg = config(addr, 0, 1.0, 10.0);
    let spike = loadgen::shape::builtin("spike", loadgen::shape::STEP_TIME).unwrap();
    // 5 min, 2 min, 5 min become 0.3 s, 0.12 s, 0.3 s.
    cfg.load = LoadPlan::Stages(spike).scaled(0.001);
    let outcome = run(cfg, one_request("/", "{ constant = 0.05 }"))
        .await
        .unwrap();
    assert_eq!(outcome.stop_reason, StopReason::PlanFinished);
    let peak = outcome.spawn_steps.iter().map(|s| s.running).max();
    assert_eq!(peak, Some(500));
    assert_eq!(outcome.spawn_steps.last().map(|s| s.running), Some(50));
    assert_eq!(outcome.stages.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_arrival_rate_starts_rate_times_duration() {
    let addr = crate::support::app().await;
    let mut cfg = config(addr, 0, 1.0, 10.0);
    // The schedule is deterministic: iterations at k / 200 s for k / 200 < 1, so exactly
    // 200; a pool of 20 on an immediate server never runs out.
    cfg.load = arrival(200.0, 1.0, 20, Duration::from_secs(1));
    cfg.stop_timeout = Duration::from_secs(5);
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    assert_eq!(outcome.stop_reason, StopReason::PlanFinished);
    let a = outcome.arrival.unwrap();
    assert_eq!((a.scheduled, a.started, a.dropped), (200, 200, 0));
    assert!(a.users >= 1 && a.users <= 20, "{a:?}");
    // Every started iteration finished (graceful stop) and was recorded twice: corrected
    // and uncorrected.
    assert_eq!(outcome.snapshot.aggregated.num_requests(), 200);
    let uncorrected = outcome.uncorrected.unwrap();
    assert_eq!(uncorrected.aggregated.num_requests(), 200);
    // A correction only adds: the corrected maximum is at least the uncorrected one.
    assert!(
        outcome.snapshot.aggregated.max_response_time_ms()
            >= uncorrected.aggregated.max_response_time_ms()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramping_arrival_rate_starts_its_integral() {
    let addr = crate::support::app().await;
    let mut cfg = config(addr, 0, 1.0, 10.0);
    // 0 -> 300 it/s over 0.6 s (90 expected), then 300 -> 100 it/s over 0.3 s (60): the
    // schedule starts exactly 150, the first two stage marks 0.6 s apart.
    let (_, stages) = cli(&["--arrival-rate", "1", "--arrival-stages", "0.6:300,0.3:100"])
        .into_run()
        .map(|(c, _)| match c.load {
            LoadPlan::Arrival(a) => ((), a.stages),
            other => panic!("{other:?}"),
        })
        .unwrap();
    let mut plan = ArrivalPlan::constant(0.0, 20, Duration::from_secs(1));
    plan.stages = stages;
    cfg.load = LoadPlan::Arrival(plan);
    cfg.stop_timeout = Duration::from_secs(5);
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    let a = outcome.arrival.unwrap();
    assert_eq!((a.scheduled, a.started, a.dropped), (150, 150, 0));
    assert_eq!(outcome.snapshot.aggregated.num_requests(), 150);
    assert_eq!(outcome.stages.len(), 2);
    let gap = outcome.stages[1].at - outcome.stages[0].at;
    assert_eq!(gap, Duration::from_millis(600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterations_with_no_free_user_are_dropped() {
    // Each response takes 100 ms, so 2 users serve at most 10 iterations a second each:
    // of the 100 scheduled in 1 s, at most 2 × (1 / 0.1 + 1) = 22 can start.
    let hold = Duration::from_millis(100);
    let addr = holding(hold).await;
    let mut cfg = config(addr, 0, 1.0, 10.0);
    cfg.load = arrival(100.0, 1.0, 2, Duration::ZERO);
    cfg.stop_timeout = Duration::from_secs(5);
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    let a = outcome.arrival.unwrap();
    assert_eq!(a.scheduled, 100);
    assert_eq!(a.started + a.dropped, a.scheduled);
    assert!(a.started >= 2 && a.started <= 22, "{a:?}");
    assert!(a.dropped >= 78, "{a:?}");
    assert_eq!(a.users, 2);
    assert_eq!(outcome.snapshot.aggregated.num_requests(), a.started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinated_omission_is_corrected_around_a_stall() {
    // 200 iterations a second for 2 s on one user; request 100 (at about 0.5 s) stalls
    // the server for T = 400 ms. The iterations scheduled during the stall wait for the
    // user: from the intended start they took T, T - 5 ms, T - 10 ms, ... So of N = 400
    // the k-th slowest corrected time is at least T - (k - 1) / R, and HdrHistogram's
    // 99th percentile (the value at rank ceil(0.99 N) = 396) is at least the 5th slowest:
    // T - 4 / R = 380 ms, less the timers' granularity (a few ms; 10 ms allowed).
    // From the actual send, only the one request caught by the stall took T: the
    // uncorrected 99th percentile stays at the normal service time.
    let (rate, seconds, stall) = (200.0, 2.0, Duration::from_millis(400));
    let addr = stalling(100, stall).await;
    let mut cfg = config(addr, 0, 1.0, 10.0);
    cfg.load = arrival(rate, seconds, 1, Duration::from_secs(2));
    cfg.stop_timeout = Duration::from_secs(5);
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    let a = outcome.arrival.unwrap();
    assert_eq!((a.scheduled, a.started, a.dropped), (400, 400, 0));
    let corrected = &outcome.snapshot.aggregated;
    let uncorrected = &outcome.uncorrected.as_ref().unwrap().aggregated;
    assert_eq!(corrected.num_requests(), 400);
    assert_eq!(uncorrected.num_requests(), 400);
    let t_ms = stall.as_secs_f64() * 1000.0;
    let n: f64 = 400.0;
    let k = (0.01 * n).ceil() + 1.0;
    let analytic_p99 = t_ms - (k - 1.0) * 1000.0 / rate;
    let slack_ms = 10.0;
    let p99 = corrected.percentile_ms(0.99).unwrap();
    assert!(
        p99 >= analytic_p99 - slack_ms,
        "corrected p99 {p99} ms, analytic {analytic_p99} ms"
    );
    // The stalled request itself is in both: the uncorrected maximum is about T...
    let max_uncorrected = uncorrected.max_response_time_ms();
    assert!(max_uncorrected >= t_ms - slack_ms, "{max_uncorrected}");
    // ...but it is one request of 400, so the uncorrected p99 is a normal response,
    // far below T.
    let p99_uncorrected = uncorrected.percentile_ms(0.99).unwrap();
    assert!(
        p99_uncorrected < t_ms / 4.0,
        "uncorrected p99 {p99_uncorrected} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breakpoint_is_the_first_step_above_capacity() {
    // Three requests at a time are served; users beyond three get 503 at once. Steps of
    // 1, 2, 4 and 8 users: 1 and 2 never fail, 4 fails most of its requests.
    let addr = capacity(3, Duration::from_millis(20)).await;
    let mut cfg = config(addr, 0, 1.0, 20.0);
    cfg.load = LoadPlan::Stages(vec![
        stage(400, 1),
        stage(400, 2),
        stage(400, 4),
        stage(400, 8),
    ]);
    cfg.breakpoint = Some(Breakpoint::bounds(Some(0.05), None).unwrap());
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    assert_eq!(outcome.stop_reason, StopReason::PlanFinished);
    let report = outcome.breakpoint.unwrap();
    assert_eq!(report.steps.len(), 3, "{}", report.table());
    let last = report.last_passed().unwrap();
    let failed = report.first_failed().unwrap();
    assert_eq!((last.users, failed.users), (2, 4), "{}", report.table());
    assert_eq!(last.failures, 0);
    assert!(last.requests > 0 && failed.requests > 0);
    assert!(failed.fail_ratio() > 0.05);
    // The 8-user step never ran.
    assert!(outcome.spawn_steps.iter().all(|s| s.running <= 4));
}

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied())).unwrap()
}

#[test]
fn load_flags_make_plans() {
    let (c, _) = cli(&["--stages", "30s:50:5,2m:500:100,30s:50:5"])
        .into_run()
        .unwrap();
    let LoadPlan::Stages(s) = c.load else {
        panic!("{:?}", c.load)
    };
    assert_eq!(s.iter().map(|s| s.users).collect::<Vec<_>>(), [50, 500, 50]);

    let (c, _) = cli(&["--shape", "spike"]).into_run().unwrap();
    assert_eq!(c.load.peak_users(), 500);
    assert_eq!(
        c.load.stage_starts(),
        [0, 300, 420].map(Duration::from_secs)
    );

    let (c, _) = cli(&["--shape", "step", "--step-time", "1m"])
        .into_run()
        .unwrap();
    assert_eq!(
        c.load.stage_starts().last(),
        Some(&Duration::from_secs(300))
    );

    let (c, _) = cli(&[
        "--arrival-rate",
        "50",
        "--max-users",
        "20",
        "--max-delay",
        "0.5",
    ])
    .into_run()
    .unwrap();
    let LoadPlan::Arrival(a) = &c.load else {
        panic!("{:?}", c.load)
    };
    assert_eq!(
        (a.start_rate, a.max_users, a.max_delay),
        (50.0, 20, Duration::from_millis(500))
    );

    let (c, _) = cli(&[
        "--breakpoint",
        "--step-time",
        "10s",
        "--breakpoint-p95-ms",
        "800",
    ])
    .into_run()
    .unwrap();
    assert_eq!(c.load.peak_users(), 3200);
    let rule = c.breakpoint.unwrap();
    assert_eq!(
        rule.criteria,
        Breakpoint::bounds(None, Some(800.0)).unwrap().criteria
    );
}

#[test]
fn bad_load_flags_are_refused() {
    let parse =
        |args: &[&str]| Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()));
    let e = parse(&["--arrival-rate", "1", "--arrival-stages", "1s:5,2m:-3"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("column 9") && e.contains("DURATION:RATE"), "{e}");
    assert!(parse(&["--arrival-stages", "1s:5"]).is_err());
    let e = parse(&["--stages", "30s:50:5,2m:x:100"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("column 13"), "{e}");
    assert!(parse(&["--stages", "1s:1:1", "--shape", "spike"]).is_err());
    assert!(parse(&["--arrival-rate", "5", "--shape", "spike"]).is_err());
    assert!(parse(&["--max-users", "5"]).is_err());
    assert!(parse(&["--breakpoint-fail-ratio", "0.1"]).is_err());
    assert!(matches!(
        cli(&["--shape", "wave"]).into_run(),
        Err(CliError::Plan(PlanError::UnknownShape(_)))
    ));
    assert!(matches!(
        cli(&["--arrival-rate", "0"]).into_run(),
        Err(CliError::Plan(PlanError::ArrivalRate(_)))
    ));
    assert!(matches!(
        cli(&["--arrival-rate", "5", "--max-users", "0"]).into_run(),
        Err(CliError::Plan(PlanError::MaxUsers))
    ));
    // A breakpoint search steps the arrival rate; ramped rate stages cannot be steps.
    let (c, _) = cli(&["--arrival-rate", "5", "--breakpoint"])
        .into_run()
        .unwrap();
    assert!(matches!(&c.load, LoadPlan::Arrival(a) if a.steps && a.stages.len() == 6));
    assert!(matches!(
        cli(&[
            "--arrival-rate",
            "5",
            "--arrival-stages",
            "1s:10",
            "--breakpoint"
        ])
        .into_run(),
        Err(CliError::Plan(PlanError::BreakpointWithArrival))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrival_rate_breakpoint_fails_on_errors_or_dropped_iterations() {
    // Six requests at a time are served in 20 ms; more get 503 at once. At 25 and 50
    // iterations a second about one request is in flight (a late scheduler catching up
    // would have to bunch seven to fail it); at 400, eight would be: a quarter refused.
    let addr = capacity(6, Duration::from_millis(20)).await;
    let mut cfg = config(addr, 0, 1.0, 20.0);
    cfg.load = LoadPlan::Arrival(ArrivalPlan::stepped(
        &[25.0, 50.0, 400.0, 800.0],
        Duration::from_millis(400),
        50,
        Duration::ZERO,
    ));
    cfg.breakpoint = Some(Breakpoint::bounds(Some(0.05), None).unwrap());
    cfg.stop_timeout = Duration::from_secs(5);
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    let report = outcome.breakpoint.unwrap();
    assert_eq!(report.steps.len(), 3, "{}", report.table());
    let last = report.last_passed().unwrap();
    let failed = report.first_failed().unwrap();
    assert_eq!(
        (last.rate, failed.rate),
        (Some(50.0), Some(400.0)),
        "{}",
        report.table()
    );
    assert_eq!(last.failures, 0);
    assert!(failed.fail_ratio() > 0.05, "{}", report.table());

    // Responses held 100 ms and a pool of 2 users: 5 iterations a second need half a
    // user, 100 a second would need 10, so most of that step's iterations are dropped.
    let addr = holding(Duration::from_millis(100)).await;
    let mut cfg = config(addr, 0, 1.0, 20.0);
    cfg.load = LoadPlan::Arrival(ArrivalPlan::stepped(
        &[5.0, 100.0],
        Duration::from_millis(600),
        2,
        Duration::ZERO,
    ));
    cfg.breakpoint = Some(Breakpoint::bounds(Some(0.05), None).unwrap());
    cfg.stop_timeout = Duration::from_secs(5);
    let outcome = run(cfg, one_request("/", "{ constant = 0 }"))
        .await
        .unwrap();
    let report = outcome.breakpoint.unwrap();
    let failed = report.first_failed().expect("the 100/s step fails");
    assert_eq!(failed.rate, Some(100.0), "{}", report.table());
    assert!(failed.dropped.unwrap_or(0) > 30, "{}", report.table());
    assert_eq!(failed.failures, 0, "{}", report.table());
    assert!(
        failed.breaches.iter().any(|b| b.contains("dropped")),
        "{}",
        report.table()
    );
    assert!(
        report.table().contains("Breaking point: between 5.0 it/s"),
        "{}",
        report.table()
    );
}

const CLASS: &str = "[classes.U]\n[[classes.U.tasks]]\nname = \"t\"\nrequests = [{ method = \"GET\", path = \"/\" }]\n";

#[test]
fn scenario_stages_and_arrival_are_read() {
    let text = format!(
        "{CLASS}[[stages]]\nduration = \"30s\"\nusers = 50\nspawn_rate = 5\n[[stages]]\nduration = \"10s\"\nusers = 10\n"
    );
    let s = Scenario::from_toml("s.toml", &text).unwrap();
    let Some(LoadPlan::Stages(stages)) = &s.plan else {
        panic!("{:?}", s.plan)
    };
    assert_eq!(stages[0].spawn_rate, 5.0);
    // Without a spawn rate, the change (40 users) is spread over the stage (10 s).
    assert_eq!(stages[1].spawn_rate, 4.0);

    let text = format!(
        "{CLASS}[arrival]\nrate = 10\nmax_users = 5\nstages = [{{ duration = \"1m\", target = 100 }}]\n"
    );
    let s = Scenario::from_toml("s.toml", &text).unwrap();
    let Some(LoadPlan::Arrival(a)) = &s.plan else {
        panic!("{:?}", s.plan)
    };
    assert_eq!(
        (a.start_rate, a.max_users, a.stages[0].target),
        (10.0, 5, 100.0)
    );

    // The scenario's plan is used when no flag gives one; a flag wins.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, &text).unwrap();
    let file = path.to_str().unwrap();
    let (c, _) = cli(&["-f", file]).into_run().unwrap();
    assert!(matches!(c.load, LoadPlan::Arrival(_)));
    let (c, _) = cli(&["-f", file, "--shape", "soak"]).into_run().unwrap();
    assert_eq!(c.load.peak_users(), 100);
}

#[test]
fn scenario_plan_errors_point_into_the_file() {
    let cases = [
        // (text after the class, line, column, words in the message)
        (
            "[[stages]]\nduration = \"30x\"\nusers = 5\n",
            6,
            12,
            "stage duration",
        ),
        (
            "[[stages]]\nduration = \"30s\"\nusers = -1\n",
            7,
            9,
            "users -1",
        ),
        (
            "[[stages]]\nduration = \"30s\"\nusers = 5\nspawn_rate = 0\n",
            8,
            14,
            "spawn_rate",
        ),
        (
            "[[stages]]\nduration = \"30s\"\nusers = 5\nramp = 1\n",
            8,
            1,
            "unknown field",
        ),
        (
            "[arrival]\nrate = 10\nmax_users = 0\n",
            7,
            13,
            "max_users 0",
        ),
        ("[arrival]\nrate = -1\nmax_users = 3\n", 6, 8, "rate -1"),
        (
            "[arrival]\nrate = 1\nmax_users = 3\nduration = \"1m\"\nstages = []\n",
            8,
            12,
            "not both",
        ),
    ];
    for (tail, line, column, words) in cases {
        let text = format!("{CLASS}{tail}");
        match Scenario::from_toml("s.toml", &text) {
            Err(loadgen::scenario::ScenarioError::Invalid {
                line: l,
                column: c,
                message,
                ..
            }) => {
                assert_eq!((l, c), (line, column), "{tail}: {message}");
                assert!(message.contains(words), "{tail}: {message}");
            }
            other => panic!("{tail}: {other:?}"),
        }
    }
}
