//! A real Prometheus server as a child process on 127.0.0.1: started with a generated
//! configuration in a folder the caller owns, queried through its HTTP API
//! (`/api/v1/query`), and killed when dropped.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{self, HttpError};

/// How long one HTTP call to Prometheus may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long Prometheus may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between readiness checks.
const POLL: Duration = Duration::from_millis(100);
/// Attempts at starting, in case another process took the chosen port first.
const START_ATTEMPTS: usize = 3;

/// Why Prometheus could not be started or queried.
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// The binary could not be run or its files written.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The process exited or never became ready.
    #[error("prometheus did not become ready on {addr}: {reason}; its log ends with:\n{log_tail}")]
    NotReady {
        /// The address it was asked to listen on.
        addr: SocketAddr,
        /// What happened.
        reason: String,
        /// The end of its log.
        log_tail: String,
    },
    /// The HTTP call failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The API answered with an error (bad PromQL, for instance).
    #[error("query {expr:?} failed: {error_type}: {error}")]
    Query {
        /// The expression.
        expr: String,
        /// Prometheus's errorType.
        error_type: String,
        /// Prometheus's message.
        error: String,
    },
    /// The API's answer is not what its documentation describes.
    #[error("query {expr:?}: unexpected answer (HTTP {status}): {detail}")]
    Unexpected {
        /// The expression.
        expr: String,
        /// HTTP status.
        status: u16,
        /// What was wrong, with the start of the body.
        detail: String,
    },
}

/// A scrape job for the generated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeJob {
    /// `job_name`.
    pub name: String,
    /// `host:port` of the target.
    pub target: SocketAddr,
}

/// The configuration text: every job scraped at `interval` from `/metrics`, and the
/// rule files evaluated at the same interval.
pub fn config_yaml(interval: &str, jobs: &[ScrapeJob], rule_files: &[PathBuf]) -> String {
    let mut yaml =
        format!("global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n");
    if !rule_files.is_empty() {
        yaml.push_str("rule_files:\n");
        for file in rule_files {
            // JSON string syntax is valid YAML and escapes any odd character.
            let quoted = Value::String(file.display().to_string()).to_string();
            let _ = writeln!(yaml, "  - {quoted}");
        }
    }
    yaml.push_str("scrape_configs:\n");
    for job in jobs {
        let _ = write!(
            yaml,
            "  - job_name: {}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [\"{}\"]\n",
            job.name, job.target
        );
    }
    yaml
}

/// One series or value of a query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The labels, as Prometheus prints them (`{route="/api/clients"}`).
    pub labels: String,
    /// The value (NaN and infinities included).
    pub value: f64,
}

/// A query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// `vector`, `scalar`, `matrix` or `string`.
    pub result_type: String,
    /// The samples (one for a scalar).
    pub samples: Vec<Sample>,
}

impl QueryResult {
    /// True when the query matched nothing.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// The state of one recording or alerting rule, from `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHealth {
    /// The alert or record name.
    pub name: String,
    /// `ok`, `err` or `unknown` (not evaluated yet).
    pub health: String,
    /// The last evaluation error, empty when none.
    pub last_error: String,
    /// `firing`, `pending` or `inactive` for alerts; empty for recording rules.
    pub state: String,
}

/// A running Prometheus server; killed on drop.
#[derive(Debug)]
pub struct PrometheusServer {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl PrometheusServer {
    /// Writes `config` into `dir`, starts `binary` on a free loopback port with its
    /// storage in `dir`, and waits until `/-/ready` answers 200.
    pub fn start(binary: &Path, config: &str, dir: &Path) -> Result<Self, PrometheusError> {
        let spawn_err = |source| PrometheusError::Spawn {
            binary: binary.to_path_buf(),
            source,
        };
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).map_err(spawn_err)?;
        let mut last = None;
        for attempt in 0..START_ATTEMPTS {
            let addr = free_loopback_port().map_err(spawn_err)?;
            let log = dir.join(format!("prometheus-{attempt}.log"));
            let log_file = std::fs::File::create(&log).map_err(spawn_err)?;
            let child = Command::new(binary)
                .arg(format!("--config.file={}", config_path.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join(format!("data-{attempt}")).display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().map_err(spawn_err)?)
                .stderr(log_file)
                .spawn()
                .map_err(spawn_err)?;
            let mut server = Self { child, addr, log };
            match server.wait_ready() {
                Ok(()) => return Ok(server),
                // Dropping `server` kills this attempt's process.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| PrometheusError::NotReady {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            reason: "no attempt was made".to_owned(),
            log_tail: String::new(),
        }))
    }

