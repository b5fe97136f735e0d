//! Per-request truth: each request loadgen recorded (its `--request-log` record: id,
//! row, measured time, the server's time it read from `Server-Timing`) paired by
//! `X-Request-Id` with the mock's own record of the same request, then, per row and
//! Aggregated:
//!
//! - **never shorter than the server**: no request measured shorter than the mock held
//!   it (both clocks are this machine's monotonic clock, both truncated to the µs);
//! - **overhead p50 and p99**: the client overhead (measured minus the mock's time) of
//!   the requests sent on a kept-alive connection, at its median and its 99th
//!   percentile, within a bound measured independently of loadgen ([`OverheadBound`]).
//!   A connection's first request is left out of these two (and its figures printed
//!   beside them): its overhead includes opening the connection, which the server's
//!   time cannot (the handshake, the wait to be accepted), and in a Locust-style spawn
//!   step the start of every user of the step at once, which no probe does. In the
//!   guide run those 600 of about 9,900 requests hold the whole tail: overhead p99
//!   16.6 ms against 0.38 ms for the kept-alive requests after the ramp (release build);
//! - **histogram holds every request**: the row's HdrHistogram holds as many values as
//!   loadgen counted requests and logged them;
//! - **percentiles = server + overhead**: every percentile Locust reports equals, to
//!   HdrHistogram's precision, that percentile of (the mock's time + loadgen's overhead)
//!   over the same requests.
//!
//! plus one **pairing** check: every response that carried Server-Timing is in the
//! mock's log with the same time, and every request the mock saw from loadgen is in
//! loadgen's. None of these checks is statistical: each is exact, or a bound that no
//! figure of loadgen's enters.

use std::collections::HashMap;

use hdrhistogram::Histogram;
use loadgen::stats::{RequestLogData, RequestStats, PERCENTILES_TO_REPORT, PERCENTILE_LABELS};

use super::{ms, Ctx};
use crate::check::Check;
use crate::run::Evidence;
use crate::stat::{locust_rank, value_at_rank};

/// The overhead quantiles the per-request checks bound: the median, where a shift of
/// every request shows first, and the 99th percentile, where a stall of a few does.
const OVERHEAD_QUANTILES: [f64; 2] = [0.50, 0.99];

/// An upper bound on the client overhead's quantiles, from measurements loadgen takes
/// no part in: the harness's calibration probe before the run and beside it (what
/// loopback and a bare client add, on the machine as quiet and as busy as it was), and
/// the scheduling lateness the mock measured on its own responses during the run (how
/// late this machine's runtime got to a woken task).
///
/// A request's overhead is the loopback transfer and client work (as the probes', the
/// larger of the two), plus two wake-ups under the run's load: the server's task
/// reading the request, the client's task reading the response, each taken as late as
/// the mock's responses were. By the union bound the q-quantile of the sum is at most
/// the sum of each part's (1 - (1 - q)/3)-quantile.
///
/// It bounds requests sent on a kept-alive connection, as the probes' are: a
/// connection's first request also waits for the connection to open, so a bound used
/// for every request of a route lets all of those pass it ([`Self::opened`]).
#[derive(Debug, Clone)]
pub(crate) struct OverheadBound {
    calibration: Histogram<u64>,
    during: Histogram<u64>,
    lateness: Histogram<u64>,
    /// Per route, the requests the mock saw open their connection.
    opened: HashMap<&'static str, u64>,
}

impl OverheadBound {
    /// The bound of a run: its calibrations and every route's delay errors pooled.
    pub(crate) fn of(ev: &Evidence) -> Self {
        let mut lateness = loadgen::stats::new_histogram();
        for route in ev.server.routes.values() {
            if let Ok(h) = loadgen::json::histogram_from_base64(&route.delay_error_histogram) {
                let _ = lateness.add(&h);
            }
        }
        let mut opened = HashMap::new();
        for s in ev.served.iter().filter(|s| s.new_connection) {
            if let Some(route) = s.route {
                *opened.entry(route).or_default() += 1;
            }
        }
        Self {
            calibration: ev.calibration.clone(),
            during: ev.calibration_during.clone(),
            lateness,
            opened,
        }
    }

