//! Class split and task mix, from the locustfile's classes and `@task` weights.
//!
//! - Class split: the users per class the tool logged when every user had started,
//!   against the weights and fixed counts (`harness guide`'s check: Locust's dispatcher
//!   keeps each class within one user of its share).
//! - Task mix: Locust reports rows, not tasks, and several classes may share a row. A
//!   class's tasks that each send one request to a row no other task sends to are
//!   counted exactly by those rows; given their total, their counts are multinomial
//!   with the tasks' weights renormalised (Locust picks every task independently), so
//!   a chi-square test of those rows is exact in law. A class with fewer than two such
//!   tasks, or one the importer could not read, is skipped and says why.

use std::collections::BTreeMap;

use loadgen::scenario::{Task, UserClass};

use super::Ctx;
use crate::check::Check;
use crate::checks::sci;
use crate::stat::{chi_square, chi_square_critical};

/// Statistical tests: one per class with two or more countable tasks.
pub(super) fn planned(ctx: &Ctx<'_>) -> usize {
    ctx.exp.scenario.as_ref().map_or(0, |s| {
        s.classes
            .iter()
            .filter(|c| countable(ctx, c).len() > 1)
            .count()
    })
}

/// The class split checks.
pub(super) fn split(ctx: &Ctx<'_>) -> Vec<Check> {
    let Some(scenario) = &ctx.exp.scenario else {
        let why = ctx
            .exp
            .skip_reason("")
            .unwrap_or("the locustfile was not read");
        return vec![Check::skip("class split", why)];
    };
    let Some(users) = &ctx.ev.reported.users else {
        return vec![Check::skip(
            "class split",
            "the tool never logged \"All users spawned\" (the run ended before every user started?)",
        )];
    };
    let started: BTreeMap<String, usize> = users
        .iter()
        .map(|(k, v)| (k.clone(), *v as usize))
        .collect();
    let total: usize = started.values().sum();
    let mut out = vec![Check::new(
        "class split users started",
        ctx.ev.spec.users.to_string(),
        total.to_string(),
        "exact: every user is started",
        total == ctx.ev.spec.users,
    )];
    out.extend(crate::checks::split::class_split(
        &scenario.classes,
        &started,
    ));
    out
}

/// The stats row of a task's single request, if the task sends exactly one.
fn single_row(task: &Task) -> Option<(String, String)> {
    let [r] = task.requests.as_slice() else {
        return None;
    };
    if r.repeat != 1 {
        return None;
    }
    let name = r
        .name
        .clone()
        .or_else(|| (!r.path_text.contains('{')).then(|| r.path_text.clone()))?;
    Some((r.method.as_str().to_owned(), name))
}

/// A class's tasks whose single row no other task of the run sends to.
fn countable<'a>(ctx: &Ctx<'_>, class: &'a UserClass) -> Vec<(&'a Task, (String, String))> {
    let Some(scenario) = &ctx.exp.scenario else {
        return Vec::new();
    };
    let senders = |row: &(String, String)| {
        scenario
            .classes
            .iter()
            .flat_map(|c| c.tasks.iter())
            .filter(|t| {
                t.requests.iter().any(|r| {
                    r.method.as_str() == row.0
                        && (r.name.as_deref() == Some(row.1.as_str())
                            || (r.name.is_none() && r.path_text == row.1))
                })
            })
            .count()
    };
    class
        .tasks
        .iter()
        .filter(|t| t.weight > 0)
        .filter_map(|t| single_row(t).map(|row| (t, row)))
        .filter(|(_, row)| senders(row) == 1)
        .collect()
}

/// The task-mix checks, one per class.
pub(super) fn task_mix(ctx: &Ctx<'_>) -> Vec<Check> {
    let Some(scenario) = &ctx.exp.scenario else {
        let why = ctx
            .exp
            .skip_reason("")
            .unwrap_or("the locustfile was not read");
        return vec![Check::skip("task mix", why)];
    };
    let mut out = Vec::new();
    for class in &scenario.classes {
        let name = format!("task mix {}", class.name);
        if let Some(why) = ctx.exp.skip_reason(&class.name) {
            out.push(Check::skip(name, why));
            continue;
        }
        let tasks = countable(ctx, class);
        if tasks.len() < 2 {
            out.push(Check::skip(
                name,
                "fewer than two of its tasks send one request to a row of their own: the rows cannot say which task ran",
            ));
            continue;
        }
        let observed: Vec<u64> = tasks
            .iter()
            .map(|(_, (m, n))| {
                ctx.ev
                    .reported
                    .stats
                    .rows
                    .iter()
                    .filter(|r| &r.method == m && &r.name == n)
                    .map(|r| r.requests)
                    .sum()
            })
            .collect();
        let n: u64 = observed.iter().sum();
        if n == 0 {
            out.push(Check::skip(name, "none of its tasks ran"));
            continue;
        }
        let weights: Vec<f64> = tasks.iter().map(|(t, _)| f64::from(t.weight)).collect();
        let total_w: f64 = weights.iter().sum();
        let df = (tasks.len() - 1) as u64;
        let stat = chi_square(&observed, &weights);
        let critical = chi_square_critical(df, ctx.alpha);
        let share = |x: f64, of: f64| format!("{:.1}%", 100.0 * x / of);
        let expected = tasks
            .iter()
            .map(|(t, _)| format!("{} {}", t.name, share(f64::from(t.weight), total_w)))
            .collect::<Vec<_>>()
            .join(", ");
        let measured = tasks
            .iter()
            .zip(&observed)
            .map(|((t, _), o)| format!("{} {}", t.name, share(*o as f64, n as f64)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(Check::new(
            name,
            expected,
            format!("{measured} (n={n}, chi2={stat:.2})"),
            format!("chi2 <= {critical:.2} (df={df}, alpha={})", sci(ctx.alpha)),
            stat <= critical,
        ));
    }
    out
}
