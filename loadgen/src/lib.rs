//! loadgen: a load generator that runs Locust-style user classes, speaks Locust's
//! formats (flags, console tables, CSV) and records exact HdrHistogram percentiles.

pub mod console;
pub mod csv;
pub mod json;
pub mod stats;

pub mod scenario;
pub mod template;
