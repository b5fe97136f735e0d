//! The locustfile's classes as Python resolves them: which are users (`HttpUser`,
//! `FastHttpUser`, directly or through a base class of the file), which are TaskSets,
//! what each inherits (attributes and methods from its bases, tasks as Locust's
//! metaclass collects them), and the user classes' attributes read into the model.

use std::collections::HashMap;

use rustpython_parser::ast::{self, Expr, Ranged, Stmt};
use rustpython_parser::text_size::TextSize;

use super::flatten;
use super::model::{Class, Tags, Value, Wait};
use super::module::{first_line, Module};
use super::task::Reader;
use super::warning::Warnings;
use super::ImportOptions;

/// Class attributes the import reads; others are warned about.
const KNOWN_ATTRIBUTES: &[&str] = &[
    "tasks",
    "wait_time",
    "weight",
    "fixed_count",
    "host",
    "abstract",
];

/// Most base classes followed up an inheritance chain (a cycle is a broken file).
const MAX_DEPTH: usize = 32;

/// What a class is to Locust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `HttpUser` or `FastHttpUser`: a user with `self.client`.
    HttpUser,
    /// `User` without an HTTP client.
    PlainUser,
    /// `TaskSet`: tasks picked by weight until `self.interrupt()`.
    TaskSet,
    /// `SequentialTaskSet`: tasks in order.
    Sequential,
    /// Anything else.
    Other,
}

/// A task of a class before flattening: a method or a TaskSet, with weight and tags.
#[derive(Debug, Clone)]
pub(crate) struct Entry<'a> {
    pub(crate) target: Target<'a>,
    pub(crate) weight: u64,
    pub(crate) tags: Tags,
    /// Where the task was declared.
    pub(crate) at: TextSize,
}

/// What a task runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Method(&'a ast::StmtFunctionDef),
    Set(&'a ast::StmtClassDef),
}

/// The file's classes, by name, with the module's scope.
pub(crate) struct Classes<'m, 'a> {
    pub(crate) module: &'m Module<'a>,
    by_name: HashMap<&'a str, &'a ast::StmtClassDef>,
    functions: HashMap<&'a str, &'a ast::StmtFunctionDef>,
}

impl<'m, 'a> Classes<'m, 'a> {
    pub(crate) fn new(module: &'m Module<'a>, suite: &'a [Stmt]) -> Self {
        let by_name = module
            .classes
            .iter()
            .map(|c| (c.name.as_str(), *c))
            .collect();
        let functions = suite
            .iter()
            .filter_map(|s| match s {
                Stmt::FunctionDef(f) => Some((f.name.as_str(), f)),
                _ => None,
            })
            .collect();
        Self {
            module,
            by_name,
            functions,
        }
    }

