//! The command line: `harness guide|stress|background|all` with `--seed`,
//! `--time-scale`, `--users`, `--duration` and `--database`, turned once into a
//! [`RunSpec`] (`harness capacity` and `harness bands` run fixed sets of runs); then
//! [`run`] executes it, prints the tables and the checks, and returns the exit code
//! (0 when every check passed, 1 when any failed or could not be made; 2, from the
//! binary, when the run itself could not be made).

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
#[derive(Debug, Clone, Subcommand)]
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
    /// Real Locust (or any program with its flags and files) and a locustfile against
    /// the mock, checked against the mock's own records: `harness locust` runs the
    /// project's locustfile, `harness locust guide` the guide's run.
    Locust(LocustArgs),
}

/// `harness locust`'s own flags (-u, -t, --seed and --time-scale are the global ones).
#[derive(Debug, Clone, clap::Args)]
pub struct LocustArgs {
    /// `guide` for the guide's run (its locustfile, 600 users at 100/s), then the user
    /// classes to run (all when none are named).
    #[arg(value_name = "CLASS")]
    pub classes: Vec<String>,
    /// The locustfile (default: scenarios/locustfile.py).
    #[arg(short = 'f', long = "locustfile", value_name = "FILE")]
    pub locustfile: Option<std::path::PathBuf>,
    /// The mock's profile: a built-in name or a TOML file (default: guide).
    #[arg(long, value_name = "NAME|FILE", default_value = "guide")]
    pub profile: String,
    /// Users started per second.
    #[arg(short = 'r', long = "spawn-rate")]
    pub spawn_rate: Option<f64>,
    /// The program run as Locust: `locust`, or any with its flags and files (loadgen).
    #[arg(long, value_name = "PATH", default_value = "locust")]
    pub locust: std::path::PathBuf,
}

