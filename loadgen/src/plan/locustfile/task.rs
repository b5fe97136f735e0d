//! A task's (or `on_start`'s) body to requests: `self.client.get(...)` and its kin in
//! order, `for _ in range(N)` as repeats, `with ... catch_response=True` blocks as checks,
//! local values as generators, `self.other_method()` inlined, `self.interrupt()` noted.
//! Any other statement is warned about, with what it held.

use rustpython_parser::ast::{self, Expr, Ranged, Stmt};
use rustpython_parser::text_size::TextSize;

use super::checks;
use super::model::{Request, Value};
use super::value::{body_value, template_text, Scope, Unsupported};
use super::warning::Warnings;
use crate::plan::target::is_absolute_url;

/// Methods `self.client` has for sending.
const METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "request",
];

/// Most copies a loop over several requests is unrolled into.
const MAX_UNROLLED: usize = 1_000;

/// How deep `self.helper()` calls are inlined.
const MAX_INLINE_DEPTH: usize = 8;

/// What a body did.
#[derive(Debug, Default)]
pub(crate) struct Body {
    pub(crate) requests: Vec<Request>,
    /// Default headers it set (`self.client.headers.update(...)`).
    pub(crate) headers: Vec<(String, String)>,
    /// Whether it calls `self.interrupt()` (leaving its TaskSet).
    pub(crate) interrupts: bool,
    /// Whether that interrupt reschedules at once (Locust's default), skipping a wait.
    pub(crate) interrupt_skips_wait: bool,
}

/// Finds a method of the class the body belongs to, by name.
pub(crate) type Methods<'a, 'f> = &'f dyn Fn(&str) -> Option<&'a ast::StmtFunctionDef>;

/// Reads bodies of one class's methods.
pub(crate) struct Reader<'a, 'f, 'w, 't> {
    scope: Scope,
    methods: Methods<'a, 'f>,
    warnings: &'w mut Warnings<'t>,
    /// Whether this is `on_start` (headers set there are expected).
    on_start: bool,
    /// The method's first parameter (`self`, or `user` in a module-level task).
    this: String,
    depth: usize,
    /// Requests using each local bound to a drawn value: Python draws it once, the
    /// scenario at each use.
    drawn_uses: Vec<(String, TextSize, usize)>,
}

impl<'a, 'f, 'w, 't> Reader<'a, 'f, 'w, 't> {
    /// A reader for `def`, a method of the class `methods` looks into.
    pub(crate) fn new(
        scope: Scope,
        methods: Methods<'a, 'f>,
        warnings: &'w mut Warnings<'t>,
        def: &ast::StmtFunctionDef,
        on_start: bool,
    ) -> Self {
        let this = def
            .args
            .posonlyargs
            .iter()
            .chain(&def.args.args)
            .next()
            .map_or_else(|| "self".to_owned(), |a| a.def.arg.to_string());
        Self {
            scope,
            methods,
            warnings,
            on_start,
            this,
            depth: 0,
            drawn_uses: Vec::new(),
        }
    }

    /// The dotted name of a callee, with the method's own parameter written `self`.
    fn callee(&self, e: &Expr) -> String {
        let q = self.scope.qualified(e).unwrap_or_default();
        match q.strip_prefix(self.this.as_str()) {
            Some(rest) if rest.starts_with('.') => format!("self{rest}"),
            _ => q,
        }
    }

    fn client_method(&self, func: &Expr) -> Option<String> {
        let Expr::Attribute(a) = func else {
            return None;
        };
        let owner = self.callee(&a.value);
        (matches!(owner.as_str(), "self.client" | "self.user.client")
            && METHODS.contains(&a.attr.as_str()))
        .then(|| a.attr.to_string())
    }

    /// Reads a function's statements.
    pub(crate) fn function(&mut self, def: &ast::StmtFunctionDef) -> Body {
        let mut body = Body::default();
        self.stmts(&def.body, &mut body);
        for (name, at, uses) in std::mem::take(&mut self.drawn_uses) {
            if uses > 1 {
                self.warnings.warn(
                    at,
                    format!("`{name}` is drawn once and used by {uses} requests; the scenario draws it afresh for each (the requests no longer share the value)"),
                );
            }
        }
        body
    }

