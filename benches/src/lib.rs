//! Benchmarks and side-by-side comparisons for mock-api and loadgen.
//!
//! - `benches/*.rs`: criterion micro benchmarks of the hot paths (`cargo bench -p benches`).
//! - [`baseline`]: a bare axum server answering fixed bytes, the yardstick of mock-api's
//!   own overhead (binary `baseline`).
//! - [`tls`]: the baseline over HTTPS with a certificate made at start (`baseline --tls`).
//! - `compare.sh`: builds release binaries and runs loadgen, wrk, oha, mock-api and the
//!   baseline side by side, each pinned to its own core, and prints one table of ratios.

#![warn(missing_docs, unreachable_pub)]

pub mod baseline;
pub mod tls;
