//! Locust's console output, byte for byte: the request table (printed every 2 s with
//! current rates and at the end with whole-run rates), the percentile table and the error
//! report, plus a live progress line for terminals.
//!
//! Layouts follow Locust 2.47's `%`-formats with the name column 80 wide (Locust's width
//! when stderr is not a terminal). Times print as whole milliseconds: the average,
//! minimum and maximum truncated (Locust's `%d` of a float), the median and percentiles
//! rounded to the nearest millisecond (Locust rounds them into buckets first). The
//! percentile table keeps Locust's title, "(approximated)", so that anything that reads
//! Locust's output reads ours; loadgen's figures are in fact exact to three significant
//! digits (see the JSON output for the unrounded values).

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, SystemTime};

use crate::stats::{RequestStats, Snapshot, PERCENTILES_TO_REPORT, PERCENTILE_LABELS};

/// Locust's name column width when stderr is not a terminal.
pub const DEFAULT_NAME_WIDTH: usize = 80;

/// Width of the type (method) column.
const TYPE_WIDTH: usize = 8;

/// Which rates the request table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rates {
    /// The last ten whole seconds (Locust's periodic table).
    Current,
    /// The whole run (Locust's final table).
    Total,
}

/// Locust's name column width for a terminal `columns` wide: `columns - 80`, between 0
/// and 80; 80 when not a terminal (`None`). The console keeps the default width; the
/// rule is kept with its test for when it draws to a terminal's width.
#[cfg(test)]
pub(crate) fn name_width_for(columns: Option<usize>) -> usize {
    columns.map_or(DEFAULT_NAME_WIDTH, |c| {
        c.saturating_sub(80).min(DEFAULT_NAME_WIDTH)
    })
}

/// The request table with Locust's default width, followed by Locust's blank line.
pub fn request_table(snapshot: &Snapshot, rates: Rates) -> String {
    request_table_with_width(snapshot, rates, DEFAULT_NAME_WIDTH)
}

/// The request table for a given name width (see [`name_width_for`]).
pub(crate) fn request_table_with_width(
    snapshot: &Snapshot,
    rates: Rates,
    name_width: usize,
) -> String {
    let name_col = name_width.saturating_sub(TYPE_WIDTH) + 4;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<TYPE_WIDTH$} {:<name_col$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7} {:>11}",
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s"
    );
    let separator = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(name_col),
        "-".repeat(7),
        "-".repeat(13),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(7),
        "-".repeat(8),
        "-".repeat(11)
    );
    out.push_str(&separator);
    for row in &snapshot.rows {
        request_row(&mut out, row, snapshot.taken_at, rates, name_col);
    }
    out.push_str(&separator);
    request_row(
        &mut out,
        &snapshot.aggregated,
        snapshot.taken_at,
        rates,
        name_col,
    );
    out.push('\n');
    out
}

fn request_row(out: &mut String, r: &RequestStats, now: SystemTime, rates: Rates, name_col: usize) {
    let (rps, fail_per_sec) = match rates {
        Rates::Current => (r.current_rps(now), r.current_fail_per_sec(now)),
        Rates::Total => (r.total_rps(), r.total_fail_per_sec()),
    };
    let method = if r.method.is_empty() {
        String::new()
    } else {
        format!("{} ", r.method)
    };
    let fails = format!("{}({:.2}%)", r.num_failures(), r.fail_ratio() * 100.0);
    let _ = writeln!(
        out,
        "{:<TYPE_WIDTH$} {:<name_col$} {:>7} {:>12} |{:>7} {:>7} {:>7}{:>7} | {:>7.2} {:>11.2}",
        method,
        r.name,
        r.num_requests(),
        fails,
        truncated_ms(r.avg_response_time_ms()),
        truncated_ms(r.min_response_time_ms()),
        truncated_ms(r.max_response_time_ms()),
        median_ms(r),
        rps,
        fail_per_sec
    );
}

/// The percentile table (rows with requests only), followed by Locust's blank line.
pub(crate) fn percentile_table(snapshot: &Snapshot) -> String {
    percentile_table_with_width(snapshot, DEFAULT_NAME_WIDTH)
}

/// The percentile table for a given name width.
pub(crate) fn percentile_table_with_width(snapshot: &Snapshot, name_width: usize) -> String {
    let mut out = String::from("Response time percentiles (approximated)\n");
    let _ = write!(
        out,
        "{:<TYPE_WIDTH$} {:<name_width$} {:>8}",
        "Type", "Name", PERCENTILE_LABELS[0]
    );
    for label in PERCENTILE_LABELS[1..].iter().chain(["# reqs"].iter()) {
        let _ = write!(out, " {label:>6}");
    }
    out.push('\n');
    let mut separator = format!(
        "{}|{}|{}|",
        "-".repeat(TYPE_WIDTH),
        "-".repeat(name_width),
        "-".repeat(8)
    );
    separator.push_str(&vec!["-".repeat(6); PERCENTILES_TO_REPORT.len()].join("|"));
    separator.push('\n');
    out.push_str(&separator);
    for row in &snapshot.rows {
        percentile_row(&mut out, row, name_width);
    }
    out.push_str(&separator);
    percentile_row(&mut out, &snapshot.aggregated, name_width);
    out.push('\n');
    out
}

