//! Real CPU work a profile asks of a route (`cpu_ms`): the behaviour layer hands the
//! budget to the handler as a request extension; a handler that spends it itself (the
//! portfolio optimiser) answers with [`CpuSpent`], and for every other handler the
//! layer burns the budget after it, so the route's service time holds the work either
//! way. No route is named here or in the layer.

use std::time::{Duration, Instant};

use seeding::mix64;

/// Real CPU work the handler should do (the profile's `cpu_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuBudget(pub Duration);

/// A response extension: the handler spent its [`CpuBudget`] itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSpent;

/// Burns `budget` of CPU on a blocking thread (the async workers stay free).
pub(crate) async fn burn(budget: Duration) {
    let _ = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        while start.elapsed() < budget {
            for _ in 0..1000 {
                x = mix64(x);
            }
        }
        std::hint::black_box(x)
    })
    .await;
}
