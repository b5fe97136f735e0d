//! Precise delays: sleeps that end within tens of microseconds of their deadline.
//!
//! tokio's timer counts in whole milliseconds and rounds a deadline up to the next tick,
//! so `sleep(5 ms)` ends 5 to 6+ ms later: a 10-20 % error on the delays this mock is
//! asked to imitate. A [`PreciseTimer`] splits a sleep in two:
//!
//! 1. the coarse part on tokio's timer, until [`COARSE_SLACK`] before the deadline (cheap,
//!    and a sleep dropped during it costs nothing more; shorter sleeps skip it);
//! 2. the last stretch on ONE dedicated thread that owns a min-heap of
//!    `(deadline, oneshot sender)`. It sleeps on a condition variable until
//!    [`SPIN_WINDOW`] before the earliest deadline (with its timer slack cut from the
//!    default 50 us to 1 us), then yields in a loop for the last stretch and fires every
//!    entry that is due.
//!
//! One thread serves every request, so there is no busy core per request: the thread
//! spins only inside the short window before a deadline. The window is small on purpose:
//! at 10,000 deadlines a second they are 100 us apart, so a wide window would keep the
//! thread spinning all the time, and on a core it shares with the runtime's worker a
//! spinning (yielding) thread loses its turn and fires late, where a sleeping one is
//! woken promptly. A sleep never ends before its
//! deadline: an entry fires only once `Instant::now() >= deadline`. Dropping the future
//! cancels it: its receiver goes away and the thread's send finds nobody (the entry
//! lives at most [`COARSE_SLACK`] longer in the heap).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long before a deadline the coarse tokio sleep hands over to the timer thread.
/// Wide on purpose: a busy runtime turns its timer wheel only every few dozen tasks, so
/// under load tokio's sleeps end milliseconds late (3 ms was measured to be too little at
/// 10,000 requests/s on one core); the heap then holds at most 50 ms of deadlines.
pub const COARSE_SLACK: Duration = Duration::from_millis(50);

/// How long before the earliest deadline the timer thread stops sleeping and yields in
/// a loop (it absorbs the jitter of waking a sleeping thread; see the module docs for
/// why it is not wider).
pub const SPIN_WINDOW: Duration = Duration::from_micros(25);

/// Why a precise sleep could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The timer thread has stopped (its owner was dropped).
    #[error("the precise timer thread has stopped")]
    Stopped,
    /// The timer thread could not be started.
    #[error("the precise timer thread could not be started")]
    NoThread,
}

/// One pending deadline. Ordered by deadline, then by registration order.
#[derive(Debug)]
struct Entry {
    deadline: Instant,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Debug, Default)]
struct Heap {
    entries: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    stopped: bool,
}

