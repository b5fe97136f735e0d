//! The per-request log (`--request-log FILE`): one record per request (its
//! `X-Request-Id`, row, start, measured time and the server's own time from its
//! `Server-Timing` header), for pairing with the target's record of the same request.
//!
//! Recording follows the statistics' rule: a user writes into its own stripe, locked
//! only by users of the same stripe, and nothing is allocated per request once a row is
//! known (rows are interned per stripe; ids are two integers, rendered only when the
//! log is written).

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::RequestKey;

/// A request's id as loadgen sends it: the session's serial and its request count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    /// The session (one per user started).
    pub session: u32,
    /// The request's number in its session, from 1.
    pub seq: u64,
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lg{}-{}", self.session, self.seq)
    }
}

/// One request as loadgen measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Its `X-Request-Id`.
    pub id: RequestId,
    /// Index of its row in [`RequestLogData::rows`].
    pub row: u32,
    /// When it was sent, µs from the test start.
    pub start_us: u64,
    /// Its response time as recorded (before any coordinated-omission correction), µs.
    pub response_us: u64,
    /// The server's own time (`Server-Timing: app;dur=`), µs, when the response had one.
    pub server_us: Option<u64>,
}

/// Records per stripe, with the stripe's own row table.
#[derive(Debug, Default)]
struct Stripe {
    rows: HashMap<RequestKey, u32>,
    keys: Vec<RequestKey>,
    requests: Vec<LoggedRequest>,
}

/// Where users write their requests' records during a run.
#[derive(Debug)]
pub struct RequestLog {
    test_start: Instant,
    stripes: Vec<Mutex<Stripe>>,
    next_session: AtomicU32,
}

impl RequestLog {
    /// A log with `stripes` stripes (at least one), times counted from `test_start`.
    pub fn new(stripes: usize, test_start: Instant) -> Self {
        Self {
            test_start,
            stripes: (0..stripes.max(1))
                .map(|_| Mutex::new(Stripe::default()))
                .collect(),
            next_session: AtomicU32::new(1),
        }
    }

    /// A serial for a new session's ids (once per user started, not per request).
    pub fn next_session(&self) -> u32 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Records one request of user `index`.
    pub fn record(
        &self,
        index: usize,
        key: &RequestKey,
        id: RequestId,
        sent: Instant,
        response_time: Duration,
        server_time: Option<Duration>,
    ) {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let mut stripe = self.stripes[index % self.stripes.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let row = match stripe.rows.get(key) {
            Some(&row) => row,
            None => {
                let row = u32::try_from(stripe.keys.len()).unwrap_or(u32::MAX);
                stripe.keys.push(key.clone());
                stripe.rows.insert(key.clone(), row);
                row
            }
        };
        stripe.requests.push(LoggedRequest {
            id,
            row,
            start_us: us(sent.saturating_duration_since(self.test_start)),
            response_us: us(response_time),
            server_us: server_time.map(us),
        });
    }

    /// Everything recorded, as plain data: one row table, requests by start.
    pub fn finish(&self) -> RequestLogData {
        let mut data = RequestLogData::default();
        let mut global: HashMap<RequestKey, u32> = HashMap::new();
        for stripe in &self.stripes {
            let stripe = stripe.lock().unwrap_or_else(PoisonError::into_inner);
            let remap: Vec<u32> = stripe
                .keys
                .iter()
                .map(|k| {
                    *global.entry(k.clone()).or_insert_with(|| {
                        data.rows.push(k.clone());
                        (data.rows.len() - 1) as u32
                    })
                })
                .collect();
            data.requests
                .extend(stripe.requests.iter().map(|r| LoggedRequest {
                    row: remap[r.row as usize],
                    ..*r
                }));
        }
        data.requests.sort_by_key(|r| (r.start_us, r.id));
        data
    }
}

/// A finished run's request log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestLogData {
    /// The rows requests refer to by index.
    pub rows: Vec<RequestKey>,
    /// Every request, by start.
    pub requests: Vec<LoggedRequest>,
}

/// The header line of the log's CSV file.
pub const REQUEST_LOG_HEADER: &str = "id,method,name,start_ms,response_time_ms,server_ms";

impl RequestLogData {
    /// The row of a request.
    pub fn key(&self, r: &LoggedRequest) -> &RequestKey {
        &self.rows[r.row as usize]
    }

    /// Writes the log as CSV ([`REQUEST_LOG_HEADER`]; times in ms to the µs; an empty
    /// `server_ms` when the response carried no Server-Timing).
    pub fn write_csv(&self, out: impl Write) -> std::io::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(REQUEST_LOG_HEADER.split(','))?;
        let ms = |us: u64| format!("{}.{:03}", us / 1000, us % 1000);
        for r in &self.requests {
            let key = self.key(r);
            w.write_record([
                r.id.to_string(),
                key.method.clone(),
                key.name.clone(),
                ms(r.start_us),
                ms(r.response_us),
                r.server_us.map(ms).unwrap_or_default(),
            ])?;
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_every_stripe_share_one_row_table_and_write_as_csv() {
        let start = Instant::now();
        let log = RequestLog::new(2, start);
        let a = RequestKey::new("GET", "/a");
        let b = RequestKey::new("POST", "/b");
        let s1 = log.next_session();
        let s2 = log.next_session();
        assert_ne!(s1, s2);
        let ms = Duration::from_millis;
        log.record(
            0,
            &a,
            RequestId {
                session: s1,
                seq: 1,
            },
            start + ms(5),
            ms(3),
            Some(ms(2)),
        );
        log.record(
            1,
            &b,
            RequestId {
                session: s2,
                seq: 1,
            },
            start + ms(1),
            ms(7),
            None,
        );
        log.record(
            1,
            &a,
            RequestId {
                session: s2,
                seq: 2,
            },
            start + ms(9),
            Duration::from_micros(1_234),
            Some(Duration::from_micros(1_000)),
        );
        let data = log.finish();
        assert_eq!(data.requests.len(), 3);
        assert_eq!(data.rows.len(), 2);
        let names: Vec<&str> = data
            .requests
            .iter()
            .map(|r| data.key(r).name.as_str())
            .collect();
        assert_eq!(names, ["/b", "/a", "/a"]);
        let mut csv = Vec::new();
        data.write_csv(&mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], REQUEST_LOG_HEADER);
        assert_eq!(lines[1], format!("lg{s2}-1,POST,/b,1.000,7.000,"));
        assert_eq!(lines[3], format!("lg{s2}-2,GET,/a,9.000,1.234,1.000"));
    }
}
