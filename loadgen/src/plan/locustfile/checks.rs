//! A `catch_response=True` block to checks: `if`/`elif`/`else` chains whose branches call
//! `response.failure(...)` or `response.success()`, on conditions about the status code
//! (`==`, `!=`, `in`, `<`, `>=` ..., `response.ok`) or a key of the JSON body
//! (`"id" in response.json()`, `response.json()["state"] == "open"`, `.get("k")`), joined
//! with `and`, `or` and `not`. As in Locust, a later call overrides an earlier one, so
//! later statements' rules come first.

use rustpython_parser::ast::{self, BoolOp, CmpOp, Expr, Ranged, Stmt, UnaryOp};

use super::model::{Cond, Rule, Value};
use super::value::{template_text, Scope};
use super::warning::Warnings;

/// Conditions in disjunctive normal form: any of the conjunctions.
type Dnf = Vec<Vec<Cond>>;

/// Highest status code a range condition reaches.
const MAX_STATUS: u16 = 999;

/// Reads the block's statements into rules for the response named `response`.
pub(crate) fn read(
    body: &[Stmt],
    response: &str,
    scope: &mut Scope,
    w: &mut Warnings<'_>,
) -> Vec<Rule> {
    let mut reader = Reader {
        response,
        json_aliases: Vec::new(),
        scope,
        w,
    };
    let mut per_statement = Vec::new();
    for stmt in body {
        per_statement.push(reader.stmt(stmt));
    }
    // A later failure()/success() overrides an earlier one.
    per_statement.into_iter().rev().flatten().collect()
}

struct Reader<'r, 's, 'w, 't> {
    response: &'r str,
    /// Locals bound to `response.json()`.
    json_aliases: Vec<String>,
    scope: &'s mut Scope,
    w: &'w mut Warnings<'t>,
}

impl Reader<'_, '_, '_, '_> {
    fn stmt(&mut self, stmt: &Stmt) -> Vec<Rule> {
        match stmt {
            Stmt::If(i) => self.if_chain(i),
            Stmt::Expr(e) => match self.verdict(&e.value) {
                Some(Verdict::Decides(failure)) => vec![Rule {
                    conditions: Vec::new(),
                    failure,
                }],
                Some(Verdict::Ignored) => Vec::new(),
                None => {
                    self.w.warn(
                        stmt.start(),
                        "skipped a statement in a catch_response block",
                    );
                    Vec::new()
                }
            },
            Stmt::Assign(a) if self.is_json(&a.value) => {
                for t in &a.targets {
                    if let Expr::Name(n) = t {
                        self.json_aliases.push(n.id.to_string());
                    }
                }
                Vec::new()
            }
            Stmt::Pass(_) => Vec::new(),
            _ => {
                self.w.warn(
                    stmt.start(),
                    "skipped a statement in a catch_response block (only if/elif/else with response.failure()/success() are read)",
                );
                Vec::new()
            }
        }
    }

    /// `if A: ... elif B: ... else: ...`: first matching branch decides.
    fn if_chain(&mut self, first: &ast::StmtIf) -> Vec<Rule> {
        let mut rules = Vec::new();
        let mut branch = first;
        loop {
            let outcome = self.branch_outcome(&branch.body);
            match self.condition(&branch.test) {
                Some(dnf) => {
                    if let Some(failure) = outcome {
                        for conditions in dnf {
                            rules.push(Rule {
                                conditions,
                                failure: failure.clone(),
                            });
                        }
                    } else if !branch.orelse.is_empty() {
                        self.w.warn(
                            branch.start(),
                            "skipped the rest of this if-chain: a branch that neither fails nor succeeds before others is not read",
                        );
                        return rules;
                    }
                }
                None => {
                    // The condition was warned about; later branches depend on it.
                    return rules;
                }
            }
            match branch.orelse.as_slice() {
                [] => return rules,
                // `elif`, or an `else:` holding only an `if`, which behaves the same.
                [Stmt::If(next)] => branch = next,
                orelse => {
                    if let Some(failure) = self.branch_outcome(orelse) {
                        rules.push(Rule {
                            conditions: Vec::new(),
                            failure,
                        });
                    }
                    return rules;
                }
            }
        }
    }

    /// The last failure()/success() call of a branch: `Some(outcome)`, or `None` when
    /// it calls neither.
    fn branch_outcome(&mut self, body: &[Stmt]) -> Option<Option<String>> {
        let mut outcome = None;
        for stmt in body {
            match stmt {
                Stmt::Expr(e) => match self.verdict(&e.value) {
                    Some(Verdict::Decides(f)) => outcome = Some(f),
                    Some(Verdict::Ignored) => {}
                    None => self.w.warn(
                        stmt.start(),
                        "skipped a statement in a catch_response branch",
                    ),
                },
                Stmt::Pass(_) => {}
                _ => self.w.warn(
                    stmt.start(),
                    "skipped a statement in a catch_response branch (only response.failure()/success() are read)",
                ),
            }
        }
        outcome
    }

