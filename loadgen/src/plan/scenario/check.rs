//! Response checks: what a locustfile's `catch_response=True` block decides, as data.
//!
//! A request may carry `checks`, tried in order after its response arrived; the first
//! whose conditions all hold decides the outcome, `failure = "message"` (the request
//! counts as failed with that message, as Locust's `response.failure(...)` records it)
//! or `success = true` (it counts as a success whatever its status, as
//! `response.success()` does). When none holds, Locust's own rule applies: a 4xx or 5xx
//! status or a transport error is a failure.
//!
//! ```toml
//! checks = [
//!   { status_not_in = [200], failure = "unexpected status" },
//!   { json_lacks = "/token", failure = "no token in the answer" },
//!   { json_equals = { "/state" = "open" }, success = true },
//! ]
//! ```
//!
//! Conditions: `status_in`, `status_not_in` (lists of codes), `status_between = [lo, hi]`
//! (inclusive), `json_has`, `json_lacks` (a JSON pointer into the body, RFC 6901),
//! `json_equals`, `json_differs` (pointer = value). A transport error has status 0, as
//! in Locust; a body that is not JSON has no keys.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Deserialize;

/// One rule of a request's checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// All must hold for the rule to decide (none: always).
    pub conditions: Vec<Condition>,
    /// What the rule decides.
    pub outcome: Outcome,
}

/// A condition on the response.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The status is one of these (0 for a transport error).
    StatusIn(Vec<u16>),
    /// The status is none of these.
    StatusNotIn(Vec<u16>),
    /// The status lies in this inclusive range.
    StatusBetween(u16, u16),
    /// The JSON body has a value at this pointer.
    JsonHas(String),
    /// The JSON body has no value at this pointer (or is not JSON).
    JsonLacks(String),
    /// The value at the pointer equals this one.
    JsonEquals(String, serde_json::Value),
    /// The value at the pointer is absent or differs from this one.
    JsonDiffers(String, serde_json::Value),
}

/// What a rule decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The request succeeded (Locust's `response.success()`).
    Success,
    /// The request failed with this message (Locust's `response.failure(message)`).
    Failure(String),
}

impl Condition {
    fn needs_body(&self) -> bool {
        !matches!(
            self,
            Self::StatusIn(_) | Self::StatusNotIn(_) | Self::StatusBetween(..)
        )
    }

    fn holds(&self, status: u16, json: &mut Lazy<'_>) -> bool {
        match self {
            Self::StatusIn(codes) => codes.contains(&status),
            Self::StatusNotIn(codes) => !codes.contains(&status),
            Self::StatusBetween(lo, hi) => (*lo..=*hi).contains(&status),
            Self::JsonHas(p) => json.get(p).is_some(),
            Self::JsonLacks(p) => json.get(p).is_none(),
            Self::JsonEquals(p, v) => json.get(p) == Some(v),
            Self::JsonDiffers(p, v) => json.get(p) != Some(v),
        }
    }
}

/// The body parsed as JSON at most once, and only when a condition asks.
struct Lazy<'a> {
    body: &'a [u8],
    parsed: Option<Option<serde_json::Value>>,
}

impl Lazy<'_> {
    fn get(&mut self, pointer: &str) -> Option<&serde_json::Value> {
        let body = self.body;
        self.parsed
            .get_or_insert_with(|| serde_json::from_slice(body).ok())
            .as_ref()
            .and_then(|v| v.pointer(pointer))
    }
}

/// True when any rule looks into the body (the session must then keep it).
pub(crate) fn needs_body(checks: &[Check]) -> bool {
    checks
        .iter()
        .any(|c| c.conditions.iter().any(Condition::needs_body))
}

/// The request's error after its checks: `error` is what Locust's own rule says
/// (`None` for a success), `status` the response's status (none on a transport error).
pub(crate) fn judge(
    checks: &[Check],
    status: Option<StatusCode>,
    body: &[u8],
    error: Option<String>,
) -> Option<String> {
    let code = status.map_or(0, |s| s.as_u16());
    let mut json = Lazy { body, parsed: None };
    let decided = checks
        .iter()
        .find(|c| c.conditions.iter().all(|k| k.holds(code, &mut json)));
    match decided.map(|c| &c.outcome) {
        Some(Outcome::Success) => None,
        Some(Outcome::Failure(message)) => Some(catch_response_error(message)),
        None => error,
    }
}

/// Locust's text for `response.failure("...")`: the repr of a `CatchResponseError`.
fn catch_response_error(message: &str) -> String {
    format!("CatchResponseError({})", python_repr(message))
}

/// An error as Locust's console names it: a `CatchResponseError` shows its message
/// alone (the CSV keeps the whole repr), anything else as recorded.
pub(crate) fn console_text(error: &str) -> std::borrow::Cow<'_, str> {
    let inner = error
        .strip_prefix("CatchResponseError(")
        .and_then(|r| r.strip_suffix(')'));
    let Some(inner) = inner else {
        return error.into();
    };
    let quoted = inner
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|r| r.strip_suffix('"')));
    match quoted {
        Some(q) => python_unescape(q).into(),
        None => error.into(),
    }
}

