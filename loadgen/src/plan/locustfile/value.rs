//! Python expressions to scenario values: literals and module constants as data, and the
//! random and date calls locustfiles draw request values with as template generators
//! (`random.randint(1, 10)` is `{1..10}`, `date.today() - timedelta(days=365)` is
//! `{today-365d}`). Anything else is refused with where and what it was.

use std::collections::HashMap;

use rustpython_parser::ast::{self, Constant, Expr, Operator, Ranged};
use rustpython_parser::text_size::TextSize;

use super::model::{Drawn, Value};

/// An expression the import cannot turn into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported {
    pub(crate) at: TextSize,
    pub(crate) what: String,
}

impl Unsupported {
    pub(crate) fn new(e: &impl Ranged, what: impl Into<String>) -> Self {
        Self {
            at: e.start(),
            what: what.into(),
        }
    }
}

type Result<T> = std::result::Result<T, Unsupported>;

/// What names mean where an expression is read: module constants, the task's local
/// values, and the names imports brought in (`randint` for `random.randint`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) constants: HashMap<String, Value>,
    pub(crate) locals: HashMap<String, Value>,
    /// Local name to dotted origin: `date` to `datetime.date`, `r` to `random`.
    pub(crate) imports: HashMap<String, String>,
    /// Names bound to something the import could not read, with what it was.
    pub(crate) unreadable: HashMap<String, String>,
}

