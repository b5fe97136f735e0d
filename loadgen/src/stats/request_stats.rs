//! One statistics row: the counters and the HdrHistogram of one (method, name), or of
//! all of them (the Aggregated row), with Locust's figures computed from them.

use std::sync::Arc;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::per_second::PerSecond;
use super::{unix_seconds, unix_seconds_f64};

/// The largest response time a histogram holds: one day, in microseconds. Larger values
/// are recorded as this value (saturated) rather than rejected; the exact maximum and
/// the mean still see the true value.
pub const MAX_RECORDED_US: u64 = 86_400 * 1_000_000;

/// Significant decimal digits kept by every histogram.
const SIGNIFICANT_DIGITS: u8 = 3;

/// The range every histogram holds from the start: 2^20 µs, about a second (98 KB at
/// three digits). A histogram widens by a bucket (8 KB) in each of its copies each
/// time the slowest response doubles past its range; starting at a second means the
/// doublings of a run's first minutes (a 30-minute soak's slowest response went from
/// 17 ms at minute 1 to 69 ms at minute 15) cost nothing, and memory stays flat.
const PRESIZED_RANGE_US: u64 = 1 << 20;

/// An empty histogram in microseconds with three significant digits, holding up to
/// about a second from the start, that grows as slower responses arrive.
pub fn new_histogram() -> Histogram<u64> {
    // Only fails for precision above 5 digits or a range below 2: neither here.
    let mut histogram = Histogram::new_with_max(PRESIZED_RANGE_US, SIGNIFICANT_DIGITS)
        .unwrap_or_else(|_| unreachable!("3 digits up to 2^20 is valid"));
    histogram.auto(true);
    histogram
}

/// A row's exact totals, as a report keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowTotals {
    /// Requests, failures included.
    pub num_requests: u64,
    /// Failed requests.
    pub num_failures: u64,
    /// Sum of response times, microseconds.
    pub total_response_time_us: u64,
    /// Fastest, microseconds; `None` without requests.
    pub min_response_time_us: Option<u64>,
    /// Slowest, microseconds.
    pub max_response_time_us: u64,
    /// Sum of response sizes, bytes.
    pub total_content_length: u64,
    /// When the first request finished.
    pub first_request: Option<SystemTime>,
    /// When the last request finished.
    pub last_request: Option<SystemTime>,
}

/// Statistics for one row of Locust's tables.
///
/// Inside the aggregator it holds the run's totals; inside a [`super::Snapshot`] also the
/// run's start and last request time, which Locust's rates are computed against.
#[derive(Debug, PartialEq)]
pub struct RequestStats {
    /// HTTP method (`GET`); empty for the Aggregated row.
    pub method: String,
    /// Stats name (`/api/clients/[id]`), or `Aggregated`.
    pub name: String,
    num_requests: u64,
    num_failures: u64,
    total_response_time_us: u64,
    /// `u64::MAX` while no request is recorded.
    min_response_time_us: u64,
    max_response_time_us: u64,
    total_content_length: u64,
    per_second: PerSecond,
    first_request: Option<SystemTime>,
    last_request: Option<SystemTime>,
    /// Shared with the copies of this row in snapshots until the row changes (see
    /// [`Self::unshare`]).
    histogram: Arc<Histogram<u64>>,
    /// Client overhead (µs) of the requests whose response carried the server's own
    /// time (`Server-Timing: app;dur=`): the measured response time minus it.
    overhead: Arc<Histogram<u64>>,
    /// Response times of the last few seconds (Locust's "current" percentiles); set on
    /// snapshot rows by the aggregator.
    window: Option<Histogram<u64>>,
    run_start: SystemTime,
    run_last_request: Option<SystemTime>,
}