fn percentile_row(out: &mut String, r: &RequestStats, name_width: usize) {
    let Some(values) = r.percentiles_ms(&PERCENTILES_TO_REPORT) else {
        return;
    };
    let _ = write!(
        out,
        "{:<TYPE_WIDTH$} {:<name_width$} {:>8}",
        r.method,
        r.name,
        rounded_ms(values[0])
    );
    for v in &values[1..] {
        let _ = write!(out, " {:>6}", rounded_ms(*v));
    }
    let _ = writeln!(out, " {:>6}", r.num_requests());
}

/// Locust's error report, or nothing when no request failed.
pub fn error_report(snapshot: &Snapshot) -> String {
    error_report_with_width(snapshot, DEFAULT_NAME_WIDTH)
}

/// The error report for a given name width.
pub(crate) fn error_report_with_width(snapshot: &Snapshot, name_width: usize) -> String {
    if snapshot.errors.is_empty() {
        return String::new();
    }
    let mut out = String::from("Error report\n");
    let _ = writeln!(out, "{:<18} {:<100}", "# occurrences", "Error");
    let separator = format!(
        "{}|{}\n",
        "-".repeat(18),
        "-".repeat((80 + name_width).saturating_sub(19))
    );
    out.push_str(&separator);
    for e in &snapshot.errors {
        // As Locust's console: a catch_response failure shows its message alone.
        let error = crate::plan::scenario::check::console_text(&e.error);
        let what = format!("{} {}: {error}", e.method, e.name);
        let _ = writeln!(out, "{:<18} {:<100}", e.occurrences, what);
    }
    out.push_str(&separator);
    out.push('\n');
    out
}

/// What Locust prints when a run ends: the request table with whole-run rates, the
/// percentile table and the error report.
pub fn final_summary(snapshot: &Snapshot) -> String {
    let mut out = request_table(snapshot, Rates::Total);
    out.push_str(&percentile_table(snapshot));
    out.push_str(&error_report(snapshot));
    out
}

/// Whole milliseconds, truncated toward zero (Locust's `%d` of a float).
fn truncated_ms(ms: f64) -> i64 {
    ms.trunc() as i64
}

/// Whole milliseconds, rounded half to even as Python's `round`.
fn rounded_ms(ms: f64) -> i64 {
    ms.round_ties_even() as i64
}

/// The median column: rounded like Locust's bucketed median, clamped to the exact
/// minimum and maximum, then truncated by `%d`, as Locust does.
fn median_ms(r: &RequestStats) -> i64 {
    if r.num_requests() == 0 {
        return 0;
    }
    let rounded = r.median_response_time_ms().round_ties_even();
    truncated_ms(rounded.clamp(r.min_response_time_ms(), r.max_response_time_ms()))
}

/// The live one-line progress display for headless runs on a terminal: elapsed and
/// remaining time, users, current requests per second and the failure percentage.
///
/// Redrawn in place with `\r`; does nothing unless stderr is a terminal. Call
/// [`Progress::clear`] before printing a table so the line does not mix with it.
#[derive(Debug)]
pub(crate) struct Progress {
    run_start: SystemTime,
    run_time: Option<Duration>,
    /// A staged plan's stages: start from the run's start, label (see
    /// `LoadPlan::stage_labels`); empty without stages to tell apart.
    stages: Vec<(Duration, String)>,
    enabled: bool,
    drawn: usize,
}

impl Progress {
    /// A progress line for a run started at `run_start` that lasts `run_time` (if limited);
    /// enabled only when stderr is a terminal.
    pub(crate) fn new(run_start: SystemTime, run_time: Option<Duration>) -> Self {
        Self {
            run_start,
            run_time,
            stages: Vec::new(),
            enabled: std::io::stderr().is_terminal(),
            drawn: 0,
        }
    }

    /// The same line, naming the stage in progress (`stage 2/4: 100 users`).
    pub(crate) fn with_stages(mut self, stages: Vec<(Duration, String)>) -> Self {
        self.stages = stages;
        self
    }

