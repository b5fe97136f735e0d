//! Built-in profiles and the profile loader's error messages.

use std::time::Duration;

use super::*;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn builtins() -> Vec<Profile> {
    Profile::builtin_names()
        .iter()
        .map(|n| Profile::builtin(n).unwrap_or_else(|e| panic!("{n}: {e}")))
        .collect()
}

#[test]
fn every_builtin_parses_validates_and_covers_every_route() {
    assert_eq!(
        Profile::builtin_names(),
        [
            "guide",
            "healthy",
            "fast",
            "flaky",
            "capacity",
            "pool-exhausted",
            "rate-limited",
            "leaking",
            "stalling"
        ]
    );
    for (name, p) in Profile::builtin_names().into_iter().zip(builtins()) {
        assert_eq!(&p.name, name);
        assert!(!p.description.is_empty(), "{name}: no description");
        p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        for route in ROUTES {
            assert!(
                p.routes.contains_key(*route),
                "{name}: no behaviour for {route}"
            );
        }
        assert_eq!(p.routes.len(), ROUTES.len(), "{name}: extra routes");
    }
}

#[test]
fn to_toml_reads_back_to_the_same_profile() {
    for p in builtins() {
        let text = p.to_toml();
        let back = Profile::from_toml(&text, "rendered").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, p, "{text}");
    }
}

#[test]
fn json_reads_back_to_the_same_profile() {
    // The admin API accepts and serves profiles as JSON as well as TOML.
    for p in builtins() {
        let json = serde_json::to_string(&p).expect("serializes");
        let back: Profile = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
        back.validate().expect("valid");
        assert_eq!(back, p, "{json}");
    }
    let bad = r#"{"name":"j","defaults":{"latency":{"kind":"fixed","ms":1},
        "failures":[{"kind":"reset","probability":2}]},
        "jobs":{"duration":{"kind":"fixed","ms":1},"failure_probability":0}}"#;
    let message = serde_json::from_str::<Profile>(bad)
        .expect_err("p = 2")
        .to_string();
    assert!(
        message.contains("probability") && message.contains("from 0 to 1"),
        "{message}"
    );
}

/// Asserts `got` is within 1e-6 relative of `want`.
fn close(got: Duration, want: f64, what: &str) {
    let got = ms(got);
    assert!(
        (got - want).abs() <= 1e-6 * want.max(1.0),
        "{what}: {got} ms, expected {want} ms"
    );
}

#[test]
fn guide_reproduces_the_guides_table() {
    let p = Profile::builtin("guide").expect("guide");
    // (route, [(p, ms)], mean): every figure the guide's tables give.
    let clients = p.behaviour("GET /api/clients");
    let table = [
        (0.0, 50.0),
        (0.5, 200.0),
        (0.66, 250.0),
        (0.75, 300.0),
        (0.8, 350.0),
        (0.9, 450.0),
        (0.95, 500.0),
        (0.98, 800.0),
        (0.99, 1000.0),
        (1.0, 2000.0),
    ];
    for (q, want) in table {
        close(clients.latency.quantile(q), want, &format!("clients p{q}"));
    }
    close(clients.latency.mean(), 250.0, "clients mean");
    assert!(clients.failures.is_empty());

    let predict = p.behaviour("GET /api/ml/predict");
    let table = [
        (0.0, 200.0),
        (0.5, 700.0),
        (0.66, 850.0),
        (0.75, 950.0),
        (0.8, 1050.0),
        (0.9, 1500.0),
        (0.95, 2000.0),
        (0.98, 2800.0),
        (0.99, 3000.0),
        (1.0, 5000.0),
    ];
    for (q, want) in table {
        close(predict.latency.quantile(q), want, &format!("predict p{q}"));
    }
    close(predict.latency.mean(), 800.0, "predict mean");
    assert_eq!(
        predict
            .failures
            .iter()
            .map(|f| f.trigger)
            .collect::<Vec<_>>(),
        vec![crate::fault::Trigger::Probability(0.0125)]
    );

    let trade = p.behaviour("POST /api/trading/execute");
    for (q, want) in [
        (0.0, 500.0),
        (0.5, 1200.0),
        (0.95, 4000.0),
        (0.99, 8000.0),
        (1.0, 10000.0),
    ] {
        close(trade.latency.quantile(q), want, &format!("trade p{q}"));
    }
    close(trade.latency.mean(), 1500.0, "trade mean");
    assert_eq!(
        trade.failures.iter().map(|f| f.trigger).collect::<Vec<_>>(),
        vec![crate::fault::Trigger::Probability(0.10)]
    );

    for route in ROUTES {
        if !["GET /api/ml/predict", "POST /api/trading/execute"].contains(route) {
            assert!(
                p.behaviour(route).failures.is_empty(),
                "guide: {route} fails"
            );
        }
    }
    assert!(
        p.behaviour("GET /api/portfolio/optimize/{client_id}")
            .cpu_ms
            > 0.0
    );
}

