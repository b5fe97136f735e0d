//! A user class's task tree (methods, nested TaskSets, SequentialTaskSets) to the
//! scenario's flat weighted tasks, keeping the mix of requests Locust produces.
//!
//! Tags filter first, as Locust's `filter_tasks_by_tags` does: a TaskSet's tags apply to
//! everything in it, and a TaskSet with no task left drops out. Then, per visit of a
//! TaskSet that leaves with `self.interrupt()` (interrupting tasks of total weight `i`),
//! a task of weight `v` runs `v / i` times on average, so at the user's level it weighs
//! the TaskSet's weight times `v / i`. A SequentialTaskSet runs its tasks in order up
//! to the one that interrupts: one task of the scenario with all their requests. A
//! TaskSet that never interrupts keeps a user that enters it for good: when it is not
//! the class's only task, the class's steady state is that TaskSet alone (warned).

use rustpython_parser::ast::{self, Ranged};

use super::classes::{Classes, Entry, Kind, Target};
use super::model::{Request, Tags, Task};
use super::task::Reader;
use super::warning::Warnings;
use super::ImportOptions;

/// An exact ratio of expected runs per visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    num: u128,
    den: u128,
}

impl Ratio {
    fn new(num: u128, den: u128) -> Self {
        let g = gcd(num, den).max(1);
        Self {
            num: num / g,
            den: den / g,
        }
    }

