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

pub mod admin;
pub mod app;
pub mod background;
pub mod behaviour;
pub mod cli;
pub mod conn;
pub mod cpu;
pub mod error;
pub mod live;
pub mod market;
pub mod metrics;
pub mod openapi;
pub mod optimize;
pub mod route_table;
pub mod routes;
pub mod server;
pub mod state;
pub mod stats;
pub mod store;
pub mod timer;

pub use server::{spawn, RunningServer, ServerConfig, ServerError};
