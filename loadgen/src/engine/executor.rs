//! The closed-model controller: starts and stops users to follow the load plan
//! (Locust's users and spawn rate, or a list of stages), or hands an arrival-rate plan to
//! the open-model scheduler in `arrival`. What a user does lives in `user`, the pool it
//! grows in `pool`; when the run ends is decided in `runner`.
//!
//! Users are started in steps of max(1, floor(rate)) spaced so the average is the rate,
//! the first at once; ramping down stops the newest users first.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::engine::dispatch::ramp_steps;
use crate::engine::pool::{ControllerSignals, Retarget, RetargetReceiver, UserEnv, UserPool};
use crate::plan::load::{LoadPlan, SpawnStep, StageMark};
use crate::verdict::breakpoint::{Breakpoint, StepJudge};

/// Follows the plan until `halt` is cancelled (or the stages end), then returns the pool.
/// A value sent on `retarget` replaces the rest of the plan. With `breakpoint`, each
/// stage is judged when it ends and the plan stops at the first that fails (the step
/// figures come from the recorder's `step` hub, which must then be set).
pub(crate) async fn control(
    plan: LoadPlan,
    env: UserEnv,
    halt: CancellationToken,
    signals: ControllerSignals,
    mut retarget: Option<RetargetReceiver>,
    breakpoint: Option<Breakpoint>,
) -> UserPool {
    let mut pool = UserPool::new(&env.scenario);
    if let LoadPlan::Arrival(arrival) = &plan {
        let report =
            crate::engine::arrival::drive(arrival, &env, &mut pool, &halt, &signals, breakpoint)
                .await;
        pool.arrival = Some(report);
        return pool;
    }
    let mut judge = match (breakpoint, &env.recorder.step) {
        (Some(rule), Some(hub)) => Some(StepJudge::new(rule, Arc::clone(hub))),
        _ => None,
    };
    let mut stages: VecDeque<(Option<Duration>, usize, f64)> = plan.stages().into();
    let mut stage_index = 0usize;
    'stages: while let Some((duration, users, rate)) = stages.pop_front() {
        let stage_start = Instant::now();
        let stage_end = duration.map(|d| stage_start + d);
        pool.stage_marks.push(StageMark {
            stage: stage_index,
            at: stage_start.duration_since(env.test_start),
            label: format!("{users} users at {rate}/s"),
        });
        if let Some(judge) = &mut judge {
            judge.begin_step();
        }
        let current = pool.running();
        let up = users >= current;
        let change = users.abs_diff(current);
        if change > 0 {
            tracing::info!("Ramping to {users} users at a rate of {rate:.2} per second");
        }
        for (step_index, step) in ramp_steps(change, rate).into_iter().enumerate() {
            let when = stage_start + step.at;
            if stage_end.is_some_and(|end| when >= end) {
                break;
            }
            tokio::select! {
                () = halt.cancelled() => return pool.with_judge(judge),
                Some(t) = next_retarget(&mut retarget) => {
                    stages = VecDeque::from([(None, t.users, t.spawn_rate)]);
                    stage_index += 1;
                    continue 'stages;
                }
                () = tokio::time::sleep_until(when.into()) => {}
            }
            let before = pool.running();
            for _ in 0..step.count {
                let changed = if up {
                    pool.grow(&env)
                } else {
                    pool.stop_newest(env.graceful)
                };
                if !changed {
                    break;
                }
            }
            let after = pool.running();
            env.user_count.store(after, Ordering::Relaxed);
            pool.steps.push(SpawnStep {
                stage: stage_index,
                step: step_index,
                at: Instant::now().duration_since(env.test_start),
                delta: after as i64 - before as i64,
                running: after,
            });
        }
        tracing::info!("All users spawned: {}", pool.describe(&env.scenario));
        signals.ramped_up.cancel();
        tokio::select! {
            () = halt.cancelled() => return pool.with_judge(judge),
            Some(t) = next_retarget(&mut retarget) => {
                stages = VecDeque::from([(None, t.users, t.spawn_rate)]);
            }
            () = sleep_until_opt(stage_end) => {
                let failed = judge.as_mut().is_some_and(|j| {
                    !j.end_step(stage_index, users, stage_start.elapsed(), pool.running())
                });
                if failed {
                    tracing::info!("Step {stage_index} ({users} users) failed: breaking point found");
                    break 'stages;
                }
            }
        }
        stage_index += 1;
    }
    signals.finished.cancel();
    pool.with_judge(judge)
}

/// The next target sent, or never (no receiver, or its sender is gone).
async fn next_retarget(retarget: &mut Option<RetargetReceiver>) -> Option<Retarget> {
    let Some(rx) = retarget else {
        return std::future::pending().await;
    };
    loop {
        if rx.changed().await.is_err() {
            *retarget = None;
            return std::future::pending().await;
        }
        if let Some(t) = *rx.borrow_and_update() {
            return Some(t);
        }
    }
}

/// Sleeps until the deadline, or forever without one.
pub(crate) async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