    /// Counts the request's use of locals bound to drawn values.
    fn note_drawn_uses(&mut self, call: &ast::ExprCall) {
        let mut names = Vec::new();
        for e in call
            .args
            .iter()
            .chain(call.keywords.iter().map(|k| &k.value))
        {
            names_in(e, &mut names);
        }
        names.sort();
        names.dedup();
        for name in names {
            if let Some(entry) = self.drawn_uses.iter_mut().find(|(n, ..)| *n == name) {
                entry.2 += 1;
            }
        }
    }

    fn stmts(&mut self, stmts: &[Stmt], out: &mut Body) {
        for stmt in stmts {
            if out.interrupts {
                self.warnings.warn(
                    stmt.start(),
                    "skipped code after self.interrupt() (never reached)",
                );
                return;
            }
            self.stmt(stmt, out);
        }
    }

    fn stmt(&mut self, stmt: &Stmt, out: &mut Body) {
        match stmt {
            Stmt::Expr(e) => self.expr_stmt(&e.value, out),
            Stmt::Assign(a) => self.assign(stmt, &a.targets, &a.value, out),
            Stmt::AnnAssign(a) => {
                if let Some(v) = &a.value {
                    self.assign(stmt, std::slice::from_ref(&*a.target), v, out);
                }
            }
            Stmt::With(with) => self.with(stmt, with, out),
            Stmt::For(f) => self.for_range(stmt, f, out),
            Stmt::Pass(_) => {}
            Stmt::Return(r) if r.value.is_none() => {}
            other => {
                let kind = statement_kind(other);
                let inside = count_requests(std::slice::from_ref(other));
                let lost = match inside {
                    0 => String::new(),
                    1 => " and the request inside it".to_owned(),
                    n => format!(" and the {n} requests inside it"),
                };
                self.warnings.warn(
                    other.start(),
                    format!("skipped {kind}{lost} (the import reads requests in a fixed order, never a branch or loop taken at run time)"),
                );
            }
        }
    }

    fn expr_stmt(&mut self, e: &Expr, out: &mut Body) {
        let Expr::Call(call) = e else {
            if !super::module::is_str(e) {
                self.warnings
                    .warn(e.start(), "skipped an expression statement");
            }
            return;
        };
        if let Some(method) = self.client_method(&call.func) {
            if let Some(r) = self.request(call, &method) {
                out.requests.push(r);
            }
            return;
        }
        let callee = self.callee(&call.func);
        match callee.as_str() {
            "self.client.headers.update" => self.headers_update(call, out),
            "self.interrupt" => {
                out.interrupts = true;
                // Locust's default, reschedule=True, starts the parent's next task
                // without a wait.
                let waits_after = call.args.first().or_else(|| {
                    call.keywords
                        .iter()
                        .find(|k| k.arg.as_deref() == Some("reschedule"))
                        .map(|k| &k.value)
                });
                out.interrupt_skips_wait = !matches!(
                    waits_after.map(|e| self.scope.value(e)),
                    Some(Ok(Value::Bool(false)))
                );
            }
            "print" => {}
            _ if callee.starts_with("logging.") || callee.starts_with("logger.") => {}
            "time.sleep" | "gevent.sleep" => self.warnings.warn(
                e.start(),
                format!("skipped `{callee}(...)` inside a task (loadgen waits only between tasks, by the class's wait_time)"),
            ),
            _ => {
                if let Some(name) = callee.strip_prefix("self.") {
                    if let Some(def) = (self.methods)(name) {
                        self.inline(e, call, def, out);
                        return;
                    }
                }
                let shown = if callee.is_empty() { "a call" } else { &callee };
                self.warnings.warn(
                    e.start(),
                    format!("skipped a call to `{shown}` (the import never runs code; only requests, headers and interrupts are read)"),
                );
            }
        }
    }

    /// `self.helper()`: the helper's requests in place.
    fn inline(
        &mut self,
        e: &Expr,
        call: &ast::ExprCall,
        def: &ast::StmtFunctionDef,
        out: &mut Body,
    ) {
        if !call.args.is_empty() || !call.keywords.is_empty() {
            self.warnings.warn(
                e.start(),
                format!("skipped `self.{}(...)`: the import inlines helper methods only when called without arguments", def.name),
            );
            return;
        }
        if self.depth >= MAX_INLINE_DEPTH {
            self.warnings.warn(
                e.start(),
                format!("skipped `self.{}()`: helpers nested more than {MAX_INLINE_DEPTH} deep (recursion?)", def.name),
            );
            return;
        }
        let locals = std::mem::take(&mut self.scope.locals);
        self.depth += 1;
        self.stmts(&def.body, out);
        self.depth -= 1;
        self.scope.locals = locals;
    }

