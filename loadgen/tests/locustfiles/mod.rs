//! The locustfile corpus: each `NAME.py` here, in the styles of Locust's documentation,
//! imports to exactly the scenario of its `NAME.toml` (compared compiled: classes,
//! weights, waits, headers, on_start, tasks, requests, generators, checks, criteria),
//! with exactly the warnings listed; and the platform's own locustfile imports to the
//! embedded `acis` scenario.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadgen::plan::locustfile::{import, Import, ImportOptions, LocustfileError};
use loadgen::{run, Scenario};

use crate::support;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/locustfiles")
}

fn imported(py: &str, options: &ImportOptions) -> Import {
    import(&dir().join(py), options).unwrap_or_else(|e| panic!("{py}: {e}"))
}

fn expected(toml: &str) -> Scenario {
    let path = dir().join(toml);
    let text = std::fs::read_to_string(&path).unwrap();
    Scenario::from_toml(toml, &text).unwrap_or_else(|e| panic!("{toml}: {e}"))
}

/// The compiled scenarios agree on everything but their source and description.
fn assert_same(what: &str, got: &Scenario, want: &Scenario, toml: &str) {
    assert_eq!(
        got.class_names(),
        want.class_names(),
        "{what}: classes\n{toml}"
    );
    for (g, w) in got.classes.iter().zip(&want.classes) {
        assert_eq!(g, w, "{what}: class {}\n{toml}", w.name);
    }
    assert_eq!(got.criteria, want.criteria, "{what}: criteria\n{toml}");
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_corpus_file_imports_to_its_expected_scenario() {
    let none = ImportOptions::default();
    let cases: Vec<(&str, &str, ImportOptions)> = vec![
        ("quickstart.py", "quickstart.toml", none.clone()),
        ("nested_tasksets.py", "nested_tasksets.toml", none.clone()),
        ("sequential.py", "sequential.toml", none.clone()),
        ("catch_response.py", "catch_response.toml", none.clone()),
        ("tags.py", "tags.toml", none.clone()),
        (
            "tags_methods.py",
            "tags_methods.checkout.toml",
            ImportOptions {
                tags: tags(&["checkout"]),
                ..none.clone()
            },
        ),
        (
            "tags_methods.py",
            "tags_methods.admin.toml",
            ImportOptions {
                tags: tags(&["admin"]),
                ..none.clone()
            },
        ),
        (
            "tags_methods.py",
            "tags_methods.exclude.toml",
            ImportOptions {
                exclude_tags: tags(&["browse", "slow"]),
                ..none.clone()
            },
        ),
        ("fixed_count.py", "fixed_count.toml", none.clone()),
        ("inheritance.py", "inheritance.toml", none.clone()),
        ("tasks_list.py", "tasks_list.toml", none.clone()),
        (
            "methods_and_headers.py",
            "methods_and_headers.toml",
            none.clone(),
        ),
        ("quitting.py", "quitting.toml", none.clone()),
        ("dates_and_ids.py", "dates_and_ids.toml", none.clone()),
        ("unsupported.py", "unsupported.toml", none.clone()),
        ("mock_mix.py", "mock_mix.toml", none.clone()),
    ];
    for (py, toml, options) in cases {
        let got = imported(py, &options);
        assert_same(py, &got.scenario, &expected(toml), &got.toml);
    }
}

/// (file, expected warnings as (line, class, words in the message)).
type WarningCase<'a> = (&'a str, &'a [(usize, Option<&'a str>, &'a str)]);

#[test]
fn warnings_name_the_line_the_class_and_what_was_skipped() {
    let cases: [WarningCase<'_>; 5] = [
        (
            "nested_tasksets.py",
            &[
                (25, Some("ForumUser"), "reschedule=True"),
                (29, Some("ForumUser"), "reschedule=True"),
                (57, Some("BrowsingUser"), "reschedule=True"),
            ],
        ),
        ("mock_mix.py", &[]),
        ("catch_response.py", &[]),
        (
            "sequential.py",
            &[(7, Some("Shopper"), "skipped on_start of TaskSet Checkout")],
        ),
        (
            "unsupported.py",
            &[
                (12, None, "test_start event listener"),
                (18, Some("MixedUser"), "network_timeout"),
                (
                    22,
                    Some("MixedUser"),
                    "assignment to something other than a local",
                ),
                (
                    30,
                    Some("MixedUser"),
                    "`if` statement and the request inside it",
                ),
                (36, Some("MixedUser"), "helpers.make_payload"),
                (35, Some("MixedUser"), "left out task helper_payload"),
                (40, Some("MixedUser"), "data="),
                (39, Some("MixedUser"), "left out task form_post"),
                (
                    44,
                    Some("MixedUser"),
                    "`while` loop and the request inside it",
                ),
                (43, Some("MixedUser"), "left out task polling"),
            ],
        ),
    ];
    for (py, want) in cases {
        let got = imported(py, &ImportOptions::default()).warnings;
        let shown: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), want.len(), "{py}:\n{}", shown.join("\n"));
        for (line, class, words) in want {
            assert!(
                got.iter().any(|w| w.line == *line
                    && w.class.as_deref() == *class
                    && w.message.contains(words)),
                "{py}: no warning at line {line} for {class:?} saying {words:?}:\n{}",
                shown.join("\n")
            );
        }
        for w in &got {
            assert!(
                w.to_string().starts_with(&format!(
                    "{}:{}:{}: ",
                    dir().join(py).display(),
                    w.line,
                    w.column
                )),
                "{w}"
            );
        }
    }
}

