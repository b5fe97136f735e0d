//! The breakpoint search: a staged plan (by default the `step` shape) whose stages are
//! judged one by one. Each step's requests are recorded into their own stats hub; when a
//! step ends its figures are collected into a snapshot, the rule's criteria are evaluated
//! on it (the same k6-like criteria a scenario declares), and the statistics are reset
//! for the next step. The first step that fails ends the plan: the breaking point lies
//! between the last step that passed and that one.
//!
//! The open model steps the arrival rate instead ([`RateStep`], [`rate_steps`]): each
//! step holds its rate, and besides the criteria it fails when more than
//! [`MAX_DROPPED_RATIO`] of its iterations were dropped, because then the generator's
//! pool of users, not the server, set the load the step measured.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::stats::{Aggregator, StatsHub};
use crate::verdict::criteria::{self, CriteriaError, CriteriaSet, Outcome};

/// When a step fails: criteria on the step's own figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Breakpoint {
    /// Every criterion must hold on the step's figures for it to pass.
    pub criteria: CriteriaSet,
}

impl Breakpoint {
    /// The built-in rule: a step fails when its failure ratio is over `max_fail_ratio` or
    /// its 95th percentile over `max_p95_ms` (either may be left out).
    pub fn bounds(
        max_fail_ratio: Option<f64>,
        max_p95_ms: Option<f64>,
    ) -> Result<Self, CriteriaError> {
        let mut expressions = Vec::new();
        if let Some(r) = max_fail_ratio {
            expressions.push(format!("fail_ratio <= {r}"));
        }
        if let Some(ms) = max_p95_ms {
            expressions.push(format!("p(95) <= {ms}"));
        }
        let refs: Vec<&str> = expressions.iter().map(String::as_str).collect();
        Ok(Self {
            criteria: CriteriaSet::aggregated(&refs)?,
        })
    }
}

/// Most of a rate step's scheduled iterations that may be dropped (no free user) before
/// the step fails: beyond it the load measured is not the rate asked for.
pub(crate) const MAX_DROPPED_RATIO: f64 = 0.05;
/// Most rate steps one search may have.
pub(crate) const MAX_RATE_STEPS: usize = 100;

/// How an open-model search raises the rate from one step to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateStep {
    /// Multiply by this factor (above 1).
    Factor(f64),
    /// Add this many iterations per second (above 0).
    Increment(f64),
}

/// A `--rate-step` that is not `xFACTOR` or `+RATE`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad rate step {0:?}: expected xFACTOR (a factor above 1, e.g. x1.5) or +RATE (iterations per second above 0, e.g. +20)")]
pub struct RateStepError(pub String);

impl std::str::FromStr for RateStep {
    type Err = RateStepError;
    fn from_str(text: &str) -> Result<Self, RateStepError> {
        let t = text.trim();
        let bad = || RateStepError(text.to_owned());
        let number = |v: &str| v.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match t.chars().next() {
            Some('x' | 'X' | '*') => match number(&t[1..]) {
                Some(f) if f > 1.0 && f <= 1e6 => Ok(RateStep::Factor(f)),
                _ => Err(bad()),
            },
            Some('+') => match number(&t[1..]) {
                Some(r) if r > 0.0 && r <= 1e9 => Ok(RateStep::Increment(r)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl RateStep {
    /// The rate after `rate`.
    pub fn next(self, rate: f64) -> f64 {
        match self {
            RateStep::Factor(f) => rate * f,
            RateStep::Increment(r) => rate + r,
        }
    }
}

/// The rates of a search of `count` steps (at least 1, at most [`MAX_RATE_STEPS`]) from
/// `start`.
pub(crate) fn rate_steps(start: f64, step: RateStep, count: usize) -> Vec<f64> {
    std::iter::successors(Some(start), |r| Some(step.next(*r)))
        .take(count.clamp(1, MAX_RATE_STEPS))
        .collect()
}

/// One step's figures and verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepResult {
    /// Stage index in the plan.
    pub stage: usize,
    /// Users the step asked for (an open-model step: the users it ended with).
    pub users: usize,
    /// Iterations per second the step asked for (open-model steps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Of the step's scheduled iterations, those dropped for want of a free user
    /// (open-model steps only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// Users running when it ended.
    pub running: usize,
    /// How long it lasted (seconds in JSON).
    #[serde(
        serialize_with = "crate::timespan::serialize_seconds",
        deserialize_with = "crate::timespan::deserialize_seconds"
    )]
    pub duration: Duration,
    /// Requests completed during the step.
    pub requests: u64,
    /// Of which failed.
    pub failures: u64,
    /// Requests per second over the step.
    pub rps: f64,
    /// Median response time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// The criteria the step broke, in words; empty when it passed.
    pub breaches: Vec<String>,
}

impl StepResult {
    /// The load the step asked for: `12 users`, or `150.0 it/s`.
    pub fn load(&self) -> String {
        match self.rate {
            Some(r) => format!("{r:.1} it/s"),
            None => format!("{} users", self.users),
        }
    }

    /// True when every criterion held.
    pub fn passed(&self) -> bool {
        self.breaches.is_empty()
    }

    /// Failures divided by requests.
    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }
}

/// Every judged step, in order; the last one failed when a breaking point was found.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BreakpointReport {
    /// The steps judged.
    pub steps: Vec<StepResult>,
}

