//! The run's sinks, fed from the aggregator's snapshots: every second the CSV files
//! (stats rewritten, history appended) and the progress line, every two seconds
//! Locust's request table on stderr, and at the end the final summary with the
//! baselines, analysis and verdict (`judge`), CSV, JSON, and the HTML, JUnit and
//! Markdown reports. Every sink reads the same Snapshot, so they always agree. A sink that fails
//! mid-run is reported once and skipped; the run goes on.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::console::{self, Progress, Rates};
use crate::runner::RunConfig;
use crate::scenario::Scenario;
use crate::stats::Snapshot;

/// What the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsoleMode {
    /// Nothing (in-process runs, tests).
    #[default]
    Quiet,
    /// Only the final summary (`--only-summary`).
    Summary,
    /// The request table every 2 s, the progress line on a terminal, the final summary.
    Full,
}

/// Which outputs a run writes.
#[derive(Debug, Clone, Default)]
pub struct OutputConfig {
    /// Console output.
    pub console: ConsoleMode,
    /// `--csv PREFIX`.
    pub csv_prefix: Option<PathBuf>,
    /// `--csv-full-history`.
    pub csv_full_history: bool,
    /// `--json FILE`.
    pub json: Option<PathBuf>,
    /// `--html FILE`.
    pub html: Option<PathBuf>,
    /// `--junit FILE`: each criterion a test case.
    pub junit: Option<PathBuf>,
    /// `--summary-md FILE`: verdict, baselines and tables in Markdown.
    pub summary_md: Option<PathBuf>,
}

