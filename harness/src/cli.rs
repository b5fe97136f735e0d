//! The command line: `harness guide|stress|background|all` with `--seed`,
//! `--time-scale`, `--users`, `--duration` and `--database`, turned once into a
//! [`RunSpec`] (`harness capacity` and `harness bands` run fixed sets of runs); then
//! [`run`] executes it, prints the tables and the checks, and returns the exit code
//! (0 when every check passed, 1 otherwise).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{Mode, RunSpec};

/// Runs mock-api and loadgen together and checks, with statistics, that they behave.
#[derive(Debug, Clone, Parser)]
#[command(name = "harness", version)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Seed of every random choice of the mock and of loadgen.
    #[arg(long, global = true, default_value_t = 42)]
    pub seed: u64,
    /// Multiply every duration by this (0.05: a minute runs in 3 s); reported times are
    /// scaled back.
    #[arg(long, global = true)]
    pub time_scale: Option<f64>,
    /// Peak number of users.
    #[arg(long, short = 'u', global = true)]
    pub users: Option<usize>,
    /// Run time of the unscaled run (60, 60s, 5m, 1h30m).
    #[arg(long, short = 't', global = true, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// The mock's database: a postgres:// URL or a SQLite file (default: a temporary
    /// SQLite file). The mock creates its tables there and adds the run's trades: give
    /// it a database of its own.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
}

/// The runs.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// The guide's 50/40/10 mix against the guide profile (the 10%-failure trade run).
    Guide,
    /// ACISStressTestUser against the guide profile.
    Stress,
    /// ACISBackgroundJobUser against the guide profile.
    Background,
    /// All three ACIS classes together against the guide profile.
    All,
    /// The capacity checks: breakpoint, coordinated omission, queueing, spike and soak
    /// against the capacity, stalling and leaking profiles (their loads are fixed; only
    /// --seed applies).
    Capacity,
    /// The baselines and criteria runs: profiles that land each of the guide's metrics in
    /// each band, loadgen's bands, the platform's criteria, verdicts and exit codes (their
    /// loads are fixed; only --seed applies).
    Bands,
}

impl Command {
    fn mode(self) -> Option<Mode> {
        match self {
            Command::Guide => Some(Mode::Guide),
            Command::Stress => Some(Mode::Stress),
            Command::Background => Some(Mode::Background),
            Command::All => Some(Mode::All),
            Command::Capacity | Command::Bands => None,
        }
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    loadgen::timespan::parse_timespan(s).map_err(|e| e.to_string())
}

/// Why `harness` could not run (a failed check is not an error: it is exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad options.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    /// A capacity run failed.
    #[error(transparent)]
    Capacity(#[from] crate::checks::capacity::CapacityError),
    /// A band run failed.
    #[error(transparent)]
    Bands(#[from] crate::checks::bands::BandsError),
}

/// Runs the command, prints everything, and returns the exit code.
pub fn run(cli: &Cli) -> Result<ExitCode, CliError> {
    let Some(mode) = cli.command.mode() else {
        return match cli.command {
            Command::Bands => run_bands(cli.seed),
            _ => run_capacity(cli.seed),
        };
    };
    let spec = RunSpec::new(mode, cli.users, cli.duration, cli.time_scale, cli.seed)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let evidence = runtime.block_on(crate::run::execute_on(&spec, cli.database.as_deref()))?;
    let table = crate::checks::evaluate(&evidence, &spec.expectation());
    let f = spec.load.time_scale;
    let snapshot = &evidence.outcome.snapshot;
    let mut out = crate::report::header(&evidence);
    out.push_str(&crate::report::locust_tables(snapshot, f));
    out.push_str(&loadgen::console::error_report(snapshot));
    if spec.mode == Mode::Guide {
        out.push_str(&crate::report::guide_comparison(snapshot, f));
    }
    out.push_str(&crate::report::baselines(snapshot, f));
    out.push_str("Checks\n");
    out.push_str(&table.render());
    print!("{out}");
    if table.all_passed() {
        println!("harness {}: every check passed", spec.mode.name());
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<&str> = table.failures().map(|c| c.name.as_str()).collect();
        println!(
            "harness {}: FAILED: {}",
            spec.mode.name(),
            failed.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// `harness bands`: every band run with `seed`, their checks printed.
fn run_bands(seed: u64) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let table = runtime.block_on(crate::checks::bands::run_all(seed))?;
    println!("Baselines and criteria (seed {seed})\n{}", table.render());
    if table.all_passed() {
        println!("harness bands: every check passed");
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<&str> = table.failures().map(|c| c.name.as_str()).collect();
        println!("harness bands: FAILED: {}", failed.join(", "));
        Ok(ExitCode::from(1))
    }
}

/// `harness capacity`: every capacity family with `seed`, their checks printed.
fn run_capacity(seed: u64) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let table = runtime.block_on(crate::checks::capacity::run_all(seed))?;
    println!("Capacity checks (seed {seed})\n{}", table.render());
    if table.all_passed() {
        println!("harness capacity: every check passed");
        Ok(ExitCode::SUCCESS)
    } else {
        let failed: Vec<&str> = table.failures().map(|c| c.name.as_str()).collect();
        println!("harness capacity: FAILED: {}", failed.join(", "));
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_defaults() {
        let cli = Cli::try_parse_from([
            "harness",
            "guide",
            "--seed",
            "9",
            "--time-scale",
            "0.2",
            "-u",
            "50",
            "--duration",
            "2m",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Guide));
        assert_eq!(
            (cli.seed, cli.time_scale, cli.users, cli.duration),
            (9, Some(0.2), Some(50), Some(Duration::from_secs(120)))
        );
        let cli = Cli::try_parse_from(["harness", "all"]).unwrap();
        assert_eq!((cli.seed, cli.users, cli.database), (42, None, None));
        let cli =
            Cli::try_parse_from(["harness", "bands", "--database", "postgres://h/db"]).unwrap();
        assert!(matches!(cli.command, Command::Bands));
        assert_eq!(cli.database.as_deref(), Some("postgres://h/db"));
    }

    #[test]
    fn bad_values_are_refused_before_any_run() {
        assert!(Cli::try_parse_from(["harness", "guide", "--duration", "soon"]).is_err());
        assert!(Cli::try_parse_from(["harness", "nonesuch"]).is_err());
        let cli = Cli::try_parse_from(["harness", "guide", "--time-scale", "0"]).unwrap();
        let e = run(&cli).unwrap_err();
        assert!(e.to_string().contains("--time-scale 0"), "{e}");
    }
}
