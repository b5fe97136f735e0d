//! Real Locust and loadgen run the same locustfile against the same mock-api: the
//! requests must fall into the same rows in the same proportions, and each row fail as
//! often, within tolerances derived from the sample sizes.
//!
//! The file is loadgen's corpus file `mock_mix.py`: two classes (3:1), a nested TaskSet
//! that loadgen flattens into weighted tasks, and catch_response checks. The mock runs
//! the guide profile (trades fail 10%, predictions 1.25%) at time scale x0.05.
//!
//! Tolerances. False-failure budget 1e-4 for the whole test, split evenly over the
//! mix test and each row's two failure tests. The mix is a chi-square test of
//! homogeneity on the 2 x k table of row counts. Locust runs a TaskSet visit as a run of
//! consecutive tasks of geometric length L (mean 2, E[L^2] = 6), loadgen draws the
//! same tasks one at a time, so Locust's counts vary up to E[L^2]/E[L] = 3 times more
//! than a multinomial's; the statistic is divided by that design effect (a first-order
//! Rao-Scott correction), which keeps the test conservative. Failure ratios: a pooled
//! two-proportion z-test between the tools, and each tool's count inside the binomial
//! acceptance region of the profile's probability.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harness::checks::capacity::start_mock;
use harness::stat::{binomial_acceptance, chi_square_critical};
use loadgen::plan::locustfile::{import, ImportOptions};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

const NEEDS_LOCUST: &str = "needs Locust: pip install locust==2.47.0 and put it on PATH";

/// Users, for each tool, all started at once.
const USERS: usize = 30;
/// Each tool's run time.
const RUN_SECONDS: u64 = 15;
/// The mock's time scale: the guide's latencies x0.05 (trades ~75 ms on average).
const TIME_SCALE: f64 = 0.05;
/// The TaskSet's design effect (see the module's comment).
const DESIGN_EFFECT: f64 = 3.0;
/// The whole test's false-failure budget.
const BUDGET: f64 = 1e-4;

/// (method, name) -> (requests, failures).
type Rows = BTreeMap<(String, String), (u64, u64)>;

fn locustfile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../loadgen/tests/locustfiles/mock_mix.py")
}

/// `locust` on PATH, or a panic that says how to get it.
fn locust_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("locust"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{NEEDS_LOCUST} (no `locust` found on PATH)"))
}

/// Runs real Locust headless against `host` and reads its `_stats.csv`.
async fn run_locust(host: &str) -> Rows {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("locust");
    let child = tokio::process::Command::new(locust_binary())
        .arg("-f")
        .arg(locustfile())
        .args(["--headless", "--host", host])
        .args(["-u", &USERS.to_string(), "-r", &USERS.to_string()])
        .args(["-t", &format!("{RUN_SECONDS}s"), "--only-summary"])
        .args(["--loglevel", "WARNING", "--csv"])
        .arg(&prefix)
        .stdout(std::process::Stdio::null())
        // Its final tables go to stderr: kept out of the test's output, shown on failure.
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{NEEDS_LOCUST}: cannot start locust: {e}"));
    // Bounded: the run stops itself; a hung one is killed.
    let out = tokio::time::timeout(
        Duration::from_secs(RUN_SECONDS + 60),
        child.wait_with_output(),
    )
    .await
    .expect("locust did not stop within a minute of its run time")
    .unwrap();
    // Locust exits 1 when any request failed, which the profile makes sure of.
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "locust: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(dir.path().join("locust_stats.csv")).unwrap();
    parse_stats_csv(&csv)
}

/// Locust's `_stats.csv`: Type, Name, Request Count, Failure Count, ... (the Aggregated
/// row left out).
fn parse_stats_csv(text: &str) -> Rows {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (t, n, r, f) = (
        col("Type"),
        col("Name"),
        col("Request Count"),
        col("Failure Count"),
    );
    lines
        .map(|l| {
            l.split(',')
                .map(|c| c.trim_matches('"'))
                .collect::<Vec<_>>()
        })
        .filter(|c| c[n] != "Aggregated")
        .map(|c| {
            (
                (c[t].to_owned(), c[n].to_owned()),
                (c[r].parse().unwrap(), c[f].parse().unwrap()),
            )
        })
        .collect()
}

/// Runs the same file with loadgen, in-process, as `loadgen -f` does.
async fn run_loadgen(mut config: loadgen::RunConfig) -> Rows {
    let imported = import(&locustfile(), &ImportOptions::default()).unwrap();
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    config.load = loadgen::LoadPlan::Users {
        users: USERS,
        spawn_rate: USERS as f64,
    };
    config.run_time = Some(Duration::from_secs(RUN_SECONDS));
    config.seed = 5;
    let outcome = loadgen::run(config, imported.scenario).await.unwrap();
    outcome
        .snapshot
        .rows
        .iter()
        .map(|r| {
            (
                (r.method.clone(), r.name.clone()),
                (r.num_requests(), r.num_failures()),
            )
        })
        .collect()
}

