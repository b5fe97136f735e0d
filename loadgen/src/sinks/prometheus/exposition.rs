//! The Prometheus exposition of a [`Snapshot`]: every metric name loadgen serves, and a
//! prometheus-client [`Collector`] that encodes the latest published snapshot at scrape
//! time.
//!
//! Nothing is counted twice: the aggregator already keeps the run's totals, so a scrape
//! encodes them as they are (counters are the snapshot's totals, the histogram's buckets
//! come from each row's HdrHistogram). A scrape clones the latest `Arc<Snapshot>` out of a
//! watch channel and encodes it outside any lock, so it never waits on the run and the
//! run never waits on it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, LabelValueEncoder, NoLabelSet,
};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::stats::{RequestStats, Snapshot};

/// `loadgen_requests_total{method,name}`: requests of each row, failures included.
/// (The `_total` suffix is added by the OpenMetrics encoder.)
pub(crate) const REQUESTS: &str = "loadgen_requests";
/// `loadgen_failures_total{method,name}`: failed requests of each row (0 included).
pub(crate) const FAILURES: &str = "loadgen_failures";
/// `loadgen_users`: users running now.
pub(crate) const USERS: &str = "loadgen_users";
/// `loadgen_response_time_seconds{method,name}`: a histogram of each row's response times.
pub(crate) const RESPONSE_TIME: &str = "loadgen_response_time_seconds";

/// The content type of the exposition (OpenMetrics text, as prometheus-client writes it).
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the response-time buckets, in microseconds (the histograms' unit).
///
/// mock-api's server-side bounds (so client and server time compare bucket by bucket),
/// plus 1.5 s, 2 s and 8 s, so that the guide's 2 s average and the platform's 5 s and
/// 8 s criteria fall on a bound, and 60 s, Locust's default request timeout.
pub(crate) const RESPONSE_TIME_BUCKETS_US: [u64; 24] = [
    1_000, 2_500, 5_000, 7_500, 10_000, 25_000, 50_000, 75_000, 100_000, 250_000, 500_000, 750_000,
    1_000_000, 1_500_000, 2_000_000, 2_500_000, 5_000_000, 7_500_000, 8_000_000, 10_000_000,
    15_000_000, 20_000_000, 30_000_000, 60_000_000,
];

/// Microseconds per second.
const US_PER_SECOND: f64 = 1_000_000.0;

/// A label value escaped as the text format requires (`\` `"` and newline); stats names
/// come from scenario files and may hold any of them.
#[derive(Debug, Clone, Copy)]
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A row's labels: `method` and `name`, as Locust's tables identify a row.
fn row_labels(row: &RequestStats) -> [(&'static str, Escaped<'_>); 2] {
    [
        ("method", Escaped(&row.method)),
        ("name", Escaped(&row.name)),
    ]
}

/// A row's histogram as prometheus-client wants it: `(upper bound in seconds, count in
/// this bucket alone)`, the last bound `f64::MAX` (written `+Inf`); the encoder makes the
/// counts cumulative.
///
/// A recorded value counts toward the first bound its HdrHistogram bucket's lowest value
/// does not exceed: a response time equal to a bound counts in it, and one within the
/// histogram's 0.1% resolution above a bound may count in it too.
pub(crate) fn row_buckets(row: &RequestStats) -> Vec<(f64, u64)> {
    let histogram = row.histogram();
    let mut counts = [0u64; RESPONSE_TIME_BUCKETS_US.len()];
    let mut finite = 0u64;
    for value in histogram.iter_recorded() {
        let lowest = histogram.lowest_equivalent(value.value_iterated_to());
        let slot = RESPONSE_TIME_BUCKETS_US.partition_point(|&bound| bound < lowest);
        if let Some(count) = counts.get_mut(slot) {
            *count += value.count_at_value();
            finite += value.count_at_value();
        }
    }
    let mut buckets: Vec<(f64, u64)> = RESPONSE_TIME_BUCKETS_US
        .iter()
        .zip(counts)
        .map(|(&bound, count)| (bound as f64 / US_PER_SECOND, count))
        .collect();
    // +Inf holds the rest, so that it always equals `_count` (the row's requests).
    buckets.push((f64::MAX, row.num_requests().saturating_sub(finite)));
    buckets
}

/// Encodes `snapshot`'s users, and each row's requests, failures and response-time
/// histogram. The Aggregated row is left out: it is the sum of the others, which
/// PromQL's `sum` already gives.
pub(crate) fn encode_snapshot(
    snapshot: &Snapshot,
    encoder: &mut DescriptorEncoder<'_>,
) -> std::fmt::Result {
    encoder
        .encode_descriptor(USERS, "Users running", None, MetricType::Gauge)?
        .encode_gauge(&snapshot.user_count)?;

    let mut requests = encoder.encode_descriptor(
        REQUESTS,
        "Requests sent, failures included, per Locust row",
        None,
        MetricType::Counter,
    )?;
    for row in &snapshot.rows {
        requests
            .encode_family(&row_labels(row))?
            .encode_counter::<NoLabelSet, _, u64>(&row.num_requests(), None)?;
    }

    let mut failures = encoder.encode_descriptor(
        FAILURES,
        "Failed requests per Locust row",
        None,
        MetricType::Counter,
    )?;
    for row in &snapshot.rows {
        failures
            .encode_family(&row_labels(row))?
            .encode_counter::<NoLabelSet, _, u64>(&row.num_failures(), None)?;
    }

    let mut response_time = encoder.encode_descriptor(
        RESPONSE_TIME,
        "Response times per Locust row, from its HdrHistogram",
        None,
        MetricType::Histogram,
    )?;
    let no_exemplars: Option<&HashMap<usize, Exemplar<NoLabelSet, f64>>> = None;
    for row in &snapshot.rows {
        let sum = row.total_response_time_us() as f64 / US_PER_SECOND;
        response_time
            .encode_family(&row_labels(row))?
            .encode_histogram(sum, row.num_requests(), &row_buckets(row), no_exemplars)?;
    }
    Ok(())
}

/// Encodes the latest published snapshot on every scrape, and tells which snapshot the
/// last scrape read (so that the end of a run can wait for a scrape of the final one).
#[derive(Debug)]
pub(crate) struct SnapshotCollector {
    latest: watch::Receiver<Arc<Snapshot>>,
    scraped: watch::Sender<Option<Arc<Snapshot>>>,
}

impl SnapshotCollector {
    /// A collector of whatever `latest` holds at scrape time; `scraped` receives each
    /// snapshot a scrape read.
    pub(crate) fn new(
        latest: watch::Receiver<Arc<Snapshot>>,
        scraped: watch::Sender<Option<Arc<Snapshot>>>,
    ) -> Self {
        Self { latest, scraped }
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        // The read lock is held only to clone the Arc; encoding works on the clone.
        let snapshot = Arc::clone(&self.latest.borrow());
        encode_snapshot(&snapshot, &mut encoder)?;
        self.scraped.send_replace(Some(snapshot));
        Ok(())
    }
}

/// A registry holding only a [`SnapshotCollector`] of `latest`.
pub(crate) fn registry(
    latest: watch::Receiver<Arc<Snapshot>>,
    scraped: watch::Sender<Option<Arc<Snapshot>>>,
) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector::new(latest, scraped)));
    registry
}

