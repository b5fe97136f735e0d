//! The open model's plan: iterations start on a schedule whatever the responses do
//! (k6's `constant-arrival-rate` and `ramping-arrival-rate`), on a bounded pool of users.
//!
//! The schedule is deterministic: with a rate r(t) that is constant or ramps linearly
//! within each stage, iteration k starts at the first t where the expected count
//! ∫₀ᵗ r = k, so a constant rate R over D seconds starts exactly ⌈R·D⌉ iterations.
//! Users measure from the intended start ([`Correction`]), so an iteration that started
//! late is charged its lateness: coordinated omission is corrected, as wrk2 does. The
//! scheduler that follows the schedule is `engine::arrival`.
//!
//! The classes' wait times are not used: the schedule paces the iterations.

use std::time::Duration;

/// A fixed (or ramping) arrival rate.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalPlan {
    /// Iterations per second at the start.
    pub start_rate: f64,
    /// Rate stages, each ramping linearly from the previous rate to its target; none: the
    /// start rate holds until the run is stopped.
    pub stages: Vec<RateStage>,
    /// Most users the pool may hold (k6's `maxVUs`).
    pub max_users: usize,
    /// How late an iteration may start when no user is free before it is dropped (0:
    /// dropped at once, as k6 does).
    pub max_delay: Duration,
    /// Where response times count from.
    pub correction: Correction,
    /// Each stage jumps to its target at its start and holds it (the steps of an
    /// open-model breakpoint search) instead of ramping to it.
    pub steps: bool,
}

/// One stage of a ramping arrival rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Iterations per second at the end of the stage.
    pub target: f64,
}

impl ArrivalPlan {
    /// A constant rate until the run is stopped, corrected for coordinated omission.
    pub fn constant(rate: f64, max_users: usize, max_delay: Duration) -> Self {
        Self {
            start_rate: rate,
            stages: Vec::new(),
            max_users,
            max_delay,
            correction: Correction::FromIntendedStart,
            steps: false,
        }
    }

    /// An open-model breakpoint search: each rate held for `step_time`, in order.
    pub fn stepped(
        rates: &[f64],
        step_time: Duration,
        max_users: usize,
        max_delay: Duration,
    ) -> Self {
        Self {
            start_rate: rates.first().copied().unwrap_or(0.0),
            stages: rates
                .iter()
                .map(|&target| RateStage {
                    duration: step_time,
                    target,
                })
                .collect(),
            steps: true,
            ..Self::constant(0.0, max_users, max_delay)
        }
    }

    /// The plan with its clock scaled by `factor` (see `LoadPlan::scaled`).
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            start_rate: self.start_rate / factor,
            stages: self
                .stages
                .iter()
                .map(|s| RateStage {
                    duration: s.duration.mul_f64(factor),
                    target: s.target / factor,
                })
                .collect(),
            max_delay: self.max_delay.mul_f64(factor),
            ..self.clone()
        }
    }

    /// The intended start of every iteration, from the schedule's start.
    pub fn schedule(&self) -> Schedule {
        let mut segments = Vec::new();
        if self.stages.is_empty() {
            segments.push(Segment {
                start: 0.0,
                duration: f64::INFINITY,
                from: self.start_rate,
                to: self.start_rate,
                before: 0.0,
            });
        }
        let (mut start, mut before, mut from) = (0.0, 0.0, self.start_rate);
        for stage in &self.stages {
            let duration = stage.duration.as_secs_f64();
            if self.steps {
                from = stage.target;
            }
            segments.push(Segment {
                start,
                duration,
                from,
                to: stage.target,
                before,
            });
            start += duration;
            before += (from + stage.target) / 2.0 * duration;
            from = stage.target;
        }
        Schedule {
            segments,
            current: 0,
            next: 0,
        }
    }
}

/// One piece of the rate: linear from `from` to `to` over `duration` seconds.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    duration: f64,
    from: f64,
    to: f64,
    /// Expected iterations before the segment.
    before: f64,
}

impl Segment {
    /// Seconds into the segment at which `n` expected iterations have accrued (solving
    /// from·t + (to−from)·t²/(2·duration) = n in its stable form), if inside it.
    fn time_of(&self, n: f64) -> Option<f64> {
        if n <= 0.0 {
            return Some(0.0);
        }
        let slope = if self.duration.is_finite() {
            (self.to - self.from) / self.duration
        } else {
            0.0
        };
        let root = (self.from * self.from + 2.0 * slope * n).max(0.0).sqrt();
        let denominator = self.from + root;
        if denominator <= 0.0 {
            return None;
        }
        let t = 2.0 * n / denominator;
        (t.is_finite() && t < self.duration).then_some(t)
    }
}

