//! Request templates: strings such as `/api/clients/{1..10}` compiled once, when the
//! scenario is loaded, into literal and generator segments, so that a request is
//! rendered by appending pieces and drawing numbers, never by parsing.
//!
//! Generators (inside `{...}`):
//! - `{1..10}`: an integer drawn uniformly from the inclusive range;
//! - `{0.5..2.5}`: a float drawn uniformly from the range (a bound with a `.` makes it a
//!   float range; Python's `random.uniform`), written as Python writes floats;
//! - `{AAPL|GOOGL|MSFT}`: one of the options, uniformly;
//! - `{today}`, `{today-365d}`, `{today+7d}`: a date relative to today (UTC), `YYYY-MM-DD`;
//! - `{uuid}`: a random (v4) UUID drawn from the user's RNG.
//!
//! `{{` and `}}` stand for literal braces.

use std::fmt::Write as _;

use chrono::{Duration as ChronoDuration, Utc};
use rand::Rng;

/// A template error: what was wrong and where, as a byte offset into the template text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Byte offset into the template string where the problem starts.
    pub offset: usize,
    /// What was found and what was expected.
    pub message: String,
}

/// One value drawn per request.
#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// An integer uniform in `low..=high`.
    IntRange { low: i64, high: i64 },
    /// A float uniform in `low..=high`.
    FloatRange { low: f64, high: f64 },
    /// One of the options, uniformly. `json` holds each option as a JSON string literal.
    Choice {
        options: Vec<String>,
        json: Vec<String>,
        numeric: bool,
    },
    /// Today's date (UTC) shifted by a number of days.
    Date { offset_days: i64 },
    /// A v4 UUID from the user's RNG.
    Uuid,
}

impl Generator {
    /// Appends one drawn value; `json_string` escapes it for a JSON string body.
    fn render(&self, rng: &mut impl Rng, out: &mut String, json_string: bool) {
        match self {
            Self::IntRange { low, high } => {
                let _ = write!(out, "{}", rng.random_range(*low..=*high));
            }
            Self::FloatRange { low, high } => {
                let v = if high > low {
                    rng.random_range(*low..=*high)
                } else {
                    *low
                };
                write_float(out, v);
            }
            Self::Choice { options, json, .. } => {
                let i = rng.random_range(0..options.len());
                if json_string {
                    // The stored literal is quoted; the surrounding quotes are already there.
                    let quoted = &json[i];
                    out.push_str(&quoted[1..quoted.len() - 1]);
                } else {
                    out.push_str(&options[i]);
                }
            }
            Self::Date { offset_days } => {
                let day = Utc::now().date_naive() + ChronoDuration::days(*offset_days);
                let _ = write!(out, "{}", day.format("%Y-%m-%d"));
            }
            Self::Uuid => {
                let bytes: [u8; 16] = rng.random();
                let _ = write!(
                    out,
                    "{}",
                    uuid::Builder::from_random_bytes(bytes).into_uuid()
                );
            }
        }
    }

    /// True when the value is a JSON number on its own (an integer range, a numeric choice).
    fn is_number(&self) -> bool {
        matches!(
            self,
            Self::IntRange { .. } | Self::FloatRange { .. } | Self::Choice { numeric: true, .. }
        )
    }
}

/// A piece of a compiled template.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Text copied as is.
    Literal(String),
    /// A value drawn per request; `json_string` escapes it for a JSON string.
    Generate {
        generator: Generator,
        json_string: bool,
    },
}

