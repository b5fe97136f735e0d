//! stack-tests: checks of the monitoring stack in `deploy/` that need no container
//! engine. The library reads the Grafana dashboards (`dashboard`), talks to a real
//! Prometheus server started as a child process (`prometheus`) over the workspace's
//! shared test client (`http`); the integration tests in `tests/` use them to evaluate every
//! dashboard query against live mock-api and loadgen metrics.

#![warn(missing_docs, unreachable_pub)]

pub mod dashboard;
pub mod http;
pub mod prometheus;

use std::path::{Path, PathBuf};

/// The workspace root, where `deploy/` and `docker-compose.yml` live.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// The folder of Grafana dashboard JSON files.
pub fn dashboards_dir() -> PathBuf {
    workspace_root().join("deploy/grafana/dashboards")
}

/// The first executable called `name` on `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
