//! The checks of a Locust run, one module per family, each comparing what the tool
//! reported with what the mock recorded or was configured to do. Statistical tests
//! share the run's false-failure budget evenly, as `harness guide`'s do.

mod counts;
mod latency;
mod mix;
mod verdict;

use hdrhistogram::Histogram;

use super::output::Row;
use super::run::LocustEvidence;
use super::LocustExpectation;
use crate::check::CheckTable;
use crate::stat::FAMILY_WISE_ALPHA;

/// What every family reads.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The run.
    pub ev: &'a LocustEvidence,
    /// What a correct run gives.
    pub exp: &'a LocustExpectation,
    /// False-failure probability of one statistical test.
    pub alpha: f64,
}

impl Ctx<'_> {
    /// The tool's rows with the mock route each maps to.
    pub fn rows(&self) -> Vec<(&Row, Option<&'static str>)> {
        self.ev
            .reported
            .stats
            .rows
            .iter()
            .map(|r| (r, crate::checks::route_of(&r.method, &r.name)))
            .collect()
    }

    /// The mock's server-time histogram of a route (µs).
    pub fn server_histogram(&self, route: &str) -> Option<Histogram<u64>> {
        self.ev
            .server
            .routes
            .get(route)
            .and_then(|r| r.decode_histogram().ok())
    }
}

/// Every check of the run against the expectation.
pub fn evaluate(ev: &LocustEvidence, exp: &LocustExpectation) -> CheckTable {
    let probe = Ctx {
        ev,
        exp,
        alpha: FAMILY_WISE_ALPHA,
    };
    let planned = counts::planned(&probe) + mix::planned(&probe) + latency::planned(&probe) + 2;
    let ctx = Ctx {
        ev,
        exp,
        alpha: FAMILY_WISE_ALPHA / planned.max(1) as f64,
    };
    let mut table = CheckTable::default();
    table.extend(counts::counts(&ctx));
    table.extend(mix::split(&ctx));
    table.extend(mix::task_mix(&ctx));
    table.extend(counts::failures(&ctx));
    table.extend(latency::checks(&ctx));
    table.extend(verdict::checks(&ctx));
    table
}

/// The sentences that explain failed verdict checks, for the end of the output.
pub fn advice(table: &CheckTable) -> Vec<String> {
    verdict::advice(table)
}
