//! The threshold expression parser: `METRIC OP NUMBER`, as k6 writes thresholds.
//!
//! ```text
//! expression := metric op number
//! metric     := avg | min | max | med | count | failures | fail_ratio | rps | fail_rps
//!             | p( number )                      0 <= number <= 100
//! op         := < | <= | > | >= | == | !=
//! number     := [+-] digits [. digits] [e [+-] digits]
//! ```
//!
//! Spaces are allowed between tokens. Times are in milliseconds, `fail_ratio` is a ratio
//! (0.05 is 5%), rates are per second. Errors name the 1-based column (in characters) of
//! the offending token and what was expected there.

use std::fmt;

/// A malformed expression: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct CriteriaError {
    /// 1-based column, in characters, of the offending token.
    pub column: usize,
    /// What was expected there.
    pub expected: String,
    /// What was found (quoted), or `end of expression`.
    pub found: String,
}

/// What a criterion measures on a row.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum CriterionMetric {
    /// Mean response time, ms.
    Avg,
    /// Minimum response time, ms.
    Min,
    /// Maximum response time, ms.
    Max,
    /// Median response time, ms.
    Med,
    /// Response time percentile, ms; the number is in percent (`p(99.9)`).
    Percentile(f64),
    /// Number of requests.
    Count,
    /// Number of failed requests.
    Failures,
    /// Failures divided by requests.
    FailRatio,
    /// Whole-run requests per second.
    Rps,
    /// Whole-run failures per second.
    FailRps,
}

/// The names accepted for a metric, for error messages.
const METRIC_NAMES: &str =
    "a metric (avg, min, max, med, p(N), count, failures, fail_ratio, rps, fail_rps)";

impl CriterionMetric {
    /// True for the metrics measured from response times (avg, min, max, med, p(N)).
    pub fn is_response_time(self) -> bool {
        matches!(
            self,
            Self::Avg | Self::Min | Self::Max | Self::Med | Self::Percentile(_)
        )
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "med" => Self::Med,
            "count" => Self::Count,
            "failures" => Self::Failures,
            "fail_ratio" => Self::FailRatio,
            "rps" => Self::Rps,
            "fail_rps" => Self::FailRps,
            _ => return None,
        })
    }
}

impl fmt::Display for CriterionMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Avg => f.write_str("avg"),
            Self::Min => f.write_str("min"),
            Self::Max => f.write_str("max"),
            Self::Med => f.write_str("med"),
            Self::Percentile(p) => write!(f, "p({p})"),
            Self::Count => f.write_str("count"),
            Self::Failures => f.write_str("failures"),
            Self::FailRatio => f.write_str("fail_ratio"),
            Self::Rps => f.write_str("rps"),
            Self::FailRps => f.write_str("fail_rps"),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// True when `value OP threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// How a value that keeps `value OP threshold` stands against the threshold, in
    /// words (`at most` for `<=`).
    pub fn held_words(self) -> &'static str {
        match self {
            Op::Lt => "under",
            Op::Le => "at most",
            Op::Gt => "over",
            Op::Ge => "at least",
            Op::Eq => "equal to",
            Op::Ne => "not equal to",
        }
    }

    /// How a value that breaks `value OP threshold` stands against the threshold, in
    /// words ("over", as the platform's locustfile says for `<=`).
    pub fn breach_words(self) -> &'static str {
        match self {
            Op::Lt => "at or over",
            Op::Le => "over",
            Op::Gt => "at or under",
            Op::Ge => "under",
            Op::Eq => "not equal to",
            Op::Ne => "equal to",
        }
    }
}

/// One parsed threshold: `p(95) < 5000`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Criterion {
    /// What is measured.
    pub metric: CriterionMetric,
    /// How it is compared.
    pub op: Op,
    /// What it is compared with.
    pub threshold: f64,
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op.symbol(), self.threshold)
    }
}

