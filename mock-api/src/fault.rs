//! Injected failures: what can go wrong with a response, and when.
//!
//! A [`FailureRule`] pairs a [`FailureKind`] (what the client sees) with a [`Trigger`]
//! (a probability per request, or exactly one request in every N). In TOML the two are
//! written as one inline table:
//!
//! ```toml
//! failures = [
//!   { kind = "status", code = 503, probability = 0.0125 },
//!   { kind = "status", code = 429, retry_after_ms = 2000, probability = 0.01 },
//!   { kind = "reset", every = 10 },
//!   { kind = "close", probability = 0.001 },
//!   { kind = "garbage", bytes = 64, probability = 0.001 },
//!   { kind = "hang", ms = 30000, probability = 0.001 },   # no `ms`: hang until the client gives up
//!   { kind = "dribble", bytes_per_sec = 200, probability = 0.001 },
//! ]
//! ```
//!
//! Status codes are limited to the five the platform's failures show (500, 502, 503,
//! 504, 429) so that every failure has a fixed metric label; a 429 always carries
//! Retry-After (1 s unless `retry_after_ms` says otherwise).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::latency::ms_to_duration;

/// The HTTP status codes a `status` failure may use.
pub const STATUS_CODES: &[u16] = &[500, 502, 503, 504, 429];

/// Largest `garbage` payload accepted: enough to confuse any parser, small enough to be
/// harmless.
pub const MAX_GARBAGE_BYTES: usize = 1 << 20;

/// Retry-After sent with a 429 when the rule does not give one.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a failed request looks like to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FailureKind {
    /// An HTTP error status with a JSON error body.
    Status {
        /// One of [`STATUS_CODES`].
        code: u16,
        /// Retry-After, in ms (sent rounded up to whole seconds); 429 defaults to 1 s.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<f64>,
    },
    /// The connection is reset (TCP RST, via SO_LINGER 0) without a response.
    Reset,
    /// The connection is closed cleanly (FIN) without a response.
    Close,
    /// `bytes` random bytes instead of an HTTP response, then close.
    Garbage {
        /// How many bytes to send (1 ..= [`MAX_GARBAGE_BYTES`]).
        bytes: usize,
    },
    /// No response for `ms`, then close; with no `ms`, no response ever.
    Hang {
        /// How long to hold the connection silently, in ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ms: Option<f64>,
    },
    /// A valid response whose body arrives at `bytes_per_sec`.
    Dribble {
        /// Body bytes per second (> 0).
        bytes_per_sec: f64,
    },
}

/// When a [`FailureRule`] fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// Independently per request with this probability (0 ..= 1).
    Probability(f64),
    /// Exactly one request in every N on the route: requests N-1, 2N-1, ... (0-based).
    Every(u64),
}

/// One failure and when it fires; written `{ kind = ..., probability = p }` or
/// `{ kind = ..., every = n }`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRule {
    /// What the client sees.
    pub kind: FailureKind,
    /// When it happens.
    pub trigger: Trigger,
}

/// A failure kind or rule with a bad value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// A parameter is out of range.
    #[error("{kind}: `{field}` = {value} is invalid: expected {expected}")]
    Parameter {
        /// The failure kind.
        kind: &'static str,
        /// The field name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The probabilities of one route's rules add up to more than 1.
    #[error("failure probabilities add up to {sum}: expected a total of at most 1")]
    ProbabilitySum {
        /// The total.
        sum: f64,
    },
}

