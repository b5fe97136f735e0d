//! The open-model scheduler: starts iterations on the arrival plan's schedule (see
//! `plan::arrival`). Each iteration goes to a free user; when none is free and fewer
//! than `max_users` exist, a user is started for it. Otherwise it waits (oldest first)
//! for a user to come free, for at most `max_delay` past its intended start; after that
//! it is dropped and counted.
//!
//! The scheduler is one task; it touches the users' channels once per iteration, never
//! per request.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::executor::sleep_until_opt;
use crate::engine::pool::{ControllerSignals, UserEnv, UserPool};
use crate::engine::user::{Iteration, Pace};
use crate::plan::arrival::ArrivalPlan;
use crate::plan::load::{SpawnStep, StageMark};
use crate::verdict::breakpoint::StepJudge;

/// What the scheduler did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ArrivalReport {
    /// Iterations whose intended start came before the run stopped.
    pub scheduled: u64,
    /// Iterations handed to a user.
    pub started: u64,
    /// Iterations that found no free user in time (or were still waiting at the end).
    pub dropped: u64,
    /// Users the pool started.
    pub users: usize,
}

/// Runs the schedule until it ends (then signals `finished`) or `halt` is cancelled.
pub(crate) async fn drive(
    plan: &ArrivalPlan,
    env: &UserEnv,
    pool: &mut UserPool,
    halt: &CancellationToken,
    signals: &ControllerSignals,
    breakpoint: Option<crate::verdict::breakpoint::Breakpoint>,
) -> ArrivalReport {
    let start = Instant::now();
    // A breakpoint search judges each stage (a step) when it ends.
    let mut judge = match (breakpoint, &env.recorder.step) {
        (Some(rule), Some(hub)) => Some(StepJudge::new(rule, std::sync::Arc::clone(hub))),
        _ => None,
    };
    if let Some(j) = &mut judge {
        j.begin_step();
    }
    let step_ends: Vec<Instant> = plan
        .stages
        .iter()
        .scan(start, |at, s| {
            *at += s.duration;
            Some(*at)
        })
        .collect();
    let mut step = 0usize;
    let mut step_counts = (0u64, 0u64);
    let offset = start.duration_since(env.test_start);
    let label = |rate: f64| format!("{rate} it/s (at most {} users)", plan.max_users);
    pool.stage_marks.push(StageMark {
        stage: 0,
        at: offset,
        label: label(plan.stages.first().map_or(plan.start_rate, |s| s.target)),
    });
    let mut at = offset;
    for (i, pair) in plan.stages.windows(2).enumerate() {
        at += pair[0].duration;
        pool.stage_marks.push(StageMark {
            stage: i + 1,
            at,
            label: label(pair[1].target),
        });
    }
    signals.ramped_up.cancel();

    let (idle_tx, mut idle_rx) = mpsc::unbounded_channel::<usize>();
    let mut users: BTreeMap<usize, mpsc::Sender<Iteration>> = BTreeMap::new();
    let mut free: Vec<usize> = Vec::new();
    let mut waiting: VecDeque<Instant> = VecDeque::new();
    let mut report = ArrivalReport::default();
    let mut schedule = plan.schedule();
    let mut next = schedule.next().map(|d| start + d);
    let mut pool_full = false;
    loop {
        // A search judges its last step before it finishes.
        let step_end = judge.as_ref().and_then(|_| step_ends.get(step).copied());
        if next.is_none() && waiting.is_empty() && step_end.is_none() {
            signals.finished.cancel();
            break;
        }
        let expiry = waiting.front().map(|t| *t + plan.max_delay);
        tokio::select! {
            biased;
            () = halt.cancelled() => break,
            () = sleep_until_opt(step_end) => {
                let Some(j) = &mut judge else { continue };
                let counts = (
                    report.scheduled - step_counts.0,
                    report.dropped - step_counts.1,
                );
                step_counts = (report.scheduled, report.dropped);
                let rate = plan.stages[step].target;
                let length = plan.stages[step].duration;
                if !j.end_rate_step(step, rate, length, users.len(), counts) {
                    tracing::info!("Step {step} ({rate} it/s) failed: breaking point found");
                    signals.finished.cancel();
                    break;
                }
                step += 1;
            }
            Some(index) = idle_rx.recv() => free.push(index),
            () = sleep_until_opt(expiry) => {
                waiting.pop_front();
                report.dropped += 1;
            }
            () = sleep_until_opt(next) => {
                if let Some(intended) = next {
                    waiting.push_back(intended);
                    report.scheduled += 1;
                }
                next = schedule.next().map(|d| start + d);
            }
        }
        // Hand waiting iterations to free users, starting users while the pool allows.
        while let Some(&intended) = waiting.front() {
            let index = match free.pop() {
                Some(i) => i,
                None if !pool_full && users.len() < plan.max_users => {
                    let (tx, rx) = mpsc::channel(1);
                    let idle = idle_tx.clone();
                    let started = pool.grow_with(env, || {
                        (
                            Pace::Open {
                                iterations: rx,
                                idle,
                            },
                            plan.correction,
                        )
                    });
                    let Some(i) = started else {
                        pool_full = true;
                        continue;
                    };
                    users.insert(i, tx);
                    env.user_count
                        .store(users.len(), std::sync::atomic::Ordering::Relaxed);
                    pool.steps.push(SpawnStep {
                        stage: 0,
                        step: users.len() - 1,
                        at: Instant::now().duration_since(env.test_start),
                        delta: 1,
                        running: users.len(),
                    });
                    i
                }
                None => break,
            };
            // A user whose channel is gone has ended; forget it and try another.
            let sent = users
                .get(&index)
                .is_some_and(|tx| tx.try_send(Iteration { intended }).is_ok());
            if sent {
                waiting.pop_front();
                report.started += 1;
            } else {
                users.remove(&index);
            }
        }
    }
    report.dropped += waiting.len() as u64;
    report.users = users.len();
    pool.breakpoint = judge.map(StepJudge::into_report);
    tracing::info!(
        "Arrival rate: {} iterations scheduled, {} started, {} dropped, {} users",
        report.scheduled,
        report.started,
        report.dropped,
        report.users
    );
    report
}
