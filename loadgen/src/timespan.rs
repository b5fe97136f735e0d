//! Time as loadgen reads and writes it: Locust's time spans for `--run-time` (`20`
//! seconds, `20s`, `5m`, `1h30m`, `24h`, `1h30m20s`; days are not a unit, as in Locust),
//! seconds as a number or a span for the other flags, and durations as seconds in JSON.

use std::time::Duration;

/// A time span that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad time span {input:?}: {reason}; expected e.g. 20, 20s, 5m, 1h30m or 24h")]
pub struct TimespanError {
    /// The text given.
    pub input: String,
    /// What was wrong.
    pub reason: String,
}

/// Parses a Locust time span.
pub fn parse_timespan(input: &str) -> Result<Duration, TimespanError> {
    let bad = |reason: &str| TimespanError {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(bad("it is empty"));
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    // Units must appear in order h, m, s, each at most once.
    let mut last_rank = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let (rank, factor) = match c {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return Err(bad(&format!("unknown unit {c:?} (units are h, m and s)"))),
        };
        if number.is_empty() {
            return Err(bad(&format!("unit {c:?} has no number before it")));
        }
        if rank <= last_rank {
            return Err(bad("units must come in the order h, m, s, each once"));
        }
        last_rank = rank;
        let n: u64 = number.parse().map_err(|_| bad("a number is too large"))?;
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("it is too long"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad("a number at the end has no unit"));
    }
    Ok(Duration::from_secs(total))
}

/// Seconds as a number (`0.5`) or a time span (`1m`).
pub fn parse_seconds(text: &str) -> Result<Duration, TimespanError> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..1e12).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => parse_timespan(text),
    }
}

/// Seconds from JSON back to a duration: a number, 0 or more.
pub(crate) fn deserialize_seconds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Duration, D::Error> {
    let seconds = <f64 as serde::Deserialize>::deserialize(d)?;
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        serde::de::Error::custom(format!(
            "expected seconds from the start (0 or more), found {seconds}"
        ))
    })
}

/// A duration as seconds, for JSON readers.
pub(crate) fn serialize_seconds<S: serde::Serializer>(
    d: &Duration,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_locust_forms() {
        for (text, secs) in [
            ("20", 20),
            ("20s", 20),
            ("5m", 300),
            ("1h30m", 5400),
            ("24h", 86_400),
            ("1h30m20s", 5420),
            ("2m5s", 125),
            (" 0 ", 0),
        ] {
            assert_eq!(
                parse_timespan(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_everything_else() {
        for (text, needle) in [
            ("", "empty"),
            ("1d", "unknown unit"),
            ("5x", "unknown unit"),
            ("h", "no number"),
            ("30m1h", "order"),
            ("1h1h", "order"),
            ("1h30", "no unit"),
            ("-5s", "unknown unit"),
            ("1.5h", "unknown unit"),
            ("99999999999999999999h", "too large"),
        ] {
            let e = parse_timespan(text).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn seconds_accept_numbers_and_spans() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_seconds("-1").is_err());
    }
}
