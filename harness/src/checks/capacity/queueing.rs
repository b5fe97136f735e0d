//! Queueing: at a utilisation below 1 the mock's workers behave as the M/M/c queue of
//! their configured count: the share of requests that wait for a worker is Erlang C's
//! probability of queueing, and their mean wait is Erlang C's mean wait.
//!
//! Erlang C assumes Poisson arrivals. loadgen's open model schedules arrivals evenly
//! (D/M/c), whose waits are shorter than Erlang C's, so this family drives the mock with
//! its own Poisson client instead: exponential inter-arrival times from a seeded
//! generator, each arrival a fresh HTTP/1.1 request over loopback sent at its scheduled
//! instant (absolute deadlines, so timer lateness never accumulates). The `capacity`
//! profile's service is exponential, so the queue is M/M/8 and Erlang C is exact.
//!
//! Both figures are the mock's own, not the client's timing: the pool counts the
//! requests it queued (a count, no clock involved) and times each wait from the
//! request's arrival at the server to its worker.
//!
//! The load the formula is given is the MEASURED offered load: at every arrival the
//! client reads how many workers the pool holds busy, and by PASTA (Poisson arrivals see
//! time averages) the mean of those readings is the time-average number of busy workers,
//! which in M/M/c is the offered load a = λ x mean holding time, every overhead that
//! keeps a worker from the next request included. The configured 50 ms will not do: on
//! a loaded two-core machine the workers were held 49 to 55 ms, and the wait's
//! elasticity to the load is large (at ρ = 0.75 with 8 workers, 10% more load more than
//! doubles the mean wait, and raises the share queued from 0.36 to 0.51), so a few per
//! cent of service overhead is 15-30% of wait. The holding time the readings give agreed
//! with the mock's service timer within 1-3% either way in our runs, so the hand-over of
//! a freed worker to its waiter adds nothing the readings can resolve.
//!
//! Tolerances: successive requests' waits are strongly correlated (a busy period spans
//! many of them), so the run is cut into batches several relaxation times long (the
//! relaxation time is of the order of 1 / (c μ (1 - sqrt ρ)^2), 0.35 s unscaled at
//! ρ = 0.75), the first is dropped as warm-up, and the batch means, close to independent,
//! give a Student-t interval. The batches' own loads swing (a Poisson stream is bursty),
//! and their waits swing with them; the interval is built from each batch's residual
//! about the line of its statistic on its load, so that swing, which the formula
//! accounts for, does not widen it: the load reading works as a control variate. The family's alpha is
//! split evenly (Bonferroni) between the three statistical checks.
//!
//! The measured load makes the Erlang C checks blind to a mock that holds its workers
//! too long (the formula is told the longer time), so a third check holds the workers'
//! mean holding time to the CONFIGURED mean service: it may exceed it only by the
//! lateness the mock measured on its own responses (each response's actual minus
//! intended time, which bounds how late the service timer woke), within the sampling
//! error of n exponential service times.

use std::time::{Duration, Instant};

use seeding::SplitMix64;
use statrs::distribution::{ContinuousCDF, StudentsT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{start_mock, CapacityError};
use crate::check::Check;
use crate::checks::{ms, sci};

/// Time scale: a 31 s run in 16 s. Not smaller: the handler's and the timers' overhead
/// (about 1 ms in a debug build on two cores) would become a large part of the service.
pub const TIME_SCALE: f64 = 0.5;
/// Arrivals per second, unscaled: utilisation 120 x 0.05 / 8 = 0.75, where Erlang C's
/// probability of queueing (0.36) and mean wait (8.9 ms) are both well away from 0 and
/// the queue is still stable if the overheads stretch the service by a tenth.
pub const RATE: f64 = 120.0;
/// Batches, each 1.25 s unscaled (about 150 arrivals, 3.5 relaxation times); the first is
/// warm-up. 24 batches leave t(23 df) at 5.2, close to the normal 4.4.
pub const BATCHES: u32 = 25;
/// One batch, unscaled.
pub const BATCH: Duration = Duration::from_millis(1250);
/// The family's false-failure probability (its share of the run's budget), split
/// between the probability of queueing and the mean wait.
pub const ALPHA: f64 = 5e-5;
/// The route the Poisson client calls.
const ROUTE: &str = "GET /api/clients";
/// Longest one request may take before the client gives up on it (wall).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One batch's figures: the mock's counts and times (wall ms) and the client's readings
/// of the pool at each arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batch {
    /// Requests that got a worker.
    pub waits: u64,
    /// Of which waited in the queue first (the pool's count).
    pub queued: u64,
    /// Their mean queue wait, ms (zero-wait requests included).
    pub mean_wait_ms: f64,
    /// Requests served.
    pub services: u64,
    /// Their mean service time (worker held, timer overhead included), ms.
    pub mean_service_ms: f64,
    /// Requests the client sent.
    pub arrivals: u64,
    /// Busy workers the client read at those arrivals, summed.
    pub busy_sum: u64,
    /// The batch's length, s (wall).
    pub seconds: f64,
    /// The mock's mean lateness of its responses (actual minus intended time), ms.
    pub mean_late_ms: f64,
}

