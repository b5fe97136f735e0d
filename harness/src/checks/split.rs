//! Class split: users per class as the weights and fixed counts say. Locust's
//! dispatcher is deterministic (fixed counts first, then a smooth weighted round robin
//! that keeps every class within one user of its exact share), so the tolerance is that
//! rounding: fewer than one user away from n x weight / total weight.

use super::Ctx;
use crate::check::Check;

/// The split checks: one per class, and the total.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let started = &ctx.ev.outcome.users_started;
    let total: usize = started.values().sum();
    let mut out = vec![Check::new(
        "spawn users started",
        ctx.ev.spec.load.users.to_string(),
        total.to_string(),
        "exact: every user of the target is started",
        total == ctx.ev.spec.load.users,
    )];
    let classes = &ctx.exp.scenario.classes;
    let fixed: u64 = classes.iter().filter_map(|c| c.fixed_count).sum();
    let weighted_users = (total as u64).saturating_sub(fixed) as f64;
    let weight_sum: f64 = classes
        .iter()
        .filter(|c| c.fixed_count.is_none())
        .map(|c| c.weight)
        .sum();
    for class in classes {
        let measured = started.get(&class.name).copied().unwrap_or(0) as f64;
        let (expected, tolerance, ok) = match class.fixed_count {
            Some(n) => (
                n as f64,
                "exact (fixed count)".to_owned(),
                measured == n as f64,
            ),
            None => {
                let e = weighted_users * class.weight / weight_sum;
                (
                    e,
                    "< 1 user (smooth weighted round robin)".to_owned(),
                    (measured - e).abs() < 1.0,
                )
            }
        };
        out.push(Check::new(
            format!("class split {}", class.name),
            format!("{expected:.1} users"),
            format!("{measured:.0} users"),
            tolerance,
            ok,
        ));
    }
    for name in started.keys() {
        if !classes.iter().any(|c| &c.name == name) {
            out.push(Check::new(
                format!("class split {name}"),
                "0 users (not in the scenario)",
                format!("{} users", started[name]),
                "exact",
                started[name] == 0,
            ));
        }
    }
    out
}
