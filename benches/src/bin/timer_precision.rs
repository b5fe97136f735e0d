//! `timer_precision`: how late mock-api's precise timer (or tokio's, for comparison)
//! resumes a task after its deadline, with N tasks each sleeping a fixed delay in a loop.
//! No HTTP: this isolates the timer from the server's other work.
//!
//! `timer_precision --tasks 1000 --delay-ms 10 --secs 5 [--tokio] [--workers 1] [--lead-us 50]`

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use mock_api::timer::PreciseTimer;

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Lateness of precise (or tokio) sleeps with many tasks sleeping at once")]
struct Args {
    /// Tasks sleeping at once.
    #[arg(long, default_value_t = 1000)]
    tasks: usize,
    /// Each sleep, ms.
    #[arg(long, default_value_t = 10.0)]
    delay_ms: f64,
    /// How long to run, seconds.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// Use tokio::time::sleep_until instead of the precise timer.
    #[arg(long)]
    tokio: bool,
    /// How early the precise timer's thread wakes a task, which then spins out the
    /// rest, us (default: mock-api's; 0: woken at the deadline, no spinning).
    #[arg(long)]
    lead_us: Option<u64>,
    /// Runtime worker threads (default: available cores).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("timer_precision: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = args.workers {
        builder.worker_threads(w.max(1));
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let timer = match args.lead_us {
        Some(us) => PreciseTimer::with_lead(Duration::from_micros(us)),
        None => PreciseTimer::start(),
    };
    let delay = Duration::try_from_secs_f64(args.delay_ms / 1000.0).context("--delay-ms")?;
    let end = Instant::now() + Duration::from_secs(args.secs);
    let lateness: Vec<Vec<u64>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..args.tasks)
            .map(|i| {
                let h = timer.handle();
                let use_tokio = args.tokio;
                tokio::spawn(async move {
                    // Spread the first deadlines over one delay, as arrivals would be.
                    let offset = delay.mul_f64(i as f64 / args.tasks.max(1) as f64);
                    tokio::time::sleep(offset).await;
                    let mut late = Vec::new();
                    while Instant::now() < end {
                        let deadline = Instant::now() + delay;
                        if use_tokio {
                            tokio::time::sleep_until(deadline.into()).await;
                        } else {
                            h.sleep_until(deadline).await;
                        }
                        late.push(
                            Instant::now()
                                .saturating_duration_since(deadline)
                                .as_micros() as u64,
                        );
                    }
                    late
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap_or_default());
        }
        all
    });
    let mut all: Vec<u64> = lateness.into_iter().flatten().collect();
    all.sort_unstable();
    let q = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{} sleeps of {} ms by {} tasks ({}): lateness us p50 {} p90 {} p99 {} p99.9 {} max {}",
        all.len(),
        args.delay_ms,
        args.tasks,
        if args.tokio { "tokio" } else { "precise" },
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        all.last().copied().unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}