/// The text exposition of `registry` (OpenMetrics, ending in `# EOF`).
pub(crate) fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::{Aggregator, RequestKey, Shard};

    /// A snapshot with `users` users and each `(method, name, response ms, failed)`.
    fn snapshot(users: u32, requests: &[(&str, &str, f64, bool)]) -> Snapshot {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut shard = Shard::new();
        for &(method, name, ms, failed) in requests {
            let error = failed.then_some("HTTPError('500')");
            let time = Duration::from_secs_f64(ms / 1000.0);
            shard.record(&RequestKey::new(method, name), time, 10, error, start);
        }
        let mut aggregator = Aggregator::new(start);
        aggregator.merge_shard(&shard);
        aggregator.snapshot(start + Duration::from_secs(1), users)
    }

    fn exposition(snapshot: Snapshot) -> String {
        let (_tx, rx) = watch::channel(Arc::new(snapshot));
        let (scraped, _) = watch::channel(None);
        encode(&registry(rx, scraped)).expect("encoding into a String cannot fail")
    }

    /// The value of the sample line that starts with `series ` (exactly one).
    fn value(text: &str, series: &str) -> f64 {
        let prefix = format!("{series} ");
        let found: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect();
        assert_eq!(found.len(), 1, "{series} in\n{text}");
        found[0].parse().unwrap_or_else(|e| panic!("{series}: {e}"))
    }

    #[test]
    fn counters_and_users_are_the_snapshot_totals() {
        let text = exposition(snapshot(
            3,
            &[
                ("GET", "/api/clients", 4.0, false),
                ("GET", "/api/clients", 6.0, true),
                ("GET", "/api/clients", 8.0, false),
                ("POST", "/api/trading/execute", 20.0, false),
            ],
        ));
        assert_eq!(value(&text, "loadgen_users"), 3.0);
        let clients = r#"{method="GET",name="/api/clients"}"#;
        let trades = r#"{method="POST",name="/api/trading/execute"}"#;
        assert_eq!(
            value(&text, &format!("loadgen_requests_total{clients}")),
            3.0
        );
        assert_eq!(
            value(&text, &format!("loadgen_failures_total{clients}")),
            1.0
        );
        assert_eq!(
            value(&text, &format!("loadgen_requests_total{trades}")),
            1.0
        );
        // A row without failures still has its failure counter, at 0.
        assert_eq!(
            value(&text, &format!("loadgen_failures_total{trades}")),
            0.0
        );
        assert!(text.contains("# TYPE loadgen_requests counter\n"), "{text}");
        assert!(text.contains("# TYPE loadgen_users gauge\n"), "{text}");
        assert!(
            text.contains("# TYPE loadgen_response_time_seconds histogram\n"),
            "{text}"
        );
        assert!(!text.contains("Aggregated"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_inf_equal_to_count() {
        // On a bound (5 ms, 10 ms), between bounds, and beyond the last bound (70 s).
        let times = [4.0, 5.0, 7.0, 10.0, 12.0, 70_000.0];
        let requests: Vec<_> = times.iter().map(|&ms| ("GET", "/a", ms, false)).collect();
        let text = exposition(snapshot(1, &requests));
        let bucket = |le: &str| {
            value(
                &text,
                &format!(
                    r#"loadgen_response_time_seconds_bucket{{le="{le}",method="GET",name="/a"}}"#
                ),
            )
        };
        assert_eq!(bucket("0.001"), 0.0);
        assert_eq!(bucket("0.0025"), 0.0);
        assert_eq!(bucket("0.005"), 2.0);
        assert_eq!(bucket("0.0075"), 3.0);
        assert_eq!(bucket("0.01"), 4.0);
        assert_eq!(bucket("0.025"), 5.0);
        assert_eq!(bucket("60.0"), 5.0);
        assert_eq!(bucket("+Inf"), 6.0);
        let labels = r#"{method="GET",name="/a"}"#;
        assert_eq!(
            value(
                &text,
                &format!("loadgen_response_time_seconds_count{labels}")
            ),
            6.0
        );
        let sum = value(&text, &format!("loadgen_response_time_seconds_sum{labels}"));
        let expected: f64 = times.iter().sum::<f64>() / 1000.0;
        assert!(
            (sum - expected).abs() < 1e-9,
            "sum {sum}, expected {expected}"
        );

        // Every bound is written, in increasing order, and the counts never decrease.
        let counts: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("loadgen_response_time_seconds_bucket{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        assert_eq!(counts.len(), RESPONSE_TIME_BUCKETS_US.len() + 1);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    }

    #[test]
    fn label_values_are_escaped() {
        let text = exposition(snapshot(0, &[("GET", "a\"b\\c\nd", 1.0, false)]));
        assert_eq!(
            value(
                &text,
                r#"loadgen_requests_total{method="GET",name="a\"b\\c\nd"}"#
            ),
            1.0
        );
        // The raw newline never reaches the output: every line is a comment or a sample.
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.starts_with("loadgen_"),
                "broken line {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn an_empty_run_has_users_and_no_rows() {
        let text = exposition(Snapshot::empty(SystemTime::UNIX_EPOCH));
        assert_eq!(value(&text, "loadgen_users"), 0.0);
        assert!(!text.contains("loadgen_requests_total"), "{text}");
    }

    #[test]
    fn each_scrape_reads_the_latest_snapshot_and_says_which() {
        let (tx, rx) = watch::channel(Arc::new(snapshot(1, &[])));
        let (scraped, seen) = watch::channel(None);
        let registry = registry(rx, scraped);
        let first = encode(&registry).expect("encodes");
        assert_eq!(value(&first, "loadgen_users"), 1.0);
        tx.send_replace(Arc::new(snapshot(7, &[("GET", "/b", 3.0, false)])));
        let second = encode(&registry).expect("encodes");
        assert_eq!(value(&second, "loadgen_users"), 7.0);
        assert_eq!(
            value(&second, r#"loadgen_requests_total{method="GET",name="/b"}"#),
            1.0
        );
        let latest = Arc::clone(&tx.borrow());
        assert!(seen
            .borrow()
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &latest)));
    }
}
