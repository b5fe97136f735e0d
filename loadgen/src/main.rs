//! The `loadgen` binary: parse Locust's flags, run, print the error chain once.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use loadgen::cli::Cli;
use loadgen::metrics::{MetricsConfig, MetricsServer};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let args = match loadgen::cli::args_with_config_files() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Usage, scenario and internal errors all exit 2, as in Locust.
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let logs = init_logging(&cli.loglevel, cli.logfile.as_deref())?;
    match &cli.command {
        Some(loadgen::cli::Command::Import(args)) => return import(args),
        Some(loadgen::cli::Command::Merge(args)) => return merge(args),
        Some(loadgen::cli::Command::Compare(args)) => {
            let outcome = loadgen::compare::run_compare(&args.job())?;
            print!("{}", outcome.text);
            return Ok(ExitCode::from(outcome.exit_code()));
        }
        None => {}
    }
    let processes = cli.worker_processes()?;
    if cli.worker {
        return match processes {
            Some(n) => worker_processes(n),
            None => worker(cli),
        };
    }
    if cli.list {
        print!("{}", cli.scenario()?.listing());
        return Ok(ExitCode::SUCCESS);
    }
    let headless = cli.headless;
    let flags = cli.clone();
    let metrics = flags.metrics_config()?;
    let (config, scenario) = cli.into_run()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if !headless {
        let mut web = flags.web_config(config)?;
        // The Logs tab shows what the logger writes.
        web.logs = logs;
        return runtime.block_on(serve_web(web));
    }
    runtime.block_on(async move {
        tokio::spawn(stop_on_signals(config.stop.clone()));
        let outcome = run_headless(config, scenario, metrics).await?;
        for e in &outcome.output_errors {
            eprintln!("error: {e}");
        }
        let code = if outcome.output_errors.is_empty() {
            outcome.exit_code
        } else {
            2
        };
        Ok(ExitCode::from(code))
    })
}

/// `loadgen merge RUN.json...`: the merged table to stdout, files where asked; exit 2
/// when a file could not be written.
fn merge(args: &loadgen::cli::MergeArgs) -> anyhow::Result<ExitCode> {
    let merged = loadgen::merge::merge_files(&args.reports)?;
    for w in &merged.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", loadgen::console::final_summary(&merged.snapshot));
    let errors = loadgen::merge::write_outputs(&merged, &args.outputs());
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(ExitCode::from(if errors.is_empty() { 0 } else { 2 }))
}

/// `loadgen --worker`: a Locust worker until its master quits (or Ctrl-C).
fn worker(cli: Cli) -> anyhow::Result<ExitCode> {
    let (config, scenario) = cli.into_worker()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        tokio::spawn(stop_on_signals(config.stop.clone()));
        let outcome = loadgen::worker::run_worker(config, scenario).await;
        for e in &outcome.output_errors {
            eprintln!("error: {e}");
        }
        let code = if outcome.output_errors.is_empty() {
            outcome.exit.exit_code()
        } else {
            2
        };
        Ok(ExitCode::from(code))
    })
}

/// `loadgen --worker --processes N`: N worker processes, each this program with the same
/// flags but `--processes` (and its own `--json` file), in their own process group so that Ctrl-C reaches them once,
/// through this one (as SIGTERM). Exits with the first non-zero code of a child.
fn worker_processes(n: usize) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find this program to start workers")?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut children = Vec::with_capacity(n);
        for i in 0..n {
            let child = tokio::process::Command::new(&exe)
                .args(loadgen::cli::worker_process_args(&args, i))
                .env_remove("LOCUST_PROCESSES")
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .with_context(|| format!("cannot start worker process {}", i + 1))?;
            children.push(child);
        }
        eprintln!("Started {n} worker processes");
        let pids: Vec<u32> = children
            .iter()
            .filter_map(tokio::process::Child::id)
            .collect();
        tokio::spawn(async move {
            if wait_for_signal().await.is_ok() {
                for pid in &pids {
                    terminate(*pid);
                }
            }
        });
        let mut code = 0u8;
        for mut child in children {
            let status = child
                .wait()
                .await
                .context("cannot wait for a worker process")?;
            let child_code = status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1));
            if code == 0 {
                code = child_code;
            }
        }
        Ok(ExitCode::from(code))
    })
}

