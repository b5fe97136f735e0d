//! `mock-api`: parse the command line, run, print the error chain once.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use mock_api::cli::{self, Cli, Command, ProfileAction, ServeArgs};
use mock_api::profile::Profile;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mock-api: error: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs one command.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Profiles) => {
            print!("{}", cli::list_profiles()?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Profile {
            action: ProfileAction::Show { name },
        }) => {
            print!("{}", Profile::load(&name)?.to_toml());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Profile {
            action:
                ProfileAction::Fit {
                    csv,
                    history,
                    output,
                    name,
                },
        }) => fit(&csv, history.as_deref(), &output, name),
        Some(Command::Serve(args)) => serve(&args),
        None => serve(&cli.serve),
    }
}

/// `mock-api profile fit`: the profile to `output` (whole or not at all), what became of
/// each row to stderr.
fn fit(
    csv: &std::path::Path,
    history: Option<&std::path::Path>,
    output: &std::path::Path,
    name: Option<String>,
) -> anyhow::Result<ExitCode> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let text = read(csv)?;
    let history = match history {
        Some(path) => Some((read(path)?, path.display().to_string())),
        None => None,
    };
    let source = csv.display().to_string();
    let name = name.unwrap_or_else(|| {
        output
            .file_stem()
            .map_or("fitted".to_owned(), |s| s.to_string_lossy().into_owned())
    });
    let fit = mock_api::profile::fit_with_history(
        &text,
        &source,
        &name,
        history.as_ref().map(|(t, o)| (t.as_str(), o.as_str())),
    )?;
    let toml = fit.to_toml(&source);
    let mut tmp = output.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, &toml)
        .and_then(|()| std::fs::rename(&tmp, output))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write {}", output.display()))?;
    for f in &fit.fitted {
        eprintln!("{} -> {}: {}", f.row, f.route, f.how);
    }
    for u in &fit.unmatched {
        eprintln!("not fitted: {u}");
    }
    if let Some(h) = &fit.history {
        eprintln!("capacity: {}", h.how);
        for w in &h.warnings {
            eprintln!("warning: {w}");
        }
    }
    eprintln!(
        "Wrote {} ({} routes fitted, {} rows not fitted)",
        output.display(),
        fit.fitted.len(),
        fit.unmatched.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .with_context(|| format!("--log {:?}", args.log))?,
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person's terminal, never into a redirected log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match mock_api::server::raise_open_file_limit() {
        Ok(l) => tracing::info!(
            before = l.before,
            now = l.after,
            hard = l.hard,
            "open-file limit (each connection takes one)"
        ),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    let config = args.to_config().context("loading the profile")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // A delay ends on the precise-timer thread, which wakes its task through the
        // runtime's global queue. A busy worker looks there only every ~200 us by
        // default (tokio's self-tuning target). Looking there first, before every task,
        // puts a response that is due ahead of reading new requests: the only other
        // remote wakes are the database's, which are also work in flight. It costs one
        // atomic load per task while the global queue is empty.
        .global_queue_interval(1)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let server = mock_api::spawn(config).await.with_context(|| {
            format!(
                "starting on {}:{} with {}",
                args.bind,
                args.port,
                cli::describe_database(&args.database)
            )
        })?;
        eprintln!(
            "mock-api listening on http://{} (profile {})",
            server.addr(),
            args.profile
        );
        mock_api::server::shutdown_signal().await;
        eprintln!("mock-api: shutting down");
        let report = server.shutdown().await.context("shutting down")?;
        if report.jobs_interrupted > 0 {
            eprintln!(
                "mock-api: {} running job(s) marked interrupted",
                report.jobs_interrupted
            );
        }
        if report.connections_abandoned > 0 {
            eprintln!(
                "mock-api: error: {} connection(s) still open after the {} s shutdown grace were abandoned without an answer (raise --shutdown-grace-secs to let them finish)",
                report.connections_abandoned, args.shutdown_grace_secs
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The error chain joined by ": ", skipping a cause its parent's message already shows.
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !last.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        last = text;
    }
    out
}
