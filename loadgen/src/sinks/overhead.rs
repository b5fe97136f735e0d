//! The client overhead, per row: loadgen's measured response time minus the time the
//! server says it held the request (`Server-Timing: app;dur=`), for the requests whose
//! response carried it. It is what the generator's machine (its network stack, its
//! scheduling, loadgen itself) added to the target's time; Locust and the other load
//! tools report only the sum.
//!
//! A warning fires when a row's overhead p99 passes a share of its response time p99
//! (default [`DEFAULT_OVERHEAD_SHARE`]): that row's tail was then shaped by the
//! generator's machine, not by the target.

use std::fmt::Write as _;

use crate::stats::{RequestStats, Snapshot};

/// The default share of a row's p99 response time its overhead p99 may reach before
/// the warning fires. At 10% the reported p99 is over a tenth above the server's own
/// tail: more than the run-to-run noise of a p99 and more than a typical latency
/// budget's margin, so the figure no longer describes the target. On loopback an idle
/// generator adds a few hundred microseconds, under a tenth of any row slower than a
/// few milliseconds.
pub(crate) const DEFAULT_OVERHEAD_SHARE: f64 = 0.10;

/// One row's overhead figures, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Overhead {
    /// Requests whose response carried the server's time.
    pub(crate) timed: u64,
    /// Median overhead.
    pub(crate) p50_ms: f64,
    /// 99th percentile overhead.
    pub(crate) p99_ms: f64,
    /// Largest overhead.
    pub(crate) max_ms: f64,
}

impl Overhead {
    /// A row's overhead, `None` when no response carried the server's time.
    pub(crate) fn of(row: &RequestStats) -> Option<Self> {
        Some(Self {
            timed: row.overhead().len(),
            p50_ms: row.overhead_percentile_ms(0.5)?,
            p99_ms: row.overhead_percentile_ms(0.99)?,
            max_ms: row.overhead_percentile_ms(1.0)?,
        })
    }

    /// `client overhead: p50 0.2 ms, p99 1.1 ms`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "client overhead: p50 {} ms, p99 {} ms",
            short_ms(self.p50_ms),
            short_ms(self.p99_ms)
        )
    }
}

/// The console's overhead table (rows then Aggregated), empty when no response
/// carried a Server-Timing header, followed by the warning when one fires.
pub(crate) fn console_text(snapshot: &Snapshot, share: f64) -> String {
    let rows: Vec<(&RequestStats, Overhead)> = all_rows(snapshot)
        .filter_map(|r| Overhead::of(r).map(|o| (r, o)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("Client overhead (response time minus the server's Server-Timing app time)\n");
    let _ = writeln!(
        out,
        "{:<8} {:<40} {:>8} {:>9} {:>9} {:>9}",
        "Type", "Name", "# timed", "p50 ms", "p99 ms", "max ms"
    );
    for (r, o) in rows {
        let _ = writeln!(
            out,
            "{:<8} {:<40} {:>8} {:>9} {:>9} {:>9}",
            r.method,
            truncate(&r.name, 40),
            o.timed,
            short_ms(o.p50_ms),
            short_ms(o.p99_ms),
            short_ms(o.max_ms)
        );
    }
    out.push('\n');
    if let Some(w) = warning(snapshot, share) {
        let _ = writeln!(out, "WARNING: {w}\n");
    }
    out
}

/// The warning, when any row's overhead p99 passes `share` of its p99 response time.
pub(crate) fn warning(snapshot: &Snapshot, share: f64) -> Option<String> {
    let over: Vec<String> = all_rows(snapshot)
        .filter_map(|r| {
            let o = Overhead::of(r)?;
            let p99 = r.percentile_ms(0.99)?;
            (o.p99_ms > share * p99).then(|| {
                format!(
                    "{} {} (overhead p99 {} ms of p99 {} ms)",
                    r.method,
                    r.name,
                    short_ms(o.p99_ms),
                    short_ms(p99)
                )
            })
        })
        .collect();
    if over.is_empty() {
        return None;
    }
    Some(format!(
        "the client overhead's p99 passed {:.0}% of the p99 response time: {}. The generator's machine, not the target, shaped these tails (give loadgen more CPU, fewer users per process, or change the threshold with --overhead-warn-share)",
        share * 100.0,
        over.join("; ")
    ))
}

fn all_rows(snapshot: &Snapshot) -> impl Iterator<Item = &RequestStats> {
    snapshot
        .rows
        .iter()
        .chain(std::iter::once(&snapshot.aggregated))
}

/// Milliseconds to two significant decimals below 10 ms, one decimal above.
fn short_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn truncate(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::{Aggregator, RequestKey, StatsHub};

    fn snapshot(server_share: f64) -> std::sync::Arc<Snapshot> {
        let start = SystemTime::now();
        let hub = StatsHub::new(1);
        let key = RequestKey::new("GET", "/a");
        {
            let mut shard = hub.shard(0).lock().unwrap();
            for ms in 1..=100u64 {
                let time = Duration::from_millis(ms * 10);
                shard.record(&key, time, 0, None, start);
                shard.record_overhead(&key, time.mul_f64(1.0 - server_share));
            }
        }
        Aggregator::new(start).tick(&hub, start + Duration::from_secs(1), 1)
    }

    #[test]
    fn rows_show_their_overhead_and_a_large_one_is_warned_about() {
        let fine = snapshot(0.99);
        let row = &fine.rows[0];
        let o = Overhead::of(row).unwrap();
        assert_eq!(o.timed, 100);
        // 1% of 10, 20, ... 1000 ms: Locust's rank 51 is 5.1 ms, rank 100 is 10 ms.
        assert!((o.p50_ms - 5.1).abs() < 0.01, "{o:?}");
        assert_eq!(o.summary(), "client overhead: p50 5.10 ms, p99 10.0 ms");
        assert!(warning(&fine, DEFAULT_OVERHEAD_SHARE).is_none());
        let text = console_text(&fine, DEFAULT_OVERHEAD_SHARE);
        assert!(
            text.contains("Aggregated") && !text.contains("WARNING"),
            "{text}"
        );

        let slow = snapshot(0.5);
        let w = warning(&slow, DEFAULT_OVERHEAD_SHARE).expect("a warning");
        assert!(w.contains("GET /a") && w.contains("not the target"), "{w}");
        assert!(console_text(&slow, DEFAULT_OVERHEAD_SHARE).contains("WARNING"));
        assert!(warning(&slow, 0.6).is_none());
    }

    #[test]
    fn nothing_is_shown_without_server_timing() {
        let start = SystemTime::now();
        let hub = StatsHub::new(1);
        hub.shard(0).lock().unwrap().record(
            &RequestKey::new("GET", "/a"),
            Duration::from_millis(3),
            0,
            None,
            start,
        );
        let snap = Aggregator::new(start).tick(&hub, start, 1);
        assert!(Overhead::of(&snap.rows[0]).is_none());
        assert_eq!(console_text(&snap, DEFAULT_OVERHEAD_SHARE), "");
    }
}
