//! `--stages` and `--arrival-stages` as written on the command line
//! (`30s:50:5,2m:500:100`), read with the column of any bad part for the error.

use std::time::Duration;

use crate::plan::arrival::RateStage;
use crate::plan::load::Stage;

/// A `--stages` or `--arrival-stages` value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} column {column}: {message} in {text:?} (expected {expected},...)")]
pub struct StagesError {
    /// The flag.
    pub flag: &'static str,
    /// The whole value.
    pub text: String,
    /// 1-based column, in characters, where the bad part starts.
    pub column: usize,
    /// What was wrong.
    pub message: String,
    /// The format expected.
    pub expected: &'static str,
}

/// `--stages` as parsed (a newtype, so the flag holds one list rather than many values).
#[derive(Debug, Clone, PartialEq)]
pub struct StageList(pub Vec<Stage>);

/// [`parse_stages`] for clap.
pub(crate) fn parse_stage_list(text: &str) -> Result<StageList, StagesError> {
    parse_stages(text).map(StageList)
}

/// `--arrival-stages` as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RateStageList(pub Vec<RateStage>);

/// A comma-separated list of colon-separated fields, read with positions for errors.
struct FieldList<'a> {
    flag: &'static str,
    expected: &'static str,
    text: &'a str,
}

impl<'a> FieldList<'a> {
    fn fail(&self, offset: usize, message: String) -> StagesError {
        StagesError {
            flag: self.flag,
            text: self.text.to_owned(),
            column: self.text.get(..offset).map_or(1, |s| s.chars().count() + 1),
            message,
            expected: self.expected,
        }
    }

    /// Each part's fields with their byte offsets; every part must have `n` fields.
    fn parts(&self, n: usize) -> Result<Vec<Vec<(usize, &'a str)>>, StagesError> {
        let mut out = Vec::new();
        let mut offset = 0;
        for part in self.text.split(',') {
            let mut fields = Vec::new();
            let mut at = offset;
            for field in part.split(':') {
                fields.push((at, field.trim()));
                at += field.len() + 1;
            }
            if fields.len() != n {
                let message = format!("stage {part:?} has {} fields", fields.len());
                return Err(self.fail(offset, message));
            }
            out.push(fields);
            offset += part.len() + 1;
        }
        Ok(out)
    }

    fn duration(&self, (at, field): (usize, &str)) -> Result<Duration, StagesError> {
        // Seconds as a number (0.5) or a time span (2m), as --stop-timeout takes them.
        match crate::timespan::parse_seconds(field) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(self.fail(at, "a stage lasts more than 0 s".to_owned())),
            Err(e) => Err(self.fail(at, format!("bad duration {field:?}: {e}"))),
        }
    }
}

/// Reads `30s:50:5,2m:500:100,30s:50:5`: each stage's duration, users and spawn rate.
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, StagesError> {
    let list = FieldList {
        flag: "--stages",
        expected: "DURATION:USERS:RATE",
        text,
    };
    let mut stages = Vec::new();
    for f in list.parts(3)? {
        let duration = list.duration(f[0])?;
        let users = f[1].1.parse::<usize>().map_err(|_| {
            list.fail(
                f[1].0,
                format!("bad users {:?}: expected a whole number", f[1].1),
            )
        })?;
        let spawn_rate = f[2]
            .1
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0);
        let Some(spawn_rate) = spawn_rate else {
            let message = format!(
                "bad spawn rate {:?}: expected users per second above 0",
                f[2].1
            );
            return Err(list.fail(f[2].0, message));
        };
        stages.push(Stage {
            duration,
            users,
            spawn_rate,
        });
    }
    Ok(stages)
}

/// Reads `30s:50,1m:200`: each arrival-rate stage's duration and target rate.
pub(crate) fn parse_rate_stages(text: &str) -> Result<RateStageList, StagesError> {
    let list = FieldList {
        flag: "--arrival-stages",
        expected: "DURATION:RATE",
        text,
    };
    let mut stages = Vec::new();
    for f in list.parts(2)? {
        let duration = list.duration(f[0])?;
        let target = f[1]
            .1
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0);
        let Some(target) = target else {
            let message = format!(
                "bad rate {:?}: expected iterations per second of at least 0",
                f[1].1
            );
            return Err(list.fail(f[1].0, message));
        };
        stages.push(RateStage { duration, target });
    }
    Ok(RateStageList(stages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_with_positions() {
        let s = parse_stages("30s:50:5,2m:500:100,30s:50:5").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[1],
            Stage {
                duration: Duration::from_secs(120),
                users: 500,
                spawn_rate: 100.0
            }
        );
        let e = parse_stages("30s:50:5,2m:many:100").unwrap_err();
        assert_eq!(e.column, 13);
        assert!(e.message.contains("\"many\""), "{e}");
        let e = parse_stages("30s:50:5,2m:500:0").unwrap_err();
        assert_eq!(e.column, 17);
        assert_eq!(parse_stages("1x:1:1").unwrap_err().column, 1);
        assert!(parse_stages("30s:50").is_err());
        assert!(parse_stages("0s:5:1").is_err());
    }
}
