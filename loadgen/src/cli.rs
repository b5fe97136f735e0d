//! The command line, with Locust's flags and meanings, and its conversion into a
//! validated scenario and `RunConfig` (raw flags are read once, here).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::locust_conf::{ConfError, FlagKind};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::engine::runner::{default_shards, RunConfig};
use crate::engine::session::Resolver;
use crate::engine::sink::{ConsoleMode, OutputConfig};
use crate::plan::locustfile::{ImportOptions, LocustfileError};
use crate::plan::scenario::{Scenario, ScenarioError, DEFAULT_SCENARIO};
use crate::plan::target::{Target, TargetError, TlsOptions};
use crate::sinks::prometheus::{MetricsConfig, MetricsError};
use crate::timespan::{parse_seconds, parse_timespan};
use crate::web::{bind_address, Credentials, RunParams, WebConfig, WebError};

/// Locust's flags. Without `-f`, the built-in `acis` scenario runs.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    version,
    // A flag given twice keeps its last value, so the command line overrides the
    // configuration files' flags placed before it.
    args_override_self = true,
    about = "A load generator that speaks Locust: user classes, flags, tables and CSV, with exact HdrHistogram percentiles",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Another job than a run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Scenario file (TOML), a locustfile (.py, read without running Python), or a built-in scenario: acis (default), guide.
    #[arg(
        short = 'f',
        long = "locustfile",
        value_name = "FILE",
        env = "LOCUST_LOCUSTFILE"
    )]
    pub file: Option<PathBuf>,
    /// Run only a locustfile's tasks tagged with one of these tags (Locust's --tags).
    #[arg(short = 'T', long, value_name = "TAG", num_args = 1..)]
    pub tags: Vec<String>,
    /// Leave out a locustfile's tasks tagged with one of these tags (Locust's --exclude-tags).
    #[arg(short = 'E', long, value_name = "TAG", num_args = 1..)]
    pub exclude_tags: Vec<String>,
    /// Host to load test: http:// or https://, any host name or address and port (e.g. http://127.0.0.1:8000).
    #[arg(
        short = 'H',
        long,
        default_value = "http://127.0.0.1:8000",
        env = "LOCUST_HOST"
    )]
    pub host: String,
    /// Trust the CA certificates in this PEM file for HTTPS, besides the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate without verifying it (requests' verify=False).
    #[arg(long)]
    pub insecure: bool,
    /// Peak number of concurrent users.
    #[arg(short = 'u', long, default_value_t = 1, env = "LOCUST_USERS")]
    pub users: usize,
    /// Users started per second.
    #[arg(
        short = 'r',
        long = "spawn-rate",
        default_value_t = 1.0,
        env = "LOCUST_SPAWN_RATE"
    )]
    pub spawn_rate: f64,
    /// Stop after this time, e.g. 300s, 20m, 3h, 1h30m (counted from the test start).
    #[arg(short = 't', long = "run-time", value_parser = parse_timespan, env = "LOCUST_RUN_TIME")]
    pub run_time: Option<Duration>,
    /// Run without the web UI.
    #[arg(long, env = "LOCUST_HEADLESS")]
    pub headless: bool,
    /// Write stats to PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv, PREFIX_exceptions.csv.
    #[arg(long, value_name = "PREFIX", env = "LOCUST_CSV")]
    pub csv: Option<PathBuf>,
    /// Write every row to the stats history, not only the aggregated one.
    #[arg(long, env = "LOCUST_CSV_FULL_HISTORY")]
    pub csv_full_history: bool,
    /// Write an HTML report to FILE (one self-contained page with charts).
    #[arg(long, value_name = "FILE", env = "LOCUST_HTML")]
    pub html: Option<PathBuf>,
    /// Write JUnit XML to FILE: each of the scenario's criteria a test case.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the verdict, baselines and tables as Markdown to FILE (a CI job summary).
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Write the final statistics, HdrHistograms included, as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print only the final summary, not the table every 2 s.
    #[arg(long, env = "LOCUST_ONLY_SUMMARY")]
    pub only_summary: bool,
    /// Seconds running tasks may take to finish when the run stops (0: stop them at once).
    #[arg(short = 's', long, value_parser = parse_seconds, default_value = "0", env = "LOCUST_STOP_TIMEOUT")]
    pub stop_timeout: Duration,
    /// Exit code when any request failed.
    #[arg(long, default_value_t = 1, env = "LOCUST_EXIT_CODE_ON_ERROR")]
    pub exit_code_on_error: u8,
    /// Reset the statistics once spawning has completed.
    #[arg(long, env = "LOCUST_RESET_STATS")]
    pub reset_stats: bool,
    /// Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    #[arg(short = 'L', long, default_value = "INFO", env = "LOCUST_LOGLEVEL")]
    pub loglevel: String,
    /// Seed for every user's random choices (default: a random seed, shown in the JSON).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds to wait for a whole response before it counts as a timeout failure.
    #[arg(long, value_parser = parse_seconds, default_value = "60")]
    pub request_timeout: Duration,
    /// List the user classes, their tasks and weights, then exit.
    #[arg(short = 'l', long)]
    pub list: bool,
    /// Stages instead of -u/-r: DURATION:USERS:RATE,... (e.g. 30s:50:5,2m:500:100,30s:50:5).
    #[arg(long, value_parser = crate::plan::shape::parse_stage_list, conflicts_with = "shape")]
    pub stages: Option<crate::plan::shape::StageList>,
    /// A built-in load shape: spike (50/500/50 users), soak (100 users, 24 h), step (100, 200, ... 3200 users).
    #[arg(long, value_name = "NAME")]
    pub shape: Option<String>,
    /// Length of each step of the step shape (default 5m).
    #[arg(long, value_parser = parse_timespan)]
    pub step_time: Option<Duration>,
    /// Open model: start this many iterations per second whatever the responses do.
    #[arg(long, value_name = "RATE", conflicts_with_all = ["stages", "shape"])]
    pub arrival_rate: Option<f64>,
    /// Ramp the arrival rate from --arrival-rate through DURATION:RATE,... (e.g. 30s:50,2m:200), then stop.
    #[arg(long, value_parser = crate::plan::shape::parse_rate_stages, requires = "arrival_rate")]
    pub arrival_stages: Option<crate::plan::shape::RateStageList>,
    /// Most users the arrival rate may use (default 100); iterations with no free user are dropped.
    #[arg(long, value_name = "N", requires = "arrival_rate")]
    pub max_users: Option<usize>,
    /// How late an iteration may start when no user is free before it is dropped (default 0).
    #[arg(long, value_parser = parse_seconds, requires = "arrival_rate")]
    pub max_delay: Option<Duration>,
    /// Step the users up (the step shape, or --stages), or with --arrival-rate the rate, until a step fails; report the breaking point.
    #[arg(long)]
    pub breakpoint: bool,
    /// A step fails when its failure ratio is over this (default 0.05 when no bound is given).
    #[arg(long, value_name = "RATIO", requires = "breakpoint")]
    pub breakpoint_fail_ratio: Option<f64>,
    /// A step fails when its 95th percentile is over this many milliseconds.
    #[arg(long, value_name = "MS", requires = "breakpoint")]
    pub breakpoint_p95_ms: Option<f64>,
    /// How --breakpoint --arrival-rate raises the rate each step: xFACTOR or +RATE (default x2).
    #[arg(long, value_name = "STEP", requires_all = ["breakpoint", "arrival_rate"], conflicts_with = "arrival_stages")]
    pub rate_step: Option<crate::verdict::breakpoint::RateStep>,
    /// Rate steps of --breakpoint --arrival-rate, each --step-time long (default 6, at most 100).
    #[arg(long, value_name = "N", requires_all = ["breakpoint", "arrival_rate"])]
    pub rate_steps: Option<usize>,
    /// Address the web UI listens on; any address but loopback needs --web-auth.
    #[arg(long, default_value = "127.0.0.1", env = "LOCUST_WEB_HOST")]
    pub web_host: String,
    /// Port the web UI listens on.
    #[arg(long, default_value_t = crate::web::DEFAULT_WEB_PORT, env = "LOCUST_WEB_PORT")]
    pub web_port: u16,
    /// HTTP basic credentials for the web UI, as user:password.
    #[arg(long, value_name = "USER:PASSWORD", env = "LOCUST_WEB_AUTH")]
    pub web_auth: Option<String>,
    /// Start the test at once, without waiting for the web UI's form.
    #[arg(long, env = "LOCUST_AUTOSTART")]
    pub autostart: bool,
    /// Quit this many seconds after the test ends (with --autostart, as in Locust).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, env = "LOCUST_AUTOQUIT")]
    pub autoquit: Option<Duration>,
    /// Serve live figures for Prometheus at GET /metrics on this port while a headless run goes on (0: any free port, printed).
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Address the --metrics-port endpoint listens on (0.0.0.0 inside a container).
    #[arg(long, value_name = "ADDR", default_value_t = crate::sinks::prometheus::DEFAULT_METRICS_HOST)]
    pub metrics_host: std::net::IpAddr,
    /// Seconds the endpoint stays up after the run, until Prometheus has read the final figures.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "5")]
    pub metrics_grace: Duration,
    /// Read more flags from FILE (Locust's format: `users = 50` lines), after ~/.locust.conf, ./locust.conf and ./pyproject.toml's [tool.locust].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write logs to FILE instead of stderr.
    #[arg(long, value_name = "FILE", env = "LOCUST_LOGFILE")]
    pub logfile: Option<PathBuf>,
    /// Run this many task iterations in all, then stop (tasks running then finish first).
    #[arg(
        short = 'i',
        long,
        value_name = "N",
        env = "LOCUST_ITERATIONS",
        conflicts_with = "arrival_rate"
    )]
    pub iterations: Option<u64>,
    /// Run only these user classes.
    #[arg(
        value_name = "UserClass",
        env = "LOCUST_USER_CLASSES",
        value_delimiter = ' '
    )]
    pub classes: Vec<String>,
}

