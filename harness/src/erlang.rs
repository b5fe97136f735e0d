//! Queueing formulas for comparing a measured queue wait with theory: Erlang C, the
//! M/M/c queue (Poisson arrivals at rate λ, exponential service with mean 1/μ, `c`
//! workers, first come first served, an unbounded queue).
//!
//! With offered load `a = λ/μ` and utilisation `ρ = a/c < 1`:
//! - P(wait) = C(c, a) = Erlang C, computed from Erlang B's stable recurrence
//!   `B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1))`, then `C = c·B / (c − a·(1 − B))`;
//! - the mean wait `Wq = C / (cμ − λ)`;
//! - the wait's standard deviation: the wait is 0 with probability 1 − C and
//!   exponential with rate `cμ − λ` otherwise, so `E[Wq²] = 2C / (cμ − λ)²`.
//!
//! The mock's workers are this queue when the service time is exponential and the
//! arrivals are Poisson; with deterministic arrivals (a fixed-rate open model) the real
//! wait is lower than Erlang C's.

use std::time::Duration;

/// Utilisation `ρ = λ · mean_service / c` (load per worker; the queue is stable below 1).
pub fn utilisation(arrival_rate: f64, mean_service: Duration, workers: u32) -> f64 {
    if workers == 0 {
        return f64::INFINITY;
    }
    arrival_rate * mean_service.as_secs_f64() / f64::from(workers)
}

/// Erlang B: the probability that all `workers` are busy in a loss system with offered
/// load `a` (in Erlangs).
pub fn erlang_b(offered_load: f64, workers: u32) -> f64 {
    (1..=workers).fold(1.0, |b, k| {
        let ab = offered_load * b;
        ab / (f64::from(k) + ab)
    })
}

/// Erlang C: the probability that an arrival waits for a worker (1 when the queue is
/// unstable, `ρ >= 1`, or there are no workers).
pub fn erlang_c_wait_probability(arrival_rate: f64, mean_service: Duration, workers: u32) -> f64 {
    let a = arrival_rate * mean_service.as_secs_f64();
    let c = f64::from(workers);
    if workers == 0 || !(a.is_finite() && a < c) {
        return 1.0;
    }
    if a <= 0.0 {
        return 0.0;
    }
    let b = erlang_b(a, workers);
    (c * b / (c - a * (1.0 - b))).clamp(0.0, 1.0)
}

/// The mean time an arrival waits for a worker in M/M/c (`Duration::MAX` when the queue
/// is unstable: `ρ >= 1` grows without bound).
pub fn erlang_c_mean_wait(arrival_rate: f64, mean_service: Duration, workers: u32) -> Duration {
    match drain_rate(arrival_rate, mean_service, workers) {
        Some(r) => seconds(erlang_c_wait_probability(arrival_rate, mean_service, workers) / r),
        None => Duration::MAX,
    }
}

/// The standard deviation of the wait in M/M/c (`Duration::MAX` when unstable); with it
/// and a sample size, a harness derives the confidence bounds of a measured mean wait
/// (waits of successive requests are correlated, so treat `n` as an upper bound).
pub fn erlang_c_wait_std_dev(arrival_rate: f64, mean_service: Duration, workers: u32) -> Duration {
    match drain_rate(arrival_rate, mean_service, workers) {
        Some(r) => {
            let c = erlang_c_wait_probability(arrival_rate, mean_service, workers);
            seconds((c * (2.0 - c)).sqrt() / r)
        }
        None => Duration::MAX,
    }
}

/// `cμ − λ`, per second, when positive: the rate at which a waiting line drains.
fn drain_rate(arrival_rate: f64, mean_service: Duration, workers: u32) -> Option<f64> {
    let s = mean_service.as_secs_f64();
    if s <= 0.0 {
        return Some(f64::INFINITY);
    }
    let r = f64::from(workers) / s - arrival_rate;
    (r > 0.0 && r.is_finite()).then_some(r)
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(if s > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
    }

    #[test]
    fn two_workers_at_half_load_wait_a_third() {
        // c = 2, λ = 1, μ = 1: P(wait) = 1/3, Wq = 1/3 (a textbook M/M/2 example).
        close(erlang_c_wait_probability(1.0, SECOND, 2), 1.0 / 3.0);
        close(erlang_c_mean_wait(1.0, SECOND, 2).as_secs_f64(), 1.0 / 3.0);
    }

    #[test]
    fn one_worker_is_m_m_1() {
        // M/M/1: P(wait) = ρ, Wq = ρ / (μ − λ); λ = 8, μ = 10: ρ = 0.8, Wq = 0.4 s.
        let s = Duration::from_millis(100);
        close(erlang_c_wait_probability(8.0, s, 1), 0.8);
        close(erlang_c_mean_wait(8.0, s, 1).as_secs_f64(), 0.4);
        // Wq is exponential with rate μ − λ given a wait: sd = sqrt(ρ(2 − ρ)) / (μ − λ).
        close(
            erlang_c_wait_std_dev(8.0, s, 1).as_secs_f64(),
            (0.8f64 * 1.2).sqrt() / 2.0,
        );
    }

    #[test]
    fn erlang_b_matches_its_textbook_values() {
        // B(1, 1) = 1/2; B(2, 1) = 1/5; B(3, 2) = 4/19 (a^c/c! over the partial sum).
        close(erlang_b(1.0, 1), 0.5);
        close(erlang_b(1.0, 2), 0.2);
        close(
            erlang_b(2.0, 3),
            (8.0 / 6.0) / (1.0 + 2.0 + 2.0 + 8.0 / 6.0),
        );
    }

    #[test]
    fn the_recurrence_matches_the_closed_form_sum() {
        // C = (a^c/c! · c/(c−a)) / (Σ_{k<c} a^k/k! + a^c/c! · c/(c−a)), c = 8, a = 6.
        let (c, a) = (8u32, 6.0f64);
        let mut term = 1.0;
        let mut sum = 0.0;
        for k in 0..c {
            sum += term;
            term *= a / f64::from(k + 1);
        }
        let top = term * f64::from(c) / (f64::from(c) - a);
        let want = top / (sum + top);
        // a = λ · s = 120/s · 50 ms.
        close(
            erlang_c_wait_probability(120.0, Duration::from_millis(50), c),
            want,
        );
    }

    #[test]
    fn the_wait_grows_with_load_and_is_unbounded_at_saturation() {
        let s = Duration::from_millis(50);
        let mut last = Duration::ZERO;
        for rate in [0.0, 20.0, 60.0, 100.0, 140.0, 150.0, 159.0] {
            let w = erlang_c_mean_wait(rate, s, 8);
            assert!(w >= last, "{rate}/s: {w:?} < {last:?}");
            last = w;
        }
        assert_eq!(erlang_c_mean_wait(0.0, s, 8), Duration::ZERO);
        assert_eq!(erlang_c_mean_wait(160.0, s, 8), Duration::MAX);
        assert_eq!(erlang_c_mean_wait(200.0, s, 8), Duration::MAX);
        assert_eq!(erlang_c_wait_probability(200.0, s, 8), 1.0);
        // More workers at the same utilisation wait less.
        assert!(erlang_c_mean_wait(100.0, s, 8) < erlang_c_mean_wait(12.5, s, 1));
        close(utilisation(120.0, s, 8), 0.75);
    }
}
