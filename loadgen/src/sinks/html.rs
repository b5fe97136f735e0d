//! The HTML report for callers that hold only a snapshot and a scenario name: the full
//! report of [`crate::sinks::report::html`], judged without criteria against the guide's
//! baselines. A run writes its report through `report::write_reports` with the scenario's own.

use crate::plan::load::StageMark;
use crate::sinks::json::RunSettings;
use crate::sinks::report::{self, Inputs};
use crate::stats::Snapshot;
use crate::verdict::baseline::Baselines;
use crate::verdict::criteria::CriteriaSet;
use crate::verdict::judge::Judgement;

/// The report page for a finished run; its time charts mark `stages` (the run's marks,
/// or [`crate::sinks::json::stages_from_report`] of its JSON report).
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
    use crate::sinks::console;

    #[test]
    fn page_is_escaped_complete_and_holds_the_console_tables() {
        let snapshot = Snapshot::empty(std::time::SystemTime::UNIX_EPOCH);
        let page = report(&snapshot, "a<b>", &[]);
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"));
        let table = console::request_table(&snapshot, console::Rates::Total);
        assert!(page.contains(&crate::sinks::report::escape(&table)));
    }
}