impl Criterion {
    /// Parses `METRIC OP NUMBER`; a malformed expression is refused with its column.
    pub fn parse(text: &str) -> Result<Self, CriteriaError> {
        let mut p = Parser::new(text);
        let metric = p.metric()?;
        let op = p.op()?;
        let threshold = p.number("a number")?;
        p.end()?;
        Ok(Self {
            metric,
            op,
            threshold,
        })
    }
}

/// A cursor over the expression's characters (also reads `loadgen compare --fail-if`).
pub(crate) struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn skip_spaces(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// An error at `at` (0-based) naming the token found there.
    fn error_at(&self, at: usize, expected: &str) -> CriteriaError {
        let found = if at >= self.chars.len() {
            "end of expression".to_owned()
        } else {
            let token: String = self.chars[at..]
                .iter()
                .take_while(|c| !c.is_whitespace())
                .take(20)
                .collect();
            format!("{token:?}")
        };
        CriteriaError {
            column: at + 1,
            expected: expected.to_owned(),
            found,
        }
    }

    pub(crate) fn metric(&mut self) -> Result<CriterionMetric, CriteriaError> {
        self.skip_spaces();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if name == "p" {
            return self.percentile();
        }
        CriterionMetric::from_name(&name).ok_or_else(|| self.error_at(start, METRIC_NAMES))
    }

    fn percentile(&mut self) -> Result<CriterionMetric, CriteriaError> {
        self.skip_spaces();
        if self.peek() != Some('(') {
            return Err(self.error_at(self.pos, "\"(\" after p, as in p(95)"));
        }
        self.pos += 1;
        self.skip_spaces();
        let at = self.pos;
        let p = self.number("a percentile from 0 to 100")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(CriteriaError {
                column: at + 1,
                expected: "a percentile from 0 to 100".into(),
                found: format!("{p}"),
            });
        }
        self.skip_spaces();
        if self.peek() != Some(')') {
            return Err(self.error_at(self.pos, "\")\" closing p(...)"));
        }
        self.pos += 1;
        Ok(CriterionMetric::Percentile(p))
    }

    pub(crate) fn op(&mut self) -> Result<Op, CriteriaError> {
        self.skip_spaces();
        let at = self.pos;
        let next = self.chars.get(at + 1).copied();
        let (op, len) = match (self.peek(), next) {
            (Some('<'), Some('=')) => (Op::Le, 2),
            (Some('>'), Some('=')) => (Op::Ge, 2),
            (Some('='), Some('=')) => (Op::Eq, 2),
            (Some('!'), Some('=')) => (Op::Ne, 2),
            (Some('<'), _) => (Op::Lt, 1),
            (Some('>'), _) => (Op::Gt, 1),
            _ => {
                return Err(self.error_at(at, "an operator (<, <=, >, >=, ==, !=)"));
            }
        };
        self.pos += len;
        Ok(op)
    }

    /// A decimal number, optionally signed, with an optional fraction and exponent.
    pub(crate) fn number(&mut self, expected: &str) -> Result<f64, CriteriaError> {
        self.skip_spaces();
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > from
        };
        if matches!(self.peek(), Some('+' | '-')) {
            self.pos += 1;
        }
        let mut any = digits(self);
        if self.peek() == Some('.') {
            self.pos += 1;
            any |= digits(self);
        }
        if !any {
            self.pos = start;
            return Err(self.error_at(start, expected));
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error_at(mark, expected));
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.error_at(start, expected)),
        }
    }

    /// One of `words` next (after spaces), for a unit after a number (`10%`).
    pub(crate) fn one_of(
        &mut self,
        words: &[&'static str],
        expected: &str,
    ) -> Result<&'static str, CriteriaError> {
        self.skip_spaces();
        let rest: String = self.chars[self.pos..].iter().collect();
        match words.iter().find(|w| rest.starts_with(*w)) {
            Some(w) => {
                self.pos += w.chars().count();
                Ok(w)
            }
            None => Err(self.error_at(self.pos, expected)),
        }
    }

    pub(crate) fn end(&mut self) -> Result<(), CriteriaError> {
        self.skip_spaces();
        if self.pos < self.chars.len() {
            return Err(self.error_at(self.pos, "end of expression"));
        }
        Ok(())
    }
}