impl Scope {
    /// The dotted name a callee or attribute chain stands for (`random.randint`).
    pub(crate) fn qualified(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Name(n) => Some(
                self.imports
                    .get(n.id.as_str())
                    .cloned()
                    .unwrap_or_else(|| n.id.to_string()),
            ),
            Expr::Attribute(a) => Some(format!("{}.{}", self.qualified(&a.value)?, a.attr)),
            _ => None,
        }
    }

    /// Evaluates an expression to a value.
    pub(crate) fn value(&self, e: &Expr) -> Result<Value> {
        match e {
            Expr::Constant(c) => constant(e, &c.value),
            Expr::List(l) => self.values(&l.elts).map(Value::List),
            Expr::Tuple(t) => self.values(&t.elts).map(Value::List),
            Expr::Dict(d) => self.dict(e, d),
            Expr::Name(n) => self
                .locals
                .get(n.id.as_str())
                .or_else(|| self.constants.get(n.id.as_str()))
                .cloned()
                .ok_or_else(|| {
                    let what = match self.unreadable.get(n.id.as_str()) {
                        Some(why) => format!("`{}`, bound to {why}", n.id),
                        None => format!(
                            "`{}`, which is neither a module constant nor a value set in the task",
                            n.id
                        ),
                    };
                    Unsupported::new(e, what)
                }),
            Expr::JoinedStr(j) => self.joined(j),
            Expr::Call(c) => self.call(e, c),
            Expr::Subscript(s) => self.subscript(e, s),
            Expr::BinOp(b) => self.bin_op(e, b),
            Expr::UnaryOp(u) if u.op == ast::UnaryOp::USub => match self.value(&u.operand)? {
                Value::Int(i) => Ok(Value::Int(-i)),
                Value::Float(f) => Ok(Value::Float(-f)),
                _ => Err(Unsupported::new(e, "a negation of something not a number")),
            },
            Expr::Attribute(a) if matches!(&*a.value, Expr::Name(n) if n.id.as_str() == "self") => {
                Err(Unsupported::new(
                    e,
                    format!("the instance attribute `self.{}` (set at run time)", a.attr),
                ))
            }
            _ => Err(Unsupported::new(
                e,
                "an expression of a kind the import does not read",
            )),
        }
    }

    fn values(&self, items: &[Expr]) -> Result<Vec<Value>> {
        items.iter().map(|i| self.value(i)).collect()
    }

    fn dict(&self, e: &Expr, d: &ast::ExprDict) -> Result<Value> {
        let mut out = Vec::new();
        for (k, v) in d.keys.iter().zip(&d.values) {
            let Some(k) = k else {
                // `**other`: merge a constant dict.
                match self.value(v)? {
                    Value::Dict(more) => out.extend(more),
                    _ => return Err(Unsupported::new(v, "`**` of something not a dict")),
                }
                continue;
            };
            let key = match self.value(k)? {
                Value::Str(s) => s,
                Value::Int(i) => i.to_string(),
                _ => return Err(Unsupported::new(e, "a dict key that is not a string")),
            };
            out.push((key, self.value(v)?));
        }
        Ok(Value::Dict(out))
    }

    fn joined(&self, j: &ast::ExprJoinedStr) -> Result<Value> {
        let mut parts = Vec::new();
        for piece in &j.values {
            match piece {
                Expr::FormattedValue(f) => {
                    if f.format_spec.is_some() {
                        return Err(Unsupported::new(
                            piece,
                            "an f-string format spec (`{x:...}`)",
                        ));
                    }
                    parts.push(self.value(&f.value)?);
                }
                other => parts.push(self.value(other)?),
            }
        }
        Ok(Value::Joined(parts))
    }

    fn call(&self, e: &Expr, c: &ast::ExprCall) -> Result<Value> {
        let name = self.qualified(&c.func).unwrap_or_default();
        let arg = |i: usize| {
            c.args
                .get(i)
                .ok_or_else(|| Unsupported::new(e, format!("`{name}` without its arguments")))
        };
        if !c.keywords.is_empty() && name != "datetime.timedelta" {
            return Err(Unsupported::new(
                e,
                format!("`{name}` with keyword arguments"),
            ));
        }
        match name.as_str() {
            "random.randint" => Ok(Value::Drawn(Drawn::Int(
                self.int(arg(0)?)?,
                self.int(arg(1)?)?,
            ))),
            "random.randrange" if c.args.len() <= 2 => {
                let (low, high) = if c.args.len() == 1 {
                    (0, self.int(arg(0)?)?)
                } else {
                    (self.int(arg(0)?)?, self.int(arg(1)?)?)
                };
                if high <= low {
                    return Err(Unsupported::new(e, "an empty random.randrange"));
                }
                Ok(Value::Drawn(Drawn::Int(low, high - 1)))
            }
            "random.uniform" => {
                let (a, b) = (self.float(arg(0)?)?, self.float(arg(1)?)?);
                Ok(Value::Drawn(Drawn::Float(a.min(b), a.max(b))))
            }
            "random.choice" => self.choice(arg(0)?),
            "datetime.date.today" => Ok(Value::Drawn(Drawn::Date(0))),
            "uuid.uuid4" => Ok(Value::Drawn(Drawn::Uuid)),
            "str" => {
                let v = self.value(arg(0)?)?;
                Ok(match v {
                    Value::Int(i) => Value::Str(i.to_string()),
                    other => other,
                })
            }
            _ => {
                // `d.isoformat()` and `d.strftime("%Y-%m-%d")` of a date read as the date.
                if let Expr::Attribute(a) = &*c.func {
                    let date_text = a.attr.as_str() == "isoformat"
                        || (a.attr.as_str() == "strftime"
                            && matches!(c.args.first().map(|x| self.value(x)), Some(Ok(Value::Str(f))) if f == "%Y-%m-%d"));
                    if date_text {
                        if let Ok(d @ Value::Drawn(Drawn::Date(_))) = self.value(&a.value) {
                            return Ok(d);
                        }
                    }
                }
                let shown = if name.is_empty() { "a call" } else { &name };
                Err(Unsupported::new(
                    e,
                    format!("a call to `{shown}` (only random, date and uuid calls are read)"),
                ))
            }
        }
    }

    /// `random.choice(...)` of a list of strings or numbers.
    fn choice(&self, of: &Expr) -> Result<Value> {
        let Value::List(options) = self.value(of)? else {
            return Err(Unsupported::new(
                of,
                "random.choice of something not a list",
            ));
        };
        if options.is_empty() {
            return Err(Unsupported::new(of, "random.choice of an empty list"));
        }
        if options
            .iter()
            .any(|o| !matches!(o, Value::Str(_) | Value::Int(_) | Value::Float(_)))
        {
            return Err(Unsupported::new(
                of,
                "random.choice of values other than strings and numbers",
            ));
        }
        if options.len() == 1 {
            return Ok(options.into_iter().next().unwrap_or(Value::Int(0)));
        }
        Ok(Value::Drawn(Drawn::Choice(options)))
    }

    fn subscript(&self, e: &Expr, s: &ast::ExprSubscript) -> Result<Value> {
        let base = self.value(&s.value)?;
        if let Expr::Slice(slice) = &*s.slice {
            let Value::List(items) = base else {
                return Err(Unsupported::new(e, "a slice of something not a list"));
            };
            if slice.step.is_some() {
                return Err(Unsupported::new(e, "a slice with a step"));
            }
            let len = items.len() as i64;
            let bound = |b: &Option<Box<Expr>>, default: i64| -> Result<usize> {
                let v = match b {
                    Some(x) => self.int(x)?,
                    None => default,
                };
                let v = if v < 0 { len + v } else { v };
                Ok(v.clamp(0, len) as usize)
            };
            let (lo, hi) = (bound(&slice.lower, 0)?, bound(&slice.upper, len)?);
            return Ok(Value::List(items[lo..hi.max(lo)].to_vec()));
        }
        match (base, self.value(&s.slice)?) {
            (Value::List(items), Value::Int(i)) => {
                let len = items.len() as i64;
                let at = if i < 0 { len + i } else { i };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| items.get(at).cloned())
                    .ok_or_else(|| Unsupported::new(e, format!("index {i} outside the list")))
            }
            (Value::Dict(entries), Value::Str(k)) => entries
                .into_iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v)
                .ok_or_else(|| Unsupported::new(e, format!("key {k:?} not in the dict"))),
            _ => Err(Unsupported::new(e, "a subscript the import does not read")),
        }
    }

    fn bin_op(&self, e: &Expr, b: &ast::ExprBinOp) -> Result<Value> {
        let left = self.value(&b.left)?;
        if let Value::Drawn(Drawn::Date(days)) = left {
            let delta = self.timedelta_days(&b.right)?;
            return match b.op {
                Operator::Add => Ok(Value::Drawn(Drawn::Date(days + delta))),
                Operator::Sub => Ok(Value::Drawn(Drawn::Date(days - delta))),
                _ => Err(Unsupported::new(e, "date arithmetic other than + and -")),
            };
        }
        let right = self.value(&b.right)?;
        match (b.op, left, right) {
            (Operator::Add, Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.saturating_add(y))),
            (Operator::Sub, Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.saturating_sub(y))),
            (Operator::Mult, Value::Int(x), Value::Int(y)) => Ok(Value::Int(x.saturating_mul(y))),
            (Operator::Add, l @ (Value::Str(_) | Value::Joined(_) | Value::Drawn(_)), r) => {
                Ok(Value::Joined(vec![l, r]))
            }
            (Operator::Add, Value::List(mut x), Value::List(y)) => {
                x.extend(y);
                Ok(Value::List(x))
            }
            _ => Err(Unsupported::new(e, "arithmetic the import does not read")),
        }
    }

    /// `timedelta(days=N)`, `timedelta(N)` or `timedelta(weeks=N)` in whole days.
    fn timedelta_days(&self, e: &Expr) -> Result<i64> {
        let Expr::Call(c) = e else {
            return Err(Unsupported::new(
                e,
                "date arithmetic with something not a timedelta",
            ));
        };
        if self.qualified(&c.func).as_deref() != Some("datetime.timedelta") {
            return Err(Unsupported::new(
                e,
                "date arithmetic with something not a timedelta",
            ));
        }
        let mut days = match c.args.first() {
            Some(a) => self.int(a)?,
            None => 0,
        };
        for k in &c.keywords {
            let n = self.int(&k.value)?;
            match k.arg.as_deref() {
                Some("days") => days += n,
                Some("weeks") => days += 7 * n,
                _ => {
                    return Err(Unsupported::new(
                        &k.value,
                        "a timedelta in units other than days and weeks",
                    ))
                }
            }
        }
        Ok(days)
    }

    pub(crate) fn int(&self, e: &Expr) -> Result<i64> {
        match self.value(e)? {
            Value::Int(i) => Ok(i),
            _ => Err(Unsupported::new(
                e,
                "something that is not an integer constant",
            )),
        }
    }

    pub(crate) fn float(&self, e: &Expr) -> Result<f64> {
        match self.value(e)? {
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            _ => Err(Unsupported::new(
                e,
                "something that is not a number constant",
            )),
        }
    }
}