    fn wait_ready(&mut self) -> Result<(), PrometheusError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.not_ready(format!("it exited with {status}")));
            }
            if let Ok(r) = http::get(self.addr, "/-/ready", HTTP_TIMEOUT) {
                if r.status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(self.not_ready(format!("not ready after {READY_TIMEOUT:?}")));
            }
            std::thread::sleep(POLL);
        }
    }

    fn not_ready(&self, reason: String) -> PrometheusError {
        PrometheusError::NotReady {
            addr: self.addr,
            reason,
            log_tail: self.log_tail(),
        }
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Evaluates `expr` at `time` (Unix seconds; now when `None`).
    pub fn query(&self, expr: &str, time: Option<f64>) -> Result<QueryResult, PrometheusError> {
        let mut target = format!("/api/v1/query?query={}", http::encode_query_value(expr));
        if let Some(t) = time {
            let _ = write!(target, "&time={t:.3}");
        }
        let response = http::get(self.addr, &target, HTTP_TIMEOUT)?;
        parse_query_answer(expr, response.status, &response.body)
    }
}

impl PrometheusServer {
    /// Every loaded rule with its health.
    pub fn rules(&self) -> Result<Vec<RuleHealth>, PrometheusError> {
        let response = http::get(self.addr, "/api/v1/rules", HTTP_TIMEOUT)?;
        parse_rules_answer(response.status, &response.body)
    }
}

/// Reads the JSON of `/api/v1/rules`.
pub fn parse_rules_answer(status: u16, body: &str) -> Result<Vec<RuleHealth>, PrometheusError> {
    let unexpected = |detail: &str| PrometheusError::Unexpected {
        expr: "/api/v1/rules".to_owned(),
        status,
        detail: format!(
            "{detail}; body starts {:?}",
            body.chars().take(200).collect::<String>()
        ),
    };
    let json: Value =
        serde_json::from_str(body).map_err(|e| unexpected(&format!("not JSON ({e})")))?;
    let groups = json
        .pointer("/data/groups")
        .and_then(Value::as_array)
        .ok_or_else(|| unexpected("no data.groups array"))?;
    let text = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut rules = Vec::new();
    for group in groups {
        let list = group
            .get("rules")
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("a group has no rules array"))?;
        for rule in list {
            rules.push(RuleHealth {
                name: text(rule, "name"),
                health: text(rule, "health"),
                last_error: text(rule, "lastError"),
                state: text(rule, "state"),
            });
        }
    }
    Ok(rules)
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago (the OS picks it).
pub fn free_loopback_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()
}

