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
use crate::web::{bind_address, Credentials, RunParams, WebConfig, WebError, WebLimits};
use crate::worker::WorkerConfig;

/// Locust's flags. Without `-f`, the built-in `acis` scenario runs.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    version,
    // A flag given twice keeps its last value, so the command line overrides the
    // configuration files' flags placed before it.
    args_override_self = true,
    about = "A load generator that speaks Locust: user classes, flags, tables and CSV, with exact HdrHistogram percentiles",
    after_help = "Percentiles: the tables and CSV files keep Locust's layout and its \"(approximated)\" heading, but their figures are exact to 3 significant digits (HdrHistogram). Locust first rounds each response time to 1 ms under 100 ms, 10 ms under 1 s, 100 ms under 10 s and 1 s above, so its percentiles can differ from loadgen's by up to that step.",
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
    /// Write stats to PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv, PREFIX_exceptions.csv (exact percentiles in Locust's columns).
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
    /// Send an X-Request-Id with every request and write one CSV line per request to
    /// FILE: id, row, start, measured time and the server's Server-Timing time (ms).
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
    /// Warn when a row's client overhead p99 (measured minus the server's Server-Timing
    /// time) passes this share of its p99 response time.
    #[arg(long, value_name = "SHARE", default_value_t = crate::sinks::overhead::DEFAULT_OVERHEAD_SHARE, value_parser = parse_share)]
    pub overhead_warn_share: f64,
    /// Print only the final summary, not the table every 2 s.
    #[arg(long, env = "LOCUST_ONLY_SUMMARY")]
    pub only_summary: bool,
    /// End with every row's analysis sentences, not only the rows with findings.
    #[arg(long)]
    pub verbose: bool,
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
    /// Most users the web UI's form may start (at most 100000).
    #[arg(long, value_name = "N", default_value_t = crate::web::WebLimits::default().max_users as u64,
          value_parser = clap::value_parser!(u64).range(1..=crate::web::MAX_USERS as u64))]
    pub web_max_users: u64,
    /// Most users per second the web UI's form may start (at most 10000).
    #[arg(long, value_name = "RATE", default_value_t = crate::web::WebLimits::default().max_spawn_rate,
          value_parser = parse_web_spawn_rate)]
    pub web_max_spawn_rate: f64,
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
    /// Run as a Locust worker: take the users to run from a Locust master (--master-host, --master-port) and send it the statistics, as `locust --worker` does.
    #[arg(long, env = "LOCUST_MODE_WORKER", conflicts_with_all = ["stages", "shape", "arrival_rate", "breakpoint", "iterations"])]
    pub worker: bool,
    /// The Locust master a --worker connects to (any host; the load still goes to loopback only).
    #[arg(long, default_value = "127.0.0.1", env = "LOCUST_MASTER_NODE_HOST")]
    pub master_host: String,
    /// The Locust master's port a --worker connects to.
    #[arg(long, default_value_t = crate::worker::DEFAULT_MASTER_PORT, env = "LOCUST_MASTER_NODE_PORT")]
    pub master_port: u16,
    /// A --worker exits when the master sent no heartbeat for this many seconds (Locust: 60).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "60")]
    pub master_heartbeat_timeout: Duration,
    /// With --worker: start this many worker processes (-1: one per core), as Locust's --processes. Without --worker it is refused: one loadgen process already uses every core.
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        env = "LOCUST_PROCESSES"
    )]
    pub processes: Option<i64>,
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
    /// Compare two runs (loadgen JSON reports or Locust stats CSVs) with significance;
    /// exit 1 when a significant change crosses a --fail-if threshold.
    Compare(CompareArgs),
    /// Merge the JSON reports (--json) of runs made in parallel into one: HdrHistograms
    /// added exactly, counts and failures summed, the history aligned on wall time.
    Merge(MergeArgs),
}

