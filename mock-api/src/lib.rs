//! mock-api: an imitation of the ACIS trading platform with configurable latency and
//! failure distributions per route, a real database through sqlx, Prometheus metrics and
//! an admin API.
//!
//! In-process use (tests, the harness):
//!
//! ```no_run
//! # async fn demo() -> Result<(), mock_api::server::ServerError> {
//! use mock_api::{profile::Profile, server::{spawn, ServerConfig}};
//! let profile = Profile::builtin("healthy")?;
//! let server = spawn(ServerConfig::new(profile)).await?;
//! println!("listening on {}", server.url("/health"));
//! let stats = server.stats();
//! server.shutdown().await?;
//! # let _ = stats; Ok(()) }
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod capacity;
pub mod fault;
pub mod latency;
pub mod profile;

mod admin;
pub mod app;
mod background;
mod behaviour;
pub mod cli;
mod conn;
mod cpu;
mod error;
mod live;
mod market;
pub mod metrics;
mod openapi;
mod optimize;
mod route_table;
mod routes;
pub mod server;
pub mod state;
pub mod stats;
pub mod store;
pub mod timer;
pub mod timing;

pub use server::{spawn, RunningServer, ServerConfig, ServerError};
