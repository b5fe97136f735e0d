//! `-i/--iterations`: a budget of task iterations shared by every user. A user takes one
//! before each task and stops when none is left; the run ends once the last task taken
//! has finished, so exactly N tasks run, each to its end (Locust's `--iterations`, from
//! locust-plugins, behaves the same way).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

/// The run's remaining task iterations and the tasks still running.
#[derive(Debug)]
pub(crate) struct IterationLimit {
    remaining: AtomicU64,
    in_flight: AtomicU64,
    done: CancellationToken,
}

impl IterationLimit {
    /// A budget of `n` task iterations.
    pub(crate) fn new(n: u64) -> Self {
        let limit = Self {
            remaining: AtomicU64::new(n),
            in_flight: AtomicU64::new(0),
            done: CancellationToken::new(),
        };
        if n == 0 {
            limit.done.cancel();
        }
        limit
    }

    /// Takes one iteration before a task; false when the budget is spent (the user stops).
    /// Every `true` must be followed by one [`IterationLimit::finish`].
    pub(crate) fn take(&self) -> bool {
        // Counted in flight first, so `done` cannot fire between the take and the task.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let taken = self
            .remaining
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| r.checked_sub(1))
            .is_ok();
        if !taken {
            self.finish();
        }
        taken
    }

    /// A task taken with [`IterationLimit::take`] ended (completed or killed).
    pub(crate) fn finish(&self) {
        let was = self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if was == 1 && self.remaining.load(Ordering::SeqCst) == 0 {
            self.done.cancel();
        }
    }

    /// Cancelled once the budget is spent and no task taken from it still runs.
    pub(crate) fn done(&self) -> &CancellationToken {
        &self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn exactly_n_are_taken_and_done_waits_for_the_last_to_finish() {
        let limit = IterationLimit::new(2);
        assert!(limit.take());
        assert!(limit.take());
        assert!(!limit.take(), "the budget is spent");
        assert!(!limit.done().is_cancelled(), "two tasks still run");
        limit.finish();
        assert!(!limit.done().is_cancelled(), "one task still runs");
        limit.finish();
        assert!(limit.done().is_cancelled());
    }

    #[test]
    fn a_zero_budget_is_done_at_once() {
        let limit = IterationLimit::new(0);
        assert!(!limit.take());
        assert!(limit.done().is_cancelled());
    }

    #[test]
    fn threads_racing_take_exactly_the_budget() {
        let limit = Arc::new(IterationLimit::new(1_000));
        let taken: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let limit = Arc::clone(&limit);
                    s.spawn(move || {
                        let mut n = 0;
                        while limit.take() {
                            n += 1;
                            limit.finish();
                        }
                        n
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(taken, 1_000);
        assert!(limit.done().is_cancelled());
    }
}
