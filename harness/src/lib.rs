//! harness: runs mock-api and loadgen together in one process and proves, with
//! statistics, that the load tooling measures what the target did.
//!
//! The flow: a [`config::RunSpec`] (scenario, profile, load, one time scale, one seed)
//! goes to [`run::execute`], which starts the mock on 127.0.0.1:0 with a temporary
//! SQLite database, runs loadgen against it over real HTTP and gathers the
//! [`run::Evidence`]; [`checks::evaluate`] compares it with a [`config::Expectation`]
//! and returns a [`check::CheckTable`]; [`report`] prints the tables. The binary and
//! the tests call the same functions.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use harness::config::{Mode, RunSpec};
//! let spec = RunSpec::new(Mode::Guide, Some(200), None, None, 7)?;
//! let evidence = harness::run::execute(&spec).await?;
//! let table = harness::checks::evaluate(&evidence, &spec.expectation());
//! assert!(table.all_passed(), "{}", table.render());
//! # Ok(()) }
//! ```

#![warn(missing_docs, unreachable_pub)]

#[doc(hidden)]
pub mod breakage;
pub mod calibrate;
pub mod check;
pub mod checks;
pub mod cli;
pub mod config;
pub mod database;
pub mod erlang;
pub mod locust;
pub mod progress;
pub mod report;
pub mod run;
pub mod stat;

pub use check::{Check, CheckTable, Verdict};
pub use config::{Expectation, Mode, RunSpec};
pub use run::{execute, Evidence};
