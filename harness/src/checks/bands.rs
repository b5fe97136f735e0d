//! Baselines and criteria, end to end: profiles built to land each of the guide's five
//! metrics (average, p95, p99, error rate, requests/s) in each band, run through mock-api
//! and loadgen, and loadgen's band for the Aggregated row compared with the band derived
//! from the profile; then the platform's criteria (average under 2000 ms, p95 under
//! 5000 ms, failure ratio under 5%) judged by loadgen's criteria functions, and the
//! exit code its rule gives.
//!
//! Each run's route answers with a few fixed latencies at fixed weights and fails with a
//! fixed probability, and its users loop without waits (or a constant one), so every
//! metric has a closed-form interval for a given sample size:
//! - average: the mixture's mean plus or minus z standard errors, plus the per-request
//!   overhead (client, loopback, timers) upward;
//! - p95 and p99: Locust's rank of the percentile against the binomial region of each
//!   component's cumulative count, which says which fixed value the rank can hit;
//! - error rate: the binomial region of the failure probability;
//! - requests/s: users / (mean latency + wait), the overhead and two cycles of edge
//!   effects (the first and last tasks) on either side.
//!
//! The expected band is the band of both ends of the interval; a run whose interval
//! straddles a bound is refused before it starts (with the sample size it plans for)
//! and reported as inconclusive after it ran (with the sample size it got). Everything
//! is derived in unscaled time; loadgen's wall-time snapshot is classified against the
//! guide's table scaled by the run's time scale.

use std::time::Duration;

use loadgen::baseline::{self, Band, Baselines, Metric};
use loadgen::criteria::{self, CriteriaSet, Outcome};
use loadgen::Scenario;
use mock_api::profile::Profile;
use statrs::distribution::{ContinuousCDF, Normal};

use super::baselines::scaled_baselines;
use super::latency::server_quantile_interval;
use super::Ctx;
use crate::check::{Check, CheckTable};
use crate::config::{Load, Mode, RunSpec};
use crate::run::Evidence;
use crate::stat::{binomial_acceptance, locust_rank};

/// The route every band run calls (Locust row `GET /api/clients`).
pub const ROUTE: &str = "GET /api/clients";

/// False-failure probability of one statistical statement. A run makes at most three
/// (the average, the error rate, the cumulative count of the percentiles' lower
/// component; requests/s reuse the average's interval), so the four runs make at most
/// twelve: under 1e-4 together.
pub const ALPHA_EACH: f64 = 5e-6;

/// Per-request overhead (wall ms) assumed before a run: client, loopback and timer
/// lateness; after the run the measured overhead replaces it. Also the allowance for
/// loadgen's own gap between a response and the user's next request, which no side
/// measures.
pub const ASSUMED_OVERHEAD_MS: f64 = 3.0;

/// Share of the planned requests the pre-run derivation must hold for, so a slower
/// machine still lands inside it.
pub const PLANNED_SHARE: f64 = 0.75;

/// The platform's criteria on Aggregated (metric, threshold in unscaled ms or a ratio).
pub const PLATFORM_CRITERIA: [(&str, f64); 3] =
    [("avg", 2000.0), ("p(95)", 5000.0), ("fail_ratio", 0.05)];

/// The metrics in the guide's table order.
const METRICS: [Metric; 5] = Metric::ALL;

/// One band run: the route's latency and failures, the load, and the bands it is built for.
#[derive(Debug, Clone, Copy)]
pub struct BandRun {
    /// Short name (`target`, `acceptable`, ...).
    pub name: &'static str,
    /// The route's latency: (weight, fixed ms) components, unscaled, weights summing to 1.
    pub latency: &'static [(f64, f64)],
    /// Probability of a 500 on the route.
    pub failure_probability: f64,
    /// Users, all started at once.
    pub users: usize,
    /// Constant wait between a user's tasks (unscaled ms; 0 for none).
    pub wait_ms: f64,
    /// Run time (unscaled s).
    pub duration_s: u64,
    /// Time scale of this run.
    pub time_scale: f64,
    /// The bands the run is built for: average, p95, p99, error rate, requests/s.
    pub designed: [Band; 5],
    /// The exit code the platform's criteria should give.
    pub designed_exit: u8,
}

