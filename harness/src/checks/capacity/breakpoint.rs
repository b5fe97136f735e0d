//! Breakpoint: a step search of users against the `capacity` profile finds the breaking
//! point at the analytic saturation point, workers / mean service time.
//!
//! The design is the closed model: users with no wait each keep one request in the
//! server, so throughput rises with users until the workers are all busy and then
//! stays flat at c / S (the saturation point) while the queue, and the 95th
//! percentile, grow with every step. loadgen's breakpoint search (each stage judged on
//! its own figures) stops at the first step whose p95 breaks the bound, and that step's
//! throughput is the server's ceiling, measured directly.
//!
//! The open model ([`run_open`]) steps the arrival rate by a tenth of the point instead:
//! it brackets the point between two rates, and past it the bounded pool of users fills
//! with queued requests, so the first failed step both drops iterations and serves the
//! server's ceiling, which is compared with the point the same way.
//!
//! The analytic point uses the MEASURED mean service time (the mock's worker-holding
//! time, timer overhead included: a scaled 12.5 ms service is held ~0.5 ms longer),
//! not the configured 50 ms; the configured figure is shown beside it. That alone would
//! let a mock that holds its workers too long pass (the point moves with the time it
//! holds them), so a second check holds the measured holding time to the configured
//! mean service: above it by no more than the lateness the mock measured on its own
//! responses, within the sampling error of the steps' services.

use std::time::Duration;

use loadgen::{Breakpoint, LoadPlan, Stage};
use mock_api::profile::Profile;

use super::{drive, start_mock, Action, CapacityError, Trial};
use crate::check::Check;
use crate::checks::ms;

/// Time scale of the search: 12 s steps run in 3 s.
pub const TIME_SCALE: f64 = 0.25;
/// Users per step: below, at, and past the 8 workers.
pub const STEPS: [usize; 5] = [4, 8, 16, 32, 64];
/// Each step's length, unscaled: ~1 900 requests at saturation, so the step's
/// throughput has a relative standard error of 1/sqrt(1 900) = 2.3%.
pub const STEP_TIME: Duration = Duration::from_secs(12);
/// The open model's rate steps are this share of the point apart, so the step that
/// breaks lies within it past the point.
pub const TOLERANCE: f64 = 0.10;
/// False-failure probability of the family, split evenly over its three statistical
/// checks (the holding time, the breaking step's throughput, the flat throughput).
pub const ALPHA: f64 = 5e-5;

/// The relative tolerance on a step's throughput against the saturation point: z
/// standard errors of a count of `requests` completions (at saturation every worker is
/// busy, so completions are a Poisson count with relative standard error 1/sqrt(n)).
pub fn throughput_tolerance(requests: u64) -> f64 {
    crate::stat::normal_upper(ALPHA / 6.0) / (requests.max(1) as f64).sqrt()
}

/// Requests the smallest step without a queue (4 users) is sure to get: three quarters
/// of 4 users x 12 s / 50 ms, the share the band runs plan for.
const FEWEST_UNQUEUED: u64 = 720;

/// The step bound on p95 (unscaled ms): the most a step without a queue (users <=
/// workers: every request finds a worker) shows with probability 1 - alpha. The
/// profile's exponential service of mean 50 ms has p95 = 50 ln 20 = 150 ms; Locust's p95
/// rank among `FEWEST_UNQUEUED` services lies below the Beta upper bound b, so the bound
/// is -50 ln(1 - b) plus the assumed per-request overhead (the band runs' 3 ms of wall
/// time, unscaled): 202 ms, 1.35 x 150, where 1.5 x was assumed before. Past the point
/// the queue grows with the users until a step goes over it (16 users gave 212 ms in our
/// runs, 32 users above 300 ms).
pub fn p95_bound_ms() -> f64 {
    let n = FEWEST_UNQUEUED;
    let (_, b) =
        crate::stat::order_statistic_bounds(n, crate::stat::locust_rank(n, 0.95), ALPHA / 3.0);
    -50.0 * (1.0 - b).ln() + crate::checks::bands::ASSUMED_OVERHEAD_MS / TIME_SCALE
}