/// `loadgen compare BASELINE CURRENT`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The baseline run: a loadgen JSON report (--json) or Locust's *_stats.csv.
    #[arg(value_name = "BASELINE")]
    pub baseline: PathBuf,
    /// The current run, in either format.
    #[arg(value_name = "CURRENT")]
    pub current: PathBuf,
    /// Fail (exit 1) when a significant change crosses this: 'p95 > +10%', 'avg > +50ms', 'fail_ratio > +1pp'.
    #[arg(long, value_name = "EXPR")]
    pub fail_if: Vec<String>,
    /// Write the comparison as Markdown (fits a pull-request comment).
    #[arg(long, value_name = "FILE")]
    pub summary_md: Option<PathBuf>,
    /// Write JUnit XML: one test case per row and threshold.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the comparison as an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

impl CompareArgs {
    /// The comparison's job.
    pub fn job(&self) -> crate::sinks::compare::CompareJob {
        crate::sinks::compare::CompareJob {
            baseline: self.baseline.clone(),
            current: self.current.clone(),
            fail_if: self.fail_if.clone(),
            summary_md: self.summary_md.clone(),
            junit: self.junit.clone(),
            html: self.html.clone(),
        }
    }
}

/// `loadgen merge RUN1.json RUN2.json ...`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// The JSON reports to merge.
    #[arg(value_name = "RUN.json", required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// Write Locust's CSV files of the merge with this prefix.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Write the merge's HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the merged JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

impl MergeArgs {
    /// Where the merge is written.
    pub fn outputs(&self) -> crate::merge::MergeOutputs {
        crate::merge::MergeOutputs {
            csv_prefix: self.csv.clone(),
            html: self.html.clone(),
            json: self.json.clone(),
        }
    }
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
    /// `--processes` without `--worker`.
    #[error(
        "--processes {0} needs --worker: it starts that many Locust worker processes. A loadgen run without a master already uses every core in one process; to spread load over machines, run a Locust master and `loadgen --worker` on each (see docs/DISTRIBUTED.md)"
    )]
    ProcessesWithoutWorker(i64),
    /// A `--processes` count that is neither -1 nor positive.
    #[error("bad --processes {0}: expected a number of processes from 1, or -1 for one per core")]
    Processes(i64),
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

/// The flags of worker process `index` (0-based) that `--worker --processes N` starts:
/// the same flags without `--processes`, and `--json FILE` made `FILE` with `.N` before
/// its extension (`w.json` -> `w.1.json`, counting from 1) so the processes do not write
/// one file.
pub fn worker_process_args(args: &[std::ffi::OsString], index: usize) -> Vec<std::ffi::OsString> {
    let per_process = |path: &str| {
        let p = std::path::Path::new(path);
        let n = index + 1;
        match (p.file_stem(), p.extension()) {
            (Some(stem), Some(ext)) => p
                .with_file_name(format!(
                    "{}.{n}.{}",
                    stem.to_string_lossy(),
                    ext.to_string_lossy()
                ))
                .into_os_string(),
            _ => format!("{path}.{n}").into(),
        }
    };
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.to_str() {
            Some("--processes") => {
                iter.next();
            }
            Some(a) if a.starts_with("--processes=") => {}
            Some("--json") => {
                out.push(arg.clone());
                if let Some(path) = iter.next() {
                    out.push(per_process(&path.to_string_lossy()));
                }
            }
            Some(a) if a.starts_with("--json=") => {
                let mut flag = std::ffi::OsString::from("--json=");
                flag.push(per_process(&a["--json=".len()..]));
                out.push(flag);
            }
            _ => out.push(arg.clone()),
        }
    }
    out
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
                verbose: self.verbose,
                request_log: self.request_log.clone(),
                overhead_warn_share: Some(self.overhead_warn_share),
            },
            stop: CancellationToken::new(),
            shards: default_shards(),
            snapshots: None,
            retarget: None,
            reset: None,
            breakpoint,
            iterations: self.iterations,
            request_log: self.request_log.is_some(),
        };
        Ok((config, scenario))
    }
}

impl Cli {
    /// The validated configuration of a Locust worker (`--worker`) and its scenario.
    pub fn into_worker(self) -> Result<(WorkerConfig, Scenario), CliError> {
        let scenario = self.scenario()?;
        let target = Target::parse(&self.host)?;
        let mut config = WorkerConfig::new(&self.master_host, self.master_port, target);
        config.tls = self.tls_options()?;
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        config.request_timeout = self.request_timeout;
        config.json = self.json;
        config.master_heartbeat_timeout = self.master_heartbeat_timeout;
        config.scenario_label = self
            .file
            .map_or_else(|| DEFAULT_SCENARIO.to_owned(), |p| p.display().to_string());
        Ok((config, scenario))
    }

