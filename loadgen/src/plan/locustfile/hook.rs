//! The quitting judge: a `test_stop` (or `quitting`) listener that fails the run when
//! `stats.total.fail_ratio`, `avg_response_time`, `get_response_time_percentile(p)` (and
//! the other totals) cross a number becomes the scenario's criteria on the Aggregated
//! row. Its prints and summaries are output, not judgement, and are left out; other
//! event hooks are warned about.

use std::collections::HashMap;

use rustpython_parser::ast::{self, CmpOp, Expr, Ranged, Stmt};

use super::model::{Threshold, Value};
use super::module::Hook;
use super::value::Scope;
use super::warning::Warnings;

/// The events whose listener can judge the run at its end.
const JUDGING_EVENTS: &[&str] = &["test_stop", "quitting"];

/// The hook's thresholds (empty when it judges nothing), warnings for what it skipped.
pub(crate) fn criteria(hook: &Hook<'_>, scope: &Scope, w: &mut Warnings<'_>) -> Vec<Threshold> {
    let def = hook.def;
    if !JUDGING_EVENTS.contains(&hook.event.as_str()) {
        w.warn_module(
            def.start(),
            format!(
                "skipped the {} event listener `{}` (only a test_stop or quitting listener that judges the run is read)",
                hook.event, def.name
            ),
        );
        return Vec::new();
    }
    let mut judge = Judge {
        scope,
        aliases: HashMap::new(),
        found: Vec::new(),
        sets_exit_code: false,
        w,
    };
    judge.stmts(&def.body);
    if !judge.sets_exit_code {
        if !judge.found.is_empty() {
            judge.w.warn_module(
                def.start(),
                format!("skipped the thresholds of `{}`: it never sets environment.process_exit_code to fail the run", def.name),
            );
        }
        return Vec::new();
    }
    judge.found
}

struct Judge<'s, 'w, 't> {
    scope: &'s Scope,
    /// Locals bound to `environment.stats.total` ("") or to one of its metrics.
    aliases: HashMap<String, Metric>,
    found: Vec<Threshold>,
    sets_exit_code: bool,
    w: &'w mut Warnings<'t>,
}

/// What an expression reads of the run's totals.
#[derive(Debug, Clone, PartialEq)]
enum Metric {
    /// `environment.stats.total` itself.
    Total,
    /// A criteria metric (`fail_ratio`, `avg`, `p(95)`).
    Named(String),
}

