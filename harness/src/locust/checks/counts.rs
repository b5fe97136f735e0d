//! Counts and failures: per mock route, the tool's requests and failures against the
//! mock's own counts, exactly (the tool is given a stop timeout as long as a request
//! may take, so no task is cut when the run time is up: every request the mock
//! answered was one the tool finished and counted); per row, the failure ratio against
//! the profile's probability (binomial region) and each failure kind the tool saw
//! against what the mock injected.

use mock_api::fault::Trigger;

use super::Ctx;
use crate::check::Check;
use crate::checks::failures::{error_marker, probability_rules};
use crate::checks::sci;
use crate::stat::binomial_acceptance;

/// Statistical tests: one per probability rule of a row's route.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.rows()
        .iter()
        .filter_map(|(_, route)| *route)
        .map(|route| probability_rules(&ctx.exp.profile, route))
        .sum()
}

/// One requests check and one failures check per route either side saw.
pub(super) fn counts(ctx: &Ctx<'_>) -> Vec<Check> {
    let source = &ctx.ev.reported.stats_source;
    let mut out = Vec::new();
    let mut routes: Vec<&'static str> = ctx.rows().iter().filter_map(|(_, r)| *r).collect();
    for (route, snap) in &ctx.ev.server.routes {
        if snap.requests > 0 {
            if let Some(r) = mock_api::profile::ROUTES
                .iter()
                .find(|r| **r == route.as_str())
            {
                routes.push(r);
            }
        }
    }
    routes.sort_unstable();
    routes.dedup();
    for (row, route) in ctx.rows() {
        if route.is_none() {
            out.push(Check::new(
                format!("counts {} {}", row.method, row.name),
                "a row of a mock route",
                format!("{} requests", row.requests),
                "every row is a route the mock serves",
                false,
            ));
        }
    }
    for route in routes {
        let rows: Vec<_> = ctx
            .rows()
            .into_iter()
            .filter(|(_, r)| *r == Some(route))
            .collect();
        let tool_n: u64 = rows.iter().map(|(r, _)| r.requests).sum();
        let tool_f: u64 = rows.iter().map(|(r, _)| r.failures).sum();
        let snap = ctx.ev.server.routes.get(route);
        let mock_n = snap.map_or(0, |s| s.requests);
        let mock_f: u64 = snap.map_or(0, |s| s.failures.values().sum());
        let tolerance = format!("exact (tool figures from the {source})");
        out.push(Check::new(
            format!("counts {route} requests"),
            format!("{mock_n} (mock)"),
            format!("{tool_n} (tool)"),
            tolerance.clone(),
            tool_n == mock_n,
        ));
        out.push(Check::new(
            format!("counts {route} failures"),
            format!("{mock_f} (mock)"),
            format!("{tool_f} (tool)"),
            tolerance,
            tool_f == mock_f,
        ));
    }
    out
}

/// Per row: the failure ratio of each probability rule and each kind as injected.
pub(super) fn failures(ctx: &Ctx<'_>) -> Vec<Check> {
    let lines = &ctx.ev.reported.failures;
    let mut out = Vec::new();
    for (row, route) in ctx.rows() {
        let Some(route) = route else { continue };
        let label = format!("{} {}", row.method, row.name);
        let rules = &ctx.exp.profile.behaviour(route).failures;
        let server = ctx.ev.server.routes.get(route);
        let seen = |marker: &str| -> u64 {
            lines
                .iter()
                .filter(|l| {
                    l.method == row.method && l.name == row.name && l.error.contains(marker)
                })
                .map(|l| l.occurrences)
                .sum()
        };
        let mut markers: Vec<String> = Vec::new();
        for rule in rules {
            let Some(marker) = error_marker(&rule.kind) else {
                continue;
            };
            let kind = rule.kind.label();
            if let Trigger::Probability(p) = rule.trigger {
                let n = row.requests;
                let k = seen(&marker);
                let (lo, hi) = binomial_acceptance(n, p, ctx.alpha);
                out.push(Check::new(
                    format!("failures {label} {kind} ratio"),
                    format!("{:.2}% of {n}", p * 100.0),
                    format!("{:.2}% ({k})", 100.0 * k as f64 / n.max(1) as f64),
                    format!("{lo}..{hi} failures (binomial, alpha={})", sci(ctx.alpha)),
                    (lo..=hi).contains(&k),
                ));
            }
            if markers.contains(&marker) {
                continue;
            }
            markers.push(marker.clone());
            let injected: u64 = server
                .map(|s| {
                    s.failures
                        .iter()
                        .filter(|(l, _)| {
                            rules.iter().any(|r| {
                                r.kind.label() == l.as_str()
                                    && error_marker(&r.kind).as_deref() == Some(marker.as_str())
                            })
                        })
                        .map(|(_, n)| *n)
                        .sum()
                })
                .unwrap_or(0);
            let k = seen(&marker);
            out.push(Check::new(
                format!("failures {label} {kind} kind"),
                format!("{injected} injected by the mock"),
                format!("{k} reported as \"{marker}...\""),
                format!("exact (from the {})", ctx.ev.reported.failures_source),
                k == injected,
            ));
        }
        let explained: u64 = markers.iter().map(|m| seen(m)).sum();
        let other = row.failures.saturating_sub(explained);
        out.push(Check::new(
            format!("failures {label} unexplained"),
            "0",
            other.to_string(),
            "exact: every failure the tool reports is one the mock injected",
            other == 0,
        ));
    }
    out
}
