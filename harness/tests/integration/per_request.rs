//! Per-request truth, end to end: one guide run whose per-request checks all pass, then
//! loadgen's output broken in each way a recording or measuring defect would break it
//! (too slow, too fast, a lost tail) and the named check failing for each.
//!
//! One run serves every breakage (each is applied to a copy of its evidence), so the
//! file costs one short run. Two measuring defects are printed, not asserted: a
//! measured 3% or 2 ms too much hides inside the overhead bound of a loaded machine.

use crate::support::{assert_fails, assert_passes, evaluate, run, spec};
use harness::breakage::{apply, Breakage, Layer};
use harness::config::Mode;
use harness::CheckTable;
use loadgen::stats::RequestKey;

const TRADE: (&str, &str) = ("POST", "/api/trading/execute");
const CLIENTS: (&str, &str) = ("GET", "/api/clients");

fn key((method, name): (&str, &str)) -> RequestKey {
    RequestKey::new(method, name)
}

/// Asserts `name` failed and says so (shown with --nocapture, for the closing note).
fn caught(table: &CheckTable, breakage: &str, name: &str) {
    assert_fails(table, name);
    println!("BREAKAGE {breakage}: caught by `{name}`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_pairs_with_the_mocks_and_each_recording_defect_is_caught() {
    let spec = spec(Mode::Guide, 200, 7);
    let ev = run(&spec).await;
    let exp = spec.expectation();
    let table = evaluate(&ev, &exp);
    assert_passes(&table, "per-request pairing");
    for row in [
        "POST /api/trading/execute",
        "GET /api/clients",
        "Aggregated",
    ] {
        for check in [
            "never shorter than the server",
            "overhead p50",
            "overhead p99",
            "histogram holds every request",
            "percentiles = server + overhead",
        ] {
            assert_passes(&table, &format!("per-request {row} {check}"));
        }
    }
    assert!(table.all_passed(), "{}", table.render_unpassed());

    let broken = |b: Breakage, layer: Layer| evaluate(&apply(&ev, &b, layer), &exp);
    let trade = |factor: f64| Breakage::Scale {
        row: key(TRADE),
        factor,
    };

    // Defects in recording: the statistics disagree with the requests they count.
    let t = broken(trade(1.03), Layer::Recorded);
    caught(
        &t,
        "trade row recorded 3% high",
        "per-request POST /api/trading/execute percentiles = server + overhead",
    );
    assert_passes(
        &t,
        "per-request GET /api/clients percentiles = server + overhead",
    );

    let t = broken(Breakage::Add { micros: 2_000 }, Layer::Recorded);
    caught(
        &t,
        "every request recorded 2 ms high",
        "per-request GET /api/clients percentiles = server + overhead",
    );
    caught(
        &t,
        "every request recorded 2 ms high",
        "per-request Aggregated percentiles = server + overhead",
    );

    let t = broken(trade(1.5), Layer::Recorded);
    caught(
        &t,
        "trade row recorded x1.5",
        "per-request POST /api/trading/execute percentiles = server + overhead",
    );

    let dropped = Breakage::DropSlowest {
        row: key(CLIENTS),
        share: 0.005,
    };
    let t = broken(dropped, Layer::Recorded);
    caught(
        &t,
        "slowest 0.5% of the clients row left out of its histogram, still counted",
        "per-request GET /api/clients histogram holds every request",
    );
    assert_passes(
        &t,
        "per-request POST /api/trading/execute histogram holds every request",
    );

    let t = broken(trade(0.97), Layer::Recorded);
    caught(
        &t,
        "trade row recorded 3% low (faster)",
        "per-request POST /api/trading/execute percentiles = server + overhead",
    );

    // Defects in measuring: the log and the statistics agree, the mock's records do not.
    let t = broken(trade(0.97), Layer::Measured);
    caught(
        &t,
        "trade row measured 3% low (faster)",
        "per-request POST /api/trading/execute never shorter than the server",
    );
    assert_passes(
        &t,
        "per-request GET /api/clients never shorter than the server",
    );

    // A stall of 50 ms in one request of 50: the median does not move, the tail does.
    let stall = Breakage::Stall {
        every: 50,
        micros: 50_000,
    };
    let t = broken(stall, Layer::Measured);
    caught(
        &t,
        "one request in 50 measured 50 ms late (a stalling client)",
        "per-request Aggregated overhead p99",
    );
    assert_passes(&t, "per-request Aggregated overhead p50");

    let t = broken(trade(1.5), Layer::Measured);
    caught(
        &t,
        "trade row measured x1.5",
        "per-request POST /api/trading/execute overhead p50",
    );
    assert_passes(&t, "per-request GET /api/clients overhead p50");
    for (what, b) in [
        ("trade row measured 3% high", trade(1.03)),
        (
            "every request measured 2 ms high",
            Breakage::Add { micros: 2_000 },
        ),
    ] {
        let t = broken(b, Layer::Measured);
        for name in [
            "per-request POST /api/trading/execute overhead p50",
            "per-request Aggregated overhead p50",
        ] {
            let verdict = t.get(name).map(|c| c.verdict.label()).unwrap_or("absent");
            println!("BREAKAGE {what}: `{name}` {verdict}");
        }
    }
}