fn constant(e: &Expr, c: &Constant) -> Result<Value> {
    Ok(match c {
        Constant::Str(s) => Value::Str(s.clone()),
        Constant::Int(i) => Value::Int(
            i64::try_from(i).map_err(|_| Unsupported::new(e, "an integer beyond 64 bits"))?,
        ),
        Constant::Float(f) => Value::Float(*f),
        Constant::Bool(b) => Value::Bool(*b),
        Constant::Tuple(items) => Value::List(
            items
                .iter()
                .map(|i| constant(e, i))
                .collect::<Result<_>>()?,
        ),
        Constant::None => return Err(Unsupported::new(e, "None (TOML has no null)")),
        _ => {
            return Err(Unsupported::new(
                e,
                "a constant of a kind the import does not read",
            ))
        }
    })
}

/// The value as template text (braces escaped, generators as `{...}`), or why not.
pub(crate) fn template_text(v: &Value) -> std::result::Result<String, String> {
    let mut out = String::new();
    push_text(v, &mut out)?;
    Ok(out)
}

fn push_text(v: &Value, out: &mut String) -> std::result::Result<(), String> {
    match v {
        Value::Str(s) => out.push_str(&s.replace('{', "{{").replace('}', "}}")),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&python_float(*f)),
        Value::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Joined(parts) => {
            for p in parts {
                push_text(p, out)?;
            }
        }
        Value::Drawn(d) => out.push_str(&generator(d)?),
        Value::List(_) | Value::Dict(_) => return Err("a list or dict inside a string".to_owned()),
    }
    Ok(())
}

