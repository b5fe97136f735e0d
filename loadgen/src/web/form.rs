//! Locust's `POST /swarm` form (`user_count`, `spawn_rate`, `host`, `run_time`,
//! `user_classes` repeatable), decoded and checked. Every refusal is a sentence naming
//! the field, the bad value and what was expected, for the page to show.

use std::time::Duration;

use crate::timespan::parse_timespan;

/// The most users one run may ask for (each is a task with its own connection): the
/// ceiling of `--web-max-users`.
pub const MAX_USERS: usize = 100_000;

/// The most users started per second: the ceiling of `--web-max-spawn-rate`.
pub const MAX_SPAWN_RATE: f64 = 10_000.0;

/// What the form may ask for (`--web-max-users`, `--web-max-spawn-rate`): a page, or a
/// person's typo, cannot start more than this machine was meant to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebLimits {
    /// Most users.
    pub max_users: usize,
    /// Most users started per second.
    pub max_spawn_rate: f64,
}

impl Default for WebLimits {
    fn default() -> Self {
        Self {
            max_users: 10_000,
            max_spawn_rate: 1_000.0,
        }
    }
}

/// A decoded `POST /swarm`.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmRequest {
    /// Users to run.
    pub users: usize,
    /// Users started per second.
    pub spawn_rate: f64,
    /// The host, when the form gives one (else the command line's).
    pub host: Option<String>,
    /// Stop after this long.
    pub run_time: Option<Duration>,
    /// Classes to run; empty runs every class.
    pub classes: Vec<String>,
}

/// Decodes and checks a form body against `limits`.
pub fn parse_swarm(body: &str, limits: &WebLimits) -> Result<SwarmRequest, String> {
    let WebLimits {
        max_users,
        max_spawn_rate,
    } = *limits;
    let pairs = decode_pairs(body);
    let get = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
    };
    let users_text = get("user_count")
        .filter(|v| !v.is_empty())
        .ok_or("user_count is missing: give the number of users, e.g. 10")?;
    let users = users_text
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max_users).contains(n))
        .ok_or_else(|| {
            format!("bad user_count {users_text:?}: expected a whole number from 1 to {max_users} (--web-max-users)")
        })?;
    let rate_text = get("spawn_rate")
        .filter(|v| !v.is_empty())
        .ok_or("spawn_rate is missing: give the users started per second, e.g. 1")?;
    let spawn_rate = rate_text
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= max_spawn_rate)
        .ok_or_else(|| {
            format!("bad spawn_rate {rate_text:?}: expected users per second above 0 and at most {max_spawn_rate} (--web-max-spawn-rate)")
        })?;
    let run_time = match get("run_time").filter(|v| !v.is_empty()) {
        None => None,
        Some(text) => Some(parse_timespan(text).map_err(|e| format!("bad run_time: {e}"))?),
    };
    let classes = pairs
        .iter()
        .filter(|(k, v)| k == "user_classes" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    Ok(SwarmRequest {
        users,
        spawn_rate,
        host: get("host").filter(|h| !h.is_empty()).map(str::to_owned),
        run_time,
        classes,
    })
}

/// `application/x-www-form-urlencoded` into (key, value) pairs, in order.
fn decode_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `+` and `%XX`; a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_form_decodes() {
        let r = parse_swarm(
            "user_count=25&spawn_rate=2.5&host=http%3A%2F%2F127.0.0.1%3A9000&run_time=1m30s&user_classes=A&user_classes=B+C",
            &WebLimits::default(),
        )
        .unwrap();
        assert_eq!(r.users, 25);
        assert_eq!(r.spawn_rate, 2.5);
        assert_eq!(r.host.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(r.run_time, Some(Duration::from_secs(90)));
        assert_eq!(r.classes, ["A", "B C"]);
    }

    #[test]
    fn bad_values_name_the_field_and_value() {
        for (body, words) in [
            ("spawn_rate=1", "user_count is missing"),
            ("user_count=&spawn_rate=1", "user_count is missing"),
            ("user_count=-5&spawn_rate=1", "\"-5\""),
            ("user_count=ten&spawn_rate=1", "\"ten\""),
            ("user_count=0&spawn_rate=1", "from 1 to"),
            ("user_count=5", "spawn_rate is missing"),
            ("user_count=5&spawn_rate=0", "bad spawn_rate \"0\""),
            ("user_count=5&spawn_rate=NaN", "bad spawn_rate"),
            ("user_count=5&spawn_rate=1&run_time=1d", "bad run_time"),
        ] {
            let e = parse_swarm(body, &WebLimits::default()).unwrap_err();
            assert!(e.contains(words), "{body}: {e}");
        }
    }

    #[test]
    fn users_and_rate_are_capped_by_the_limits() {
        let limits = WebLimits {
            max_users: 50,
            max_spawn_rate: 5.0,
        };
        assert!(parse_swarm("user_count=50&spawn_rate=5", &limits).is_ok());
        let e = parse_swarm("user_count=51&spawn_rate=5", &limits).unwrap_err();
        assert!(e.contains("from 1 to 50 (--web-max-users)"), "{e}");
        let e = parse_swarm("user_count=50&spawn_rate=5.5", &limits).unwrap_err();
        assert!(e.contains("at most 5 (--web-max-spawn-rate)"), "{e}");
        // The defaults refuse what a hostile page asked for.
        let e = parse_swarm("user_count=100000&spawn_rate=10000", &WebLimits::default());
        assert!(e.is_err());
    }

    #[test]
    fn malformed_escapes_are_kept() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%"), "%");
    }
}
