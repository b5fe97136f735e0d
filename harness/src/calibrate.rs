//! The loopback calibration probe: before the run, the harness's own minimal HTTP
//! client sends a few hundred requests to the mock over one kept-alive connection and
//! records, for each, its round trip minus the server's `Server-Timing` app time: what
//! loopback and a client that does nothing else add to a request, measured with none
//! of loadgen's code. The same probe runs again beside the load, paced, so that a
//! machine made busy by the run (or by anything else) is measured too. The per-request
//! checks bound loadgen's overhead with these (plus the scheduling lateness the mock
//! measured during the run), never with loadgen's own figures.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Requests the probe sends: enough for its 99.9th percentile to be an observed value.
pub const PROBE_REQUESTS: usize = 1_000;

/// The path probed: no route, so the mock answers 404 at once and no route's
/// statistics count the probe (every response carries Server-Timing all the same).
const PROBE_PATH: &str = "/harness/calibration";

/// Longest the whole probe may take before it gives up with what it has.
const PROBE_BUDGET: Duration = Duration::from_secs(10);

/// Why the probe could not measure.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// The socket failed.
    #[error("calibration probe to {addr}: {source}")]
    Io {
        /// The mock's address.
        addr: SocketAddr,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The mock's answer was not the HTTP the probe expects.
    #[error("calibration probe to {addr}: {message}")]
    Protocol {
        /// The mock's address.
        addr: SocketAddr,
        /// What was wrong.
        message: String,
    },
}

/// Measures the loopback overhead (µs) of [`PROBE_REQUESTS`] requests to `addr`.
pub async fn probe(addr: SocketAddr) -> Result<Histogram<u64>, CalibrationError> {
    let mut histogram = loadgen::stats::new_histogram();
    let deadline = Instant::now() + PROBE_BUDGET;
    let mut client = ProbeClient::connect(addr).await?;
    for _ in 0..PROBE_REQUESTS {
        if Instant::now() > deadline {
            break;
        }
        record(&mut histogram, client.overhead().await?);
    }
    Ok(histogram)
}

/// Gap between the requests of the probe that runs beside the load.
const DURING_INTERVAL: Duration = Duration::from_millis(5);

/// Most requests the probe beside the load sends, whatever the run's length.
const DURING_MAX_REQUESTS: usize = 20_000;

/// Measures the same overhead while the load runs, one request every
/// [`DURING_INTERVAL`] until `stop`: what the machine, as busy as the run made it,
/// adds to a client that does nothing else. It keeps what it measured when the mock
/// stops answering, since the run, not the probe, is under test.
pub async fn probe_during(addr: SocketAddr, stop: CancellationToken) -> Histogram<u64> {
    let mut histogram = loadgen::stats::new_histogram();
    let Ok(mut client) = ProbeClient::connect(addr).await else {
        return histogram;
    };
    let mut ticks = tokio::time::interval(DURING_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..DURING_MAX_REQUESTS {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        match client.overhead().await {
            Ok(us) => record(&mut histogram, us),
            Err(_) => break,
        }
    }
    histogram
}

/// One kept-alive connection that times requests to the probe path.
struct ProbeClient {
    addr: SocketAddr,
    stream: TcpStream,
    request: String,
    buf: Vec<u8>,
}

impl ProbeClient {
    async fn connect(addr: SocketAddr) -> Result<Self, CalibrationError> {
        let io = |source| CalibrationError::Io { addr, source };
        let stream = TcpStream::connect(addr).await.map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        Ok(Self {
            addr,
            stream,
            request: format!("GET {PROBE_PATH} HTTP/1.1\r\nhost: {addr}\r\n\r\n"),
            buf: Vec::with_capacity(4096),
        })
    }

    /// One request's round trip minus the server's own time, µs.
    async fn overhead(&mut self) -> Result<u64, CalibrationError> {
        let addr = self.addr;
        let start = Instant::now();
        self.stream
            .write_all(self.request.as_bytes())
            .await
            .map_err(|source| CalibrationError::Io { addr, source })?;
        let server_us = read_response(&mut self.stream, &mut self.buf)
            .await
            .map_err(|e| match e {
                Read::Io(source) => CalibrationError::Io { addr, source },
                Read::Protocol(message) => CalibrationError::Protocol { addr, message },
            })?;
        let rtt = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        Ok(rtt.saturating_sub(server_us))
    }
}

enum Read {
    Io(std::io::Error),
    Protocol(String),
}

/// Reads one response (head and Content-Length body) and returns its Server-Timing
/// app time in µs.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u64, Read> {
    buf.clear();
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(buf) {
            Ok(httparse::Status::Complete(head)) => {
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                };
                let length: usize = header("content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| Read::Protocol("no Content-Length".to_owned()))?;
                let server = header("server-timing")
                    .and_then(|v| loadgen::stats::server_timing_app_us(v.as_bytes()))
                    .ok_or_else(|| Read::Protocol("no Server-Timing app time".to_owned()))?;
                while buf.len() < head + length {
                    fill(stream, buf).await?;
                }
                return Ok(server);
            }
            Ok(httparse::Status::Partial) => fill(stream, buf).await?,
            Err(e) => return Err(Read::Protocol(format!("bad response head: {e}"))),
        }
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), Read> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await.map_err(Read::Io)?;
    if n == 0 {
        return Err(Read::Protocol("the connection closed".to_owned()));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Records `v`, growing the histogram (an auto-resizing one's `saturating_record` would
/// clamp to its present range instead).
pub(crate) fn record(h: &mut Histogram<u64>, v: u64) {
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}