/// A compiled template: render it with a user's RNG.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Compiles a template string, reporting the byte offset of the first error.
    pub fn compile(text: &str) -> Result<Self, TemplateError> {
        let mut builder = Builder::default();
        for piece in parse(text)? {
            match piece {
                Piece::Literal(s) => builder.literal(&s),
                Piece::Generator(g) => builder.generate(g, false),
            }
        }
        Ok(builder.finish())
    }

    /// A template with no generators.
    pub fn literal(text: &str) -> Self {
        let mut builder = Builder::default();
        builder.literal(text);
        builder.finish()
    }

    /// Compiles a TOML value into a JSON body template. Strings may hold generators; a
    /// string that is exactly one numeric generator (`"{1..100}"`) becomes a JSON number.
    /// On error, returns the offending string with the error inside it.
    pub fn compile_json(value: &toml::Value) -> Result<Self, (String, TemplateError)> {
        let mut builder = Builder::default();
        json_value(value, &mut builder)?;
        Ok(builder.finish())
    }

    /// Compiles form fields into an `application/x-www-form-urlencoded` body: names and
    /// literal text encoded as Python's `urlencode` encodes them (a space as `+`), the
    /// options of a drawn choice encoded the same way. On error, returns the offending
    /// value with the error inside it.
    pub fn compile_form(fields: &[(String, String)]) -> Result<Self, (String, TemplateError)> {
        let mut b = Builder::default();
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                b.literal("&");
            }
            b.literal(&form_encode(name));
            b.literal("=");
            for piece in parse(value).map_err(|e| (value.clone(), e))? {
                match piece {
                    Piece::Literal(text) => b.literal(&form_encode(&text)),
                    Piece::Generator(Generator::Choice { options, .. }) => {
                        let options: Vec<String> = options.iter().map(|o| form_encode(o)).collect();
                        b.generate(choice(options), false);
                    }
                    // Numbers, dates and UUIDs need no encoding.
                    Piece::Generator(g) => b.generate(g, false),
                }
            }
        }
        Ok(b.finish())
    }

    /// True when the template draws nothing (it renders the same text every time).
    pub fn is_literal(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// Appends one rendering of the template to `out`.
    pub fn render_into(&self, rng: &mut impl Rng, out: &mut String) {
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => out.push_str(s),
                Segment::Generate {
                    generator,
                    json_string,
                } => generator.render(rng, out, *json_string),
            }
        }
    }

    /// Renders the template into a new string.
    pub fn render(&self, rng: &mut impl Rng) -> String {
        let mut out = String::new();
        self.render_into(rng, &mut out);
        out
    }

    /// The template's segments (for inspection and tests).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

/// Accumulates segments, merging adjacent literals.
#[derive(Default)]
struct Builder {
    segments: Vec<Segment>,
}

impl Builder {
    fn literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Segment::Literal(last)) = self.segments.last_mut() {
            last.push_str(text);
        } else {
            self.segments.push(Segment::Literal(text.to_owned()));
        }
    }

    fn generate(&mut self, generator: Generator, json_string: bool) {
        self.segments.push(Segment::Generate {
            generator,
            json_string,
        });
    }

    fn finish(self) -> Template {
        Template {
            segments: self.segments,
        }
    }
}

/// A parsed piece of template text.
enum Piece {
    Literal(String),
    Generator(Generator),
}

/// Splits template text into literals and generators.
fn parse(text: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|&(_, n)| n) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|&(_, n)| n) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '}' => {
                return Err(TemplateError {
                    offset: i,
                    message: "unmatched '}' (write '}}' for a literal brace)".into(),
                })
            }
            '{' => {
                let rest = &text[i + 1..];
                let Some(len) = rest.find('}') else {
                    return Err(TemplateError {
                        offset: i,
                        message: "unclosed '{': expected a generator such as {1..10}, {A|B}, {today-365d} or {uuid} ending with '}'".into(),
                    });
                };
                let inner = &rest[..len];
                let generator = parse_generator(inner)
                    .map_err(|message| TemplateError { offset: i, message })?;
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Generator(generator));
                // Skip the generator's text and its closing brace.
                while let Some(&(j, _)) = chars.peek() {
                    if j > i + len + 1 {
                        break;
                    }
                    chars.next();
                }
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// Parses the text between braces into a generator.
fn parse_generator(inner: &str) -> Result<Generator, String> {
    let s = inner.trim();
    if s == "uuid" {
        return Ok(Generator::Uuid);
    }
    if let Some(rest) = s.strip_prefix("today") {
        return parse_date_offset(rest.trim()).map(|offset_days| Generator::Date { offset_days });
    }
    if let Some((low, high)) = s.split_once("..") {
        if low.contains('.') || high.contains('.') {
            return parse_float_range(inner, low, high);
        }
        let parse = |v: &str| {
            v.trim().parse::<i64>().map_err(|_| {
                format!("bad integer range {{{inner}}}: expected {{LOW..HIGH}} with integers, e.g. {{1..10}}")
            })
        };
        let (low, high) = (parse(low)?, parse(high)?);
        if low > high {
            return Err(format!(
                "bad integer range {{{inner}}}: low {low} is above high {high}"
            ));
        }
        return Ok(Generator::IntRange { low, high });
    }
    if s.contains('|') {
        let options: Vec<String> = s.split('|').map(|o| o.trim().to_owned()).collect();
        if options.iter().any(String::is_empty) {
            return Err(format!("bad choice {{{inner}}}: an option is empty"));
        }
        return Ok(choice(options));
    }
    Err(format!(
        "unknown generator {{{inner}}}: expected {{LOW..HIGH}}, {{A|B|C}}, {{today}}, {{today-365d}}, {{today+7d}} or {{uuid}}"
    ))
}

