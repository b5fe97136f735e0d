//! The import's rules on small files: what each construct becomes, and what is warned.

use super::*;
use crate::plan::scenario::check::{Condition, Outcome};

const HEAD: &str = "import random\nfrom locust import HttpUser, TaskSet, SequentialTaskSet, between, constant, events, task\n\n";

fn ok(body: &str) -> Import {
    import_text("t.py", &format!("{HEAD}{body}"), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// (task name, weight) of the first class.
fn weights(i: &Import) -> Vec<(String, u32)> {
    i.scenario.classes[0]
        .tasks
        .iter()
        .map(|t| (t.name.clone(), t.weight))
        .collect()
}

fn pairs(list: &[(&str, u32)]) -> Vec<(String, u32)> {
    list.iter().map(|(n, w)| ((*n).to_owned(), *w)).collect()
}

#[test]
fn a_taskset_that_never_leaves_takes_over_its_user_and_says_so() {
    let i = ok(r#"
class Sticky(TaskSet):
    @task(3)
    def a(self):
        self.client.get("/a")

    @task
    def b(self):
        self.client.get("/b")

class U(HttpUser):
    wait_time = constant(0)

    @task(5)
    def top(self):
        self.client.get("/top")

    @task
    class Inner(Sticky):
        pass
"#);
    // Users end up in the TaskSet: only its tasks, at its weights.
    assert_eq!(weights(&i), pairs(&[("Inner.a", 3), ("Inner.b", 1)]));
    assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);
    assert!(i.warnings[0]
        .message
        .contains("never calls self.interrupt()"));
    assert_eq!(i.warnings[0].class.as_deref(), Some("U"));
}

#[test]
fn a_sequential_taskset_alone_loops_its_steps_as_one_task() {
    let i = ok(r#"
class Flow(SequentialTaskSet):
    @task
    def one(self):
        self.client.get("/1")

    @task
    def two(self):
        self.client.get("/2")

class U(HttpUser):
    tasks = [Flow]
"#);
    assert_eq!(weights(&i), pairs(&[("Flow", 1)]));
    let paths: Vec<&str> = i.scenario.classes[0].tasks[0]
        .requests
        .iter()
        .map(|r| r.path_text.as_str())
        .collect();
    assert_eq!(paths, ["/1", "/2"]);
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
}

#[test]
fn check_conditions_follow_and_or_not_and_later_statements_win() {
    let i = ok(r#"
class U(HttpUser):
    @task
    def t(self):
        with self.client.get("/x", catch_response=True) as r:
            if not (r.status_code == 200 and "id" in r.json()):
                r.failure("bad")
            if r.json()["kind"] is None:
                r.failure("no kind")
"#);
    let checks = &i.scenario.classes[0].tasks[0].requests[0].checks;
    let got: Vec<(Vec<Condition>, Outcome)> = checks
        .iter()
        .map(|c| (c.conditions.clone(), c.outcome.clone()))
        .collect();
    let bad = || Outcome::Failure("bad".into());
    assert_eq!(
        got,
        [
            (
                vec![Condition::JsonLacks("/kind".into())],
                Outcome::Failure("no kind".into())
            ),
            (vec![Condition::StatusNotIn(vec![200])], bad()),
            (vec![Condition::JsonLacks("/id".into())], bad()),
        ]
    );
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
}

#[test]
fn the_judge_reads_thresholds_from_either_side_and_skips_what_it_cannot_read() {
    let i = ok(r#"
class U(HttpUser):
    @task
    def t(self):
        self.client.get("/")

@events.test_stop.add_listener
def judge(environment, **kw):
    stats = environment.stats.total
    if 0.02 < stats.fail_ratio or stats.max_response_time >= 9000:
        environment.process_exit_code = 1
    if stats.total_rps < 10:
        environment.process_exit_code = 3
    if len(environment.runner.user_classes) > 3:
        environment.process_exit_code = 1
"#);
    let got: Vec<String> = i.scenario.criteria.groups[0]
        .criteria
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(got, ["fail_ratio <= 0.02", "max < 9000", "rps >= 10"]);
    assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);
    assert_eq!(i.warnings[0].line, 17);
    assert_eq!(i.warnings[0].class, None);
}

#[test]
fn a_value_drawn_once_and_used_twice_is_warned_and_helpers_are_inlined() {
    let i = ok(r#"
class U(HttpUser):
    def pick(self):
        self.client.get(f"/c/{random.randint(1, 3)}", name="/c/[id]")

    @task
    def t(self):
        self.pick()
        self.pick()
        cid = random.randint(1, 10)
        self.client.get(f"/clients/{cid}", name="/clients/[id]")
        self.client.get(f"/clients/{cid}/portfolio", name="/clients/[id]/portfolio")
"#);
    let task = &i.scenario.classes[0].tasks[0];
    let paths: Vec<&str> = task.requests.iter().map(|r| r.path_text.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/c/{1..3}",
            "/c/{1..3}",
            "/clients/{1..10}",
            "/clients/{1..10}/portfolio"
        ]
    );
    assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);
    assert!(i.warnings[0]
        .message
        .contains("`cid` is drawn once and used by 2 requests"));
    assert_eq!((i.warnings[0].line, i.warnings[0].column), (13, 9));
}

#[test]
fn a_class_left_without_tasks_by_the_tags_is_left_out_with_a_warning() {
    let text = format!(
        "{HEAD}from locust import tag\n\nclass A(HttpUser):\n    @tag('x')\n    @task\n    def a(self):\n        self.client.get('/a')\n\nclass B(HttpUser):\n    @task\n    def b(self):\n        self.client.get('/b')\n"
    );
    let options = ImportOptions {
        tags: vec!["x".into()],
        ..ImportOptions::default()
    };
    let i = import_text("t.py", &text, &options).unwrap();
    assert_eq!(i.scenario.class_names(), ["A"]);
    assert!(i
        .warnings
        .iter()
        .any(|w| w.class.as_deref() == Some("B") && w.message.contains("--tags")));
}

#[test]
fn a_class_whose_user_base_lives_elsewhere_is_warned_about() {
    let i = ok(r#"
from common import BaseUser

class Imported(BaseUser):
    @task
    def t(self):
        self.client.get("/elsewhere")

class Local(HttpUser):
    @task
    def t(self):
        self.client.get("/here")
"#);
    assert_eq!(i.scenario.class_names(), ["Local"]);
    assert_eq!(i.warnings.len(), 1, "{:?}", i.warnings);
    assert_eq!(i.warnings[0].class.as_deref(), Some("Imported"));
    assert!(i.warnings[0].message.contains("none of its bases"));
}
