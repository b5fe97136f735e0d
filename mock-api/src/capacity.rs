//! A profile's optional `capacity`: what makes the mock saturate like a real server.
//!
//! ```toml
//! [capacity]
//! workers = 8                 # requests in service at once (uvicorn workers, a DB pool)
//! queue = 64                  # requests that may wait for a worker; beyond: 503 at once
//! queue_timeout_ms = 1000     # a request that waited longer gets 503
//! rate_limit = { rps = 100, burst = 20 }          # token bucket; beyond: 429 + Retry-After
//! degradation = { latency_growth_per_hour = 0.5 } # a leak: latency x (1 + 0.5 x uptime h)
//! stall = [{ at_ms = 30000, ms = 2000 }]          # every response due then is held
//! ```
//!
//! Every key is optional; a profile without `[capacity]` (or with an empty one) behaves as
//! before: unlimited workers, no queue, no limit.
//!
//! Semantics, per request (the behaviour layer enacts them in this order):
//! 1. The rate limit, at arrival: no token, 429 at once (a gateway in front of the app).
//! 2. A worker, first come first served: a free one, or a place in the queue (none left:
//!    503 `queue_full` at once), or 503 `queue_timeout` after `queue_timeout_ms` waiting.
//! 3. The service: the route's sampled latency (times the degradation multiplier) is the
//!    SERVICE time, during which the request holds its worker (the handler, the database
//!    and any injected failure included). Response time = queue wait + service time.
//!    Throughput therefore flattens at `workers / mean service time`.
//! 4. A stall (from the schedule or `POST /admin/stall`): a response due while a stall is
//!    on is held until the stall ends. The worker is released first: a stall holds
//!    responses, not workers, so a request served at `t` goes out at `max(t, stall end)`.
//!
//! Capacity is per server: every route shares the workers, the queue and the bucket.
//! `scaled(f)` (the server's `--time-scale`) multiplies durations by `f` and divides rates
//! by `f`, so a scaled run saturates at the same point of its scaled timeline.

pub mod gate;
#[cfg(test)]
mod tests;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest duration any capacity field accepts (an hour in ms for timeouts and stalls).
const MAX_MS: f64 = 3_600_000.0;
/// Most workers or queue places (bounded so a typo cannot allocate the machine away).
const MAX_COUNT: u32 = 1_000_000;

/// The capacity of a server (see the module docs for the TOML and the semantics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCapacity")]
pub struct Capacity {
    /// Requests in service at once; `None`: unlimited (no queue either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Requests that may wait for a worker; `None`: unbounded. 0: no waiting at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// Longest wait for a worker, in ms; `None`: wait as long as it takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_timeout_ms: Option<f64>,
    /// A token bucket in front of the workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// A simulated leak: service time grows with uptime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degradation: Option<Degradation>,
    /// Scheduled stalls (a GC pause, a failover), relative to the server's start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stall: Vec<Stall>,
}

/// The same fields, before validation (so a bad value fails the parse with its position).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCapacity {
    #[serde(default)]
    workers: Option<u32>,
    #[serde(default)]
    queue: Option<u32>,
    #[serde(default)]
    queue_timeout_ms: Option<f64>,
    #[serde(default)]
    rate_limit: Option<RateLimit>,
    #[serde(default)]
    degradation: Option<Degradation>,
    #[serde(default)]
    stall: Vec<Stall>,
}

impl TryFrom<RawCapacity> for Capacity {
    type Error = String;
    fn try_from(r: RawCapacity) -> Result<Self, String> {
        let c = Capacity {
            workers: r.workers,
            queue: r.queue,
            queue_timeout_ms: r.queue_timeout_ms,
            rate_limit: r.rate_limit,
            degradation: r.degradation,
            stall: r.stall,
        };
        c.validate()
            .map_err(|(field, message)| format!("{field}: {message}"))?;
        Ok(c)
    }
}

/// A token bucket: `rps` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub rps: f64,
    /// Requests that may arrive at once after a quiet spell (bucket size, >= 1).
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

/// Latency multiplied by `1 + latency_growth_per_hour x uptime in hours`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Degradation {
    /// Growth of the latency multiplier per hour of uptime (0.5: +50 % an hour).
    pub latency_growth_per_hour: f64,
}

/// One scheduled stall: from `at_ms` after the start, for `ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    /// When the stall starts, ms after the server started.
    pub at_ms: f64,
    /// How long it lasts, ms.
    pub ms: f64,
}

impl Degradation {
    /// The latency multiplier after `uptime`.
    pub fn multiplier(&self, uptime: Duration) -> f64 {
        1.0 + self.latency_growth_per_hour * uptime.as_secs_f64() / 3600.0
    }
}

impl Stall {
    /// The stall's window as offsets from the server's start.
    pub fn window(&self) -> (Duration, Duration) {
        let start = ms(self.at_ms);
        (start, start.saturating_add(ms(self.ms)))
    }
}

