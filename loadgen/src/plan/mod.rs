//! What to run: plans read from the user's own files (a locustfile, parsed and never
//! run).

pub mod locustfile;
