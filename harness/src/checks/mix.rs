//! Task mix: per class, a chi-square test of the tasks run against the task weights,
//! and the request accounting that turns tasks into requests (a bulk trade task is five
//! requests), exact because every task that starts also finishes (users get a stop
//! timeout as long as the request timeout).
//!
//! Testing task counts rather than request counts keeps the chi-square honest: a
//! five-request task moves five requests at once, so request counts are over-dispersed
//! and would not follow the chi-square law; the accounting check then proves that the
//! request counts are exactly the task counts times each task's requests.

use std::collections::BTreeMap;

use super::{sci, Ctx};
use crate::check::Check;
use crate::stat::{chi_square, chi_square_critical};

/// Statistical tests this family makes: one per class with two or more tasks.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.exp
        .scenario
        .classes
        .iter()
        .filter(|c| c.tasks.len() > 1)
        .count()
}

/// The chi-square checks and the request accounting.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let tasks_run = &ctx.ev.outcome.tasks_run;
    let mut out = Vec::new();
    for class in &ctx.exp.scenario.classes {
        if class.tasks.len() < 2 {
            continue;
        }
        let name = format!("task mix {}", class.name);
        let observed: Vec<u64> = class
            .tasks
            .iter()
            .map(|t| {
                tasks_run
                    .get(&(class.name.clone(), t.name.clone()))
                    .copied()
                    .unwrap_or(0)
            })
            .collect();
        let n: u64 = observed.iter().sum();
        if n == 0 {
            out.push(Check::skip(name, "the class ran no task"));
            continue;
        }
        let weights: Vec<f64> = class.tasks.iter().map(|t| f64::from(t.weight)).collect();
        let df = weights
            .iter()
            .filter(|w| **w > 0.0)
            .count()
            .saturating_sub(1) as u64;
        let stat = chi_square(&observed, &weights);
        let critical = chi_square_critical(df, ctx.alpha);
        let total_w: f64 = weights.iter().sum();
        let expected = class
            .tasks
            .iter()
            .map(|t| format!("{} {:.1}%", t.name, 100.0 * f64::from(t.weight) / total_w))
            .collect::<Vec<_>>()
            .join(", ");
        let measured = class
            .tasks
            .iter()
            .zip(&observed)
            .map(|(t, o)| format!("{} {:.1}%", t.name, 100.0 * *o as f64 / n as f64))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Check::new(
            name,
            expected,
            format!("{measured} (n={n} tasks, chi2={stat:.2})"),
            format!(
                "chi2 <= {critical:.2} (df={df}, alpha={}); {}",
                sci(ctx.alpha),
                super::power::share_shift(&weights, critical, df, n).map_or_else(
                    || "no share to move".to_owned(),
                    |d| format!(
                        "detects {:.1} points of share moved between the two heaviest tasks at n={}",
                        d * 100.0,
                        super::power::count(n)
                    )
                )
            ),
            stat <= critical,
        ));
    }
    out.extend(accounting(ctx));
    out
}

/// Requests per loadgen row == sum over tasks of (tasks run x that task's requests of
/// the row, repeats included).
fn accounting(ctx: &Ctx<'_>) -> Vec<Check> {
    let tasks_run = &ctx.ev.outcome.tasks_run;
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut unnamed = false;
    for class in &ctx.exp.scenario.classes {
        for task in &class.tasks {
            let runs = tasks_run
                .get(&(class.name.clone(), task.name.clone()))
                .copied()
                .unwrap_or(0);
            for r in &task.requests {
                let name = match &r.name {
                    Some(n) => n.clone(),
                    None if !r.path_text.contains('{') => r.path_text.clone(),
                    None => {
                        unnamed = true;
                        continue;
                    }
                };
                *expected
                    .entry((r.method.as_str().to_owned(), name))
                    .or_default() += runs * u64::from(r.repeat);
            }
        }
    }
    if unnamed {
        return vec![Check::skip(
            "task mix requests per task",
            "a request is named by its rendered path; its row cannot be predicted",
        )];
    }
    let snapshot = &ctx.ev.outcome.snapshot;
    let mut bad = Vec::new();
    let mut total = 0;
    for ((method, name), want) in &expected {
        let got = snapshot.row(method, name).map_or(0, |r| r.num_requests());
        total += want;
        if got != *want {
            bad.push(format!("{method} {name}: {got} != {want}"));
        }
    }
    for r in &snapshot.rows {
        if !expected.contains_key(&(r.method.clone(), r.name.clone())) {
            bad.push(format!(
                "{} {}: {} unexpected",
                r.method,
                r.name,
                r.num_requests()
            ));
        }
    }
    vec![Check::new(
        "task mix requests per task",
        format!("{total} requests = tasks x requests per task (bulk trade = 5)"),
        if bad.is_empty() {
            format!(
                "{} requests, every row equal",
                snapshot.aggregated.num_requests()
            )
        } else {
            bad.join("; ")
        },
        "exact",
        bad.is_empty(),
    )]
}