/// The search's evidence: the trial and the profile it ran against.
#[derive(Debug, Clone)]
pub struct Search {
    /// The run.
    pub trial: Trial,
    /// The profile.
    pub profile: Profile,
    /// The time scale.
    pub f: f64,
}

impl Search {
    /// The mean service time (unscaled ms) the mock measured during step `stage` (a
    /// shared machine's load changes the handler's overhead from step to step); its last
    /// reading when the step has none of its own.
    fn service_ms(&self, stage: usize) -> Option<f64> {
        let cap = &self.trial.server.capacity;
        let fallback = (cap.service_time_ms.count > 0).then_some(cap.service_time_ms.mean);
        self.trial
            .service_per_step
            .get(stage)
            .filter(|(n, _, _)| *n > 0)
            .map(|(_, m, _)| *m)
            .or(fallback)
            .map(|m| m / self.f)
    }
}

/// Runs the step search against `capacity`.
pub async fn run(seed: u64) -> Result<Search, CapacityError> {
    let stages: Vec<Stage> = STEPS
        .iter()
        .map(|&users| Stage {
            duration: STEP_TIME,
            users,
            spawn_rate: f64::INFINITY,
        })
        .collect();
    search(LoadPlan::Stages(stages), STEPS.len(), p95_bound_ms(), seed).await
}

/// Runs `load` (`steps` steps of [`STEP_TIME`], unscaled) against `capacity` as a
/// breakpoint search whose steps fail on 5% failures or a p95 over `p95_ms`.
async fn search(
    load: LoadPlan,
    steps: usize,
    p95_ms: f64,
    seed: u64,
) -> Result<Search, CapacityError> {
    let f = TIME_SCALE;
    let profile = super::profile("capacity")?;
    let mock = start_mock(profile.clone(), f, seed).await?;
    let mut config = mock.config()?;
    config.load = load.scaled(f);
    config.seed = seed;
    config.stop_timeout = Duration::from_secs(5);
    // The bound is on loadgen's (scaled) figures.
    config.breakpoint = Some(
        Breakpoint::bounds(Some(0.05), Some(p95_ms * f))
            .unwrap_or_else(|e| unreachable!("constant criteria parse: {e}")),
    );
    let action = Action::ServicePerStep {
        count: steps as u32,
        every: STEP_TIME.mul_f64(f),
    };
    let trial = drive(mock, config, super::scenario(None), f, action).await?;
    Ok(Search { trial, profile, f })
}

