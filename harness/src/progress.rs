//! What the harness says while it works: each phase as it starts, and while the load
//! runs a progress line with its wall time against the planned time (redrawn in place on
//! a terminal, a plain line every few seconds otherwise). Everything goes to stderr, so
//! the report on stdout stays the same.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How often the progress line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often it is redrawn on a terminal.
const TERMINAL_EVERY: Duration = Duration::from_millis(500);

/// Where the harness reports its phases: stderr, or nowhere (tests, libraries).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
    terminal: bool,
}

impl Progress {
    /// Phases and progress on stderr; the line is redrawn in place on a terminal.
    pub fn to_stderr() -> Self {
        Self {
            enabled: true,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Says nothing.
    pub fn quiet() -> Self {
        Self {
            enabled: false,
            terminal: false,
        }
    }

    /// `harness: starting mock-api ...`, on a line of its own.
    pub fn phase(&self, text: impl std::fmt::Display) {
        if self.enabled {
            eprintln!("harness: {text}");
        }
    }

    /// Writes the progress of a run planned to last `planned` of wall time until `stop`
    /// is cancelled; the line is erased (terminal) when it ends.
    pub fn run_ticker(&self, what: String, planned: Duration, stop: CancellationToken) {
        if !self.enabled {
            return;
        }
        let terminal = self.terminal;
        tokio::spawn(async move {
            let start = Instant::now();
            let every = if terminal {
                TERMINAL_EVERY
            } else {
                PLAIN_EVERY
            };
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(every) => {}
                }
                let line = progress_line(&what, start.elapsed(), planned);
                if terminal {
                    let _ = write!(std::io::stderr().lock(), "\r{line}");
                } else {
                    eprintln!("{line}");
                }
            }
            if terminal {
                let _ = write!(std::io::stderr().lock(), "\r{:width$}\r", "", width = 100);
            }
        });
    }
}

/// `  loadgen: 3.0 s of 6.0 s (50%)`.
fn progress_line(what: &str, elapsed: Duration, planned: Duration) -> String {
    let share = if planned.is_zero() {
        100.0
    } else {
        (elapsed.as_secs_f64() / planned.as_secs_f64() * 100.0).min(999.0)
    };
    format!(
        "  {what}: {:.1} s of {:.1} s ({share:.0}%)",
        elapsed.as_secs_f64(),
        planned.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_elapsed_against_planned() {
        let line = progress_line("loadgen", Duration::from_secs(3), Duration::from_secs(6));
        assert_eq!(line, "  loadgen: 3.0 s of 6.0 s (50%)");
        let zero = progress_line("x", Duration::from_secs(1), Duration::ZERO);
        assert!(zero.ends_with("(100%)"), "{zero}");
    }
}