    /// How many worker processes `--processes` asks for (`None`: this process alone).
    pub fn worker_processes(&self) -> Result<Option<usize>, CliError> {
        let Some(n) = self.processes else {
            return Ok(None);
        };
        if !self.worker {
            return Err(CliError::ProcessesWithoutWorker(n));
        }
        match n {
            -1 => Ok(Some(crate::engine::selfmon::available_cores())),
            n if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            n => Err(CliError::Processes(n)),
        }
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
            limits: WebLimits {
                max_users: usize::try_from(cli.web_max_users).unwrap_or(crate::web::MAX_USERS),
                max_spawn_rate: cli.web_max_spawn_rate,
            },
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
            logs: crate::web::LogRing::default(),
        })
    }
}

/// Parses `--web-max-spawn-rate`: users per second above 0, at most the form's ceiling.
fn parse_web_spawn_rate(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0 && *r <= crate::web::MAX_SPAWN_RATE)
        .ok_or_else(|| {
            format!(
                "expected users per second above 0 and at most {}",
                crate::web::MAX_SPAWN_RATE
            )
        })
}

/// Parses `--overhead-warn-share`: a share above 0 (1 is the whole p99).
fn parse_share(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| "expected a share above 0, such as 0.1 for 10%".to_owned())
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

    #[test]
    fn worker_flags_make_a_worker_config() {
        let (config, scenario) = cli(&[
            "--worker",
            "--master-host",
            "master.example",
            "--master-port",
            "6000",
            "-H",
            "http://127.0.0.1:9000",
            "--json",
            "w.json",
            "--master-heartbeat-timeout",
            "3",
            "-f",
            "guide",
        ])
        .into_worker()
        .unwrap();
        assert_eq!(config.master_host, "master.example");
        assert_eq!(config.master_port, 6000);
        assert_eq!(config.target.url, "http://127.0.0.1:9000");
        assert_eq!(config.json.as_deref(), Some(std::path::Path::new("w.json")));
        assert_eq!(config.master_heartbeat_timeout, Duration::from_secs(3));
        assert!(!scenario.classes.is_empty());
        let (host, hex) = config.node_id.split_once('_').unwrap();
        assert!(!host.is_empty() && !host.contains('_'));
        assert_eq!(hex.len(), 32);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
        let defaults = cli(&["--worker"]);
        assert_eq!(
            (defaults.master_host.as_str(), defaults.master_port),
            ("127.0.0.1", 5557)
        );
    }

    #[test]
    fn processes_need_a_worker_and_a_count() {
        let err = cli(&["--processes", "4"]).worker_processes().unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("needs --worker") && text.contains("every core"),
            "{text}"
        );
        assert_eq!(
            cli(&["--worker", "--processes", "3"])
                .worker_processes()
                .unwrap(),
            Some(3)
        );
        let per_core = cli(&["--worker", "--processes", "-1"])
            .worker_processes()
            .unwrap();
        assert!(per_core.is_some_and(|n| n >= 1));
        assert!(cli(&["--worker", "--processes", "0"])
            .worker_processes()
            .is_err());
        assert_eq!(cli(&["--worker"]).worker_processes().unwrap(), None);
    }

    #[test]
    fn worker_processes_get_their_own_json_file() {
        let args: Vec<std::ffi::OsString> = [
            "--worker",
            "--processes",
            "4",
            "--json",
            "out/w.json",
            "-f",
            "x.py",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let second: Vec<String> = worker_process_args(&args, 1)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(second, ["--worker", "--json", "out/w.2.json", "-f", "x.py"]);
        let eq: Vec<std::ffi::OsString> = ["--processes=2", "--json=w"]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(
            worker_process_args(&eq, 0),
            [std::ffi::OsString::from("--json=w.1")]
        );
    }
}