    fn assign(&mut self, stmt: &Stmt, targets: &[Expr], value: &Expr, out: &mut Body) {
        // `r = self.client.get(...)`: the request counts; `r` is a response from now on.
        if let Expr::Call(call) = value {
            if let Some(method) = self.client_method(&call.func) {
                if let Some(r) = self.request(call, &method) {
                    out.requests.push(r);
                }
                for t in targets {
                    self.unbind(t, "a response, known only at run time");
                }
                return;
            }
        }
        for target in targets {
            match target {
                Expr::Name(n) => match self.scope.value(value) {
                    Ok(v) => {
                        self.drawn_uses.retain(|(k, ..)| k != n.id.as_str());
                        if v.is_drawn() {
                            self.drawn_uses.push((n.id.to_string(), target.start(), 0));
                        }
                        self.scope.unreadable.remove(n.id.as_str());
                        self.scope.locals.insert(n.id.to_string(), v);
                    }
                    Err(e) => self.unbind(target, &e.what),
                },
                Expr::Subscript(s)
                    if self.callee(&s.value) == "self.client.headers" =>
                {
                    match (self.scope.value(&s.slice), self.scope.value(value)) {
                        (Ok(Value::Str(k)), Ok(v)) => self.header(stmt, k, &v, out),
                        (Err(e), _) | (_, Err(e)) => self.skip("a header", &e),
                        _ => self.warnings.warn(stmt.start(), "skipped a header whose name is not a string"),
                    }
                }
                _ => self.warnings.warn(
                    target.start(),
                    "skipped an assignment to something other than a local name (values kept on `self` are known only at run time)",
                ),
            }
        }
    }

    /// Forgets a local, remembering why it cannot be read.
    fn unbind(&mut self, target: &Expr, why: &str) {
        if let Expr::Name(n) = target {
            self.scope.locals.remove(n.id.as_str());
            self.scope
                .unreadable
                .insert(n.id.to_string(), why.to_owned());
        }
    }

    fn headers_update(&mut self, call: &ast::ExprCall, out: &mut Body) {
        let Some(arg) = call.args.first() else {
            return;
        };
        match self.scope.value(arg) {
            Ok(Value::Dict(entries)) => {
                for (k, v) in entries {
                    self.header(arg, k, &v, out);
                }
            }
            Ok(_) => self.warnings.warn(
                arg.start(),
                "skipped headers.update of something not a dict",
            ),
            Err(e) => self.skip("headers.update", &e),
        }
    }

    fn header(&mut self, at: &impl Ranged, name: String, v: &Value, out: &mut Body) {
        if v.is_drawn() {
            self.warnings.warn(
                at.start(),
                format!("skipped header {name}: its value is drawn at run time, and scenario headers are fixed"),
            );
            return;
        }
        let Ok(value) = template_text(v).map(|t| t.replace("{{", "{").replace("}}", "}")) else {
            self.warnings.warn(
                at.start(),
                format!("skipped header {name}: its value is not text"),
            );
            return;
        };
        if !self.on_start {
            self.warnings.warn(
                at.start(),
                format!("header {name} is set inside a task: the import sets it for the whole user, from the start"),
            );
        }
        out.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        out.headers.push((name, value));
    }

    fn skip(&mut self, what: &str, e: &Unsupported) {
        self.warnings
            .warn(e.at, format!("skipped {what}: it uses {}", e.what));
    }

    fn with(&mut self, stmt: &Stmt, with: &ast::StmtWith, out: &mut Body) {
        let [item] = with.items.as_slice() else {
            self.warnings.warn(
                stmt.start(),
                "skipped a `with` block of several context managers",
            );
            return;
        };
        let Expr::Call(call) = &item.context_expr else {
            self.warnings
                .warn(stmt.start(), "skipped a `with` block that is not a request");
            return;
        };
        let Some(method) = self.client_method(&call.func) else {
            self.warnings
                .warn(stmt.start(), "skipped a `with` block that is not a request");
            return;
        };
        let Some(mut request) = self.request(call, &method) else {
            return;
        };
        let response = match item.optional_vars.as_deref() {
            Some(Expr::Name(n)) => Some(n.id.to_string()),
            _ => None,
        };
        let mut scope = self.scope.clone();
        request.checks = match &response {
            Some(r) => checks::read(&with.body, r, &mut scope, self.warnings),
            None => Vec::new(),
        };
        // Requests inside the block come after this one.
        let inner = count_requests(&with.body);
        if inner > 0 {
            self.warnings.warn(
                with.body[0].start(),
                "skipped the requests inside a catch_response block",
            );
        }
        out.requests.push(request);
    }

