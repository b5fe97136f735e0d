//! Validating deserializers for profile fields, and error formatting.
//!
//! Checking each value while it is deserialized (rather than after) lets toml attach the
//! value's line and column to the error, so a user is pointed at the exact spot.

use std::collections::BTreeMap;

use serde::de::Error;
use serde::{Deserialize, Deserializer};

use super::{Behaviour, ProfileError, ROUTES};
use crate::fault::FailureRule;
use crate::latency::LatencyDistribution;

/// A latency distribution, validated.
pub(super) fn latency<'de, D: Deserializer<'de>>(d: D) -> Result<LatencyDistribution, D::Error> {
    let dist = LatencyDistribution::deserialize(d)?;
    dist.validate().map_err(D::Error::custom)?;
    Ok(dist)
}

/// A route's failure rules (each validated as it is read), with their probability total
/// checked.
pub(super) fn failures<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FailureRule>, D::Error> {
    let rules = Vec::<FailureRule>::deserialize(d)?;
    crate::fault::validate_rules(&rules).map_err(D::Error::custom)?;
    Ok(rules)
}

/// CPU work in ms, finite and non-negative.
pub(super) fn cpu_ms<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    check_cpu_ms(v).map_err(D::Error::custom)?;
    Ok(v)
}

/// A probability in [0, 1].
pub(super) fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = f64::deserialize(d)?;
    check_probability(v).map_err(D::Error::custom)?;
    Ok(v)
}

/// The routes table, each key checked against [`ROUTES`].
pub(super) fn routes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Behaviour>, D::Error> {
    let map = BTreeMap::<RouteKey, Behaviour>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k.0, v)).collect())
}

/// A route template that is known to be in [`ROUTES`].
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RouteKey(String);

impl<'de> Deserialize<'de> for RouteKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let key = String::deserialize(d)?;
        check_route(&key).map_err(D::Error::custom)?;
        Ok(RouteKey(key))
    }
}

pub(super) fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// The most CPU work a profile may ask of one request, in ms (ten seconds of a core).
pub(crate) const MAX_CPU_MS: f64 = 10_000.0;

pub(super) fn check_cpu_ms(v: f64) -> Result<(), String> {
    if v.is_finite() && (0.0..=MAX_CPU_MS).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "cpu_ms = {v} is invalid: expected a finite number of ms from 0 to {MAX_CPU_MS}"
        ))
    }
}

pub(super) fn check_probability(v: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "probability {v} is invalid: expected a number from 0 to 1"
        ))
    }
}

/// Ok when `route` is a known template; otherwise a message with a suggestion and the
/// full list.
pub(super) fn check_route(route: &str) -> Result<(), String> {
    if ROUTES.contains(&route) {
        return Ok(());
    }
    // The usual slips: a missing method, or a raw path instead of the template.
    let path = route.rsplit(' ').next().unwrap_or(route);
    let hint = ROUTES
        .iter()
        .find(|r| r.ends_with(&format!(" {path}")))
        .map(|r| format!(" (did you mean \"{r}\"?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown route \"{route}\"{hint}; expected one of: {}",
        ROUTES.join(", ")
    ))
}

/// " line L, column C" when known, for error messages.
pub(super) fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(", line {l}, column {c}"),
        (Some(l), None) => format!(", line {l}"),
        _ => String::new(),
    }
}

/// Turns a toml error into [`ProfileError::Parse`] with 1-based line and column, and the
/// offending source line with a caret under the position.
pub(super) fn parse_error(e: &toml::de::Error, text: &str, origin: &str) -> ProfileError {
    let mut message = e.message().trim_end().to_owned();
    let (line, column) = match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            if let Some(source) = text.lines().nth(line - 1) {
                // Underline the span, up to the end of its first line.
                let rest = source.chars().count().saturating_sub(column - 1);
                let width = text
                    .get(span.clone())
                    .map_or(1, |s| s.lines().next().map_or(1, |l| l.chars().count()))
                    .clamp(1, rest.max(1));
                message.push_str(&format!(
                    "\n  | {source}\n  | {}{}",
                    " ".repeat(column - 1),
                    "^".repeat(width)
                ));
            }
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    ProfileError::Parse {
        origin: origin.to_owned(),
        line,
        column,
        message,
    }
}
