//! The module level of a locustfile: its imports (what `random`, `date` or `HttpUser`
//! stand for), its constants, its classes and its event hooks. Everything else at this
//! level is warned about.

use std::collections::HashMap;

use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};

use super::value::Scope;
use super::warning::Warnings;

/// A function registered on one of Locust's events.
#[derive(Debug)]
pub(crate) struct Hook<'a> {
    /// The event's name (`test_stop`, `quitting`, ...).
    pub(crate) event: String,
    pub(crate) def: &'a ast::StmtFunctionDef,
}

/// The module level, read.
#[derive(Debug, Default)]
pub(crate) struct Module<'a> {
    pub(crate) scope: Scope,
    /// Module-level classes, in source order.
    pub(crate) classes: Vec<&'a ast::StmtClassDef>,
    pub(crate) hooks: Vec<Hook<'a>>,
    /// The first line of the module's docstring.
    pub(crate) doc: Option<String>,
}

/// Reads the module's statements.
pub(crate) fn read<'a>(suite: &'a [Stmt], w: &mut Warnings<'_>) -> Module<'a> {
    let mut m = Module::default();
    let functions: HashMap<&str, &ast::StmtFunctionDef> = suite
        .iter()
        .filter_map(|s| match s {
            Stmt::FunctionDef(f) => Some((f.name.as_str(), f)),
            _ => None,
        })
        .collect();
    for (i, stmt) in suite.iter().enumerate() {
        match stmt {
            Stmt::Expr(e) if i == 0 && is_str(&e.value) => m.doc = first_line(&e.value),
            Stmt::Import(imp) => {
                for alias in &imp.names {
                    let local = alias.asname.as_ref().unwrap_or(&alias.name);
                    // `import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`.
                    let (local, origin) = match &alias.asname {
                        Some(_) => (local.to_string(), alias.name.to_string()),
                        None => {
                            let top = alias.name.split('.').next().unwrap_or_default();
                            (top.to_owned(), top.to_owned())
                        }
                    };
                    m.scope.imports.insert(local, origin);
                }
            }
            Stmt::ImportFrom(imp) => {
                let module = imp.module.as_deref().unwrap_or_default();
                for alias in &imp.names {
                    let local = alias.asname.as_ref().unwrap_or(&alias.name);
                    m.scope
                        .imports
                        .insert(local.to_string(), format!("{module}.{}", alias.name));
                }
            }
            Stmt::Assign(a) => {
                for target in &a.targets {
                    assign(&mut m.scope, target, &a.value);
                }
            }
            Stmt::AnnAssign(a) => {
                if let Some(value) = &a.value {
                    assign(&mut m.scope, &a.target, value);
                }
            }
            Stmt::ClassDef(c) => m.classes.push(c),
            Stmt::FunctionDef(f) => {
                let events: Vec<String> = f
                    .decorator_list
                    .iter()
                    .filter_map(|d| listener_event(&m.scope, d))
                    .collect();
                for event in events {
                    m.hooks.push(Hook { event, def: f });
                }
            }
            Stmt::Expr(e) => {
                // `events.test_stop.add_listener(judge)`
                if let Expr::Call(c) = &*e.value {
                    if let (Some(event), [Expr::Name(n)]) =
                        (listener_event(&m.scope, &c.func), c.args.as_slice())
                    {
                        if let Some(def) = functions.get(n.id.as_str()) {
                            m.hooks.push(Hook { event, def });
                            continue;
                        }
                    }
                }
                if !is_str(&e.value) {
                    w.warn_module(
                        stmt.start(),
                        "skipped a module-level expression (the import never runs code)",
                    );
                }
            }
            Stmt::If(_) => w.warn_module(
                stmt.start(),
                "skipped a module-level `if` block (the import never runs code; classes inside it are not read)",
            ),
            _ => w.warn_module(
                stmt.start(),
                "skipped a module-level statement of a kind the import does not read",
            ),
        }
    }
    m
}

/// Binds a module constant, or remembers why its value could not be read.
fn assign(scope: &mut Scope, target: &Expr, value: &Expr) {
    let Expr::Name(n) = target else {
        return;
    };
    match scope.value(value) {
        Ok(v) => {
            scope.constants.insert(n.id.to_string(), v);
        }
        Err(e) => {
            scope.constants.remove(n.id.as_str());
            scope.unreadable.insert(n.id.to_string(), e.what);
        }
    }
}

/// `events.NAME.add_listener` (as a decorator or callee): the event's name.
fn listener_event(scope: &Scope, e: &Expr) -> Option<String> {
    let name = scope.qualified(e)?;
    let rest = name.strip_suffix(".add_listener")?;
    let (events, event) = rest.rsplit_once('.')?;
    events.ends_with("events").then(|| event.to_owned())
}

pub(crate) fn is_str(e: &Expr) -> bool {
    matches!(e, Expr::Constant(c) if matches!(c.value, Constant::Str(_)))
}

/// The first non-empty line of a docstring expression.
pub(crate) fn first_line(e: &Expr) -> Option<String> {
    match e {
        Expr::Constant(c) => match &c.value {
            Constant::Str(s) => s
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
}
