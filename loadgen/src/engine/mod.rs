//! Running the plan: the runner (stop rules, the aggregator task, the in-process run),
//! the closed-model executor and the open-model arrival scheduler, the user pool they
//! grow, the class dispatcher, the user (its tasks, waits and recording) and its HTTP/1.1
//! session. The engine records into `stats` and hands snapshots to the sinks through
//! the traits in `sink`; it never names a sink.

pub mod arrival;
pub mod dispatch;
pub mod executor;
pub mod fdlimit;
pub mod pool;
pub mod runner;
pub mod selfmon;
pub mod session;
pub mod sink;
pub mod uncorrected;
pub mod user;