impl Command {
    fn mode(&self) -> Option<Mode> {
        match self {
            Command::Guide => Some(Mode::Guide),
            Command::Stress => Some(Mode::Stress),
            Command::Background => Some(Mode::Background),
            Command::All => Some(Mode::All),
            Command::Capacity | Command::Bands | Command::Locust(_) => None,
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
    /// A Locust run could not be made or read.
    #[error(transparent)]
    Locust(#[from] crate::locust::LocustError),
    /// A flag the command does not use (it would be silently ignored).
    #[error("harness {command}: {flags} cannot be used here: {why}")]
    UnusedFlags {
        /// The command (`bands`).
        command: &'static str,
        /// The flags given, as typed (`-u/--users, --time-scale`).
        flags: String,
        /// What the command takes instead.
        why: &'static str,
    },
}

impl Command {
    /// The command's name, and the global flags it does not use with the reason.
    fn unused_globals(&self) -> (&'static str, &'static [Global], &'static str) {
        const FIXED: &[Global] = &[
            Global::Users,
            Global::Duration,
            Global::TimeScale,
            Global::Database,
        ];
        const FIXED_WHY: &str =
            "its runs have fixed loads on their own databases; only --seed applies";
        match self {
            Command::Bands => ("bands", FIXED, FIXED_WHY),
            Command::Capacity => ("capacity", FIXED, FIXED_WHY),
            Command::Locust(_) => (
                "locust",
                &[Global::Database],
                "the Locust run's mock keeps its records in a temporary database of its own",
            ),
            _ => ("", &[], ""),
        }
    }
}

/// A global flag that some commands do not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Users,
    Duration,
    TimeScale,
    Database,
}

impl Global {
    fn given(self, cli: &Cli) -> bool {
        match self {
            Global::Users => cli.users.is_some(),
            Global::Duration => cli.duration.is_some(),
            Global::TimeScale => cli.time_scale.is_some(),
            Global::Database => cli.database.is_some(),
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Global::Users => "-u/--users",
            Global::Duration => "-t/--duration",
            Global::TimeScale => "--time-scale",
            Global::Database => "--database",
        }
    }
}

/// Refuses the global flags the command would ignore.
fn refuse_unused_flags(cli: &Cli) -> Result<(), CliError> {
    let (command, unused, why) = cli.command.unused_globals();
    let given: Vec<&str> = unused
        .iter()
        .filter(|g| g.given(cli))
        .map(|g| g.flag())
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(CliError::UnusedFlags {
        command,
        flags: given.join(", "),
        why,
    })
}

/// Runs the command, prints everything, and returns the exit code.
pub fn run(cli: &Cli) -> Result<ExitCode, CliError> {
    refuse_unused_flags(cli)?;
    let Some(mode) = cli.command.mode() else {
        return match &cli.command {
            Command::Bands => run_bands(cli.seed),
            Command::Locust(args) => run_locust(cli, args),
            _ => run_capacity(cli.seed),
        };
    };
    let spec = RunSpec::new(mode, cli.users, cli.duration, cli.time_scale, cli.seed)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let progress = crate::progress::Progress::to_stderr();
    let evidence = runtime.block_on(crate::run::execute_with(
        &spec,
        cli.database.as_deref(),
        progress,
    ))?;
    progress.phase("checking the run against the profile and the mock's records");
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
    println!("{}", table.verdict_line(spec.mode.name()));
    Ok(ExitCode::from(table.exit_code()))
}

/// `harness locust`'s spec and its title (`locust` or `locust guide`).
pub fn locust_spec(
    cli: &Cli,
    args: &LocustArgs,
) -> Result<(crate::locust::LocustSpec, String), CliError> {
    use crate::locust::{LocustSpec, DEFAULT_LOCUSTFILE, GUIDE_LOAD, GUIDE_LOCUSTFILE};
    let guide = args.locustfile.is_none() && args.classes.first().is_some_and(|c| c == "guide");
    let (file, classes, load, title) = if guide {
        (
            GUIDE_LOCUSTFILE.into(),
            &args.classes[1..],
            GUIDE_LOAD,
            "locust guide",
        )
    } else {
        let file = args
            .locustfile
            .clone()
            .unwrap_or_else(|| DEFAULT_LOCUSTFILE.into());
        (
            file,
            &args.classes[..],
            crate::locust::DEFAULT_LOAD,
            "locust",
        )
    };
    let profile = mock_api::profile::Profile::load(&args.profile)
        .map_err(crate::locust::LocustError::from)?;
    let mut spec = LocustSpec::new(args.locust.clone(), file, profile);
    spec.classes = classes.to_vec();
    spec.users = cli.users.unwrap_or(load.0);
    spec.spawn_rate = args.spawn_rate.unwrap_or(load.1);
    spec.run_time = cli.duration.unwrap_or(load.2);
    spec.time_scale = cli.time_scale.unwrap_or(1.0);
    spec.seed = cli.seed;
    spec.validate()?;
    Ok((spec, title.to_owned()))
}

/// `harness locust`: the calibration and the run, their checks printed.
fn run_locust(cli: &Cli, args: &LocustArgs) -> Result<ExitCode, CliError> {
    let (spec, title) = locust_spec(cli, args)?;
    let expectation = crate::locust::LocustExpectation::of(&spec)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let progress = crate::progress::Progress::to_stderr();
    progress.phase(format_args!(
        "calibrating, then running {} with {} users for {:.0} s against mock-api (profile `{}`)",
        spec.program.display(),
        spec.users,
        spec.run_time.as_secs_f64(),
        spec.profile.name
    ));
    let evidence = runtime.block_on(crate::locust::run::execute(&spec))?;
    progress.phase("checking the run against the mock's records");
    let table = crate::locust::checks::evaluate(&evidence, &expectation);
    let mut out = crate::locust::report::header(&evidence, &title);
    out.push_str(&crate::locust::report::notes(&expectation));
    out.push_str(&crate::locust::report::rows(&evidence));
    out.push_str(&crate::locust::report::checks(&table, &title));
    print!("{out}");
    Ok(ExitCode::from(table.exit_code()))
}

/// `harness bands`: every band run with `seed`, their checks printed.
fn run_bands(seed: u64) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    crate::progress::Progress::to_stderr().phase(
        "running the band runs (each profile that lands a metric in a band), then checking them",
    );
    let table = runtime.block_on(crate::checks::bands::run_all(seed))?;
    println!("Baselines and criteria (seed {seed})\n{}", table.render());
    println!("{}", table.verdict_line("bands"));
    Ok(ExitCode::from(table.exit_code()))
}

/// `harness capacity`: every capacity family with `seed`, their checks printed.
fn run_capacity(seed: u64) -> Result<ExitCode, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    crate::progress::Progress::to_stderr().phase(
        "running the capacity families (breakpoint, coordinated omission, queueing, spike, soak), then checking them",
    );
    let table = runtime.block_on(crate::checks::capacity::run_all(seed))?;
    println!("Capacity checks (seed {seed})\n{}", table.render());
    println!("{}", table.verdict_line("capacity"));
    Ok(ExitCode::from(table.exit_code()))
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
    fn locust_flags_make_a_spec_and_guide_is_a_preset() {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/locustfile.py");
        let cli = Cli::try_parse_from([
            "harness",
            "locust",
            "-f",
            file,
            "ACISAPIUser",
            "-u",
            "5",
            "-r",
            "2",
            "-t",
            "10s",
            "--profile",
            "healthy",
        ])
        .unwrap();
        let Command::Locust(args) = &cli.command else {
            panic!("not the locust command: {cli:?}");
        };
        let (spec, title) = locust_spec(&cli, args).unwrap();
        assert_eq!(title, "locust");
        assert_eq!(spec.classes, ["ACISAPIUser"]);
        assert_eq!((spec.users, spec.spawn_rate), (5, 2.0));
        assert_eq!(
            (spec.run_time, spec.time_scale),
            (Duration::from_secs(10), 1.0)
        );
        assert_eq!(spec.profile.name, "healthy");
        assert_eq!(spec.program, std::path::PathBuf::from("locust"));
        // `guide` without -f is the guide's run; its file is found from the repository's
        // root, which this test does not run in.
        let cli = Cli::try_parse_from(["harness", "locust", "guide"]).unwrap();
        let Command::Locust(args) = &cli.command else {
            panic!("not the locust command");
        };
        let e = locust_spec(&cli, args).unwrap_err().to_string();
        assert!(
            e.contains("scenarios/guide_locustfile.py") && e.contains("no such file"),
            "{e}"
        );
    }

