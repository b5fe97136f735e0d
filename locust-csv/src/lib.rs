//! Locust's statistics CSV files, read into plain rows: `PREFIX_stats.csv` (one row per
//! request name, then `Aggregated`) and `PREFIX_stats_history.csv` (one line a second).
//!
//! Both readers find their columns by header name, so a file with extra or reordered
//! columns still reads; a missing column, a malformed line or a value that is not a
//! number is refused with its line and column. Percentile columns (`50%`, ..., `100%`)
//! are whichever the header has; an empty or `N/A` cell (a row without requests) is no
//! point rather than an error.

mod history;
mod stats;

pub use history::{read_history, HistoryRow};
pub use stats::{read_stats, StatsRow};

/// The name of Locust's totals row.
pub const AGGREGATED: &str = "Aggregated";

/// Why a Locust CSV could not be read: where, and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CsvError {
    /// The header lacks a column the reader needs.
    #[error("line 1: no column {column:?}; expected Locust's {expected}")]
    MissingColumn {
        /// The column's header.
        column: String,
        /// The file that was expected (`stats CSV (Type,Name,Request Count,...)`).
        expected: &'static str,
    },
    /// A line is not well-formed CSV (or has fewer fields than the header).
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// The CSV reader's complaint.
        message: String,
    },
    /// A cell that must hold a number of 0 or more holds something else.
    #[error("line {line}, column {column:?}: {value:?} is not a number of 0 or more")]
    NotANumber {
        /// 1-based line number.
        line: u64,
        /// The column's header.
        column: String,
        /// The cell as written.
        value: String,
    },
}

/// A header read once, to find columns by name and read cells with their position.
struct Columns {
    headers: csv::StringRecord,
    expected: &'static str,
}

impl Columns {
    fn new(reader: &mut csv::Reader<&[u8]>, expected: &'static str) -> Result<Self, CsvError> {
        let headers = reader
            .headers()
            .map_err(|e| malformed(1, &e))?
            .iter()
            .map(str::trim)
            .collect();
        Ok(Self { headers, expected })
    }

    /// The position of the column named `name`.
    fn find(&self, name: &str) -> Result<usize, CsvError> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CsvError::MissingColumn {
                column: name.to_owned(),
                expected: self.expected,
            })
    }

    /// The percentile columns: (fraction 0..=1, position), in header order.
    fn percentiles(&self) -> Vec<(f64, usize)> {
        self.headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let pct = h.strip_suffix('%')?.parse::<f64>().ok()?;
                (0.0..=100.0).contains(&pct).then_some((pct / 100.0, i))
            })
            .collect()
    }
}

/// One data line with its line number, read cell by cell.
struct Line<'a> {
    number: u64,
    record: &'a csv::StringRecord,
    columns: &'a Columns,
}

impl Line<'_> {
    fn text(&self, at: usize) -> &str {
        self.record.get(at).unwrap_or("").trim()
    }

    /// The cell at `at` as a finite number of 0 or more.
    fn number(&self, at: usize) -> Result<f64, CsvError> {
        let value = self.text(at);
        value
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| CsvError::NotANumber {
                line: self.number,
                column: self.columns.headers.get(at).unwrap_or("").to_owned(),
                value: value.to_owned(),
            })
    }

    /// The cell at `at` as a count (a whole number of 0 or more).
    fn count(&self, at: usize) -> Result<u64, CsvError> {
        let value = self.number(at)?;
        if value.fract() == 0.0 && value <= u64::MAX as f64 {
            Ok(value as u64)
        } else {
            Err(CsvError::NotANumber {
                line: self.number,
                column: self.columns.headers.get(at).unwrap_or("").to_owned(),
                value: self.text(at).to_owned(),
            })
        }
    }

    /// The non-empty percentile cells: (fraction, ms).
    fn percentiles(&self, columns: &[(f64, usize)]) -> Result<Vec<(f64, f64)>, CsvError> {
        columns
            .iter()
            .filter(|&&(_, at)| !matches!(self.text(at), "" | "N/A"))
            .map(|&(q, at)| Ok((q, self.number(at)?)))
            .collect()
    }
}

fn malformed(line: u64, e: &csv::Error) -> CsvError {
    CsvError::Malformed {
        line,
        message: e.to_string(),
    }
}

/// Every data line of `lines` read by `row`.
fn map_lines<T>(
    columns: &Columns,
    lines: &[(u64, csv::StringRecord)],
    row: impl Fn(&Line<'_>) -> Result<T, CsvError>,
) -> Result<Vec<T>, CsvError> {
    lines
        .iter()
        .map(|(number, record)| {
            row(&Line {
                number: *number,
                record,
                columns,
            })
        })
        .collect()
}

/// The header and every data line of `text`, each with its 1-based line number.
fn records(
    text: &str,
    expected: &'static str,
) -> Result<(Columns, Vec<(u64, csv::StringRecord)>), CsvError> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let columns = Columns::new(&mut reader, expected)?;
    // One line per record after the header (Locust never writes a newline in a field).
    let records = reader
        .records()
        .zip(2u64..)
        .map(|(record, line)| Ok((line, record.map_err(|e| malformed(line, &e))?)))
        .collect::<Result<_, CsvError>>()?;
    Ok((columns, records))
}
