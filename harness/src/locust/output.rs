//! What the tool reported, read from its files and console as Locust writes them: the
//! `_stats.csv` and `_failures.csv` files, the final request, percentile and error
//! tables on the console, the per-class user counts it logged ("All users spawned:")
//! and the verdict the locustfile printed.
//!
//! Locust rewrites its CSV files once a second and closes them at exit without a last
//! write, so they can lag the final console tables by the requests of the last second.
//! Both are read; the one with more requests is the later, complete one, and the
//! report says which was used.

use std::collections::BTreeMap;
use std::path::Path;

use super::LocustError;

/// The percentiles of Locust's tables and CSV, in their order.
pub const PERCENTILES: [f64; 11] = [
    0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// One row of Locust's statistics (or its Aggregated row).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// HTTP method (empty for Aggregated).
    pub method: String,
    /// Stats name.
    pub name: String,
    /// Requests counted.
    pub requests: u64,
    /// Failures counted.
    pub failures: u64,
    /// Average response time, ms.
    pub avg_ms: f64,
    /// How much the average may exceed `avg_ms` (the console truncates it to whole ms).
    pub avg_resolution_ms: f64,
    /// The values at [`PERCENTILES`], ms (`None`: N/A).
    pub percentiles: Vec<Option<f64>>,
}

impl Row {
    /// The reported value of percentile `p` (one of [`PERCENTILES`]).
    pub fn percentile(&self, p: f64) -> Option<f64> {
        PERCENTILES
            .iter()
            .position(|q| (q - p).abs() < 1e-9)
            .and_then(|i| self.percentiles.get(i).copied().flatten())
    }
}

/// One line of Locust's failure report.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureLine {
    /// HTTP method.
    pub method: String,
    /// Stats name.
    pub name: String,
    /// The error text.
    pub error: String,
    /// How many times.
    pub occurrences: u64,
}

/// Rows and their Aggregated row, from one source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The rows.
    pub rows: Vec<Row>,
    /// The Aggregated row.
    pub aggregated: Option<Row>,
}

/// Everything the tool reported.
#[derive(Debug, Clone)]
pub struct Reported {
    /// The complete statistics.
    pub stats: Table,
    /// Which source `stats` came from, and how the other compared.
    pub stats_source: String,
    /// The complete failure lines.
    pub failures: Vec<FailureLine>,
    /// Which source `failures` came from.
    pub failures_source: String,
    /// Users per class as the tool logged them when every user had started.
    pub users: Option<BTreeMap<String, u64>>,
    /// The verdict the locustfile printed (`PASSED` or `FAILED`), the last one seen.
    pub printed_verdict: Option<String>,
}