    /// A class by name: nested in `inside` (or its bases) first, then at module level.
    pub(crate) fn class(
        &self,
        inside: Option<&'a ast::StmtClassDef>,
        name: &str,
    ) -> Option<&'a ast::StmtClassDef> {
        if let Some(c) = inside {
            for holder in self.lineage(c) {
                for s in &holder.body {
                    if let Stmt::ClassDef(n) = s {
                        if n.name.as_str() == name {
                            return Some(n);
                        }
                    }
                }
            }
        }
        self.by_name.get(name).copied()
    }

    /// The class and its bases of this file, nearest first (Python's lookup order for
    /// single inheritance, and left to right for several bases).
    pub(crate) fn lineage(&self, c: &'a ast::StmtClassDef) -> Vec<&'a ast::StmtClassDef> {
        let mut out = vec![c];
        let mut i = 0;
        while i < out.len() && out.len() < MAX_DEPTH {
            let current = out[i];
            for base in &current.bases {
                if let Expr::Name(n) = base {
                    if let Some(b) = self.by_name.get(n.id.as_str()) {
                        if !out.iter().any(|o| std::ptr::eq(*o, *b)) {
                            out.push(b);
                        }
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// What the class is to Locust.
    pub(crate) fn kind(&self, c: &'a ast::StmtClassDef) -> Kind {
        self.kind_at(c, 0)
    }

    fn kind_at(&self, c: &'a ast::StmtClassDef, depth: usize) -> Kind {
        for base in &c.bases {
            let q = self.module.scope.qualified(base).unwrap_or_default();
            let last = q.rsplit('.').next().unwrap_or_default();
            if q.starts_with("locust") {
                match last {
                    "HttpUser" | "FastHttpUser" => return Kind::HttpUser,
                    "User" => return Kind::PlainUser,
                    "TaskSet" => return Kind::TaskSet,
                    "SequentialTaskSet" => return Kind::Sequential,
                    _ => {}
                }
            }
            if depth < MAX_DEPTH {
                if let Some(b) = self.by_name.get(q.as_str()) {
                    let k = self.kind_at(b, depth + 1);
                    if k != Kind::Other {
                        return k;
                    }
                }
            }
        }
        Kind::Other
    }

    /// A class attribute's value expression, from the class or the nearest base.
    pub(crate) fn attr(&self, c: &'a ast::StmtClassDef, name: &str) -> Option<&'a Expr> {
        self.lineage(c).into_iter().find_map(|k| own_attr(k, name))
    }

    /// A method, from the class or the nearest base.
    pub(crate) fn method(
        &self,
        c: &'a ast::StmtClassDef,
        name: &str,
    ) -> Option<&'a ast::StmtFunctionDef> {
        self.lineage(c).into_iter().find_map(|k| {
            k.body.iter().rev().find_map(|s| match s {
                Stmt::FunctionDef(f) if f.name.as_str() == name => Some(f),
                _ => None,
            })
        })
    }

    /// The class's tasks as Locust's metaclass collects them: its own `tasks` attribute
    /// when it has one, else its bases' tasks followed by its own `@task` members.
    pub(crate) fn entries(&self, c: &'a ast::StmtClassDef, w: &mut Warnings<'_>) -> Vec<Entry<'a>> {
        self.entries_at(c, w, 0)
    }

    fn entries_at(
        &self,
        c: &'a ast::StmtClassDef,
        w: &mut Warnings<'_>,
        depth: usize,
    ) -> Vec<Entry<'a>> {
        if let Some(tasks) = own_attr(c, "tasks") {
            return self.tasks_attribute(c, tasks, w);
        }
        let mut out = Vec::new();
        if depth < MAX_DEPTH {
            for base in &c.bases {
                if let Expr::Name(n) = base {
                    if let Some(b) = self.by_name.get(n.id.as_str()) {
                        out.extend(self.entries_at(b, w, depth + 1));
                    }
                }
            }
        }
        for s in &c.body {
            let (decorators, target) = match s {
                Stmt::FunctionDef(f) => (&f.decorator_list, Target::Method(f)),
                Stmt::ClassDef(k) => (&k.decorator_list, Target::Set(k)),
                _ => continue,
            };
            if let (Some(weight), tags) = self.decorations(decorators, w) {
                out.push(Entry {
                    target,
                    weight,
                    tags,
                    at: s.start(),
                });
            }
        }
        out
    }

    /// `@task`, `@task(N)` and `@tag(...)`: the weight (`None` without `@task`) and tags.
    fn decorations(&self, decorators: &[Expr], w: &mut Warnings<'_>) -> (Option<u64>, Tags) {
        let mut weight = None;
        let mut tags = Tags::new();
        for d in decorators {
            let (callee, call) = match d {
                Expr::Call(c) => (&*c.func, Some(c)),
                other => (other, None),
            };
            let q = self.module.scope.qualified(callee).unwrap_or_default();
            match q.as_str() {
                "locust.task" => {
                    let arg =
                        call.and_then(|c| c.args.first().or(c.keywords.first().map(|k| &k.value)));
                    weight = Some(match arg {
                        None => 1,
                        Some(a) => match self
                            .module
                            .scope
                            .int(a)
                            .ok()
                            .and_then(|n| u64::try_from(n).ok())
                        {
                            Some(n) => n,
                            None => {
                                w.warn(a.start(), "a @task weight that is not a non-negative integer constant: read as 1");
                                1
                            }
                        },
                    });
                }
                "locust.tag" => {
                    for a in call.map(|c| c.args.as_slice()).unwrap_or_default() {
                        match self.module.scope.value(a) {
                            Ok(Value::Str(t)) => {
                                tags.insert(t);
                            }
                            _ => w.warn(a.start(), "skipped a @tag that is not a string constant"),
                        }
                    }
                }
                _ => w.warn(d.start(), "skipped a decorator the import does not know"),
            }
        }
        (weight, tags)
    }

    /// `tasks = [a, B]` or `tasks = {a: 3, B: 1}`.
    fn tasks_attribute(
        &self,
        c: &'a ast::StmtClassDef,
        e: &'a Expr,
        w: &mut Warnings<'_>,
    ) -> Vec<Entry<'a>> {
        let items: Vec<(&'a Expr, u64)> = match e {
            Expr::List(l) => l.elts.iter().map(|x| (x, 1)).collect(),
            Expr::Tuple(t) => t.elts.iter().map(|x| (x, 1)).collect(),
            Expr::Dict(d) => d
                .keys
                .iter()
                .zip(&d.values)
                .filter_map(|(k, v)| {
                    let k = k.as_ref()?;
                    match self.module.scope.int(v).ok().and_then(|n| u64::try_from(n).ok()) {
                        Some(n) => Some((k, n)),
                        None => {
                            w.warn(v.start(), "skipped a task whose weight is not a non-negative integer constant");
                            None
                        }
                    }
                })
                .collect(),
            _ => {
                w.warn(e.start(), "skipped `tasks`: expected a list or a dict of tasks");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (item, weight) in items {
            let target = match item {
                Expr::Name(n) => self
                    .class(Some(c), n.id.as_str())
                    .map(Target::Set)
                    .or_else(|| self.method(c, n.id.as_str()).map(Target::Method))
                    .or_else(|| self.functions.get(n.id.as_str()).map(|f| Target::Method(f))),
                _ => None,
            };
            match target {
                Some(target) => {
                    let decorators = match target {
                        Target::Method(f) => &f.decorator_list,
                        Target::Set(k) => &k.decorator_list,
                    };
                    let tags = self.decorations(decorators, w).1;
                    out.push(Entry {
                        target,
                        weight,
                        tags,
                        at: item.start(),
                    });
                }
                None => w.warn(
                    item.start(),
                    "skipped a task that is not a function or class of this file",
                ),
            }
        }
        out
    }
}

/// Whether the class declares tasks (`@task` members or a `tasks` attribute).
fn has_tasks(c: &ast::StmtClassDef) -> bool {
    own_attr(c, "tasks").is_some()
        || c.body.iter().any(|s| match s {
            Stmt::FunctionDef(f) => !f.decorator_list.is_empty(),
            _ => false,
        })
}

/// The last `name = ...` in the class body itself.
fn own_attr<'a>(c: &'a ast::StmtClassDef, name: &str) -> Option<&'a Expr> {
    c.body.iter().rev().find_map(|s| match s {
        Stmt::Assign(a)
            if a.targets
                .iter()
                .any(|t| matches!(t, Expr::Name(n) if n.id.as_str() == name)) =>
        {
            Some(&*a.value)
        }
        Stmt::AnnAssign(a) if matches!(&*a.target, Expr::Name(n) if n.id.as_str() == name) => {
            a.value.as_deref()
        }
        _ => None,
    })
}

/// Reads every user class of the file that Locust would run.
pub(crate) fn read(
    classes: &Classes<'_, '_>,
    options: &ImportOptions,
    w: &mut Warnings<'_>,
) -> Vec<Class> {
    let mut out = Vec::new();
    for c in &classes.module.classes {
        let is_abstract = own_attr(c, "abstract")
            .is_some_and(|e| matches!(classes.module.scope.value(e), Ok(Value::Bool(true))));
        if is_abstract {
            continue;
        }
        match classes.kind(c) {
            Kind::HttpUser => {}
            Kind::PlainUser => {
                w.in_class(Some(c.name.as_str()));
                w.warn(c.start(), format!("skipped class {}: a plain User has no HTTP client (expected HttpUser or FastHttpUser)", c.name));
                continue;
            }
            Kind::Other if has_tasks(c) && !c.bases.is_empty() => {
                // Perhaps a user class whose base comes from another module.
                w.in_class(Some(c.name.as_str()));
                w.warn(c.start(), format!("skipped class {}: it has tasks, but none of its bases is a Locust user class or a class of this file (the import reads one file)", c.name));
                continue;
            }
            _ => continue,
        }
        w.in_class(Some(c.name.as_str()));
        if let Some(class) = read_class(classes, c, options, w) {
            out.push(class);
        }
    }
    w.in_class(None);
    out
}

fn read_class(
    classes: &Classes<'_, '_>,
    c: &ast::StmtClassDef,
    options: &ImportOptions,
    w: &mut Warnings<'_>,
) -> Option<Class> {
    let scope = &classes.module.scope;
    for holder in classes.lineage(c) {
        for s in &holder.body {
            if let Stmt::Assign(a) = s {
                for t in &a.targets {
                    if let Expr::Name(n) = t {
                        if !KNOWN_ATTRIBUTES.contains(&n.id.as_str()) {
                            w.warn(t.start(), format!("ignored the class attribute {} (not a setting the scenario has)", n.id));
                        }
                    }
                }
            }
        }
    }
    let number = |name: &str, w: &mut Warnings<'_>| -> Option<f64> {
        let e = classes.attr(c, name)?;
        match scope.float(e) {
            Ok(v) => Some(v),
            Err(_) => {
                w.warn(
                    e.start(),
                    format!("ignored {name}: expected a number constant"),
                );
                None
            }
        }
    };
    let weight = number("weight", w);
    let fixed_count = number("fixed_count", w).map(|v| v.max(0.0) as u64);
    if weight == Some(0.0) && fixed_count.unwrap_or(0) == 0 {
        w.warn(
            c.start(),
            format!(
                "skipped class {}: weight 0 (Locust does not run it)",
                c.name
            ),
        );
        return None;
    }
    let host = classes.attr(c, "host").and_then(|e| match scope.value(e) {
        Ok(Value::Str(s)) => Some(s),
        _ => None,
    });
    let wait = classes
        .attr(c, "wait_time")
        .and_then(|e| wait_time(scope, e, w));
    if classes.method(c, "wait_time").is_some() {
        w.warn(c.start(), "skipped a wait_time method (only between, constant, constant_pacing and constant_throughput are read)");
    }
    let mut class = Class {
        name: c.name.to_string(),
        line: w.line(c.start()),
        doc: c.body.first().and_then(|s| match s {
            Stmt::Expr(e) => first_line(&e.value),
            _ => None,
        }),
        weight: if fixed_count.is_some() { None } else { weight },
        fixed_count,
        wait,
        host,
        headers: Vec::new(),
        on_start: Vec::new(),
        tasks: Vec::new(),
    };
    if let Some(def) = classes.method(c, "on_start") {
        w.in_task(Some("on_start"));
        let methods = |name: &str| classes.method(c, name);
        let mut reader = Reader::new(scope.clone(), &methods, w, def, true);
        let body = reader.function(def);
        class.headers = body.headers;
        class.on_start = body.requests;
        w.in_task(None);
    }
    if let Some(def) = classes.method(c, "on_stop") {
        if super::task::count_requests(&def.body) > 0 {
            w.in_task(Some("on_stop"));
            w.warn(
                def.start(),
                "skipped on_stop and its requests (a scenario has no stop requests)",
            );
            w.in_task(None);
        }
    }
    let waits = !matches!(class.wait, None | Some(Wait::Constant(0.0)));
    class.tasks = flatten::tasks(classes, c, options, waits, w);
    if class.tasks.is_empty() {
        w.warn(
            c.start(),
            format!(
                "skipped class {}: no task with a request is left{}",
                c.name,
                if options.tags.is_empty() && options.exclude_tags.is_empty() {
                    ""
                } else {
                    " after --tags/--exclude-tags"
                }
            ),
        );
        return None;
    }
    Some(class)
}

/// `between(a, b)`, `constant(x)`, `constant_pacing(x)`, `constant_throughput(r)`.
fn wait_time(scope: &super::value::Scope, e: &Expr, w: &mut Warnings<'_>) -> Option<Wait> {
    let parsed = match e {
        Expr::Call(c) if c.keywords.is_empty() => {
            let q = scope.qualified(&c.func).unwrap_or_default();
            let args: Option<Vec<f64>> = c.args.iter().map(|a| scope.float(a).ok()).collect();
            match (q.rsplit('.').next().unwrap_or_default(), args.as_deref()) {
                ("between", Some(&[a, b])) => Some(Wait::Between(a, b)),
                ("constant", Some(&[x])) => Some(Wait::Constant(x)),
                ("constant_pacing", Some(&[x])) => Some(Wait::ConstantPacing(x)),
                ("constant_throughput", Some(&[r])) => Some(Wait::ConstantThroughput(r)),
                _ => None,
            }
        }
        _ => None,
    };
    if parsed.is_none() {
        w.warn(e.start(), "ignored wait_time: expected between(a, b), constant(x), constant_pacing(x) or constant_throughput(r) with number constants (the user does not wait)");
    }
    parsed
}
