//! The command line: `mock-api [serve] ...`, `mock-api profiles`,
//! `mock-api profile show NAME`. Parsed by clap, then turned once into a validated
//! [`ServerConfig`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::profile::{Profile, ProfileError};
use crate::server::ServerConfig;

/// An imitation of the ACIS trading platform with configurable latency and failures.
#[derive(Debug, Parser)]
#[command(
    name = "mock-api",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve` (also accepted without the word `serve`).
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the platform's API (the default).
    Serve(ServeArgs),
    /// List the built-in profiles with their descriptions.
    Profiles,
    /// Work with one profile.
    Profile {
        /// What to do with it.
        #[command(subcommand)]
        action: ProfileAction,
    },
}

/// `mock-api profile ...`.
#[derive(Debug, Subcommand)]
pub enum ProfileAction {
    /// Print a profile (built-in name or TOML path) as TOML.
    Show {
        /// Built-in name or path.
        name: String,
    },
    /// Fit a profile to Locust's stats CSV: each row's percentiles and failure ratio on
    /// the route its method and path match; rows that match none are reported.
    Fit {
        /// Locust's `*_stats.csv`.
        #[arg(value_name = "STATS.csv")]
        csv: PathBuf,
        /// Locust's `*_stats_history.csv` of the same run: fits the capacity (workers)
        /// where the response time rose with the user count, and warns when the run
        /// was not stationary.
        #[arg(long, value_name = "STATS_HISTORY.csv")]
        history: Option<PathBuf>,
        /// Where to write the profile (TOML).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: PathBuf,
        /// The profile's name (default: the output file's stem).
        #[arg(long)]
        name: Option<String>,
    },
}

/// Options of `mock-api serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Database URL: sqlite://FILE, sqlite::memory:, postgres://..., or a plain file path.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://mock-api.db")]
    pub database: String,
    /// Clients to seed (ids 1..=N).
    #[arg(long, default_value_t = 10)]
    pub clients: u32,
    /// Profile: a built-in name (see `mock-api profiles`) or a TOML file.
    #[arg(long, default_value = "guide")]
    pub profile: String,
    /// Seed of every random choice (latencies, failures, jobs).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Multiply every configured duration by this factor.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true, value_parser = positive_factor)]
    pub time_scale: f64,
    /// Require `Authorization: Bearer TOKEN` on /admin (then from any address).
    #[arg(long, env = "MOCK_API_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `mock_api=debug`.
    #[arg(long, default_value = "info")]
    pub log: String,
    /// Seconds shutdown waits for in-flight requests.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// Keep each request's id and timings in memory for `GET /admin/requests` (for
    /// pairing with a load generator's per-request log; costs memory per request); a
    /// request sent without an X-Request-Id then gets one made up.
    #[arg(long)]
    pub request_log: bool,
}

impl ServeArgs {
    /// The validated server configuration (loads the profile).
    pub fn to_config(&self) -> Result<ServerConfig, ProfileError> {
        let profile = Profile::load(&self.profile)?;
        Ok(ServerConfig {
            bind: self.bind,
            port: self.port,
            database_url: self.database.clone(),
            clients: self.clients,
            profile,
            seed: self.seed,
            time_scale: self.time_scale,
            admin_token: self.admin_token.clone(),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            request_log: self.request_log,
        })
    }
}

/// Parses a finite factor > 0.
fn positive_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        Ok(f) => Err(format!(
            "{f} is not a positive finite factor (e.g. 0.1 runs ten times faster)"
        )),
        Err(e) => Err(format!("{text:?} is not a number: {e}")),
    }
}

/// The built-in profiles as `name  description` lines.
pub fn list_profiles() -> Result<String, ProfileError> {
    let names = Profile::builtin_names();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let mut out = String::new();
    for name in names {
        let p = Profile::builtin(name)?;
        out.push_str(&format!("{name:<width$}  {}\n", p.description.trim()));
    }
    Ok(out)
}

/// Where the default SQLite file goes, for messages.
pub fn describe_database(url: &str) -> String {
    match url.strip_prefix("sqlite://") {
        Some(path) if !path.contains(":memory:") => {
            format!("SQLite file {}", PathBuf::from(path).display())
        }
        _ => url
            .split_once('@')
            .map_or(url.to_owned(), |(_, host)| format!("…@{host}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_is_the_default_and_flags_parse() {
        let cli = Cli::try_parse_from([
            "mock-api",
            "--port",
            "0",
            "--profile",
            "healthy",
            "--time-scale",
            "0.5",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.port, 0);
        let config = cli.serve.to_config().unwrap();
        assert_eq!(config.profile.name, "healthy");
        assert_eq!(config.time_scale, 0.5);
        let cli = Cli::try_parse_from(["mock-api", "serve", "--seed", "7"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Serve(ServeArgs { seed: 7, .. }))
        ));
        assert!(Cli::try_parse_from(["mock-api", "profile", "show", "guide"]).is_ok());
        assert!(Cli::try_parse_from(["mock-api", "--port", "http"]).is_err());
        let err = Cli::try_parse_from(["mock-api", "--time-scale", "-1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("-1 is not a positive finite factor"), "{err}");
    }

    #[test]
    fn every_builtin_is_listed_with_its_description() {
        let text = list_profiles().unwrap();
        for name in Profile::builtin_names() {
            assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
        }
    }
}