/// Reads the CSV files under `prefix` and the console, and keeps the complete figures.
pub fn read(prefix: &Path, stdout: &str, stderr: &str) -> Result<Reported, LocustError> {
    let stats_path = with_suffix(prefix, "_stats.csv");
    let failures_path = with_suffix(prefix, "_failures.csv");
    let csv = std::fs::read_to_string(&stats_path)
        .ok()
        .map(|text| stats_csv(&text, &stats_path))
        .transpose()?;
    let console = console_tables(stderr).or_else(|| console_tables(stdout));
    let total = |t: &Option<Table>| {
        t.as_ref()
            .and_then(|t| t.aggregated.as_ref())
            .map(|a| a.requests)
    };
    let (stats, stats_source) = match (csv, console) {
        (Some(c), Some(k)) if total(&Some(k.clone())) > total(&Some(c.clone())) => {
            let text = format!(
                "console's final tables ({} requests; the CSV lagged with {})",
                total(&Some(k.clone())).unwrap_or(0),
                total(&Some(c)).unwrap_or(0)
            );
            (k, text)
        }
        (Some(c), Some(_)) => (c, "CSV (equal to the console's final tables)".to_owned()),
        (Some(c), None) => (c, "CSV (no final tables on the console)".to_owned()),
        (None, Some(k)) => (k, "console's final tables (no CSV written)".to_owned()),
        (None, None) => {
            return Err(LocustError::NoStatistics {
                path: stats_path.display().to_string(),
            })
        }
    };
    let csv_failures = std::fs::read_to_string(&failures_path)
        .ok()
        .map(|text| failures_csv(&text, &failures_path))
        .transpose()?;
    let console_failures = error_report(stderr).or_else(|| error_report(stdout));
    let sum = |f: &[FailureLine]| f.iter().map(|l| l.occurrences).sum::<u64>();
    let (failures, failures_source) = match (csv_failures, console_failures) {
        (Some(c), Some(k)) if sum(&k) > sum(&c) => {
            let text = format!(
                "console's error report ({}; the CSV lagged with {})",
                sum(&k),
                sum(&c)
            );
            (k, text)
        }
        (Some(c), _) => (c, "failures CSV".to_owned()),
        (None, Some(k)) => (k, "console's error report".to_owned()),
        (None, None) => (Vec::new(), "none reported".to_owned()),
    };
    Ok(Reported {
        stats,
        stats_source,
        failures,
        failures_source,
        users: users_spawned(stderr).or_else(|| users_spawned(stdout)),
        printed_verdict: printed_verdict(stdout).or_else(|| printed_verdict(stderr)),
    })
}

fn with_suffix(prefix: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

/// Splits one CSV line with minimal quoting (a quoted field may hold commas and `""`).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn bad_csv(path: &Path, line: usize, message: impl Into<String>) -> LocustError {
    LocustError::BadOutput {
        what: format!("{}, line {line}", path.display()),
        message: message.into(),
    }
}

/// Locust's `_stats.csv`.
pub fn stats_csv(text: &str, path: &Path) -> Result<Table, LocustError> {
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, l)| csv_fields(l))
        .ok_or_else(|| bad_csv(path, 1, "empty file, expected Locust's header"))?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad_csv(path, 1, format!("no column `{name}`")))
    };
    let (ty, name, reqs, fails, avg) = (
        col("Type")?,
        col("Name")?,
        col("Request Count")?,
        col("Failure Count")?,
        col("Average Response Time")?,
    );
    let pcols: Vec<usize> = [
        "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
    ]
    .iter()
    .map(|c| col(c))
    .collect::<Result<_, _>>()?;
    let mut table = Table::default();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f = csv_fields(line);
        let get = |c: usize| {
            f.get(c).map(String::as_str).ok_or_else(|| {
                bad_csv(
                    path,
                    i + 1,
                    format!("{} fields, expected {}", f.len(), header.len()),
                )
            })
        };
        let int = |c: usize| {
            get(c)?
                .parse::<u64>()
                .map_err(|_| bad_csv(path, i + 1, format!("`{}` is not a count", f[c])))
        };
        let num = |c: usize| -> Result<Option<f64>, LocustError> {
            let v = get(c)?;
            if v == "N/A" {
                return Ok(None);
            }
            v.parse::<f64>()
                .map(Some)
                .map_err(|_| bad_csv(path, i + 1, format!("`{v}` is not a number")))
        };
        let row = Row {
            method: get(ty)?.to_owned(),
            name: get(name)?.to_owned(),
            requests: int(reqs)?,
            failures: int(fails)?,
            avg_ms: num(avg)?.unwrap_or(0.0),
            avg_resolution_ms: 0.0,
            percentiles: pcols.iter().map(|c| num(*c)).collect::<Result<_, _>>()?,
        };
        if row.name == "Aggregated" && row.method.is_empty() {
            table.aggregated = Some(row);
        } else {
            table.rows.push(row);
        }
    }
    Ok(table)
}

