//! The HTML report for callers that hold only a snapshot and a scenario name: the full
//! report of [`crate::report::html`], judged without criteria against the guide's
//! baselines. A run writes its report through `judge` with the scenario's own.

use crate::baseline::Baselines;
use crate::criteria::CriteriaSet;
use crate::executor::StageMark;
use crate::json::RunSettings;
use crate::judge::Judgement;
use crate::report::{self, Inputs};
use crate::stats::Snapshot;

/// The report page for a finished run; its time charts mark `stages` (the run's marks,
/// or [`crate::json::stages_from_report`] of its JSON report).
pub fn report(snapshot: &Snapshot, scenario: &str, stages: &[StageMark]) -> String {
    let settings = RunSettings::from_snapshot(snapshot, scenario);
    let j = Judgement::new(
        snapshot,
        &CriteriaSet::default(),
        &Baselines::default(),
        None,
    );
    report::html(&Inputs {
        snapshot,
        settings: &settings,
        verdict: &j.verdict,
        baselines: &j.bands,
        analysis: &j.analysis,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console;

    #[test]
    fn page_is_escaped_complete_and_holds_the_console_tables() {
        let snapshot = Snapshot::empty(std::time::SystemTime::UNIX_EPOCH);
        let page = report(&snapshot, "a<b>", &[]);
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"));
        let table = console::request_table(&snapshot, console::Rates::Total);
        assert!(page.contains(&crate::report::escape(&table)));
    }
}