/// Reads the JSON of `/api/v1/query`.
pub fn parse_query_answer(
    expr: &str,
    status: u16,
    body: &str,
) -> Result<QueryResult, PrometheusError> {
    let unexpected = |detail: &str| PrometheusError::Unexpected {
        expr: expr.to_owned(),
        status,
        detail: format!(
            "{detail}; body starts {:?}",
            body.chars().take(200).collect::<String>()
        ),
    };
    let json: Value =
        serde_json::from_str(body).map_err(|e| unexpected(&format!("not JSON ({e})")))?;
    match json.get("status").and_then(Value::as_str) {
        Some("success") => {}
        Some("error") => {
            let text = |k: &str| {
                json.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            };
            return Err(PrometheusError::Query {
                expr: expr.to_owned(),
                error_type: text("errorType"),
                error: text("error"),
            });
        }
        _ => return Err(unexpected("no status \"success\" or \"error\"")),
    }
    let data = json.get("data").ok_or_else(|| unexpected("no data"))?;
    let result_type = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or_else(|| unexpected("no data.resultType"))?
        .to_owned();
    let result = data
        .get("result")
        .ok_or_else(|| unexpected("no data.result"))?;
    let samples = match result_type.as_str() {
        "vector" => result
            .as_array()
            .ok_or_else(|| unexpected("data.result is not an array"))?
            .iter()
            .map(|s| {
                let labels = s.get("metric").map(Value::to_string).unwrap_or_default();
                let value = s
                    .pointer("/value/1")
                    .and_then(Value::as_str)
                    .and_then(parse_value)
                    .ok_or_else(|| unexpected("a sample has no [time, \"value\"]"))?;
                Ok(Sample { labels, value })
            })
            .collect::<Result<Vec<_>, PrometheusError>>()?,
        "scalar" => {
            let value = result
                .get(1)
                .and_then(Value::as_str)
                .and_then(parse_value)
                .ok_or_else(|| unexpected("the scalar has no [time, \"value\"]"))?;
            vec![Sample {
                labels: String::new(),
                value,
            }]
        }
        other => return Err(unexpected(&format!("result type {other} is not handled"))),
    };
    Ok(QueryResult {
        result_type,
        samples,
    })
}

/// Prometheus's number text, with NaN and ±Inf.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_scalars_and_errors_are_read() {
        let v = parse_query_answer(
            "x",
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"route":"/a"},"value":[1.5,"2.5"]},{"metric":{},"value":[1.5,"NaN"]}]}}"#,
        )
        .unwrap();
        assert_eq!(v.samples.len(), 2);
        assert_eq!(v.samples[0].value, 2.5);
        assert!(v.samples[0].labels.contains("/a"));
        assert!(v.samples[1].value.is_nan());
        let empty = parse_query_answer(
            "x",
            200,
            r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
        )
        .unwrap();
        assert!(empty.is_empty());
        let s = parse_query_answer(
            "1",
            200,
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#,
        )
        .unwrap();
        assert_eq!(s.samples[0].value, f64::INFINITY);
        let err = parse_query_answer(
            "sum(",
            400,
            r#"{"status":"error","errorType":"bad_data","error":"unexpected end of input"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, PrometheusError::Query { ref error_type, .. } if error_type == "bad_data"),
            "{err}"
        );
        assert!(parse_query_answer("x", 502, "<html>").is_err());
    }

    #[test]
    fn rule_health_is_read() {
        let rules = parse_rules_answer(
            200,
            r#"{"status":"success","data":{"groups":[{"name":"g","rules":[
              {"name":"HighErrorRate","health":"ok","state":"inactive","type":"alerting"},
              {"name":"Broken","health":"err","lastError":"bad","type":"alerting","state":"inactive"}]}]}}"#,
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            (rules[0].name.as_str(), rules[0].health.as_str()),
            ("HighErrorRate", "ok")
        );
        assert_eq!(
            (rules[1].health.as_str(), rules[1].last_error.as_str()),
            ("err", "bad")
        );
        assert!(parse_rules_answer(200, r#"{"status":"success","data":{}}"#).is_err());
    }

    #[test]
    fn the_config_lists_every_job() {
        let yaml = config_yaml(
            "1s",
            &[ScrapeJob {
                name: "mock-api".to_owned(),
                target: SocketAddr::from((Ipv4Addr::LOCALHOST, 8123)),
            }],
            &[PathBuf::from("deploy/prometheus/alerts.yml")],
        );
        assert!(
            yaml.contains("rule_files:\n  - \"deploy/prometheus/alerts.yml\"\n"),
            "{yaml}"
        );
        assert!(yaml.contains("scrape_interval: 1s"), "{yaml}");
        assert!(yaml.contains("- job_name: mock-api"), "{yaml}");
        assert!(yaml.contains("targets: [\"127.0.0.1:8123\"]"), "{yaml}");
    }
}
