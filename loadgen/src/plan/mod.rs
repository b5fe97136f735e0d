//! What to run: the scenario (TOML, compiled once into user classes, tasks and request
//! templates), the load plan (users and spawn rate, stages and built-in shapes, or an
//! arrival rate) and the target. Plain data, read by the engine, the verdicts and the
//! sinks; nothing here runs anything. A locustfile is a plan too: `locustfile` reads
//! it with a Python parser, never running it, into a scenario.

pub mod arrival;
pub mod load;
pub mod locustfile;
pub mod scenario;
pub mod shape;
pub mod target;
pub mod template;