/// A drawn value as a template generator.
fn generator(d: &Drawn) -> std::result::Result<String, String> {
    Ok(match d {
        Drawn::Int(lo, hi) => format!("{{{lo}..{hi}}}"),
        Drawn::Float(lo, hi) => format!("{{{}..{}}}", python_float(*lo), python_float(*hi)),
        Drawn::Date(0) => "{today}".to_owned(),
        Drawn::Date(n) if *n < 0 => format!("{{today-{}d}}", -n),
        Drawn::Date(n) => format!("{{today+{n}d}}"),
        Drawn::Uuid => "{uuid}".to_owned(),
        Drawn::Choice(options) => {
            let texts = options
                .iter()
                .map(|o| match o {
                    Value::Str(s) => s.clone(),
                    Value::Int(i) => i.to_string(),
                    Value::Float(f) => python_float(*f),
                    _ => String::new(),
                })
                .collect::<Vec<_>>();
            if let Some(bad) = texts
                .iter()
                .find(|t| t.is_empty() || t.trim() != t.as_str() || t.contains(['|', '{', '}']))
            {
                return Err(format!(
                    "the choice option {bad:?} (an option may not be empty, start or end with a space, or hold | {{ }})"
                ));
            }
            format!("{{{}}}", texts.join("|"))
        }
    })
}

