//! `PREFIX_stats_history.csv`: one Aggregated line a second (and, with
//! `--csv-full-history`, one line per request name before it), each with the user count,
//! the current rates, percentiles and the run's totals so far.

use crate::{map_lines, records, CsvError};

/// One line of Locust's stats history. The percentiles are of the whole run so far, or,
/// with `--csv-full-history`, of the last ten seconds (Locust's "current" ones); the
/// totals are always of the whole run so far.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// 1-based line in the file.
    pub line: u64,
    /// Unix seconds.
    pub timestamp: u64,
    /// Users running.
    pub user_count: u64,
    /// `GET`, ...; empty for the Aggregated row.
    pub method: String,
    /// Request name, or `Aggregated`.
    pub name: String,
    /// Locust's current requests per second (a ten-second mean).
    pub current_rps: f64,
    /// Locust's current failures per second.
    pub current_fail_per_sec: f64,
    /// (fraction 0..=1, ms) of each non-empty percentile column.
    pub percentiles: Vec<(f64, f64)>,
    /// Requests so far.
    pub total_requests: u64,
    /// Failures so far.
    pub total_failures: u64,
    /// Mean response time so far (ms).
    pub total_avg_ms: f64,
}

impl HistoryRow {
    /// True for Locust's totals row (empty type, name `Aggregated`).
    pub fn is_aggregated(&self) -> bool {
        self.method.is_empty() && self.name == crate::AGGREGATED
    }
}

/// Reads every line of Locust's stats history.
pub fn read_history(text: &str) -> Result<Vec<HistoryRow>, CsvError> {
    let (columns, lines) = records(
        text,
        "stats history CSV (Timestamp,User Count,Type,Name,...)",
    )?;
    let (timestamp, users, ty, name, rps, fps, requests, failures, avg) = (
        columns.find("Timestamp")?,
        columns.find("User Count")?,
        columns.find("Type")?,
        columns.find("Name")?,
        columns.find("Requests/s")?,
        columns.find("Failures/s")?,
        columns.find("Total Request Count")?,
        columns.find("Total Failure Count")?,
        columns.find("Total Average Response Time")?,
    );
    let percentiles = columns.percentiles();
    map_lines(&columns, &lines, |line| {
        Ok(HistoryRow {
            line: line.number,
            timestamp: line.count(timestamp)?,
            user_count: line.count(users)?,
            method: line.text(ty).to_owned(),
            name: line.text(name).to_owned(),
            current_rps: line.number(rps)?,
            current_fail_per_sec: line.number(fps)?,
            percentiles: line.percentiles(&percentiles)?,
            total_requests: line.count(requests)?,
            total_failures: line.count(failures)?,
            total_avg_ms: line.number(avg)?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str =
        include_str!("../../loadgen/tests/reference/locust-2.47/run_stats_history.csv");

    #[test]
    fn a_real_locust_history_reads_every_second() {
        let rows = read_history(REFERENCE).unwrap();
        assert_eq!(rows.len(), 15);
        assert!(rows.iter().all(HistoryRow::is_aggregated));
        // The first line, before any request: N/A percentiles are no points.
        assert_eq!((rows[0].timestamp, rows[0].user_count), (1795961039, 0));
        assert!(rows[0].percentiles.is_empty());
        let third = &rows[2];
        assert_eq!(
            (third.user_count, third.total_requests, third.total_failures),
            (40, 83, 7)
        );
        assert_eq!(third.percentiles.first(), Some(&(0.5, 31.0)));
        assert!((third.total_avg_ms - 31.67015295179752).abs() < 1e-12);
        assert_eq!(rows[3].current_rps, 20.0);
        assert!(rows.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    }

    #[test]
    fn a_stats_csv_or_a_bad_cell_is_refused_with_where() {
        let stats = include_str!("../../loadgen/tests/reference/locust-2.47/run_stats.csv");
        let e = read_history(stats).unwrap_err().to_string();
        assert_eq!(e, "line 1: no column \"Timestamp\"; expected Locust's stats history CSV (Timestamp,User Count,Type,Name,...)");
        let bad = REFERENCE.replacen("1795961041,40,", "1795961041,forty,", 1);
        assert_eq!(
            read_history(&bad).unwrap_err().to_string(),
            "line 4, column \"User Count\": \"forty\" is not a number of 0 or more"
        );
    }
}
