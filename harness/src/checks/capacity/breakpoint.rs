//! Breakpoint: a step search of users against the `capacity` profile finds the breaking
//! point at the analytic saturation point, workers / mean service time.
//!
//! The design is the closed model: users with no wait each keep one request in the
//! server, so throughput rises with users until the workers are all busy and then
//! stays flat at c / S (the saturation point) while the queue, and the 95th
//! percentile, grow with every step. loadgen's breakpoint search (each stage judged on
//! its own figures) stops at the first step whose p95 breaks the bound, and that step's
//! throughput is the server's ceiling, measured directly. An open-model search
//! (arrival-rate steps) would only bracket the point between two rates, to the step's
//! resolution, and loadgen's breakpoint judge runs on staged user plans only.
//!
//! The analytic point uses the MEASURED mean service time (the mock's worker-holding
//! time, timer overhead included: a scaled 12.5 ms service is held ~0.5 ms longer),
//! not the configured 50 ms; the configured figure is shown beside it.

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
/// The tolerance on the breaking point.
pub const TOLERANCE: f64 = 0.10;

/// The profile's p95 without queueing: an exponential service with mean 50 ms has
/// p95 = 50 x ln 20 = 150 ms. A step fails when its p95 is 1.5 x that: reached once the
/// queue holds about as many requests as the workers (16 to 32 users), never below 8.
pub fn p95_bound_ms() -> f64 {
    1.5 * 50.0 * 20f64.ln()
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

/// Runs the step search against `capacity`.
pub async fn run(seed: u64) -> Result<Search, CapacityError> {
    let f = TIME_SCALE;
    let profile = super::profile("capacity")?;
    let mock = start_mock(profile.clone(), f, seed).await?;
    let mut config = mock.config()?;
    let stages: Vec<Stage> = STEPS
        .iter()
        .map(|&users| Stage {
            duration: STEP_TIME,
            users,
            spawn_rate: f64::INFINITY,
        })
        .collect();
    config.load = LoadPlan::Stages(stages).scaled(f);
    config.seed = seed;
    config.stop_timeout = Duration::from_secs(5);
    // The bound is on loadgen's (scaled) figures.
    config.breakpoint = Some(
        Breakpoint::bounds(Some(0.05), Some(p95_bound_ms() * f))
            .unwrap_or_else(|e| unreachable!("constant criteria parse: {e}")),
    );
    let action = Action::ServicePerStep {
        count: STEPS.len() as u32,
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
    // The mean service time of each step, as the mock measured it during that step (a
    // shared machine's load changes the handler's overhead from step to step); the
    // last reading when a step has none of its own.
    let fallback = (cap.service_time_ms.count > 0).then_some(cap.service_time_ms.mean);
    let service_ms = |stage: usize| {
        s.trial
            .service_per_step
            .get(stage)
            .filter(|(n, _)| *n > 0)
            .map(|(_, m)| *m)
            .or(fallback)
            .map(|m| m / f)
    };
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
    let rel_se = 1.0 / (first.requests.max(1) as f64).sqrt();
    let mut out = vec![Check::new(
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
            "within {:.0}% (the issue's bound; the step's own standard error is {:.1}% from its {} requests, so 10% is {:.1} standard errors)",
            TOLERANCE * 100.0,
            rel_se * 100.0,
            first.requests,
            TOLERANCE / rel_se
        ),
        (found - saturation).abs() <= TOLERANCE * saturation,
    )];
    // No step, failed or passed, may exceed its ceiling (a closed model cannot).
    let over: Vec<String> = report
        .steps
        .iter()
        .filter(|st| st.rps * f > sat(st.stage) * (1.0 + TOLERANCE))
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
        format!("at most +{:.0}% (as above)", TOLERANCE * 100.0),
        over.is_empty(),
    ));
    out
}
