//! Benchmarks for mock-api and loadgen live in `benches/`; this library is empty.