/// Jobs other than a run.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Write a locustfile's equivalent scenario (TOML), each class and task commented
    /// with its source line; what cannot be carried over is warned about on stderr.
    Import(ImportArgs),
}

/// `loadgen import FILE.py`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The locustfile.
    #[arg(value_name = "FILE.py")]
    pub file: PathBuf,
    /// Write the scenario here instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Refuse the import (exit code 2) when anything was skipped or approximated.
    #[arg(long)]
    pub strict: bool,
    /// Keep only tasks tagged with one of these tags (Locust's --tags).
    #[arg(short = 'T', long, value_name = "TAG", num_args = 1..)]
    pub tags: Vec<String>,
    /// Leave out tasks tagged with one of these tags (Locust's --exclude-tags).
    #[arg(short = 'E', long, value_name = "TAG", num_args = 1..)]
    pub exclude_tags: Vec<String>,
}

impl ImportArgs {
    /// The import's options.
    pub fn options(&self) -> ImportOptions {
        ImportOptions {
            tags: self.tags.clone(),
            exclude_tags: self.exclude_tags.clone(),
            strict: self.strict,
        }
    }
}

/// Flags that do not make a valid run.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The scenario was refused.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The host was refused.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A bad spawn rate.
    #[error("bad --spawn-rate {0}: expected users per second above 0")]
    SpawnRate(f64),
    /// The load-plan flags do not make a plan.
    #[error(transparent)]
    Plan(#[from] crate::plan::shape::PlanError),
    /// The locustfile could not be imported.
    #[error(transparent)]
    Locustfile(#[from] LocustfileError),
    /// Tags were given for a scenario that has none.
    #[error(
        "--tags and --exclude-tags filter a locustfile's tasks; {0} is not a locustfile (.py)"
    )]
    TagsWithoutLocustfile(String),
}