#[test]
fn the_platform_locustfile_imports_to_the_embedded_acis_scenario() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/locustfile.py");
    let got = import(&path, &ImportOptions::default()).unwrap();
    let acis = Scenario::builtin("acis").unwrap();
    assert_same("scenarios/locustfile.py", &got.scenario, &acis, &got.toml);
    assert!(!acis.criteria.is_empty());
    let shown: Vec<String> = got.warnings.iter().map(ToString::to_string).collect();
    assert!(got.warnings.is_empty(), "{}", shown.join("\n"));
}

#[test]
fn the_quitting_hook_is_read_with_or_without_a_passing_branch() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/locustfile.py");
    let text = std::fs::read_to_string(&path).unwrap();
    let passing = "    else:\n        print(\"PASSED\")";
    assert!(text.contains(passing));
    let with_zero = text.replace(
        passing,
        "    else:\n        print(\"PASSED\")\n        environment.process_exit_code = 0",
    );
    let got = loadgen::plan::locustfile::import_text("x.py", &with_zero, &ImportOptions::default())
        .unwrap();
    assert_eq!(
        got.scenario.criteria,
        Scenario::builtin("acis").unwrap().criteria
    );
    assert!(got.warnings.is_empty());
}

#[test]
fn strict_mode_and_bad_files_fail_with_where_and_what() {
    let strict = ImportOptions {
        strict: true,
        ..ImportOptions::default()
    };
    match import(&dir().join("unsupported.py"), &strict) {
        Err(LocustfileError::Strict { warnings, .. }) => assert_eq!(warnings.len(), 10),
        other => panic!("expected a strict refusal, got {other:?}"),
    }
    // A clean file passes strict mode.
    assert!(import(&dir().join("catch_response.py"), &strict).is_ok());
    let syntax = loadgen::plan::locustfile::import_text(
        "bad.py",
        "from locust import HttpUser\n\nclass A(HttpUser):\n    def f(self:\n        pass\n",
        &ImportOptions::default(),
    );
    match syntax {
        Err(e @ LocustfileError::Syntax { line, .. }) => {
            assert_eq!(line, 5, "{e}");
            assert!(e.to_string().starts_with("bad.py:5:"), "{e}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let none = loadgen::plan::locustfile::import_text(
        "empty.py",
        "from locust import HttpUser\n\nclass Base(HttpUser):\n    abstract = True\n",
        &ImportOptions::default(),
    );
    assert!(
        matches!(none, Err(LocustfileError::NoUserClasses { .. })),
        "{none:?}"
    );
    assert!(matches!(
        import(
            Path::new("no/such/locustfile.py"),
            &ImportOptions::default()
        ),
        Err(LocustfileError::Read { .. })
    ));
}

fn loadgen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_binary_imports_to_a_file_and_refuses_in_strict_mode() {
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("acis.toml");
    let platform = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/locustfile.py");
    let run = loadgen(&[
        "import",
        platform.to_str().unwrap(),
        "-o",
        target.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{run:?}");
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.contains("# class ACISAPIUser ("), "{text}");
    assert!(text.contains("# task get_clients ("), "{text}");
    let reread = Scenario::from_toml("acis.toml", &text).unwrap();
    assert_eq!(
        reread.class_names(),
        Scenario::builtin("acis").unwrap().class_names()
    );
    let strict = loadgen(&[
        "import",
        dir().join("unsupported.py").to_str().unwrap(),
        "--strict",
        "-o",
        out_dir.path().join("refused.toml").to_str().unwrap(),
    ]);
    assert_eq!(strict.status.code(), Some(2), "{strict:?}");
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        stderr.contains("unsupported.py:30:9: skipped an `if` statement"),
        "{stderr}"
    );
    assert!(!out_dir.path().join("refused.toml").exists());
    let unknown = loadgen(&["-f", platform.to_str().unwrap(), "--list", "Nobody"]);
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("ACISAPIUser, ACISBackgroundJobUser, ACISStressTestUser"),
        "{stderr}"
    );
    let listed = loadgen(&[
        "-f",
        dir().join("tags_methods.py").to_str().unwrap(),
        "--tags",
        "checkout",
        "--list",
    ]);
    assert!(listed.status.success(), "{listed:?}");
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(
        stdout.contains("cart") && !stdout.contains("browse"),
        "{stdout}"
    );
}

/// The scenario additions the import relies on, run: `on_start` once per user before
/// its tasks, and checks that turn a response into a success or a failure with the
/// locustfile's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_start_runs_once_per_user_and_checks_decide_failures() {
    let addr = support::app().await;
    let scenario = Scenario::from_toml(
        "checks.toml",
        r#"[classes.U]
wait = { constant = 0.05 }
on_start = [{ method = "GET", path = "/login" }]
[[classes.U.tasks]]
name = "checked"
requests = [
  { method = "GET", path = "/me" },
  { method = "GET", path = "/status/404", checks = [{ status_in = [404], success = true }] },
  { method = "GET", path = "/json", checks = [{ json_lacks = "/token", failure = "no token" }] },
  { method = "GET", path = "/json", name = "state", checks = [{ json_differs = { "/state" = "closed" }, failure = "not closed" }] },
  { method = "GET", path = "/", checks = [{ json_lacks = "/token", failure = "no token" }] },
]
"#,
    )
    .unwrap();
    let outcome = run(support::config(addr, 2, 10.0, 0.5), scenario)
        .await
        .unwrap();
    let s = &outcome.snapshot;
    let row = |name: &str| {
        s.row("GET", name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    assert_eq!(row("/login").num_requests(), 2, "on_start once per user");
    assert!(row("/me").num_requests() >= 2);
    assert_eq!(
        row("/me").num_failures(),
        0,
        "the on_start cookie was not kept"
    );
    for ok in ["/status/404", "/json"] {
        assert_eq!(row(ok).num_failures(), 0, "{ok}");
    }
    for (name, message) in [("state", "not closed"), ("/", "no token")] {
        assert_eq!(row(name).num_failures(), row(name).num_requests(), "{name}");
        let error = format!("CatchResponseError('{message}')");
        assert!(
            s.errors.iter().any(|e| e.name == name && e.error == error),
            "{name}: {:?}",
            s.errors
        );
    }
}
