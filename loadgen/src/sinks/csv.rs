//! Locust's four CSV files (`--csv PREFIX`), with Locust's exact headers, row order,
//! number formats, minimal quoting and CRLF line ends, so that every tool that reads
//! Locust's CSV reads ours unchanged.
//!
//! - `PREFIX_stats.csv`: one row per (method, name), then `Aggregated`; rewritten
//!   atomically (temporary file + rename) so a reader never sees half a file.
//! - `PREFIX_stats_history.csv`: appended once a second from the snapshot's history.
//! - `PREFIX_failures.csv`, `PREFIX_exceptions.csv`: rewritten like the stats file.
//!
//! Fields and lines go through the csv crate set up as Python's csv module writes
//! (minimal quoting, CRLF); numbers are written as Python writes them: counts and percentiles as integers,
//! averages, extremes and rates as the shortest float that reads back the same (with a
//! `.0` on whole numbers), history rates with six decimals. Percentiles and the median
//! are whole milliseconds rounded to nearest, as Locust's bucketed values are.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::stats::{
    Aggregator, HistoryRow, RequestStats, Snapshot, StatsHub, AGGREGATED_NAME,
    PERCENTILES_TO_REPORT,
};

/// Header of `_stats.csv`.
pub(crate) const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

/// Header of `_stats_history.csv`.
pub(crate) const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";

/// Header of `_failures.csv`.
pub(crate) const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";

/// Header of `_exceptions.csv`.
pub(crate) const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// Line end of every CSV line (Python's csv module default).
#[cfg(test)]
const CRLF: &str = "\r\n";

/// A CSV file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write CSV file {}: {source}", path.display())]
pub struct CsvError {
    /// The file being written.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Writes the four CSV files of one run.
#[derive(Debug)]
pub struct CsvWriter {
    stats: PathBuf,
    history: PathBuf,
    failures: PathBuf,
    exceptions: PathBuf,
    full_history: bool,
    /// Sequence number of the next history row to append.
    next_history_seq: u64,
}

impl CsvWriter {
    /// Creates the four files with their headers, and the history's first line (a zero
    /// line, as Locust writes at the start); existing files are replaced, as Locust does. `full_history` also writes every row's history lines,
    /// not only the aggregated one.
    pub fn new(prefix: &str, full_history: bool) -> Result<Self, CsvError> {
        let path = |suffix: &str| PathBuf::from(format!("{prefix}{suffix}"));
        let writer = Self {
            stats: path("_stats.csv"),
            history: path("_stats_history.csv"),
            failures: path("_failures.csv"),
            exceptions: path("_exceptions.csv"),
            full_history,
            next_history_seq: 0,
        };
        // Locust's first history line is written at the start, with no users and no
        // requests (N/A percentiles, zero totals): the same here.
        let now = SystemTime::now();
        let empty = Aggregator::new(now).tick(&StatsHub::new(1), now, 0);
        write_atomically(&writer.history, &history_csv(&empty, false))?;
        writer.write_stats(&empty)?;
        writer.write_failures(&empty)?;
        writer.write_exceptions(&empty)?;
        Ok(writer)
    }

    /// The four paths: stats, history, failures, exceptions.
    pub fn paths(&self) -> [&Path; 4] {
        [&self.stats, &self.history, &self.failures, &self.exceptions]
    }

    /// Rewrites `_stats.csv` atomically.
    pub fn write_stats(&self, snapshot: &Snapshot) -> Result<(), CsvError> {
        write_atomically(&self.stats, &stats_csv(snapshot))
    }

    /// Appends the history rows recorded since the last call.
    pub fn append_history(&mut self, snapshot: &Snapshot) -> Result<(), CsvError> {
        let mut lines = Lines::new();
        for row in snapshot.history.since(self.next_history_seq) {
            if self.full_history || is_aggregated(row) {
                lines.push(&history_fields(row));
            }
        }
        let text = lines.text();
        if !text.is_empty() {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&self.history)
                .map_err(|source| CsvError {
                    path: self.history.clone(),
                    source,
                })?;
            file.write_all(text.as_bytes()).map_err(|source| CsvError {
                path: self.history.clone(),
                source,
            })?;
        }
        self.next_history_seq = snapshot.history.end_seq();
        Ok(())
    }

    /// Rewrites `_failures.csv` atomically.
    pub fn write_failures(&self, snapshot: &Snapshot) -> Result<(), CsvError> {
        write_atomically(&self.failures, &failures_csv(snapshot))
    }

