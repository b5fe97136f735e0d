//! The one place that writes what a run produced, fed from the aggregator's snapshots:
//! every second the CSV files (stats rewritten, history appended) and the progress line,
//! every two seconds Locust's request table on stderr, and at the end the final summary
//! with the baselines, analysis and verdict, CSV, JSON, and the HTML, JUnit and Markdown
//! reports. Every sink reads the same Snapshot, so they always agree. A sink that fails
//! mid-run is reported once and skipped; the run goes on. The live sinks (the web UI and
//! Prometheus) read the same snapshots from the run's watch channel.

pub(crate) mod atomic_file;
pub(crate) mod compare;
pub(crate) mod console;
pub(crate) mod csv;
pub(crate) mod json;
pub(crate) mod overhead;
pub(crate) mod prometheus;
pub(crate) mod report;
pub(crate) mod summary;

use std::time::SystemTime;

use crate::engine::runner::{PlanReport, RunConfig};
use crate::engine::sink::{
    ConsoleMode, EndSink, OutputConfig, OutputError, RunEnd, RunSinks, TickSink,
};
use crate::plan::load::{LoadPlan, StageMark};
use crate::plan::scenario::Scenario;
use crate::sinks::console::{Progress, Rates};
use crate::sinks::json::{JsonPlan, JsonReport, JsonRows, RunSettings};
use crate::stats::Snapshot;

/// The outputs written every second, owned by the aggregator task during the run.
#[derive(Debug)]
pub(crate) struct Periodic {
    console: ConsoleMode,
    progress: Progress,
    csv: Option<crate::sinks::csv::CsvWriter>,
    errors: Vec<String>,
    /// `host:port` of the target, for the warning when nothing reaches it.
    target: String,
    /// The unreachable warning was printed (only-summary prints it once).
    warned_unreachable: bool,
}

/// The outputs written when the run ends.
#[derive(Debug)]
pub(crate) struct Outputs {
    config: OutputConfig,
    settings: RunSettings,
    /// Printed after the final summary: the uncorrected percentiles, the arrival counts
    /// and the breakpoint table (empty for a plain run).
    plan_text: String,
    /// Added to the JSON report under `"plan"` (stage marks, arrival counts, the
    /// uncorrected rows, breakpoint steps), when the plan reports anything.
    plan_json: Option<JsonPlan>,
    /// Where each stage started, for the reports' time charts.
    stages: Vec<StageMark>,
}

impl Outputs {
    /// Opens the outputs (CSV files are created now, so a bad path fails before any request).
    pub(crate) fn open(
        config: &RunConfig,
        scenario: &Scenario,
        start: SystemTime,
    ) -> Result<RunSinks, OutputError> {
        let out = &config.output;
        let csv = match &out.csv_prefix {
            Some(prefix) => Some(
                crate::sinks::csv::CsvWriter::new(&prefix.to_string_lossy(), out.csv_full_history)
                    .map_err(|e| OutputError {
                        what: "CSV files with prefix",
                        path: prefix.display().to_string(),
                        message: e.to_string(),
                    })?,
            ),
            None => None,
        };
        // Fail before any request rather than after the run when a report cannot be written.
        let reports = crate::sinks::report::reports(out).map(|(what, path, _)| (what, path));
        let files = [
            ("JSON report", &out.json),
            ("request log", &out.request_log),
        ];
        for (what, path) in files.into_iter().chain(reports) {
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
            LoadPlan::Users { users, spawn_rate } => (*users, *spawn_rate),
            LoadPlan::Stages(stages) => (
                config.load.peak_users(),
                stages.first().map_or(0.0, |s| s.spawn_rate),
            ),
            // An arrival-rate plan: its pool's bound and its starting iteration rate.
            LoadPlan::Arrival(a) => (a.max_users, a.start_rate),
        };
        let settings = RunSettings {
            scenario: scenario.source.clone(),
            classes: scenario.class_names(),
            users: users as u64,
            rate,
            duration: config.run_time.map(|d| d.as_secs_f64()),
            seed: config.seed,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            host: config.target.url.clone(),
            task_ratio: scenario.task_ratios(users),
        };
        Ok(RunSinks {
            periodic: Box::new(Periodic {
                console: out.console,
                // A staged plan ends after its last stage: its remaining time is known.
                progress: Progress::new(
                    start,
                    config.run_time.or_else(|| config.load.planned_length()),
                )
                .with_stages(config.load.stage_labels()),
                csv,
                errors: Vec::new(),
                target: config.target.origin.authority.clone(),
                warned_unreachable: false,
            }),
            end: Box::new(Self {
                config: out.clone(),
                settings,
                plan_text: String::new(),
                plan_json: None,
                stages: Vec::new(),
            }),
        })
    }