    fn times(self, other: Self) -> Option<Self> {
        Some(Self::new(
            self.num.checked_mul(other.num)?,
            self.den.checked_mul(other.den)?,
        ))
    }
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A flat task with its expected runs per visit of what holds it.
#[derive(Debug, Clone)]
struct Counted {
    task: Task,
    runs: Ratio,
}

/// What a visit of a task holder runs.
#[derive(Debug, Default)]
struct Visit {
    tasks: Vec<Counted>,
    /// A TaskSet that never interrupts: a user that enters it stays.
    absorbing: bool,
}

/// The class's flat tasks, weights as integers.
pub(crate) fn tasks(
    classes: &Classes<'_, '_>,
    class: &ast::StmtClassDef,
    options: &ImportOptions,
    waits: bool,
    w: &mut Warnings<'_>,
) -> Vec<Task> {
    let mut f = Flattener {
        classes,
        options,
        waits,
        w,
    };
    let entries = f.filtered(class, &Tags::new());
    let visit = f.random(class, entries, "", false);
    integer_weights(visit.tasks, f.w, class)
}

struct Flattener<'c, 'm, 'a, 'o, 'w, 't> {
    classes: &'c Classes<'m, 'a>,
    options: &'o ImportOptions,
    /// Whether the class waits between tasks (a SequentialTaskSet then runs slower in
    /// Locust than as one task).
    waits: bool,
    w: &'w mut Warnings<'t>,
}

impl<'a> Flattener<'_, '_, 'a, '_, '_, '_> {
    /// The holder's entries that pass the tag filter (TaskSets with something left).
    fn filtered(&mut self, holder: &'a ast::StmtClassDef, inherited: &Tags) -> Vec<Entry<'a>> {
        let entries = self.classes.entries(holder, self.w);
        let mut out = Vec::new();
        for mut e in entries {
            e.tags.extend(inherited.iter().cloned());
            let passes = match e.target {
                Target::Set(set) => !self.filtered(set, &e.tags).is_empty(),
                Target::Method(_) => self.tag_passes(&e.tags),
            };
            if passes && e.weight > 0 {
                out.push(e);
            }
        }
        out
    }

    fn tag_passes(&self, tags: &Tags) -> bool {
        let (want, exclude) = (&self.options.tags, &self.options.exclude_tags);
        (want.is_empty() || want.iter().any(|t| tags.contains(t)))
            && !exclude.iter().any(|t| tags.contains(t))
    }

    /// A user or TaskSet that picks its tasks by weight.
    fn random(
        &mut self,
        holder: &'a ast::StmtClassDef,
        entries: Vec<Entry<'a>>,
        prefix: &str,
        is_set: bool,
    ) -> Visit {
        let mut interrupt_weight = 0u128;
        let mut children: Vec<(u128, Visit, &'a ast::StmtClassDef, Entry<'a>)> = Vec::new();
        let mut own: Vec<(u128, Task)> = Vec::new();
        for e in &entries {
            let weight = u128::from(e.weight);
            match e.target {
                Target::Method(def) => {
                    let name = format!("{prefix}{}", def.name);
                    let (requests, interrupts) = self.method(holder, def, &name, is_set);
                    if interrupts {
                        interrupt_weight += weight;
                    }
                    if requests.is_empty() {
                        if !interrupts {
                            self.w.in_task(Some(&name));
                            self.w.warn(e.at, format!("left out task {name}: it sends no request (its runs and waits are missing from the scenario)"));
                            self.w.in_task(None);
                        }
                        continue;
                    }
                    own.push((weight, self.task(name, e.at, requests, None)));
                }
                Target::Set(set) => {
                    let inner = self.filtered(set, &e.tags);
                    let child_prefix = format!("{prefix}{}.", set.name);
                    let visit = match self.classes.kind(set) {
                        Kind::Sequential => self.sequential(set, inner, prefix),
                        Kind::TaskSet => {
                            self.warn_set_settings(set);
                            self.random(set, inner, &child_prefix, true)
                        }
                        _ => {
                            self.w.warn(
                                e.at,
                                format!("skipped task {}: a class that is not a TaskSet", set.name),
                            );
                            continue;
                        }
                    };
                    children.push((weight, visit, set, e.clone()));
                }
            }
        }
        // Per visit: a task of weight v runs v / i times when the holder interrupts,
        // else (the user itself, or a TaskSet that never leaves) v / total per pick.
        let per = if is_set && interrupt_weight > 0 {
            interrupt_weight
        } else {
            1
        };
        let absorbing_children: Vec<usize> = (0..children.len())
            .filter(|&i| children[i].1.absorbing)
            .collect();
        let mut visit = Visit {
            tasks: Vec::new(),
            absorbing: is_set && interrupt_weight == 0,
        };
        if !absorbing_children.is_empty() {
            let alone = entries.len() == 1;
            if !alone {
                for &i in &absorbing_children {
                    let set = children[i].2;
                    self.w.warn(children[i].3.at, format!("TaskSet {} never calls self.interrupt(): a user that picks it stays in it, so the class's other tasks run only until then and are left out", set.name));
                }
            }
            let absorbing_total: u128 = absorbing_children.iter().map(|&i| children[i].0).sum();
            for &i in &absorbing_children {
                let (weight, child, ..) = &children[i];
                let sum = child
                    .tasks
                    .iter()
                    .fold(Ratio::new(0, 1), |acc, c| add(acc, c.runs));
                for c in &child.tasks {
                    // Normalised within the child, then by the child's share.
                    let share = Ratio::new(*weight, absorbing_total.max(1));
                    let runs = c
                        .runs
                        .times(Ratio::new(sum.den, sum.num.max(1)))
                        .and_then(|r| r.times(share));
                    self.push(&mut visit, c.task.clone(), runs);
                }
            }
            visit.absorbing = true;
            return visit;
        }
        for (weight, task) in own {
            self.push(&mut visit, task, Some(Ratio::new(weight, per)));
        }
        for (weight, child, ..) in children {
            for c in child.tasks {
                let runs = c.runs.times(Ratio::new(weight, per));
                self.push(&mut visit, c.task, runs);
            }
        }
        visit
    }

    /// A SequentialTaskSet: its tasks in order (each as often as its weight) up to the
    /// first that interrupts, as one task.
    fn sequential(
        &mut self,
        set: &'a ast::StmtClassDef,
        entries: Vec<Entry<'a>>,
        prefix: &str,
    ) -> Visit {
        self.warn_set_settings(set);
        let name = format!("{prefix}{}", set.name);
        let mut requests = Vec::new();
        let mut interrupts = false;
        'steps: for e in &entries {
            for _ in 0..e.weight.min(1_000) {
                match e.target {
                    Target::Method(def) => {
                        let (r, stop) = self.method(set, def, &name, true);
                        requests.extend(r);
                        if stop {
                            interrupts = true;
                            break 'steps;
                        }
                    }
                    Target::Set(inner) => {
                        self.w.in_task(Some(&name));
                        self.w.warn(
                            e.at,
                            format!(
                                "skipped TaskSet {} nested in a SequentialTaskSet",
                                inner.name
                            ),
                        );
                        self.w.in_task(None);
                        break;
                    }
                }
            }
        }
        if self.waits && entries.len() > 1 {
            self.w.in_task(Some(&name));
            self.w.warn(set.start(), format!("the steps of SequentialTaskSet {} run as one task: Locust waits between steps, loadgen once after the sequence (same requests in the same order, less waiting)", set.name));
            self.w.in_task(None);
        }
        let mut visit = Visit {
            tasks: Vec::new(),
            absorbing: !interrupts,
        };
        if !requests.is_empty() {
            let task = self.task(
                name,
                set.start(),
                requests,
                Some(format!(
                    "SequentialTaskSet {}: its tasks in order",
                    set.name
                )),
            );
            self.push(&mut visit, task, Some(Ratio::new(1, 1)));
        }
        visit
    }

