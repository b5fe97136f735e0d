//! Spike and soak, time-scaled: the user count follows the `spike` shape's stages, and a
//! soak against the `leaking` profile shows the latency drift while loadgen's memory
//! stays flat.
//!
//! The soak's leak is aged, not waited for: the mock's uptime (what its degradation
//! sees) is moved forward in even steps during the run, an hour in all, so the service
//! time grows from x1 to x3 over a 40 s (unscaled) run, as it would over an hour's soak.
//! The drift is judged twice: here, from loadgen's own task trace (the mean response time
//! of the last third of the run against the first third, beyond the noise of each
//! window's mean, estimated from sub-batch means, which also absorb the trend inside a
//! window); and by loadgen's analysis, which must report it on the aged soak and must
//! not on the same soak without ageing (the steady control).

use std::time::Duration;

use loadgen::{ArrivalPlan, LoadPlan};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::{drive, start_mock, Action, CapacityError, Trial};
use crate::check::Check;
use crate::checks::{ms, sci};

/// The spike's time scale: the guide's 12-minute spike in 3.6 s.
pub const SPIKE_SCALE: f64 = 0.005;
/// Each spike user's wait between iterations, unscaled (0.3 s wall): the user count is
/// under test, not the server.
pub const SPIKE_WAIT: Duration = Duration::from_secs(60);

/// The soak's time scale.
pub const SOAK_SCALE: f64 = 0.25;
/// The soak's arrival rate, unscaled: at the end of the leak (service x3, a mean of
/// 114 ms plus the handler's overhead) the 16 workers are still under half busy.
pub const SOAK_RATE: f64 = 50.0;
/// The soak's length, unscaled.
pub const SOAK_TIME: Duration = Duration::from_secs(40);
/// Uptime steps over the soak and the uptime each adds (an hour in all).
pub const AGE_STEPS: u32 = 8;
/// Uptime each step adds.
pub const AGE_STEP: Duration = Duration::from_secs(450);
/// Sub-batches per window for the drift's noise.
pub const SUB_BATCHES: usize = 8;
/// False-failure probability of the drift test.
pub const ALPHA: f64 = 5e-5;
/// The leak the memory check detects, per request served after the soak's first step:
/// its bound on the process's resident-memory growth is this times those requests, so a
/// leak of this much per request or more fails it, whatever the soak's length. What a
/// correct process adds stays under it: loadgen keeps bounded state (HdrHistograms of
/// three significant digits, a few tens of kB per row) and the task trace, about 100 B
/// per iteration; the mock's statistics are histograms too. The mock shares the
/// process, so the figure bounds both.
pub const LEAK_PER_REQUEST_KB: f64 = 1.0;

/// Runs the guide's spike shape, time-scaled, against `stalling` without stalls.
pub async fn run_spike(seed: u64) -> Result<(Trial, Vec<loadgen::Stage>), CapacityError> {
    let f = SPIKE_SCALE;
    let mut profile = super::profile("stalling")?;
    if let Some(c) = profile.capacity.as_mut() {
        c.stall.clear();
    }
    let stages = loadgen::shape::builtin("spike", loadgen::shape::STEP_TIME).unwrap_or_default();
    let mock = start_mock(profile, f, seed).await?;
    let mut config = mock.config()?;
    config.load = LoadPlan::Stages(stages.clone()).scaled(f);
    config.seed = seed;
    config.stop_timeout = Duration::from_secs(5);
    let trial = drive(
        mock,
        config,
        super::scenario(Some(SPIKE_WAIT)),
        f,
        Action::None,
    )
    .await?;
    Ok((trial, stages))
}