    /// Rewrites `_exceptions.csv` atomically.
    pub fn write_exceptions(&self, snapshot: &Snapshot) -> Result<(), CsvError> {
        write_atomically(&self.exceptions, &exceptions_csv(snapshot))
    }

    /// The last write of all four files, at the end of the run (no second is missing,
    /// unlike Locust's lagging last write).
    pub fn finish(&mut self, snapshot: &Snapshot) -> Result<(), CsvError> {
        self.write_stats(snapshot)?;
        self.append_history(snapshot)?;
        self.write_failures(snapshot)?;
        self.write_exceptions(snapshot)
    }
}

/// The text of `_stats.csv`.
pub fn stats_csv(snapshot: &Snapshot) -> String {
    let mut out = Lines::with_header(STATS_HEADER);
    for r in snapshot
        .rows
        .iter()
        .chain(std::iter::once(&snapshot.aggregated))
    {
        out.push(&stats_fields(r));
    }
    out.text()
}

/// The text of `_stats_history.csv` for every history row the snapshot holds (aggregated
/// rows only unless `full_history`).
pub(crate) fn history_csv(snapshot: &Snapshot, full_history: bool) -> String {
    let mut out = Lines::with_header(HISTORY_HEADER);
    for row in snapshot
        .history
        .iter()
        .filter(|r| full_history || is_aggregated(r))
    {
        out.push(&history_fields(row));
    }
    out.text()
}

/// The text of `_failures.csv`: one line per (method, name, error), in Locust's order.
pub(crate) fn failures_csv(snapshot: &Snapshot) -> String {
    let mut out = Lines::with_header(FAILURES_HEADER);
    let mut errors: Vec<(String, &crate::stats::ErrorStats)> = snapshot
        .errors
        .iter()
        .map(|e| (locust_error_key(&e.method, &e.name, &e.error), e))
        .collect();
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, e) in errors {
        out.push(&[
            e.method.clone(),
            e.name.clone(),
            e.error.clone(),
            e.occurrences.to_string(),
            utc(e.first_seen),
            utc(e.last_seen),
        ]);
    }
    out.text()
}

