//! The check model: every check has a name, what was expected, what was measured, the
//! tolerance that decides between them (derived from the sample size or from a measured
//! overhead, never picked to pass) and a verdict. A [`CheckTable`] prints them in the
//! order they were made.

use std::fmt::Write as _;

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The measurement is inside the tolerance.
    Pass,
    /// It is not: something is broken (or, for a statistical check, a 1-in-budget event).
    Fail,
    /// The check could not be made (no data for it); it says why in `measured`.
    Skip,
}

impl Verdict {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Which family and item, e.g. `latency GET /api/clients p95 vs profile`.
    pub name: String,
    /// What a correct system gives.
    pub expected: String,
    /// What this run gave.
    pub measured: String,
    /// The accepted region and where it comes from.
    pub tolerance: String,
    /// The decision.
    pub verdict: Verdict,
}

impl Check {
    /// A check whose verdict is `ok` (pass) or not (fail).
    pub fn new(
        name: impl Into<String>,
        expected: impl Into<String>,
        measured: impl Into<String>,
        tolerance: impl Into<String>,
        ok: bool,
    ) -> Self {
        Self {
            name: name.into(),
            expected: expected.into(),
            measured: measured.into(),
            tolerance: tolerance.into(),
            verdict: if ok { Verdict::Pass } else { Verdict::Fail },
        }
    }

    /// A check that could not be made, and why.
    pub fn skip(name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            expected: String::new(),
            measured: why.into(),
            tolerance: String::new(),
            verdict: Verdict::Skip,
        }
    }

    /// Whether the check failed.
    pub fn failed(&self) -> bool {
        self.verdict == Verdict::Fail
    }
}

/// Checks in the order they were made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckTable {
    /// The checks.
    pub checks: Vec<Check>,
}

impl CheckTable {
    /// Appends checks.
    pub fn extend(&mut self, checks: impl IntoIterator<Item = Check>) {
        self.checks.extend(checks);
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.failed())
    }

    /// Whether no check failed.
    pub fn all_passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The check with this exact name.
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Counts of (passed, failed, skipped).
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |v| self.checks.iter().filter(|c| c.verdict == v).count();
        (n(Verdict::Pass), n(Verdict::Fail), n(Verdict::Skip))
    }

    /// The table as text, columns sized to their contents.
    pub fn render(&self) -> String {
        let head = ["check", "expected", "measured", "tolerance", "verdict"];
        let rows: Vec<[&str; 5]> = self
            .checks
            .iter()
            .map(|c| {
                [
                    c.name.as_str(),
                    c.expected.as_str(),
                    c.measured.as_str(),
                    c.tolerance.as_str(),
                    c.verdict.label(),
                ]
            })
            .collect();
        let mut width = head.map(str::len);
        for row in &rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[&str; 5]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
                if i > 0 {
                    text.push_str(" | ");
                }
                let _ = write!(text, "{cell:<w$}");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&mut out, &head);
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&rule.join("-|-"));
        out.push('\n');
        for row in &rows {
            line(&mut out, row);
        }
        let (pass, fail, skip) = self.counts();
        let _ = writeln!(out, "\n{pass} passed, {fail} failed, {skip} skipped");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_and_finds_failures() {
        let mut t = CheckTable::default();
        t.extend([
            Check::new("a", "1", "1", "exact", true),
            Check::new("b", "1", "2", "exact", false),
            Check::skip("c", "no data"),
        ]);
        assert_eq!(t.counts(), (1, 1, 1));
        assert!(!t.all_passed());
        assert_eq!(
            t.failures().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        let text = t.render();
        let b_line = text
            .lines()
            .find(|l| l.starts_with("b "))
            .expect("a line for check b");
        assert!(b_line.ends_with("| FAIL"), "{text}");
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped\n"), "{text}");
    }
}