    /// `response.failure(msg)` / `response.success()`; prints and logging are ignored.
    fn verdict(&mut self, e: &Expr) -> Option<Verdict> {
        let Expr::Call(call) = e else {
            return super::module::is_str(e).then_some(Verdict::Ignored);
        };
        let callee = self.scope.qualified(&call.func).unwrap_or_default();
        if callee == "print" || callee.starts_with("logging.") || callee.starts_with("logger.") {
            return Some(Verdict::Ignored);
        }
        let method = callee.strip_prefix(self.response)?.strip_prefix('.')?;
        match method {
            "success" => Some(Verdict::Decides(None)),
            "failure" => {
                let arg = call.args.first()?;
                let message = match self
                    .scope
                    .value(arg)
                    .map(|v| (v.is_drawn(), template_text(&v)))
                {
                    Ok((false, Ok(text))) => text.replace("{{", "{").replace("}}", "}"),
                    _ => {
                        let shown = self.w.source(arg.range()).to_owned();
                        self.w.warn(
                            arg.start(),
                            format!("the failure message {shown} depends on the response; the scenario uses it as written"),
                        );
                        shown
                    }
                };
                Some(Verdict::Decides(Some(message)))
            }
            _ => None,
        }
    }

    /// A condition as DNF, or a warning and `None`.
    fn condition(&mut self, e: &Expr) -> Option<Dnf> {
        let dnf = match e {
            Expr::BoolOp(b) => {
                let parts: Option<Vec<Dnf>> = b.values.iter().map(|v| self.condition(v)).collect();
                let parts = parts?;
                match b.op {
                    BoolOp::Or => parts.into_iter().flatten().collect(),
                    BoolOp::And => parts.into_iter().fold(vec![Vec::new()], and),
                }
            }
            Expr::UnaryOp(u) if u.op == UnaryOp::Not => not(self.condition(&u.operand)?),
            Expr::Attribute(a) if a.attr.as_str() == "ok" && self.is_response(&a.value) => {
                vec![vec![Cond::StatusBetween(1, 399)]]
            }
            Expr::Compare(c) => match self.compare(c) {
                Some(cond) => vec![vec![cond]],
                None => return self.unread(e),
            },
            _ => return self.unread(e),
        };
        Some(dnf)
    }

    fn unread(&mut self, e: &Expr) -> Option<Dnf> {
        self.w.warn(
            e.start(),
            "skipped a catch_response check whose condition is neither about the status code nor about a key of the JSON body",
        );
        None
    }

    fn compare(&mut self, c: &ast::ExprCompare) -> Option<Cond> {
        let ([op], [right]) = (c.ops.as_slice(), c.comparators.as_slice()) else {
            return None;
        };
        if self.is_status(&c.left) {
            return status_cond(*op, self.scope.value(right).ok()?);
        }
        // `"key" in response.json()` (or in a part of it).
        if matches!(op, CmpOp::In | CmpOp::NotIn) {
            if let (Ok(Value::Str(key)), Some(base)) =
                (self.scope.value(&c.left), self.json_pointer(right))
            {
                let pointer = format!("{base}/{}", escape_pointer(&key));
                return Some(if *op == CmpOp::In {
                    Cond::JsonHas(pointer)
                } else {
                    Cond::JsonLacks(pointer)
                });
            }
            return None;
        }
        let pointer = self.json_pointer(&c.left).filter(|p| !p.is_empty())?;
        match (op, right) {
            (CmpOp::Is, Expr::Constant(k)) if k.value.is_none() => Some(Cond::JsonLacks(pointer)),
            (CmpOp::IsNot, Expr::Constant(k)) if k.value.is_none() => Some(Cond::JsonHas(pointer)),
            (CmpOp::Eq, _) => Some(Cond::JsonEquals(pointer, self.scalar(right)?)),
            (CmpOp::NotEq, _) => Some(Cond::JsonDiffers(pointer, self.scalar(right)?)),
            _ => None,
        }
    }

