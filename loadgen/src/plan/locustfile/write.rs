//! The imported model as a scenario file a person can read and keep: one table per
//! class, one per task, each commented with the line of the locustfile it came from,
//! requests as one inline table per line.

use std::fmt::Write as _;

use super::model::{Class, Cond, Imported, Request, Rule, Task, Value, Wait};
use super::value::python_float;

/// The scenario TOML for an import of `file`.
pub(crate) fn scenario(file: &str, imported: &Imported) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Imported from the locustfile {file} by `loadgen import`: each class and task"
    );
    let _ = writeln!(out, "# names the line it came from.");
    let _ = writeln!(out);
    if let Some(d) = &imported.description {
        let _ = writeln!(out, "description = {}", string(d));
        let _ = writeln!(out);
    }
    for class in &imported.classes {
        write_class(&mut out, file, class);
    }
    if !imported.criteria.is_empty() {
        let line = imported.criteria_line.unwrap_or(0);
        let _ = writeln!(
            out,
            "# The quitting judge ({file} line {line}): the run fails when any threshold is crossed."
        );
        let _ = writeln!(out, "[[criteria]]");
        let _ = writeln!(out, "row = \"Aggregated\"");
        let thresholds: Vec<String> = imported
            .criteria
            .iter()
            .map(|t| string(&t.expression))
            .collect();
        let _ = writeln!(out, "thresholds = [{}]", thresholds.join(", "));
    }
    out
}

fn write_class(out: &mut String, file: &str, class: &Class) {
    let doc = class
        .doc
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# class {} ({file} line {}){doc}",
        class.name, class.line
    );
    if let Some(host) = &class.host {
        let _ = writeln!(out, "# Its host is {host}; loadgen takes the host from -H.");
    }
    let table = format!("classes.{}", key(&class.name));
    let _ = writeln!(out, "[{table}]");
    if let Some(n) = class.fixed_count {
        let _ = writeln!(out, "fixed_count = {n}");
    } else if let Some(w) = class.weight {
        let _ = writeln!(out, "weight = {}", number(w));
    }
    if let Some(wait) = &class.wait {
        let _ = writeln!(out, "wait = {}", wait_text(wait));
    }
    if !class.headers.is_empty() {
        let pairs: Vec<String> = class
            .headers
            .iter()
            .map(|(k, v)| format!("{} = {}", key(k), string(v)))
            .collect();
        let _ = writeln!(out, "headers = {{ {} }}", pairs.join(", "));
    }
    if !class.on_start.is_empty() {
        let _ = writeln!(out, "on_start = [");
        for r in &class.on_start {
            let _ = writeln!(out, "  {},  # line {}", request(r), r.line);
        }
        let _ = writeln!(out, "]");
    }
    let _ = writeln!(out);
    for task in &class.tasks {
        write_task(out, file, &table, task);
    }
}

fn write_task(out: &mut String, file: &str, table: &str, task: &Task) {
    let note = task
        .note
        .as_deref()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# task {} ({file} line {}){note}",
        task.name, task.line
    );
    let _ = writeln!(out, "[[{table}.tasks]]");
    let _ = writeln!(out, "name = {}", string(&task.name));
    let _ = writeln!(out, "weight = {}", task.weight);
    let _ = writeln!(out, "requests = [");
    for r in &task.requests {
        let _ = writeln!(out, "  {},  # line {}", request(r), r.line);
    }
    let _ = writeln!(out, "]");
    let _ = writeln!(out);
}

/// One request as an inline table.
fn request(r: &Request) -> String {
    let mut fields = vec![
        format!("method = {}", string(&r.method)),
        format!("path = {}", string(&r.path)),
    ];
    if let Some(name) = &r.name {
        fields.push(format!("name = {}", string(name)));
    }
    if r.repeat > 1 {
        fields.push(format!("repeat = {}", r.repeat));
    }
    if !r.headers.is_empty() {
        let pairs: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{} = {}", key(k), string(v)))
            .collect();
        fields.push(format!("headers = {{ {} }}", pairs.join(", ")));
    }
    if let Some(body) = &r.body {
        fields.push(format!("body = {}", inline(body)));
    }
    if !r.form.is_empty() {
        let pairs: Vec<String> = r
            .form
            .iter()
            .map(|(k, v)| format!("{} = {}", key(k), string(v)))
            .collect();
        fields.push(format!("form = {{ {} }}", pairs.join(", ")));
    }
    if !r.checks.is_empty() {
        let checks: Vec<String> = r.checks.iter().map(check).collect();
        fields.push(format!("checks = [{}]", checks.join(", ")));
    }
    format!("{{ {} }}", fields.join(", "))
}

fn check(rule: &Rule) -> String {
    let mut fields: Vec<String> = rule.conditions.iter().map(condition).collect();
    fields.push(match &rule.failure {
        Some(m) => format!("failure = {}", string(m)),
        None => "success = true".to_owned(),
    });
    format!("{{ {} }}", fields.join(", "))
}

fn condition(c: &Cond) -> String {
    let codes = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
    match c {
        Cond::StatusIn(v) => format!("status_in = [{}]", codes(v)),
        Cond::StatusNotIn(v) => format!("status_not_in = [{}]", codes(v)),
        Cond::StatusBetween(lo, hi) => format!("status_between = [{lo}, {hi}]"),
        Cond::JsonHas(p) => format!("json_has = {}", string(p)),
        Cond::JsonLacks(p) => format!("json_lacks = {}", string(p)),
        Cond::JsonEquals(p, v) => format!("json_equals = {{ {} = {} }}", string(p), scalar(v)),
        Cond::JsonDiffers(p, v) => format!("json_differs = {{ {} = {} }}", string(p), scalar(v)),
    }
}

/// A literal compared in a check (never a template).
fn scalar(v: &Value) -> String {
    match v {
        Value::Str(s) => string(s),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => python_float(*f),
        Value::Bool(b) => b.to_string(),
        _ => "\"\"".to_owned(),
    }
}

fn wait_text(w: &Wait) -> String {
    match w {
        Wait::Between(a, b) => format!("{{ between = [{}, {}] }}", number(*a), number(*b)),
        Wait::Constant(x) => format!("{{ constant = {} }}", number(*x)),
        Wait::ConstantPacing(x) => format!("{{ constant_pacing = {} }}", number(*x)),
        Wait::ConstantThroughput(r) => format!("{{ constant_throughput = {} }}", number(*r)),
    }
}

/// A number as TOML writes it (integers without a fraction).
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A TOML value on one line.
fn inline(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let pairs: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect();
            if pairs.is_empty() {
                "{}".to_owned()
            } else {
                format!("{{ {} }}", pairs.join(", "))
            }
        }
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::String(s) => string(s),
        other => other.to_string(),
    }
}

/// A TOML basic string.
fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A TOML key: bare when it can be, quoted otherwise.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        k.to_owned()
    } else {
        string(k)
    }
}