/// The breaking point against the analytic saturation point, and the flat throughput
/// past it.
pub fn checks(s: &Search) -> Vec<Check> {
    let f = s.f;
    let name = "breakpoint vs saturation point";
    let Some(report) = &s.trial.outcome.breakpoint else {
        return vec![Check::skip(name, "loadgen made no breakpoint report")];
    };
    let cap = &s.trial.server.capacity;
    let workers = f64::from(cap.workers);
    let configured = s
        .profile
        .route_saturation_rps("GET /api/clients")
        .unwrap_or(f64::NAN);
    let service_ms = |stage: usize| s.service_ms(stage);
    if workers == 0.0 || (0..STEPS.len()).all(|i| service_ms(i).is_none()) {
        return vec![Check::skip(name, "the mock measured no service time")];
    }
    let sat = |stage: usize| service_ms(stage).map_or(f64::NAN, |m| workers / (m / 1000.0));
    let saturation = (0..STEPS.len())
        .map(sat)
        .filter(|v| v.is_finite())
        .fold(f64::NAN, f64::min);
    let steps: Vec<String> = report
        .steps
        .iter()
        .map(|st| {
            format!(
                "{}u {:.0}/s p95 {}{}",
                st.users,
                st.rps * f,
                st.p95_ms.map_or("-".to_owned(), |p| ms(p / f)),
                if st.passed() { "" } else { " FAIL" }
            )
        })
        .collect();
    let Some(first) = report.first_failed() else {
        return vec![Check::new(
            name,
            format!("a step fails near {saturation:.1} req/s"),
            format!("no step failed: {}", steps.join("; ")),
            "a breaking point must be found",
            false,
        )];
    };
    let found = first.rps * f;
    let saturation = sat(first.stage);
    let service = service_ms(first.stage).unwrap_or(f64::NAN);
    let tolerance = throughput_tolerance(first.requests);
    let mut out = vec![configured_service(
        s,
        "breakpoint service time vs configured",
    )];
    out.push(Check::new(
        name,
        format!(
            "{saturation:.1} req/s = {} workers / {} mean service measured during the step (configured: {configured:.0} req/s)",
            cap.workers,
            ms(service)
        ),
        format!(
            "first failed step {} users: {found:.1} req/s ({:+.1}%); steps: {}",
            first.users,
            (found / saturation - 1.0) * 100.0,
            steps.join("; ")
        ),
        format!(
            "within ±{:.1}% = z {:.2} (alpha={}) / sqrt({} requests of the step); detects a point off by more",
            tolerance * 100.0,
            crate::stat::normal_upper(ALPHA / 6.0),
            crate::checks::sci(ALPHA / 3.0),
            first.requests,
        ),
        (found - saturation).abs() <= tolerance * saturation,
    ));
    // No step, failed or passed, may exceed its ceiling (a closed model cannot).
    let over: Vec<String> = report
        .steps
        .iter()
        .filter(|st| st.rps * f > sat(st.stage) * (1.0 + throughput_tolerance(st.requests)))
        .map(|st| format!("{}u {:.1}/s > {:.1}/s", st.users, st.rps * f, sat(st.stage)))
        .collect();
    let peak = report.steps.iter().map(|st| st.rps * f).fold(0.0, f64::max);
    out.push(Check::new(
        "breakpoint throughput flattens at saturation",
        "no step above its own workers / mean service".to_owned(),
        if over.is_empty() {
            format!("highest step throughput {peak:.1} req/s")
        } else {
            over.join("; ")
        },
        "at most z / sqrt(the step's requests) above (as above)",
        over.is_empty(),
    ));
    out
}

/// Arrival rates of the open-model search, unscaled: 0.8 to 1.3 times the analytic
/// saturation point (160/s) in steps of a tenth of it, so a step lands at most 10% past
/// the point.
pub const OPEN_RATES: [f64; 6] = [128.0, 144.0, 160.0, 176.0, 192.0, 208.0];
/// Users the open-model search may hold: 8 in service plus a queue of 56.
pub const OPEN_USERS: usize = 64;

/// The open model's step bound on p95, unscaled: past saturation the queue grows through
/// the step (at 192/s the wait reaches 2.4 s by its end), below it the M/M/8 p95 stays
/// under 0.6 s even at ρ = 0.95, so 1 s fails only steps past the point.
pub const OPEN_P95_MS: f64 = 1000.0;

/// Runs the open-model search (arrival-rate steps) against `capacity`.
pub async fn run_open(seed: u64) -> Result<Search, CapacityError> {
    let plan = loadgen::ArrivalPlan::stepped(&OPEN_RATES, STEP_TIME, OPEN_USERS, Duration::ZERO);
    search(LoadPlan::Arrival(plan), OPEN_RATES.len(), OPEN_P95_MS, seed).await
}

