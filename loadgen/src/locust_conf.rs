//! Locust's configuration files, read as Locust reads them: `~/.locust.conf`, then
//! `./locust.conf`, then `./pyproject.toml`'s `[tool.locust]` table, then the file named
//! by `--config`, each overriding the ones before. A `LOCUST_*` environment variable
//! overrides any file, and a flag on the command line overrides both (clap reads the
//! variables itself; see the `env` attributes in `cli`).
//!
//! The files become flags placed before the command line's own: `users = 50` is
//! `--users 50`, `headless = true` is `--headless`, `tags = [a, b]` is `--tags a b`.
//! A key that names no loadgen flag is an error naming the file, the line and the key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Why the configuration files cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    /// A file could not be read.
    #[error("cannot read configuration file {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `key = value`, or a key names no flag.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line (1 for a TOML value the parser placed nowhere).
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
}

/// One `key = value` setting and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    key: String,
    values: Vec<String>,
    file: String,
    line: usize,
}

/// What the flag a key names takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    /// A switch (`--headless`): `true` sets it, `false` leaves it off.
    Switch,
    /// One or more values (`--users 50`, `--tags a b`).
    Values,
}

/// The command line `args` (program name first) with the configuration files' settings
/// inserted after the program name, so that the command line's own flags win.
/// `flag_kind` tells whether a long flag exists and what it takes; `env` looks up an
/// environment variable (a setting whose `LOCUST_*` variable is set is left to clap).
pub(crate) fn expand(
    args: Vec<OsString>,
    home: Option<&Path>,
    cwd: &Path,
    flag_kind: impl Fn(&str) -> Option<FlagKind>,
    env: impl Fn(&str) -> bool,
) -> Result<Vec<OsString>, ConfError> {
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    if let Some(home) = home {
        files.push((home.join(".locust.conf"), false));
    }
    files.push((cwd.join("locust.conf"), false));
    files.push((cwd.join("pyproject.toml"), false));
    if let Some(named) = config_flag(&args) {
        files.push((cwd.join(named), true));
    }
    let mut settings = Vec::new();
    for (path, required) in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(ConfError::Read {
                    file: path.display().to_string(),
                    source,
                })
            }
        };
        let file = path.display().to_string();
        if path.extension().is_some_and(|e| e == "toml") {
            settings.extend(parse_pyproject(&file, &text)?);
        } else {
            settings.extend(parse_conf(&file, &text)?);
        }
    }
    let mut out: Vec<OsString> = args.iter().take(1).cloned().collect();
    for s in settings {
        if s.key == "config" || env(&env_var(&s.key)) {
            continue;
        }
        match flag_kind(&s.key) {
            None => {
                return Err(ConfError::Invalid {
                    file: s.file,
                    line: s.line,
                    message: format!("unknown option {:?}: loadgen has no --{}", s.key, s.key),
                })
            }
            Some(FlagKind::Switch) => match s.values.as_slice() {
                [v] if is_true(v) => out.push(format!("--{}", s.key).into()),
                [v] if is_false(v) => {}
                _ => {
                    return Err(ConfError::Invalid {
                        file: s.file,
                        line: s.line,
                        message: format!(
                            "{} is a switch: expected true or false, got {:?}",
                            s.key,
                            s.values.join(", ")
                        ),
                    })
                }
            },
            Some(FlagKind::Values) => {
                out.push(format!("--{}", s.key).into());
                out.extend(s.values.into_iter().map(OsString::from));
            }
        }
    }
    out.extend(args.into_iter().skip(1));
    Ok(out)
}

/// The environment variable Locust reads for a long option (`run-time`: `LOCUST_RUN_TIME`).
pub(crate) fn env_var(key: &str) -> String {
    format!("LOCUST_{}", key.to_ascii_uppercase().replace('-', "_"))
}

/// The value of `--config FILE` or `--config=FILE`, if given.
fn config_flag(args: &[OsString]) -> Option<OsString> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--" {
            break;
        }
        if text == "--config" {
            return iter.next().cloned();
        }
        if let Some(value) = text.strip_prefix("--config=") {
            return Some(value.into());
        }
    }
    None
}

fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1")
}

fn is_false(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "false" | "no" | "off" | "0"
    )
}

/// A `locust.conf` file: `key = value`, `key: value` or `key value` lines, `#` and `;`
/// comments, `[section]` lines ignored, `[a, b]` lists (configargparse's format).
pub(crate) fn parse_conf(file: &str, text: &str) -> Result<Vec<Setting>, ConfError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') && !line.contains('=') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .map(|at| (&line[..at], &line[at + 1..]))
            .or_else(|| line.split_once(char::is_whitespace));
        let Some((key, value)) = split else {
            return Err(ConfError::Invalid {
                file: file.to_owned(),
                line: i + 1,
                message: format!("expected `key = value`, got {line:?}"),
            });
        };
        let key = key.trim().trim_start_matches("--").replace('_', "-");
        out.push(Setting {
            key,
            values: list_values(value.trim()),
            file: file.to_owned(),
            line: i + 1,
        });
    }
    Ok(out)
}