#[test]
fn healthy_is_in_the_target_band_and_fast_has_no_delay() {
    let healthy = Profile::builtin("healthy").expect("healthy");
    let fast = Profile::builtin("fast").expect("fast");
    for route in ROUTES {
        let b = healthy.behaviour(route);
        assert!(ms(b.latency.mean()) < 500.0, "healthy {route}: mean");
        assert!(
            ms(b.latency.quantile(0.95)) < 1000.0,
            "healthy {route}: p95"
        );
        assert!(
            ms(b.latency.quantile(0.99)) < 2000.0,
            "healthy {route}: p99"
        );
        assert!(b.failures.is_empty(), "healthy {route}: fails");
        let f = fast.behaviour(route);
        assert_eq!(f.latency.quantile(1.0), Duration::ZERO, "fast {route}");
        assert!(f.failures.is_empty() && f.cpu_ms == 0.0, "fast {route}");
    }
    assert_eq!(healthy.jobs.failure_probability, 0.0);
    assert_eq!(fast.jobs.duration.quantile(1.0), Duration::ZERO);
}

#[test]
fn flaky_has_every_failure_kind() {
    let p = Profile::builtin("flaky").expect("flaky");
    let labels: std::collections::BTreeSet<&str> = p
        .behaviour("GET /api/clients")
        .failures
        .iter()
        .map(|f| f.kind.label())
        .collect();
    for kind in [
        "reset",
        "close",
        "garbage",
        "hang",
        "dribble",
        "status_429",
        "status_503",
    ] {
        assert!(labels.contains(kind), "flaky lacks {kind}");
    }
    assert!(p.behaviour("GET /health").failures.is_empty());
}

#[test]
fn behaviour_falls_back_to_the_defaults() {
    let text = r#"
name = "partial"
[defaults]
latency = { kind = "fixed", ms = 7 }
[jobs]
duration = { kind = "fixed", ms = 100 }
failure_probability = 0.5
[routes."GET /health"]
latency = { kind = "fixed", ms = 1 }
"#;
    let p = Profile::from_toml(text, "partial.toml").expect("valid");
    assert_eq!(
        p.behaviour("GET /health").latency.mean(),
        Duration::from_millis(1)
    );
    assert_eq!(
        p.behaviour("GET /api/clients").latency.mean(),
        Duration::from_millis(7)
    );
    assert_eq!(p.description, "");
}

#[test]
fn scaled_scales_every_duration() {
    let p = Profile::builtin("guide").expect("guide");
    let s = p.scaled(0.01);
    s.validate().expect("scaled profile is valid");
    for route in ROUTES {
        let (a, b) = (p.behaviour(route), s.behaviour(route));
        for q in [0.5, 0.95, 0.99] {
            let (x, y) = (ms(a.latency.quantile(q)), ms(b.latency.quantile(q)));
            assert!(
                (x * 0.01 - y).abs() <= 1e-6 * x.max(1.0),
                "{route} p{q}: {x} -> {y}"
            );
        }
        let (x, y) = (ms(a.latency.mean()), ms(b.latency.mean()));
        assert!(
            (x * 0.01 - y).abs() <= 1e-6 * x.max(1.0),
            "{route} mean: {x} -> {y}"
        );
        assert!((a.cpu_ms * 0.01 - b.cpu_ms).abs() < 1e-12);
        assert_eq!(a.failures.len(), b.failures.len());
    }
    let (x, y) = (ms(p.jobs.duration.mean()), ms(s.jobs.duration.mean()));
    assert!((x * 0.01 - y).abs() <= 1e-6 * x);
    assert_eq!(p.jobs.failure_probability, s.jobs.failure_probability);
}

