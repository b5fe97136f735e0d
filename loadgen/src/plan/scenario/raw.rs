//! The scenario file as written (serde types with spans) and its validation into the
//! compiled model. Every error names file, line, column and what was expected.
//!
//! ```toml
//! description = "..."                 # optional, shown by --list
//!
//! [classes.ACISAPIUser]               # one table per user class (Locust's HttpUser)
//! weight = 1                          # float > 0 (default 1), or fixed_count = N instead
//! wait = { between = [1, 5] }         # or constant = x, constant_pacing = x,
//!                                     # constant_throughput = r (default: no wait)
//! headers = { Accept = "application/json" }   # set on start, sent with every request
//! on_start = [{ method = "POST", path = "/login" }]   # once per user, before its first task
//!
//! [[classes.ACISAPIUser.tasks]]       # weighted tasks, picked independently each loop
//! name = "get_client"
//! weight = 3                          # integer >= 1 (default 1)
//! requests = [                        # run in order
//!   { method = "GET", path = "/api/clients/{1..10}", name = "/api/clients/[id]" },
//! ]
//! ```
//!
//! A request has `method`, `path` (path and query, a template; or an absolute `http://`
//! or `https://` URL, sent to that host as Locust does), an optional stats `name`
//! (default: the rendered path and query, as in Locust), an optional JSON `body` (any TOML value;
//! its strings are templates) or `form` (fields sent urlencoded, as Locust's `data=`
//! dict; values are templates), optional `headers`, `repeat` (default 1) to send it
//! several times in a row with fresh values, and `checks` (see `check`: a locustfile's
//! `catch_response` verdicts). Templates are described in `template`.
//!
//! Optional `[[criteria]]` tables (pass/fail thresholds, see `criteria`) and a
//! `[baselines]` table (replacing lines of the guide's table, see `baseline`) are
//! validated here too, with the position of a malformed threshold.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use toml::Spanned;

use super::check::RawCheck;
use super::{RequestSpec, Scenario, ScenarioError, Task, UserClass, WaitTime};
use crate::plan::target::is_absolute_url;
use crate::plan::template::{Template, TemplateError};

/// Largest class weight (the dispatcher sums weights as integers).
const MAX_CLASS_WEIGHT: f64 = 1e9;

/// Most times a request may repeat inside one task.
const MAX_REPEAT: u32 = 10_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    description: String,
    classes: BTreeMap<String, Spanned<RawClass>>,
    stages: Option<Vec<Spanned<crate::plan::shape::RawStage>>>,
    arrival: Option<Spanned<crate::plan::shape::RawArrival>>,
    #[serde(default)]
    criteria: Vec<crate::verdict::criteria::RawCriteriaGroup>,
    baselines: Option<Spanned<crate::verdict::baseline::Baselines>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    weight: Option<Spanned<f64>>,
    fixed_count: Option<Spanned<i64>>,
    wait: Option<Spanned<RawWait>>,
    headers: Option<BTreeMap<String, String>>,
    on_start: Option<Vec<Spanned<RawRequest>>>,
    tasks: Spanned<Vec<Spanned<RawTask>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawWait {
    Between([f64; 2]),
    Constant(f64),
    ConstantPacing(f64),
    ConstantThroughput(f64),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: Spanned<String>,
    weight: Option<Spanned<i64>>,
    requests: Spanned<Vec<Spanned<RawRequest>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: Spanned<String>,
    path: Spanned<String>,
    name: Option<String>,
    body: Option<Spanned<toml::Value>>,
    form: Option<Spanned<BTreeMap<String, String>>>,
    headers: Option<BTreeMap<String, String>>,
    repeat: Option<Spanned<i64>>,
    checks: Option<Spanned<Vec<RawCheck>>>,
}

/// Errors are built against the source text, which turns spans into line and column.
struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, offset: usize, message: impl Into<String>) -> ScenarioError {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ScenarioError::Invalid {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn span(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        self.at(span.start, message)
    }

    /// An error inside a string value: the span covers the quotes, the offset the content.
    fn in_string(&self, span: Range<usize>, e: &TemplateError, what: &str) -> ScenarioError {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        self.at(
            span.start + quote + e.offset,
            format!("{what}: {}", e.message),
        )
    }
}

/// Parses and validates a scenario.
pub(super) fn compile(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let ctx = Ctx { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        ctx.at(offset, e.message().trim_end().to_owned())
    })?;
    let classes = raw.classes;
    if classes.is_empty() {
        return Err(ctx.at(
            0,
            "no user classes: expected at least one [classes.NAME] table",
        ));
    }
    let mut out = Vec::new();
    for (name, class) in classes {
        out.push(Arc::new(compile_class(&ctx, name, class)?));
    }
    let plan = match (&raw.stages, &raw.arrival) {
        (Some(_), Some(arrival)) => {
            return Err(ctx.span(
                arrival.span(),
                "give either [[stages]] (users) or [arrival] (an arrival rate), not both",
            ))
        }
        (Some(stages), None) => Some(crate::plan::shape::compile_stages(stages)),
        (None, Some(arrival)) => Some(crate::plan::shape::compile_arrival(arrival)),
        (None, None) => None,
    };
    let plan = plan
        .transpose()
        .map_err(|(span, message)| ctx.span(span, message))?;
    let criteria = crate::verdict::criteria::CriteriaSet::from_raw(&raw.criteria)
        .map_err(|e| ctx.span(e.span, e.message))?;
    let baselines = match raw.baselines {
        Some(b) => {
            let span = b.span();
            let b = b.into_inner();
            b.validate().map_err(|e| ctx.span(span, e.to_string()))?;
            b
        }
        None => crate::verdict::baseline::Baselines::default(),
    };
    // BTreeMap iteration already gives name order, which the dispatcher relies on.
    Ok(Scenario {
        source: file.to_owned(),
        description: raw.description,
        classes: out,
        plan,
        criteria,
        baselines,
    })
}

