//! The capacity families end to end (breakpoint, coordinated omission, queueing, spike
//! and soak), each on a real run against its mock profile, and for each a breakage of
//! its evidence that must make its check fail.
//!
//! The runs go one after another in a single test: run side by side on two cores they
//! would share the CPU and each other's timers, which is what the figures measure.
//! Runs are seeded; tolerances come from the model, the sample size or a measured
//! overhead (see each family's module).
//!
//! A binary of its own, not one of the integration modules: the soak's memory check reads
//! this process's RSS, which tests running beside it in one process would move.

use std::time::Duration;

use harness::checks::capacity::{breakpoint, omission, queueing, shapes};
use harness::{CheckTable, Verdict};

fn table(checks: Vec<harness::Check>) -> CheckTable {
    let mut t = CheckTable::default();
    t.extend(checks);
    println!("{}", t.render());
    t
}

fn verdict(t: &CheckTable, name: &str) -> Verdict {
    t.get(name)
        .unwrap_or_else(|| panic!("no check named {name:?}\n{}", t.render()))
        .verdict
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capacity_family_passes_and_catches_its_breakage() {
    let seed = 17;

    // Breakpoint: the closed-model step search finds the saturation point.
    let search = breakpoint::run(seed).await.expect("breakpoint run");
    let t = table(breakpoint::checks(&search));
    assert!(t.all_passed(), "{}", t.render());
    assert_eq!(verdict(&t, "breakpoint vs saturation point"), Verdict::Pass);
    assert_eq!(
        verdict(&t, "breakpoint service time vs configured"),
        Verdict::Pass
    );
    // A mock that holds its workers a fifth longer than its profile says: the point
    // measured from its holding time would move with it, the configured time does not.
    let mut held = search.clone();
    for step in &mut held.trial.service_per_step {
        step.1 *= 1.2;
    }
    let t = table(breakpoint::checks(&held));
    assert_eq!(
        verdict(&t, "breakpoint service time vs configured"),
        Verdict::Fail
    );
    // A server with 6 workers would saturate at 3/4 of what was found.
    let mut six = search.clone();
    six.trial.server.capacity.workers = 6;
    let t = table(breakpoint::checks(&six));
    assert_eq!(verdict(&t, "breakpoint vs saturation point"), Verdict::Fail);

    // Breakpoint, open model: the arrival-rate steps break at the saturation point.
    let open = breakpoint::run_open(seed)
        .await
        .expect("open breakpoint run");
    let t = table(breakpoint::open_checks(&open));
    assert!(t.all_passed(), "{}", t.render());
    let mut six = open.clone();
    six.trial.server.capacity.workers = 6;
    let t = table(breakpoint::open_checks(&six));
    assert_eq!(
        verdict(&t, "open breakpoint vs saturation point"),
        Verdict::Fail
    );

    // Coordinated omission: corrected figures follow the stall, uncorrected do not.
    let stalled = omission::run(seed).await.expect("omission run");
    let t = table(omission::checks(&stalled));
    assert!(t.all_passed(), "{}", t.render());
    // A tool that reports its uncorrected figures as corrected fails the model.
    let mut uncorrected = stalled.clone();
    uncorrected.outcome.snapshot = uncorrected
        .outcome
        .uncorrected
        .clone()
        .expect("uncorrected figures");
    let t = table(omission::checks(&uncorrected));
    assert_eq!(
        verdict(&t, "omission corrected p99 vs model"),
        Verdict::Fail
    );

    // Queueing: Poisson arrivals; the share queued and the mean wait against Erlang C.
    let q = queueing::run(seed).await.expect("queueing run");
    let t = table(queueing::checks(&q));
    assert!(t.all_passed(), "{}", t.render());
    // Workers held a fifth longer than configured: Erlang C at the measured load would
    // not see it; the configured service time does.
    let t = table(queueing::checks(&q.with_workers_held(1.2)));
    assert_eq!(
        verdict(&t, "queueing service time vs configured"),
        Verdict::Fail
    );
    // A server with one worker fewer than the formula is told queues far more often.
    let mut one_fewer = q.clone();
    one_fewer.workers -= 1;
    let t = table(queueing::checks(&one_fewer));
    assert_eq!(verdict(&t, "queueing P(wait) vs Erlang C"), Verdict::Fail);
    // A formula told a service time a tenth longer (or shorter) than the one the workers
    // held expects more (or less) queueing than was measured. The mean wait's interval
    // is several times wider than the share queued's (the wait's heavy tail), so the
    // share queued is the check that must catch these.
    for k in [1.1, 0.9] {
        let t = table(queueing::checks(&q.with_service_scaled(k)));
        assert_eq!(verdict(&t, "queueing P(wait) vs Erlang C"), Verdict::Fail);
    }

    // Spike: the user count follows the guide's 50 / 500 / 50.
    let spike = shapes::run_spike(seed).await.expect("spike run");
    let t = table(shapes::spike_checks(&spike));
    assert!(t.all_passed(), "{}", t.render());
    // A plan that had asked for 400 at the peak is not what ran.
    let mut wrong = spike.clone();
    wrong.1[1].users = 400;
    let t = table(shapes::spike_checks(&wrong));
    assert_eq!(verdict(&t, "spike users per stage"), Verdict::Fail);

    // Soak on leaking: drift visible, memory flat.
    let soak = shapes::run_soak(seed).await.expect("soak run");
    let t = table(shapes::soak_checks(&soak));
    assert!(t.all_passed(), "{}", t.render());
    // A process that keeps 5 kB per request: the memory check's bound is 1 kB per
    // request served after the first step.
    let mut leaking = soak.clone();
    let requests = leaking.outcome.snapshot.aggregated.num_requests();
    *leaking.rss_kb.last_mut().expect("memory samples") += 5 * requests;
    let t = table(shapes::soak_checks(&leaking));
    assert_eq!(verdict(&t, "soak memory flat"), Verdict::Fail);
    // Without the leak (every task as long as the first) no drift may be reported.
    let mut flat = soak.clone();
    let first = flat
        .outcome
        .trace
        .first()
        .map_or(Duration::ZERO, |e| e.end - e.start);
    for e in &mut flat.outcome.trace {
        e.end = e.start + first;
    }
    let t = table(shapes::soak_checks(&flat));
    assert_eq!(verdict(&t, "soak latency drift on leaking"), Verdict::Fail);
}