/// Locust's `_failures.csv`.
pub fn failures_csv(text: &str, path: &Path) -> Result<Vec<FailureLine>, LocustError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f = csv_fields(line);
        let [method, name, error, occurrences, ..] = f.as_slice() else {
            return Err(bad_csv(
                path,
                i + 1,
                "expected Method,Name,Error,Occurrences,...",
            ));
        };
        out.push(FailureLine {
            method: method.clone(),
            name: name.clone(),
            error: error.clone(),
            occurrences: occurrences
                .parse()
                .map_err(|_| bad_csv(path, i + 1, format!("`{occurrences}` is not a count")))?,
        });
    }
    Ok(out)
}

/// The last request table and percentile table printed on a console.
pub fn console_tables(console: &str) -> Option<Table> {
    let lines: Vec<&str> = console.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("Type ") && l.contains("# reqs") && l.contains("# fails"))?;
    let mut table = Table::default();
    let mut i = start + 1;
    while let Some(line) = lines.get(i) {
        i += 1;
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with("---") {
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        let [left, times, _rates] = parts.as_slice() else {
            return None;
        };
        let tokens: Vec<&str> = left.split_whitespace().collect();
        let (method, name, reqs, fails) = match tokens.as_slice() {
            [m, n, r, f] => (*m, *n, *r, *f),
            [n, r, f] => ("", *n, *r, *f),
            _ => return None,
        };
        let avg: f64 = times.split_whitespace().next()?.parse().ok()?;
        let row = Row {
            method: method.to_owned(),
            name: name.to_owned(),
            requests: reqs.parse().ok()?,
            failures: fails.split('(').next()?.parse().ok()?,
            avg_ms: avg,
            avg_resolution_ms: 1.0,
            percentiles: vec![None; PERCENTILES.len()],
        };
        if method.is_empty() && name == "Aggregated" {
            table.aggregated = Some(row);
        } else {
            table.rows.push(row);
        }
    }
    // The percentile table follows: fill each row's values.
    let ptitle = (i..lines.len()).find(|&j| lines[j].starts_with("Response time percentiles"))?;
    for line in lines.iter().skip(ptitle + 2) {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with("---") {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (method, name, values) = match tokens.len() {
            n if n == PERCENTILES.len() + 3 => (tokens[0], tokens[1], &tokens[2..]),
            n if n == PERCENTILES.len() + 2 => ("", tokens[0], &tokens[1..]),
            _ => return None,
        };
        let values: Vec<Option<f64>> = values[..PERCENTILES.len()]
            .iter()
            .map(|v| v.parse().ok())
            .collect();
        let row = if method.is_empty() && name == "Aggregated" {
            table.aggregated.as_mut()
        } else {
            table
                .rows
                .iter_mut()
                .find(|r| r.method == method && r.name == name)
        };
        if let Some(row) = row {
            row.percentiles = values;
        }
    }
    Some(table)
}

/// The last error report printed on a console.
pub fn error_report(console: &str) -> Option<Vec<FailureLine>> {
    let lines: Vec<&str> = console.lines().collect();
    let start = lines.iter().rposition(|l| l.trim() == "Error report")?;
    let mut out = Vec::new();
    let mut rules = 0;
    for line in &lines[start + 1..] {
        if line.starts_with("---") {
            rules += 1;
            if rules == 2 {
                break;
            }
            continue;
        }
        if rules == 0 {
            continue; // the header
        }
        let line = line.trim();
        let (count, rest) = line.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        let (method, rest) = rest.split_once(' ')?;
        let (name, error) = rest.split_once(": ")?;
        out.push(FailureLine {
            method: method.to_owned(),
            name: name.to_owned(),
            error: error.to_owned(),
            occurrences: count.parse().ok()?,
        });
    }
    Some(out)
}

/// Users per class from the last "All users spawned: {...} (N total users)" line.
pub fn users_spawned(console: &str) -> Option<BTreeMap<String, u64>> {
    let line = console
        .lines()
        .rev()
        .find(|l| l.contains("All users spawned: "))?;
    let json = line.split_once("All users spawned: ")?.1;
    let json = &json[..=json.rfind('}')?];
    serde_json::from_str(json).ok()
}

/// The last line that is the verdict word alone, as the platform's summary prints it.
pub fn printed_verdict(console: &str) -> Option<String> {
    console
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| *l == "PASSED" || *l == "FAILED")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: &str = "\
[2026-11-29 14:03:58,000] host/INFO/locust.runners: All users spawned: {\"A\": 2, \"B\": 1} (3 total users)
Type     Name                 # reqs      # fails |    Avg     Min     Max    Med |   req/s  failures/s
--------|--------------------|-------|-------------|-------|-------|-------|-------|--------|-----------
GET      /api/clients             27     2(7.41%) |     29      23      38     29 |    1.82        0.14
--------|--------------------|-------|-------------|-------|-------|-------|-------|--------|-----------
         Aggregated               27     2(7.41%) |     29      23      38     29 |    1.82        0.14

Response time percentiles (approximated)
Type     Name                   50%    66%    75%    80%    90%    95%    98%    99%  99.9% 99.99%   100% # reqs
--------|--------------------|--------|------|------|------|------|------|------|------|------|------|------|------
GET      /api/clients             29     31     31     31     34     37     39     39     39     39     39     27
--------|--------------------|--------|------|------|------|------|------|------|------|------|------|------|------
         Aggregated               29     31     31     31     34     37     39     39     39     39     39     27

Error report
# occurrences      Error
------------------|-----------------
2                  GET /api/clients: HTTPError('500 Server Error: x, y for url: /api/clients')
------------------|-----------------
";

    #[test]
    fn console_tables_give_counts_percentiles_and_errors() {
        let t = console_tables(CONSOLE).unwrap();
        assert_eq!(t.rows.len(), 1);
        let r = &t.rows[0];
        assert_eq!((r.requests, r.failures, r.avg_ms), (27, 2, 29.0));
        assert_eq!(r.percentile(0.95), Some(37.0));
        assert_eq!(t.aggregated.unwrap().percentile(1.0), Some(39.0));
        let e = error_report(CONSOLE).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].occurrences, 2);
        assert!(e[0].error.starts_with("HTTPError('500 "));
        let users = users_spawned(CONSOLE).unwrap();
        assert_eq!(users.get("A"), Some(&2));
    }

    #[test]
    fn csv_rows_and_quoted_errors_are_read() {
        let stats = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n\
GET,/a,3,1,29,29.5,23,38,313,1.9,0.1,29,31,31,31,34,37,39,39,39,39,39\r\n\
,Aggregated,3,1,29,29.5,23,38,313,1.9,0.1,29,31,31,31,34,37,39,39,39,39,39\r\n";
        let t = stats_csv(stats, Path::new("x_stats.csv")).unwrap();
        assert_eq!(t.rows[0].avg_ms, 29.5);
        assert_eq!(t.aggregated.unwrap().requests, 3);
        let f = failures_csv(
            "Method,Name,Error,Occurrences,First Seen,Last Seen\r\nPOST,/t,\"HTTPError('500, \"\"x\"\"')\",4,a,b\r\n",
            Path::new("x_failures.csv"),
        )
        .unwrap();
        assert_eq!(f[0].error, "HTTPError('500, \"x\"')");
        assert_eq!(f[0].occurrences, 4);
        let e = stats_csv("Type,Name\r\n", Path::new("y_stats.csv")).unwrap_err();
        assert!(
            e.to_string().contains("y_stats.csv, line 1")
                && e.to_string().contains("Request Count"),
            "{e}"
        );
    }

    #[test]
    fn the_verdict_is_the_last_word_alone_on_a_line() {
        assert_eq!(
            printed_verdict("x\nPASSED\n  - a\nFAILED\n"),
            Some("FAILED".to_owned())
        );
        assert_eq!(printed_verdict("PASSED with notes\n"), None);
    }
}