/// The user count at the end of each stage and the stage marks' order.
pub fn spike_checks((t, stages): &(Trial, Vec<loadgen::Stage>)) -> Vec<Check> {
    let f = SPIKE_SCALE;
    let o = &t.outcome;
    let mut reached = Vec::new();
    for (i, _) in stages.iter().enumerate() {
        let last = o
            .spawn_steps
            .iter()
            .rfind(|s| s.stage == i)
            .map_or(0, |s| s.running);
        reached.push(last);
    }
    let planned: Vec<usize> = stages.iter().map(|s| s.users).collect();
    let peak = o.spawn_steps.iter().map(|s| s.running).max().unwrap_or(0);
    let mut out = vec![Check::new(
        "spike users per stage",
        format!("{planned:?} (the guide's 50 / 500 / 50)"),
        format!("{reached:?}, peak {peak}"),
        "exact at each stage's last step; never above the largest stage",
        reached == planned && peak <= planned.iter().copied().max().unwrap_or(0),
    )];
    // Stage marks: one per stage, never before its planned start (a stage starts when
    // the previous one's timer fires, which is never early).
    let mut at = Duration::ZERO;
    let mut early = Vec::new();
    let mut late = Duration::ZERO;
    for (i, s) in stages.iter().enumerate() {
        if let Some(m) = o.stages.get(i) {
            let planned_at = at.mul_f64(f);
            if m.at + Duration::from_micros(1) < planned_at {
                early.push(i);
            }
            late = late.max(m.at.saturating_sub(planned_at));
        }
        at += s.duration;
    }
    out.push(Check::new(
        "spike stage marks",
        format!("{} marks at 0, 5 min, 7 min (unscaled)", stages.len()),
        format!(
            "{} marks at {:?} s (unscaled); latest by {} (wall)",
            o.stages.len(),
            o.stages
                .iter()
                .map(|m| (m.at.as_secs_f64() / f).round())
                .collect::<Vec<_>>(),
            ms(late.as_secs_f64() * 1000.0)
        ),
        "one per stage, never early",
        o.stages.len() == stages.len() && early.is_empty(),
    ));
    out
}

/// Runs the soak: a fixed rate against `leaking`, aged an hour over the run.
pub async fn run_soak(seed: u64) -> Result<Trial, CapacityError> {
    soak(seed, true).await
}

/// The steady control: the same soak, never aged (its service time stays at x1).
pub async fn run_steady_soak(seed: u64) -> Result<Trial, CapacityError> {
    soak(seed, false).await
}

async fn soak(seed: u64, aged: bool) -> Result<Trial, CapacityError> {
    let f = SOAK_SCALE;
    let mock = start_mock(super::profile("leaking")?, f, seed).await?;
    let mut config = mock.config()?;
    config.load = LoadPlan::Arrival(ArrivalPlan::constant(
        SOAK_RATE,
        64,
        Duration::from_secs(10),
    ))
    .scaled(f);
    config.run_time = Some(SOAK_TIME.mul_f64(f));
    config.seed = seed;
    config.stop_timeout = Duration::from_secs(5);
    config.trace = Some(100_000);
    let action = if aged {
        Action::Age {
            steps: AGE_STEPS,
            over: SOAK_TIME.mul_f64(f),
            by: AGE_STEP,
        }
    } else {
        Action::None
    };
    Ok(drive(mock, config, super::scenario(None), f, action).await?)
}

/// Mean and standard error of one window's latencies (ms), from sub-batch means.
fn window(events: &[(f64, f64)], from: f64, to: f64) -> Option<(f64, f64, usize)> {
    let width = (to - from) / SUB_BATCHES as f64;
    let mut sums = [(0.0, 0usize); SUB_BATCHES];
    for &(start, latency) in events {
        if start >= from && start < to {
            let b = (((start - from) / width) as usize).min(SUB_BATCHES - 1);
            sums[b].0 += latency;
            sums[b].1 += 1;
        }
    }
    let means: Vec<f64> = sums
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| s / *n as f64)
        .collect();
    let k = means.len() as f64;
    if k < 2.0 {
        return None;
    }
    let m = means.iter().sum::<f64>() / k;
    let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
    let n = sums.iter().map(|(_, n)| n).sum();
    Some((m, (var / k).sqrt(), n))
}

/// What loadgen's analysis says of the run's Aggregated drift.
fn analysis_drift(t: &Trial) -> (Option<loadgen::analysis::Drift>, String) {
    let analysis = loadgen::analysis::analyse(
        &t.outcome.snapshot,
        &loadgen::baseline::Baselines::default(),
    );
    let drift = analysis.rows.last().and_then(|r| r.drift.clone());
    let shown = match &drift {
        Some(d) => format!(
            "drifts up {:.1} ms/min (wall), {} -> {} (t = {:.1} > {:.1}, {} s)",
            d.ms_per_minute,
            ms(d.from_ms),
            ms(d.to_ms),
            d.t,
            d.t_critical,
            d.intervals
        ),
        None => "no drift reported".to_owned(),
    };
    (drift, shown)
}

