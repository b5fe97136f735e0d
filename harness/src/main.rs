//! `harness`: parse the flags, run, print the error chain once on failure.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = harness::cli::Cli::parse();
    match harness::cli::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            let e = anyhow::Error::new(e);
            eprintln!("harness: {e:#}");
            ExitCode::from(2)
        }
    }
}