/// Chi-square of homogeneity of two count vectors, divided by the design effect:
/// (statistic, degrees of freedom, p-value).
fn homogeneity(a: &[u64], b: &[u64]) -> (f64, u64, f64) {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    let mut x2 = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        let total = (x + y) as f64;
        let (ea, eb) = (total * na / (na + nb), total * nb / (na + nb));
        x2 += (x as f64 - ea).powi(2) / ea + (y as f64 - eb).powi(2) / eb;
    }
    let df = a.len() as u64 - 1;
    let x2 = x2 / DESIGN_EFFECT;
    let p = 1.0 - ChiSquared::new(df as f64).unwrap().cdf(x2);
    (x2, df, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Locust: pip install locust==2.47.0 and put it on PATH"]
async fn locust_and_loadgen_run_the_same_locustfile_to_the_same_rows_and_failures() {
    let profile = mock_api::profile::Profile::builtin("guide").unwrap();
    let mock = start_mock(profile, TIME_SCALE, 11).await.unwrap();
    let host = mock.server.url("");
    let locust = run_locust(&host).await;
    let ours = run_loadgen(mock.config().unwrap()).await;
    mock.finish().await.unwrap();

    // The same rows.
    let names: Vec<_> = locust.keys().cloned().collect();
    assert_eq!(
        names,
        ours.keys().cloned().collect::<Vec<_>>(),
        "rows differ\nlocust: {locust:?}\nloadgen: {ours:?}"
    );
    let alpha = BUDGET / (1.0 + 2.0 * names.len() as f64);
    println!("row                                   locust  fail   loadgen  fail");
    for k in &names {
        let ((a, fa), (b, fb)) = (locust[k], ours[k]);
        println!("{:<6}{:<32}{a:>7} {fa:>5}   {b:>7} {fb:>5}", k.0, k.1);
    }

    // The same mix.
    let a: Vec<u64> = names.iter().map(|k| locust[k].0).collect();
    let b: Vec<u64> = names.iter().map(|k| ours[k].0).collect();
    let (x2, df, p) = homogeneity(&a, &b);
    let critical = chi_square_critical(df, alpha);
    let n = (a.iter().sum::<u64>() + b.iter().sum::<u64>()) as f64;
    // A shift of Cohen's w is seen about half the time when N w^2 / D reaches the
    // critical value less the degrees of freedom (the noncentral mean).
    let detectable_w = ((critical - df as f64) * DESIGN_EFFECT / n).sqrt();
    println!(
        "mix: chi-square {x2:.2} (design effect {DESIGN_EFFECT} taken out), df {df}, p = {p:.4}; critical {critical:.2} at alpha {alpha:.1e}; detects a shift of Cohen's w >= {detectable_w:.3}"
    );
    assert!(
        x2 <= critical,
        "the row mix differs: chi-square {x2:.2} > {critical:.2} (p = {p:.2e})"
    );

    // The same failure ratios, and each as the profile says.
    let z = Normal::new(0.0, 1.0)
        .unwrap()
        .inverse_cdf(1.0 - alpha / 2.0);
    let configured = |name: &str| match name {
        "/api/trading/execute" => 0.10,
        "/api/ml/predict" => 0.0125,
        _ => 0.0,
    };
    for k in &names {
        let ((na, fa), (nb, fb)) = (locust[k], ours[k]);
        let (pa, pb) = (fa as f64 / na as f64, fb as f64 / nb as f64);
        let pooled = (fa + fb) as f64 / (na + nb) as f64;
        let se = (pooled * (1.0 - pooled) * (1.0 / na as f64 + 1.0 / nb as f64)).sqrt();
        println!(
            "{} {}: failure ratio locust {pa:.4}, loadgen {pb:.4}; |difference| {:.4} allowed {:.4}",
            k.0,
            k.1,
            (pa - pb).abs(),
            z * se
        );
        assert!(
            (pa - pb).abs() <= z * se + f64::EPSILON,
            "{k:?}: failure ratios differ: locust {fa}/{na}, loadgen {fb}/{nb}"
        );
        let p = configured(&k.1);
        for (tool, n, f) in [("locust", na, fa), ("loadgen", nb, fb)] {
            let (lo, hi) = binomial_acceptance(n, p, alpha);
            println!("    {tool}: {f} failures of {n}, Binomial({n}, {p}) region [{lo}, {hi}]");
            assert!(
                (lo..=hi).contains(&f),
                "{k:?}: {tool}'s {f} failures of {n} are outside [{lo}, {hi}] for p = {p}"
            );
        }
    }
}