/// Intended starts, in order, as offsets from the schedule's start.
#[derive(Debug, Clone)]
pub struct Schedule {
    segments: Vec<Segment>,
    current: usize,
    next: u64,
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        while let Some(segment) = self.segments.get(self.current) {
            let n = self.next as f64 - segment.before;
            if let Some(t) = segment.time_of(n) {
                self.next += 1;
                return Some(Duration::from_secs_f64(segment.start + t));
            }
            self.current += 1;
        }
        None
    }
}

/// Where response times count from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Correction {
    /// From sending the request, as Locust measures.
    #[default]
    None,
    /// From the iteration's intended start: a late start is charged to every response
    /// of the iteration (coordinated omission corrected, as wrk2 does).
    FromIntendedStart,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(start_rate: f64, stages: &[(f64, f64)]) -> ArrivalPlan {
        ArrivalPlan {
            stages: stages
                .iter()
                .map(|&(d, target)| RateStage {
                    duration: Duration::from_secs_f64(d),
                    target,
                })
                .collect(),
            ..ArrivalPlan::constant(start_rate, 1, Duration::ZERO)
        }
    }

    #[test]
    fn a_constant_rate_starts_ceil_rate_times_duration() {
        let starts: Vec<Duration> = plan(10.0, &[(2.0, 10.0)]).schedule().collect();
        assert_eq!(starts.len(), 20);
        for (k, t) in starts.iter().enumerate() {
            assert!(
                (t.as_secs_f64() - k as f64 / 10.0).abs() < 1e-9,
                "{k}: {t:?}"
            );
        }
        assert_eq!(plan(3.0, &[(1.1, 3.0)]).schedule().count(), 4);
        // Without stages the rate holds for ever.
        assert_eq!(plan(5.0, &[]).schedule().take(1000).count(), 1000);
    }

    #[test]
    fn a_ramp_starts_its_integral() {
        // 0 -> 100 it/s over 2 s: 100 expected iterations; then 100 it/s for 1 s: 100.
        let starts: Vec<Duration> = plan(0.0, &[(2.0, 100.0), (1.0, 100.0)])
            .schedule()
            .collect();
        assert_eq!(starts.len(), 200);
        let in_ramp = starts.iter().filter(|t| t.as_secs_f64() < 2.0).count();
        assert_eq!(in_ramp, 100);
        // On the ramp, k iterations have accrued at t = sqrt(2k·2/100) = sqrt(k/25).
        for (k, t) in starts.iter().take(100).enumerate() {
            let expected = (k as f64 / 25.0).sqrt();
            assert!((t.as_secs_f64() - expected).abs() < 1e-9, "{k}: {t:?}");
        }
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn a_zero_rate_stage_starts_nothing() {
        let starts: Vec<Duration> = plan(0.0, &[(1.0, 0.0), (1.0, 0.0)]).schedule().collect();
        // Only the first iteration at t = 0 (nothing has accrued yet).
        assert_eq!(starts, [Duration::ZERO]);
    }

    #[test]
    fn a_stepped_plan_holds_each_rate_for_its_step() {
        let p = ArrivalPlan::stepped(
            &[10.0, 20.0, 40.0],
            Duration::from_secs(1),
            5,
            Duration::ZERO,
        );
        let starts: Vec<f64> = p.schedule().map(|d| d.as_secs_f64()).collect();
        // 10, then 20, then 40 iterations: no ramp between the steps.
        assert_eq!(starts.len(), 70);
        let in_step = |lo: f64, hi: f64| starts.iter().filter(|t| **t >= lo && **t < hi).count();
        assert_eq!(
            (in_step(0.0, 1.0), in_step(1.0, 2.0), in_step(2.0, 3.0)),
            (10, 20, 40)
        );
        assert!((starts[10] - 1.0).abs() < 1e-9 && (starts[11] - 1.05).abs() < 1e-9);
        assert!(p.scaled(0.5).steps);
    }

    #[test]
    fn scaling_keeps_the_count() {
        let p = plan(10.0, &[(60.0, 20.0), (60.0, 20.0)]);
        let scaled = p.scaled(0.01);
        assert_eq!(p.schedule().count(), scaled.schedule().count());
        assert_eq!(scaled.stages[0].duration, Duration::from_millis(600));
    }
}