fn compile_class(
    ctx: &Ctx<'_>,
    name: String,
    class: Spanned<RawClass>,
) -> Result<UserClass, ScenarioError> {
    let class_span = class.span();
    let class = class.into_inner();
    if name.trim().is_empty() {
        return Err(ctx.span(
            class_span,
            "empty class name: expected a name such as ACISAPIUser",
        ));
    }
    let weight = match &class.weight {
        Some(w) => {
            let v = *w.get_ref();
            if !(v.is_finite() && v > 0.0 && v <= MAX_CLASS_WEIGHT) {
                return Err(ctx.span(
                    w.span(),
                    format!("bad weight {v} for class {name}: expected a number above 0 and at most {MAX_CLASS_WEIGHT}"),
                ));
            }
            v
        }
        None => 1.0,
    };
    let fixed_count = match &class.fixed_count {
        Some(n) => {
            if class.weight.is_some() {
                return Err(ctx.span(
                    n.span(),
                    format!("class {name} has both weight and fixed_count: expected one of them"),
                ));
            }
            let v = *n.get_ref();
            let v = u64::try_from(v).map_err(|_| {
                ctx.span(
                    n.span(),
                    format!(
                        "bad fixed_count {v} for class {name}: expected an integer of 0 or more"
                    ),
                )
            })?;
            Some(v)
        }
        None => None,
    };
    let wait = match class.wait {
        Some(w) => compile_wait(ctx, &name, w)?,
        None => WaitTime::Zero,
    };
    let headers = compile_headers(ctx, class.headers, class_span.clone())?;
    let on_start = class
        .on_start
        .into_iter()
        .flatten()
        .map(|r| compile_request(ctx, r.into_inner()))
        .collect::<Result<_, _>>()?;
    let tasks_span = class.tasks.span();
    let raw_tasks = class.tasks.into_inner();
    if raw_tasks.is_empty() {
        return Err(ctx.span(
            tasks_span,
            format!("class {name} has no tasks: expected at least one [[classes.{name}.tasks]]"),
        ));
    }
    let mut tasks: Vec<Task> = Vec::new();
    for task in raw_tasks {
        let task = compile_task(ctx, task)?;
        if tasks.iter().any(|t| t.name == task.name) {
            return Err(ctx.span(
                tasks_span.clone(),
                format!(
                    "class {name} has two tasks named {:?}: expected unique task names",
                    task.name
                ),
            ));
        }
        tasks.push(task);
    }
    Ok(UserClass::new(
        name,
        weight,
        fixed_count,
        wait,
        headers,
        on_start,
        tasks,
    ))
}

fn compile_wait(
    ctx: &Ctx<'_>,
    class: &str,
    wait: Spanned<RawWait>,
) -> Result<WaitTime, ScenarioError> {
    let span = wait.span();
    let secs = |v: f64, what: &str| {
        if v.is_finite() && (0.0..=1e9).contains(&v) {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(ctx.span(
                span.clone(),
                format!("bad {what} {v} in class {class}'s wait: expected seconds, 0 or more"),
            ))
        }
    };
    Ok(match wait.into_inner() {
        RawWait::Between([a, b]) => {
            let (min, max) = (
                secs(a, "between lower bound")?,
                secs(b, "between upper bound")?,
            );
            if min > max {
                return Err(ctx.span(
                    span,
                    format!(
                        "bad between({a}, {b}) in class {class}: expected the lower bound first"
                    ),
                ));
            }
            WaitTime::Between { min, max }
        }
        RawWait::Constant(x) => WaitTime::Constant(secs(x, "constant")?),
        RawWait::ConstantPacing(x) => WaitTime::ConstantPacing(secs(x, "constant_pacing")?),
        RawWait::ConstantThroughput(r) => {
            if !(r.is_finite() && r > 0.0) {
                return Err(ctx.span(span, format!("bad constant_throughput {r} in class {class}: expected tasks per second above 0")));
            }
            WaitTime::ConstantThroughput(r)
        }
    })
}

