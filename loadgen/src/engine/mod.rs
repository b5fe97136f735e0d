//! Running the plan: the runner (stop rules, the aggregator task, the in-process run),
//! the closed-model executor and the open-model arrival scheduler, the user pool they
//! grow, the class dispatcher, the user (its tasks, waits and recording) and its HTTP/1.1
//! session. The engine records into `stats` and hands snapshots to the sinks through
//! the traits in `sink`; it never names a sink.

pub(crate) mod arrival;
pub(crate) mod dispatch;
pub(crate) mod executor;
pub(crate) mod fdlimit;
pub(crate) mod pool;
pub(crate) mod runner;
pub(crate) mod selfmon;
pub(crate) mod session;
pub(crate) mod sink;
pub(crate) mod uncorrected;
pub(crate) mod user;
