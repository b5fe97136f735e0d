//! The end of a run's judgement, in one place for the runner to call: the verdict of
//! the scenario's criteria (with any abort), every row's bands and the analysis. During
//! the run, [`AbortWatch`] checks the `abort_on_fail` criteria every 2 s. Writing them
//! down is the sinks' job (`sinks::summary`, `sinks::report`).
//!
//! Everything is computed from one final [`Snapshot`], so console and reports agree.

use std::time::{Duration, SystemTime};

use crate::stats::Snapshot;
use crate::verdict::analysis::{analyse, Analysis};
use crate::verdict::baseline::{self, BaselineReport, Baselines};
use crate::verdict::criteria::{self, Abort, CriteriaSet, Verdict};

/// How often `abort_on_fail` criteria are checked, in aggregator ticks (seconds).
pub(crate) const ABORT_CHECK_TICKS: u64 = 2;

/// The judgement of a finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The criteria's verdict, with the abort if one stopped the run.
    pub verdict: Verdict,
    /// Every row's bands.
    pub bands: BaselineReport,
    /// The guide-style sentences.
    pub analysis: Analysis,
}

impl Judgement {
    /// Judges the final snapshot.
    pub fn new(
        snapshot: &Snapshot,
        criteria: &CriteriaSet,
        baselines: &Baselines,
        abort: Option<Abort>,
    ) -> Self {
        Self {
            verdict: criteria::evaluate(snapshot, criteria)
                .with_abort(abort)
                .with_unreachable(snapshot.unreachable_warning(None)),
            bands: baseline::evaluate(snapshot, baselines),
            analysis: analyse(snapshot, baselines),
        }
    }

    /// The exit code: the criteria's when there are any, Locust's rule otherwise.
    pub fn exit_code(&self, snapshot: &Snapshot, exit_code_on_error: u8) -> u8 {
        criteria::exit_code(
            self.verdict.outcome(),
            snapshot.aggregated.num_failures() > 0,
            exit_code_on_error,
        )
    }
}

/// Checks the `abort_on_fail` criteria on every second tick of the aggregator.
#[derive(Debug, Clone)]
pub(crate) struct AbortWatch {
    criteria: CriteriaSet,
    test_start: SystemTime,
}

impl AbortWatch {
    /// A watch over `criteria`; `None` when none of them can abort (nothing to check).
    pub(crate) fn new(criteria: &CriteriaSet, test_start: SystemTime) -> Option<Self> {
        criteria.can_abort().then(|| Self {
            criteria: criteria.clone(),
            test_start,
        })
    }

    /// On tick `tick` (1, 2, ...): the breach that aborts the run, checked every
    /// [`ABORT_CHECK_TICKS`] ticks once each criterion's delay has passed.
    pub(crate) fn check(&self, snapshot: &Snapshot, tick: u64) -> Option<Abort> {
        if tick % ABORT_CHECK_TICKS != 0 {
            return None;
        }
        let elapsed = snapshot
            .taken_at
            .duration_since(self.test_start)
            .unwrap_or(Duration::ZERO);
        criteria::abort_check(snapshot, &self.criteria, elapsed)
    }
}

/// For tests: the trade route's failure ratio under 5%, aborting the run after 30 s.
#[cfg(test)]
pub(crate) fn trade_abort_criteria() -> CriteriaSet {
    use crate::verdict::criteria::{CriteriaGroup, Criterion, RowSelector};
    CriteriaSet {
        groups: vec![CriteriaGroup {
            row: RowSelector::parse("POST /api/trading/execute"),
            criteria: vec![Criterion::parse("fail_ratio < 0.05").unwrap()],
            abort_on_fail: true,
            delay: Duration::from_secs(30),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::fixture::guide_snapshot;
    use crate::verdict::criteria::Outcome;

    #[test]
    fn judgement_decides_the_exit_code() {
        let s = guide_snapshot();
        let platform =
            CriteriaSet::aggregated(&["fail_ratio <= 0.05", "avg <= 2000", "p(95) <= 5000"])
                .unwrap();
        let strict = CriteriaSet::aggregated(&["fail_ratio <= 0.01"]).unwrap();
        let b = Baselines::default();
        // (criteria, --exit-code-on-error) -> exit code: the guide run has failures.
        let cases = [
            (&platform, 3, 0),
            (&strict, 3, 1),
            (&CriteriaSet::default(), 3, 3),
        ];
        for (set, on_error, code) in cases {
            let j = Judgement::new(&s, set, &b, None);
            assert_eq!(j.exit_code(&s, on_error), code, "{set:?}");
        }
    }

    #[test]
    fn abort_watch_checks_every_second_tick_after_the_delay() {
        let s = guide_snapshot();
        let set = trade_abort_criteria();
        assert!(AbortWatch::new(&CriteriaSet::default(), s.start).is_none());
        // The snapshot is taken 60.5 s after the run's start: a watch started 20 s before
        // the snapshot is still inside the 30 s delay; one started with the run is past it.
        let late = AbortWatch::new(&set, s.taken_at - Duration::from_secs(20)).unwrap();
        assert_eq!(late.check(&s, 2), None);
        let watch = AbortWatch::new(&set, s.start).unwrap();
        assert_eq!(watch.check(&s, 3), None);
        let abort = watch.check(&s, 4).unwrap();
        assert_eq!(abort.value, 0.1);
        let j = Judgement::new(&s, &set, &Baselines::default(), Some(abort));
        assert_eq!(j.verdict.outcome(), Outcome::Aborted);
        assert_eq!(j.exit_code(&s, 0), 1);
    }
}