    /// `stage 2/4: 100 users | ` for the stage `elapsed` falls in; empty without stages.
    fn stage(&self, elapsed: Duration) -> String {
        let current = self.stages.iter().rposition(|(at, _)| *at <= elapsed);
        match current {
            Some(i) => format!(
                "stage {}/{}: {} | ",
                i + 1,
                self.stages.len(),
                self.stages[i].1
            ),
            None => String::new(),
        }
    }

    /// The line's text for `snapshot`, without control characters.
    pub(crate) fn line(&self, snapshot: &Snapshot) -> String {
        let elapsed = snapshot
            .taken_at
            .duration_since(self.run_start)
            .unwrap_or_default();
        let remaining = match self.run_time {
            // Rounded up: a run with 0.4 s to go has not finished.
            Some(limit) => clock(
                limit
                    .saturating_sub(elapsed)
                    .saturating_add(Duration::from_nanos(999_999_999)),
            ),
            None => "-".to_owned(),
        };
        let agg = &snapshot.aggregated;
        format!(
            "elapsed {} | remaining {} | {}users {} | {:.1} req/s | failures {:.2}%",
            clock(elapsed),
            remaining,
            self.stage(elapsed),
            snapshot.user_count,
            agg.current_rps(snapshot.taken_at),
            agg.fail_ratio() * 100.0
        )
    }

    /// Redraws the line on stderr (when it is a terminal).
    pub(crate) fn draw(&mut self, snapshot: &Snapshot) {
        if !self.enabled {
            return;
        }
        let line = self.line(snapshot);
        let pad = self.drawn.saturating_sub(line.chars().count());
        // A failed write to the terminal is not worth stopping a run for.
        let _ = write!(std::io::stderr().lock(), "\r{line}{:pad$}", "");
        self.drawn = line.chars().count();
    }

    /// Erases the line, so that the next output starts on a clean line.
    pub(crate) fn clear(&mut self) {
        if !self.enabled || self.drawn == 0 {
            return;
        }
        let _ = write!(
            std::io::stderr().lock(),
            "\r{:width$}\r",
            "",
            width = self.drawn
        );
        self.drawn = 0;
    }
}

