//! Grafana dashboards as the tests need them: every panel's queries (nested row panels
//! included) and the template variables, read from the JSON files Grafana provisions;
//! and the substitution of Grafana's variables so that a query becomes plain PromQL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why a dashboard could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// A field is missing or has the wrong type.
    #[error("{path}: {field}: {expected}")]
    Field {
        /// The file.
        path: PathBuf,
        /// JSON path of the field, e.g. `panels[3].targets[0].expr`.
        field: String,
        /// What was expected there.
        expected: String,
    },
}

/// A query of one panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The panel's title.
    pub panel: String,
    /// The target's refId (A, B, ...).
    pub ref_id: String,
    /// The PromQL expression, Grafana variables included.
    pub expr: String,
}

/// A template variable of type `query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Its name (`$name` in queries).
    pub name: String,
    /// Its query, e.g. `label_values(http_requests_total, route)`.
    pub query: String,
    /// The value "All" stands for (a regex when the variable is multi-valued).
    pub all_value: Option<String>,
}

/// One dashboard file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// The file it came from.
    pub path: PathBuf,
    /// Its uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Every target of every panel, in file order.
    pub queries: Vec<Query>,
    /// The template variables.
    pub variables: Vec<Variable>,
    /// Every datasource uid a panel or target names.
    pub datasource_uids: BTreeSet<String>,
}

/// Reads every `*.json` dashboard in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<Dashboard>, DashboardError> {
    let read_err = |source| DashboardError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// Reads one dashboard file.
pub fn load(path: &Path) -> Result<Dashboard, DashboardError> {
    let text = std::fs::read_to_string(path).map_err(|source| DashboardError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses dashboard JSON (`path` is only for messages).
pub fn parse(path: &Path, text: &str) -> Result<Dashboard, DashboardError> {
    let root: Value = serde_json::from_str(text).map_err(|e| DashboardError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let field = |field: &str, expected: &str| DashboardError::Field {
        path: path.to_path_buf(),
        field: field.to_owned(),
        expected: expected.to_owned(),
    };
    let string = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| field(name, "expected a string"))
    };
    let mut dashboard = Dashboard {
        path: path.to_path_buf(),
        uid: string(&root, "uid")?,
        title: string(&root, "title")?,
        queries: Vec::new(),
        variables: Vec::new(),
        datasource_uids: BTreeSet::new(),
    };
    let panels = root
        .get("panels")
        .and_then(Value::as_array)
        .ok_or_else(|| field("panels", "expected an array of panels"))?;
    collect_panels(panels, "panels", &mut dashboard, &field)?;
    if let Some(list) = root.pointer("/templating/list").and_then(Value::as_array) {
        for (i, var) in list.iter().enumerate() {
            let at = format!("templating.list[{i}]");
            if var.get("type").and_then(Value::as_str) != Some("query") {
                continue;
            }
            let name = var
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| field(&format!("{at}.name"), "expected a string"))?;
            // Grafana stores the query either as a string or as {query: "..."}.
            let query = var
                .get("query")
                .and_then(|q| {
                    q.as_str()
                        .or_else(|| q.get("query").and_then(Value::as_str))
                })
                .ok_or_else(|| field(&format!("{at}.query"), "expected a query string"))?;
            note_datasource(var, &mut dashboard.datasource_uids);
            dashboard.variables.push(Variable {
                name: name.to_owned(),
                query: query.to_owned(),
                all_value: var
                    .get("allValue")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
    }
    Ok(dashboard)
}

fn collect_panels(
    panels: &[Value],
    at: &str,
    dashboard: &mut Dashboard,
    field: &impl Fn(&str, &str) -> DashboardError,
) -> Result<(), DashboardError> {
    for (i, panel) in panels.iter().enumerate() {
        let here = format!("{at}[{i}]");
        // Rows hold their panels when collapsed.
        if let Some(nested) = panel.get("panels").and_then(Value::as_array) {
            collect_panels(nested, &format!("{here}.panels"), dashboard, field)?;
        }
        if panel.get("type").and_then(Value::as_str) == Some("row") {
            continue;
        }
        let title = panel
            .get("title")
            .and_then(Value::as_str)
            .ok_or_else(|| field(&format!("{here}.title"), "expected a string"))?;
        let targets = panel
            .get("targets")
            .and_then(Value::as_array)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                field(
                    &format!("{here}.targets"),
                    &format!("expected at least one query in panel {title:?}"),
                )
            })?;
        note_datasource(panel, &mut dashboard.datasource_uids);
        for (j, target) in targets.iter().enumerate() {
            let there = format!("{here}.targets[{j}]");
            let expr = target
                .get("expr")
                .and_then(Value::as_str)
                .filter(|e| !e.trim().is_empty())
                .ok_or_else(|| field(&format!("{there}.expr"), "expected a PromQL expression"))?;
            let ref_id = target
                .get("refId")
                .and_then(Value::as_str)
                .ok_or_else(|| field(&format!("{there}.refId"), "expected a string"))?;
            note_datasource(target, &mut dashboard.datasource_uids);
            dashboard.queries.push(Query {
                panel: title.to_owned(),
                ref_id: ref_id.to_owned(),
                expr: expr.to_owned(),
            });
        }
    }
    Ok(())
}

fn note_datasource(v: &Value, uids: &mut BTreeSet<String>) {
    if let Some(uid) = v.pointer("/datasource/uid").and_then(Value::as_str) {
        uids.insert(uid.to_owned());
    }
}

/// Values for Grafana's variables: built-ins (`$__rate_interval`, `$__interval`,
/// `$__range`) and template variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitutions {
    values: BTreeMap<String, String>,
}