/// A copy shares the run's histograms (a snapshot's rows cost pointer copies), and
/// `clone_from` reuses the destination's other buffers: a fresh set of histograms every
/// second kept the allocator's arenas growing over a long run.
impl Clone for RequestStats {
    fn clone(&self) -> Self {
        Self {
            method: self.method.clone(),
            name: self.name.clone(),
            num_requests: self.num_requests,
            num_failures: self.num_failures,
            total_response_time_us: self.total_response_time_us,
            min_response_time_us: self.min_response_time_us,
            max_response_time_us: self.max_response_time_us,
            total_content_length: self.total_content_length,
            per_second: self.per_second.clone(),
            first_request: self.first_request,
            last_request: self.last_request,
            histogram: Arc::clone(&self.histogram),
            overhead: Arc::clone(&self.overhead),
            window: self.window.clone(),
            run_start: self.run_start,
            run_last_request: self.run_last_request,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.method.clone_from(&source.method);
        self.name.clone_from(&source.name);
        self.num_requests = source.num_requests;
        self.num_failures = source.num_failures;
        self.total_response_time_us = source.total_response_time_us;
        self.min_response_time_us = source.min_response_time_us;
        self.max_response_time_us = source.max_response_time_us;
        self.total_content_length = source.total_content_length;
        self.per_second.clone_from(&source.per_second);
        self.first_request = source.first_request;
        self.last_request = source.last_request;
        self.histogram.clone_from(&source.histogram);
        self.overhead.clone_from(&source.overhead);
        match (&mut self.window, &source.window) {
            (Some(mine), Some(theirs)) => copy_histogram(mine, theirs),
            (mine, theirs) => mine.clone_from(theirs),
        }
        self.run_start = source.run_start;
        self.run_last_request = source.run_last_request;
    }
}

impl RequestStats {
    /// An empty row.
    pub fn new(method: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            name: name.into(),
            num_requests: 0,
            num_failures: 0,
            total_response_time_us: 0,
            min_response_time_us: u64::MAX,
            max_response_time_us: 0,
            total_content_length: 0,
            per_second: PerSecond::default(),
            first_request: None,
            last_request: None,
            histogram: Arc::new(new_histogram()),
            overhead: Arc::new(new_histogram()),
            window: None,
            run_start: SystemTime::UNIX_EPOCH,
            run_last_request: None,
        }
    }

    /// A row rebuilt from its totals and histogram (a JSON report read back); it has no
    /// per-second counts, so its current rates are zero.
    pub fn from_totals(
        method: impl Into<String>,
        name: impl Into<String>,
        totals: &RowTotals,
        histogram: Histogram<u64>,
    ) -> Self {
        let mut row = Self::new(method, name);
        row.num_requests = totals.num_requests;
        row.num_failures = totals.num_failures;
        row.total_response_time_us = totals.total_response_time_us;
        row.min_response_time_us = totals.min_response_time_us.unwrap_or(u64::MAX);
        row.max_response_time_us = totals.max_response_time_us;
        row.total_content_length = totals.total_content_length;
        row.first_request = totals.first_request;
        row.last_request = totals.last_request;
        row.histogram = Arc::new(histogram);
        row
    }

    /// Records one request finished at `at`; `failed` also counts it as a failure.
    pub(crate) fn record_us(
        &mut self,
        response_time_us: u64,
        content_length: u64,
        failed: bool,
        at: SystemTime,
    ) {
        self.num_requests += 1;
        self.num_failures += u64::from(failed);
        self.total_response_time_us = self.total_response_time_us.saturating_add(response_time_us);
        self.min_response_time_us = self.min_response_time_us.min(response_time_us);
        self.max_response_time_us = self.max_response_time_us.max(response_time_us);
        self.total_content_length = self.total_content_length.saturating_add(content_length);
        self.per_second.add(unix_seconds(at), 1, u64::from(failed));
        self.first_request = Some(self.first_request.map_or(at, |t| t.min(at)));
        self.last_request = Some(self.last_request.map_or(at, |t| t.max(at)));
        record_saturating(Arc::make_mut(&mut self.histogram), response_time_us);
    }