/// An output that could not be opened before the run.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what} {path}: {message}")]
pub struct OutputError {
    /// Which output.
    pub what: &'static str,
    /// Its path.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// The outputs written every second, owned by the aggregator task during the run.
#[derive(Debug)]
pub struct Periodic {
    console: ConsoleMode,
    progress: Progress,
    csv: Option<crate::csv::CsvWriter>,
    errors: Vec<String>,
}

/// All outputs of a run.
#[derive(Debug)]
pub struct Outputs {
    config: OutputConfig,
    periodic: Option<Periodic>,
    settings: crate::json::RunSettings,
    /// Printed after the final summary: the uncorrected percentiles, the arrival counts
    /// and the breakpoint table (empty for a plain run).
    plan_text: String,
    /// Added to the JSON report under `"plan"` (stage marks, arrival counts, the
    /// uncorrected rows, breakpoint steps), when the plan reports anything.
    plan_json: Option<serde_json::Value>,
    /// Where each stage started, for the reports' time charts.
    stages: Vec<crate::executor::StageMark>,
    /// The scenario's criteria and baselines, judged at the end.
    criteria: crate::criteria::CriteriaSet,
    baselines: crate::baseline::Baselines,
}

impl Outputs {
    /// Opens the outputs (CSV files are created now, so a bad path fails before any request).
    pub fn new(
        config: &RunConfig,
        scenario: &Scenario,
        start: SystemTime,
    ) -> Result<Self, OutputError> {
        let out = &config.output;
        let csv = match &out.csv_prefix {
            Some(prefix) => Some(
                crate::csv::CsvWriter::new(&prefix.to_string_lossy(), out.csv_full_history)
                    .map_err(|e| OutputError {
                        what: "CSV files with prefix",
                        path: prefix.display().to_string(),
                        message: e.to_string(),
                    })?,
            ),
            None => None,
        };
        // Fail before any request rather than after the run when a report cannot be written.
        for (what, path) in [
            ("JSON report", &out.json),
            ("HTML report", &out.html),
            ("JUnit report", &out.junit),
            ("Markdown summary", &out.summary_md),
        ] {
            if let Some(dir) = path.as_ref().and_then(|p| p.parent()) {
                if !dir.as_os_str().is_empty() && !dir.is_dir() {
                    return Err(OutputError {
                        what,
                        path: path
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                        message: format!("directory {} does not exist", dir.display()),
                    });
                }
            }
        }
        let (users, rate) = match &config.load {
            crate::executor::LoadPlan::Users { users, spawn_rate } => (*users, *spawn_rate),
            crate::executor::LoadPlan::Stages(stages) => (
                config.load.peak_users(),
                stages.first().map_or(0.0, |s| s.spawn_rate),
            ),
            // An arrival-rate plan: its pool's bound and its starting iteration rate.
            crate::executor::LoadPlan::Arrival(a) => (a.max_users, a.start_rate),
        };
        let settings = crate::json::RunSettings {
            scenario: scenario.source.clone(),
            classes: scenario.class_names(),
            users: users as u64,
            rate,
            duration: config.run_time.map(|d| d.as_secs_f64()),
            seed: config.seed,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        Ok(Self {
            config: out.clone(),
            periodic: Some(Periodic {
                console: out.console,
                progress: Progress::new(start, config.run_time),
                csv,
                errors: Vec::new(),
            }),
            settings,
            plan_text: String::new(),
            plan_json: None,
            stages: Vec::new(),
            criteria: scenario.criteria.clone(),
            baselines: scenario.baselines,
        })
    }

    /// Adds what the load plan reports to the final console text and the JSON report.
    pub fn set_plan_report(
        &mut self,
        plan: &crate::runner::PlanReport,
        uncorrected: Option<&Snapshot>,
    ) {
        let mut text = String::new();
        if let Some(u) = uncorrected {
            let table = console::percentile_table(u);
            text.push_str(&table.replacen(
                "Response time percentiles (approximated)",
                "Uncorrected response time percentiles (from the actual send; the table above counts from the intended start)",
                1,
            ));
        }
        if let Some(a) = &plan.arrival {
            text.push_str(&format!(
                "Arrival rate: {} iterations scheduled, {} started, {} dropped ({} users)\n\n",
                a.scheduled, a.started, a.dropped, a.users
            ));
        }
        if let Some(b) = &plan.breakpoint {
            text.push_str(&b.table());
            text.push('\n');
        }
        for warning in &plan.warnings {
            text.push_str(&format!("WARNING: {warning}\n\n"));
        }
        self.plan_text = text;
        self.stages.clone_from(&plan.stages);
        if plan.stages.is_empty()
            && plan.arrival.is_none()
            && plan.breakpoint.is_none()
            && plan.warnings.is_empty()
        {
            return;
        }
        let stages = crate::json::stages_json(&plan.stages);
        let uncorrected = uncorrected.map(|u| {
            let doc = crate::json::to_json(u, &self.settings);
            serde_json::json!({ "stats": doc["stats"], "aggregated": doc["aggregated"] })
        });
        self.plan_json = Some(serde_json::json!({
            "stages": stages,
            "arrival": plan.arrival,
            "uncorrected": uncorrected,
            "breakpoint": plan.breakpoint,
            "warnings": plan.warnings,
        }));
    }

    /// Hands the per-second outputs to the aggregator task.
    pub fn take_periodic(&mut self) -> Option<Periodic> {
        self.periodic.take()
    }

    /// Takes them back when the aggregator stops.
    pub fn restore_periodic(&mut self, periodic: Option<Periodic>) {
        if periodic.is_some() {
            self.periodic = periodic;
        }
    }

    /// Judges the run (criteria, with `abort` if one stopped it; bands; analysis), writes
    /// the final summary and files; returns the judgement and what could not be written.
    pub fn finish(
        &mut self,
        snapshot: &Snapshot,
        abort: Option<crate::criteria::Abort>,
    ) -> (crate::judge::Judgement, Vec<String>) {
        let judgement =
            crate::judge::Judgement::new(snapshot, &self.criteria, &self.baselines, abort);
        let mut errors = Vec::new();
        if let Some(p) = &mut self.periodic {
            p.progress.clear();
            if let Some(csv) = &mut p.csv {
                if let Err(e) = csv.finish(snapshot) {
                    errors.push(format!("cannot write the CSV files: {e}"));
                }
            }
            errors.append(&mut p.errors);
        }
        if self.config.console != ConsoleMode::Quiet {
            eprint!("{}{}", console::final_summary(snapshot), self.plan_text);
            // Baselines, analysis and the platform's summary lines with the verdict.
            eprint!(
                "{}",
                judgement.console_text(snapshot, crate::summary::colour_on_stderr())
            );
        }
        if let Some(path) = &self.config.json {
            let mut doc = crate::json::to_json(snapshot, &self.settings);
            let judged = crate::json::judgement_json(
                &judgement.verdict,
                &judgement.bands,
                &judgement.analysis,
            );
            if let (Some(doc), serde_json::Value::Object(judged)) = (doc.as_object_mut(), judged) {
                doc.extend(judged);
            }
            if let Some(plan) = &self.plan_json {
                doc["plan"] = plan.clone();
            }
            let mut text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string());
            text.push('\n');
            if let Err(e) = crate::csv::replace_file(path, text.as_bytes()) {
                errors.push(format!("cannot write JSON report {}: {e}", path.display()));
            }
        }
        let paths = crate::judge::ReportPaths {
            html: self.config.html.clone(),
            junit: self.config.junit.clone(),
            summary_md: self.config.summary_md.clone(),
        };
        errors.extend(judgement.write_reports(snapshot, &self.settings, &self.stages, &paths));
        (judgement, errors)
    }
}

impl Periodic {
    /// Called once a second with the new snapshot.
    pub fn on_tick(&mut self, snapshot: &Snapshot, tick: u64) {
        if let Some(csv) = &mut self.csv {
            let written = csv
                .write_stats(snapshot)
                .and_then(|()| csv.append_history(snapshot));
            if let Err(e) = written {
                // Report once, then stop trying: the run matters more than its files.
                self.errors.push(format!("cannot write the CSV files: {e}"));
                self.csv = None;
            }
        }
        if self.console == ConsoleMode::Full {
            if tick % 2 == 0 {
                self.progress.clear();
                eprint!("{}", console::request_table(snapshot, Rates::Current));
            }
            self.progress.draw(snapshot);
        }
    }
}
