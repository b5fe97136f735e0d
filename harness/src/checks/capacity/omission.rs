//! Coordinated omission: a fixed-rate (open model) run against the `stalling` profile
//! with one stall of known length in the middle; the corrected percentiles match what
//! the users would have seen, the uncorrected ones do not.
//!
//! The model (unscaled): iterations are scheduled every 1/R seconds for D seconds, and
//! the mock holds every response due in [s, s + T). An iteration scheduled at t in that
//! window is answered at s + T, so its latency from the intended start is s + T - t:
//! the affected share is T·R / (R·D) = T / D and their latencies are spread evenly over
//! (0, T]. The k-th largest latency is therefore T - (k - 1)/R, so Locust's p99 (rank
//! floor(0.99 N) + 1, k = N - rank + 1 from the top) is T - (k - 1)/R, and the max is T
//! (or slightly more: a request sent just before s whose service reaches into the stall
//! is held too, up to T + its service time).
//!
//! loadgen's pool is small (8 users) on purpose: during the stall every user waits on a
//! held response, so iterations queue in the scheduler and are sent after the stall. A
//! closed-model tool measures those from the actual send and sees only the service
//! time (the uncorrected figures); from the intended start (the corrected ones) they
//! carry the wait the stall caused.

use std::time::Duration;

use loadgen::{ArrivalPlan, LoadPlan};

use super::{drive, start_mock, Action, CapacityError, Trial};
use crate::check::Check;
use crate::checks::ms;
use crate::stat::locust_rank;

/// Time scale: an 80 s run in 8 s.
pub const TIME_SCALE: f64 = 0.1;
/// Iterations per second, unscaled.
pub const RATE: f64 = 20.0;
/// Run length, unscaled.
pub const DURATION: Duration = Duration::from_secs(80);
/// The stall, unscaled (a 4 s GC pause or failover).
pub const STALL: Duration = Duration::from_secs(4);
/// loadgen's pool.
pub const USERS: usize = 8;

/// The profile's service time: lognormal with median 10 ms and p99 40 ms (stalling.toml).
const SERVICE_MEDIAN_MS: f64 = 10.0;
const SERVICE_P99_MS: f64 = 40.0;

/// A quantile of the profile's lognormal service time, ms.
fn service_quantile_ms(z: f64) -> f64 {
    let sigma = (SERVICE_P99_MS / SERVICE_MEDIAN_MS).ln() / 2.326_348;
    SERVICE_MEDIAN_MS * (sigma * z).exp()
}

/// Runs the fixed-rate run with the stall in the middle.
pub async fn run(seed: u64) -> Result<Trial, CapacityError> {
    let f = TIME_SCALE;
    let mut profile = super::profile("stalling")?;
    // Only the harness's own stall: the profile's schedule (30 s and 90 s) is cleared.
    if let Some(c) = profile.capacity.as_mut() {
        c.stall.clear();
    }
    let mock = start_mock(profile, f, seed).await?;
    let mut config = mock.config()?;
    // Iterations may wait three stalls for a user before they count as dropped: none is.
    config.load = LoadPlan::Arrival(ArrivalPlan::constant(RATE, USERS, STALL * 3)).scaled(f);
    config.run_time = Some(DURATION.mul_f64(f));
    config.seed = seed;
    config.stop_timeout = Duration::from_secs(5);
    let action = Action::Stall {
        after: DURATION.mul_f64(f / 2.0),
        length: STALL.mul_f64(f),
    };
    Ok(drive(mock, config, super::scenario(None), f, action).await?)
}

