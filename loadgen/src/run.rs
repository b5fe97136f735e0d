//! A run with its outputs: the engine's runner wired to the sinks. The one entry point
//! the binary, the web UI and the harness call; it sits above both so that neither the
//! engine nor the sinks name the other.

use crate::engine::runner::{RunConfig, RunError, RunOutcome};
use crate::plan::scenario::Scenario;
use crate::sinks::Outputs;

/// Runs a load test in-process, writing the outputs `config.output` asks for, and
/// returns its outcome. A target off loopback is named first, on stderr, with the
/// address it resolves to.
pub async fn run(config: RunConfig, scenario: Scenario) -> Result<RunOutcome, RunError> {
    if let Some(line) =
        crate::engine::session::target_notice(&config.target, &config.resolver).await
    {
        eprintln!("{line}");
    }
    crate::engine::runner::run(config, scenario, Outputs::open).await
}