/// The flags of this process: Locust's configuration files first, then the command
/// line (the environment's `LOCUST_*` variables in between, read by clap).
pub fn args_with_config_files() -> Result<Vec<std::ffi::OsString>, ConfError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let command = <Cli as clap::CommandFactory>::command();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A subcommand (`loadgen import ...`) takes no run flags, so none are added to it.
    let subcommand = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| command.find_subcommand(a).is_some());
    if subcommand {
        return Ok(args);
    }
    let flag_kind = |key: &str| {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key))?;
        Some(match arg.get_action() {
            clap::ArgAction::SetTrue => FlagKind::Switch,
            _ => FlagKind::Values,
        })
    };
    crate::locust_conf::expand(args, home.as_deref(), &cwd, flag_kind, |var| {
        std::env::var_os(var).is_some()
    })
}

impl Cli {
    /// The scenario the flags name, with positional classes applied.
    pub fn scenario(&self) -> Result<Scenario, CliError> {
        let is_locustfile = self
            .file
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "py"));
        let has_tags = !(self.tags.is_empty() && self.exclude_tags.is_empty());
        if has_tags && !is_locustfile {
            let file = self
                .file
                .as_ref()
                .map_or_else(|| DEFAULT_SCENARIO.to_owned(), |p| p.display().to_string());
            return Err(CliError::TagsWithoutLocustfile(file));
        }
        let scenario = match &self.file {
            Some(path) if is_locustfile => {
                let options = ImportOptions {
                    tags: self.tags.clone(),
                    exclude_tags: self.exclude_tags.clone(),
                    strict: false,
                };
                let import = crate::plan::locustfile::import(path, &options)?;
                for w in &import.warnings {
                    tracing::warn!("{w}");
                }
                import.scenario
            }
            Some(path) => Scenario::load(path)?,
            None => Scenario::builtin(DEFAULT_SCENARIO).ok_or_else(|| ScenarioError::Invalid {
                file: DEFAULT_SCENARIO.to_owned(),
                line: 1,
                column: 1,
                message: "the built-in scenario does not compile".to_owned(),
            })?,
        };
        Ok(scenario.select(&self.classes)?)
    }

    /// The validated run configuration and scenario.
    pub fn into_run(self) -> Result<(RunConfig, Scenario), CliError> {
        let scenario = self.scenario()?;
        if !(self.spawn_rate.is_finite() && self.spawn_rate > 0.0) {
            return Err(CliError::SpawnRate(self.spawn_rate));
        }
        let target = Target::parse(&self.host)?;
        let (load, breakpoint) =
            crate::plan::shape::plan_from_flags(&self.plan_flags(), scenario.plan.as_ref())?;
        let console = if self.only_summary {
            ConsoleMode::Summary
        } else {
            ConsoleMode::Full
        };
        let config = RunConfig {
            target,
            tls: self.tls_options()?,
            resolver: Resolver::system(),
            load,
            run_time: self.run_time,
            stop_timeout: self.stop_timeout,
            seed: self.seed.unwrap_or_else(rand::random),
            request_timeout: self.request_timeout,
            reset_stats: self.reset_stats,
            exit_code_on_error: self.exit_code_on_error,
            trace: None,
            output: OutputConfig {
                console,
                csv_prefix: self.csv,
                csv_full_history: self.csv_full_history,
                json: self.json,
                html: self.html,
                junit: self.junit,
                summary_md: self.summary_md,
            },
            stop: CancellationToken::new(),
            shards: default_shards(),
            snapshots: None,
            retarget: None,
            reset: None,
            breakpoint,
            iterations: self.iterations,
        };
        Ok((config, scenario))
    }
}