impl BreakpointReport {
    /// The last step that passed before the first failure.
    pub fn last_passed(&self) -> Option<&StepResult> {
        self.steps.iter().take_while(|s| s.passed()).last()
    }

    /// The first step that failed: the breaking point.
    pub fn first_failed(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| !s.passed())
    }

    /// The steps as a small table, with the verdict below it.
    pub fn table(&self) -> String {
        let mut out = String::from("Breakpoint search\n");
        let _ = writeln!(
            out,
            "{:>5} {:>7} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  Result",
            "Step", "Load", "Duration", "# reqs", "Fail %", "req/s", "50%", "95%", "99%"
        );
        out.push_str(&"-".repeat(92));
        out.push('\n');
        let ms = |v: Option<f64>| v.map_or_else(|| "N/A".to_owned(), |v| format!("{v:.0}"));
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{:>5} {:>7} {:>8.1}s {:>9} {:>7.2}% {:>8.2} {:>8} {:>8} {:>8}  {}",
                s.stage,
                s.load(),
                s.duration.as_secs_f64(),
                s.requests,
                s.fail_ratio() * 100.0,
                s.rps,
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(s.p99_ms),
                if s.passed() {
                    "passed".to_owned()
                } else {
                    format!("FAILED: {}", s.breaches.join("; "))
                }
            );
        }
        match (self.last_passed(), self.first_failed()) {
            (last, Some(failed)) => {
                let _ = writeln!(
                    out,
                    "Breaking point: between {} ({}) and {} (step {}, {:.2} req/s).",
                    last.map_or_else(|| "nothing".to_owned(), StepResult::load),
                    last.map_or_else(
                        || "no step passed".to_owned(),
                        |s| format!("step {}, {:.2} req/s", s.stage, s.rps)
                    ),
                    failed.load(),
                    failed.stage,
                    failed.rps
                );
            }
            (Some(last), None) => {
                let _ = writeln!(
                    out,
                    "No breaking point: every completed step passed, up to {} ({:.2} req/s).",
                    last.load(),
                    last.rps
                );
            }
            (None, None) => out.push_str("No step completed.\n"),
        }
        out
    }
}

/// Judges each step of a running plan from the step hub.
#[derive(Debug)]
pub(crate) struct StepJudge {
    rule: Breakpoint,
    hub: Arc<StatsHub>,
    aggregator: Aggregator,
    report: BreakpointReport,
}

impl StepJudge {
    /// A judge reading the step hub users record into.
    pub(crate) fn new(rule: Breakpoint, hub: Arc<StatsHub>) -> Self {
        Self {
            rule,
            hub,
            aggregator: Aggregator::new(SystemTime::now()),
            report: BreakpointReport::default(),
        }
    }

    /// Starts a step: whatever was recorded before it is dropped.
    pub(crate) fn begin_step(&mut self) {
        let now = SystemTime::now();
        self.aggregator.collect(&self.hub);
        self.aggregator.reset(now);
    }

    /// Ends a step and judges it; true when it passed.
    pub(crate) fn end_step(
        &mut self,
        stage: usize,
        users: usize,
        duration: Duration,
        running: usize,
    ) -> bool {
        self.judge(stage, users, None, duration, running)
    }

    /// Ends an open-model step that asked for `rate` iterations per second, `scheduled`
    /// of which came due and `dropped` found no free user; true when it passed.
    pub(crate) fn end_rate_step(
        &mut self,
        stage: usize,
        rate: f64,
        duration: Duration,
        running: usize,
        (scheduled, dropped): (u64, u64),
    ) -> bool {
        self.judge(
            stage,
            running,
            Some((rate, scheduled, dropped)),
            duration,
            running,
        )
    }

    fn judge(
        &mut self,
        stage: usize,
        users: usize,
        open: Option<(f64, u64, u64)>,
        duration: Duration,
        running: usize,
    ) -> bool {
        self.aggregator.collect(&self.hub);
        let now = SystemTime::now();
        let snapshot = self
            .aggregator
            .snapshot(now, u32::try_from(running).unwrap_or(u32::MAX));
        let verdict = criteria::evaluate(&snapshot, &self.rule.criteria);
        let mut breaches: Vec<String> = match verdict.outcome() {
            Outcome::Failed | Outcome::Aborted => verdict.breaches().map(|b| b.breach()).collect(),
            Outcome::Passed | Outcome::NoCriteria => Vec::new(),
        };
        if let Some((_, scheduled, dropped)) = open {
            let share = dropped as f64 / scheduled.max(1) as f64;
            if share > MAX_DROPPED_RATIO {
                breaches.push(format!(
                    "{dropped} of {scheduled} iterations dropped ({:.1}% > {:.0}%): every one of the {running} users was busy",
                    share * 100.0,
                    MAX_DROPPED_RATIO * 100.0
                ));
            }
        }
        let total = &snapshot.aggregated;
        let seconds = duration.as_secs_f64();
        let step = StepResult {
            stage,
            users,
            rate: open.map(|o| o.0),
            dropped: open.map(|o| o.2),
            running,
            duration,
            requests: total.num_requests(),
            failures: total.num_failures(),
            rps: if seconds > 0.0 {
                total.num_requests() as f64 / seconds
            } else {
                0.0
            },
            p50_ms: total.percentile_ms(0.50),
            p95_ms: total.percentile_ms(0.95),
            p99_ms: total.percentile_ms(0.99),
            breaches,
        };
        let passed = step.passed();
        self.report.steps.push(step);
        self.aggregator.reset(now);
        passed
    }

