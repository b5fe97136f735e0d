//! Precise delays: sleeps that end within tens of microseconds of their deadline.
//!
//! tokio's timer counts in whole milliseconds and rounds a deadline up to the next tick,
//! so `sleep(5 ms)` ends 5 to 6+ ms later: a 10-20 % error on the delays this mock is
//! asked to imitate. A [`PreciseTimer`] splits a sleep in three:
//!
//! 1. the coarse part on tokio's timer, until [`COARSE_SLACK`] before the deadline (cheap,
//!    and a sleep dropped during it costs nothing more; shorter sleeps skip it);
//! 2. the fine part on ONE dedicated thread that owns a min-heap of
//!    `(deadline, oneshot sender)`. It sleeps on a condition variable (with its timer
//!    slack cut from the default 50 us to 1 us) until [`LEAD`] before the earliest
//!    deadline, then fires, in one batch, every entry due within [`LEAD`] of now;
//! 3. the last few microseconds on the sleeping task itself: woken up to [`LEAD`] early,
//!    it spins (checking the clock) until its deadline. Handing a wakeup from the timer
//!    thread to a runtime worker costs about as much as the lead (a thread switch, an
//!    eventfd write, the worker reaching the task), so the task usually arrives with
//!    little or nothing left to spin, and when the worker is busy it arrives late and
//!    spins not at all. A sleep shorter than the lead is spun out directly.
//!
//! One thread serves every request and never spins itself, so there is no busy core per
//! request: the only spinning is each task's own remainder, at most [`LEAD`] per request
//! (the batch fires deadlines in order within one lead, so one batch spins at most one
//! lead in all). A sleep never ends before its deadline: the final check is always
//! `Instant::now() >= deadline`, on the task. Dropping the future cancels it: its
//! receiver goes away and the thread's send finds nobody (the entry lives at most
//! [`COARSE_SLACK`] longer in the heap).

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

/// How early the timer thread wakes a sleeping task; the task spins out the rest. About
/// what handing a wakeup to a runtime worker costs on a virtual machine (tens of
/// microseconds), so the wake-up latency and the lead cancel out, and it bounds the CPU a
/// request can spend spinning.
pub const LEAD: Duration = Duration::from_micros(50);

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

impl Heap {
    /// Moves every entry due by `horizon` into `due`, earliest first.
    fn take_due(&mut self, horizon: Instant, due: &mut Vec<oneshot::Sender<()>>) {
        while self.entries.peek().is_some_and(|e| e.0.deadline <= horizon) {
            if let Some(Reverse(e)) = self.entries.pop() {
                due.push(e.tx);
            }
        }
    }
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
    lead: Duration,
}

impl PreciseTimer {
    /// Starts the timer thread (named `precise-timer`) with the default [`LEAD`]. If the
    /// OS refuses a thread, the timer still works, on tokio's coarse timer alone (logged
    /// once).
    pub fn start() -> Self {
        Self::with_lead(LEAD)
    }