impl Judge<'_, '_, '_> {
    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match s {
                Stmt::Assign(a) => {
                    if let Some(m) = self.metric(&a.value) {
                        for t in &a.targets {
                            if let Expr::Name(n) = t {
                                self.aliases.insert(n.id.to_string(), m.clone());
                            }
                        }
                    }
                    if a.targets.iter().any(is_exit_code) && nonzero(&a.value) {
                        self.sets_exit_code = true;
                    }
                }
                Stmt::If(i) => self.if_stmt(i),
                Stmt::For(f) => self.stmts(&f.body),
                _ => {}
            }
        }
    }

    fn if_stmt(&mut self, i: &ast::StmtIf) {
        if fails(&i.body) {
            self.test(&i.test);
        }
        self.stmts(&i.body);
        self.stmts(&i.orelse);
    }

    /// A condition under which the run fails: each comparison a threshold.
    fn test(&mut self, e: &Expr) {
        match e {
            Expr::BoolOp(b) if b.op == ast::BoolOp::Or => {
                for v in &b.values {
                    self.test(v);
                }
            }
            Expr::Compare(c) => match self.threshold(c) {
                Some(t) => self.found.push(t),
                None => self.skipped(e),
            },
            // `if breaches:` after the comparisons that filled the list.
            Expr::Name(_) => {}
            _ => self.skipped(e),
        }
    }

    fn skipped(&mut self, e: &Expr) {
        self.w.warn_module(
            e.start(),
            "skipped a condition of the quitting judge: expected a run total (fail_ratio, avg_response_time, get_response_time_percentile(p), ...) compared with a number",
        );
    }

    /// `metric > N` fails the run, so the criterion is `metric <= N` (and so on).
    fn threshold(&self, c: &ast::ExprCompare) -> Option<Threshold> {
        let ([op], [right]) = (c.ops.as_slice(), c.comparators.as_slice()) else {
            return None;
        };
        let (metric, number, op) = match (self.metric(&c.left), self.metric(right)) {
            (Some(Metric::Named(m)), None) => (m, self.number(right)?, *op),
            (None, Some(Metric::Named(m))) => (m, self.number(&c.left)?, flip(*op)?),
            _ => return None,
        };
        let passes = match op {
            CmpOp::Gt => "<=",
            CmpOp::GtE => "<",
            CmpOp::Lt => ">=",
            CmpOp::LtE => ">",
            _ => return None,
        };
        Some(Threshold {
            expression: format!("{metric} {passes} {}", number_text(number)),
        })
    }

    fn number(&self, e: &Expr) -> Option<f64> {
        match self.scope.value(e).ok()? {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// What `e` reads of the totals, if anything.
    fn metric(&self, e: &Expr) -> Option<Metric> {
        match e {
            Expr::Name(n) => self.aliases.get(n.id.as_str()).cloned(),
            Expr::Attribute(a) => {
                if a.attr.as_str() == "total" {
                    let stats = self.scope.qualified(&a.value).unwrap_or_default();
                    return stats.ends_with(".stats").then_some(Metric::Total);
                }
                if self.metric(&a.value)? != Metric::Total {
                    return None;
                }
                let name = match a.attr.as_str() {
                    "fail_ratio" => "fail_ratio",
                    "avg_response_time" => "avg",
                    "median_response_time" => "med",
                    "max_response_time" => "max",
                    "min_response_time" => "min",
                    "num_requests" => "count",
                    "num_failures" => "failures",
                    "total_rps" => "rps",
                    "total_fail_per_sec" => "fail_rps",
                    _ => return None,
                };
                Some(Metric::Named(name.to_owned()))
            }
            Expr::Call(c) => {
                let Expr::Attribute(a) = &*c.func else {
                    return None;
                };
                if a.attr.as_str() != "get_response_time_percentile"
                    || self.metric(&a.value)? != Metric::Total
                {
                    return None;
                }
                let p = self.number(c.args.first()?)?;
                Some(Metric::Named(format!("p({})", number_text(p * 100.0))))
            }
            _ => None,
        }
    }
}

/// `a > b` read from the other side.
fn flip(op: CmpOp) -> Option<CmpOp> {
    Some(match op {
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtE => CmpOp::LtE,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtE => CmpOp::GtE,
        _ => return None,
    })
}

/// A number as short as it reads (`95`, `0.05`), free of float noise.
fn number_text(v: f64) -> String {
    let rounded = (v * 1e9).round() / 1e9;
    format!("{rounded}")
}

/// `environment.process_exit_code` (or any `*.process_exit_code`).
fn is_exit_code(e: &Expr) -> bool {
    matches!(e, Expr::Attribute(a) if a.attr.as_str() == "process_exit_code")
}

fn nonzero(e: &Expr) -> bool {
    matches!(e, Expr::Constant(c) if matches!(&c.value, ast::Constant::Int(i) if i.to_string() != "0"))
}

/// Whether a branch fails the run: it sets a non-zero exit code, or records a breach
/// (`breaches.append(...)`, `failed = True`) that a later test turns into one.
fn fails(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Assign(a) => {
            (a.targets.iter().any(is_exit_code) && nonzero(&a.value))
                || matches!(&*a.value, Expr::Constant(c) if c.value == ast::Constant::Bool(true))
        }
        Stmt::Expr(e) => matches!(&*e.value, Expr::Call(c)
            if matches!(&*c.func, Expr::Attribute(a) if a.attr.as_str() == "append")),
        _ => false,
    })
}