fn compile_headers(
    ctx: &Ctx<'_>,
    headers: Option<BTreeMap<String, String>>,
    span: Range<usize>,
) -> Result<Vec<(HeaderName, HeaderValue)>, ScenarioError> {
    let Some(headers) = headers else {
        return Ok(Vec::new());
    };
    headers
        .into_iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                ctx.span(
                    span.clone(),
                    format!("bad header name {k:?}: expected an HTTP token"),
                )
            })?;
            let value = HeaderValue::from_str(&v).map_err(|_| {
                ctx.span(
                    span.clone(),
                    format!("bad value {v:?} for header {k}: expected visible ASCII"),
                )
            })?;
            Ok((name, value))
        })
        .collect()
}

fn compile_task(ctx: &Ctx<'_>, task: Spanned<RawTask>) -> Result<Task, ScenarioError> {
    let task = task.into_inner();
    let name_span = task.name.span();
    let name = task.name.into_inner();
    if name.trim().is_empty() {
        return Err(ctx.span(
            name_span,
            "empty task name: expected a name such as get_clients",
        ));
    }
    let weight = match task.weight {
        Some(w) => {
            let v = *w.get_ref();
            u32::try_from(v).ok().filter(|&n| n >= 1).ok_or_else(|| {
                ctx.span(
                    w.span(),
                    format!("bad weight {v} for task {name}: expected an integer of 1 or more"),
                )
            })?
        }
        None => 1,
    };
    let requests_span = task.requests.span();
    let raw_requests = task.requests.into_inner();
    if raw_requests.is_empty() {
        return Err(ctx.span(
            requests_span,
            format!("task {name} has no requests: expected at least one"),
        ));
    }
    let requests = raw_requests
        .into_iter()
        .map(|r| compile_request(ctx, r.into_inner()))
        .collect::<Result<_, _>>()?;
    Ok(Task {
        name,
        weight,
        requests,
    })
}

fn compile_request(ctx: &Ctx<'_>, r: RawRequest) -> Result<RequestSpec, ScenarioError> {
    let method_text = r.method.get_ref().to_ascii_uppercase();
    let method = match method_text.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => {
            Method::from_bytes(method_text.as_bytes())
                .map_err(|_| ctx.span(r.method.span(), "bad method"))?
        }
        _ => {
            return Err(ctx.span(
                r.method.span(),
                format!(
                    "bad method {:?}: expected GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
                    r.method.get_ref()
                ),
            ))
        }
    };
    let path_span = r.path.span();
    let path_text = r.path.into_inner();
    if !path_text.starts_with('/') && !is_absolute_url(&path_text) {
        return Err(ctx.span(
            path_span,
            format!("bad path {path_text:?}: expected a path starting with '/', or an absolute http:// or https:// URL"),
        ));
    }
    let path = Template::compile(&path_text)
        .map_err(|e| ctx.in_string(path_span.clone(), &e, "bad path template"))?;
    if let Some(name) = &r.name {
        if name.is_empty() {
            return Err(ctx.span(
                path_span,
                "empty request name: expected a stats name such as /api/clients/[id]",
            ));
        }
    }
    let body = match r.body {
        Some(b) => {
            let span = b.span();
            let value = b.into_inner();
            let template = Template::compile_json(&value).map_err(|(bad, e)| {
                // Point into the offending string inside the body when it can be found.
                let region = ctx.text.get(span.clone()).unwrap_or("");
                match region.find(&bad) {
                    Some(i) => ctx.at(
                        span.start + i + e.offset,
                        format!("bad body template: {}", e.message),
                    ),
                    None => ctx.span(
                        span.clone(),
                        format!("bad body template in {bad:?}: {}", e.message),
                    ),
                }
            })?;
            Some(template)
        }
        None => None,
    };
    let mut headers = compile_headers(ctx, r.headers, path_span)?;
    let body = match (body, r.form) {
        (Some(_), Some(form)) => {
            return Err(ctx.span(
                form.span(),
                "a request with both body and form: expected one of them (body is JSON, form is urlencoded)",
            ))
        }
        (None, Some(form)) => {
            let span = form.span();
            let fields: Vec<(String, String)> = form.into_inner().into_iter().collect();
            let template = Template::compile_form(&fields).map_err(|(bad, e)| {
                ctx.span(span, format!("bad form template in {bad:?}: {}", e.message))
            })?;
            if !headers.iter().any(|(k, _)| k == http::header::CONTENT_TYPE) {
                headers.push((
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                ));
            }
            Some(template)
        }
        (body, None) => body,
    };
    let repeat = match r.repeat {
        Some(n) => {
            let v = *n.get_ref();
            u32::try_from(v)
                .ok()
                .filter(|&k| (1..=MAX_REPEAT).contains(&k))
                .ok_or_else(|| {
                    ctx.span(
                        n.span(),
                        format!("bad repeat {v}: expected an integer from 1 to {MAX_REPEAT}"),
                    )
                })?
        }
        None => 1,
    };
    let checks = match r.checks {
        Some(c) => {
            let span = c.span();
            c.into_inner()
                .into_iter()
                .map(RawCheck::compile)
                .collect::<Result<_, _>>()
                .map_err(|message| ctx.span(span, message))?
        }
        None => Vec::new(),
    };
    Ok(RequestSpec {
        method,
        path,
        path_text,
        name: r.name,
        body,
        headers,
        repeat,
        checks,
    })
}