    /// Records one request's client overhead: its measured time minus the server's.
    pub(crate) fn record_overhead_us(&mut self, overhead_us: u64) {
        record_saturating(Arc::make_mut(&mut self.overhead), overhead_us);
    }

    /// Sets the client-overhead histogram (a report read back).
    pub fn set_overhead(&mut self, overhead: Histogram<u64>) {
        self.overhead = Arc::new(overhead);
    }

    /// Makes the histograms this row's own before it changes, copying a shared one into
    /// a buffer from `spares` (or a new one) rather than letting `Arc::make_mut`
    /// allocate a copy each second. Returns how many new buffers it took.
    pub(crate) fn unshare(&mut self, spares: &mut Vec<Histogram<u64>>) -> usize {
        let mut allocated = 0;
        for histogram in [&mut self.histogram, &mut self.overhead] {
            if Arc::get_mut(histogram).is_none() {
                let mut own = spares.pop().unwrap_or_else(|| {
                    allocated += 1;
                    new_histogram()
                });
                copy_histogram(&mut own, histogram);
                *histogram = Arc::new(own);
            }
        }
        allocated
    }

    /// Hands this row's histograms to `spares` where no one else holds them, leaving
    /// `empty` in their place (a snapshot no one reads any more).
    pub(crate) fn release_histograms(
        &mut self,
        empty: &Arc<Histogram<u64>>,
        spares: &mut Vec<Histogram<u64>>,
    ) {
        for histogram in [&mut self.histogram, &mut self.overhead] {
            let held = std::mem::replace(histogram, Arc::clone(empty));
            if let Ok(own) = Arc::try_unwrap(held) {
                spares.push(own);
            }
        }
    }

