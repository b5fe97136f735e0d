//! The check model: every check has a name, what was expected, what was measured, the
//! tolerance that decides between them (derived from the sample size or from a measured
//! overhead, never picked to pass) and a verdict. A [`CheckTable`] prints them in the
//! order they were made.
//!
//! A skipped check is its own outcome: it is neither a pass nor a failure, so a table
//! with a skip has not "all passed" (a claim that could not be checked was not shown),
//! and a negative control that expects a failure must see [`Verdict::Fail`], not merely
//! something other than a pass.

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
    /// Lines printed after the checks, before the counts (how the budget was split).
    pub notes: Vec<String>,
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

    /// The skipped checks.
    pub fn skipped(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.verdict == Verdict::Skip)
    }

    /// Whether there are checks and every one passed: a failed or a skipped check
    /// (one that could not be made) makes this false.
    pub fn all_passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.verdict == Verdict::Pass)
    }

    /// The last line of a run's report: every check passed, which failed, or which
    /// could not be made.
    pub fn verdict_line(&self, title: &str) -> String {
        let names = |it: &mut dyn Iterator<Item = &Check>| {
            it.map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
        };
        if self.all_passed() {
            format!("harness {title}: every check passed")
        } else if self.failures().next().is_some() {
            format!("harness {title}: FAILED: {}", names(&mut self.failures()))
        } else if self.checks.is_empty() {
            format!("harness {title}: NOT CONFIRMED: no check was made")
        } else {
            format!(
                "harness {title}: NOT CONFIRMED: no check failed, but these could not be made: {}",
                names(&mut self.skipped())
            )
        }
    }

    /// The program's exit code for this table: 0 when every check passed, 1 when any
    /// failed or could not be made.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.all_passed())
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

    /// The table as text for a 120-column terminal: each check's verdict first, then its
    /// name, with what was expected, measured and tolerated wrapped beneath it; the
    /// counts last.
    pub fn render(&self) -> String {
        self.render_where(|_| true)
    }

    /// The failed and skipped checks alone, rendered as [`Self::render`] does, with the
    /// counts: a failure message short enough to survive a truncated log.
    pub fn render_unpassed(&self) -> String {
        self.render_where(|c| c.verdict != Verdict::Pass)
    }

    fn render_where(&self, shown: impl Fn(&Check) -> bool) -> String {
        let mut out = String::new();
        for c in self.checks.iter().filter(|c| shown(c)) {
            let _ = writeln!(out, "{:<4}  {}", c.verdict.label(), c.name);
            let details = format!(
                "expected {}; measured {}; tolerance {}",
                c.expected, c.measured, c.tolerance
            );
            for line in wrap(&details, RENDER_WIDTH - DETAIL_INDENT.len()) {
                let _ = writeln!(out, "{DETAIL_INDENT}{line}");
            }
        }
        for note in &self.notes {
            out.push('\n');
            for line in wrap(note, RENDER_WIDTH) {
                let _ = writeln!(out, "{line}");
            }
        }
        let (pass, fail, skip) = self.counts();
        let _ = writeln!(out, "\n{pass} passed, {fail} failed, {skip} skipped");
        out
    }
}

/// The width [`CheckTable::render`] fits.
pub const RENDER_WIDTH: usize = 120;
/// The indent of a check's details under its verdict and name.
const DETAIL_INDENT: &str = "      ";

/// Breaks `text` into lines of at most `width` characters at spaces (a word longer than
/// the width gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if !line.is_empty() && !fits {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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
        assert_eq!(t.exit_code(), 1);
        assert_eq!(t.verdict_line("guide"), "harness guide: FAILED: b");
        assert_eq!(
            t.failures().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        let text = t.render();
        assert!(
            text.starts_with("PASS  a\n      expected 1; measured 1; tolerance exact\nFAIL  b\n"),
            "{text}"
        );
        assert!(text.contains("\nSKIP  c\n"), "{text}");
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped\n"), "{text}");
        let unpassed = t.render_unpassed();
        assert!(unpassed.starts_with("FAIL  b\n"), "{unpassed}");
        assert!(unpassed.contains("\nSKIP  c\n"), "{unpassed}");
        assert!(!unpassed.contains("PASS"), "{unpassed}");
        assert!(
            unpassed.ends_with("1 passed, 1 failed, 1 skipped\n"),
            "{unpassed}"
        );
    }

    /// A skip is not a pass: a table whose only non-pass is a skip has not all passed,
    /// and says which check could not be made.
    #[test]
    fn a_skip_is_neither_a_pass_nor_a_failure() {
        let mut t = CheckTable::default();
        assert!(!t.all_passed(), "an empty table confirms nothing");
        t.extend([Check::new("a", "1", "1", "exact", true)]);
        assert!(t.all_passed());
        assert_eq!(t.exit_code(), 0);
        assert_eq!(t.verdict_line("guide"), "harness guide: every check passed");
        t.extend([Check::skip("c", "no data")]);
        assert!(!t.all_passed());
        assert_eq!(t.failures().count(), 0);
        assert_eq!(t.exit_code(), 1);
        assert_eq!(
            t.verdict_line("guide"),
            "harness guide: NOT CONFIRMED: no check failed, but these could not be made: c"
        );
    }

    /// Long details wrap beneath the check at 120 columns, every word kept.
    #[test]
    fn rows_fit_120_columns() {
        let long = "a 95% band from the order statistics ".repeat(12);
        let mut t = CheckTable::default();
        t.extend([Check::new(
            "trade p95 vs profile",
            &long,
            "4001 ms",
            &long,
            true,
        )]);
        let text = t.render();
        assert!(
            text.lines().all(|l| l.chars().count() <= RENDER_WIDTH),
            "{text}"
        );
        assert!(text.lines().count() > 4, "{text}");
        let words = |s: &str| s.split_whitespace().count();
        assert_eq!(
            words(&text),
            words(&format!(
                "PASS trade p95 vs profile expected {long}; measured 4001 ms; tolerance {long}"
            )) + words("1 passed, 0 failed, 0 skipped")
        );
    }
}