    /// The overhead warning's threshold (`--overhead-warn-share`, else the default).
    fn overhead_share(&self) -> f64 {
        self.config
            .overhead_warn_share
            .unwrap_or(overhead::DEFAULT_OVERHEAD_SHARE)
    }

    /// Adds what the load plan reports to the final console text and the JSON report.
    fn set_plan_report(&mut self, plan: &PlanReport, uncorrected: Option<&Snapshot>) {
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
        self.plan_json = Some(JsonPlan {
            stages: plan.stages.clone(),
            arrival: plan.arrival,
            uncorrected: uncorrected.map(JsonRows::new),
            breakpoint: plan.breakpoint.clone(),
            warnings: plan.warnings.clone(),
        });
    }
}

impl EndSink for Outputs {
    /// Writes the final summary (with the judgement's baselines, analysis and verdict)
    /// and the report files; returns what could not be written.
    fn finish(&mut self, end: &RunEnd<'_>) -> Vec<String> {
        self.set_plan_report(end.plan, end.uncorrected);
        let RunEnd {
            snapshot,
            judgement,
            ..
        } = *end;
        let mut errors = Vec::new();
        if self.config.console != ConsoleMode::Quiet {
            eprint!(
                "{}{}{}",
                console::final_summary(snapshot),
                overhead::console_text(snapshot, self.overhead_share()),
                self.plan_text
            );
            // Baselines, analysis and the platform's summary lines with the verdict.
            eprint!(
                "{}",
                summary::end_of_run(
                    snapshot,
                    &judgement.bands,
                    &judgement.analysis,
                    &judgement.verdict,
                    summary::colour_on_stderr(),
                    self.config.verbose,
                )
            );
        }
        if let (Some(path), Some(log)) = (&self.config.request_log, end.request_log) {
            let mut bytes = Vec::new();
            let written = log
                .write_csv(&mut bytes)
                .and_then(|()| atomic_file::replace_file(path, &bytes));
            if let Err(e) = written {
                errors.push(format!(
                    "cannot write the request log {}: {e}",
                    path.display()
                ));
            }
        }
        if let Some(path) = &self.config.json {
            let mut doc = JsonReport::new(snapshot, &self.settings).with_judgement(judgement);
            doc.plan.clone_from(&self.plan_json);
            if let Err(e) = doc.write(path) {
                errors.push(e.to_string());
            }
        }
        errors.extend(report::write_reports(
            judgement,
            snapshot,
            &self.settings,
            &self.stages,
            &self.config,
        ));
        errors
    }
}

impl TickSink for Periodic {
    fn on_tick(&mut self, snapshot: &Snapshot, tick: u64) {
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
        // A target that refuses every connection is said at once, not after the run:
        // under every table in full mode, once with only the summary.
        let unreachable = snapshot.unreachable_warning(Some(&self.target));
        match self.console {
            ConsoleMode::Full => {
                if tick % 2 == 0 {
                    self.progress.clear();
                    // Locust's table, headed by where the run stands (terminal or not).
                    eprintln!("{}", self.progress.line(snapshot));
                    eprint!("{}", console::request_table(snapshot, Rates::Current));
                    if let Some(warning) = &unreachable {
                        eprintln!("WARNING: {warning}\n");
                    }
                }
                self.progress.draw(snapshot);
            }
            ConsoleMode::Summary if !self.warned_unreachable => {
                if let Some(warning) = &unreachable {
                    self.progress.clear();
                    eprintln!("WARNING: {warning}");
                    self.warned_unreachable = true;
                }
                self.progress.draw(snapshot);
            }
            ConsoleMode::Summary => self.progress.draw(snapshot),
            ConsoleMode::Quiet => {}
        }
    }

    fn finish(&mut self, snapshot: &Snapshot) -> Vec<String> {
        self.progress.clear();
        if let Some(csv) = &mut self.csv {
            if let Err(e) = csv.finish(snapshot) {
                self.errors.push(format!("cannot write the CSV files: {e}"));
            }
        }
        std::mem::take(&mut self.errors)
    }
}