/// A float as Python's `str` writes ordinary ones: `1.0`, `0.25`.
pub(crate) fn python_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// The value as a JSON body in TOML (strings are templates; a string that is one
/// numeric generator becomes a JSON number), or why not.
pub(crate) fn body_value(v: &Value) -> std::result::Result<toml::Value, String> {
    Ok(match v {
        Value::Str(_) | Value::Joined(_) => toml::Value::String(template_text(v)?),
        Value::Int(i) => toml::Value::Integer(*i),
        Value::Float(f) => toml::Value::Float(*f),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::List(items) => toml::Value::Array(
            items
                .iter()
                .map(body_value)
                .collect::<std::result::Result<_, _>>()?,
        ),
        Value::Dict(entries) => {
            let mut table = toml::map::Map::new();
            for (k, v) in entries {
                table.insert(k.clone(), body_value(v)?);
            }
            toml::Value::Table(table)
        }
        Value::Drawn(Drawn::Choice(options)) => {
            let ints = options.iter().all(|o| matches!(o, Value::Int(_)));
            let strs = options.iter().all(|o| matches!(o, Value::Str(_)));
            let numeric_looking = options
                .iter()
                .any(|o| matches!(o, Value::Str(s) if s.trim().parse::<i64>().is_ok()));
            if !(ints || (strs && !numeric_looking)) {
                return Err(
                    "a random.choice in a JSON body whose options are not all integers or all non-numeric strings"
                        .to_owned(),
                );
            }
            toml::Value::String(template_text(v)?)
        }
        Value::Drawn(_) => toml::Value::String(template_text(v)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustpython_parser::Parse;

    fn eval(scope: &Scope, text: &str) -> Result<Value> {
        let e = ast::Expr::parse(text, "<test>").unwrap();
        scope.value(&e)
    }

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.constants.insert(
            "TICKERS".into(),
            Value::List(
                ["AAPL", "GOOGL", "MSFT"]
                    .map(|t| Value::Str(t.into()))
                    .to_vec(),
            ),
        );
        for (local, origin) in [
            ("random", "random"),
            ("date", "datetime.date"),
            ("timedelta", "datetime.timedelta"),
            ("randint", "random.randint"),
        ] {
            s.imports.insert(local.into(), origin.into());
        }
        s
    }

    fn text(scope: &Scope, expr: &str) -> String {
        template_text(&eval(scope, expr).unwrap()).unwrap()
    }

    #[test]
    fn random_and_date_calls_become_generators() {
        let s = scope();
        assert_eq!(text(&s, "f'/c/{random.randint(1, 10)}'"), "/c/{1..10}");
        assert_eq!(text(&s, "f'/c/{randint(1, 10)}/p'"), "/c/{1..10}/p");
        assert_eq!(
            text(&s, "f'?t={random.choice(TICKERS[:2])}'"),
            "?t={AAPL|GOOGL}"
        );
        assert_eq!(text(&s, "f'?t={random.choice(TICKERS[-1:])}'"), "?t=MSFT");
        assert_eq!(text(&s, "f'{random.uniform(0.5, 2)}'"), "{0.5..2.0}");
        assert_eq!(text(&s, "f'{random.randrange(10)}'"), "{0..9}");
        assert_eq!(
            text(
                &s,
                "f'{date.today() - timedelta(days=365)}/{date.today() + timedelta(weeks=1)}'"
            ),
            "{today-365d}/{today+7d}"
        );
        assert_eq!(text(&s, "'/a{b}' + TICKERS[0]"), "/a{{b}}AAPL");
    }

    #[test]
    fn what_is_not_read_says_where_and_what() {
        let s = scope();
        for (expr, needle, column) in [
            ("f'/x/{self.cid}'", "self.cid", 6),
            ("f'/x/{helper()}'", "helper", 6),
            ("f'/x/{UNKNOWN}'", "UNKNOWN", 6),
            ("f'{random.randint(1, 10):03}'", "format spec", 0),
            ("None", "null", 0),
        ] {
            let e = eval(&s, expr).unwrap_err();
            assert!(e.what.contains(needle), "{expr}: {}", e.what);
            assert_eq!(usize::from(e.at), column, "{expr}");
        }
    }

    #[test]
    fn json_bodies_keep_numbers_numbers() {
        let s = scope();
        let v = eval(&s, "{'id': random.randint(1, 5), 'side': random.choice(['buy', 'sell']), 'n': random.choice([30, 60]), 'q': 1.5}").unwrap();
        let expected: toml::Value =
            toml::from_str("id = \"{1..5}\"\nside = \"{buy|sell}\"\nn = \"{30|60}\"\nq = 1.5")
                .unwrap();
        assert_eq!(body_value(&v).unwrap(), expected);
        let mixed = eval(&s, "random.choice(['1', '2'])").unwrap();
        assert!(body_value(&mixed).is_err());
    }
}