impl Cli {
    /// The load-plan flags, for `shape::plan_from_flags`.
    pub fn plan_flags(&self) -> crate::plan::shape::PlanFlags {
        crate::plan::shape::PlanFlags {
            users: self.users,
            spawn_rate: self.spawn_rate,
            stages: self.stages.clone().map(|s| s.0),
            shape: self.shape.clone(),
            step_time: self.step_time,
            arrival_rate: self.arrival_rate,
            arrival_stages: self.arrival_stages.clone().map(|s| s.0),
            max_users: self.max_users,
            max_delay: self.max_delay,
            breakpoint: self.breakpoint,
            breakpoint_fail_ratio: self.breakpoint_fail_ratio,
            breakpoint_p95_ms: self.breakpoint_p95_ms,
            rate_step: self.rate_step,
            rate_steps: self.rate_steps,
        }
    }
}

/// The live sinks' configuration: each takes only what it needs, built here from the flags.
impl Cli {
    /// The endpoint the flags ask for, if any. `--metrics-port` needs `--headless`: the
    /// web UI starts and ends runs of its own and shows their figures itself.
    pub fn metrics_config(&self) -> Result<Option<MetricsConfig>, MetricsError> {
        let cli = self;
        let Some(port) = cli.metrics_port else {
            return Ok(None);
        };
        if !cli.headless {
            return Err(MetricsError::NeedsHeadless { port });
        }
        Ok(Some(MetricsConfig {
            bind: SocketAddr::new(cli.metrics_host, port),
            grace: cli.metrics_grace,
        }))
    }

