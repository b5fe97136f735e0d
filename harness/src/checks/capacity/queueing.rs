//! Queueing: at a utilisation below 1 the mock's measured mean queue wait matches the
//! Erlang C formula (M/M/c) for its 8 workers, within a batch-means confidence interval.
//!
//! Erlang C assumes Poisson arrivals. loadgen's open model schedules arrivals evenly
//! (D/M/c), whose waits are shorter than Erlang C's, so this family drives the mock with
//! its own Poisson client instead: exponential inter-arrival times from a seeded
//! generator, each arrival a fresh HTTP/1.1 request over loopback sent at its scheduled
//! instant (absolute deadlines, so timer lateness never accumulates; a late wake-up
//! displaces one arrival by at most a timer tick, far below the scaled service time).
//!
//! The model uses the measured arrival rate and the MEASURED mean service time (timer
//! overhead included; the service is then a shifted exponential whose squared
//! coefficient of variation is (50 / 50.5)^2 = 0.98 instead of 1, a 1% effect on the
//! wait by the Allen-Cunneen approximation, well inside the interval).
//!
//! Successive waits are strongly correlated (a busy period spans many requests), so the
//! interval is not sd / sqrt(n): the run is cut into batches far longer than the queue's
//! relaxation time (of the order of 1 / (c μ (1 - sqrt ρ)^2), 0.35 s unscaled at
//! ρ = 0.75), the first is dropped as warm-up, and the batch means, close to
//! independent, give the interval with Student's t.

use std::time::{Duration, Instant};

use statrs::distribution::{ContinuousCDF, StudentsT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{start_mock, CapacityError};
use crate::check::Check;
use crate::checks::{ms, sci};

/// Time scale: a 30 s run in 15 s. Slower than the other families on purpose: the
/// service time the workers are held carries the handler's and the timers' overhead
/// (about 1 ms in a debug build on two cores), which a smaller scale would make a large
/// part of a scaled 50 ms.
pub const TIME_SCALE: f64 = 0.5;
/// Arrivals per second, unscaled: utilisation 100 x 0.05 / 8 = 0.625, so the queue stays
/// stable even if the overhead stretches the service by a tenth.
pub const RATE: f64 = 100.0;
/// Batches, each 2 s unscaled (about 200 arrivals); the first is warm-up.
pub const BATCHES: u32 = 15;
/// One batch, unscaled.
pub const BATCH: Duration = Duration::from_secs(2);
/// False-failure probability of the interval.
pub const ALPHA: f64 = 5e-5;
/// Longest one request may take before the client gives up on it (wall).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One batch's figures from the mock (wall ms).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch {
    /// Requests that got a worker.
    pub waits: u64,
    /// Their mean queue wait, ms.
    pub mean_wait_ms: f64,
    /// Requests served.
    pub services: u64,
    /// Their mean service time, ms.
    pub mean_service_ms: f64,
}

/// The Poisson run's evidence.
#[derive(Debug, Clone)]
pub struct Queueing {
    /// Workers the mock had.
    pub workers: u32,
    /// Batches, the warm-up one included.
    pub batches: Vec<Batch>,
    /// Requests sent.
    pub sent: u64,
    /// Of which answered 200.
    pub ok: u64,
    /// Wall time of the sending.
    pub elapsed: Duration,
}

/// A small seeded generator (SplitMix64): enough for exponential draws, no dependency.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 random bits in (0, 1].
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// An exponential draw with the given mean.
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.next_f64().ln()
    }
}

/// One request over a fresh connection; true on a 200.
async fn one_request(addr: std::net::SocketAddr) -> std::io::Result<bool> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /api/clients HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await?;
    let mut body = Vec::new();
    stream.read_to_end(&mut body).await?;
    Ok(body.starts_with(b"HTTP/1.1 200"))
}

/// Runs the Poisson client against `capacity`, reading the mock's statistics once per
/// batch.
pub async fn run(seed: u64) -> Result<Queueing, CapacityError> {
    let f = TIME_SCALE;
    let mock = start_mock(super::profile("capacity")?, f, seed).await?;
    let addr = mock.server.addr();
    let mut rng = SplitMix(seed ^ 0x0005_EED0_FA11_u64);
    let mean_gap = f / RATE;
    let total = BATCH.mul_f64(f64::from(BATCHES) * f);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut batches = Vec::new();
    let mut next_batch = 1u32;
    let mut at = rng.exponential(mean_gap);
    let mut sent = 0u64;
    let state = mock.server.state().clone();
    let snap = |state: &mock_api::state::AppState| {
        let c = state.stats_snapshot().capacity;
        Batch {
            waits: c.queue_wait_ms.count,
            mean_wait_ms: c.queue_wait_ms.mean,
            services: c.service_time_ms.count,
            mean_service_ms: c.service_time_ms.mean,
        }
    };
    // Bounded: at most RATE x duration x 10 arrivals (the expected count is a tenth of
    // that), and no later than the run's end.
    let cap = (RATE * BATCH.as_secs_f64() * f64::from(BATCHES) * 10.0) as u64;
    while sent < cap {
        let due = Duration::from_secs_f64(at);
        // Batch boundaries that come before the next arrival.
        while next_batch <= BATCHES && BATCH.mul_f64(f * f64::from(next_batch)) <= due.min(total) {
            tokio::time::sleep_until((start + BATCH.mul_f64(f * f64::from(next_batch))).into())
                .await;
            batches.push(snap(&state));
            state.reset_stats();
            next_batch += 1;
        }
        if due >= total {
            break;
        }
        tokio::time::sleep_until((start + due).into()).await;
        tasks.spawn(async move { tokio::time::timeout(REQUEST_TIMEOUT, one_request(addr)).await });
        sent += 1;
        at += rng.exponential(mean_gap);
    }
    let elapsed = start.elapsed();
    let mut ok = 0u64;
    let mut error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(Ok(true))) => ok += 1,
            Ok(Ok(Err(e))) => error = Some(e),
            _ => {}
        }
    }
    let workers = state.stats_snapshot().capacity.workers;
    drop(state);
    mock.finish().await?;
    if ok == 0 {
        if let Some(source) = error {
            return Err(CapacityError::Client {
                addr: addr.to_string(),
                source,
            });
        }
    }
    Ok(Queueing {
        workers,
        batches,
        sent,
        ok,
        elapsed,
    })
}