impl Substitutions {
    /// Built-ins set to `rate_interval`, `interval` and `range` (e.g. `5s`, `1s`, `1m`).
    pub fn new(rate_interval: &str, interval: &str, range: &str) -> Self {
        let mut values = BTreeMap::new();
        values.insert("__rate_interval".to_owned(), rate_interval.to_owned());
        values.insert("__interval".to_owned(), interval.to_owned());
        values.insert("__range".to_owned(), range.to_owned());
        Self { values }
    }

    /// Sets every template variable of `dashboard` to its "All" value (`.*` when none
    /// is given), as a dashboard first opens.
    pub fn with_all_values(mut self, dashboard: &Dashboard) -> Self {
        for var in &dashboard.variables {
            let all = var.all_value.clone().unwrap_or_else(|| ".*".to_owned());
            self.values.insert(var.name.clone(), all);
        }
        self
    }

    /// Replaces `$name` and `${name}` in `expr`; an unknown name is an error naming it.
    pub fn apply(&self, expr: &str) -> Result<String, String> {
        let mut out = String::with_capacity(expr.len());
        let mut rest = expr;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced
                    .find('}')
                    .ok_or_else(|| format!("unclosed ${{ in {expr:?}"))?;
                (&braced[..end], end + 2)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            let value = self
                .values
                .get(name)
                .ok_or_else(|| format!("unknown variable ${name} in {expr:?}"))?;
            out.push_str(value);
            rest = &after[consumed..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `label_values(metric, label)` as a PromQL query that is empty exactly when Grafana's
/// variable would have no values; `None` for other variable queries.
pub fn label_values_as_promql(query: &str) -> Option<String> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (metric, label) = inner.rsplit_once(',')?;
    Some(format!("group by ({}) ({})", label.trim(), metric.trim()))
}

/// Names in `expr` that start with one of `prefixes`, outside quoted strings: the metric
/// names a query reads (label names and functions never carry these prefixes here).
pub fn names_with_prefixes(expr: &str, prefixes: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = expr.char_indices().peekable();
    let mut quote: Option<char> = None;
    let mut start: Option<usize> = None;
    let mut flush = |start: &mut Option<usize>, end: usize| {
        if let Some(s) = start.take() {
            let word = &expr[s..end];
            if prefixes.iter().any(|p| word.starts_with(p)) {
                names.insert(word.to_owned());
            }
        }
    };
    while let Some((i, c)) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        let word_char = c.is_ascii_alphanumeric() || c == '_' || c == ':';
        match (word_char, start) {
            (true, None) => start = Some(i),
            (true, Some(_)) => {}
            (false, _) => {
                flush(&mut start, i);
                if matches!(c, '"' | '\'' | '`') {
                    quote = Some(c);
                }
            }
        }
    }
    flush(&mut start, expr.len());
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "uid": "u", "title": "T",
      "panels": [
        {"type": "stat", "title": "One", "datasource": {"uid": "prometheus"},
         "targets": [{"refId": "A", "expr": "sum(rate(x_total{r=~\"$route\"}[$__rate_interval]))"}]},
        {"type": "row", "title": "Row", "panels": [
          {"type": "timeseries", "title": "Two",
           "targets": [{"refId": "A", "expr": "y"}, {"refId": "B", "expr": "z", "datasource": {"uid": "other"}}]}
        ]}
      ],
      "templating": {"list": [
        {"type": "query", "name": "route", "query": {"query": "label_values(x_total, route)"}, "allValue": ".*"},
        {"type": "interval", "name": "ignored"}
      ]}
    }"#;