    /// The web UI's configuration from the command line and the run it validated: the
    /// form is prefilled with `-u`, `-r`, `-H`, `-t` and the positional classes, and every
    /// class of the scenario is offered.
    pub fn web_config(&self, mut base: RunConfig) -> Result<WebConfig, WebError> {
        let cli = self;
        if let Some(flag) = headless_only_flag(cli) {
            return Err(WebError::HeadlessOnly { flag });
        }
        let auth = cli
            .web_auth
            .as_deref()
            .map(Credentials::parse)
            .transpose()?;
        let whole = Cli {
            classes: Vec::new(),
            ..cli.clone()
        };
        let scenario = whole
            .scenario()
            .map_err(|e| WebError::Scenario(e.to_string()))?;
        // The page shows the figures; the console keeps only each run's final summary.
        if base.output.console == ConsoleMode::Full {
            base.output.console = ConsoleMode::Summary;
        }
        Ok(WebConfig {
            bind: bind_address(&cli.web_host, cli.web_port)?,
            auth,
            defaults: RunParams {
                users: cli.users,
                spawn_rate: cli.spawn_rate,
                host: base.target.url.clone(),
                run_time: cli.run_time,
                classes: cli.classes.clone(),
            },
            base,
            autostart: cli.autostart,
            autoquit: cli.autoquit,
            criteria: scenario.criteria.clone(),
            baselines: scenario.baselines,
            scenario,
        })
    }
}

impl Cli {
    /// How TLS connections are verified: `--ca-cert`'s certificates (read and checked
    /// now) besides the system's roots, or not at all with `--insecure`.
    pub fn tls_options(&self) -> Result<TlsOptions, TargetError> {
        let mut tls = TlsOptions {
            insecure: self.insecure,
            ..TlsOptions::default()
        };
        if let Some(path) = &self.ca_cert {
            tls.add_ca_file(path)?;
        }
        Ok(tls)
    }
}