    /// Requests of `route` that opened their connection: the bound says nothing of them.
    pub(crate) fn opened(&self, route: &str) -> u64 {
        self.opened.get(route).copied().unwrap_or(0)
    }

    /// The bound on the overhead's q-quantile, in wall ms (infinite without a probe).
    pub(crate) fn at(&self, q: f64) -> f64 {
        if self.calibration.is_empty() {
            return f64::INFINITY;
        }
        let part = part(q);
        top(&self.calibration, part).max(top(&self.during, part)) + 2.0 * top(&self.lateness, part)
    }

    /// How the bound at `q` was made.
    pub(crate) fn how(&self, q: f64) -> String {
        let part = part(q);
        format!(
            "max(calibration before q{part:.4} {} (n={}), beside the load {} (n={})) + 2 x mock lateness q{part:.4} {} (n={})",
            ms(top(&self.calibration, part)),
            self.calibration.len(),
            ms(top(&self.during, part)),
            self.during.len(),
            ms(top(&self.lateness, part)),
            self.lateness.len()
        )
    }
}

/// The quantile each of the bound's three parts is taken at, for the sum's q.
fn part(q: f64) -> f64 {
    1.0 - (1.0 - q) / 3.0
}

/// `h`'s `q`-quantile in ms, rounded up to its bucket's top (0 when empty).
fn top(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.highest_equivalent(h.value_at_quantile(q)) as f64 / 1000.0
    }
}

/// One loadgen request paired with the mock's record.
#[derive(Debug, Clone, Copy)]
struct Paired {
    /// loadgen's measured time, µs.
    measured: u64,
    /// The server time loadgen read from Server-Timing, µs.
    reported_server: Option<u64>,
    /// The mock's own record of it, µs.
    mock: Option<u64>,
    /// Whether the mock saw it open its connection.
    new_connection: bool,
}

impl Paired {
    /// The mock's time plus loadgen's overhead (measured minus the server time it
    /// read): the request's time rebuilt from the two records, or the measured time
    /// when the response carried none.
    fn rebuilt(&self) -> u64 {
        match (self.mock, self.reported_server) {
            (Some(m), Some(s)) => m + self.measured.saturating_sub(s),
            _ => self.measured,
        }
    }

    /// Measured minus the mock's own time (µs, negative when shorter).
    fn overhead(&self) -> Option<i64> {
        self.mock.map(|m| self.measured as i64 - m as i64)
    }
}

/// Every per-request check of the run.
pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let Some(log) = &ctx.ev.outcome.request_log else {
        return vec![Check::skip(
            "per-request pairing",
            "loadgen kept no request log",
        )];
    };
    let mock = mock_records(ctx.ev);
    let mut out = vec![pairing(log, &mock)];
    let bound = OverheadBound::of(ctx.ev);
    let snapshot = &ctx.ev.outcome.snapshot;
    // A dribbled body or a hang goes on after the head that carried the server's time:
    // such rows' overhead is not the client's, so their overhead is not bounded.
    let altered = |method: &str, name: &str| {
        super::route_of(method, name).is_some_and(|r| super::latency::timing_altered(ctx, r))
    };
    for row in snapshot
        .rows
        .iter()
        .chain(std::iter::once(&snapshot.aggregated))
    {
        let paired = row_requests(log, &mock, row);
        let label = format!("per-request {}", row_label(row));
        out.push(never_shorter(&label, &paired));
        let timed: Vec<Paired> = if row.method.is_empty() {
            row_requests_where(log, &mock, |k| !altered(&k.method, &k.name))
        } else if altered(&row.method, &row.name) {
            Vec::new()
        } else {
            paired.clone()
        };
        // Rows whose timing the profile alters make no overhead claim: not a check
        // that could not be made, but one that does not apply.
        let applies = if row.method.is_empty() {
            snapshot.rows.iter().any(|r| !altered(&r.method, &r.name))
        } else {
            !altered(&row.method, &row.name)
        };
        if applies {
            for q in OVERHEAD_QUANTILES {
                out.push(overhead_quantile(&label, &timed, &bound, q));
            }
        }
        out.push(histogram_count(&label, row, paired.len()));
        out.push(percentiles(&label, row, &paired));
    }
    out
}

