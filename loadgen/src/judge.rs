//! The end of a run's judgement, in one place for the runner to call: the verdict of
//! the scenario's criteria (with any abort), every row's bands and the analysis, the
//! text printed after Locust's tables, and the HTML, JUnit and Markdown reports. During
//! the run, [`AbortWatch`] checks the `abort_on_fail` criteria every 2 s.
//!
//! Everything is computed from one final [`Snapshot`], so console and reports agree.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::analysis::{analyse, Analysis};
use crate::baseline::{self, BaselineReport, Baselines};
use crate::criteria::{self, Abort, CriteriaSet, Verdict};
use crate::executor::StageMark;
use crate::json::RunSettings;
use crate::report::{self, Inputs};
use crate::stats::Snapshot;

/// How often `abort_on_fail` criteria are checked, in aggregator ticks (seconds).
pub const ABORT_CHECK_TICKS: u64 = 2;

/// Where the reports go (`--html`, `--junit`, `--summary-md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportPaths {
    /// The HTML report.
    pub html: Option<PathBuf>,
    /// JUnit XML.
    pub junit: Option<PathBuf>,
    /// The Markdown summary.
    pub summary_md: Option<PathBuf>,
}

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
            verdict: criteria::evaluate(snapshot, criteria).with_abort(abort),
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

    /// The text printed after Locust's final tables.
    pub fn console_text(&self, snapshot: &Snapshot, colour: bool) -> String {
        crate::summary::end_of_run(snapshot, &self.bands, &self.analysis, &self.verdict, colour)
    }

    /// Writes the reports asked for, their time charts marking `stages`; returns what
    /// could not be written.
    pub fn write_reports(
        &self,
        snapshot: &Snapshot,
        settings: &RunSettings,
        stages: &[StageMark],
        paths: &ReportPaths,
    ) -> Vec<String> {
        let inputs = Inputs {
            snapshot,
            settings,
            verdict: &self.verdict,
            baselines: &self.bands,
            analysis: &self.analysis,
            stages,
        };
        let jobs: [(&'static str, &Option<PathBuf>, Render); 3] = [
            ("HTML report", &paths.html, report::html),
            ("JUnit report", &paths.junit, report::junit),
            ("Markdown summary", &paths.summary_md, report::markdown),
        ];
        jobs.into_iter()
            .filter_map(|(what, path, render)| {
                let path = path.as_ref()?;
                report::write_report(what, path, &render(&inputs))
                    .err()
                    .map(|e| e.to_string())
            })
            .collect()
    }
}

/// Renders one report.
type Render = fn(&Inputs<'_>) -> String;

/// Checks the `abort_on_fail` criteria on every second tick of the aggregator.
#[derive(Debug, Clone)]
pub struct AbortWatch {
    criteria: CriteriaSet,
    test_start: SystemTime,
}

impl AbortWatch {
    /// A watch over `criteria`; `None` when none of them can abort (nothing to check).
    pub fn new(criteria: &CriteriaSet, test_start: SystemTime) -> Option<Self> {
        criteria.can_abort().then(|| Self {
            criteria: criteria.clone(),
            test_start,
        })
    }

    /// On tick `tick` (1, 2, ...): the breach that aborts the run, checked every
    /// [`ABORT_CHECK_TICKS`] ticks once each criterion's delay has passed.
    pub fn check(&self, snapshot: &Snapshot, tick: u64) -> Option<Abort> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::criteria::{CriteriaGroup, Criterion, Outcome, RowSelector};
    use crate::report::fixture::guide_snapshot;

    fn settings() -> RunSettings {
        RunSettings {
            scenario: "guide".into(),
            classes: vec!["GuideUser".into()],
            users: 50,
            rate: 5.0,
            duration: Some(60.0),
            seed: 1,
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn judgement_decides_the_exit_code_and_writes_each_report_asked_for() {
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

        let j = Judgement::new(&s, &platform, &b, None);
        let text = j.console_text(&s, false);
        assert!(text.starts_with("Baselines"));
        assert!(text.contains("\nAnalysis\n- GET /api/clients is fast (250 ms avg)\n"));
        assert!(text.ends_with("Requests/s: 166.67\nPASSED\n"), "{text}");

        let dir = tempfile::tempdir().unwrap();
        let paths = ReportPaths {
            html: Some(dir.path().join("r.html")),
            junit: None,
            summary_md: Some(dir.path().join("r.md")),
        };
        assert!(j.write_reports(&s, &settings(), &[], &paths).is_empty());
        let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
        assert!(html.contains("<div class=\"verdict passed\">PASSED</div>"));
        assert!(std::fs::read_to_string(dir.path().join("r.md"))
            .unwrap()
            .starts_with("# loadgen: guide - PASSED"));
        assert!(!dir.path().join("r.xml").exists());

        let bad = ReportPaths {
            junit: Some(dir.path().join("missing").join("r.xml")),
            ..ReportPaths::default()
        };
        let errors = j.write_reports(&s, &settings(), &[], &bad);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("cannot write JUnit report"),
            "{errors:?}"
        );
    }

    #[test]
    fn abort_watch_checks_every_second_tick_after_the_delay() {
        let s = guide_snapshot();
        let set = CriteriaSet {
            groups: vec![CriteriaGroup {
                row: RowSelector::parse("POST /api/trading/execute"),
                criteria: vec![Criterion::parse("fail_ratio < 0.05").unwrap()],
                abort_on_fail: true,
                delay: Duration::from_secs(30),
            }],
        };
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
        assert!(j
            .console_text(&s, false)
            .contains("ABORTED\n  - aborted after 60 s: POST /api/trading/execute: failure ratio 10.00% is at or over 5%\n"));
        let dir = tempfile::tempdir().unwrap();
        let paths = ReportPaths {
            html: Some(dir.path().join("r.html")),
            junit: Some(dir.path().join("r.xml")),
            summary_md: None,
        };
        assert!(j.write_reports(&s, &settings(), &[], &paths).is_empty());
        let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
        assert!(html.contains("<div class=\"verdict aborted\">ABORTED</div>"));
        assert!(html.contains("<li>aborted after 60 s: POST /api/trading/execute: failure ratio 10.00% is at or over 5%</li>"));
        let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
        assert!(xml.contains("tests=\"2\" failures=\"2\""), "{xml}");
        assert!(xml.contains("<failure type=\"aborted\""));
    }
}