    /// `harness bands -u 10 --time-scale 0.05` used to run with neither: a flag a
    /// command cannot use is an error that names it and says why.
    #[test]
    fn flags_a_command_cannot_use_are_refused_with_the_reason() {
        let cases: [(&[&str], &str); 3] = [
            (
                &["harness", "bands", "-u", "10", "--time-scale", "0.05"],
                "harness bands: -u/--users, --time-scale cannot be used here: its runs have fixed loads",
            ),
            (
                &["harness", "capacity", "--database", "postgres://h/db"],
                "harness capacity: --database cannot be used here",
            ),
            (
                &["harness", "locust", "--database", "x.db"],
                "harness locust: --database cannot be used here",
            ),
        ];
        for (args, words) in cases {
            let cli = Cli::try_parse_from(args).unwrap();
            let e = run(&cli).unwrap_err().to_string();
            assert!(e.starts_with(words), "{args:?}: {e}");
        }
        // The guide run uses them all; bands with --seed alone is fine.
        let cli = Cli::try_parse_from(["harness", "bands", "--seed", "3"]).unwrap();
        assert!(refuse_unused_flags(&cli).is_ok());
        let cli =
            Cli::try_parse_from(["harness", "guide", "-u", "5", "--database", "x.db"]).unwrap();
        assert!(refuse_unused_flags(&cli).is_ok());
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
