//! Locust's messages between master and worker: the msgpack envelope
//! `[type, data, node_id]`, what the master sends decoded into [`Inbound`], and the
//! worker's own messages built as msgpack values.
//!
//! Maps inside `data` may have integer keys (the stats histograms) and values of mixed
//! types, so messages are dynamic [`rmpv::Value`]s rather than fixed structs.

use std::collections::BTreeMap;

use rmpv::Value;

/// Locust's version the worker announces in `client_ready`: the master warns when its
/// first four characters differ from its own, so loadgen says it speaks 2.47.
pub(crate) const LOCUST_VERSION: &str = "2.47.0";

/// One envelope: the message type, its data and the node id (the worker's own on the way
/// out, the recipient's on the way in).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    /// `client_ready`, `heartbeat`, `stats`, ...
    pub kind: String,
    /// Anything msgpack holds; `nil` for signals.
    pub data: Value,
    /// The worker's node id.
    pub node_id: String,
}

/// A payload that is not a Locust message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The bytes are not one msgpack value.
    #[error("not msgpack: {0}")]
    NotMsgpack(String),
    /// Bytes follow the first msgpack value.
    #[error("{0} bytes after the message")]
    Trailing(usize),
    /// The value is not an array of type, data and node id.
    #[error("expected [type, data, node_id], got {0}")]
    Shape(String),
    /// A known message whose data lacks what it must carry.
    #[error("{kind} message: {message}")]
    Field {
        /// The message type.
        kind: String,
        /// What is missing or wrong.
        message: String,
    },
}

impl Envelope {
    /// A message from this worker.
    pub(crate) fn new(kind: &str, data: Value, node_id: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            data,
            node_id: node_id.to_owned(),
        }
    }

    /// The message as one msgpack frame.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let value = Value::Array(vec![
            Value::from(self.kind.as_str()),
            self.data.clone(),
            Value::from(self.node_id.as_str()),
        ]);
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut out, &value);
        out
    }

    /// Reads one frame; anything but exactly one `[str, any, str]` array is an error.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut rest = bytes;
        let value = rmpv::decode::read_value(&mut rest)
            .map_err(|e| DecodeError::NotMsgpack(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::Trailing(rest.len()));
        }
        let Value::Array(mut items) = value else {
            return Err(DecodeError::Shape(short(&value)));
        };
        if items.len() != 3 {
            return Err(DecodeError::Shape(format!(
                "an array of {} items",
                items.len()
            )));
        }
        let node_id = items.pop().unwrap_or(Value::Nil);
        let data = items.pop().unwrap_or(Value::Nil);
        let kind = items.pop().unwrap_or(Value::Nil);
        match (kind.as_str(), node_id.as_str()) {
            (Some(kind), Some(node_id)) => Ok(Self {
                kind: kind.to_owned(),
                data,
                node_id: node_id.to_owned(),
            }),
            _ => Err(DecodeError::Shape(format!(
                "type {} and node id {}",
                short(&kind),
                short(&node_id)
            ))),
        }
    }
}

/// A value shown in a log line, cut to a readable length.
fn short(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 80 {
        let mut end = 80;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// What the master asks of the worker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inbound {
    /// Reply to `client_ready`: the worker is registered (0-based index, if sent).
    Ack { index: Option<i64> },
    /// Run these absolute user counts per class name.
    Spawn(Spawn),
    /// Stop every user and wait for the next test.
    Stop,
    /// Stop and exit.
    Quit,
    /// The master could not decode a message: re-create the socket.
    Reconnect,
    /// Reply to a heartbeat: the master is alive.
    Heartbeat,
    /// Every worker has spawned its users (total across workers).
    SpawningComplete { user_count: Option<i64> },
    /// A message type loadgen does not handle (custom messages, class edits).
    Other(String),
}

/// A `spawn` message's fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spawn {
    /// The master's clock when it sent the step; older steps are dropped.
    pub timestamp: f64,
    /// Absolute users per class name (every class of the master's, zeros included).
    pub user_classes_count: BTreeMap<String, u64>,
    /// The `-H` host, when the master has one.
    pub host: Option<String>,
    /// Seconds users may take to finish their task when stopped.
    pub stop_timeout: f64,
}

impl Inbound {
    /// The master's message, or what is wrong with it.
    pub(crate) fn from_envelope(envelope: &Envelope) -> Result<Self, DecodeError> {
        let data = &envelope.data;
        let field = |message: &str| DecodeError::Field {
            kind: envelope.kind.clone(),
            message: message.to_owned(),
        };
        Ok(match envelope.kind.as_str() {
            "ack" => Self::Ack {
                index: get(data, "index").and_then(Value::as_i64),
            },
            "spawn" => Self::Spawn(Spawn::from_value(data).map_err(|m| field(&m))?),
            "stop" => Self::Stop,
            "quit" => Self::Quit,
            "reconnect" => Self::Reconnect,
            "heartbeat" => Self::Heartbeat,
            "spawning_complete" => Self::SpawningComplete {
                user_count: get(data, "user_count").and_then(Value::as_i64),
            },
            other => Self::Other(other.to_owned()),
        })
    }
}

