//! `--fail-if` thresholds on a change between two runs, in the criteria's syntax with a
//! signed change and its unit for the number:
//!
//! ```text
//! fail-if := metric op change
//! metric  := avg | med | p( number ) | pNUMBER | fail_ratio
//! change  := [+-] number ( % | ms | pp )
//! ```
//!
//! `%` is relative to the baseline (`p95 > +10%`), `ms` an absolute change of a time
//! (`avg > +50ms`), `pp` percentage points of the failure ratio (`fail_ratio > +1pp`).
//! A threshold is breached only when the change crosses it *and* is significant.

use std::fmt;

use super::Measure;
use crate::verdict::criteria::{CriteriaError, CriterionMetric, Op, Parser};

/// The unit of a threshold's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeUnit {
    /// Relative to the baseline, in percent.
    Percent,
    /// Milliseconds.
    Millis,
    /// Percentage points (of a failure ratio).
    Points,
}

impl ChangeUnit {
    fn suffix(self) -> &'static str {
        match self {
            Self::Percent => "%",
            Self::Millis => "ms",
            Self::Points => "pp",
        }
    }
}

/// One `--fail-if` threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct FailIf {
    /// What changed.
    pub measure: Measure,
    /// How the change is compared.
    pub op: Op,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// Its unit.
    pub unit: ChangeUnit,
}

impl fmt::Display for FailIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:+}{}",
            self.measure,
            self.op.symbol(),
            self.threshold,
            self.unit.suffix()
        )
    }
}

impl FailIf {
    /// Parses `p95 > +10%`; a malformed threshold is refused with its column.
    pub fn parse(text: &str) -> Result<Self, CriteriaError> {
        // `p95` is read as `p(95)`, as the tables name the columns; the criteria parser
        // reads the rest from a shifted column.
        let lead = text.len() - text.trim_start().len();
        let rest = &text[lead..];
        let shorthand: String = rest
            .strip_prefix('p')
            .map(|r| {
                r.chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect()
            })
            .unwrap_or_default();
        let (metric, mut parser, offset) = if shorthand.is_empty() {
            let mut p = Parser::new(text);
            (p.metric()?, p, 0)
        } else {
            let q: f64 = shorthand
                .parse()
                .ok()
                .filter(|q| (0.0..=100.0).contains(q))
                .ok_or_else(|| CriteriaError {
                    column: lead + 2,
                    expected: "a percentile from 0 to 100".into(),
                    found: format!("{shorthand:?}"),
                })?;
            let skip = lead + 1 + shorthand.len();
            (
                CriterionMetric::Percentile(q),
                Parser::new(&text[skip..]),
                text[..skip].chars().count(),
            )
        };
        let shift = |mut e: CriteriaError| {
            e.column += offset;
            e
        };
        let measure = Measure::of(metric).ok_or_else(|| CriteriaError {
            column: lead + 1,
            expected: "a compared metric (avg, med, p(N) or pN, fail_ratio)".into(),
            found: format!("{metric}"),
        })?;
        let op = parser.op().map_err(shift)?;
        let threshold = parser
            .number("a signed change such as +10%")
            .map_err(shift)?;
        let suffix = parser
            .one_of(&["%", "ms", "pp"], "a unit: % (relative), ms or pp")
            .map_err(shift)?;
        let unit = match suffix {
            "%" => ChangeUnit::Percent,
            "ms" => ChangeUnit::Millis,
            _ => ChangeUnit::Points,
        };
        parser.end().map_err(shift)?;
        let fits = match unit {
            ChangeUnit::Percent => true,
            ChangeUnit::Millis => measure != Measure::FailRatio,
            ChangeUnit::Points => measure == Measure::FailRatio,
        };
        if !fits {
            return Err(CriteriaError {
                column: text.chars().count(),
                expected: format!(
                    "a unit for {measure}: {}",
                    if measure == Measure::FailRatio {
                        "% (relative) or pp (percentage points)"
                    } else {
                        "% (relative) or ms"
                    }
                ),
                found: format!("{:?}", unit.suffix()),
            });
        }
        Ok(Self {
            measure,
            op,
            threshold,
            unit,
        })
    }

    /// Whether a change from `baseline` to `current` crosses the threshold.
    pub fn crossed(&self, baseline: f64, current: f64) -> bool {
        let change = match self.unit {
            ChangeUnit::Percent if baseline > 0.0 => (current - baseline) / baseline * 100.0,
            // From nothing, any rise is an infinite relative change.
            ChangeUnit::Percent => match current.partial_cmp(&baseline) {
                Some(std::cmp::Ordering::Greater) => f64::INFINITY,
                Some(std::cmp::Ordering::Less) => f64::NEG_INFINITY,
                _ => 0.0,
            },
            ChangeUnit::Millis => current - baseline,
            ChangeUnit::Points => (current - baseline) * 100.0,
        };
        self.op.holds(change, self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_in_each_unit() {
        let t = FailIf::parse("p95 > +10%").unwrap();
        assert_eq!(
            (t.measure, t.op, t.threshold, t.unit),
            (Measure::Percentile(0.95), Op::Gt, 10.0, ChangeUnit::Percent)
        );
        assert_eq!(t.to_string(), "p95 > +10%");
        let t = FailIf::parse(" fail_ratio >= 1pp").unwrap();
        assert_eq!(
            (t.measure, t.unit),
            (Measure::FailRatio, ChangeUnit::Points)
        );
        assert_eq!(
            FailIf::parse("p(99.9) > 50ms").unwrap().measure,
            Measure::Percentile(0.999)
        );
        assert_eq!(
            FailIf::parse("med > 5%").unwrap().measure,
            Measure::Percentile(0.5)
        );
        assert_eq!(FailIf::parse("avg < -20ms").unwrap().threshold, -20.0);
    }

    #[test]
    fn bad_thresholds_say_where_and_what_was_expected() {
        for (text, column, expected) in [
            ("p95 > 10", 9, "a unit"),
            ("p95 >> 10%", 6, "a signed change"),
            ("p95 10%", 5, "an operator"),
            ("rps > 10%", 1, "a compared metric"),
            ("p101 > 1%", 2, "from 0 to 100"),
            ("fail_ratio > 5ms", 16, "pp (percentage points)"),
            ("avg > 5pp", 9, "% (relative) or ms"),
            ("p95 > 10% x", 11, "end of expression"),
        ] {
            let e = FailIf::parse(text).expect_err(text);
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.expected.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn crossing_is_judged_in_the_thresholds_unit() {
        let rel = FailIf::parse("p95 > +10%").unwrap();
        assert!(rel.crossed(100.0, 110.5) && !rel.crossed(100.0, 110.0));
        assert!(rel.crossed(0.0, 1.0));
        let pp = FailIf::parse("fail_ratio > +1pp").unwrap();
        assert!(pp.crossed(0.02, 0.0301) && !pp.crossed(0.02, 0.029));
        let ms = FailIf::parse("avg > +50ms").unwrap();
        assert!(ms.crossed(1000.0, 1051.0) && !ms.crossed(1000.0, 1049.0));
    }
}
