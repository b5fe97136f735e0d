//! Failures, per loadgen row: the count of each injected kind inside the binomial
//! acceptance region of its configured probability (exactly floor(n / N) in exact
//! mode), each kind seen by loadgen as that kind (loadgen's count of the kind's error
//! text equals the mock's count of injected failures with that label), and no failure
//! that no rule explains.

use loadgen::stats::RequestStats;
use mock_api::fault::{FailureKind, Trigger};

use super::{sci, Ctx};
use crate::check::Check;
use crate::stat::binomial_acceptance;

/// Statistical tests this family makes: one per probability rule of a row's route.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.rows()
        .iter()
        .filter_map(|(_, route)| *route)
        .map(|route| probability_rules(&ctx.exp.profile, route))
        .sum()
}

/// How many of a route's failure rules fire by probability (each a binomial test).
pub(crate) fn probability_rules(profile: &mock_api::profile::Profile, route: &str) -> usize {
    profile
        .behaviour(route)
        .failures
        .iter()
        .filter(|f| matches!(f.trigger, Trigger::Probability(_)))
        .count()
}

/// How loadgen names a failure kind in its error text; `None` for a dribble, which is
/// a slow success, not a failure.
pub(crate) fn error_marker(kind: &FailureKind) -> Option<String> {
    match kind {
        FailureKind::Status { code, .. } => Some(format!("HTTPError('{code} ")),
        FailureKind::Reset => Some("ConnectionResetError".to_owned()),
        FailureKind::Close | FailureKind::Hang { ms: Some(_) } => {
            Some("RemoteDisconnected".to_owned())
        }
        FailureKind::Hang { ms: None } => Some("Timeout".to_owned()),
        FailureKind::Garbage { .. } => Some("InvalidResponse".to_owned()),
        FailureKind::Dribble { .. } => None,
    }
}

/// loadgen's failures of `row` whose error text contains `marker`.
fn seen(ctx: &Ctx<'_>, row: &RequestStats, marker: &str) -> u64 {
    ctx.ev
        .outcome
        .snapshot
        .errors
        .iter()
        .filter(|e| e.method == row.method && e.name == row.name && e.error.contains(marker))
        .map(|e| e.occurrences)
        .sum()
}

/// The failure checks of every row.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let mut out = Vec::new();
    for (row, route) in ctx.rows() {
        let label = format!("{} {}", row.method, row.name);
        let Some(route) = route else {
            continue;
        };
        let rules = &ctx.exp.profile.behaviour(route).failures;
        let n = row.num_requests();
        let server = ctx.ev.server.routes.get(route);
        let mut explained = 0;
        let mut markers: Vec<String> = Vec::new();
        for rule in rules {
            let Some(marker) = error_marker(&rule.kind) else {
                continue;
            };
            let k = seen(ctx, row, &marker);
            if !markers.contains(&marker) {
                explained += k;
                markers.push(marker.clone());
            }
            let kind = rule.kind.label();
            match rule.trigger {
                Trigger::Probability(p) => {
                    let (lo, hi) = binomial_acceptance(n, p, ctx.alpha);
                    out.push(Check::new(
                        format!("failures {label} {kind} rate"),
                        format!("{:.2}% of {n}", p * 100.0),
                        format!("{:.2}% ({k})", 100.0 * k as f64 / n.max(1) as f64),
                        format!(
                            "{lo}..{hi} failures (binomial, alpha={}); {}",
                            sci(ctx.alpha),
                            super::power::shift(p * n as f64, lo as f64, hi as f64, n)
                        ),
                        (lo..=hi).contains(&k),
                    ));
                }
                Trigger::Every(every) => {
                    let server_n = server.map_or(n, |s| s.requests);
                    let want = server_n / every.max(1);
                    out.push(Check::new(
                        format!("failures {label} {kind} rate"),
                        format!("1 in {every} of {server_n}: {want}"),
                        k.to_string(),
                        "exact (exact mode)",
                        k == want,
                    ));
                }
            }
            // Every rule with the same marker is counted together on the mock's side.
            let injected: u64 = rules
                .iter()
                .filter(|r| error_marker(&r.kind).as_deref() == Some(marker.as_str()))
                .map(|r| r.kind.label())
                .collect::<std::collections::BTreeSet<_>>()
                .iter()
                .map(|l| {
                    server
                        .and_then(|s| s.failures.get(*l))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            out.push(Check::new(
                format!("failures {label} {kind} seen as kind"),
                format!("{injected} injected by the mock"),
                format!("{k} seen by loadgen as \"{marker}\""),
                "exact",
                k == injected,
            ));
        }
        let other = row.num_failures().saturating_sub(explained);
        out.push(Check::new(
            format!("failures {label} unexplained"),
            "0",
            other.to_string(),
            if rules.is_empty() {
                "exact: the profile injects no failure here"
            } else {
                "exact: every failure is an injected kind"
            },
            other == 0,
        ));
    }
    out
}
