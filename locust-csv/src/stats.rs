//! `PREFIX_stats.csv`: one row per (method, name), then the `Aggregated` row, each with
//! its whole-run counts, times and percentile columns.

use crate::{map_lines, records, CsvError};

/// One row of Locust's stats CSV. Times are milliseconds as Locust wrote them (its
/// percentiles rounded to its response-time buckets, its average, minimum and maximum
/// exact).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRow {
    /// 1-based line in the file.
    pub line: u64,
    /// `GET`, ...; empty for the Aggregated row.
    pub method: String,
    /// Request name (`/api/clients/[id]`), or `Aggregated`.
    pub name: String,
    /// Requests, failures included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Mean response time.
    pub avg_ms: f64,
    /// Fastest response.
    pub min_ms: f64,
    /// Slowest response.
    pub max_ms: f64,
    /// (fraction 0..=1, ms) of each non-empty percentile column, in the header's order;
    /// empty for a row without requests.
    pub percentiles: Vec<(f64, f64)>,
}

impl StatsRow {
    /// True for Locust's totals row (empty type, name `Aggregated`).
    pub fn is_aggregated(&self) -> bool {
        self.method.is_empty() && self.name == crate::AGGREGATED
    }

    /// The value of the percentile column for fraction `q` (0.95 for `95%`), if present.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        self.percentiles
            .iter()
            .find(|(p, _)| (p - q).abs() < 1e-9)
            .map(|&(_, v)| v)
    }
}

/// Reads every row of Locust's stats CSV, the Aggregated row included.
pub fn read_stats(text: &str) -> Result<Vec<StatsRow>, CsvError> {
    let (columns, lines) = records(text, "stats CSV (Type,Name,Request Count,...)")?;
    let (ty, name, count, fails, avg, min, max) = (
        columns.find("Type")?,
        columns.find("Name")?,
        columns.find("Request Count")?,
        columns.find("Failure Count")?,
        columns.find("Average Response Time")?,
        columns.find("Min Response Time")?,
        columns.find("Max Response Time")?,
    );
    let percentiles = columns.percentiles();
    map_lines(&columns, &lines, |line| {
        let requests = line.count(count)?;
        Ok(StatsRow {
            line: line.number,
            method: line.text(ty).to_owned(),
            name: line.text(name).to_owned(),
            requests,
            failures: line.count(fails)?,
            avg_ms: line.number(avg)?,
            min_ms: line.number(min)?,
            max_ms: line.number(max)?,
            percentiles: if requests == 0 {
                Vec::new()
            } else {
                line.percentiles(&percentiles)?
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../../loadgen/tests/reference/locust-2.47/run_stats.csv");

    #[test]
    fn a_real_locust_file_reads_every_row_with_its_columns() {
        let rows = read_stats(REFERENCE).unwrap();
        assert_eq!(rows.len(), 10);
        let agg = rows.last().unwrap();
        assert!(agg.is_aggregated());
        assert_eq!((agg.requests, agg.failures), (486, 46));
        let first = &rows[0];
        assert_eq!(
            (first.method.as_str(), first.name.as_str()),
            ("GET", "/api/clients")
        );
        assert_eq!((first.requests, first.failures, first.line), (27, 2, 2));
        assert_eq!(first.percentiles.len(), 11);
        assert_eq!(first.percentile(0.5), Some(29.0));
        assert_eq!(first.percentile(0.9999), Some(39.0));
        assert!((first.avg_ms - 29.02076125922206).abs() < 1e-12);
        assert!(!first.is_aggregated());
    }

    #[test]
    fn a_row_without_requests_has_no_percentiles_and_na_is_no_point() {
        let text = "Type,Name,Request Count,Failure Count,Average Response Time,Min Response Time,Max Response Time,50%,100%\n\
                    GET,/a,0,0,0,0,0,N/A,N/A\n\
                    GET,/b,3,0,5,1,9,,9\n";
        let rows = read_stats(text).unwrap();
        assert!(rows[0].percentiles.is_empty());
        assert_eq!(rows[1].percentiles, vec![(1.0, 9.0)]);
    }

    #[test]
    fn bad_files_are_refused_with_line_column_and_what_was_expected() {
        let bad = REFERENCE.replacen(",27,2,", ",lots,2,", 1);
        assert_eq!(
            read_stats(&bad).unwrap_err().to_string(),
            "line 2, column \"Request Count\": \"lots\" is not a number of 0 or more"
        );
        let negative = REFERENCE.replacen(",27,2,", ",27,-2,", 1);
        assert!(matches!(
            read_stats(&negative).unwrap_err(),
            CsvError::NotANumber { line: 2, ref column, .. } if column == "Failure Count"
        ));
        let fractional = REFERENCE.replacen(",27,2,", ",27.5,2,", 1);
        assert!(read_stats(&fractional).is_err());
        let e = read_stats("a,b\n1,2\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "line 1: no column \"Type\"; expected Locust's stats CSV (Type,Name,Request Count,...)"
        );
        let short = format!(
            "{}GET,/x,1\n",
            REFERENCE.lines().next().unwrap().to_owned() + "\n"
        );
        assert!(matches!(
            read_stats(&short).unwrap_err(),
            CsvError::Malformed { line: 2, .. }
        ));
    }
}
