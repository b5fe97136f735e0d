//! The run-time side of [`super::Capacity`]: the worker pool with its FIFO queue, the
//! token bucket, the server's uptime clock and the stall switch.
//!
//! The pool is a counter and a queue under one short lock rather than a semaphore, so
//! that the queue length, the FIFO ticket and the admission decision are one atomic step:
//! a request is either served, queued behind everyone before it, or refused as
//! `queue_full`, never counted twice. A waiter that times out or whose client goes away
//! leaves the queue (its guard removes it); a worker freed while that happens is handed
//! to the next waiter, never lost.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{Capacity, RateLimit};

/// Why a request was refused before service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejection {
    /// The queue was full at arrival (503 at once).
    QueueFull,
    /// No worker freed up within the queue timeout (503).
    QueueTimeout,
    /// The token bucket was empty (429 with Retry-After).
    RateLimited,
}

impl Rejection {
    /// Every reason, for metrics and statistics.
    pub const ALL: [Rejection; 3] = [
        Rejection::QueueFull,
        Rejection::QueueTimeout,
        Rejection::RateLimited,
    ];

    /// The label in metrics and statistics.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::QueueFull => "queue_full",
            Rejection::QueueTimeout => "queue_timeout",
            Rejection::RateLimited => "rate_limited",
        }
    }
}

#[derive(Debug)]
struct PoolState {
    busy: u32,
    waiting: VecDeque<(u64, oneshot::Sender<()>)>,
    next_ticket: u64,
    counters: PoolCounters,
}

/// What the pool has seen since it began or its counters were reset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolCounters {
    /// Most workers busy at once.
    pub max_busy: u32,
    /// Longest the queue has been.
    pub max_queue_length: usize,
    /// Requests that waited and were then handed a worker.
    pub served_from_queue: u64,
    /// Hand-overs to a waiter that arrived after one still waiting (0 when FIFO holds).
    pub fifo_violations: u64,
    /// Ticket of the last waiter handed a worker.
    last_handed: Option<u64>,
}

/// Workers and their FIFO queue.
#[derive(Debug)]
pub struct Pool {
    workers: u32,
    queue: Option<u32>,
    timeout: Option<Duration>,
    state: Mutex<PoolState>,
}

/// A worker held for a request's service; dropping it frees the worker (to the first
/// waiter, if any).
#[derive(Debug)]
pub struct Permit {
    pool: Arc<Pool>,
    /// The request's place in arrival order at the pool (0-based since the pool began).
    pub ticket: u64,
    /// Workers busy the moment this one was taken (itself included).
    pub busy: u32,
    /// Whether the request waited in the queue.
    pub queued: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.pool.release();
    }
}

/// Removes a waiter from the queue when its wait ends without a worker (timeout or the
/// client went away); if a worker was handed over at that very moment, passes it on.
struct Waiting<'a> {
    pool: &'a Arc<Pool>,
    ticket: u64,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        let mut s = self.pool.lock();
        if let Some(pos) = s.waiting.iter().position(|(t, _)| *t == self.ticket) {
            s.waiting.remove(pos);
            return;
        }
        drop(s);
        // Not in the queue: a worker was sent to us (under the lock, so it is there now).
        if rx.try_recv().is_ok() {
            self.pool.release();
        }
    }
}

