//! The PostgreSQL path, end to end: a short guide run whose mock writes its trades to a
//! fresh database on a real PostgreSQL server, the data check (every successful trade is
//! a row, no failed one is) on that database, and the database dropped afterwards.
//!
//! The server comes from `MOCK_API_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`). The test is ignored by default;
//! `-- --include-ignored` runs it, and without the variable it fails saying what to set.

use std::time::Duration;

use harness::config::{Mode, RunSpec};
use harness::database::ScratchDatabase;

/// The server to use; panics saying what to set when none is named.
fn server_url() -> String {
    match std::env::var("MOCK_API_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "MOCK_API_POSTGRES_URL is not set: set it to e.g. \
             postgres://postgres@127.0.0.1:5432/postgres to run the PostgreSQL path"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: set MOCK_API_POSTGRES_URL=postgres://user@host:port/db"]
async fn a_guide_run_on_postgres_writes_every_successful_trade_and_leaves_no_database() {
    let server = server_url();
    let scratch = ScratchDatabase::create(&server)
        .await
        .unwrap_or_else(|e| panic!("creating a scratch database: {e}"));
    let name = scratch.name().to_owned();
    // Twenty unscaled seconds at x0.1: 2 s of wall time, ~500 requests, ~50 trades.
    let spec = RunSpec::new(
        Mode::Guide,
        Some(100),
        Some(Duration::from_secs(20)),
        Some(0.1),
        8,
    )
    .unwrap_or_else(|e| panic!("spec: {e}"));
    let result = harness::run::execute_on(&spec, Some(scratch.url())).await;
    // Drop the database whatever the run did, then judge.
    let dropped = scratch.drop_database().await;
    let ev = result.unwrap_or_else(|e| panic!("run on {name}: {e}"));
    dropped.unwrap_or_else(|e| panic!("dropping {name}: {e}"));

    let table = harness::checks::evaluate(&ev, &spec.expectation());
    println!("{}", table.render());
    let check = table
        .get("data trades written")
        .unwrap_or_else(|| panic!("no data check:\n{}", table.render_unpassed()));
    assert_eq!(
        check.verdict,
        harness::Verdict::Pass,
        "data check on PostgreSQL:\n{}",
        table.render_unpassed()
    );
    let trade = ev
        .outcome
        .snapshot
        .row("POST", "/api/trading/execute")
        .expect("the guide run sends trades");
    let written = ev.trades_after - ev.trades_before;
    assert!(written > 0, "no trade written to PostgreSQL");
    assert_eq!(
        u64::try_from(written).ok(),
        Some(trade.num_requests() - trade.num_failures())
    );
    println!(
        "PostgreSQL database {name}: {written} trades written, {} failed and not written; data check passed",
        trade.num_failures()
    );
    let exists = ScratchDatabase::exists_on(&server, &name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!exists, "{name} is still on the server after the drop");
}