/// The four runs: between them every metric visits every band.
///
/// | run        | latency (unscaled)      | fail | users | avg | p95 | p99 | err | rps |
/// |------------|-------------------------|------|-------|-----|-----|-----|-----|-----|
/// | target     | 100 ms                  | 0.5% | 30    | T   | T   | T   | A   | T   |
/// | acceptable | 90% 400, 10% 2500 ms    | 0    | 43    | A   | D   | A   | T   | A   |
/// | degraded   | 97% 1100, 3% 7000 ms    | 3%   | 50    | D   | A   | D   | D   | D   |
/// | poor       | 90% 3000, 10% 12000 ms  | 20%  | 40    | P   | P   | P   | P   | P   |
///
/// Each run has its own time scale: a millisecond of wall-time lateness is 1/f unscaled
/// milliseconds, so a run whose metrics sit below an upper bound (target, acceptable,
/// degraded) runs at 0.1..0.2, where a loaded machine's late timers stay far inside the
/// bands, and the poor run, whose bounds are all below its values, at 0.01.
pub const RUNS: [BandRun; 4] = [
    BandRun {
        name: "target",
        latency: &[(1.0, 100.0)],
        failure_probability: 0.005,
        users: 30,
        wait_ms: 0.0,
        duration_s: 30,
        time_scale: 0.2,
        designed: [
            Band::Target,
            Band::Target,
            Band::Target,
            Band::Acceptable,
            Band::Target,
        ],
        designed_exit: 0,
    },
    BandRun {
        name: "acceptable",
        latency: &[(0.9, 400.0), (0.1, 2500.0)],
        failure_probability: 0.0,
        users: 43,
        wait_ms: 0.0,
        duration_s: 40,
        time_scale: 0.15,
        designed: [
            Band::Acceptable,
            Band::Degraded,
            Band::Acceptable,
            Band::Target,
            Band::Acceptable,
        ],
        designed_exit: 0,
    },
    BandRun {
        name: "degraded",
        latency: &[(0.97, 1100.0), (0.03, 7000.0)],
        failure_probability: 0.03,
        users: 50,
        wait_ms: 0.0,
        duration_s: 80,
        time_scale: 0.1,
        designed: [
            Band::Degraded,
            Band::Acceptable,
            Band::Degraded,
            Band::Degraded,
            Band::Degraded,
        ],
        designed_exit: 0,
    },
    BandRun {
        name: "poor",
        latency: &[(0.9, 3000.0), (0.1, 12000.0)],
        failure_probability: 0.2,
        users: 40,
        wait_ms: 0.0,
        duration_s: 200,
        time_scale: 0.01,
        designed: [Band::Poor, Band::Poor, Band::Poor, Band::Poor, Band::Poor],
        designed_exit: 1,
    },
];

/// Where a correct system puts each metric (unscaled), and the band that follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Derivation {
    /// Requests the derivation assumes.
    pub n: u64,
    /// Per metric: (low, high, band when both ends agree, how it was derived).
    pub intervals: [(f64, f64, Option<Band>, String); 5],
}

impl Derivation {
    /// The bands, or the first metric whose interval straddles a bound.
    pub fn bands(&self) -> Result<[Band; 5], String> {
        let mut out = [Band::Target; 5];
        for (i, (lo, hi, band, how)) in self.intervals.iter().enumerate() {
            out[i] = band.ok_or_else(|| {
                format!(
                    "{}: {lo:.3}..{hi:.3} straddles a bound with n = {} ({how})",
                    METRICS[i].label(),
                    self.n
                )
            })?;
        }
        Ok(out)
    }