/// The open-model search: the first failed rate step is past the saturation point, and
/// what the server served in it (its successful requests per second) is within 10% of
/// workers / mean service, as the closed model's breaking step is.
pub fn open_checks(s: &Search) -> Vec<Check> {
    let f = s.f;
    let name = "open breakpoint vs saturation point";
    let Some(report) = &s.trial.outcome.breakpoint else {
        return vec![Check::skip(name, "loadgen made no breakpoint report")];
    };
    let cap = &s.trial.server.capacity;
    let workers = f64::from(cap.workers);
    let service_ms = |stage: usize| s.service_ms(stage);
    let sat = |stage: usize| service_ms(stage).map_or(f64::NAN, |m| workers / (m / 1000.0));
    let steps: Vec<String> = report
        .steps
        .iter()
        .map(|st| {
            format!(
                "{:.0}/s asked: {:.1}/s served, p95 {}, {} dropped{}",
                st.rate.unwrap_or(f64::NAN) * f,
                (st.requests - st.failures) as f64 / st.duration.as_secs_f64().max(1e-9) * f,
                st.p95_ms.map_or("-".to_owned(), |p| ms(p / f)),
                st.dropped.unwrap_or(0),
                if st.passed() { "" } else { " FAIL" }
            )
        })
        .collect();
    let Some(first) = report.first_failed() else {
        return vec![Check::new(
            name,
            "a rate step fails past the saturation point",
            format!("no step failed: {}", steps.join("; ")),
            "a breaking point must be found",
            false,
        )];
    };
    let saturation = sat(first.stage);
    let served =
        (first.requests - first.failures) as f64 / first.duration.as_secs_f64().max(1e-9) * f;
    let asked = first.rate.unwrap_or(f64::NAN) * f;
    let last = report.last_passed().and_then(|l| l.rate).map(|r| r * f);
    let tolerance = throughput_tolerance(first.requests);
    let bracket_ok = asked >= saturation * (1.0 - TOLERANCE)
        && last.is_none_or(|l| l <= saturation * (1.0 + TOLERANCE));
    vec![
        configured_service(s, "open breakpoint service time vs configured"),
        Check::new(
        name,
        format!(
            "{saturation:.1} req/s = {} workers / {} mean service measured during the step",
            cap.workers,
            ms(service_ms(first.stage).unwrap_or(f64::NAN))
        ),
        format!(
            "broke between {} and {asked:.0}/s, where {served:.1} req/s were served ({:+.1}%); steps: {}",
            last.map_or("nothing".to_owned(), |l| format!("{l:.0}/s")),
            (served / saturation - 1.0) * 100.0,
            steps.join("; ")
        ),
        format!(
            "served within ±{:.1}% = z / sqrt({} requests of the step), and the bracket within the rate steps' {:.0}% spacing",
            tolerance * 100.0,
            first.requests,
            TOLERANCE * 100.0
        ),
        bracket_ok && (served - saturation).abs() <= tolerance * saturation,
    )]
}

/// The workers' mean holding time over every step (unscaled) against the profile's
/// mean service (see [`super::service_vs_configured`]).
pub fn configured_service(s: &Search, name: &str) -> Check {
    let steps = &s.trial.service_per_step;
    let n: u64 = steps.iter().map(|(n, _, _)| n).sum();
    if n == 0 {
        return Check::skip(name, "the mock measured no service time");
    }
    let pooled = |pick: fn(&(u64, f64, f64)) -> f64| {
        steps.iter().map(|st| pick(st) * st.0 as f64).sum::<f64>() / n as f64 / s.f
    };
    let held = pooled(|st| st.1);
    let late = pooled(|st| st.2).max(0.0);
    let service = &s.profile.behaviour(ROUTE).latency;
    super::service_vs_configured(
        name,
        super::Served {
            configured: service,
            held_ms: held,
            late_ms: late,
            n,
        },
        ALPHA / 3.0,
    )
}

/// The route the searches call.
const ROUTE: &str = "GET /api/clients";

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived bound sits above the unqueued p95 by its sampling error and the
    /// overhead, and below the p95 of a step whose every request waits a whole
    /// exponential service for its worker (the sum of two: p95 = 237 ms).
    #[test]
    fn the_p95_bound_separates_steps_with_and_without_a_queue() {
        let bound = p95_bound_ms();
        assert!((bound - 202.5).abs() < 0.5, "{bound}");
        // Gamma(2, 50): P(X > x) = (1 + x/50) e^(-x/50); at 237 ms it is 5%.
        let tail = |x: f64| (1.0 + x / 50.0) * (-x / 50.0).exp();
        assert!((tail(237.2) - 0.05).abs() < 1e-3);
        assert!(tail(bound) > 0.05, "a queued step's p95 is above the bound");
    }
}