/// The first flag whose load plan only a headless run carries out, if any.
fn headless_only_flag(cli: &Cli) -> Option<&'static str> {
    [
        (cli.arrival_rate.is_some(), "--arrival-rate"),
        (cli.stages.is_some(), "--stages"),
        (cli.shape.is_some(), "--shape"),
        (cli.breakpoint, "--breakpoint"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::load::LoadPlan;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn locust_flags_map_to_the_config() {
        let (config, scenario) = cli(&[
            "-H",
            "http://127.0.0.1:9000",
            "-u",
            "50",
            "-r",
            "2.5",
            "-t",
            "1h30m",
            "--headless",
            "--csv",
            "out/run",
            "--stop-timeout",
            "5",
            "--exit-code-on-error",
            "3",
            "--seed",
            "7",
            "ACISAPIUser",
        ])
        .into_run()
        .unwrap();
        assert_eq!(
            config.load,
            LoadPlan::Users {
                users: 50,
                spawn_rate: 2.5
            }
        );
        assert_eq!(config.run_time, Some(Duration::from_secs(5400)));
        assert_eq!(config.stop_timeout, Duration::from_secs(5));
        assert_eq!((config.exit_code_on_error, config.seed), (3, 7));
        assert_eq!(config.output.csv_prefix, Some(PathBuf::from("out/run")));
        assert_eq!(scenario.class_names(), ["ACISAPIUser"]);
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(Cli::try_parse_from(["loadgen", "-t", "1d"]).is_err());
        assert!(matches!(
            cli(&["-r", "0"]).into_run(),
            Err(CliError::SpawnRate(_))
        ));
        assert!(matches!(
            cli(&["-H", "ftp://127.0.0.1"]).into_run(),
            Err(CliError::Target(_))
        ));
        assert!(matches!(
            cli(&["--ca-cert", "no/such/ca.pem"]).into_run(),
            Err(CliError::Target(TargetError::CaCert { .. }))
        ));
        assert!(matches!(
            cli(&["Nobody"]).into_run(),
            Err(CliError::Scenario(ScenarioError::UnknownClass { .. }))
        ));
        assert!(matches!(
            cli(&["-f", "no/such/file.toml"]).into_run(),
            Err(CliError::Scenario(ScenarioError::Read { .. }))
        ));
    }

    #[test]
    fn builtin_names_work_as_files() {
        let (_, scenario) = cli(&["-f", "guide"]).into_run().unwrap();
        assert_eq!(scenario.class_names(), ["GuideUser"]);
    }

    #[test]
    fn an_arrival_rate_breakpoint_steps_the_rate() {
        let (config, _) = cli(&[
            "--breakpoint",
            "--arrival-rate",
            "50",
            "--rate-step",
            "+25",
            "--rate-steps",
            "3",
            "--step-time",
            "10s",
        ])
        .into_run()
        .unwrap();
        let LoadPlan::Arrival(plan) = config.load else {
            panic!("not an arrival plan: {:?}", config.load);
        };
        assert!(plan.steps && config.breakpoint.is_some());
        let steps: Vec<(u64, f64)> = plan
            .stages
            .iter()
            .map(|s| (s.duration.as_secs(), s.target))
            .collect();
        assert_eq!(steps, [(10, 50.0), (10, 75.0), (10, 100.0)]);
        // The default: doubling, six steps.
        let (config, _) = cli(&["--breakpoint", "--arrival-rate", "10"])
            .into_run()
            .unwrap();
        let LoadPlan::Arrival(plan) = config.load else {
            panic!("not an arrival plan");
        };
        assert_eq!(plan.stages.last().map(|s| s.target), Some(320.0));
        // Ramped stages are not steps; a bad step is refused with what was expected.
        assert!(matches!(
            cli(&[
                "--breakpoint",
                "--arrival-rate",
                "10",
                "--arrival-stages",
                "1s:20"
            ])
            .into_run(),
            Err(CliError::Plan(
                crate::plan::shape::PlanError::BreakpointWithArrival
            ))
        ));
        let e = Cli::try_parse_from([
            "loadgen",
            "--breakpoint",
            "--arrival-rate",
            "1",
            "--rate-step",
            "x0.5",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("xFACTOR"), "{e}");
        assert!(Cli::try_parse_from(["loadgen", "--rate-step", "x2"]).is_err());
    }

    #[test]
    fn plans_only_a_headless_run_carries_out_are_refused_not_dropped() {
        use clap::Parser as _;
        let base = || RunConfig::new(Target::parse("http://127.0.0.1:1").unwrap(), 1, 1.0, None);
        let cli = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
                .unwrap()
        };
        for (args, flag) in [
            (&["--arrival-rate", "5"][..], "--arrival-rate"),
            (&["--stages", "1s:2:1"][..], "--stages"),
            (&["--shape", "spike"][..], "--shape"),
            (&["--breakpoint"][..], "--breakpoint"),
        ] {
            let e = cli(args).web_config(base()).unwrap_err();
            assert!(
                matches!(e, WebError::HeadlessOnly { flag: f } if f == flag),
                "{args:?}: {e}"
            );
            assert!(e.to_string().contains("needs --headless"), "{e}");
        }
        assert!(cli(&["-u", "3"]).web_config(base()).is_ok());
    }
}