impl Pool {
    /// A pool for `capacity`, or `None` when its workers are unlimited.
    pub fn new(capacity: &Capacity) -> Option<Arc<Pool>> {
        Some(Arc::new(Pool {
            workers: capacity.workers?,
            queue: capacity.queue,
            timeout: capacity.queue_timeout(),
            state: Mutex::new(PoolState {
                busy: 0,
                waiting: VecDeque::new(),
                next_ticket: 0,
                counters: PoolCounters::default(),
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a pool for `capacity` would be this one (so a profile swap keeps it).
    pub fn same_shape(&self, capacity: &Capacity) -> bool {
        capacity.workers == Some(self.workers)
            && capacity.queue == self.queue
            && capacity.queue_timeout() == self.timeout
    }

    /// The number of workers.
    pub fn workers(&self) -> u32 {
        self.workers
    }

    /// (busy workers, queue length) now.
    pub fn load(&self) -> (u32, usize) {
        let s = self.lock();
        (s.busy, s.waiting.len())
    }

    /// The counters since the start or the last reset.
    pub fn counters(&self) -> PoolCounters {
        self.lock().counters
    }

    /// Restarts the counters from the present load (statistics were reset).
    pub fn reset_counters(&self) {
        let mut s = self.lock();
        s.counters = PoolCounters {
            max_busy: s.busy,
            max_queue_length: s.waiting.len(),
            ..PoolCounters::default()
        };
    }

    /// A worker: at once, or after waiting first come first served; or a refusal.
    pub async fn acquire(self: &Arc<Self>) -> Result<Permit, Rejection> {
        let (ticket, rx) = {
            let mut s = self.lock();
            let ticket = s.next_ticket;
            s.next_ticket += 1;
            // A free worker with nobody waiting: the queue is empty whenever one is free.
            if s.busy < self.workers && s.waiting.is_empty() {
                s.busy += 1;
                s.counters.max_busy = s.counters.max_busy.max(s.busy);
                return Ok(self.permit(ticket, s.busy, false));
            }
            if self.queue.is_some_and(|q| s.waiting.len() >= q as usize) {
                return Err(Rejection::QueueFull);
            }
            let (tx, rx) = oneshot::channel();
            s.waiting.push_back((ticket, tx));
            s.counters.max_queue_length = s.counters.max_queue_length.max(s.waiting.len());
            (ticket, rx)
        };
        let mut waiting = Waiting {
            pool: self,
            ticket,
            rx: Some(rx),
        };
        let handed = {
            let Some(rx) = waiting.rx.as_mut() else {
                return Err(Rejection::QueueTimeout);
            };
            match self.timeout {
                Some(t) => tokio::time::timeout(t, rx).await.ok(),
                None => Some(rx.await),
            }
        };
        match handed {
            Some(Ok(())) => {
                // The worker is ours: the guard must not give it back.
                waiting.rx = None;
                let busy = self.lock().busy;
                Ok(self.permit(ticket, busy, true))
            }
            // Timed out (the guard leaves the queue or passes on a just-sent worker), or
            // the sender vanished (cannot happen while the pool lives).
            _ => Err(Rejection::QueueTimeout),
        }
    }

    fn permit(self: &Arc<Self>, ticket: u64, busy: u32, queued: bool) -> Permit {
        Permit {
            pool: self.clone(),
            ticket,
            busy,
            queued,
        }
    }

    /// Frees a worker: handed to the first waiter still waiting, else counted free.
    fn release(&self) {
        let mut s = self.lock();
        while let Some((ticket, tx)) = s.waiting.pop_front() {
            if tx.send(()).is_ok() {
                let c = &mut s.counters;
                c.served_from_queue += 1;
                if c.last_handed.is_some_and(|last| ticket < last) {
                    c.fifo_violations += 1;
                }
                c.last_handed = Some(ticket);
                return;
            }
        }
        s.busy = s.busy.saturating_sub(1);
    }
}

/// A token bucket (`rps` a second, at most `burst`).
#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket for `capacity`'s rate limit, if it has one.
    pub fn new(capacity: &Capacity) -> Option<Arc<TokenBucket>> {
        let limit = capacity.rate_limit?;
        Some(Arc::new(TokenBucket {
            limit,
            state: Mutex::new((f64::from(limit.burst), Instant::now())),
        }))
    }

    /// Whether a bucket for `capacity` would be this one.
    pub fn same_shape(&self, capacity: &Capacity) -> bool {
        capacity.rate_limit == Some(self.limit)
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *s;
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.limit.rps;
        *tokens = (*tokens + refill).min(f64::from(self.limit.burst));
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(
                Duration::try_from_secs_f64((1.0 - *tokens) / self.limit.rps)
                    .unwrap_or(Duration::from_secs(1)),
            )
        }
    }
}

/// The server's uptime, with an offset a test (or the harness) can add to, so a leak
/// that takes hours is observed without waiting.
#[derive(Debug)]
pub struct Uptime {
    started: Instant,
    offset_us: AtomicU64,
}

impl Uptime {
    /// Starts counting now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            offset_us: AtomicU64::new(0),
        }
    }

    /// Time since the start, plus every advance.
    pub fn now(&self) -> Duration {
        self.at(Instant::now())
    }

    /// Uptime at the instant `t`.
    pub fn at(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.started)
            .saturating_add(Duration::from_micros(
                self.offset_us.load(Ordering::Relaxed),
            ))
    }

    /// Moves the clock forward by `by` (simulated time; nothing sleeps).
    pub fn advance(&self, by: Duration) {
        let us = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .offset_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(us))
            });
    }
}

impl Default for Uptime {
    fn default() -> Self {
        Self::new()
    }
}

/// A stall started through the admin API: a window of real time.
#[derive(Debug, Default)]
pub struct StallSwitch {
    window: Mutex<Option<(Instant, Instant)>>,
}

impl StallSwitch {
    /// Stalls from `from` for `length` (a zero length ends any stall).
    pub fn start(&self, from: Instant, length: Duration) {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        *w = (!length.is_zero()).then(|| (from, from.checked_add(length).unwrap_or(from)));
    }

    /// When the stall on at `now` ends, if one is.
    pub fn active_until(&self, now: Instant) -> Option<Instant> {
        let w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        w.filter(|(from, until)| *from <= now && now < *until)
            .map(|(_, until)| until)
    }
}

/// When a stall on at `now` ends, from the switch or the profile's schedule.
pub fn stall_end(
    switch: &StallSwitch,
    schedule: &[super::Stall],
    uptime: &Uptime,
    now: Instant,
) -> Option<Instant> {
    let up = uptime.at(now);
    let scheduled = schedule
        .iter()
        .map(super::Stall::window)
        .filter(|(from, until)| *from <= up && up < *until)
        .filter_map(|(_, until)| now.checked_add(until - up))
        .max();
    switch.active_until(now).max(scheduled)
}