    fn scalar(&self, e: &Expr) -> Option<Value> {
        match self.scope.value(e).ok()? {
            v @ (Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)) => Some(v),
            _ => None,
        }
    }

    fn is_response(&self, e: &Expr) -> bool {
        matches!(e, Expr::Name(n) if n.id.as_str() == self.response)
    }

    fn is_status(&self, e: &Expr) -> bool {
        matches!(e, Expr::Attribute(a) if a.attr.as_str() == "status_code" && self.is_response(&a.value))
    }

    /// `response.json()` or an alias of it.
    fn is_json(&self, e: &Expr) -> bool {
        match e {
            Expr::Call(c) if c.args.is_empty() => {
                matches!(&*c.func, Expr::Attribute(a) if a.attr.as_str() == "json" && self.is_response(&a.value))
            }
            Expr::Name(n) => self.json_aliases.iter().any(|a| a == n.id.as_str()),
            _ => false,
        }
    }

    /// The JSON pointer an expression reads: `response.json()` is "", `["a"]["b"]` and
    /// `.get("b")` add segments.
    fn json_pointer(&self, e: &Expr) -> Option<String> {
        if self.is_json(e) {
            return Some(String::new());
        }
        let (base, key) = match e {
            Expr::Subscript(s) => (&*s.value, &*s.slice),
            Expr::Call(c) if c.args.len() == 1 && c.keywords.is_empty() => match &*c.func {
                Expr::Attribute(a) if a.attr.as_str() == "get" => (&*a.value, &c.args[0]),
                _ => return None,
            },
            _ => return None,
        };
        let segment = match self.scope.value(key).ok()? {
            Value::Str(s) => escape_pointer(&s),
            Value::Int(i) => i.to_string(),
            _ => return None,
        };
        Some(format!("{}/{segment}", self.json_pointer(base)?))
    }
}

enum Verdict {
    /// `None`: success; `Some(message)`: failure.
    Decides(Option<String>),
    /// A print or a log line.
    Ignored,
}

fn status_cond(op: CmpOp, right: Value) -> Option<Cond> {
    let codes = |v: &Value| -> Option<Vec<u16>> {
        match v {
            Value::Int(i) => Some(vec![u16::try_from(*i).ok()?]),
            Value::List(items) => items
                .iter()
                .map(|i| match i {
                    Value::Int(i) => u16::try_from(*i).ok(),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    let n = |v: &Value| match v {
        Value::Int(i) => u16::try_from(*i).ok().filter(|&n| n <= MAX_STATUS),
        _ => None,
    };
    Some(match op {
        CmpOp::Eq | CmpOp::In => Cond::StatusIn(codes(&right)?),
        CmpOp::NotEq | CmpOp::NotIn => Cond::StatusNotIn(codes(&right)?),
        CmpOp::Lt => Cond::StatusBetween(0, n(&right)?.checked_sub(1)?),
        CmpOp::LtE => Cond::StatusBetween(0, n(&right)?),
        CmpOp::Gt => Cond::StatusBetween(n(&right)?.checked_add(1)?, MAX_STATUS),
        CmpOp::GtE => Cond::StatusBetween(n(&right)?, MAX_STATUS),
        _ => return None,
    })
}

/// `A and B` in DNF: every pair of conjunctions joined.
fn and(left: Dnf, right: Dnf) -> Dnf {
    let mut out = Vec::new();
    for l in &left {
        for r in &right {
            out.push(l.iter().chain(r).cloned().collect());
        }
    }
    out
}

/// `not (A or B)` = `not A and not B`; `not (a and b)` = `not a or not b`.
fn not(dnf: Dnf) -> Dnf {
    dnf.into_iter()
        .map(|conj| conj.into_iter().map(negate).collect::<Vec<Dnf>>())
        .map(|alternatives| alternatives.into_iter().flatten().collect::<Dnf>())
        .fold(vec![Vec::new()], and)
}

/// One condition negated, as DNF.
fn negate(c: Cond) -> Dnf {
    match c {
        Cond::StatusIn(v) => vec![vec![Cond::StatusNotIn(v)]],
        Cond::StatusNotIn(v) => vec![vec![Cond::StatusIn(v)]],
        Cond::StatusBetween(lo, hi) => {
            let mut out = Vec::new();
            if lo > 0 {
                out.push(vec![Cond::StatusBetween(0, lo - 1)]);
            }
            if hi < MAX_STATUS {
                out.push(vec![Cond::StatusBetween(hi + 1, MAX_STATUS)]);
            }
            out
        }
        Cond::JsonHas(p) => vec![vec![Cond::JsonLacks(p)]],
        Cond::JsonLacks(p) => vec![vec![Cond::JsonHas(p)]],
        Cond::JsonEquals(p, v) => vec![vec![Cond::JsonDiffers(p, v)]],
        Cond::JsonDiffers(p, v) => vec![vec![Cond::JsonEquals(p, v)]],
    }
}

/// A key as a JSON pointer segment (RFC 6901: `~` is `~0`, `/` is `~1`).
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