#[derive(Debug, Default)]
struct Shared {
    heap: Mutex<Heap>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Heap> {
        self.heap.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The owner of the timer thread; the thread stops (firing what is pending) when the
/// owner is dropped. Hand [`TimerHandle`]s to whoever sleeps.
#[derive(Debug)]
pub struct PreciseTimer {
    handle: TimerHandle,
}

/// A cheap, cloneable way to sleep precisely on a [`PreciseTimer`]'s thread.
#[derive(Debug, Clone)]
pub struct TimerHandle {
    shared: Option<Arc<Shared>>,
}

impl PreciseTimer {
    /// Starts the timer thread (named `precise-timer`). If the OS refuses a thread, the
    /// timer still works, on tokio's coarse timer alone (logged once).
    pub fn start() -> Self {
        Self::with_spin_window(SPIN_WINDOW)
    }

    /// [`Self::start`] with another spin window (0: sleep to each deadline, never spin),
    /// to measure the trade-off between precision and the timer thread's CPU.
    pub fn with_spin_window(spin: Duration) -> Self {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("precise-timer".to_owned())
            .spawn(move || run(&worker, spin));
        let shared = match spawned {
            Ok(_) => Some(shared),
            Err(e) => {
                tracing::warn!(error = %e, "no precise timer thread: delays use tokio's 1 ms timer");
                None
            }
        };
        Self {
            handle: TimerHandle { shared },
        }
    }

    /// A handle to sleep on this timer.
    pub fn handle(&self) -> TimerHandle {
        self.handle.clone()
    }

    /// Sleeps until `deadline` (see [`TimerHandle::sleep_until`]).
    pub async fn sleep_until(&self, deadline: Instant) {
        self.handle.sleep_until(deadline).await;
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        if let Some(shared) = &self.handle.shared {
            shared.lock().stopped = true;
            shared.changed.notify_all();
        }
    }
}

impl TimerHandle {
    /// Sleeps until `deadline`, ending within tens of microseconds after it, never before.
    pub async fn sleep_until(&self, deadline: Instant) {
        let handover = deadline.checked_sub(COARSE_SLACK);
        if let Some(h) = handover.filter(|h| *h > Instant::now()) {
            tokio::time::sleep_until(h.into()).await;
        }
        if Instant::now() >= deadline {
            return;
        }
        // The thread sends only once the deadline has passed; a receive error means it
        // stopped (dropping its senders), and then tokio's timer finishes the wait.
        if let Ok(rx) = self.register(deadline) {
            if rx.await.is_ok() {
                return;
            }
        }
        // Stopped or no thread: the coarse timer still never ends early.
        tokio::time::sleep_until(deadline.into()).await;
    }

    /// Sleeps for `d` from now (see [`Self::sleep_until`]).
    pub async fn sleep(&self, d: Duration) {
        let deadline = Instant::now().checked_add(d);
        match deadline {
            Some(t) => self.sleep_until(t).await,
            None => std::future::pending().await,
        }
    }

    /// Hands `deadline` to the timer thread; the receiver completes once it has passed.
    /// This is the hot path of every delayed request: a short-held lock and a heap push.
    pub fn register(&self, deadline: Instant) -> Result<oneshot::Receiver<()>, TimerError> {
        let shared = self.shared.as_ref().ok_or(TimerError::NoThread)?;
        let (tx, rx) = oneshot::channel();
        let mut heap = shared.lock();
        if heap.stopped {
            return Err(TimerError::Stopped);
        }
        let earliest = heap.entries.peek().is_none_or(|e| deadline < e.0.deadline);
        let seq = heap.seq;
        heap.seq = heap.seq.wrapping_add(1);
        heap.entries.push(Reverse(Entry { deadline, seq, tx }));
        drop(heap);
        // Only a new earliest deadline changes how long the thread should sleep.
        if earliest {
            shared.changed.notify_one();
        }
        Ok(rx)
    }

    /// Deadlines registered and not yet fired (cancelled ones included until due).
    pub fn pending(&self) -> usize {
        self.shared.as_ref().map_or(0, |s| s.lock().entries.len())
    }
}

/// The timer thread: fire what is due, then sleep or yield until the next deadline.
fn run(shared: &Shared, spin: Duration) {
    tighten_timer_slack();
    let mut due = Vec::new();
    loop {
        let mut heap = shared.lock();
        let stopping = loop {
            if heap.stopped {
                break true;
            }
            let now = Instant::now();
            while heap.entries.peek().is_some_and(|e| e.0.deadline <= now) {
                if let Some(Reverse(e)) = heap.entries.pop() {
                    due.push(e.tx);
                }
            }
            if !due.is_empty() {
                break false;
            }
            let Some(next) = heap.entries.peek().map(|e| e.0.deadline) else {
                heap = shared
                    .changed
                    .wait(heap)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let left = next.saturating_duration_since(now);
            if left > spin {
                heap = shared
                    .changed
                    .wait_timeout(heap, left - spin)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            } else {
                // The last stretch: let others register and run, then look again.
                drop(heap);
                std::thread::yield_now();
                heap = shared.lock();
            }
        };
        if stopping {
            // Senders dropped unsent: sleepers fall back to tokio's timer, never early.
            heap.entries.clear();
            return;
        }
        drop(heap);
        // Fire outside the lock so registrations are never held up by wakeups.
        for tx in due.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// The kernel lets a sleeping thread wake up to its "timer slack" late (50 us by default)
/// to batch wakeups; this thread's whole purpose is waking on time, so it asks for 1 us.
/// Linux only, through procfs (a thread may set its own slack without privileges);
/// elsewhere, or if refused, the spin window absorbs the default slack.
fn tighten_timer_slack() {
    // `/proc/thread-self` is `<pid>/task/<tid>`, which has no timerslack_ns file; the
    // thread's own `/proc/<tid>` entry has one.
    let written = std::fs::read_link("/proc/thread-self").and_then(|link| {
        let tid = link
            .file_name()
            .and_then(|t| t.to_str())
            .unwrap_or("self")
            .to_owned();
        std::fs::write(format!("/proc/{tid}/timerslack_ns"), "1000")
    });
    if let Err(e) = written {
        tracing::debug!(error = %e, "timer slack unchanged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn never_ends_before_its_deadline() {
        let timer = PreciseTimer::start();
        let h = timer.handle();
        rt().block_on(async {
            // Both paths: straight to the thread (short) and coarse first (long).
            for us in [0_u64, 50, 700, 1_500, 4_000, 7_000, 60_000] {
                let deadline = Instant::now() + Duration::from_micros(us);
                h.sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "{us} us sleep ended early");
            }
        });
    }

    #[test]
    fn many_timers_each_fire_after_their_own_deadline() {
        let timer = PreciseTimer::start();
        let h = timer.handle();
        rt().block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..2_000_u64)
                // Deadlines in a scrambled order, many sharing a microsecond.
                .map(|i| start + Duration::from_micros((i * 7_919) % 6_000))
                .map(|deadline| {
                    let h = h.clone();
                    tokio::spawn(async move {
                        h.sleep_until(deadline).await;
                        Instant::now() >= deadline
                    })
                })
                .collect();
            for t in tasks {
                assert!(t.await.unwrap(), "a timer fired before its deadline");
            }
        });
        assert_eq!(h.pending(), 0);
    }

    #[test]
    fn a_dropped_sleep_is_cancelled_and_does_not_stop_others() {
        let timer = PreciseTimer::start();
        let h = timer.handle();
        rt().block_on(async {
            let deadline = Instant::now() + Duration::from_millis(2);
            let rx = h.register(deadline).unwrap();
            drop(rx);
            let cancelled = tokio::time::timeout(
                Duration::from_micros(100),
                h.sleep_until(Instant::now() + Duration::from_millis(50)),
            )
            .await;
            assert!(cancelled.is_err(), "the 50 ms sleep cannot end in 100 us");
            let later = Instant::now() + Duration::from_millis(3);
            h.sleep_until(later).await;
            assert!(Instant::now() >= later);
        });
        // The cancelled entries were popped when due (the dropped receivers ignored).
        let bound = Instant::now() + Duration::from_secs(5);
        while h.pending() > 0 && Instant::now() < bound {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            h.pending(),
            0,
            "cancelled entries stayed past their deadline"
        );
    }

    #[test]
    fn after_the_owner_is_dropped_sleeps_still_end_and_never_early() {
        let timer = PreciseTimer::start();
        let h = timer.handle();
        let rx = h
            .register(Instant::now() + Duration::from_secs(3600))
            .unwrap();
        drop(timer);
        rt().block_on(async {
            // The stopping thread drops pending senders: the receiver sees an error.
            assert!(rx.await.is_err());
            assert_eq!(h.register(Instant::now()).err(), Some(TimerError::Stopped));
            let deadline = Instant::now() + Duration::from_millis(2);
            h.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline);
        });
    }

    #[test]
    fn the_heap_orders_by_deadline_then_registration() {
        let t = Instant::now();
        let (a, _ra) = oneshot::channel();
        let (b, _rb) = oneshot::channel();
        let (c, _rc) = oneshot::channel();
        let mut heap = BinaryHeap::new();
        heap.push(Reverse(Entry {
            deadline: t + Duration::from_micros(5),
            seq: 0,
            tx: a,
        }));
        heap.push(Reverse(Entry {
            deadline: t,
            seq: 2,
            tx: b,
        }));
        heap.push(Reverse(Entry {
            deadline: t,
            seq: 1,
            tx: c,
        }));
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|e| e.0.seq)).collect();
        assert_eq!(order, [1, 2, 0]);
    }
}
