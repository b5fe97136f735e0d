//! `baseline`: a bare axum server answering /health and /api/clients with the bytes of
//! two files (captured from mock-api), for the overhead comparison in `compare.sh`, and
//! over HTTPS (`--tls-ca-out`) for the TLS comparison.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use benches::baseline::{router, serve, Bodies};
use clap::Parser;

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "A bare axum server answering fixed bytes (the overhead baseline)")]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// File whose bytes answer GET /health.
    #[arg(long)]
    health: PathBuf,
    /// File whose bytes answer GET /api/clients.
    #[arg(long)]
    clients: PathBuf,
    /// Hold each response this many milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Serve HTTPS with a certificate made now for localhost and 127.0.0.1, writing its
    /// CA's PEM to this file.
    #[arg(long, value_name = "FILE")]
    tls_ca_out: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("baseline: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let read = |p: &PathBuf| {
        std::fs::read(p)
            .map(Into::into)
            .with_context(|| format!("reading {}", p.display()))
    };
    let bodies = Bodies {
        health: read(&args.health)?,
        clients: read(&args.clients)?,
    };
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let router = router(bodies, Duration::from_millis(args.delay_ms));
    match &args.tls_ca_out {
        Some(ca_out) => runtime
            .block_on(benches::tls::serve_tls(addr, router, ca_out, |a| {
                eprintln!("baseline listening on https://{a}");
            }))
            .with_context(|| format!("serving HTTPS on {addr}"))?,
        None => runtime
            .block_on(serve(addr, router, |a| {
                eprintln!("baseline listening on http://{a}");
            }))
            .with_context(|| format!("serving on {addr}"))?,
    }
    Ok(ExitCode::SUCCESS)
}