impl Batch {
    /// The share of requests that queued.
    pub fn queued_share(&self) -> f64 {
        self.queued as f64 / self.waits.max(1) as f64
    }

    /// The mean number of busy workers an arrival saw: the offered load, in Erlangs.
    pub fn load(&self) -> f64 {
        self.busy_sum as f64 / self.arrivals.max(1) as f64
    }
}

/// The Poisson run's evidence.
#[derive(Debug, Clone)]
pub struct Queueing {
    /// Workers the mock had, which the formula is told.
    pub workers: u32,
    /// Batches, the warm-up one included.
    pub batches: Vec<Batch>,
    /// Requests sent.
    pub sent: u64,
    /// Of which answered 200.
    pub ok: u64,
    /// Wall time of the sending.
    pub elapsed: Duration,
    /// The profile's service time distribution (unscaled).
    pub configured_service: mock_api::latency::LatencyDistribution,
}

impl Queueing {
    /// The same evidence with every load reading multiplied by `k`: what the formula
    /// sees when it is told a mean service time `k` times the real one.
    pub fn with_service_scaled(&self, k: f64) -> Self {
        let mut q = self.clone();
        for b in &mut q.batches {
            b.busy_sum = (b.busy_sum as f64 * k).round() as u64;
        }
        q
    }

    /// The same evidence with every worker held `k` times as long as it was: a mock
    /// that holds its workers too long (its load readings grow with it).
    pub fn with_workers_held(&self, k: f64) -> Self {
        let mut q = self.with_service_scaled(k);
        for b in &mut q.batches {
            b.mean_service_ms *= k;
        }
        q
    }
}