    #[test]
    fn panels_rows_and_variables_are_read() {
        let d = parse(Path::new("sample.json"), SAMPLE).unwrap();
        let got: Vec<_> = d
            .queries
            .iter()
            .map(|q| (q.panel.as_str(), q.ref_id.as_str()))
            .collect();
        assert_eq!(got, [("One", "A"), ("Two", "A"), ("Two", "B")]);
        assert_eq!(d.variables.len(), 1);
        assert_eq!(d.variables[0].query, "label_values(x_total, route)");
        assert_eq!(
            d.datasource_uids.iter().collect::<Vec<_>>(),
            ["other", "prometheus"]
        );
    }

    #[test]
    fn a_panel_without_queries_is_refused_with_its_place() {
        let text = r#"{"uid": "u", "title": "T", "panels": [{"type": "stat", "title": "Empty", "targets": []}]}"#;
        let err = parse(Path::new("d.json"), text).unwrap_err().to_string();
        assert!(err.contains("d.json: panels[0].targets"), "{err}");
        assert!(err.contains("Empty"), "{err}");
        let err = parse(Path::new("d.json"), "{\n  \"uid\": ").unwrap_err();
        assert!(matches!(err, DashboardError::Json { line: 2, .. }), "{err}");
    }

    #[test]
    fn variables_are_substituted_and_unknown_ones_refused() {
        let d = parse(Path::new("sample.json"), SAMPLE).unwrap();
        let subs = Substitutions::new("5s", "1s", "1m").with_all_values(&d);
        assert_eq!(
            subs.apply(&d.queries[0].expr).unwrap(),
            r#"sum(rate(x_total{r=~".*"}[5s]))"#
        );
        assert_eq!(subs.apply("a[${__range}]").unwrap(), "a[1m]");
        assert!(subs.apply("a{b=\"$nope\"}").unwrap_err().contains("$nope"));
        assert!(subs.apply("a[${__range]").is_err());
    }

    #[test]
    fn label_values_become_a_group_query() {
        assert_eq!(
            label_values_as_promql("label_values(http_requests_total, route)").as_deref(),
            Some("group by (route) (http_requests_total)")
        );
        assert_eq!(label_values_as_promql("query_result(up)"), None);
    }

    #[test]
    fn metric_names_are_found_outside_strings() {
        let names = names_with_prefixes(
            r#"sum by (route) (rate(http_requests_total{status=~"http_x"}[5s])) / sum(http_request_duration_seconds_count)"#,
            &["http_"],
        );
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["http_request_duration_seconds_count", "http_requests_total"]
        );
    }
}