/// Undoes [`python_repr`]'s escapes.
fn python_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A string as Python's `repr` writes it (single quotes unless it holds one and no
/// double quote).
pub(crate) fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A check as written in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    status_in: Option<Vec<u16>>,
    status_not_in: Option<Vec<u16>>,
    status_between: Option<[u16; 2]>,
    json_has: Option<String>,
    json_lacks: Option<String>,
    json_equals: Option<BTreeMap<String, toml::Value>>,
    json_differs: Option<BTreeMap<String, toml::Value>>,
    failure: Option<String>,
    success: Option<bool>,
}

impl RawCheck {
    /// Validates one rule; the error says what was expected.
    pub(super) fn compile(self) -> Result<Check, String> {
        let outcome = match (self.failure, self.success) {
            (Some(m), None) => Outcome::Failure(m),
            (None, Some(true)) => Outcome::Success,
            _ => return Err(
                "bad check: expected exactly one outcome, failure = \"message\" or success = true"
                    .to_owned(),
            ),
        };
        let mut conditions = Vec::new();
        if let Some(codes) = self.status_in {
            conditions.push(Condition::StatusIn(codes));
        }
        if let Some(codes) = self.status_not_in {
            conditions.push(Condition::StatusNotIn(codes));
        }
        if let Some([lo, hi]) = self.status_between {
            if lo > hi {
                return Err(format!(
                    "bad status_between [{lo}, {hi}]: expected the lower code first"
                ));
            }
            conditions.push(Condition::StatusBetween(lo, hi));
        }
        for (pointer, make) in [
            (self.json_has, Condition::JsonHas as fn(String) -> Condition),
            (self.json_lacks, Condition::JsonLacks),
        ] {
            if let Some(p) = pointer {
                conditions.push(make(pointer_checked(p)?));
            }
        }
        type Compare = fn(String, serde_json::Value) -> Condition;
        for (table, make) in [
            (self.json_equals, Condition::JsonEquals as Compare),
            (self.json_differs, Condition::JsonDiffers),
        ] {
            for (p, v) in table.into_iter().flatten() {
                let value =
                    serde_json::to_value(&v).map_err(|e| format!("bad value for {p:?}: {e}"))?;
                conditions.push(make(pointer_checked(p)?, value));
            }
        }
        Ok(Check {
            conditions,
            outcome,
        })
    }
}

fn pointer_checked(p: String) -> Result<String, String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(p)
    } else {
        Err(format!(
            "bad JSON pointer {p:?}: expected one starting with '/', such as \"/token\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Check {
        let raw: RawCheck = toml::from_str(text).unwrap();
        raw.compile().unwrap()
    }

    #[test]
    fn first_matching_rule_decides_and_locust_rule_is_the_default() {
        let checks = [
            check("status_not_in = [200]\nfailure = \"bad status\""),
            check("json_lacks = \"/token\"\nfailure = \"no token\""),
            check("json_equals = { \"/state\" = \"closed\" }\nsuccess = true"),
        ];
        let ok = Some(StatusCode::OK);
        let judged = |status, body: &str, error: Option<&str>| {
            judge(&checks, status, body.as_bytes(), error.map(str::to_owned))
        };
        assert_eq!(
            judged(Some(StatusCode::NOT_FOUND), "", Some("HTTPError")),
            Some("CatchResponseError('bad status')".to_owned())
        );
        assert_eq!(
            judged(None, "", Some("ConnectionRefusedError")),
            Some("CatchResponseError('bad status')".to_owned())
        );
        assert_eq!(
            judged(ok, r#"{"a":1}"#, None),
            Some("CatchResponseError('no token')".to_owned())
        );
        assert_eq!(
            judged(ok, "not json", None),
            Some("CatchResponseError('no token')".to_owned())
        );
        assert_eq!(judged(ok, r#"{"token":"t","state":"open"}"#, None), None);
        assert!(needs_body(&checks));
        assert!(!needs_body(&checks[..1]));
    }

    #[test]
    fn success_overrides_an_error_status() {
        let checks = [check("status_in = [404]\nsuccess = true")];
        let e = judge(
            &checks,
            Some(StatusCode::NOT_FOUND),
            b"",
            Some("HTTPError".into()),
        );
        assert_eq!(e, None);
        let e = judge(
            &checks,
            Some(StatusCode::INTERNAL_SERVER_ERROR),
            b"",
            Some("HTTPError".into()),
        );
        assert_eq!(e.as_deref(), Some("HTTPError"));
    }

    #[test]
    fn bad_rules_say_what_was_expected() {
        for (text, needle) in [
            ("status_in = [200]", "exactly one outcome"),
            ("failure = \"x\"\nsuccess = true", "exactly one outcome"),
            ("json_has = \"token\"\nfailure = \"x\"", "starting with '/'"),
            (
                "status_between = [500, 400]\nfailure = \"x\"",
                "lower code first",
            ),
        ] {
            let raw: RawCheck = toml::from_str(text).unwrap();
            let e = raw.compile().unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn messages_are_quoted_as_python_repr_quotes_them() {
        for m in ["plain", "it's", "a'b\"c", "back\\slash\nline"] {
            assert_eq!(console_text(&catch_response_error(m)), m);
        }
        assert_eq!(console_text("HTTPError('500')"), "HTTPError('500')");
        assert_eq!(python_repr("plain"), "'plain'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a'b\"c"), "'a\\'b\"c'");
    }
}
