//! Locustfile import: a Python locustfile read with a real Python parser (never run)
//! into a loadgen scenario. The file's user classes, their weights, waits, default
//! headers, `on_start` requests, tasks (methods, `tasks` lists and dicts, nested and
//! sequential TaskSets, tags) and requests (paths, `name=`, `json=`, `params=`,
//! `headers=`, `catch_response` checks, random and date values) become TOML, written so
//! a person can keep it; the scenario is compiled from that TOML, so running a `.py`
//! and running its import can never disagree. What the import cannot carry over is a
//! warning naming file, line, column and what was skipped.
//!
//! The parts, in the order a file goes through them: `module` (imports, constants,
//! classes, event hooks), `classes` (what is a user, inheritance, attributes), `flatten`
//! (task trees to weighted tasks), `task` (a method's statements to requests), `value`
//! (expressions to values and generators), `checks` (`catch_response` blocks), `hook`
//! (the quitting judge's thresholds), `write` (the TOML), `warning`.

mod checks;
mod classes;
mod flatten;
mod hook;
mod model;
mod module;
mod task;
mod value;
mod warning;
mod write;

use std::path::Path;

use rustpython_parser::ast::Ranged;
use rustpython_parser::{ast, Parse};

use crate::plan::scenario::{Scenario, ScenarioError};

pub use warning::ImportWarning;

/// What the import keeps and how strict it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Locust's `--tags`: keep only tasks with one of these tags (empty: all).
    pub tags: Vec<String>,
    /// Locust's `--exclude-tags`: drop tasks with one of these tags.
    pub exclude_tags: Vec<String>,
    /// Refuse the file when anything was skipped or approximated.
    pub strict: bool,
}

/// A locustfile's import: the compiled scenario, its TOML, and what was skipped.
#[derive(Debug, Clone)]
pub struct Import {
    /// The scenario, compiled from `toml`.
    pub scenario: Scenario,
    /// The scenario file, commented with the locustfile's lines.
    pub toml: String,
    /// What was not carried over, in the order found.
    pub warnings: Vec<ImportWarning>,
}

/// Why a locustfile could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum LocustfileError {
    /// The file could not be read.
    #[error("cannot read locustfile {file}")]
    Read {
        /// The path given.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid Python.
    #[error("{file}:{line}:{column}: Python syntax error: {message}")]
    Syntax {
        /// The path given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// `--strict`, and the import skipped or approximated something.
    #[error("{file}: --strict refuses the import: {count} warning(s)\n{list}", count = warnings.len(), list = warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Strict {
        /// The path given.
        file: String,
        /// What was skipped.
        warnings: Vec<ImportWarning>,
    },
    /// No class of the file is a user class Locust would run.
    #[error("{file}: no user classes: expected a class deriving from HttpUser or FastHttpUser (not abstract) with at least one task that sends a request{}", if warnings.is_empty() { String::new() } else { format!("\n{}", warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")) })]
    NoUserClasses {
        /// The path given.
        file: String,
        /// What was skipped on the way.
        warnings: Vec<ImportWarning>,
    },
    /// The scenario written for the file does not compile (a value the scenario
    /// format refuses, such as a header value that is not visible ASCII).
    #[error("the scenario imported from {file} is refused: {source}")]
    Scenario {
        /// The path given.
        file: String,
        /// The scenario's error (its line is in the imported TOML).
        #[source]
        source: ScenarioError,
    },
}

/// Imports a locustfile.
pub fn import(path: &Path, options: &ImportOptions) -> Result<Import, LocustfileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LocustfileError::Read {
        file: file.clone(),
        source,
    })?;
    import_text(&file, &text, options)
}

/// Imports locustfile text; `file` names it in messages.
pub fn import_text(
    file: &str,
    text: &str,
    options: &ImportOptions,
) -> Result<Import, LocustfileError> {
    let suite = ast::Suite::parse(text, file).map_err(|e| {
        let (line, column) = warning::Locator::new(text).locate(e.offset);
        LocustfileError::Syntax {
            file: file.to_owned(),
            line,
            column,
            message: e.error.to_string(),
        }
    })?;
    let mut w = warning::Warnings::new(file, text);
    let module = module::read(&suite, &mut w);
    let classes = classes::Classes::new(&module, &suite);
    let mut imported = model::Imported {
        description: module.doc.clone(),
        classes: classes::read(&classes, options, &mut w),
        ..model::Imported::default()
    };
    for h in &module.hooks {
        let found = hook::criteria(h, &module.scope, &mut w);
        if !found.is_empty() {
            imported.criteria_line.get_or_insert(w.line(h.def.start()));
            imported.criteria.extend(found);
        }
    }
    let warnings = w.finish();
    if imported.classes.is_empty() {
        return Err(LocustfileError::NoUserClasses {
            file: file.to_owned(),
            warnings,
        });
    }
    if options.strict && !warnings.is_empty() {
        return Err(LocustfileError::Strict {
            file: file.to_owned(),
            warnings,
        });
    }
    let toml = write::scenario(file, &imported);
    let scenario =
        Scenario::from_toml(file, &toml).map_err(|source| LocustfileError::Scenario {
            file: file.to_owned(),
            source,
        })?;
    Ok(Import {
        scenario,
        toml,
        warnings,
    })
}

#[cfg(test)]
mod tests;