    /// True when `other`'s histograms are this row's, not copies.
    #[cfg(test)]
    pub(crate) fn shares_histograms_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.histogram, &other.histogram)
            && Arc::ptr_eq(&self.overhead, &other.overhead)
    }

    /// Adds `other`'s requests to this row (like `+=`): the result does not depend on the
    /// order in which rows are merged.
    pub fn merge(&mut self, other: &RequestStats) {
        self.num_requests += other.num_requests;
        self.num_failures += other.num_failures;
        self.total_response_time_us = self
            .total_response_time_us
            .saturating_add(other.total_response_time_us);
        self.min_response_time_us = self.min_response_time_us.min(other.min_response_time_us);
        self.max_response_time_us = self.max_response_time_us.max(other.max_response_time_us);
        self.total_content_length = self
            .total_content_length
            .saturating_add(other.total_content_length);
        self.per_second.merge(&other.per_second);
        self.first_request = min_opt(self.first_request, other.first_request);
        self.last_request = max_opt(self.last_request, other.last_request);
        self.run_start = self.run_start.max(other.run_start);
        self.run_last_request = max_opt(self.run_last_request, other.run_last_request);
        add_histogram(Arc::make_mut(&mut self.histogram), &other.histogram);
        add_histogram(Arc::make_mut(&mut self.overhead), &other.overhead);
        match (&mut self.window, &other.window) {
            (Some(mine), Some(theirs)) => add_histogram(mine, theirs),
            (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
            _ => {}
        }
    }

    /// Empties the row (a reset of the run's statistics).
    pub(crate) fn clear(&mut self) {
        self.num_requests = 0;
        self.num_failures = 0;
        self.total_response_time_us = 0;
        self.min_response_time_us = u64::MAX;
        self.max_response_time_us = 0;
        self.total_content_length = 0;
        self.per_second.clear();
        self.first_request = None;
        self.last_request = None;
        // A histogram grows to hold the largest time it has seen and never shrinks: a
        // reset row starts at the first range again.
        self.histogram = Arc::new(new_histogram());
        self.overhead = Arc::new(new_histogram());
        self.window = None;
        self.run_start = SystemTime::UNIX_EPOCH;
        self.run_last_request = None;
    }

    /// Sets the response times of the last few seconds.
    pub(crate) fn set_window(&mut self, window: Option<Histogram<u64>>) {
        self.window = window;
    }

    /// True when both rows hold the same figures and the same values in each histogram,
    /// whatever size the histograms' buffers have grown to (`==` also compares those).
    #[cfg(test)]
    pub(crate) fn same_figures(&self, other: &Self) -> bool {
        fn same(a: &Histogram<u64>, b: &Histogram<u64>) -> bool {
            let values = |h: &Histogram<u64>| {
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect::<Vec<_>>()
            };
            a.len() == b.len()
                && a.max() == b.max()
                && a.min_nz() == b.min_nz()
                && values(a) == values(b)
        }
        let windows = match (&self.window, &other.window) {
            (Some(a), Some(b)) => same(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.method == other.method
            && self.name == other.name
            && self.num_requests == other.num_requests
            && self.num_failures == other.num_failures
            && self.total_response_time_us == other.total_response_time_us
            && self.min_response_time_us == other.min_response_time_us
            && self.max_response_time_us == other.max_response_time_us
            && self.total_content_length == other.total_content_length
            && self.per_second == other.per_second
            && self.first_request == other.first_request
            && self.last_request == other.last_request
            && same(&self.histogram, &other.histogram)
            && same(&self.overhead, &other.overhead)
            && windows
            && self.run_start == other.run_start
            && self.run_last_request == other.run_last_request
    }

    /// Takes the response times of the last few seconds out (their buffer, for reuse).
    pub(crate) fn take_window(&mut self) -> Option<Histogram<u64>> {
        self.window.take()
    }

    /// Sets the run's start and last request time, which the rates are computed against.
    pub(crate) fn set_run_context(&mut self, start: SystemTime, last_request: Option<SystemTime>) {
        self.run_start = start;
        self.run_last_request = last_request;
    }

    /// Forgets per-second counts older than `second` (only the last few are ever read).
    pub(crate) fn forget_seconds_before(&mut self, second: u64) {
        self.per_second.forget_before(second);
    }

    /// Number of requests, failures included.
    pub fn num_requests(&self) -> u64 {
        self.num_requests
    }

    /// Requests and failures per Unix second, oldest first: (second, requests, failures).
    pub fn per_second(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        self.per_second
            .iter()
            .map(|c| (c.second, c.requests, c.failures))
    }

    /// Exact minimum response time in microseconds; `None` without requests.
    pub fn min_response_time_us(&self) -> Option<u64> {
        (self.num_requests > 0).then_some(self.min_response_time_us)
    }

    /// Exact maximum response time in microseconds (0 without requests).
    pub fn max_response_time_us(&self) -> u64 {
        self.max_response_time_us
    }

    /// Number of failed requests.
    pub fn num_failures(&self) -> u64 {
        self.num_failures
    }

    /// Sum of all content lengths, in bytes.
    pub fn total_content_length(&self) -> u64 {
        self.total_content_length
    }

    /// Sum of all response times, in microseconds (saturating).
    pub fn total_response_time_us(&self) -> u64 {
        self.total_response_time_us
    }

    /// When the first request of this row finished.
    pub fn first_request(&self) -> Option<SystemTime> {
        self.first_request
    }

    /// When the last request of this row finished.
    pub fn last_request(&self) -> Option<SystemTime> {
        self.last_request
    }

    /// The start of the run (or of the last reset) the rates are computed from.
    pub fn run_start(&self) -> SystemTime {
        self.run_start
    }

    /// The last request of the whole run, which ends Locust's whole-run rate.
    pub fn run_last_request(&self) -> Option<SystemTime> {
        self.run_last_request
    }

    /// Client overhead (µs) per request that carried the server's time: its count is
    /// how many did.
    pub fn overhead(&self) -> &Histogram<u64> {
        &self.overhead
    }

    /// The client overhead's percentile `p` in milliseconds (Locust's rank among the
    /// requests that carried the server's time), `None` when none did.
    pub fn overhead_percentile_ms(&self, p: f64) -> Option<f64> {
        let n = self.overhead.len();
        let hi = self.overhead.max();
        (n > 0).then(|| us_to_ms(values_at_ranks(&self.overhead, &[rank_of(n, p)], 0, hi)[0]))
    }

    /// The response time histogram, in microseconds.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// The response times of the last few seconds, when the snapshot carries them (always
    /// for the Aggregated row, for every row with full history).
    pub fn window_histogram(&self) -> Option<&Histogram<u64>> {
        self.window.as_ref()
    }

    /// Locust's "current" percentile: the value (ms) at rank floor(n*p)+1 among the
    /// response times of the last ten collections (about ten seconds). `None` when the
    /// window is not kept for this row or holds no request.
    pub fn current_percentile_ms(&self, p: f64) -> Option<f64> {
        let window = self.window.as_ref().filter(|w| !w.is_empty())?;
        let rank = rank_of(window.len(), p);
        values_at_ranks(
            window,
            &[rank],
            0,
            self.max_response_time_us.max(window.max()),
        )
        .first()
        .map(|&v| us_to_ms(v))
    }

    /// Exact mean response time in milliseconds (0 without requests).
    pub fn avg_response_time_ms(&self) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        self.total_response_time_us as f64 / self.num_requests as f64 / 1000.0
    }

    /// Exact minimum response time in milliseconds (0 without requests).
    pub fn min_response_time_ms(&self) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        us_to_ms(self.min_response_time_us)
    }

    /// Exact maximum response time in milliseconds (0 without requests).
    pub fn max_response_time_ms(&self) -> f64 {
        us_to_ms(self.max_response_time_us)
    }

    /// The lower median in milliseconds, clamped to the exact minimum and maximum as
    /// Locust clamps it (0 without requests).
    pub fn median_response_time_ms(&self) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        // Locust's median_from_dict: the value at 0-based position (n - 1) / 2.
        let rank = (self.num_requests - 1) / 2 + 1;
        self.values_at_ranks(&[rank])
            .first()
            .map_or(0.0, |&v| us_to_ms(v))
    }

    /// The response time (ms) at Locust's rank floor(n*p)+1, capped at n: exact to three
    /// significant digits and clamped to the exact minimum and maximum. `None` without
    /// requests.
    pub fn percentile_ms(&self, p: f64) -> Option<f64> {
        self.percentiles_ms(&[p]).map(|v| v[0])
    }

    /// Several percentiles at once (one pass over the histogram), in the order given.
    pub fn percentiles_ms(&self, ps: &[f64]) -> Option<Vec<f64>> {
        if self.num_requests == 0 {
            return None;
        }
        let ranks: Vec<u64> = ps.iter().map(|&p| self.rank(p)).collect();
        Some(
            self.values_at_ranks(&ranks)
                .into_iter()
                .map(us_to_ms)
                .collect(),
        )
    }

    /// Mean content length in bytes (0 without requests).
    pub fn avg_content_length(&self) -> f64 {
        if self.num_requests == 0 {
            return 0.0;
        }
        self.total_content_length as f64 / self.num_requests as f64
    }

    /// Failures divided by requests (0 without requests).
    pub fn fail_ratio(&self) -> f64 {
        if self.num_requests == 0 {
            return if self.num_failures > 0 { 1.0 } else { 0.0 };
        }
        self.num_failures as f64 / self.num_requests as f64
    }

    /// Locust's whole-run rate: requests / (run's last request time - run start).
    pub fn total_rps(&self) -> f64 {
        self.per_run_second(self.num_requests)
    }

    /// Locust's whole-run failure rate: failures / (run's last request time - run start).
    pub fn total_fail_per_sec(&self) -> f64 {
        self.per_run_second(self.num_failures)
    }

    /// Locust's current rate: the mean of the per-second request counts over the ten
    /// whole seconds ending two seconds before `now` (`now - 12 .. now - 2`, not before the
    /// run start). Locust takes the last request's time as `now`; a snapshot passes its
    /// own time, so the rate falls to zero when requests stop instead of freezing.
    pub fn current_rps(&self, now: SystemTime) -> f64 {
        self.current_rate(now).0
    }

    /// Locust's current failure rate, over the same window as [`Self::current_rps`].
    pub fn current_fail_per_sec(&self, now: SystemTime) -> f64 {
        self.current_rate(now).1
    }

    fn current_rate(&self, now: SystemTime) -> (f64, f64) {
        if self.run_last_request.is_none() && self.last_request.is_none() {
            return (0.0, 0.0);
        }
        let now_s = unix_seconds(now);
        let from = now_s.saturating_sub(12).max(unix_seconds(self.run_start));
        let to = now_s.saturating_sub(2);
        if to <= from {
            return (0.0, 0.0);
        }
        let (requests, failures) = self.per_second.sum_range(from, to);
        let seconds = (to - from) as f64;
        (requests as f64 / seconds, failures as f64 / seconds)
    }

    fn per_run_second(&self, count: u64) -> f64 {
        let Some(last) = self.run_last_request else {
            return 0.0;
        };
        let elapsed = unix_seconds_f64(last) - unix_seconds_f64(self.run_start);
        if elapsed <= 0.0 {
            return 0.0;
        }
        count as f64 / elapsed
    }

    /// Locust's rank for percentile `p`: floor(n*p)+1, capped at n, at least 1.
    fn rank(&self, p: f64) -> u64 {
        rank_of(self.num_requests, p)
    }

    /// The histogram values (µs) at 1-based `ranks`, each clamped to the exact min and max.
    fn values_at_ranks(&self, ranks: &[u64]) -> Vec<u64> {
        let lo = self.min_response_time_us.min(self.max_response_time_us);
        values_at_ranks(&self.histogram, ranks, lo, self.max_response_time_us)
    }
}