    /// The steps judged so far.
    pub(crate) fn into_report(self) -> BreakpointReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::RequestKey;

    #[test]
    fn a_step_fails_on_its_own_figures_only() {
        let hub = Arc::new(StatsHub::new(2));
        let rule = Breakpoint::bounds(Some(0.1), None).unwrap();
        let mut judge = StepJudge::new(rule, Arc::clone(&hub));
        let key = RequestKey::new("GET", "/");
        let record = |n: usize, failed: bool| {
            let mut shard = hub.shard(0).lock().unwrap();
            for _ in 0..n {
                let error = failed.then_some("HTTPError('503')");
                shard.record(&key, Duration::from_millis(10), 2, error, SystemTime::now());
            }
        };
        judge.begin_step();
        record(100, false);
        assert!(judge.end_step(0, 1, Duration::from_secs(1), 1));
        // 20 failures of 120 in this step: 16.7% > 10%, whatever the steps before did.
        record(100, false);
        record(20, true);
        assert!(!judge.end_step(1, 2, Duration::from_secs(2), 2));
        let report = judge.into_report();
        assert_eq!(report.last_passed().map(|s| s.users), Some(1));
        let failed = report.first_failed().unwrap();
        assert_eq!(
            (failed.users, failed.requests, failed.failures),
            (2, 120, 20)
        );
        assert!((failed.rps - 60.0).abs() < 1e-9);
        assert_eq!(failed.breaches.len(), 1);
        assert!(report.table().contains("Breaking point: between 1 users"));
    }

    #[test]
    fn rate_steps_grow_by_a_factor_or_an_increment() {
        let x: RateStep = "x1.5".parse().unwrap();
        assert_eq!(rate_steps(100.0, x, 4), [100.0, 150.0, 225.0, 337.5]);
        let plus: RateStep = "+20".parse().unwrap();
        assert_eq!(rate_steps(100.0, plus, 3), [100.0, 120.0, 140.0]);
        assert_eq!(rate_steps(5.0, plus, 0), [5.0]);
        assert_eq!(rate_steps(1.0, plus, 1_000).len(), MAX_RATE_STEPS);
        for bad in ["1.5", "x1", "x0.5", "+0", "+-3", "xabc", "", "+inf"] {
            assert!(bad.parse::<RateStep>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_rate_step_fails_when_its_pool_drops_iterations() {
        let hub = Arc::new(StatsHub::new(1));
        let rule = Breakpoint::bounds(Some(0.05), None).unwrap();
        let mut judge = StepJudge::new(rule, Arc::clone(&hub));
        let key = RequestKey::new("GET", "/");
        let record = |n: usize| {
            let mut shard = hub.shard(0).lock().unwrap();
            for _ in 0..n {
                shard.record(&key, Duration::from_millis(10), 0, None, SystemTime::now());
            }
        };
        // 5 of 100 dropped is at the bound: passes; 6 of 100 is over it.
        record(95);
        assert!(judge.end_rate_step(0, 100.0, Duration::from_secs(1), 4, (100, 5)));
        record(94);
        assert!(!judge.end_rate_step(1, 150.0, Duration::from_secs(1), 8, (100, 6)));
        let report = judge.into_report();
        let failed = report.first_failed().unwrap();
        assert_eq!((failed.rate, failed.dropped), (Some(150.0), Some(6)));
        assert!(
            failed.breaches[0].contains("6 of 100 iterations dropped"),
            "{:?}",
            failed.breaches
        );
        assert!(
            report.table().contains(
                "Breaking point: between 100.0 it/s (step 0, 95.00 req/s) and 150.0 it/s"
            ),
            "{}",
            report.table()
        );
    }

    #[test]
    fn a_p95_bound_fails_a_slow_step() {
        let hub = Arc::new(StatsHub::new(1));
        let rule = Breakpoint::bounds(None, Some(100.0)).unwrap();
        let mut judge = StepJudge::new(rule, Arc::clone(&hub));
        let key = RequestKey::new("GET", "/");
        {
            let mut shard = hub.shard(0).lock().unwrap();
            for i in 0..100u64 {
                // 10 of 100 at 500 ms: the 95th percentile is 500 ms.
                let ms = if i < 10 { 500 } else { 10 };
                shard.record(&key, Duration::from_millis(ms), 0, None, SystemTime::now());
            }
        }
        assert!(!judge.end_step(0, 5, Duration::from_secs(1), 5));
    }
}
