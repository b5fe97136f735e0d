//! Spawn: the user count over time follows the spawn rate to the target. Each step's
//! user count is exact (Locust's steps of max(1, floor(rate)) users); its time may be
//! late, never early, by the largest timer lateness the run's probe saw, per step so
//! far, since each step's stage starts when the previous stage's timer fires.

use super::Ctx;
use crate::check::Check;

/// The step-count, running-count and timing checks.
pub fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let f = ctx.f();
    let planned = &ctx.ev.planned_steps;
    let steps = &ctx.ev.outcome.spawn_steps;
    let slack = ctx.ev.timer.max;
    let counts_ok = planned.len() == steps.len()
        && planned
            .iter()
            .zip(steps)
            .all(|(p, s)| p.running == s.running);
    let show = |v: Vec<usize>| {
        if v.len() > 8 {
            format!(
                "{:?} .. {:?} ({} steps)",
                &v[..4],
                &v[v.len() - 2..],
                v.len()
            )
        } else {
            format!("{v:?}")
        }
    };
    let mut out = vec![Check::new(
        "spawn user count per step",
        show(planned.iter().map(|p| p.running).collect()),
        show(steps.iter().map(|s| s.running).collect()),
        "exact",
        counts_ok,
    )];
    let mut worst_late = 0.0f64;
    let mut early = false;
    let mut late = false;
    for (k, (p, s)) in planned.iter().zip(steps).enumerate() {
        let allowed = slack.mul_f64((k + 1) as f64);
        if s.at + std::time::Duration::from_micros(1) < p.at {
            early = true;
        }
        let lateness = s.at.saturating_sub(p.at);
        if lateness > allowed {
            late = true;
        }
        worst_late = worst_late.max(lateness.as_secs_f64() / (k + 1) as f64);
    }
    let last_at = planned.last().map_or(0.0, |p| p.at.as_secs_f64() / f);
    out.push(Check::new(
        "spawn timing",
        format!(
            "{} users at {}/s: last step at {last_at:.2} s",
            ctx.ev.spec.load.users, ctx.ev.spec.load.spawn_rate
        ),
        format!(
            "{}worst lateness {:.2} ms per step (wall)",
            if early { "a step came early; " } else { "" },
            worst_late * 1000.0
        ),
        format!(
            "never early; <= {:.2} ms (largest timer lateness) per step (wall)",
            slack.as_secs_f64() * 1000.0
        ),
        !early && !late && counts_ok,
    ));
    out
}
