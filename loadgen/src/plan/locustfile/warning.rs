//! What the import could not carry over: each warning names the place in the file, the
//! class and task it concerns, and what was skipped.

use std::fmt;

use rustpython_parser::text_size::{TextRange, TextSize};

/// A construct the import did not understand, and what it did instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    /// The locustfile, as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The user class it concerns: set when that class was not read fully.
    pub class: Option<String>,
    /// The task it concerns, if any.
    pub task: Option<String>,
    /// What was skipped or approximated, and why.
    pub message: String,
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Turns byte offsets of the source into 1-based lines and columns.
#[derive(Debug)]
pub(crate) struct Locator<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, line_starts }
    }

    /// (line, column) of a byte offset, both 1-based; the column counts characters.
    pub(crate) fn locate(&self, offset: TextSize) -> (usize, usize) {
        let offset = usize::from(offset).min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }
}

/// Where warnings are collected while the file is walked; the class and task being read
/// are attached to each one.
#[derive(Debug)]
pub(crate) struct Warnings<'a> {
    file: String,
    locator: Locator<'a>,
    class: Option<String>,
    task: Option<String>,
    list: Vec<ImportWarning>,
    /// While above zero, warnings are dropped (a loop body read again per iteration
    /// warns once, on its first reading).
    muted: usize,
}

impl<'a> Warnings<'a> {
    pub(crate) fn new(file: &str, text: &'a str) -> Self {
        Self {
            file: file.to_owned(),
            locator: Locator::new(text),
            class: None,
            task: None,
            list: Vec::new(),
            muted: 0,
        }
    }

    /// The source text of a range (for messages that quote the file).
    pub(crate) fn source(&self, range: TextRange) -> &'a str {
        self.locator
            .text
            .get(usize::from(range.start())..usize::from(range.end()))
            .unwrap_or_default()
    }

    /// The 1-based line of an offset.
    pub(crate) fn line(&self, offset: TextSize) -> usize {
        self.locator.locate(offset).0
    }

    /// Sets the class (and clears the task) that later warnings concern.
    pub(crate) fn in_class(&mut self, class: Option<&str>) {
        self.class = class.map(str::to_owned);
        self.task = None;
    }

    /// Sets the task that later warnings concern.
    pub(crate) fn in_task(&mut self, task: Option<&str>) {
        self.task = task.map(str::to_owned);
    }

    /// Drops warnings until [`Warnings::unmute`].
    pub(crate) fn mute(&mut self) {
        self.muted += 1;
    }

    /// Ends one [`Warnings::mute`].
    pub(crate) fn unmute(&mut self) {
        self.muted = self.muted.saturating_sub(1);
    }

    /// Records a warning at `offset` about the current class and task.
    pub(crate) fn warn(&mut self, offset: TextSize, message: impl Into<String>) {
        if self.muted > 0 {
            return;
        }
        let (line, column) = self.locator.locate(offset);
        self.list.push(ImportWarning {
            file: self.file.clone(),
            line,
            column,
            class: self.class.clone(),
            task: self.task.clone(),
            message: message.into(),
        });
    }

    /// Records a warning that concerns no class (a module-level construct).
    pub(crate) fn warn_module(&mut self, offset: TextSize, message: impl Into<String>) {
        let (class, task) = (self.class.take(), self.task.take());
        self.warn(offset, message);
        (self.class, self.task) = (class, task);
    }

    /// The warnings, in the order found.
    pub(crate) fn finish(self) -> Vec<ImportWarning> {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_character_columns() {
        let text = "ab\ncé d\n\nx";
        let l = Locator::new(text);
        assert_eq!(l.locate(TextSize::from(0)), (1, 1));
        assert_eq!(l.locate(TextSize::from(3)), (2, 1));
        // 'é' is two bytes: 'd' is byte 7 but column 4.
        assert_eq!(l.locate(TextSize::from(7)), (2, 4));
        assert_eq!(l.locate(TextSize::from(10)), (4, 1));
    }
}
