//! The load tool as a subprocess: Locust's flags in, its exit code and console out,
//! bounded in time. Output goes to files in the run's folder rather than pipes, so a
//! tool that leaves a child behind holding its stdout cannot keep the harness waiting.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::LocustError;

/// How to run the tool once.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The program (`locust`, or any program with Locust's flags and files).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Where its console goes (`stdout.txt`, `stderr.txt`) and its CSV files are written.
    pub dir: PathBuf,
    /// Killed when it runs longer than this.
    pub bound: Duration,
}

/// What one run of the tool left behind.
#[derive(Debug, Clone)]
pub struct ToolRun {
    /// Exit code (`None`: ended by a signal).
    pub exit_code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (Locust's log and tables).
    pub stderr: String,
    /// Wall time from start to exit.
    pub wall: Duration,
}

/// The pip command named whenever Locust is missing.
pub const INSTALL_HINT: &str = "pip install locust==2.47.0 and put it on PATH";

/// Runs the tool, waits at most `bound`, and reads its console.
pub async fn run(inv: &Invocation) -> Result<ToolRun, LocustError> {
    let started = Instant::now();
    let out_path = inv.dir.join("stdout.txt");
    let err_path = inv.dir.join("stderr.txt");
    let create = |p: &Path| {
        std::fs::File::create(p).map_err(|source| LocustError::Io {
            what: format!("creating {}", p.display()),
            source,
        })
    };
    let mut child = tokio::process::Command::new(&inv.program)
        .args(&inv.args)
        .current_dir(&inv.dir)
        .stdin(Stdio::null())
        .stdout(create(&out_path)?)
        .stderr(create(&err_path)?)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| spawn_error(&inv.program, source))?;
    let status = match tokio::time::timeout(inv.bound, child.wait()).await {
        Ok(status) => status.map_err(|source| LocustError::Io {
            what: format!("waiting for {}", inv.program.display()),
            source,
        })?,
        Err(_) => {
            // Best effort: the process may have ended between the timeout and the kill.
            let _ = child.kill().await;
            return Err(LocustError::Hung {
                program: inv.program.display().to_string(),
                bound: inv.bound,
                stderr_tail: tail(&std::fs::read_to_string(&err_path).unwrap_or_default()),
            });
        }
    };
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|source| LocustError::Io {
                what: format!("reading {}", p.display()),
                source,
            })
    };
    Ok(ToolRun {
        exit_code: status.code(),
        stdout: read(&out_path)?,
        stderr: read(&err_path)?,
        wall: started.elapsed(),
    })
}

/// The last lines of a console, for an error message.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

fn spawn_error(program: &Path, source: std::io::Error) -> LocustError {
    if source.kind() == std::io::ErrorKind::NotFound {
        LocustError::Missing {
            program: program.display().to_string(),
        }
    } else {
        LocustError::Io {
            what: format!("starting {}", program.display()),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_program_names_the_pip_command() {
        let dir = tempfile::tempdir().unwrap();
        let inv = Invocation {
            program: PathBuf::from("no-such-locust-program"),
            args: vec![],
            dir: dir.path().to_owned(),
            bound: Duration::from_secs(5),
        };
        let e = run(&inv).await.unwrap_err().to_string();
        assert!(
            e.contains("no-such-locust-program") && e.contains(INSTALL_HINT),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_program_past_its_bound_is_killed_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let inv = Invocation {
            program: PathBuf::from("sleep"),
            args: vec!["30".to_owned()],
            dir: dir.path().to_owned(),
            bound: Duration::from_millis(300),
        };
        let started = Instant::now();
        let e = run(&inv).await.unwrap_err().to_string();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(e.contains("killed") && e.contains("sleep"), "{e}");
    }
}