    fn for_range(&mut self, stmt: &Stmt, f: &ast::StmtFor, out: &mut Body) {
        let count = match &*f.iter {
            Expr::Call(c)
                if self.scope.qualified(&c.func).as_deref() == Some("range")
                    && c.args.len() == 1
                    && c.keywords.is_empty() =>
            {
                self.scope.int(&c.args[0]).ok()
            }
            _ => None,
        };
        let Some(count) = count
            .and_then(|n| u32::try_from(n).ok())
            .filter(|_| f.orelse.is_empty())
        else {
            self.stmt_skipped(stmt, "a `for` loop over something other than range(N)");
            return;
        };
        // The body read with the counter at 0; read again at 1 (quietly) to see
        // whether the counter matters: if not, one request is a repeat.
        let first = self.loop_body(&f.target, 0, &f.body, false);
        out.headers.extend(first.headers.iter().cloned());
        out.interrupts |= first.interrupts;
        out.interrupt_skips_wait |= first.interrupt_skips_wait;
        if count == 0 || first.requests.is_empty() {
            return;
        }
        let uses_counter =
            count > 1 && self.loop_body(&f.target, 1, &f.body, true).requests != first.requests;
        let unrolled = first.requests.len() * count as usize;
        match (uses_counter, first.requests.len()) {
            (false, 1) => {
                for mut r in first.requests {
                    r.repeat = r.repeat.saturating_mul(count);
                    out.requests.push(r);
                }
            }
            _ if unrolled <= MAX_UNROLLED => {
                out.requests.extend(first.requests.iter().cloned());
                for i in 1..count {
                    let next = if uses_counter {
                        self.loop_body(&f.target, i64::from(i), &f.body, true)
                            .requests
                    } else {
                        first.requests.clone()
                    };
                    out.requests.extend(next);
                }
            }
            _ => self.warnings.warn(
                stmt.start(),
                format!(
                    "skipped a loop of {count} x {} requests (more than {MAX_UNROLLED} unrolled)",
                    first.requests.len()
                ),
            ),
        }
    }

    /// A loop's body read with its counter bound to `i`.
    fn loop_body(&mut self, target: &Expr, i: i64, body: &[Stmt], quiet: bool) -> Body {
        match target {
            Expr::Name(n) => {
                self.scope.unreadable.remove(n.id.as_str());
                self.scope.locals.insert(n.id.to_string(), Value::Int(i));
            }
            other => self.unbind(other, "a loop target the import does not read"),
        }
        if quiet {
            self.warnings.mute();
        }
        let mut inner = Body::default();
        self.stmts(body, &mut inner);
        if quiet {
            self.warnings.unmute();
        }
        inner
    }

    fn stmt_skipped(&mut self, stmt: &Stmt, what: &str) {
        let n = count_requests(std::slice::from_ref(stmt));
        self.warnings.warn(
            stmt.start(),
            format!("skipped {what} and the {n} request(s) inside it"),
        );
    }