/// Asks a worker process to stop as Ctrl-C would.
fn terminate(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // A child that already exited is no error.
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
}

/// `loadgen import FILE.py`: the scenario to stdout or `-o FILE` (written whole or not
/// at all), warnings to stderr.
fn import(args: &loadgen::cli::ImportArgs) -> anyhow::Result<ExitCode> {
    let import = loadgen::plan::locustfile::import(&args.file, &args.options())?;
    for w in &import.warnings {
        eprintln!("warning: {w}");
    }
    match &args.output {
        Some(path) => {
            write_whole(path, &import.toml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "Wrote {} ({} classes, {} warnings)",
                path.display(),
                import.scenario.classes.len(),
                import.warnings.len()
            );
        }
        None => print!("{}", import.toml),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a file through a temporary sibling and a rename, so a reader never sees half
/// of it.
fn write_whole(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Runs headless, serving `--metrics-port` from before the run until its final figures
/// were scraped (or the grace passed).
async fn run_headless(
    mut config: loadgen::RunConfig,
    scenario: loadgen::Scenario,
    metrics: Option<MetricsConfig>,
) -> anyhow::Result<loadgen::RunOutcome> {
    let Some(metrics) = metrics else {
        return Ok(loadgen::run(config, scenario).await?);
    };
    let snapshots = loadgen::metrics::subscribe(&mut config);
    let server = MetricsServer::bind(&metrics, snapshots).await?;
    eprintln!(
        "Serving Prometheus metrics at http://{}/metrics",
        server.local_addr()
    );
    let stop = config.stop.clone();
    let outcome = loadgen::run(config, scenario).await;
    server.finish(&stop).await;
    Ok(outcome?)
}

/// Serves the web UI until Ctrl-C (or `--autoquit`); exits with the last run's code.
async fn serve_web(web: loadgen::web::WebConfig) -> anyhow::Result<ExitCode> {
    let ui = loadgen::web::WebUi::bind(web).await?;
    eprintln!("Starting web interface at http://{}", ui.local_addr()?);
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signals(shutdown.clone()));
    Ok(ExitCode::from(ui.serve(shutdown).await?))
}

/// The first Ctrl-C or SIGTERM ends the run like the run time would (tables and files
/// are written); a second one exits at once.
async fn stop_on_signals(stop: CancellationToken) {
    if wait_for_signal().await.is_err() {
        return;
    }
    eprintln!("\nStopping the run (press Ctrl-C again to exit at once)...");
    stop.cancel();
    if wait_for_signal().await.is_ok() {
        std::process::exit(130);
    }
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

/// Logs go to stderr (or `--logfile`, appended to) at Locust's level names.
fn init_logging(
    level: &str,
    logfile: Option<&std::path::Path>,
) -> anyhow::Result<loadgen::web::LogRing> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = match level.to_ascii_uppercase().as_str() {
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        other => anyhow::bail!(
            "bad --loglevel {other:?}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL"
        ),
    };
    // Every line also goes to the ring the web UI's Logs tab reads.
    let ring = loadgen::web::LogRing::default();
    let logs = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(format!(
            "loadgen={filter}"
        )))
        .with(ring.layer());
    let lines = tracing_subscriber::fmt::layer().with_target(false);
    match logfile {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open --logfile {}", path.display()))?;
            logs.with(
                lines
                    .with_writer(std::sync::Mutex::new(file))
                    .with_ansi(false),
            )
            .init();
        }
        None => logs
            .with(
                lines
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .init(),
    }
    Ok(ring)
}