const HEAD: &str = r#"name = "bad"
[defaults]
latency = { kind = "fixed", ms = 1 }
[jobs]
duration = { kind = "fixed", ms = 1 }
failure_probability = 0.0
"#;

/// Parses HEAD + `tail` and returns the error message, which must exist.
fn error(tail: &str) -> String {
    match Profile::from_toml(&format!("{HEAD}{tail}"), "bad.toml") {
        Ok(_) => panic!("accepted:\n{tail}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_profiles_name_the_line_the_field_and_the_expectation() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"fixed\", ms = 1 }\ntimeout_ms = 5\n",
            &["bad.toml, line 9", "unknown field `timeout_ms`", "`latency`, `failures`, `cpu_ms`"],
        ),
        (
            "[routes.\"GET /api/portfolio\"]\nlatency = { kind = \"fixed\", ms = 1 }\n",
            &["bad.toml, line 7", "unknown route \"GET /api/portfolio\"", "GET /api/clients/{client_id}/portfolio"],
        ),
        (
            "[routes.\"/api/clients\"]\nlatency = { kind = \"fixed\", ms = 1 }\n",
            &["line 7", "did you mean \"GET /api/clients\""],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"fixed\", ms = 1 }\nfailures = [{ kind = \"status\", code = 503, probability = 1.25 }]\n",
            &["line 9, column 12", "`probability` = 1.25", "from 0 to 1", "failures = [{"],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"uniform\", low_ms = -5, high_ms = 10 }\n",
            &["line 8, column 11", "`low_ms` = -5", ">= 0"],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"fixed\", ms = 1 }\nfailures = [\n  { kind = \"reset\", probability = 0.7 },\n  { kind = \"close\", probability = 0.7 },\n]\n",
            &["line 9", "add up to 1.4", "at most 1"],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"fixed\", ms = 1 }\ncpu_ms = -2\n",
            &["line 9", "cpu_ms = -2", "from 0 to 10000"],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"fixed\", ms = 1 }\ncpu_ms = 1e9\n",
            &["line 9", "cpu_ms = 1000000000", "from 0 to 10000"],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"fixed\", ms = 1e300 }\n",
            &["line 8", "`ms` = 1000000", "at most 3600000 ms (one hour)"],
        ),
        (
            "[routes.\"GET /api/clients\"]\nlatency = { kind = \"lognormal\", median_ms = 5, p99_ms = 1e300 }\n",
            &["line 8", "`p99_ms`", "at most 3600000 ms"],
        ),
        ("[defaultz]\n", &["line 7", "unknown field `defaultz`"]),
    ];
    for (tail, needles) in cases {
        let message = error(tail);
        for needle in *needles {
            assert!(
                message.contains(needle),
                "{tail}\n=> {message}\nlacks {needle:?}"
            );
        }
    }
    let bad_jobs = HEAD.replace("failure_probability = 0.0", "failure_probability = 2");
    let message = Profile::from_toml(&bad_jobs, "jobs.toml")
        .expect_err("p = 2")
        .to_string();
    assert!(
        message.contains("jobs.toml, line 6") && message.contains("from 0 to 1"),
        "{message}"
    );
}

#[test]
fn validate_catches_what_code_builds() {
    let mut p = Profile::builtin("fast").expect("fast");
    p.routes.insert("GET /nope".into(), p.defaults.clone());
    let message = p.validate().expect_err("unknown route").to_string();
    assert!(message.contains("unknown route \"GET /nope\""), "{message}");
    let mut p = Profile::builtin("fast").expect("fast");
    p.jobs.failure_probability = -0.5;
    let message = p.validate().expect_err("bad probability").to_string();
    assert!(
        message.contains("jobs.failure_probability") && message.contains("-0.5"),
        "{message}"
    );
}

#[test]
fn load_takes_a_builtin_name_or_a_path() {
    assert_eq!(Profile::load("healthy").expect("builtin").name, "healthy");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, HEAD).expect("write");
    let path = path.to_string_lossy().into_owned();
    assert_eq!(Profile::load(&path).expect("file").name, "bad");
    let message = Profile::load("nonesuch").expect_err("missing").to_string();
    assert!(
        message.contains("nonesuch") && message.contains("guide, healthy, fast"),
        "{message}"
    );
    let message = Profile::builtin("nonesuch")
        .expect_err("missing")
        .to_string();
    assert!(
        message.contains("no built-in profile named `nonesuch`"),
        "{message}"
    );
}