    /// One `self.client.METHOD(...)` call as a request, or a warning and `None`.
    fn request(&mut self, call: &ast::ExprCall, method: &str) -> Option<Request> {
        self.note_drawn_uses(call);
        let line = self.warnings.line(call.start());
        let mut args = call.args.iter();
        let method = if method == "request" {
            let m = args.next().map(|a| self.scope.value(a));
            match m {
                Some(Ok(Value::Str(m))) => m.to_ascii_uppercase(),
                _ => {
                    self.warnings.warn(
                        call.start(),
                        "skipped a client.request(...) whose method is not a string constant",
                    );
                    return None;
                }
            }
        } else {
            method.to_ascii_uppercase()
        };
        let mut url = args.next();
        if args.next().is_some() {
            self.warnings.warn(
                call.start(),
                "skipped a request with positional arguments after the URL (give them by keyword)",
            );
            return None;
        }
        let mut request = Request {
            line,
            method,
            path: String::new(),
            name: None,
            body: None,
            form: Vec::new(),
            headers: Vec::new(),
            repeat: 1,
            checks: Vec::new(),
        };
        let mut params = None;
        for k in &call.keywords {
            let key = k.arg.as_deref().unwrap_or("**");
            match key {
                "url" | "path" => url = Some(&k.value),
                "name" => match self.scope.value(&k.value).map(|v| (v.is_drawn(), template_text(&v))) {
                    Ok((false, Ok(text))) => request.name = Some(text.replace("{{", "{").replace("}}", "}")),
                    Ok(_) => self.warnings.warn(k.value.start(), "skipped name=: it is drawn at run time (the row would change per request); rows are named by the path"),
                    Err(e) => self.skip("name=", &e),
                },
                "json" => match self.scope.value(&k.value).map(|v| body_value(&v)) {
                    Ok(Ok(body)) => request.body = Some(body),
                    Ok(Err(why)) => {
                        self.warnings.warn(k.value.start(), format!("skipped the request: its json= holds {why}"));
                        return None;
                    }
                    Err(e) => {
                        self.skip("the request (json=)", &e);
                        return None;
                    }
                },
                "params" => params = Some(&k.value),
                "headers" => match self.scope.value(&k.value) {
                    Ok(Value::Dict(entries)) => {
                        for (name, v) in entries {
                            match (v.is_drawn(), template_text(&v)) {
                                (false, Ok(t)) => request.headers.push((name, t.replace("{{", "{").replace("}}", "}"))),
                                _ => self.warnings.warn(k.value.start(), format!("skipped header {name}: its value is drawn at run time")),
                            }
                        }
                    }
                    Ok(_) => self.warnings.warn(k.value.start(), "skipped headers= that is not a dict"),
                    Err(e) => self.skip("headers=", &e),
                },
                "catch_response" => {}
                "data" => match self.scope.value(&k.value) {
                    Ok(Value::Dict(entries)) => {
                        for (name, v) in entries {
                            match template_text(&v) {
                                Ok(t) => request.form.push((name, t)),
                                Err(why) => {
                                    self.warnings.warn(k.value.start(), format!("skipped the request: its data= field {name} holds {why}"));
                                    return None;
                                }
                            }
                        }
                    }
                    Ok(_) => {
                        self.warnings.warn(
                            k.value.start(),
                            "skipped the request: data= that is not a dict (a raw body) is not read; scenarios send JSON (json=) or form fields (data={...})",
                        );
                        return None;
                    }
                    Err(e) => {
                        self.skip("the request (data=)", &e);
                        return None;
                    }
                },
                other => self.warnings.warn(
                    k.value.start(),
                    format!("ignored the keyword {other}= of the request (the request is kept without it)"),
                ),
            }
        }
        let Some(url) = url else {
            self.warnings
                .warn(call.start(), "skipped a request without a URL");
            return None;
        };
        let path = match self.scope.value(url).map(|v| template_text(&v)) {
            Ok(Ok(p)) => p,
            Ok(Err(why)) => {
                self.warnings.warn(
                    url.start(),
                    format!("skipped the request: its URL holds {why}"),
                );
                return None;
            }
            Err(e) => {
                self.skip("the request", &e);
                return None;
            }
        };
        if path.contains("://") && !is_absolute_url(&path) {
            self.warnings.warn(
                url.start(),
                "skipped a request to a URL that is neither http:// nor https://",
            );
            return None;
        }
        request.path = if path.starts_with('/') || is_absolute_url(&path) {
            path
        } else {
            format!("/{path}")
        };
        if let Some(p) = params {
            match self.scope.value(p) {
                Ok(Value::Dict(entries)) => match query(&entries) {
                    Ok(q) if !q.is_empty() => {
                        let sep = if request.path.contains('?') { '&' } else { '?' };
                        request.path = format!("{}{sep}{q}", request.path);
                    }
                    Ok(_) => {}
                    Err(why) => self
                        .warnings
                        .warn(p.start(), format!("skipped params=: it holds {why}")),
                },
                Ok(_) => self
                    .warnings
                    .warn(p.start(), "skipped params= that is not a dict"),
                Err(e) => self.skip("params=", &e),
            }
        }
        Some(request)
    }
}