/// Locust's rank for percentile `p` among `n` values: floor(n*p)+1, capped at n.
fn rank_of(n: u64, p: f64) -> u64 {
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    ((n as f64 * p) as u64 + 1).min(n)
}

/// The values (µs) at 1-based `ranks` in `histogram` (the top of each value's bucket),
/// clamped to `lo..=hi`, in the order of `ranks`; one pass over the histogram.
fn values_at_ranks(histogram: &Histogram<u64>, ranks: &[u64], lo: u64, hi: u64) -> Vec<u64> {
    let mut order: Vec<usize> = (0..ranks.len()).collect();
    order.sort_by_key(|&i| ranks[i]);
    let mut out = vec![hi; ranks.len()];
    let mut next = 0;
    let mut seen = 0u64;
    for v in histogram.iter_recorded() {
        seen = seen.saturating_add(v.count_at_value());
        let value = histogram.highest_equivalent(v.value_iterated_to());
        while next < order.len() && ranks[order[next]] <= seen {
            out[order[next]] = value;
            next += 1;
        }
        if next == order.len() {
            break;
        }
    }
    out.into_iter().map(|v| v.clamp(lo, hi.max(lo))).collect()
}

/// Adds `source` into `target`, clamping values if `target` cannot grow (never fails).
pub(crate) fn add_histogram(target: &mut Histogram<u64>, source: &Histogram<u64>) {
    if target.add(source).is_err() {
        for v in source.iter_recorded() {
            target.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// Makes `target` hold exactly `source`'s values, in `target`'s buffer.
pub(crate) fn copy_histogram(target: &mut Histogram<u64>, source: &Histogram<u64>) {
    target.reset();
    add_histogram(target, source);
}

/// Records a value, clamping it to [`MAX_RECORDED_US`] instead of failing or panicking.
pub(crate) fn record_saturating(histogram: &mut Histogram<u64>, value_us: u64) {
    let value = value_us.min(MAX_RECORDED_US);
    if histogram.record(value).is_err() {
        histogram.saturating_record(value);
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn min_opt(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<SystemTime>, b: Option<SystemTime>) -> Option<SystemTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