impl FailureKind {
    /// A stable metric label: "status_503", "reset", "close", "garbage", "hang", "dribble".
    pub fn label(&self) -> &'static str {
        match self {
            FailureKind::Status { code, .. } => match code {
                500 => "status_500",
                502 => "status_502",
                503 => "status_503",
                504 => "status_504",
                429 => "status_429",
                _ => "status_other",
            },
            FailureKind::Reset => "reset",
            FailureKind::Close => "close",
            FailureKind::Garbage { .. } => "garbage",
            FailureKind::Hang { .. } => "hang",
            FailureKind::Dribble { .. } => "dribble",
        }
    }

    /// The `kind` tag as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            FailureKind::Status { .. } => "status",
            FailureKind::Reset => "reset",
            FailureKind::Close => "close",
            FailureKind::Garbage { .. } => "garbage",
            FailureKind::Hang { .. } => "hang",
            FailureKind::Dribble { .. } => "dribble",
        }
    }

    /// The Retry-After to send with a status failure: the configured one, or 1 s for 429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FailureKind::Status {
                retry_after_ms: Some(ms),
                ..
            } => Some(ms_to_duration(*ms)),
            FailureKind::Status { code: 429, .. } => Some(DEFAULT_RETRY_AFTER),
            _ => None,
        }
    }

    /// How long a `hang` holds the connection; `None` means forever (or not a hang).
    pub fn hang_duration(&self) -> Option<Duration> {
        match self {
            FailureKind::Hang { ms: Some(ms) } => Some(ms_to_duration(*ms)),
            _ => None,
        }
    }

    /// The same failure with its durations multiplied by `factor` (a dribble's rate is
    /// divided by it, so the body takes `factor` times as long).
    pub fn scaled(&self, factor: f64) -> FailureKind {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            0.0
        };
        match self {
            FailureKind::Status {
                code,
                retry_after_ms,
            } => FailureKind::Status {
                code: *code,
                retry_after_ms: retry_after_ms.map(|ms| ms * factor),
            },
            FailureKind::Hang { ms } => FailureKind::Hang {
                ms: ms.map(|ms| ms * factor),
            },
            FailureKind::Dribble { bytes_per_sec } if factor > 0.0 => FailureKind::Dribble {
                bytes_per_sec: bytes_per_sec / factor,
            },
            other => other.clone(),
        }
    }

    /// Checks the kind's parameters.
    pub fn validate(&self) -> Result<(), FaultError> {
        let kind = self.kind();
        let bad = |field: &'static str, value: String, expected: &str| FaultError::Parameter {
            kind,
            field,
            value,
            expected: expected.to_owned(),
        };
        match self {
            FailureKind::Status {
                code,
                retry_after_ms,
            } => {
                if !STATUS_CODES.contains(code) {
                    return Err(bad(
                        "code",
                        code.to_string(),
                        "one of 500, 502, 503, 504, 429",
                    ));
                }
                if let Some(ms) = retry_after_ms {
                    if !(ms.is_finite() && *ms >= 0.0) {
                        return Err(bad(
                            "retry_after_ms",
                            ms.to_string(),
                            "a finite number >= 0",
                        ));
                    }
                }
            }
            FailureKind::Reset | FailureKind::Close => {}
            FailureKind::Garbage { bytes } => {
                if !(1..=MAX_GARBAGE_BYTES).contains(bytes) {
                    return Err(bad("bytes", bytes.to_string(), "1 to 1048576 bytes"));
                }
            }
            FailureKind::Hang { ms } => {
                if let Some(ms) = ms {
                    if !(ms.is_finite() && *ms >= 0.0) {
                        return Err(bad(
                            "ms",
                            ms.to_string(),
                            "a finite number >= 0 (leave it out to hang forever)",
                        ));
                    }
                }
            }
            FailureKind::Dribble { bytes_per_sec } => {
                if !(bytes_per_sec.is_finite() && *bytes_per_sec > 0.0) {
                    return Err(bad(
                        "bytes_per_sec",
                        bytes_per_sec.to_string(),
                        "a finite number > 0",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl FailureRule {
    /// Checks the kind and the trigger (probability in [0, 1], every >= 1).
    pub fn validate(&self) -> Result<(), FaultError> {
        self.kind.validate()?;
        let kind = self.kind.kind();
        match self.trigger {
            Trigger::Probability(p) if !(0.0..=1.0).contains(&p) => Err(FaultError::Parameter {
                kind,
                field: "probability",
                value: p.to_string(),
                expected: "a probability from 0 to 1".into(),
            }),
            Trigger::Every(0) => Err(FaultError::Parameter {
                kind,
                field: "every",
                value: "0".into(),
                expected: "a whole number >= 1 (one request in every N fails)".into(),
            }),
            _ => Ok(()),
        }
    }

    /// The same rule with the kind's durations scaled.
    pub fn scaled(&self, factor: f64) -> FailureRule {
        FailureRule {
            kind: self.kind.scaled(factor),
            trigger: self.trigger,
        }
    }

    /// Whether this rule fires for the request with 0-based `sequence` on its route,
    /// given the draw `u` for probability rules. `u` must lie in
    /// [`cumulative`, `cumulative` + p) for probability rule p to fire, so that one
    /// uniform decides among all probability rules and each fires at exactly its rate.
    pub(crate) fn fires(&self, sequence: u64, u: f64, cumulative: &mut f64) -> bool {
        match self.trigger {
            Trigger::Every(n) => n > 0 && sequence % n == n - 1,
            Trigger::Probability(p) => {
                let start = *cumulative;
                *cumulative += p;
                u >= start && u < *cumulative
            }
        }
    }
}

/// Validates one route's rules together: each rule, and a probability total of at most 1
/// (a little slack for decimal rounding).
pub fn validate_rules(rules: &[FailureRule]) -> Result<(), FaultError> {
    for rule in rules {
        rule.validate()?;
    }
    let sum: f64 = rules
        .iter()
        .map(|r| match r.trigger {
            Trigger::Probability(p) => p,
            Trigger::Every(_) => 0.0,
        })
        .sum();
    if sum > 1.0 + 1e-9 {
        return Err(FaultError::ProbabilitySum { sum });
    }
    Ok(())
}

impl Serialize for FailureRule {
    /// Writes `{ kind = ..., <the kind's fields>, probability | every = ... }`, the order a
    /// person writes it in.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut fields = toml::Table::try_from(&self.kind).map_err(serde::ser::Error::custom)?;
        let kind = fields.remove("kind");
        let mut map = serializer.serialize_map(Some(fields.len() + 2))?;
        if let Some(kind) = kind {
            map.serialize_entry("kind", &kind)?;
        }
        for (key, value) in &fields {
            map.serialize_entry(key, value)?;
        }
        match self.trigger {
            Trigger::Probability(p) => map.serialize_entry("probability", &p)?,
            Trigger::Every(n) => map.serialize_entry("every", &n)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FailureRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        // Split the trigger fields off, then let FailureKind's derive (with its
        // deny_unknown_fields) judge the rest.
        let mut table = toml::Table::deserialize(deserializer)?;
        let probability = table.remove("probability");
        let every = table.remove("every");
        let trigger = match (probability, every) {
            (Some(p), None) => {
                let p = match p {
                    toml::Value::Float(f) => f,
                    toml::Value::Integer(i) => i as f64,
                    other => {
                        return Err(D::Error::custom(format!(
                            "`probability` = {other}: expected a number from 0 to 1"
                        )))
                    }
                };
                Trigger::Probability(p)
            }
            (None, Some(n)) => match n {
                toml::Value::Integer(i) if i >= 1 => Trigger::Every(i.unsigned_abs()),
                other => {
                    return Err(D::Error::custom(format!(
                        "`every` = {other}: expected a whole number >= 1"
                    )))
                }
            },
            (Some(_), Some(_)) => {
                return Err(D::Error::custom(
                    "both `probability` and `every` given: expected exactly one of them",
                ))
            }
            (None, None) => {
                return Err(D::Error::custom(
                    "missing trigger: expected `probability = p` (0 to 1) or `every = n` \
                     (one request in every n)",
                ))
            }
        };
        let given: Vec<String> = table.keys().cloned().collect();
        let kind = FailureKind::deserialize(toml::Value::Table(table))
            .map_err(|e| D::Error::custom(e.message()))?;
        // serde lets fields through on field-less variants (`reset`, `close`); every field
        // given must show up again when the kind is written back.
        let known = toml::Table::try_from(&kind).map_err(D::Error::custom)?;
        if let Some(extra) = given.iter().find(|k| !known.contains_key(k.as_str())) {
            return Err(D::Error::custom(format!(
                "unknown field `{extra}` for kind `{}`: expected {}",
                kind.kind(),
                match kind.kind() {
                    "reset" | "close" => "only `kind` and `probability` or `every`",
                    _ => "the kind's own fields and `probability` or `every`",
                }
            )));
        }
        let rule = FailureRule { kind, trigger };
        rule.validate().map_err(D::Error::custom)?;
        Ok(rule)
    }
}

#[cfg(test)]
mod tests;