    /// A method's requests and whether it interrupts its TaskSet.
    fn method(
        &mut self,
        holder: &'a ast::StmtClassDef,
        def: &'a ast::StmtFunctionDef,
        task: &str,
        in_set: bool,
    ) -> (Vec<Request>, bool) {
        self.w.in_task(Some(task));
        let classes = self.classes;
        let methods = |name: &str| classes.method(holder, name);
        let mut reader = Reader::new(classes.module.scope.clone(), &methods, self.w, def, false);
        let body = reader.function(def);
        if body.interrupts && !in_set {
            self.w
                .warn(def.start(), "self.interrupt() outside a TaskSet: ignored");
        }
        if body.interrupts && in_set && body.interrupt_skips_wait && self.waits {
            self.w.warn(
                def.start(),
                "after self.interrupt() Locust starts the next task at once (reschedule=True); loadgen waits as after any task (same mix, a little less throughput; write self.interrupt(reschedule=False) to match)",
            );
        }
        self.w.in_task(None);
        (body.requests, body.interrupts && in_set)
    }

    fn task(
        &self,
        name: String,
        at: rustpython_parser::text_size::TextSize,
        requests: Vec<Request>,
        note: Option<String>,
    ) -> Task {
        Task {
            name,
            line: self.w.line(at),
            weight: 0,
            note,
            requests,
        }
    }

    fn push(&mut self, visit: &mut Visit, task: Task, runs: Option<Ratio>) {
        match runs {
            Some(runs) => visit.tasks.push(Counted { task, runs }),
            None => self.w.warn(
                rustpython_parser::text_size::TextSize::from(0),
                format!("left out task {}: its weight overflows", task.name),
            ),
        }
    }

    /// TaskSet settings the scenario cannot follow.
    fn warn_set_settings(&mut self, set: &'a ast::StmtClassDef) {
        for name in ["wait_time", "on_start", "on_stop"] {
            let own = set.body.iter().find(|s| match s {
                ast::Stmt::Assign(a) => a
                    .targets
                    .iter()
                    .any(|t| matches!(t, ast::Expr::Name(n) if n.id.as_str() == name)),
                ast::Stmt::FunctionDef(f) => f.name.as_str() == name,
                _ => false,
            });
            if let Some(s) = own {
                self.w.warn(s.start(), format!("skipped {name} of TaskSet {} (the scenario has one wait and one on_start per user class)", set.name));
            }
        }
    }
}

fn add(a: Ratio, b: Ratio) -> Ratio {
    let den = a.den.saturating_mul(b.den);
    Ratio::new(
        a.num
            .saturating_mul(b.den)
            .saturating_add(b.num.saturating_mul(a.den)),
        den,
    )
}

/// Expected runs as integer weights: every ratio times the common denominator; tasks of
/// the same name (a method listed twice) add up.
fn integer_weights(
    counted: Vec<Counted>,
    w: &mut Warnings<'_>,
    class: &ast::StmtClassDef,
) -> Vec<Task> {
    let lcm = counted.iter().try_fold(1u128, |acc, c| {
        acc.checked_mul(c.runs.den / gcd(acc, c.runs.den).max(1))
    });
    let Some(lcm) = lcm else {
        w.warn(
            class.start(),
            "the task weights' common denominator overflows: tasks left out",
        );
        return Vec::new();
    };
    let mut out: Vec<Task> = Vec::new();
    for c in counted {
        let weight = c.runs.num * (lcm / c.runs.den);
        let Ok(weight) = u64::try_from(weight) else {
            continue;
        };
        if weight == 0 {
            continue;
        }
        match out.iter_mut().find(|t| t.name == c.task.name) {
            Some(t) => t.weight = t.weight.saturating_add(weight),
            None => out.push(Task { weight, ..c.task }),
        }
    }
    out
}
