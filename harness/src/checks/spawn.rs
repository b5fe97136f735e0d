//! Spawn: the user count over time follows the spawn rate to the target. Each step's
//! user count is exact (Locust's steps of max(1, floor(rate)) users); its time is never
//! early, and each stage's timer adds no more lateness than the run's timer slack, but
//! for as many late timers as the probe's share of them allows.

use super::Ctx;
use crate::check::Check;

/// The step-count, running-count and timing checks.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let f = ctx.f();
    let planned = &ctx.ev.planned_steps;
    let steps = &ctx.ev.outcome.spawn_steps;
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
    // Step k is due at its planned time; its stage starts when the previous stage's
    // timer fires, so step k's lateness is the sum of the latenesses e_0..e_k of k + 1
    // timers. Each e_j (the increase of lateness from one step to the next) may exceed
    // the run's timer slack only as often as the probe says timers do: at most `late`
    // of the steps (binomial bound on the probe's Clopper-Pearson share).
    let timer = ctx.ev.timer;
    let a = ctx.alpha / 2.0;
    let mut early = false;
    let mut over = 0u64;
    let mut worst = std::time::Duration::ZERO;
    let mut before = std::time::Duration::ZERO;
    for (p, s) in planned.iter().zip(steps) {
        if s.at + std::time::Duration::from_micros(1) < p.at {
            early = true;
        }
        let lateness = s.at.saturating_sub(p.at);
        let increment = lateness.saturating_sub(before);
        before = lateness;
        worst = worst.max(increment);
        if increment > timer.slack {
            over += 1;
        }
    }
    let n = planned.len().min(steps.len()) as u64;
    let (_, late) = crate::stat::binomial_acceptance(n, timer.beyond(a), a);
    let last_at = planned.last().map_or(0.0, |p| p.at.as_secs_f64() / f);
    out.push(Check::new(
        "spawn timing",
        format!(
            "{} users at {}/s: last step at {last_at:.2} s",
            ctx.ev.spec.load.users, ctx.ev.spec.load.spawn_rate
        ),
        format!(
            "{}largest added lateness {:.2} ms (wall); {over} of {n} steps above the slack",
            if early { "a step came early; " } else { "" },
            worst.as_secs_f64() * 1000.0
        ),
        format!(
            "never early; at most {late} steps add more than the {:.2} ms timer slack (wall; alpha={})",
            timer.slack.as_secs_f64() * 1000.0,
            super::sci(ctx.alpha)
        ),
        !early && over <= late && counts_ok,
    ));
    out
}
