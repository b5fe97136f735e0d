//! What to run: the scenario (TOML, compiled once into user classes, tasks and request
//! templates), the load plan (users and spawn rate, stages and built-in shapes, or an
//! arrival rate) and the target. Plain data, read by the engine, the verdicts and the
//! sinks; nothing here runs anything. A locustfile is a plan too: `locustfile` reads
//! it with a Python parser, never running it, into a scenario.

pub(crate) mod arrival;
pub(crate) mod load;
pub mod locustfile;
pub(crate) mod scenario;
pub(crate) mod shape;
pub(crate) mod target;
pub(crate) mod template;