fn row_label(row: &RequestStats) -> String {
    if row.method.is_empty() {
        row.name.clone()
    } else {
        format!("{} {}", row.method, row.name)
    }
}

/// The mock's record of one request (of each response of a redirect chain, summed).
#[derive(Debug, Clone, Copy, Default)]
struct MockRecord {
    /// Its time, µs.
    app_us: u64,
    /// Whether one of its responses was the first on its connection.
    new_connection: bool,
}

/// The mock's record per request id.
fn mock_records(ev: &Evidence) -> HashMap<&str, MockRecord> {
    let mut records: HashMap<&str, MockRecord> = HashMap::new();
    for s in &ev.served {
        let record = records.entry(s.id.as_str()).or_default();
        record.app_us += s.app_us;
        record.new_connection |= s.new_connection;
    }
    records
}

/// The requests of `row` (every row's for Aggregated), each with the mock's record.
fn row_requests(
    log: &RequestLogData,
    mock: &HashMap<&str, MockRecord>,
    row: &RequestStats,
) -> Vec<Paired> {
    let aggregated = row.method.is_empty();
    row_requests_where(log, mock, |key| {
        aggregated || (key.method == row.method && key.name == row.name)
    })
}

/// The logged requests whose row `keep` accepts, each with the mock's record.
fn row_requests_where(
    log: &RequestLogData,
    mock: &HashMap<&str, MockRecord>,
    keep: impl Fn(&loadgen::stats::RequestKey) -> bool,
) -> Vec<Paired> {
    log.requests
        .iter()
        .filter(|r| keep(log.key(r)))
        .map(|r| {
            let record = mock.get(r.id.to_string().as_str());
            Paired {
                measured: r.response_us,
                reported_server: r.server_us,
                mock: record.map(|m| m.app_us),
                new_connection: record.is_some_and(|m| m.new_connection),
            }
        })
        .collect()
}

fn pairing(log: &RequestLogData, mock: &HashMap<&str, MockRecord>) -> Check {
    let mut timed = 0u64;
    let mut missing = 0u64;
    let mut differ = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for r in &log.requests {
        let id = r.id.to_string();
        let Some(s) = r.server_us else {
            ids.insert(id);
            continue;
        };
        timed += 1;
        match mock.get(id.as_str()) {
            None => missing += 1,
            Some(m) if m.app_us != s => {
                differ.push(format!("{id}: {s} us read, {} us served", m.app_us))
            }
            Some(_) => {}
        }
        ids.insert(id);
    }
    let unknown = mock
        .keys()
        .filter(|id| id.starts_with("lg") && !ids.contains(**id))
        .count();
    let shown: Vec<&str> = differ.iter().take(3).map(String::as_str).collect();
    Check::new(
        "per-request pairing",
        "every response with Server-Timing in the mock's log with the same time; every loadgen id the mock saw in loadgen's log",
        format!(
            "{timed} timed of {} logged; {missing} not in the mock's log, {} with another time{}, {unknown} seen by the mock only",
            log.requests.len(),
            differ.len(),
            if shown.is_empty() { String::new() } else { format!(" ({})", shown.join("; ")) }
        ),
        "exact (ids match, times equal to the us)",
        timed > 0 && missing == 0 && differ.is_empty() && unknown == 0,
    )
}

fn never_shorter(label: &str, paired: &[Paired]) -> Check {
    let name = format!("{label} never shorter than the server");
    let with_mock: Vec<i64> = paired.iter().filter_map(Paired::overhead).collect();
    if with_mock.is_empty() {
        return Check::skip(name, "no request of this row is in the mock's log");
    }
    let shorter = with_mock.iter().filter(|o| **o < 0).count();
    let least = with_mock.iter().copied().min().unwrap_or(0);
    Check::new(
        name,
        "0 requests measured shorter than the mock held them",
        format!(
            "{shorter} of {} (least overhead {})",
            with_mock.len(),
            ms(least as f64 / 1000.0)
        ),
        "exact: measured >= the mock's time, per request",
        shorter == 0,
    )
}

