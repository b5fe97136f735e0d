//! Every check, one module per family, evaluated from a run's [`Evidence`] against an
//! [`Expectation`]. Statistical checks share the run's family-wise error rate
//! ([`crate::stat::FAMILY_WISE_ALPHA`]) evenly: each family first says how many
//! independent statistical claims it will make, then each gets `rate / total`
//! (Bonferroni), and each prints the shift it could detect at its sample size
//! ([`power`]). No check repeats another's numbers, so the table's total counts claims.

pub mod bands;
mod baselines;
pub mod capacity;
mod data;
pub(crate) mod failures;
mod latency;
mod mix;
mod per_request;
pub(crate) mod power;
mod reports;
mod spawn;
pub(crate) mod split;
mod waits;

use loadgen::stats::RequestStats;

use crate::check::CheckTable;
use crate::config::Expectation;
use crate::run::Evidence;
use crate::stat::FAMILY_WISE_ALPHA;

/// What every family reads: the evidence, the expectation and the share of the budget
/// each statistical test gets.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The run.
    pub ev: &'a Evidence,
    /// What a correct system does.
    pub exp: &'a Expectation,
    /// False-failure probability of one statistical test.
    pub alpha: f64,
}

impl Ctx<'_> {
    /// The time scale: measured wall times divided by it are unscaled times.
    pub fn f(&self) -> f64 {
        self.ev.time_scale()
    }

    /// loadgen's rows (the Aggregated row excluded) with the profile route each maps to.
    pub fn rows(&self) -> Vec<(&RequestStats, Option<&'static str>)> {
        self.ev
            .outcome
            .snapshot
            .rows
            .iter()
            .map(|r| (r, route_of(&r.method, &r.name)))
            .collect()
    }
}

/// The mock's route template ("GET /api/clients/{client_id}") of a loadgen row: the
/// row's method and stats name, its query dropped, where `[id]` (Locust's convention for
/// a path parameter) stands for the template's `{...}` segment.
pub fn route_of(method: &str, name: &str) -> Option<&'static str> {
    mock_api::profile::route_for(method, name)
}

/// Evaluates every check of the run against the expectation.
pub fn evaluate(ev: &Evidence, exp: &Expectation) -> CheckTable {
    let probe = Ctx {
        ev,
        exp,
        alpha: FAMILY_WISE_ALPHA,
    };
    let planned = mix::planned(&probe)
        + waits::planned(&probe)
        + latency::planned(&probe)
        + failures::planned(&probe)
        + 1 // spawn timing
        + baselines::planned(&probe);
    let ctx = Ctx {
        ev,
        exp,
        alpha: FAMILY_WISE_ALPHA / planned.max(1) as f64,
    };
    let mut table = CheckTable::default();
    table.extend(split::checks(&ctx));
    table.extend(mix::checks(&ctx));
    table.extend(waits::checks(&ctx));
    table.extend(spawn::checks(&ctx));
    table.extend(per_request::checks(&ctx));
    table.extend(latency::checks(&ctx));
    table.extend(failures::checks(&ctx));
    table.extend(data::checks(&ctx));
    table.extend(reports::checks(&ctx));
    table.extend(baselines::checks(&ctx));
    table.notes.push(budget_note(planned, ctx.alpha));
    table
}

/// How the run's family-wise error rate was split.
pub(crate) fn budget_note(claims: usize, alpha: f64) -> String {
    format!(
        "False-failure budget: family-wise error rate {} over {claims} statistical claims, {} each (Bonferroni); every other check is exact.",
        sci(FAMILY_WISE_ALPHA),
        sci(alpha)
    )
}

/// Milliseconds, to a precision that suits their size.
pub fn ms(v: f64) -> String {
    if v.is_infinite() {
        "unbounded".to_owned()
    } else if v.abs() >= 100.0 {
        format!("{v:.0} ms")
    } else if v.abs() >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// A probability in scientific notation (`1.7e-6`).
pub fn sci(v: f64) -> String {
    format!("{v:.1e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_map_to_route_templates() {
        assert_eq!(route_of("GET", "/api/clients"), Some("GET /api/clients"));
        assert_eq!(
            route_of("GET", "/api/clients/[id]/portfolio"),
            Some("GET /api/clients/{client_id}/portfolio")
        );
        assert_eq!(
            route_of("GET", "/api/ml/predict?ticker=AAPL"),
            Some("GET /api/ml/predict")
        );
        assert_eq!(
            route_of("POST", "/api/trading/execute"),
            Some("POST /api/trading/execute")
        );
        assert_eq!(route_of("GET", "/api/trading/execute"), None);
        assert_eq!(route_of("GET", "/nowhere"), None);
    }
}
