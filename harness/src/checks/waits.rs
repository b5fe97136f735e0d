//! Waits: the gap between the end of a user's task and the start of its next one, per
//! class, from loadgen's task trace. A timer never fires early, so no gap may be shorter
//! than the class's lower bound (exact); it may fire late by up to the run's measured
//! timer slack (the few timers later still add their share to the tolerance). With
//! that allowance, the gaps' empirical CDF must stay within the Dvoretzky-Kiefer-Wolfowitz
//! distance of Uniform[min, max] (a Kolmogorov-Smirnov test whose critical value holds
//! for every sample size). The same event bounds the share
//! of gaps above max + slack, so both checks use one share of the budget.

use std::collections::BTreeMap;
use std::time::Duration;

use loadgen::scenario::WaitTime;

use super::{sci, Ctx};
use crate::check::Check;
use crate::stat::{binomial_acceptance, dkw_epsilon, ks_uniform_with_delay};

/// Statistical tests this family makes: one per class with a `between` wait.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.exp
        .scenario
        .classes
        .iter()
        .filter(|c| matches!(c.wait, WaitTime::Between { .. }))
        .count()
}

/// Gaps (scaled seconds) between consecutive tasks of each user, per class.
fn gaps(ctx: &Ctx<'_>) -> BTreeMap<String, Vec<f64>> {
    let mut by_user: BTreeMap<usize, Vec<&loadgen::TaskEvent>> = BTreeMap::new();
    for e in &ctx.ev.outcome.trace {
        by_user.entry(e.user).or_default().push(e);
    }
    let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for events in by_user.values_mut() {
        events.sort_by_key(|e| e.start);
        for pair in events.windows(2) {
            let gap = pair[1].start.saturating_sub(pair[0].end);
            out.entry(pair[0].class.clone())
                .or_default()
                .push(gap.as_secs_f64());
        }
    }
    out
}

/// The bounds and uniformity checks per class.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let f = ctx.f();
    let slack = ctx.ev.timer.slack.as_secs_f64();
    let all = gaps(ctx);
    let mut out = Vec::new();
    for class in &ctx.exp.scenario.classes {
        let (lo, hi) = match class.wait {
            WaitTime::Between { min, max } => (min, max),
            WaitTime::Constant(d) => (d, d),
            WaitTime::Zero => (Duration::ZERO, Duration::ZERO),
            _ => {
                out.push(Check::skip(
                    format!("waits {} within bounds", class.name),
                    "pacing waits depend on task time; not checked",
                ));
                continue;
            }
        };
        // The run's waits are the scenario's times the scale.
        let (lo_s, hi_s) = (lo.as_secs_f64() * f, hi.as_secs_f64() * f);
        let Some(g) = all.get(&class.name).filter(|g| !g.is_empty()) else {
            out.push(Check::skip(
                format!("waits {} within bounds", class.name),
                "no user of the class ran two tasks",
            ));
            continue;
        };
        let n = g.len() as u64;
        // The check's budget, three ways: the DKW band, the count of gaps whose timer
        // fired later than the slack (each moves the ECDF by 1/n), and the probe's
        // estimate of that share.
        let a = ctx.alpha / 3.0;
        let (_, late) = binomial_acceptance(n, ctx.ev.timer.beyond(a), a);
        let eps = dkw_epsilon(n, a) + late as f64 / n as f64;
        let min = g.iter().copied().fold(f64::INFINITY, f64::min);
        let max = g.iter().copied().fold(0.0, f64::max);
        let above = g.iter().filter(|x| **x > hi_s + slack).count() as f64 / n as f64;
        // A microsecond of leeway: trace times are whole nanoseconds of two clocks reads.
        let ok = min + 1e-6 >= lo_s && above <= eps;
        out.push(Check::new(
            format!("waits {} within bounds", class.name),
            format!("{:.3}..{:.3} s", lo.as_secs_f64(), hi.as_secs_f64()),
            format!(
                "{:.3}..{:.3} s, {:.2}% above max+slack (n={n} gaps)",
                min / f,
                max / f,
                above * 100.0
            ),
            format!(
                "none below min; share above max + {:.1} ms timer slack <= {:.3}",
                slack * 1000.0,
                eps
            ),
            ok,
        ));
        if let WaitTime::Between { .. } = class.wait {
            let d = ks_uniform_with_delay(g, lo_s, hi_s, slack);
            out.push(Check::new(
                format!("waits {} uniform", class.name),
                format!(
                    "Uniform[{:.3}, {:.3}] s",
                    lo.as_secs_f64(),
                    hi.as_secs_f64()
                ),
                format!("KS distance {d:.4} beyond the timer-slack band (n={n})"),
                format!(
                    "<= {eps:.4} (DKW + late timers, alpha={}); detects a CDF moved by {:.1} points at n={}",
                    sci(ctx.alpha),
                    eps * 100.0,
                    super::power::count(n)
                ),
                d <= eps,
            ));
        }
    }
    out
}