/// `params={...}` as a query string: literal text percent-encoded, generators kept.
fn query(entries: &[(String, Value)]) -> Result<String, String> {
    let mut parts = Vec::new();
    for (k, v) in entries {
        parts.push(format!("{}={}", encode(k), template_text(&encoded(v))?));
    }
    Ok(parts.join("&"))
}

/// The value with its literal text percent-encoded for a query.
fn encoded(v: &Value) -> Value {
    use super::model::Drawn;
    match v {
        Value::Str(s) => Value::Str(encode(s)),
        Value::Joined(parts) => Value::Joined(parts.iter().map(encoded).collect()),
        Value::Drawn(Drawn::Choice(options)) => {
            Value::Drawn(Drawn::Choice(options.iter().map(encoded).collect()))
        }
        other => other.clone(),
    }
}

/// Encodes a query key or value as requests does (Python's `quote_plus`): unreserved
/// characters as they are, a space as `+`, everything else percent-encoded.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The plain names an expression reads (`x` in `f"/a/{x}"`).
fn names_in(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Name(n) => out.push(n.id.to_string()),
        Expr::JoinedStr(j) => j.values.iter().for_each(|v| names_in(v, out)),
        Expr::FormattedValue(f) => names_in(&f.value, out),
        Expr::Call(c) => c
            .args
            .iter()
            .chain(c.keywords.iter().map(|k| &k.value))
            .for_each(|v| names_in(v, out)),
        Expr::Dict(d) => d
            .keys
            .iter()
            .flatten()
            .chain(&d.values)
            .for_each(|v| names_in(v, out)),
        Expr::List(l) => l.elts.iter().for_each(|v| names_in(v, out)),
        Expr::Tuple(t) => t.elts.iter().for_each(|v| names_in(v, out)),
        Expr::BinOp(b) => {
            names_in(&b.left, out);
            names_in(&b.right, out);
        }
        Expr::Subscript(s) => names_in(&s.value, out),
        _ => {}
    }
}

/// Whether a call looks like `*.client.METHOD(...)` (for counting what a skipped
/// statement held).
fn looks_like_request(func: &Expr) -> bool {
    matches!(func, Expr::Attribute(a) if METHODS.contains(&a.attr.as_str())
        && matches!(&*a.value, Expr::Attribute(c) if c.attr.as_str() == "client"))
}

/// How many client requests a statement list holds (anywhere inside).
pub(crate) fn count_requests(list: &[Stmt]) -> usize {
    struct Count(usize);
    fn expr(e: &Expr, c: &mut Count) {
        if let Expr::Call(call) = e {
            if looks_like_request(&call.func) {
                c.0 += 1;
            }
        }
    }
    fn stmts(list: &[Stmt], c: &mut Count) {
        for s in list {
            match s {
                Stmt::Expr(e) => expr(&e.value, c),
                Stmt::Assign(a) => expr(&a.value, c),
                Stmt::With(w) => {
                    for item in &w.items {
                        expr(&item.context_expr, c);
                    }
                    stmts(&w.body, c);
                }
                Stmt::If(i) => {
                    stmts(&i.body, c);
                    stmts(&i.orelse, c);
                }
                Stmt::For(f) => {
                    stmts(&f.body, c);
                    stmts(&f.orelse, c);
                }
                Stmt::While(wh) => {
                    stmts(&wh.body, c);
                    stmts(&wh.orelse, c);
                }
                Stmt::Try(t) => {
                    stmts(&t.body, c);
                    stmts(&t.orelse, c);
                    stmts(&t.finalbody, c);
                }
                _ => {}
            }
        }
    }
    let mut c = Count(0);
    stmts(list, &mut c);
    c.0
}

/// A statement's kind, as a person would name it.
fn statement_kind(stmt: &Stmt) -> &'static str {
    match stmt {
        Stmt::If(_) => "an `if` statement",
        Stmt::While(_) => "a `while` loop",
        Stmt::For(_) | Stmt::AsyncFor(_) => "a `for` loop",
        Stmt::Try(_) | Stmt::TryStar(_) => "a `try` block",
        Stmt::Return(_) => "a `return` with a value",
        Stmt::Raise(_) => "a `raise`",
        Stmt::FunctionDef(_) | Stmt::AsyncFunctionDef(_) => "a nested function",
        Stmt::AugAssign(_) => "an augmented assignment",
        Stmt::Assert(_) => "an `assert`",
        Stmt::Match(_) => "a `match` statement",
        _ => "a statement of a kind the import does not read",
    }
}
