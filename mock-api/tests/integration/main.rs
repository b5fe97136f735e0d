//! mock-api's integration tests, one binary: the store suite (SQLite always;
//! PostgreSQL with `--include-ignored` and `MOCK_API_POSTGRES_URL` set), every route
//! through the router, each failure kind as a raw TCP client sees it, persistence across
//! a restart, the admin rule, the capacity (workers, queue, rate limit, stalls,
//! degradation), and the program itself.

mod admin;
mod behaviour;
mod binary;
mod capacity;
mod durability;
mod faults;
mod restart;
mod routes;
mod store_suite;
mod support;