    /// The interval of one metric.
    pub fn interval(&self, metric: Metric) -> (f64, f64) {
        let i = METRICS.iter().position(|m| *m == metric).unwrap_or(0);
        (self.intervals[i].0, self.intervals[i].1)
    }
}

impl BandRun {
    /// Mean latency (unscaled ms).
    pub fn mean_ms(&self) -> f64 {
        self.latency.iter().map(|(w, v)| w * v).sum()
    }

    /// Standard deviation of one latency (unscaled ms).
    fn sd_ms(&self) -> f64 {
        let m = self.mean_ms();
        self.latency
            .iter()
            .map(|(w, v)| w * (v - m).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// Requests the run plans for: users x duration / cycle.
    pub fn planned_requests(&self) -> u64 {
        let cycle = self.mean_ms() + self.wait_ms;
        (self.users as f64 * self.duration_s as f64 * 1000.0 / cycle) as u64
    }

    /// The mock's profile: the route as designed, every other route fast.
    pub fn profile(&self) -> Result<Profile, mock_api::profile::ProfileError> {
        let latency = if let [(_, ms)] = self.latency {
            format!("{{ kind = \"fixed\", ms = {ms} }}")
        } else {
            let parts: Vec<String> = self
                .latency
                .iter()
                .map(|(w, ms)| {
                    format!("{{ weight = {w}, latency = {{ kind = \"fixed\", ms = {ms} }} }}")
                })
                .collect();
            format!(
                "{{ kind = \"mixture\", components = [{}] }}",
                parts.join(", ")
            )
        };
        let failures = if self.failure_probability > 0.0 {
            format!(
                "failures = [{{ kind = \"status\", code = 500, probability = {} }}]\n",
                self.failure_probability
            )
        } else {
            String::new()
        };
        let text = format!(
            "name = \"bands-{name}\"\ndescription = \"Lands the guide's metrics in the {name} run's bands.\"\n\n\
             [defaults]\nlatency = {{ kind = \"fixed\", ms = 1 }}\n\n\
             [jobs]\nduration = {{ kind = \"fixed\", ms = 100 }}\nfailure_probability = 0.0\n\n\
             [routes.\"{ROUTE}\"]\nlatency = {latency}\n{failures}",
            name = self.name
        );
        Profile::from_toml(&text, &format!("bands-{}", self.name))
    }

    /// The scenario: one class calling the route, with the run's constant wait.
    pub fn scenario(&self) -> Result<Scenario, String> {
        let wait = if self.wait_ms > 0.0 {
            format!("wait = {{ constant = {} }}\n", self.wait_ms / 1000.0)
        } else {
            String::new()
        };
        let text = format!(
            "description = \"One class calling {ROUTE} for the {name} band run\"\n\n\
             [classes.BandUser]\n{wait}\n\
             [[classes.BandUser.tasks]]\nname = \"get_clients\"\nweight = 1\n\
             requests = [{{ method = \"GET\", path = \"/api/clients\" }}]\n",
            name = self.name
        );
        Scenario::from_toml(&format!("bands-{}", self.name), &text).map_err(|e| e.to_string())
    }

    /// The harness run: every user started at once.
    pub fn spec(&self, seed: u64) -> Result<RunSpec, String> {
        let spec = RunSpec {
            // The mode only names the run in the shared output; scenario and profile are ours.
            mode: Mode::Guide,
            scenario: self.scenario()?,
            profile: self.profile().map_err(|e| e.to_string())?,
            load: Load {
                users: self.users,
                spawn_rate: self.users as f64,
                duration: Duration::from_secs(self.duration_s),
                time_scale: self.time_scale,
            },
            seed,
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// The platform's criteria with their times scaled to wall time.
    pub fn criteria(&self) -> Result<CriteriaSet, criteria::CriteriaError> {
        let f = self.time_scale;
        let texts: Vec<String> = PLATFORM_CRITERIA
            .iter()
            .map(|(metric, threshold)| {
                let t = if *metric == "fail_ratio" {
                    *threshold
                } else {
                    threshold * f
                };
                format!("{metric} < {t:.4}")
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        CriteriaSet::aggregated(&refs)
    }

    /// Each metric's interval (unscaled) for `n` requests, `overhead_ms` of wall time per
    /// request and up to `gap_ms` of wall time between a response and the user's next
    /// request (loadgen's own task switch, and a wait's timer firing late).
    pub fn derive(&self, n: u64, overhead_ms: f64, gap_ms: f64) -> Derivation {
        let table = Baselines::default();
        let overhead = overhead_ms / self.time_scale;
        let gap = gap_ms / self.time_scale;
        let z = Normal::new(0.0, 1.0)
            .map(|d| d.inverse_cdf(1.0 - ALPHA_EACH / 2.0))
            .unwrap_or(f64::INFINITY);
        let mean = self.mean_ms();
        let half = z * self.sd_ms() / (n.max(1) as f64).sqrt();
        let (avg_lo, avg_hi) = ((mean - half).max(0.0), mean + half + overhead);
        let avg_how =
            format!("mean {mean:.0} ms +- {half:.0} ms (z = {z:.2}) + {overhead:.0} ms overhead");
        let pct = |p: f64| {
            let (lo, hi) = self.quantile_interval(n, p);
            (
                lo,
                hi + overhead,
                format!(
                    "rank {} of {n} among the components' binomial regions",
                    locust_rank(n, p)
                ),
            )
        };
        let (p95_lo, p95_hi, p95_how) = pct(0.95);
        let (p99_lo, p99_hi, p99_how) = pct(0.99);
        let (f_lo, f_hi) = binomial_acceptance(n, self.failure_probability, ALPHA_EACH);
        let err = (
            f_lo as f64 * 100.0 / n.max(1) as f64,
            f_hi as f64 * 100.0 / n.max(1) as f64,
            format!(
                "binomial region {f_lo}..{f_hi} of {:.2}% in {n}",
                self.failure_probability * 100.0
            ),
        );
        // Two cycles of edge effects per user: all start at once, the last tasks finish
        // after the run time.
        let users = self.users as f64;
        let d = self.duration_s as f64 * 1000.0;
        let fastest = avg_lo + self.wait_ms;
        let slowest = avg_hi + self.wait_ms + gap;
        let rps = (
            users * 1000.0 / slowest * (1.0 - 2.0 * slowest / d),
            users * 1000.0 / fastest * (1.0 + 2.0 * fastest / d),
            format!(
                "{} users / ({:.0}..{:.0} ms latency + {:.0}..{:.0} ms wait), +-2 cycles in {:.0} s",
                self.users,
                avg_lo,
                avg_hi,
                self.wait_ms,
                self.wait_ms + gap,
                d / 1000.0
            ),
        );
        let raw = [
            (avg_lo, avg_hi, avg_how),
            (p95_lo, p95_hi, p95_how),
            (p99_lo, p99_hi, p99_how),
            err,
            rps,
        ];
        let mut intervals = raw.map(|(lo, hi, how)| (lo, hi, None, how));
        for (i, metric) in METRICS.iter().enumerate() {
            let (lo, hi) = (intervals[i].0, intervals[i].1);
            let (a, b) = (table.classify(*metric, lo), table.classify(*metric, hi));
            intervals[i].2 = (a == b).then_some(a);
        }
        Derivation { n, intervals }
    }

    /// The fixed values Locust's rank for `p` can land on with `n` requests: the first
    /// component whose cumulative count may reach the rank, and the first that surely
    /// does (binomial regions of the cumulative counts).
    fn quantile_interval(&self, n: u64, p: f64) -> (f64, f64) {
        let rank = locust_rank(n, p);
        let mut cumulative = 0.0;
        let (mut lo, mut hi) = (None, None);
        for (w, v) in self.latency {
            cumulative += w;
            let (c_lo, c_hi) = binomial_acceptance(n, cumulative.min(1.0), ALPHA_EACH);
            let last = cumulative >= 1.0 - 1e-9;
            if lo.is_none() && (c_hi >= rank || last) {
                lo = Some(*v);
            }
            if hi.is_none() && (c_lo >= rank || last) {
                hi = Some(*v);
            }
        }
        (lo.unwrap_or(0.0), hi.unwrap_or(f64::INFINITY))
    }

    /// Whether each platform criterion passes when the metrics lie in `d`'s intervals
    /// (`None` when the interval straddles the threshold).
    pub fn criteria_expected(&self, d: &Derivation) -> [Option<bool>; 3] {
        PLATFORM_CRITERIA.map(|(metric, threshold)| {
            let (lo, hi) = match metric {
                "avg" => d.interval(Metric::AvgMs),
                "p(95)" => d.interval(Metric::P95Ms),
                _ => {
                    let (a, b) = d.interval(Metric::ErrorRatePercent);
                    (a / 100.0, b / 100.0)
                }
            };
            if hi < threshold {
                Some(true)
            } else if lo >= threshold {
                Some(false)
            } else {
                None
            }
        })
    }
}

/// Mean per-request overhead measured in a run (wall ms): loadgen's mean over the
/// mock's mean server time, plus the mock's mean delay error when late.
pub fn measured_overhead_ms(ev: &Evidence) -> f64 {
    let client = ev.outcome.snapshot.aggregated.avg_response_time_ms();
    let Some(server) = ev.server.routes.get(ROUTE) else {
        return ASSUMED_OVERHEAD_MS;
    };
    let late = (server.delay_error_us.mean / 1000.0).max(0.0);
    (client - server.server_time_ms.mean).max(0.0) + late
}

/// The derivation with the sample a run got: the average and requests/s from the
/// measured overhead (and the timer probe's slack for waits), the percentiles from the
/// latency checks' intervals (order statistics of the profile's quantiles, the mock's
/// own delay errors and its histogram of the same requests).
pub fn derive_after_run(run: &BandRun, ev: &Evidence) -> Derivation {
    let f = run.time_scale;
    let row = &ev.outcome.snapshot.aggregated;
    let overhead = measured_overhead_ms(ev);
    let late_wait = if run.wait_ms > 0.0 {
        ev.timer.slack.as_secs_f64() * 1000.0
    } else {
        0.0
    };
    let mut d = run.derive(
        row.num_requests(),
        overhead,
        ASSUMED_OVERHEAD_MS + late_wait,
    );
    let exp = ev.spec.expectation();
    let ctx = Ctx {
        ev,
        exp: &exp,
        alpha: ALPHA_EACH,
    };
    let table = Baselines::default();
    for (i, p) in [(1, 0.95), (2, 0.99)] {
        if let Some((lo, hi, _, how)) = server_quantile_interval(&ctx, row, ROUTE, p) {
            let (lo, hi) = (lo / f, hi / f);
            let (a, b) = (
                table.classify(METRICS[i], lo),
                table.classify(METRICS[i], hi),
            );
            d.intervals[i] = (
                lo,
                hi,
                (a == b).then_some(a),
                format!("{how}, /{f} unscaled"),
            );
        }
    }
    d
}

/// Every check of one band run: the derivation with the sample it got, each metric's
/// band from loadgen against the derived band, each criterion, the verdict and the
/// exit codes (with criteria, and Locust's rule without them).
pub fn checks(run: &BandRun, ev: &Evidence) -> Vec<Check> {
    let f = run.time_scale;
    let snapshot = &ev.outcome.snapshot;
    let n = snapshot.aggregated.num_requests();
    let overhead = measured_overhead_ms(ev);
    let derivation = derive_after_run(run, ev);
    let mut out = Vec::new();
    let derived = derivation.bands();
    out.push(Check::new(
        format!("bands {} derivation", run.name),
        format!(
            "every interval inside one band, as designed, n >= {}",
            min_requests(run)
        ),
        match &derived {
            Ok(b) => format!("n = {n}, overhead {overhead:.2} ms (wall): {}", names(b)),
            Err(e) => format!("inconclusive: {e}"),
        },
        "exact",
        derived.as_ref().is_ok_and(|b| *b == run.designed),
    ));
    let report = baseline::evaluate(snapshot, &scaled_baselines(f));
    let aggregated = report.aggregated();
    for (i, metric) in METRICS.iter().enumerate() {
        let cell = aggregated.map(|r| r.cell(*metric));
        let (lo, hi, _, how) = &derivation.intervals[i];
        let unscale = |v: f64| match metric {
            Metric::ErrorRatePercent => v,
            Metric::Rps => v * f,
            _ => v / f,
        };
        let measured = match cell.and_then(|c| c.value.zip(c.band)) {
            Some((v, band)) => format!("{} ({})", band.name(), metric.format(unscale(v))),
            None => "no value".to_owned(),
        };
        out.push(Check::new(
            format!("bands {} Aggregated {}", run.name, metric.short()),
            run.designed[i].name().to_owned(),
            measured,
            format!("{}..{}: {how}", metric.format(*lo), metric.format(*hi)),
            cell.and_then(|c| c.band) == Some(run.designed[i]),
        ));
    }
    out.extend(criteria_checks(run, ev, &derivation));
    out
}

fn criteria_checks(run: &BandRun, ev: &Evidence, derivation: &Derivation) -> Vec<Check> {
    let snapshot = &ev.outcome.snapshot;
    let mut out = Vec::new();
    let set = match run.criteria() {
        Ok(set) => set,
        Err(e) => {
            out.push(Check::new(
                format!("bands {} criteria", run.name),
                "the platform's criteria parse",
                e.to_string(),
                "exact",
                false,
            ));
            return out;
        }
    };
    let verdict = criteria::evaluate(snapshot, &set);
    let expected = run.criteria_expected(derivation);
    for ((result, want), (metric, threshold)) in
        verdict.results.iter().zip(expected).zip(PLATFORM_CRITERIA)
    {
        let shown = match result.value {
            Some(v) if metric == "fail_ratio" => format!("{v:.4}"),
            Some(v) => format!("{:.0} ms", v / run.time_scale),
            None => "no value".to_owned(),
        };
        out.push(Check::new(
            format!("bands {} criterion {metric} < {threshold}", run.name),
            match want {
                Some(true) => "pass",
                Some(false) => "fail",
                None => "inconclusive",
            },
            format!("{} ({shown})", if result.passed { "pass" } else { "fail" }),
            "derived interval",
            want == Some(result.passed),
        ));
    }
    let outcome = verdict.outcome();
    let want_outcome = if expected.iter().all(|e| *e == Some(true)) {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    out.push(Check::new(
        format!("bands {} verdict", run.name),
        want_outcome.word(),
        outcome.word(),
        "exact",
        outcome == want_outcome,
    ));
    let any_failed = snapshot.aggregated.num_failures() > 0;
    let code = criteria::exit_code(outcome, any_failed, 1);
    out.push(Check::new(
        format!("bands {} exit code", run.name),
        run.designed_exit.to_string(),
        code.to_string(),
        "criteria decide: 0 passed, 1 failed",
        code == run.designed_exit,
    ));
    // Without criteria Locust's rule: 1 when any request failed. A failure probability
    // p > 0 over n requests gives none with probability (1-p)^n, below 1e-12 here.
    let locust = criteria::exit_code(Outcome::NoCriteria, any_failed, 1);
    let want = u8::from(run.failure_probability > 0.0);
    out.push(Check::new(
        format!("bands {} exit code without criteria", run.name),
        want.to_string(),
        locust.to_string(),
        "Locust's rule: 1 when any request failed",
        locust == want,
    ));
    out
}

/// Why a band run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BandsError {
    /// A run's profile, scenario or load is invalid (a bug in [`RUNS`]).
    #[error("band run {run}: {message}")]
    Spec {
        /// The run's name.
        run: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The mock or loadgen failed.
    #[error("band run {run}: {source}")]
    Run {
        /// The run's name.
        run: &'static str,
        /// The run's error.
        #[source]
        source: crate::run::RunError,
    },
}

/// Every band run in turn with `seed`: the pre-run derivation as a check, then the
/// run's checks.
pub async fn run_all(seed: u64) -> Result<CheckTable, BandsError> {
    let mut table = CheckTable::default();
    for run in &RUNS {
        let before = derive_before_run(run);
        table.extend([Check::new(
            format!("bands {} planned", run.name),
            names(&run.designed),
            match &before {
                Ok(b) => names(b),
                Err(e) => e.clone(),
            },
            format!(
                "n >= {}, {ASSUMED_OVERHEAD_MS} ms overhead assumed",
                min_requests(run)
            ),
            before.as_ref().is_ok_and(|b| *b == run.designed),
        )]);
        let spec = run.spec(seed).map_err(|message| BandsError::Spec {
            run: run.name,
            message,
        })?;
        let ev = crate::run::execute(&spec)
            .await
            .map_err(|source| BandsError::Run {
                run: run.name,
                source,
            })?;
        table.extend(checks(run, &ev));
    }
    Ok(table)
}

/// The fewest requests the pre-run derivation holds for.
pub fn min_requests(run: &BandRun) -> u64 {
    (run.planned_requests() as f64 * PLANNED_SHARE) as u64
}

/// The bands before running: the derivation at [`min_requests`] and the assumed
/// overhead; an error names the metric whose interval straddles a bound.
pub fn derive_before_run(run: &BandRun) -> Result<[Band; 5], String> {
    run.derive(min_requests(run), ASSUMED_OVERHEAD_MS, ASSUMED_OVERHEAD_MS)
        .bands()
}

fn names(bands: &[Band; 5]) -> String {
    METRICS
        .iter()
        .zip(bands)
        .map(|(m, b)| format!("{} {}", m.short(), b.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_is_derived_to_its_designed_bands_before_it_runs() {
        for run in RUNS {
            assert_eq!(derive_before_run(&run), Ok(run.designed), "{}", run.name);
            let d = run.derive(min_requests(&run), ASSUMED_OVERHEAD_MS, ASSUMED_OVERHEAD_MS);
            let want = run.criteria_expected(&d);
            assert!(want.iter().all(Option::is_some), "{}: {want:?}", run.name);
            let passes = want.iter().all(|w| *w == Some(true));
            assert_eq!(u8::from(!passes), run.designed_exit, "{}", run.name);
        }
    }

    #[test]
    fn every_metric_visits_every_band() {
        for (i, metric) in METRICS.iter().enumerate() {
            let mut seen: Vec<Band> = RUNS.iter().map(|r| r.designed[i]).collect();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 4, "{}", metric.label());
        }
    }

    #[test]
    fn a_small_sample_straddles_and_is_refused() {
        let d = RUNS[0].derive(200, ASSUMED_OVERHEAD_MS, 0.0);
        let e = d.bands().unwrap_err();
        assert!(e.contains("straddles"), "{e}");
    }

    #[test]
    fn profiles_scenarios_and_criteria_build() {
        for run in RUNS {
            let spec = run.spec(1).unwrap();
            assert_eq!(spec.scenario.class_names(), ["BandUser"]);
            let mean = run.mean_ms();
            assert!(
                (spec
                    .profile
                    .behaviour(ROUTE)
                    .latency
                    .quantile(0.5)
                    .as_secs_f64()
                    * 1000.0
                    - run.latency[0].1)
                    .abs()
                    < 1e-6,
                "{mean}"
            );
            assert_eq!(run.criteria().unwrap().groups[0].criteria.len(), 3);
        }
    }
}