/// Milliseconds as a Duration: negative or NaN is zero, too large saturates (a stall
/// scheduled in a thousand years stays in a thousand years, never at the start).
pub(crate) fn ms(v: f64) -> Duration {
    if v.is_nan() || v <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(v / 1000.0).unwrap_or(Duration::MAX)
}

fn check_ms(field: &str, v: f64, allow_zero: bool) -> Result<(), (String, String)> {
    let low_ok = if allow_zero { v >= 0.0 } else { v > 0.0 };
    if v.is_finite() && low_ok && v <= MAX_MS {
        Ok(())
    } else {
        let low = if allow_zero { ">= 0" } else { "> 0" };
        Err((
            field.to_owned(),
            format!("{v} is invalid: expected a number of ms {low} and at most {MAX_MS} (an hour)"),
        ))
    }
}

impl Capacity {
    /// Checks every field; the error is (dotted field under `capacity`, what is wrong).
    pub fn validate(&self) -> Result<(), (String, String)> {
        if let Some(w) = self.workers {
            if !(1..=MAX_COUNT).contains(&w) {
                return Err((
                    "capacity.workers".into(),
                    format!(
                        "{w} is invalid: expected 1 to {MAX_COUNT} workers (omit for unlimited)"
                    ),
                ));
            }
        }
        if let Some(q) = self.queue {
            if q > MAX_COUNT {
                return Err((
                    "capacity.queue".into(),
                    format!(
                        "{q} is invalid: expected 0 to {MAX_COUNT} places (omit for unbounded)"
                    ),
                ));
            }
        }
        if let Some(t) = self.queue_timeout_ms {
            check_ms("capacity.queue_timeout_ms", t, false)?;
        }
        if self.workers.is_none() && (self.queue.is_some() || self.queue_timeout_ms.is_some()) {
            return Err((
                "capacity.workers".into(),
                "missing: `queue` and `queue_timeout_ms` need a number of workers to wait for"
                    .into(),
            ));
        }
        if let Some(r) = self.rate_limit {
            if !(r.rps.is_finite() && r.rps > 0.0 && r.rps <= 1e9) {
                return Err((
                    "capacity.rate_limit.rps".into(),
                    format!("{} is invalid: expected requests per second > 0", r.rps),
                ));
            }
            if !(1..=MAX_COUNT).contains(&r.burst) {
                return Err((
                    "capacity.rate_limit.burst".into(),
                    format!("{} is invalid: expected 1 to {MAX_COUNT} requests", r.burst),
                ));
            }
        }
        if let Some(d) = self.degradation {
            let g = d.latency_growth_per_hour;
            if !(g.is_finite() && (0.0..=1e6).contains(&g)) {
                return Err((
                    "capacity.degradation.latency_growth_per_hour".into(),
                    format!("{g} is invalid: expected a finite growth >= 0 (0.5 = +50 % an hour)"),
                ));
            }
        }
        for (i, s) in self.stall.iter().enumerate() {
            if !(s.at_ms.is_finite() && s.at_ms >= 0.0) {
                return Err((
                    format!("capacity.stall[{i}].at_ms"),
                    format!("{} is invalid: expected ms >= 0 after the start", s.at_ms),
                ));
            }
            check_ms(&format!("capacity.stall[{i}].ms"), s.ms, false)?;
        }
        Ok(())
    }

    /// The same capacity on a timeline scaled by `factor`: durations x factor, rates and
    /// growth / factor (counts unchanged). A factor that is not positive and finite leaves
    /// it unchanged.
    pub fn scaled(&self, factor: f64) -> Capacity {
        if !(factor.is_finite() && factor > 0.0) {
            return self.clone();
        }
        Capacity {
            workers: self.workers,
            queue: self.queue,
            queue_timeout_ms: self.queue_timeout_ms.map(|t| t * factor),
            rate_limit: self.rate_limit.map(|r| RateLimit {
                rps: r.rps / factor,
                burst: r.burst,
            }),
            degradation: self.degradation.map(|d| Degradation {
                latency_growth_per_hour: d.latency_growth_per_hour / factor,
            }),
            stall: self
                .stall
                .iter()
                .map(|s| Stall {
                    at_ms: s.at_ms * factor,
                    ms: s.ms * factor,
                })
                .collect(),
        }
    }

    /// The longest a request waits for a worker, if bounded.
    pub fn queue_timeout(&self) -> Option<Duration> {
        self.queue_timeout_ms.map(ms)
    }

    /// Requests per second at which the workers are all busy: `workers / mean_service`
    /// (`None` when workers are unlimited or the service takes no time).
    pub fn saturation_rps(&self, mean_service: Duration) -> Option<f64> {
        let w = f64::from(self.workers?);
        let s = mean_service.as_secs_f64();
        (s > 0.0).then(|| w / s)
    }

    /// Whether this section changes anything (an empty `[capacity]` does not).
    pub fn is_unlimited(&self) -> bool {
        *self == Capacity::default()
    }
}