/// An exponential draw with the given mean, from the seeded stream.
fn exponential(rng: &mut SplitMix64, mean: f64) -> f64 {
    -mean * rng.next_f64().ln()
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

/// Runs the Poisson client against `capacity`, reading the pool at every arrival and the
/// mock's statistics once per batch.
pub async fn run(seed: u64) -> Result<Queueing, CapacityError> {
    let f = TIME_SCALE;
    let profile = super::profile("capacity")?;
    let configured_service = profile.behaviour(ROUTE).latency.clone();
    let mock = start_mock(profile, f, seed).await?;
    let addr = mock.server.addr();
    let mut rng = SplitMix64::new(seed ^ 0x0005_EED0_FA11_u64);
    let mean_gap = f / RATE;
    let batch = BATCH.mul_f64(f);
    let total = batch * BATCHES;
    let state = mock.server.state().clone();
    let pool = state.profile.current().pool.clone();
    let busy_now = || pool.as_ref().map_or(0, |p| u64::from(p.load().0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut batches = Vec::new();
    let mut next_batch = 1u32;
    let mut batch_start = start;
    let (mut arrivals, mut busy_sum) = (0u64, 0u64);
    let mut at = exponential(&mut rng, mean_gap);
    let mut sent = 0u64;
    // Bounded: at most RATE x duration x 10 arrivals (the expected count is a tenth of
    // that), and no later than the run's end.
    let cap = (RATE * BATCH.as_secs_f64() * f64::from(BATCHES) * 10.0) as u64;
    while sent < cap {
        let due = Duration::from_secs_f64(at);
        // Batch boundaries that come before the next arrival.
        while next_batch <= BATCHES && batch * next_batch <= due.min(total) {
            let end = start + batch * next_batch;
            tokio::time::sleep_until(end.into()).await;
            let snapshot = state.stats_snapshot();
            let c = snapshot.capacity;
            state.reset_stats();
            let now = Instant::now();
            batches.push(Batch {
                waits: c.queue_wait_ms.count,
                queued: c.served_from_queue,
                mean_wait_ms: c.queue_wait_ms.mean,
                services: c.service_time_ms.count,
                mean_service_ms: c.service_time_ms.mean,
                arrivals,
                busy_sum,
                seconds: now.duration_since(batch_start).as_secs_f64(),
                mean_late_ms: snapshot.delay_error_us.mean / 1000.0,
            });
            batch_start = now;
            (arrivals, busy_sum) = (0, 0);
            next_batch += 1;
        }
        if due >= total {
            break;
        }
        tokio::time::sleep_until((start + due).into()).await;
        busy_sum += busy_now();
        arrivals += 1;
        tasks.spawn(async move { tokio::time::timeout(REQUEST_TIMEOUT, one_request(addr)).await });
        sent += 1;
        at += exponential(&mut rng, mean_gap);
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
        configured_service,
    })
}

/// Erlang C's probability of queueing with `c` workers and offered load `a` Erlangs.
fn p_wait(c: u32, a: f64) -> f64 {
    crate::erlang::erlang_c_wait_probability(a, Duration::from_secs(1), c)
}

/// Erlang C's mean wait, in the unit of `service`: C / (c - a) service times.
fn mean_wait(c: u32, a: f64, service: f64) -> f64 {
    if a >= f64::from(c) {
        return f64::INFINITY;
    }
    p_wait(c, a) * service / (f64::from(c) - a)
}

/// A statistic's batch means against a model of the load, with the interval.
#[derive(Debug, Clone, Copy)]
struct Versus {
    /// The model at the run's mean load.
    expected: f64,
    /// The mean of the batch values.
    measured: f64,
    /// Half-width of the interval on their difference.
    half: f64,
    /// The t quantile used.
    t: f64,
    /// Standard deviation of the batches' residuals.
    sd: f64,
}

impl Versus {
    /// Batch values `x` against `model` at the batches' mean load ā: the statistic is
    /// x̄ - model(ā); its spread is that of the residuals of x about their least-squares
    /// line on the batches' loads a (k - 2 degrees of freedom), so the batches' swings in
    /// load, which move x and the formula together, do not widen the interval.
    fn of(x: &[f64], a: &[f64], model: impl Fn(f64) -> f64, alpha: f64) -> Self {
        let k = x.len() as f64;
        let abar = a.iter().sum::<f64>() / k;
        let xbar = x.iter().sum::<f64>() / k;
        let saa: f64 = a.iter().map(|a| (a - abar).powi(2)).sum();
        let sxa: f64 = x.iter().zip(a).map(|(x, a)| (x - xbar) * (a - abar)).sum();
        let slope = if saa > 0.0 { sxa / saa } else { 0.0 };
        let residual: f64 = x
            .iter()
            .zip(a)
            .map(|(x, a)| (x - xbar - slope * (a - abar)).powi(2))
            .sum();
        let sd = (residual / (k - 2.0)).sqrt();
        let t = StudentsT::new(0.0, 1.0, k - 2.0)
            .map_or(f64::INFINITY, |dist| dist.inverse_cdf(1.0 - alpha / 2.0));
        Self {
            expected: model(abar),
            measured: xbar,
            half: t * sd / k.sqrt(),
            t,
            sd,
        }
    }

    fn passed(&self) -> bool {
        self.expected.is_finite() && (self.measured - self.expected).abs() <= self.half
    }
}

/// The share queued and the mean wait against Erlang C at the measured load.
pub fn checks(q: &Queueing) -> Vec<Check> {
    let f = TIME_SCALE;
    let p_name = "queueing P(wait) vs Erlang C";
    let w_name = "queueing mean wait vs Erlang C";
    let used: Vec<&Batch> = q
        .batches
        .iter()
        .skip(1)
        .filter(|b| b.waits > 0 && b.arrivals > 0)
        .collect();
    if used.len() < 3 || q.workers == 0 {
        let why = "fewer than 3 batches with arrivals";
        return vec![Check::skip(p_name, why), Check::skip(w_name, why)];
    }
    let c = q.workers;
    let k = used.len();
    let loads: Vec<f64> = used.iter().map(|b| b.load()).collect();
    let load = loads.iter().sum::<f64>() / k as f64;
    let seconds: f64 = used.iter().map(|b| b.seconds).sum();
    let arrivals: u64 = used.iter().map(|b| b.arrivals).sum();
    let requests: u64 = used.iter().map(|b| b.waits).sum();
    let rate = arrivals as f64 / seconds;
    // The mean time a worker is held per request, as the pool sees it, against what the
    // mock's service timer measured.
    let holding_ms = load / rate * 1000.0;
    let services: u64 = used.iter().map(|b| b.services).sum();
    let service_ms = used
        .iter()
        .map(|b| b.mean_service_ms * b.services as f64)
        .sum::<f64>()
        / services.max(1) as f64;
    let rho = load / f64::from(c);
    let inputs = format!(
        "c={c}, a={load:.3} Erlangs measured (ρ={rho:.3}: λ={:.1}/s x held {}; the service timer says {})",
        rate * f,
        ms(holding_ms / f),
        ms(service_ms / f)
    );
    if rho >= 1.0 {
        return [p_name, w_name]
            .into_iter()
            .map(|name| {
                Check::new(
                    name,
                    "a stable queue (utilisation below 1)",
                    inputs.clone(),
                    "Erlang C needs ρ < 1",
                    false,
                )
            })
            .collect();
    }
    let alpha = ALPHA / 3.0;
    let shares: Vec<f64> = used.iter().map(|b| b.queued_share()).collect();
    let p = Versus::of(&shares, &loads, |a| p_wait(c, a), alpha);
    // The wait in wall ms at load a: the holding time is a / λ.
    let waits: Vec<f64> = used.iter().map(|b| b.mean_wait_ms).collect();
    let w = Versus::of(
        &waits,
        &loads,
        |a| mean_wait(c, a, a / rate * 1000.0),
        alpha,
    );
    let queued: u64 = used.iter().map(|b| b.queued).sum();
    let tolerance = |v: &Versus, unit: &dyn Fn(f64) -> String| {
        format!(
            "±{} ({:.1}% of expected) = t({} df, alpha={}) {:.2} x residual sd {} of {k} batches about their line on load / sqrt({k})",
            unit(v.half),
            v.half / v.expected * 100.0,
            k - 2,
            sci(alpha),
            v.t,
            unit(v.sd),
        )
    };
    let late_ms = used
        .iter()
        .map(|b| b.mean_late_ms * b.services as f64)
        .sum::<f64>()
        / services.max(1) as f64;
    vec![
        super::service_vs_configured(
            "queueing service time vs configured",
            super::Served {
                configured: &q.configured_service,
                held_ms: service_ms / f,
                late_ms: late_ms / f,
                n: services,
            },
            alpha,
        ),
        Check::new(
            "queueing Poisson client answered",
            format!("{} requests answered 200", q.sent),
            format!("{} of {} answered 200", q.ok, q.sent),
            "exact (no timeout or refusal below saturation)",
            q.ok == q.sent,
        ),
        Check::new(
            p_name,
            format!("{:.4} = Erlang C ({inputs})", p.expected),
            format!("{:.4} ({queued} of {requests} requests queued)", p.measured),
            tolerance(&p, &|v| format!("{v:.4}")),
            p.passed(),
        ),
        Check::new(
            w_name,
            format!("{} = Erlang C ({inputs})", ms(w.expected / f)),
            format!("{} (mean of {k} batch means)", ms(w.measured / f)),
            tolerance(&w, &|v| ms(v / f)),
            w.passed(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 24 batches of 150 services at the configured 50 ms (25 ms wall at x0.5) pass;
    /// workers held 10% longer, or 10% shorter, fail.
    #[test]
    fn workers_held_longer_than_configured_fail_the_configured_check() {
        let batch = Batch {
            waits: 150,
            queued: 54,
            mean_wait_ms: 4.4,
            services: 150,
            mean_service_ms: 25.1,
            arrivals: 150,
            busy_sum: 900,
            seconds: 0.625,
            mean_late_ms: 0.2,
        };
        let q = Queueing {
            workers: 8,
            batches: vec![batch; 25],
            sent: 3750,
            ok: 3750,
            elapsed: Duration::from_secs(16),
            configured_service: mock_api::latency::LatencyDistribution::Exponential {
                mean_ms: 50.0,
                min_ms: None,
                max_ms: None,
            },
        };
        let verdict = |q: &Queueing| {
            checks(q)
                .into_iter()
                .find(|c| c.name == "queueing service time vs configured")
                .map(|c| c.verdict)
        };
        assert_eq!(verdict(&q), Some(crate::check::Verdict::Pass));
        assert_eq!(
            verdict(&q.with_workers_held(1.1)),
            Some(crate::check::Verdict::Fail)
        );
        assert_eq!(
            verdict(&q.with_workers_held(0.9)),
            Some(crate::check::Verdict::Fail)
        );
    }

    #[test]
    fn exponential_draws_have_the_asked_mean() {
        // 100 000 draws of mean 1: the sample mean's standard error is 1/sqrt(1e5) =
        // 0.32%, so 2% is six standard errors (and the seed is fixed).
        let mut rng = SplitMix64::new(7);
        let n = 100_000;
        let mean = (0..n).map(|_| exponential(&mut rng, 1.0)).sum::<f64>() / f64::from(n);
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
    }
}