/// `[a, b]` as its items, anything else as one value (quotes removed).
fn list_values(value: &str) -> Vec<String> {
    let unquote = |s: &str| s.trim().trim_matches(['"', '\'']).to_owned();
    match value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(items) => items
            .split(',')
            .map(unquote)
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec![unquote(value)],
    }
}

/// `pyproject.toml`'s `[tool.locust]` table (absent: no settings).
pub(crate) fn parse_pyproject(file: &str, text: &str) -> Result<Vec<Setting>, ConfError> {
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map_or(1, |s| text[..s.start].matches('\n').count() + 1);
        ConfError::Invalid {
            file: file.to_owned(),
            line,
            message: e.message().to_owned(),
        }
    })?;
    let Some(table) = doc
        .get("tool")
        .and_then(|t| t.get("locust"))
        .and_then(toml::Value::as_table)
    else {
        return Ok(Vec::new());
    };
    let line_of = |key: &str| {
        text.lines()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(1, |i| i + 1)
    };
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(table
        .iter()
        .map(|(key, value)| Setting {
            key: key.replace('_', "-"),
            values: match value {
                toml::Value::Array(items) => items.iter().map(scalar).collect(),
                other => vec![scalar(other)],
            },
            file: file.to_owned(),
            line: line_of(key),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(key: &str) -> Option<FlagKind> {
        match key {
            "headless" | "only-summary" => Some(FlagKind::Switch),
            "users" | "run-time" | "tags" | "host" | "config" => Some(FlagKind::Values),
            _ => None,
        }
    }

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn locust_conf_lines_become_flags_before_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("locust.conf"),
            "# a comment\n[section]\nusers = 50\nrun_time: 10m\nheadless = true\nonly-summary = false\ntags = [Critical, Normal]\n",
        )
        .unwrap();
        let args = expand(os(&["loadgen", "-u", "7"]), None, dir.path(), kinds, |_| {
            false
        })
        .unwrap();
        assert_eq!(
            strings(args),
            [
                "loadgen",
                "--users",
                "50",
                "--run-time",
                "10m",
                "--headless",
                "--tags",
                "Critical",
                "Normal",
                "-u",
                "7"
            ]
        );
    }

    #[test]
    fn later_files_follow_earlier_ones_and_the_environment_wins_over_files() {
        let home = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".locust.conf"),
            "users = 1\nhost = http://a\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("locust.conf"), "users = 2\n").unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\n\n[tool.locust]\nusers = 3\nrun-time = \"1m\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("ci.conf"), "users = 4\n").unwrap();
        let args = expand(
            os(&["loadgen", "--config", "ci.conf"]),
            Some(home.path()),
            dir.path(),
            kinds,
            |var| var == "LOCUST_HOST",
        )
        .unwrap();
        assert_eq!(
            strings(args),
            [
                "loadgen",
                "--users",
                "1",
                "--users",
                "2",
                "--run-time",
                "1m",
                "--users",
                "3",
                "--users",
                "4",
                "--config",
                "ci.conf"
            ]
        );
    }

    #[test]
    fn an_unknown_key_or_a_bad_switch_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("locust.conf"), "users = 5\nmaster = true\n").unwrap();
        let e = expand(os(&["loadgen"]), None, dir.path(), kinds, |_| false).unwrap_err();
        let text = e.to_string();
        assert!(
            text.ends_with("locust.conf:2: unknown option \"master\": loadgen has no --master"),
            "{text}"
        );

        std::fs::write(dir.path().join("locust.conf"), "headless = maybe\n").unwrap();
        let e = expand(os(&["loadgen"]), None, dir.path(), kinds, |_| false).unwrap_err();
        assert!(
            e.to_string()
                .contains("locust.conf:1: headless is a switch"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_named_file_is_an_error_and_missing_default_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let plain = expand(os(&["loadgen", "-u", "2"]), None, dir.path(), kinds, |_| {
            false
        })
        .unwrap();
        assert_eq!(strings(plain), ["loadgen", "-u", "2"]);
        let e = expand(
            os(&["loadgen", "--config=nope.conf"]),
            None,
            dir.path(),
            kinds,
            |_| false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("nope.conf"), "{e}");
    }

    #[test]
    fn a_broken_pyproject_is_reported_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[tool.locust]\nusers = \n",
        )
        .unwrap();
        let e = expand(os(&["loadgen"]), None, dir.path(), kinds, |_| false).unwrap_err();
        assert!(e.to_string().contains("pyproject.toml:2:"), "{e}");
    }

    #[test]
    fn environment_variables_are_named_as_locusts() {
        assert_eq!(env_var("run-time"), "LOCUST_RUN_TIME");
        assert_eq!(env_var("users"), "LOCUST_USERS");
    }
}
