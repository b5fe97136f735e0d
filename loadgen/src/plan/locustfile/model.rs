//! What the import read, as plain data between the Python walk and the TOML writer:
//! classes with their waits, headers and flattened tasks, each carrying the line it
//! came from.

use std::collections::BTreeSet;

/// A value the scenario can hold: literal data, or a value drawn per request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A Python string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// `True` / `False`.
    Bool(bool),
    /// A list or tuple.
    List(Vec<Value>),
    /// A dict with string keys, in source order.
    Dict(Vec<(String, Value)>),
    /// A value drawn per request.
    Drawn(Drawn),
    /// An f-string: its pieces concatenated.
    Joined(Vec<Value>),
}

/// A value drawn afresh for each request (one of the scenario's template generators).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Drawn {
    /// `random.randint(low, high)`.
    Int(i64, i64),
    /// `random.uniform(low, high)`.
    Float(f64, f64),
    /// `random.choice([...])`: the options (scalars).
    Choice(Vec<Value>),
    /// `date.today()` shifted by days.
    Date(i64),
    /// `str(uuid.uuid4())`.
    Uuid,
}

impl Value {
    /// True when the value (or a part of it) is drawn per request.
    pub(crate) fn is_drawn(&self) -> bool {
        match self {
            Self::Drawn(_) => true,
            Self::List(items) | Self::Joined(items) => items.iter().any(Self::is_drawn),
            Self::Dict(entries) => entries.iter().any(|(_, v)| v.is_drawn()),
            _ => false,
        }
    }
}

/// How a class waits between tasks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wait {
    /// `between(a, b)`.
    Between(f64, f64),
    /// `constant(x)`.
    Constant(f64),
    /// `constant_pacing(x)`.
    ConstantPacing(f64),
    /// `constant_throughput(r)`.
    ConstantThroughput(f64),
}

/// A check of a `catch_response` block: conditions (all must hold) and the outcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rule {
    pub(crate) conditions: Vec<Cond>,
    /// `None`: `response.success()`; `Some(message)`: `response.failure(message)`.
    pub(crate) failure: Option<String>,
}

/// One condition on the response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    StatusIn(Vec<u16>),
    StatusNotIn(Vec<u16>),
    StatusBetween(u16, u16),
    JsonHas(String),
    JsonLacks(String),
    JsonEquals(String, Value),
    JsonDiffers(String, Value),
}

/// One request of a task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    /// 1-based source line.
    pub(crate) line: usize,
    pub(crate) method: String,
    /// The path and query, as template text.
    pub(crate) path: String,
    pub(crate) name: Option<String>,
    /// A JSON body (`json=`), as the scenario's TOML holds it.
    pub(crate) body: Option<toml::Value>,
    /// Form fields (`data={...}`): name and template text.
    pub(crate) form: Vec<(String, String)>,
    /// Extra headers (name, template text).
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) repeat: u32,
    pub(crate) checks: Vec<Rule>,
}

/// A task after TaskSets were flattened into the user class.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    pub(crate) name: String,
    pub(crate) line: usize,
    pub(crate) weight: u64,
    /// Where it came from, when that is more than a method of the class (a TaskSet).
    pub(crate) note: Option<String>,
    pub(crate) requests: Vec<Request>,
}

/// A user class as the scenario will hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Class {
    pub(crate) name: String,
    pub(crate) line: usize,
    /// The first line of its docstring.
    pub(crate) doc: Option<String>,
    pub(crate) weight: Option<f64>,
    pub(crate) fixed_count: Option<u64>,
    pub(crate) wait: Option<Wait>,
    pub(crate) host: Option<String>,
    /// Default headers (name, value), in the order set.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) on_start: Vec<Request>,
    pub(crate) tasks: Vec<Task>,
}

/// A pass/fail threshold of the quitting hook: `fail_ratio <= 0.05`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Threshold {
    pub(crate) expression: String,
}

/// Everything the import produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Imported {
    pub(crate) description: Option<String>,
    pub(crate) classes: Vec<Class>,
    /// The quitting hook's thresholds, on the Aggregated row.
    pub(crate) criteria: Vec<Threshold>,
    /// Line of the hook they came from.
    pub(crate) criteria_line: Option<usize>,
}

/// Locust's `@tag` names of a task or TaskSet.
pub(crate) type Tags = BTreeSet<String>;