/// `H:MM:SS`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference_fixture::{reference_file, reference_snapshot};

    /// Compares line by line, so a failure names the first differing line.
    fn assert_same_lines(ours: &str, theirs: &str) {
        for (i, (a, b)) in ours.split('\n').zip(theirs.split('\n')).enumerate() {
            assert_eq!(a, b, "line {} differs", i + 1);
        }
        assert_eq!(
            ours.split('\n').count(),
            theirs.split('\n').count(),
            "line count"
        );
        assert_eq!(ours, theirs);
    }

    #[test]
    fn final_summary_matches_locusts_bytes() {
        let reference = reference_file("console-final.txt");
        assert_same_lines(&final_summary(&reference_snapshot()), &reference);
    }

    /// 20 seconds of 10 requests a second, one of them failing, from `T0`.
    fn steady_run() -> Snapshot {
        use crate::stats::{Aggregator, RequestKey, StatsHub};
        let start = std::time::UNIX_EPOCH + Duration::from_secs(1_795_961_000);
        let hub = StatsHub::new(2);
        let key = RequestKey::new("GET", "/api/clients");
        for second in 0..20u64 {
            for i in 0..10u64 {
                let at = start + Duration::from_millis(second * 1000 + i * 100);
                let error = (i == 0).then_some("ConnectionRefused");
                let mut shard = hub.shard(i as usize).lock().unwrap();
                shard.record(&key, Duration::from_micros(25_400 + i), 10, error, at);
            }
        }
        let mut agg = Aggregator::new(start);
        let snapshot = agg.tick(&hub, start + Duration::from_millis(20_300), 5);
        (*snapshot).clone()
    }

    #[test]
    fn periodic_table_shows_current_rates_and_final_table_whole_run_rates() {
        let s = steady_run();
        let current = request_table(&s, Rates::Current);
        let lines: Vec<&str> = current.lines().collect();
        assert_eq!(
            lines.len(),
            6,
            "header, separator, row, separator, aggregated, blank"
        );
        assert_eq!(
            lines[2],
            format!("GET      {:<76}     200   20(10.00%) |     25      25      25     25 |   10.00        1.00", "/api/clients")
        );
        assert!(lines[4].starts_with("         Aggregated "));
        assert!(lines[4].ends_with("|   10.00        1.00"), "{}", lines[4]);
        assert_eq!(lines[5], "");
        // Whole run: 200 requests over 19.9 s from the start to the last request.
        let total = request_table(&s, Rates::Total);
        assert!(
            total
                .lines()
                .nth(2)
                .unwrap()
                .ends_with("|   10.05        1.01"),
            "{total}"
        );
    }

    #[test]
    fn empty_run_prints_the_frames_and_a_zero_aggregated_row() {
        let s = Snapshot::empty(std::time::UNIX_EPOCH + Duration::from_secs(1_795_961_000));
        let table = request_table(&s, Rates::Current);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[1], lines[2]);
        assert_eq!(
            lines[3],
            format!("         {:<76}       0     0(0.00%) |      0       0       0      0 |    0.00        0.00", "Aggregated")
        );
        let percentiles = percentile_table(&s);
        assert_eq!(
            percentiles.lines().count(),
            5,
            "title, header, two separators, blank"
        );
        assert_eq!(error_report(&s), "");
    }

    #[test]
    fn error_report_lists_each_kind_with_its_count() {
        let report = error_report(&steady_run());
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines[0], "Error report");
        assert_eq!(
            lines[3],
            format!("{:<18} {:<100}", 20, "GET /api/clients: ConnectionRefused")
        );
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn name_column_follows_the_terminal_width_like_locust() {
        assert_eq!(name_width_for(None), 80);
        assert_eq!(name_width_for(Some(200)), 80);
        assert_eq!(name_width_for(Some(120)), 40);
        assert_eq!(name_width_for(Some(60)), 0);
        let s = steady_run();
        let wide = request_table(&s, Rates::Current);
        let narrow = request_table_with_width(&s, Rates::Current, 40);
        assert_eq!(wide.lines().next().unwrap().len(), 160);
        assert_eq!(narrow.lines().next().unwrap().len(), 120);
        assert_eq!(
            percentile_table_with_width(&s, 40)
                .lines()
                .nth(1)
                .unwrap()
                .len(),
            135
        );
    }

    #[test]
    fn long_names_are_printed_whole() {
        use crate::stats::{Aggregator, RequestKey, Shard};
        let name = format!("/api/{}", "x".repeat(100));
        let mut shard = Shard::new();
        let now = SystemTime::now();
        shard.record(
            &RequestKey::new("GET", name.clone()),
            Duration::from_millis(1),
            0,
            None,
            now,
        );
        let mut agg = Aggregator::new(now);
        agg.merge_shard(&shard);
        let s = agg.snapshot(now, 1);
        assert!(request_table(&s, Rates::Total).contains(&format!("GET      {name} ")));
        assert!(percentile_table(&s).contains(&format!("GET      {name} ")));
    }

    #[test]
    fn progress_line_shows_time_users_rate_and_failures() {
        let s = steady_run();
        let progress = Progress::new(s.start, Some(Duration::from_secs(30)));
        assert_eq!(
            progress.line(&s),
            // 20.5 s in: elapsed rounds down and the 9.5 s left round up.
            "elapsed 0:00:20 | remaining 0:00:10 | users 5 | 10.0 req/s | failures 10.00%"
        );
        let unlimited = Progress::new(s.start, None);
        assert!(unlimited.line(&s).contains("remaining - |"));
    }

    #[test]
    fn progress_line_names_the_stage_in_progress() {
        let s = steady_run();
        let plan = crate::plan::load::LoadPlan::Stages(
            [(10, 50), (10, 100), (10, 10)]
                .map(|(secs, users)| crate::plan::load::Stage {
                    duration: Duration::from_secs(secs),
                    users,
                    spawn_rate: 10.0,
                })
                .to_vec(),
        );
        let progress =
            Progress::new(s.start, Some(Duration::from_secs(30))).with_stages(plan.stage_labels());
        // 20.5 s in: the third stage started at 20 s.
        assert_eq!(
            progress.line(&s),
            "elapsed 0:00:20 | remaining 0:00:10 | stage 3/3: 10 users | users 5 | 10.0 req/s | failures 10.00%"
        );
        let at = |secs: f64| progress.stage(Duration::from_secs_f64(secs));
        assert_eq!(at(0.0), "stage 1/3: 50 users | ");
        assert_eq!(at(9.9), "stage 1/3: 50 users | ");
        assert_eq!(at(10.0), "stage 2/3: 100 users | ");
        let one = crate::plan::load::LoadPlan::Stages(
            [(5, 1), (5, 2)]
                .map(|(secs, users)| crate::plan::load::Stage {
                    duration: Duration::from_secs(secs),
                    users,
                    spawn_rate: 1.0,
                })
                .to_vec(),
        );
        assert_eq!(one.stage_labels()[0].1, "1 user");
        assert_eq!(one.planned_length(), Some(Duration::from_secs(10)));
        // A plain plan has no stage to name.
        let plain = crate::plan::load::LoadPlan::Users {
            users: 5,
            spawn_rate: 1.0,
        };
        assert!(plain.stage_labels().is_empty());
        assert_eq!(plain.planned_length(), None);
    }
}