impl Spawn {
    fn from_value(data: &Value) -> Result<Self, String> {
        let timestamp = get(data, "timestamp")
            .and_then(as_number)
            .ok_or("no numeric timestamp")?;
        let counts = get(data, "user_classes_count")
            .and_then(Value::as_map)
            .ok_or("no user_classes_count map")?;
        let mut user_classes_count = BTreeMap::new();
        for (name, count) in counts {
            let name = name.as_str().ok_or("a class name that is not a string")?;
            let count = count
                .as_u64()
                .ok_or_else(|| format!("class {name:?}: a count that is not a whole number"))?;
            user_classes_count.insert(name.to_owned(), count);
        }
        let host = get(data, "host")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        let stop_timeout = get(data, "stop_timeout").and_then(as_number).unwrap_or(0.0);
        Ok(Self {
            timestamp,
            user_classes_count,
            host,
            stop_timeout: if stop_timeout.is_finite() && stop_timeout > 0.0 {
                stop_timeout
            } else {
                0.0
            },
        })
    }
}

/// The value under string key `key` of a map.
fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

/// An integer or a float as f64.
fn as_number(value: &Value) -> Option<f64> {
    value.as_f64()
}

/// A string-keyed msgpack map.
pub(crate) fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// `client_ready` with the version the master checks.
pub(crate) fn client_ready(node_id: &str) -> Envelope {
    Envelope::new("client_ready", Value::from(LOCUST_VERSION), node_id)
}

/// A signal without data (`spawning`, `client_stopped`, `quit`).
pub(crate) fn signal(kind: &str, node_id: &str) -> Envelope {
    Envelope::new(kind, Value::Nil, node_id)
}

/// `heartbeat` with the worker's state, CPU use (percent of one core) and memory (bytes).
pub(crate) fn heartbeat(node_id: &str, state: &str, cpu_percent: f64, memory: u64) -> Envelope {
    let data = map([
        ("state", Value::from(state)),
        ("current_cpu_usage", Value::from(cpu_percent)),
        ("current_memory_usage", Value::from(memory)),
    ]);
    Envelope::new("heartbeat", data, node_id)
}

/// Users per class name as a msgpack map.
pub(crate) fn class_counts(counts: &BTreeMap<String, u64>) -> Value {
    Value::Map(
        counts
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(*v)))
            .collect(),
    )
}

/// `spawning_complete` with the users now running.
pub(crate) fn spawning_complete(node_id: &str, counts: &BTreeMap<String, u64>) -> Envelope {
    let data = map([
        ("user_classes_count", class_counts(counts)),
        ("user_count", Value::from(counts.values().sum::<u64>())),
    ]);
    Envelope::new("spawning_complete", data, node_id)
}

/// `exception`: shown in the master's exceptions table and CSV, counted per traceback.
pub(crate) fn exception(node_id: &str, msg: &str, traceback: &str) -> Envelope {
    let data = map([
        ("msg", Value::from(msg)),
        ("traceback", Value::from(traceback)),
    ]);
    Envelope::new("exception", data, node_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value).unwrap();
        out
    }

    #[test]
    fn envelope_round_trips_as_a_three_item_array() {
        let e = heartbeat("host_abc", "running", 12.5, 1024);
        let bytes = e.encode();
        assert_eq!(bytes[0], 0x93, "fixarray of 3, as Locust sends");
        assert_eq!(Envelope::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        // An array of three announced, nothing after it; a reserved marker.
        assert!(matches!(
            Envelope::decode(&[0x93]),
            Err(DecodeError::NotMsgpack(_))
        ));
        assert!(Envelope::decode(&[0xc1]).is_err());
        let mut two = frame(Value::Array(vec!["ack".into(), Value::Nil, "n".into()]));
        two.push(0x01);
        assert_eq!(Envelope::decode(&two), Err(DecodeError::Trailing(1)));
        let pair = frame(Value::Array(vec!["ack".into(), Value::Nil]));
        assert!(matches!(
            Envelope::decode(&pair),
            Err(DecodeError::Shape(_))
        ));
        let bad_type = frame(Value::Array(vec![Value::from(3), Value::Nil, "n".into()]));
        assert!(matches!(
            Envelope::decode(&bad_type),
            Err(DecodeError::Shape(_))
        ));
    }

    #[test]
    fn spawn_reads_counts_host_and_stop_timeout() {
        let data = map([
            ("timestamp", Value::from(1_700_000_000.5)),
            (
                "user_classes_count",
                Value::Map(vec![("A".into(), 2.into()), ("B".into(), 0.into())]),
            ),
            ("host", Value::from("http://127.0.0.1:9")),
            ("stop_timeout", Value::Nil),
            ("parsed_options", map([])),
        ]);
        let e = Envelope::new("spawn", data, "n");
        let Inbound::Spawn(s) = Inbound::from_envelope(&e).unwrap() else {
            panic!("not a spawn");
        };
        assert_eq!(s.timestamp, 1_700_000_000.5);
        assert_eq!(s.user_classes_count.get("A"), Some(&2));
        assert_eq!(s.user_classes_count.get("B"), Some(&0));
        assert_eq!(s.host.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(s.stop_timeout, 0.0);
    }

    #[test]
    fn spawn_without_counts_is_a_field_error() {
        let e = Envelope::new("spawn", map([("timestamp", Value::from(1))]), "n");
        let err = Inbound::from_envelope(&e).unwrap_err();
        assert!(err.to_string().contains("user_classes_count"), "{err}");
    }

    #[test]
    fn unknown_types_are_kept_by_name() {
        let e = Envelope::new("update_user_class", Value::Nil, "n");
        assert_eq!(
            Inbound::from_envelope(&e).unwrap(),
            Inbound::Other("update_user_class".to_owned())
        );
    }
}