/// The measured mean wait against Erlang C.
/// The measured arrival rate (per second) and mean service time of a run: the inputs
/// Erlang C is evaluated with.
fn measured_rate_and_service(q: &Queueing) -> (f64, Duration) {
    let services: u64 = q.batches.iter().map(|b| b.services).sum();
    let service_ms = q
        .batches
        .iter()
        .map(|b| b.mean_service_ms * b.services as f64)
        .sum::<f64>()
        / services.max(1) as f64;
    let rate = q.sent as f64 / q.elapsed.as_secs_f64();
    (rate, Duration::from_secs_f64(service_ms / 1000.0))
}

/// The offered load of a run in Erlangs (arrival rate x mean service time): a server
/// with fewer workers than this cannot keep up with it.
pub fn offered_load(q: &Queueing) -> f64 {
    let (rate, service) = measured_rate_and_service(q);
    rate * service.as_secs_f64()
}

pub fn checks(q: &Queueing) -> Vec<Check> {
    let f = TIME_SCALE;
    let name = "queueing mean wait vs Erlang C";
    let used: Vec<&Batch> = q.batches.iter().skip(1).filter(|b| b.waits > 0).collect();
    if used.len() < 3 || q.workers == 0 {
        return vec![Check::skip(name, "fewer than 3 batches with waits")];
    }
    let k = used.len() as f64;
    let means: Vec<f64> = used.iter().map(|b| b.mean_wait_ms).collect();
    let grand = means.iter().sum::<f64>() / k;
    let sd = (means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, k - 1.0)
        .map_or(f64::INFINITY, |d| d.inverse_cdf(1.0 - ALPHA / 2.0));
    let half = t * sd / k.sqrt();
    let (rate, service) = measured_rate_and_service(q);
    let service_ms = service.as_secs_f64() * 1000.0;
    let erlang = mock_api::queueing::erlang_c_mean_wait(rate, service, q.workers);
    let p_wait = mock_api::queueing::erlang_c_wait_probability(rate, service, q.workers);
    let rho = mock_api::queueing::utilisation(rate, service, q.workers);
    if rho >= 1.0 {
        return vec![Check::new(
            name,
            "a stable queue (utilisation below 1)",
            format!(
                "ρ={rho:.3}: λ={:.1}/s x measured mean service {} / {} workers",
                rate * f,
                ms(service_ms / f),
                q.workers
            ),
            "Erlang C needs ρ < 1",
            false,
        )];
    }
    let expected = erlang.as_secs_f64() * 1000.0;
    let n: u64 = used.iter().map(|b| b.waits).sum();
    vec![
        Check::new(
            "queueing Poisson client answered",
            format!("{} requests answered 200", q.sent),
            format!("{} of {} answered 200", q.ok, q.sent),
            "exact (no timeout or refusal below saturation)",
            q.ok == q.sent,
        ),
        Check::new(
            name,
            format!(
                "{} = Erlang C (c={}, λ={:.1}/s, measured mean service {}, ρ={rho:.3}, P(wait)={p_wait:.3})",
                ms(expected / f),
                q.workers,
                rate * f,
                ms(service_ms / f)
            ),
            format!(
                "{} (mean of {} batch means, {n} requests)",
                ms(grand / f),
                used.len()
            ),
            format!(
                "±{} = t({:.0} df, alpha={}) {t:.2} x batch sd {} / sqrt({})",
                ms(half / f),
                k - 1.0,
                sci(ALPHA),
                ms(sd / f),
                used.len()
            ),
            (grand - expected).abs() <= half,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_draws_have_the_asked_mean() {
        // 100 000 draws of mean 1: the sample mean's standard error is 1/sqrt(1e5) =
        // 0.32%, so 2% is six standard errors (and the seed is fixed).
        let mut rng = SplitMix(7);
        let n = 100_000;
        let mean = (0..n).map(|_| rng.exponential(1.0)).sum::<f64>() / f64::from(n);
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
    }
}