fn overhead_quantile(label: &str, paired: &[Paired], bound: &OverheadBound, q: f64) -> Check {
    let name = format!("{label} overhead p{}", (q * 100.0).round());
    let (opened, kept): (Vec<&Paired>, Vec<&Paired>) =
        paired.iter().partition(|p| p.new_connection);
    let Some(kept) = Overheads::of(kept) else {
        return Check::skip(
            name,
            "no request of this row on a kept-alive connection is in the mock's log, or the profile dribbles or hangs it after its head",
        );
    };
    let measured = kept.at(q);
    let limit = bound.at(q);
    let first = Overheads::of(opened).map_or_else(
        || "none".to_owned(),
        |o| format!("n={}, p50 {}, p99 {}", o.n(), ms(o.at(0.5)), ms(o.at(0.99))),
    );
    Check::new(
        name,
        format!("<= {}", ms(limit)),
        format!(
            "{} (n={} on kept-alive connections; p10 {}, p99 {}, max {}; a connection's first request, not judged: {first})",
            ms(measured),
            kept.n(),
            ms(kept.at(0.1)),
            ms(kept.at(0.99)),
            ms(kept.at(1.0))
        ),
        format!("0..{} = {}", ms(limit), bound.how(q)),
        measured <= limit,
    )
}

/// Client overheads (µs) of requests the mock logged, sorted.
struct Overheads(Vec<i64>);

impl Overheads {
    /// Those of `paired` (`None` when the mock logged none of them).
    fn of(paired: Vec<&Paired>) -> Option<Self> {
        let mut overheads: Vec<i64> = paired.into_iter().filter_map(Paired::overhead).collect();
        overheads.sort_unstable();
        (!overheads.is_empty()).then_some(Self(overheads))
    }

    fn n(&self) -> u64 {
        self.0.len() as u64
    }

    /// The q-quantile (Locust's rank), ms.
    fn at(&self, q: f64) -> f64 {
        self.0[(locust_rank(self.n(), q) - 1) as usize] as f64 / 1000.0
    }
}

fn histogram_count(label: &str, row: &RequestStats, logged: usize) -> Check {
    let held = row.histogram().len();
    let counted = row.num_requests();
    Check::new(
        format!("{label} histogram holds every request"),
        format!("{counted} values (the requests counted)"),
        format!("{held} in the histogram, {logged} logged"),
        "exact",
        held == counted && counted == logged as u64,
    )
}

fn percentiles(label: &str, row: &RequestStats, paired: &[Paired]) -> Check {
    let name = format!("{label} percentiles = server + overhead");
    if paired.is_empty() || row.num_requests() == 0 {
        return Check::skip(name, "no requests");
    }
    let mut rebuilt = loadgen::stats::new_histogram();
    let (mut lo, mut hi) = (u64::MAX, 0);
    for p in paired {
        let v = p.rebuilt();
        crate::calibrate::record(&mut rebuilt, v);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let reported = row
        .percentiles_ms(&PERCENTILES_TO_REPORT)
        .unwrap_or_default();
    let mut off = Vec::new();
    for ((p, label), got) in PERCENTILES_TO_REPORT
        .iter()
        .zip(PERCENTILE_LABELS)
        .zip(&reported)
    {
        let rank = locust_rank(paired.len() as u64, *p);
        let Some((_, top)) = value_at_rank(&rebuilt, rank) else {
            continue;
        };
        let want = top.clamp(lo, hi);
        // One HdrHistogram bucket at this value: what three digits cannot tell apart.
        let width = (rebuilt.highest_equivalent(want) - rebuilt.lowest_equivalent(want) + 1) as f64;
        if (got * 1000.0 - want as f64).abs() > width {
            off.push(format!(
                "{label} {} vs {}",
                ms(*got),
                ms(want as f64 / 1000.0)
            ));
        }
    }
    Check::new(
        name,
        format!(
            "each of {} percentiles equal over the same {} requests",
            PERCENTILES_TO_REPORT.len(),
            paired.len()
        ),
        if off.is_empty() {
            format!(
                "all equal (p99 {})",
                ms(reported.get(7).copied().unwrap_or(0.0))
            )
        } else {
            format!("{} differ: {}", off.len(), off.join(", "))
        },
        "one HdrHistogram bucket (3 significant digits)",
        off.is_empty(),
    )
}