/// Parses `{0.5..2.5}`: finite bounds, the lower first.
fn parse_float_range(inner: &str, low: &str, high: &str) -> Result<Generator, String> {
    let parse = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| {
                format!("bad float range {{{inner}}}: expected {{LOW..HIGH}} with numbers, e.g. {{0.5..2.5}}")
            })
    };
    let (low, high) = (parse(low)?, parse(high)?);
    if low > high {
        return Err(format!(
            "bad float range {{{inner}}}: low {low} is above high {high}"
        ));
    }
    Ok(Generator::FloatRange { low, high })
}

/// Writes a float as Python's `str` does for ordinary magnitudes (`1.0`, `0.25`).
fn write_float(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        let _ = write!(out, "{v:.1}");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Encodes form text as Python's `quote_plus`: unreserved characters as they are, a
/// space as `+`, every other byte percent-encoded.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A choice generator over these options.
fn choice(options: Vec<String>) -> Generator {
    let json = options
        .iter()
        .map(|o| serde_json::Value::String(o.clone()).to_string())
        .collect();
    let numeric = options.iter().all(|o| o.parse::<i64>().is_ok());
    Generator::Choice {
        options,
        json,
        numeric,
    }
}

/// Parses `""`, `-365d` or `+7d` after `today`.
fn parse_date_offset(rest: &str) -> Result<i64, String> {
    if rest.is_empty() {
        return Ok(0);
    }
    let bad =
        || format!("bad date {{today{rest}}}: expected {{today}}, {{today-Nd}} or {{today+Nd}}");
    let (sign, num) = match rest.as_bytes()[0] {
        b'-' => (-1, &rest[1..]),
        b'+' => (1, &rest[1..]),
        _ => return Err(bad()),
    };
    let days = num.trim().strip_suffix('d').ok_or_else(bad)?;
    let days: i64 = days.trim().parse().map_err(|_| bad())?;
    if days > 1_000_000 {
        return Err(bad());
    }
    Ok(sign * days)
}

/// Emits a TOML value as JSON into the builder.
fn json_value(value: &toml::Value, b: &mut Builder) -> Result<(), (String, TemplateError)> {
    match value {
        toml::Value::String(s) => {
            let pieces = parse(s).map_err(|e| (s.clone(), e))?;
            if let [Piece::Generator(g)] = pieces.as_slice() {
                if g.is_number() {
                    b.generate(g.clone(), false);
                    return Ok(());
                }
            }
            b.literal("\"");
            for piece in pieces {
                match piece {
                    Piece::Literal(text) => {
                        let quoted = serde_json::Value::String(text).to_string();
                        b.literal(&quoted[1..quoted.len() - 1]);
                    }
                    Piece::Generator(g) => b.generate(g, true),
                }
            }
            b.literal("\"");
        }
        toml::Value::Integer(i) => b.literal(&i.to_string()),
        toml::Value::Float(f) => {
            let v = serde_json::Number::from_f64(*f)
                .map_or_else(|| "null".to_owned(), |n| n.to_string());
            b.literal(&v);
        }
        toml::Value::Boolean(v) => b.literal(if *v { "true" } else { "false" }),
        toml::Value::Datetime(d) => {
            b.literal(&serde_json::Value::String(d.to_string()).to_string())
        }
        toml::Value::Array(items) => {
            b.literal("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    b.literal(",");
                }
                json_value(item, b)?;
            }
            b.literal("]");
        }
        toml::Value::Table(table) => {
            b.literal("{");
            for (i, (key, item)) in table.iter().enumerate() {
                if i > 0 {
                    b.literal(",");
                }
                b.literal(&serde_json::Value::String(key.clone()).to_string());
                b.literal(":");
                json_value(item, b)?;
            }
            b.literal("}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, SeedableRng};

    #[test]
    fn literal_and_escapes() {
        let t = Template::compile("/a/{{b}}/c").unwrap();
        assert!(t.is_literal());
        assert_eq!(t.render(&mut SmallRng::seed_from_u64(1)), "/a/{b}/c");
    }

    #[test]
    fn int_range_stays_inside_and_covers_both_ends() {
        let t = Template::compile("/api/clients/{1..3}").unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut seen = [false; 3];
        for _ in 0..200 {
            let s = t.render(&mut rng);
            let n: usize = s.rsplit('/').next().unwrap().parse().unwrap();
            assert!((1..=3).contains(&n), "{s}");
            seen[n - 1] = true;
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn choice_date_and_uuid() {
        let t = Template::compile("?t={AAPL|MSFT}&s={today-365d}&e={today}&id={uuid}").unwrap();
        let s = t.render(&mut SmallRng::seed_from_u64(3));
        let today = Utc::now().date_naive();
        let year_ago = today - ChronoDuration::days(365);
        assert!(
            s.starts_with("?t=AAPL&") || s.starts_with("?t=MSFT&"),
            "{s}"
        );
        assert!(s.contains(&format!("&s={year_ago}&e={today}&")), "{s}");
        let id = s.rsplit('=').next().unwrap();
        assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
    }

    #[test]
    fn float_ranges_stay_inside_and_read_as_python_floats() {
        let t = Template::compile("/p?x={0.5..2.5}").unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        for _ in 0..200 {
            let s = t.render(&mut rng);
            let v: f64 = s.rsplit('=').next().unwrap().parse().unwrap();
            assert!((0.5..=2.5).contains(&v), "{s}");
        }
        let fixed = Template::compile("{2.0..2.0}").unwrap();
        assert_eq!(fixed.render(&mut rng), "2.0");
        let body: toml::Value = toml::from_str("price = \"{1.5..3}\"").unwrap();
        let b = Template::compile_json(&body).unwrap().render(&mut rng);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert!(v["price"].is_f64(), "{b}");
        assert!(Template::compile("{2.5..1.0}").is_err());
        assert!(Template::compile("{a.b..1}").is_err());
    }

    #[test]
    fn form_bodies_are_encoded_as_python_encodes_them() {
        let fields = [
            ("user name".to_owned(), "a&b {1..3}".to_owned()),
            ("side".to_owned(), "{buy now|sell}".to_owned()),
        ];
        let t = Template::compile_form(&fields).unwrap();
        let mut rng = SmallRng::seed_from_u64(4);
        for _ in 0..50 {
            let s = t.render(&mut rng);
            let (first, side) = s.split_once("&side=").unwrap();
            let n: u32 = first
                .strip_prefix("user+name=a%26b+")
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=3).contains(&n), "{s}");
            assert!(side == "buy+now" || side == "sell", "{s}");
        }
        assert!(Template::compile_form(&[("a".into(), "{nope}".into())]).is_err());
    }

    #[test]
    fn errors_point_at_the_brace() {
        for (text, offset, needle) in [
            ("/a/{1..", 3, "unclosed"),
            ("/a/}", 3, "unmatched"),
            ("/x/{5..1}", 3, "above high"),
            ("/x/{a..b}", 3, "integer range"),
            ("/{nope}", 1, "unknown generator"),
            ("/{A||B}", 1, "empty"),
            ("/{today-3w}", 1, "bad date"),
        ] {
            let e = Template::compile(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn json_body_types_follow_generators() {
        let value: toml::Value = toml::from_str(
            r#"client_id = "{1..10}"
ticker = "{AAPL|GO\"OG}"
lookback = "{30|60}"
note = "id-{1..9}"
order_type = "market"
flag = true
list = [1, 2.5]"#,
        )
        .unwrap();
        let t = Template::compile_json(&value).unwrap();
        let mut rng = SmallRng::seed_from_u64(11);
        for _ in 0..50 {
            let body = t.render(&mut rng);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(
                v["client_id"]
                    .as_i64()
                    .is_some_and(|n| (1..=10).contains(&n)),
                "{body}"
            );
            assert!(
                ["AAPL", "GO\"OG"].contains(&v["ticker"].as_str().unwrap()),
                "{body}"
            );
            assert!(
                [30, 60].contains(&v["lookback"].as_i64().unwrap()),
                "{body}"
            );
            assert!(v["note"].as_str().unwrap().starts_with("id-"), "{body}");
            assert_eq!(v["order_type"], "market");
            assert_eq!(v["flag"], true);
            assert_eq!(v["list"][1], 2.5);
        }
    }

    #[test]
    fn json_body_error_names_the_string() {
        let value: toml::Value = toml::from_str(r#"x = "{1..}""#).unwrap();
        let (s, e) = Template::compile_json(&value).unwrap_err();
        assert_eq!(s, "{1..}");
        assert_eq!(e.offset, 0);
    }
}
