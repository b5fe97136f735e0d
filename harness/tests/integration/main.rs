//! The harness's end-to-end tests, one binary so they are linked once and run side by
//! side: the program's exit codes; the checks on real runs, the per-request pairing with
//! the mock's own record, and their deliberate breakages; baselines and bands; `loadgen
//! compare`; `mock-api profile fit` (and `--history` on real Locust runs); real Locust
//! (`harness locust`, the shared locustfile, distributed runs with loadgen as a worker);
//! and the PostgreSQL path. The capacity families have a binary of their own (see
//! `tests/capacity.rs`).

mod bands;
mod checks;
mod compare;
mod distributed;
mod exit_codes;
mod fit;
mod fit_history;
mod locust;
mod locustfile;
mod per_request;
mod postgres;
mod support;