/// Locust's key of an error (`StatsError.create_key`): the SHA-256, in hex, of
/// `METHOD.NAME.REPR` where REPR is Python's `repr` of the error text. Locust writes
/// `_failures.csv` sorted by it.
pub(crate) fn locust_error_key(method: &str, name: &str, error: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{method}.{name}.{}", python_repr(error)));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Python's `repr` of a string: single quotes unless the text holds a single quote and
/// no double one; backslashes, the quote, tabs, line ends and other unprintable
/// characters escaped as Python escapes them.
pub(crate) fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            // Python prints neither controls nor separators other than the space.
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                let code = u32::from(c);
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The text of `_exceptions.csv`. loadgen's scenarios run no user code, so nothing can
/// raise inside a task: the file holds Locust's header only.
pub(crate) fn exceptions_csv(_snapshot: &Snapshot) -> String {
    exception_rows_csv(std::iter::empty())
}

/// Locust's exceptions CSV of `rows`: count, message, traceback, nodes.
pub(crate) fn exception_rows_csv(rows: impl Iterator<Item = [String; 4]>) -> String {
    let mut lines = Lines::with_header(EXCEPTIONS_HEADER);
    for row in rows {
        lines.push(&row);
    }
    lines.text()
}

fn stats_fields(r: &RequestStats) -> Vec<String> {
    let has = r.num_requests() > 0;
    let mut fields = vec![
        r.method.clone(),
        r.name.clone(),
        r.num_requests().to_string(),
        r.num_failures().to_string(),
        median_ms(r).to_string(),
        py_float(r.avg_response_time_ms()),
        if has {
            py_float(r.min_response_time_ms())
        } else {
            "0".into()
        },
        if has {
            py_float(r.max_response_time_ms())
        } else {
            "0".into()
        },
        if has {
            py_float(r.avg_content_length())
        } else {
            "0".into()
        },
        py_float(r.total_rps()),
        py_float(r.total_fail_per_sec()),
    ];
    percentile_fields(
        &mut fields,
        r.percentiles_ms(&PERCENTILES_TO_REPORT).as_deref(),
    );
    fields
}

fn history_fields(h: &HistoryRow) -> Vec<String> {
    let has = h.num_requests > 0;
    let mut fields = vec![
        h.timestamp.to_string(),
        h.user_count.to_string(),
        h.method.clone(),
        h.name.clone(),
        format!("{:.6}", h.current_rps),
        format!("{:.6}", h.current_fail_per_sec),
    ];
    percentile_fields(&mut fields, h.percentiles_ms.as_ref().map(|p| &p[..]));
    fields.extend([
        h.num_requests.to_string(),
        h.num_failures.to_string(),
        if has {
            rounded_clamped(h.median_ms, h.min_ms, h.max_ms).to_string()
        } else {
            "0".into()
        },
        py_float(h.avg_ms),
        if has { py_float(h.min_ms) } else { "0".into() },
        if has { py_float(h.max_ms) } else { "0".into() },
        if has {
            py_float(h.avg_content_length)
        } else {
            "0".into()
        },
    ]);
    fields
}

fn percentile_fields(fields: &mut Vec<String>, values: Option<&[f64]>) {
    match values {
        Some(values) => fields.extend(values.iter().map(|v| v.round_ties_even().to_string())),
        None => fields.extend(std::iter::repeat_n(
            "N/A".to_owned(),
            PERCENTILES_TO_REPORT.len(),
        )),
    }
}

/// Lines of a CSV file as Python's csv module writes them: fields quoted only when they
/// must be (`csv.QUOTE_MINIMAL`: a comma, a double quote or a line break; inner quotes
/// doubled) and CRLF line ends.
struct Lines(csv::Writer<Vec<u8>>);

impl Lines {
    fn new() -> Self {
        Self(
            csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .quote_style(csv::QuoteStyle::Necessary)
                .flexible(true)
                .from_writer(Vec::new()),
        )
    }

    /// A file's lines starting with Locust's `header`.
    fn with_header(header: &str) -> Self {
        let mut lines = Self::new();
        lines.push(&header.split(',').map(str::to_owned).collect::<Vec<_>>());
        lines
    }

    fn push(&mut self, fields: &[String]) {
        // Writing into memory cannot fail: the only errors are I/O errors of the sink.
        let _ = self.0.write_record(fields);
    }

    fn text(self) -> String {
        let bytes = self.0.into_inner().unwrap_or_default();
        // Every field was a Rust string, so the bytes are UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

fn is_aggregated(row: &HistoryRow) -> bool {
    row.method.is_empty() && row.name == AGGREGATED_NAME
}

/// The median as Locust prints it: rounded, clamped to the exact extremes, truncated.
fn median_ms(r: &RequestStats) -> i64 {
    if r.num_requests() == 0 {
        return 0;
    }
    rounded_clamped(
        r.median_response_time_ms(),
        r.min_response_time_ms(),
        r.max_response_time_ms(),
    )
}

fn rounded_clamped(value: f64, min: f64, max: f64) -> i64 {
    value.round_ties_even().clamp(min, max.max(min)).trunc() as i64
}

/// A float as Python's `repr` writes it in the common range: the shortest digits that
/// read back the same, with `.0` on whole numbers.
pub fn py_float(value: f64) -> String {
    let mut s = String::new();
    let _ = write!(s, "{value}");
    if value.is_finite() && !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
fn utc(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`, so that
/// a reader sees either the old file or the new one, never part of one.
fn write_atomically(path: &Path, text: &str) -> Result<(), CsvError> {
    crate::sinks::atomic_file::replace_file(path, text.as_bytes()).map_err(|source| CsvError {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::reference_fixture::{reference_file, reference_snapshot};
    use crate::stats::{Aggregator, RequestKey, StatsHub};
    use std::time::{Duration, UNIX_EPOCH};

    fn first_line(text: &str) -> &str {
        text.split(CRLF).next().unwrap_or_default()
    }

    #[test]
    fn headers_match_locusts_files_byte_for_byte() {
        let snapshot = reference_snapshot();
        for (file, ours) in [
            ("run_stats.csv", stats_csv(&snapshot)),
            ("run_stats_history.csv", history_csv(&snapshot, false)),
            ("run_failures.csv", failures_csv(&snapshot)),
            ("run_exceptions.csv", exceptions_csv(&snapshot)),
        ] {
            let theirs = reference_file(file);
            assert!(theirs.ends_with(CRLF), "{file} is CRLF");
            assert_eq!(first_line(&ours), first_line(&theirs), "{file} header");
            assert!(
                ours.ends_with(CRLF) && !ours.replace(CRLF, "").contains('\n'),
                "{file}: CRLF only"
            );
        }
        assert_eq!(
            reference_file("run_exceptions.csv"),
            exceptions_csv(&snapshot)
        );
    }

    #[test]
    fn stats_rows_have_locusts_columns_order_and_numbers() {
        let snapshot = reference_snapshot();
        let text = stats_csv(&snapshot);
        let lines: Vec<&str> = text.split(CRLF).filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1 + 9 + 1);
        let reference = reference_file("run_stats.csv");
        let theirs: Vec<&str> = reference.split(CRLF).filter(|l| !l.is_empty()).collect();
        // Same rows in the same order (the reference lags a second, so counts differ).
        let key = |l: &str| l.split(',').take(2).collect::<Vec<_>>().join(",");
        assert_eq!(
            lines.iter().map(|l| key(l)).collect::<Vec<_>>(),
            theirs.iter().map(|l| key(l)).collect::<Vec<_>>()
        );
        // Round trip of one row's numbers.
        let row = snapshot.row("GET", "/api/clients").unwrap();
        let f: Vec<&str> = lines[1].split(',').collect();
        assert_eq!(f.len(), 22);
        assert_eq!(f[2].parse::<u64>().unwrap(), row.num_requests());
        assert_eq!(f[3].parse::<u64>().unwrap(), row.num_failures());
        assert_eq!(f[4], "29");
        assert_eq!(f[5].parse::<f64>().unwrap(), row.avg_response_time_ms());
        assert_eq!(f[6].parse::<f64>().unwrap(), row.min_response_time_ms());
        assert_eq!(f[7].parse::<f64>().unwrap(), row.max_response_time_ms());
        assert_eq!(f[8], "300.0");
        assert_eq!(f[9].parse::<f64>().unwrap(), row.total_rps());
        assert_eq!(f[10].parse::<f64>().unwrap(), row.total_fail_per_sec());
        assert_eq!(f[11..].join(","), "29,31,31,31,34,37,39,39,39,39,39");
        assert!(lines[10].starts_with(",Aggregated,521,49,28,"));
    }

    #[test]
    fn empty_rows_write_locusts_zeros_and_na() {
        let start = UNIX_EPOCH + Duration::from_secs(1_795_961_039);
        let mut agg = Aggregator::new(start);
        let s = agg.tick(&StatsHub::new(1), start, 0);
        assert_eq!(
            stats_csv(&s),
            format!("{STATS_HEADER}\r\n,Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\r\n")
        );
        // The reference's first history line, byte for byte.
        let reference = reference_file("run_stats_history.csv");
        let second_line = reference.split(CRLF).nth(1).unwrap();
        assert_eq!(
            history_csv(&s, false).split(CRLF).nth(1).unwrap(),
            second_line
        );
    }

    #[test]
    fn history_lines_follow_the_reference_layout() {
        let start = UNIX_EPOCH + Duration::from_secs(1_795_961_039);
        let hub = StatsHub::new(1);
        let key = RequestKey::new("GET", "/a");
        let mut agg = Aggregator::new(start);
        for s in 0..5u64 {
            for i in 0..20u64 {
                let at = start + Duration::from_millis(s * 1000 + i * 10);
                let error = (i == 0).then_some("boom");
                hub.shard(0).lock().unwrap().record(
                    &key,
                    Duration::from_micros(28_000 + i * 100),
                    307,
                    error,
                    at,
                );
            }
        }
        let s = agg.tick(&hub, start + Duration::from_millis(5_100), 40);
        let text = history_csv(&s, false);
        let line = text.split(CRLF).nth(1).unwrap();
        // Seconds 0..=2 hold 20 requests each: a current rate of 20 with 1 failure a second.
        assert!(
            line.starts_with("1795961044,40,,Aggregated,20.000000,1.000000,"),
            "{line}"
        );
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 24);
        assert_eq!(&f[17..19], ["100", "5"]);
        assert_eq!(f[23], "307.0");
    }

    /// One field as a line of the files holds it, without the line end.
    fn field(value: &str) -> String {
        let mut lines = Lines::new();
        lines.push(&[value.to_owned(), "x".to_owned()]);
        let text = lines.text();
        let line = text.strip_suffix(CRLF).unwrap();
        line.strip_suffix(",x").unwrap().to_owned()
    }

    #[test]
    fn quoting_is_minimal_as_pythons_csv_module() {
        assert_eq!(
            field("HTTPError('503 Server Error: x')"),
            "HTTPError('503 Server Error: x')"
        );
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(py_float(337.0), "337.0");
        assert_eq!(py_float(29.02076125922206), "29.02076125922206");
        assert_eq!(py_float(0.0), "0.0");
    }

    #[test]
    fn failures_name_their_kind_with_utc_times() {
        let text = failures_csv(&reference_snapshot());
        let lines: Vec<&str> = text.split(CRLF).filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(
            lines[6],
            "GET,/api/ml/predict,HTTPError('503 Server Error: Service Unavailable for url: /api/ml/predict'),11,2026-11-29T14:03:59Z,2026-11-29T14:03:59Z"
        );
    }

    #[test]
    fn writer_creates_four_files_and_appends_history_once_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("run");
        let mut writer = CsvWriter::new(prefix.to_str().unwrap(), false).unwrap();
        for p in writer.paths() {
            assert!(
                std::fs::read_to_string(p).unwrap().ends_with(CRLF),
                "{}",
                p.display()
            );
        }
        let start = UNIX_EPOCH + Duration::from_secs(1_795_961_039);
        let hub = StatsHub::new(1);
        let key = RequestKey::new("GET", "/a, \"b\"");
        let mut agg = Aggregator::new(start);
        hub.shard(0)
            .lock()
            .unwrap()
            .record(&key, Duration::from_millis(3), 1, Some("x"), start);
        let s1 = agg.tick(&hub, start + Duration::from_secs(1), 1);
        writer.append_history(&s1).unwrap();
        let s2 = agg.tick(&hub, start + Duration::from_secs(2), 1);
        writer.finish(&s2).unwrap();
        let history = std::fs::read_to_string(writer.paths()[1]).unwrap();
        // Header, Locust's zero line at the start, then one line per tick.
        assert_eq!(history.matches(CRLF).count(), 4, "{history}");
        assert!(history
            .split(CRLF)
            .nth(1)
            .unwrap()
            .contains(",0,,Aggregated,0.000000,0.000000,N/A,"));
        let stats = std::fs::read_to_string(writer.paths()[0]).unwrap();
        assert!(
            stats.contains("\r\nGET,\"/a, \"\"b\"\"\",1,1,3,3.0,3.0,3.0,1.0,"),
            "{stats}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    /// Python's own `repr` of each text (printed by CPython 3.11).
    #[test]
    fn python_repr_quotes_and_escapes_as_python_does() {
        let cases = [
            ("HTTPError('500')", r#""HTTPError('500')""#),
            (r#"say "hi""#, r#"'say "hi"'"#),
            (r#"both ' and ""#, r#"'both \' and "'"#),
            ("tab\there\nnew", r"'tab\there\nnew'"),
            (r"back\slash", r"'back\\slash'"),
            (
                "nbsp\u{a0} and \u{2028} and \u{e9}",
                "'nbsp\\xa0 and \\u2028 and \u{e9}'",
            ),
            ("bell\u{7}", r"'bell\x07'"),
        ];
        for (text, want) in cases {
            assert_eq!(python_repr(text), want, "{text:?}");
        }
    }

    /// The real Locust run's failures file is sorted by Locust's error key; errors first
    /// seen in the opposite order come out in the file's order.
    #[test]
    fn failures_are_in_locusts_order() {
        let theirs = reference_file("run_failures.csv");
        let rows: Vec<Vec<&str>> = theirs
            .split(CRLF)
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| {
                // METHOD,NAME,ERROR,...: the error holds no comma in this run.
                l.splitn(4, ',').take(3).collect()
            })
            .collect();
        assert!(rows.len() >= 6, "{theirs}");
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut shard = crate::stats::Shard::new();
        for (i, row) in rows.iter().rev().enumerate() {
            let at = t0 + Duration::from_secs(i as u64);
            shard.record(
                &RequestKey::new(row[0], row[1]),
                Duration::from_millis(5),
                0,
                Some(row[2]),
                at,
            );
        }
        let mut agg = Aggregator::new(t0);
        agg.merge_shard(&shard);
        let ours = failures_csv(&agg.snapshot(t0 + Duration::from_secs(10), 1));
        let order = |text: &str| -> Vec<String> {
            text.split(CRLF)
                .skip(1)
                .filter(|l| !l.is_empty())
                .map(|l| l.splitn(3, ',').take(2).collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(order(&ours), order(&theirs));
    }
}
