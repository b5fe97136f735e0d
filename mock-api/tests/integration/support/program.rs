//! The `mock-api` program started as a user starts it: its log piped and kept, its
//! address read from the start line, signals sent by pid. Dropping it kills it, so a
//! failed assertion leaves no server running.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `mock-api`.
#[derive(Debug)]
pub struct Program {
    child: Child,
    log: Arc<Mutex<String>>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Program {
    /// Starts `mock-api ARGS` on an ephemeral loopback port and waits (at most 60 s)
    /// for its start line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mock-api"))
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mock-api starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    {
                        let mut log = log.lock().unwrap();
                        log.push_str(&line);
                        log.push('\n');
                    }
                    if let Some(rest) = line.strip_prefix("mock-api listening on http://") {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        let _ = tx.send(addr.parse::<SocketAddr>());
                    }
                }
            });
        }
        let mut program = Self {
            child,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(addr)) => program.addr = addr,
            other => panic!(
                "mock-api did not start ({other:?}); its log:\n{}",
                program.log()
            ),
        }
        program
    }

    /// Everything it wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Sends SIGKILL and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL is sent");
        let _ = self.child.wait();
    }

    /// Waits (at most `bound`) for it to exit; panics with its log past that.
    pub fn wait(&mut self, bound: Duration) -> ExitStatus {
        let start = Instant::now();
        while start.elapsed() < bound {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The log thread ends at EOF, right after the exit.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "mock-api did not exit within {bound:?}; its log:\n{}",
            self.log()
        );
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