/// Corrected p99 and max against the model; uncorrected p99 against the same model.
pub fn checks(t: &Trial) -> Vec<Check> {
    let f = TIME_SCALE;
    let o = &t.outcome;
    let (Some(arrival), Some(uncorrected)) = (&o.arrival, &o.uncorrected) else {
        return vec![Check::skip(
            "omission",
            "no arrival report or uncorrected figures",
        )];
    };
    let all = &o.snapshot.aggregated;
    let raw = &uncorrected.aggregated;
    let n = all.num_requests();
    let t_ms = STALL.as_secs_f64() * 1000.0;
    let gap_ms = 1000.0 / RATE;
    let rank = locust_rank(n, 0.99);
    let k = (n + 1).saturating_sub(rank) as f64;
    let expected_p99 = t_ms - (k - 1.0) * gap_ms;
    // Tolerances (unscaled ms), each from a named source:
    // - schedule phase: the first iteration in the stall comes up to 1/R after it starts;
    // - held before the stall: requests sent less than a service time before it are held
    //   too and rank above; about R x (p99.99 service) of them, at least one;
    // - service: an affected request's own service time adds to its wait when it ends
    //   after the stall (p99.99 of the profile's lognormal: z = 3.72);
    // - drain: after the stall the backlog goes out `USERS` at a time, the k-th largest
    //   waits about k / USERS mean service times more (measured mean, uncorrected);
    // - overhead: loadgen's scheduling and loopback in this run, measured as the
    //   corrected median above the profile's median, plus twice the largest timer
    //   lateness a probe saw during the run (a late send and a late release; at least
    //   the 1 ms tick), scaled back;
    // - HdrHistogram: 3 significant digits (0.1%).
    let s_hi = service_quantile_ms(3.719);
    let held_before = (RATE * s_hi / 1000.0).ceil().max(1.0);
    let mean_service = raw.avg_response_time_ms() / f;
    let median = all.median_response_time_ms() / f;
    // A late timer delays a send (the scheduler) and a release (the held responses)
    // once each: twice the largest lateness the probe saw in this run.
    let lag = 2.0 * t.lag.max.as_secs_f64() * 1000.0 / f;
    let overhead = (median - SERVICE_MEDIAN_MS).max(0.0) + lag;
    let drain = (k / USERS as f64).ceil() * (mean_service + lag / 2.0);
    let hdr = 0.001 * t_ms;
    let up = held_before * gap_ms + s_hi + drain + overhead + hdr;
    let down = gap_ms + hdr;
    let p99 = all.percentile_ms(0.99).unwrap_or(0.0) / f;
    let max = all.max_response_time_ms() / f;
    let raw_p99 = raw.percentile_ms(0.99).unwrap_or(0.0) / f;
    let raw_max = raw.max_response_time_ms() / f;
    let affected = RATE * STALL.as_secs_f64();
    let model = format!(
        "stall T={} in a {} s run at {RATE}/s: {affected:.0} of ~{:.0} iterations ({:.1}%) wait U(0, T]",
        ms(t_ms),
        DURATION.as_secs(),
        RATE * DURATION.as_secs_f64(),
        STALL.as_secs_f64() / DURATION.as_secs_f64() * 100.0
    );
    let tol = format!(
        "-{} (schedule phase 1/R, HdrHistogram 0.1%) / +{} ({held_before:.0} held before x 1/R, p99.99 service {}, drain {}, overhead {} incl. 2 x the run's max timer lateness {}, HdrHistogram)",
        ms(down),
        ms(up),
        ms(s_hi),
        ms(drain),
        ms(overhead),
        ms(t.lag.max.as_secs_f64() * 1000.0 / f)
    );
    let inside = |v: f64, e: f64| v >= e - down && v <= e + up;
    // Iterations a late stop timer lets through: the schedule keeps running at R (in
    // unscaled time) until the stop fires, up to twice the largest lateness seen.
    let late_stop = RATE * 2.0 * t.lag.max.as_secs_f64() / f;
    let mut out = vec![
        Check::new(
            "omission scheduled and none dropped",
            format!("{:.0} scheduled, 0 dropped", RATE * DURATION.as_secs_f64()),
            format!(
                "{} scheduled, {} started, {} dropped",
                arrival.scheduled, arrival.started, arrival.dropped
            ),
            format!(
                "scheduled within -1% / +1% + {late_stop:.0} (the run's stop timer fires late on a loaded machine: R x twice the run's max timer lateness); dropped exactly 0"
            ),
            arrival.dropped == 0 && {
                let excess = arrival.scheduled as f64 - RATE * DURATION.as_secs_f64();
                let one_percent = 0.01 * RATE * DURATION.as_secs_f64();
                excess >= -one_percent && excess <= one_percent + late_stop
            },
        ),
        Check::new(
            "omission corrected p99 vs model",
            format!(
                "{} = T - (k - 1)/R, k = {k:.0} from the top; {model}",
                ms(expected_p99)
            ),
            ms(p99),
            tol.clone(),
            inside(p99, expected_p99),
        ),
        Check::new(
            "omission corrected max vs model",
            format!("{} = T", ms(t_ms)),
            ms(max),
            tol,
            inside(max, t_ms),
        ),
    ];
    // The uncorrected figures: only the USERS requests in flight when the stall began
    // were measured with the wait, so the p99 stays near the service time, far below the
    // model's lower bound, and the max is the one held request (about T).
    out.push(Check::new(
        "omission uncorrected p99 misses the stall",
        format!(
            "below the model's lower bound {} (near the service p99 {})",
            ms(expected_p99 - down),
            ms(SERVICE_P99_MS)
        ),
        format!("{} (max {})", ms(raw_p99), ms(raw_max)),
        "any value under the corrected model's accepted region",
        raw_p99 < expected_p99 - down,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_quantiles_follow_the_profile() {
        assert!((service_quantile_ms(0.0) - SERVICE_MEDIAN_MS).abs() < 1e-9);
        assert!((service_quantile_ms(2.326_348) - SERVICE_P99_MS).abs() < 1e-6);
    }
}