/// loadgen's analysis reports no drift on the steady control.
pub fn steady_soak_checks(t: &Trial) -> Vec<Check> {
    let (drift, shown) = analysis_drift(t);
    vec![Check::new(
        "loadgen analysis: no drift without a leak",
        "no drift reported on the same soak, never aged",
        shown,
        format!(
            "slope within Student's t at one-sided {} or a rise under {}% of the start",
            sci(loadgen::analysis::DRIFT_ALPHA),
            loadgen::analysis::DRIFT_MATERIAL * 100.0
        ),
        drift.is_none(),
    )]
}

/// The drift between the first and last thirds, and the memory growth.
pub fn soak_checks(t: &Trial) -> Vec<Check> {
    let (drift, shown) = analysis_drift(t);
    let mut first = vec![Check::new(
        "loadgen analysis reports the drift on leaking",
        "Aggregated latency drifts up (the leak: service x1 -> x3 over the run)",
        shown,
        format!(
            "slope beyond Student's t at one-sided {}, rise over {}% of the start",
            sci(loadgen::analysis::DRIFT_ALPHA),
            loadgen::analysis::DRIFT_MATERIAL * 100.0
        ),
        drift.is_some(),
    )];
    first.extend(trace_soak_checks(t));
    first
}

fn trace_soak_checks(t: &Trial) -> Vec<Check> {
    let f = SOAK_SCALE;
    let events: Vec<(f64, f64)> = t
        .outcome
        .trace
        .iter()
        .map(|e| {
            (
                e.start.as_secs_f64() / f,
                e.end.saturating_sub(e.start).as_secs_f64() * 1000.0 / f,
            )
        })
        .collect();
    let d = SOAK_TIME.as_secs_f64();
    let mut out = Vec::new();
    match (
        window(&events, 0.0, d / 3.0),
        window(&events, 2.0 * d / 3.0, d),
    ) {
        (Some((m1, se1, n1)), Some((m3, se3, n3))) => {
            let df = (2 * SUB_BATCHES - 2) as f64;
            let t_crit =
                StudentsT::new(0.0, 1.0, df).map_or(f64::INFINITY, |s| s.inverse_cdf(1.0 - ALPHA));
            let se = (se1 * se1 + se3 * se3).sqrt();
            out.push(Check::new(
                "soak latency drift on leaking",
                "last third's mean above the first third's (the leak: service x1 -> x3 over the run)".to_owned(),
                format!(
                    "{} ({n1} requests) -> {} ({n3} requests): +{} = {:.1} standard errors",
                    ms(m1),
                    ms(m3),
                    ms(m3 - m1),
                    (m3 - m1) / se.max(f64::MIN_POSITIVE)
                ),
                format!(
                    "difference > t({df:.0} df, one-sided alpha={}) {t_crit:.2} x {} (standard error from {SUB_BATCHES} sub-batch means per window)",
                    sci(ALPHA),
                    ms(se)
                ),
                m3 - m1 > t_crit * se,
            ));
        }
        _ => out.push(Check::skip(
            "soak latency drift on leaking",
            "the trace holds too few tasks",
        )),
    }
    // Requests served after the first ageing step, when the growth is measured from.
    let after = events
        .iter()
        .filter(|(start, _)| *start >= d / f64::from(AGE_STEPS))
        .count() as u64;
    match (t.rss_kb.get(1), t.rss_kb.last()) {
        (Some(&after_warmup), Some(&end)) => {
            let growth = end.saturating_sub(after_warmup);
            let bound_kb = LEAK_PER_REQUEST_KB * after as f64;
            out.push(Check::new(
                "soak memory flat",
                format!(
                    "growth under {:.2} MB after the first step",
                    bound_kb / 1024.0
                ),
                format!(
                    "VmRSS {:.1} MB -> {:.1} MB (+{:.2} MB; samples {:?} MB)",
                    after_warmup as f64 / 1024.0,
                    end as f64 / 1024.0,
                    growth as f64 / 1024.0,
                    t.rss_kb
                        .iter()
                        .map(|k| (*k as f64 / 102.4).round() / 10.0)
                        .collect::<Vec<_>>()
                ),
                format!(
                    "{LEAK_PER_REQUEST_KB} kB x {} requests served after the first step: detects a leak of {LEAK_PER_REQUEST_KB} kB per request or more; the mock shares the process",
                    crate::checks::power::count(after)
                ),
                (growth as f64) < bound_kb,
            ));
        }
        _ => out.push(Check::skip("soak memory flat", "no /proc/self/status here")),
    }
    out
}