    /// [`Self::start`] with another lead (0: the thread fires each entry at its deadline
    /// and nothing spins), to measure the trade-off between precision and spinning.
    pub fn with_lead(lead: Duration) -> Self {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("precise-timer".to_owned())
            .spawn(move || run(&worker, lead));
        let shared = match spawned {
            Ok(_) => Some(shared),
            Err(e) => {
                tracing::warn!(error = %e, "no precise timer thread: delays use tokio's 1 ms timer");
                None
            }
        };
        Self {
            handle: TimerHandle { shared, lead },
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
        if !self.within_lead(deadline) {
            // The thread sends at most one lead early; a receive error means it stopped
            // (dropping its senders), and then tokio's timer finishes the wait.
            let fired = match self.register(deadline) {
                Ok(rx) => rx.await.is_ok(),
                Err(_) => false,
            };
            if !fired {
                // Stopped or no thread: the coarse timer still never ends early.
                tokio::time::sleep_until(deadline.into()).await;
                return;
            }
        }
        spin_until(deadline);
    }

    /// Sleeps for `d` from now (see [`Self::sleep_until`]).
    pub async fn sleep(&self, d: Duration) {
        let deadline = Instant::now().checked_add(d);
        match deadline {
            Some(t) => self.sleep_until(t).await,
            None => std::future::pending().await,
        }
    }

    /// How early this timer's thread fires (see [`LEAD`]).
    pub fn lead(&self) -> Duration {
        self.lead
    }

    /// Whether `deadline` is at most one lead away: close enough to spin out here rather
    /// than pay a round trip through the timer thread.
    fn within_lead(&self, deadline: Instant) -> bool {
        deadline.saturating_duration_since(Instant::now()) <= self.lead
    }

    /// Hands `deadline` to the timer thread; the receiver completes once `deadline` is at
    /// most one lead away (never earlier), and the caller finishes the wait itself.
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

/// Spins until `deadline`. Callers only come here at most one lead before it (the
/// thread never fires earlier, and shorter sleeps skip the thread), so the loop is
/// bounded by the lead; the clock is read between spins, so it never ends early.
fn spin_until(deadline: Instant) {
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// The timer thread: fire (one lead early) what is due, then sleep until the next
/// deadline is one lead away. It never spins: a yielding loop on a core shared with the
/// runtime's worker was measured to lose its turn and fire late, and it cost the thread
/// several percent of a core at 10,000 deadlines a second.
fn run(shared: &Shared, lead: Duration) {
    tighten_timer_slack();
    let mut due = Vec::new();
    loop {
        let mut heap = shared.lock();
        let stopping = loop {
            if heap.stopped {
                break true;
            }
            let now = Instant::now();
            heap.take_due(now + lead, &mut due);
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
            // `next` is more than one lead away (else it was taken above).
            let wake_in = next.saturating_duration_since(now).saturating_sub(lead);
            heap = shared
                .changed
                .wait_timeout(heap, wake_in)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        if stopping {
            // Senders dropped unsent: sleepers fall back to tokio's timer, never early.
            heap.entries.clear();
            return;
        }
        drop(heap);
        // Fire outside the lock so registrations are never held up by wakeups; earliest
        // first, so the first woken task is the first due.
        for tx in due.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// The kernel lets a sleeping thread wake up to its "timer slack" late (50 us by default)
/// to batch wakeups; this thread's whole purpose is waking on time, so it asks for 1 us.
/// Linux only, through procfs (a thread may set its own slack without privileges);
/// elsewhere, or if refused, the default slack makes it fire later, never earlier.
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
        // The default lead, none (the thread fires at the deadline) and a wide one (the
        // task is woken milliseconds early and must spin out the rest).
        for lead in [LEAD, Duration::ZERO, Duration::from_millis(3)] {
            let timer = PreciseTimer::with_lead(lead);
            let h = timer.handle();
            assert_eq!(h.lead(), lead);
            rt().block_on(async {
                // Every path: spun out (within the lead), through the thread, and
                // coarse first (longer than COARSE_SLACK).
                for us in [0_u64, 10, 50, 700, 1_500, 4_000, 7_000, 60_000] {
                    let deadline = Instant::now() + Duration::from_micros(us);
                    h.sleep_until(deadline).await;
                    assert!(
                        Instant::now() >= deadline,
                        "{us} us sleep ended early (lead {lead:?})"
                    );
                }
            });
        }
    }

    #[test]
    fn the_thread_fires_at_most_one_lead_early() {
        let lead = Duration::from_millis(20);
        let timer = PreciseTimer::with_lead(lead);
        let h = timer.handle();
        rt().block_on(async {
            for ms in [25_u64, 40, 70] {
                let deadline = Instant::now() + Duration::from_millis(ms);
                let far = h.register(deadline + Duration::from_secs(3600)).unwrap();
                h.register(deadline).unwrap().await.unwrap();
                let fired = Instant::now();
                assert!(
                    fired + lead >= deadline,
                    "fired {:?} before a {ms} ms deadline, more than the lead",
                    deadline - fired
                );
                drop(far);
            }
        });
    }

    #[test]
    fn a_batch_takes_every_entry_due_within_the_horizon_earliest_first() {
        let t = Instant::now();
        let mut heap = Heap::default();
        let mut receivers = Vec::new();
        // Registered out of order: 60 us, 0 us, 50 us, 10 us, 51 us.
        for (seq, us) in [60_u64, 0, 50, 10, 51].into_iter().enumerate() {
            let (tx, rx) = oneshot::channel();
            receivers.push(rx);
            heap.entries.push(Reverse(Entry {
                deadline: t + Duration::from_micros(us),
                seq: seq as u64,
                tx,
            }));
        }
        let mut due = Vec::new();
        heap.take_due(t + Duration::from_micros(50), &mut due);
        assert_eq!(due.len(), 3, "0, 10 and 50 us are due by 50 us");
        let left: Vec<Instant> = heap.entries.iter().map(|e| e.0.deadline).collect();
        assert!(left.iter().all(|d| *d > t + Duration::from_micros(50)));
        // Fired in deadline order: 0 us (seq 1), 10 us (seq 3), 50 us (seq 2).
        for (tx, want) in due.into_iter().zip([1_usize, 3, 2]) {
            tx.send(()).unwrap();
            assert_eq!(
                receivers[want].try_recv(),
                Ok(()),
                "entry {want} out of order"
            );
        }
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
